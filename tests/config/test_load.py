"""Loading the settings at start-up: with neither KAPT_ENV nor a key nothing starts, and
the factory and gunicorn's entry point take their settings from the environment."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kapt_api import config, create_app
from kapt_api.config import ConfigError
from tests.config.conftest import GOOD_SECRET, ROOT
from tests.separate_app import kept_extensions, separate_app

# Engine-independent (it builds both databases itself, or none): run in one pass only.
pytestmark = pytest.mark.once

GUIDANCE = (
    "KAPT_SECRET_KEY is not set, and neither is KAPT_ENV. Set KAPT_SECRET_KEY to a long "
    'random string (`python -c "import secrets; print(secrets.token_urlsafe(48))"`) for a '
    "server, or KAPT_ENV=development to try it locally with a key kept in instance/secret_key."
)


def test_nothing_set_is_refused_saying_what_to_do(instance_dir):
    with pytest.raises(ConfigError) as refused:
        config.load(environ={})

    assert str(refused.value) == GUIDANCE
    assert not instance_dir.exists()  # no key made for a server that did not ask


def test_overrides_win_over_the_environment():
    loaded = config.load(
        environ={"KAPT_ENV": "test", "KAPT_ACCESS_TOKEN_MINUTES": "30"},
        overrides={"KAPT_ACCESS_TOKEN_MINUTES": 1},
    )

    assert loaded["KAPT_ACCESS_TOKEN_MINUTES"] == 1


@pytest.fixture
def start_wsgi(tmp_path, monkeypatch):
    """Import wsgi.py as gunicorn does, with these environment variables."""
    for name in list(os.environ):
        if name.startswith("KAPT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KAPT_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")

    def start(**env: str) -> Any:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with kept_extensions():
            return runpy.run_path(str(ROOT / "wsgi.py"))["app"]

    return start


def test_gunicorn_entry_point_refuses_production_without_a_secret(start_wsgi):
    with pytest.raises(ConfigError, match=r"^KAPT_SECRET_KEY must be set in production"):
        start_wsgi(KAPT_ENV="production")

    started = start_wsgi(KAPT_SECRET_KEY=GOOD_SECRET)
    assert started.config["KAPT_ENV"] == "production"
    assert started.config["SECRET_KEY"] == GOOD_SECRET


def test_gunicorn_entry_point_refuses_to_start_without_kapt_env_or_a_key(start_wsgi):
    with pytest.raises(ConfigError) as refused:
        start_wsgi()

    assert str(refused.value) == GUIDANCE


def test_the_factory_refuses_to_start_without_kapt_env_or_a_key(start_wsgi, tmp_path):
    with pytest.raises(ConfigError) as refused, kept_extensions():
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'f.db'}"})

    assert str(refused.value) == GUIDANCE
    assert not (tmp_path / "f.db").exists()


def test_the_gunicorn_entry_point_starts_in_development_without_a_key(start_wsgi, instance_dir):
    started = start_wsgi(KAPT_ENV="development")

    assert started.config["SECRET_KEY"] == (instance_dir / "secret_key").read_text().strip()


def _bare_environment(tmp_path: Path) -> dict[str, str]:
    """The host's environment without any KAPT_, FLASK_ or GUNICORN_ setting, on a database
    of its own: what someone starting a process by hand on a fresh machine has."""
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("KAPT_", "FLASK_", "GUNICORN_"))
    }
    return {**inherited, "KAPT_DATABASE_URL": f"sqlite:///{tmp_path / 'by-hand.db'}"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["-m", "flask", "--app", "wsgi", "kapt", "scheduler"],
        ["-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:0", "wsgi:app"],
    ],
    ids=["flask kapt scheduler", "gunicorn wsgi:app"],
)
def test_a_process_started_by_hand_without_kapt_env_or_a_key_refuses(tmp_path, command):
    done = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=_bare_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    assert GUIDANCE in done.stdout + done.stderr
    assert not (tmp_path / "by-hand.db").exists()  # it stopped before touching anything


def test_the_app_takes_its_settings_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPT_ENV", "test")
    monkeypatch.setenv("KAPT_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("KAPT_MAX_CONTENT_LENGTH", "100")
    monkeypatch.setenv("KAPT_ACCESS_TOKEN_MINUTES", "7")

    with separate_app({}) as application:
        response = application.test_client().post(
            "/api/v1/auth/tokens", data="x" * 200, content_type="application/json"
        )

    assert application.config["SQLALCHEMY_DATABASE_URI"].endswith("env.db")
    assert application.config["KAPT_ACCESS_TOKEN_MINUTES"] == 7
    assert response.status_code == 413
