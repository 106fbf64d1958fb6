"""Settings come from KAPT_* variables; a bad value stops the start with its variable's name."""

from __future__ import annotations

import os
import runpy
import warnings
from pathlib import Path
from typing import Any

import pytest

from kapt_api import config
from kapt_api.config import DEV_SECRET, SETTINGS, ConfigError
from tests.separate_app import kept_extensions, separate_app

# Engine-independent (it builds both databases itself, or none): run in one pass only.
pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent
GOOD_SECRET = "s" * 48

# One value per setting as an operator would write it, and what the app makes of it.
PARSED = {
    "KAPT_ENV": (" production ", "production"),
    "KAPT_DATABASE_URL": ("postgresql+psycopg://kapt@db/kapt", "postgresql+psycopg://kapt@db/kapt"),
    "KAPT_SECRET_KEY": (GOOD_SECRET, GOOD_SECRET),
    "KAPT_ACCESS_TOKEN_MINUTES": ("30", 30),
    "KAPT_REFRESH_TOKEN_HOURS": (" 8 ", 8),
    "KAPT_LOGIN_RATE_LIMIT": ("10 per minute;50 per day", "10 per minute;50 per day"),
    "KAPT_RATELIMIT_STORAGE_URL": ("redis://redis:6379/0", "redis://redis:6379/0"),
    "KAPT_MAX_CONTENT_LENGTH": ("1048576", 1048576),
    "KAPT_BASE_URL": ("https://api.cedar.example/", "https://api.cedar.example"),
    "KAPT_SMTP_HOST": ("smtp.cedar.example", "smtp.cedar.example"),
    "KAPT_SMTP_PORT": ("587", 587),
    "KAPT_SMTP_USERNAME": ("mailer", "mailer"),
    "KAPT_SMTP_PASSWORD": ("hunter2 hunter2", "hunter2 hunter2"),
    "KAPT_SMTP_STARTTLS": ("yes", True),
    "KAPT_MAIL_FROM": ("reminders@cedar.example", "reminders@cedar.example"),
    "KAPT_EMBEDDED_SCHEDULER": ("off", False),
    "KAPT_SCHEDULE_CACHE_DAYS": ("0", 0),
    "KAPT_SCHEDULER_TICK_SECONDS": ("2", 2),
    "KAPT_REMINDER_BATCH_SIZE": ("500", 500),
    "KAPT_REMINDER_LEASE_SECONDS": ("60", 60),
    "KAPT_REMINDER_MAX_ATTEMPTS": ("3", 3),
    "KAPT_REMINDER_RETRY_SECONDS": ("5", 5),
    "KAPT_REMINDER_RETRY_MAX_SECONDS": ("600", 600),
    "KAPT_AGENDA_TIME": (" 06:30 ", "06:30"),
    "KAPT_SMS_GATEWAY_URL": ("https://sms.cedar.example/hook/", "https://sms.cedar.example/hook"),
    "KAPT_SMS_GATEWAY_SECRET": ("s3cret-for-hmac", "s3cret-for-hmac"),
    "KAPT_LOG_LEVEL": ("warning", "WARNING"),
    "KAPT_LOG_FORMAT": (" JSON ", "json"),
    "KAPT_TRUSTED_PROXIES": ("2", 2),
}

# Values an operator could mistype, for every setting that has a wrong value at all.
REFUSED = [
    ("KAPT_LOG_FORMAT", "xml"),
    ("KAPT_ENV", "prod"),
    ("KAPT_DATABASE_URL", "not a url"),
    ("KAPT_SECRET_KEY", "   "),
    ("KAPT_ACCESS_TOKEN_MINUTES", "fifteen"),
    ("KAPT_ACCESS_TOKEN_MINUTES", "0"),
    ("KAPT_REFRESH_TOKEN_HOURS", "-1"),
    ("KAPT_LOGIN_RATE_LIMIT", "lots"),
    ("KAPT_RATELIMIT_STORAGE_URL", "localhost:6379"),
    ("KAPT_RATELIMIT_STORAGE_URL", "postgresql://db/x"),
    ("KAPT_MAX_CONTENT_LENGTH", "1.5"),
    ("KAPT_BASE_URL", "api.cedar.example"),
    ("KAPT_SMTP_PORT", "70000"),
    ("KAPT_SMTP_STARTTLS", "maybe"),
    ("KAPT_MAIL_FROM", "reminders"),
    ("KAPT_EMBEDDED_SCHEDULER", "2"),
    ("KAPT_SCHEDULE_CACHE_DAYS", "-1"),
    ("KAPT_SCHEDULER_TICK_SECONDS", ""),
    ("KAPT_REMINDER_BATCH_SIZE", "0"),
    ("KAPT_REMINDER_LEASE_SECONDS", "two minutes"),
    ("KAPT_REMINDER_MAX_ATTEMPTS", "-3"),
    ("KAPT_REMINDER_RETRY_SECONDS", "1.5"),
    ("KAPT_REMINDER_RETRY_MAX_SECONDS", "0"),
    ("KAPT_AGENDA_TIME", "7am"),
    ("KAPT_SMS_GATEWAY_URL", "sms.cedar.example/hook"),
    ("KAPT_LOG_LEVEL", "LOUD"),
    ("KAPT_TRUSTED_PROXIES", "-1"),
]
FREE_TEXT = {
    "KAPT_SMTP_HOST",
    "KAPT_SMTP_USERNAME",
    "KAPT_SMTP_PASSWORD",
    "KAPT_SMS_GATEWAY_SECRET",
}


def _by_env(env: str) -> config.Setting:
    return next(s for s in SETTINGS if s.env == env)


def test_every_setting_has_a_parsing_case_and_a_refusal_case():
    names = {s.env for s in SETTINGS}

    assert set(PARSED) == names
    assert {env for env, _raw in REFUSED} == names - FREE_TEXT
    assert all(name.startswith("KAPT_") for name in names)


@pytest.mark.parametrize("env", sorted(PARSED))
def test_each_setting_is_read_from_the_environment(env):
    raw, expected = PARSED[env]
    environ = {env: raw}
    if env == "KAPT_ENV":
        environ["KAPT_SECRET_KEY"] = GOOD_SECRET

    loaded = config.load(environ=environ)

    assert loaded[_by_env(env).key] == expected


@pytest.mark.parametrize(("env", "raw"), REFUSED)
def test_a_bad_value_is_refused_naming_its_variable(env, raw):
    with pytest.raises(ConfigError) as refused:
        config.load(environ={env: raw})

    assert str(refused.value).startswith(f"{env}")
    assert len(str(refused.value)) > len(env) + 10  # says what was expected, too


def test_nothing_set_means_the_documented_defaults():
    loaded = config.load(environ={})

    for setting in SETTINGS:
        if setting.env != "KAPT_SECRET_KEY":
            assert loaded[setting.key] == setting.default, setting.env
    assert loaded["SECRET_KEY"] == DEV_SECRET
    assert loaded["KAPT_ENV"] == "development"


def test_overrides_win_over_the_environment():
    loaded = config.load(
        environ={"KAPT_ACCESS_TOKEN_MINUTES": "30"}, overrides={"KAPT_ACCESS_TOKEN_MINUTES": 1}
    )

    assert loaded["KAPT_ACCESS_TOKEN_MINUTES"] == 1


# --- production needs a real secret ---------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "KAPT_SECRET_KEY must be set in production"),
        (DEV_SECRET, "KAPT_SECRET_KEY must be set in production"),
        (
            "short-secret",
            "KAPT_SECRET_KEY must be at least 32 characters in production (it has 12)",
        ),
        ("x" * 31, "KAPT_SECRET_KEY must be at least 32 characters"),
    ],
)
def test_production_refuses_to_start_without_a_strong_secret(secret, message):
    environ = {"KAPT_ENV": "production"}
    if secret is not None:
        environ["KAPT_SECRET_KEY"] = secret

    with pytest.raises(ConfigError) as refused:
        config.load(environ=environ)

    assert str(refused.value).startswith(message)


def test_production_starts_with_a_strong_secret():
    loaded = config.load(environ={"KAPT_ENV": "production", "KAPT_SECRET_KEY": "x" * 32})

    assert loaded["SECRET_KEY"] == "x" * 32


@pytest.mark.parametrize("env", ["development", "test"])
def test_outside_production_a_development_secret_is_used(env):
    assert config.load(environ={"KAPT_ENV": env})["SECRET_KEY"] == DEV_SECRET


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


def test_a_bad_value_in_the_process_environment_is_refused(monkeypatch):
    monkeypatch.setenv("KAPT_SMTP_PORT", "smtp")

    with pytest.raises(ConfigError, match=r"^KAPT_SMTP_PORT: expected a whole number"):
        config.load()


# --- the README documents exactly these settings --------------------------------------------


def _readme_table() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = "<!-- config-table:start -->\n"
    end = "<!-- config-table:end -->"
    return text[text.index(start) + len(start) : text.index(end)]


def test_the_readme_table_lists_exactly_the_settings():
    table = _readme_table()
    documented = [line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]]

    assert documented == [s.env for s in SETTINGS]
    assert table == config.markdown_table(), "run: python -m kapt_api.config"


def test_python_m_kapt_api_config_prints_the_table(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # kapt_api imported config already
        runpy.run_module("kapt_api.config", run_name="__main__")

    assert capsys.readouterr().out == config.markdown_table()
