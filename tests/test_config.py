"""Settings come from KAPT_* variables; a bad value stops the start with its variable's name."""

from __future__ import annotations

import os
import runpy
import stat
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from kapt_api import config, create_app
from kapt_api.config import SETTINGS, ConfigError
from tests.separate_app import kept_extensions, separate_app

# Engine-independent (it builds both databases itself, or none): run in one pass only.
pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent
GOOD_SECRET = "s" * 48
# The key that kapt-api's source once gave every development server.
OLD_SOURCE_KEY = "kapt-development-secret-do-not-use-in-production"
GUIDANCE = (
    "KAPT_SECRET_KEY is not set, and neither is KAPT_ENV. Set KAPT_SECRET_KEY to a long "
    'random string (`python -c "import secrets; print(secrets.token_urlsafe(48))"`) for a '
    "server, or KAPT_ENV=development to try it locally with a key kept in instance/secret_key."
)

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


@pytest.fixture(autouse=True)
def instance_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A development key made by a test lands here, never in the project's instance/."""
    folder = tmp_path / "instance"
    monkeypatch.setattr(config, "INSTANCE_DIR", folder)
    return folder


def test_every_setting_has_a_parsing_case_and_a_refusal_case():
    names = {s.env for s in SETTINGS}

    assert set(PARSED) == names
    assert {env for env, _raw in REFUSED} == names - FREE_TEXT
    assert all(name.startswith("KAPT_") for name in names)


@pytest.mark.parametrize("env", sorted(PARSED))
def test_each_setting_is_read_from_the_environment(env):
    raw, expected = PARSED[env]
    environ = {"KAPT_SECRET_KEY": GOOD_SECRET, env: raw}

    loaded = config.load(environ=environ)

    assert loaded[_by_env(env).key] == expected


@pytest.mark.parametrize(("env", "raw"), REFUSED)
def test_a_bad_value_is_refused_naming_its_variable(env, raw):
    with pytest.raises(ConfigError) as refused:
        config.load(environ={env: raw})

    assert str(refused.value).startswith(f"{env}")
    assert len(str(refused.value)) > len(env) + 10  # says what was expected, too


def test_a_key_and_nothing_else_means_the_documented_defaults():
    loaded = config.load(environ={"KAPT_SECRET_KEY": GOOD_SECRET})

    for setting in SETTINGS:
        if setting.env != "KAPT_SECRET_KEY":
            assert loaded[setting.key] == setting.default, setting.env
    assert loaded["SECRET_KEY"] == GOOD_SECRET
    assert loaded["KAPT_ENV"] == "production"


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


# --- production needs a real secret ---------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "KAPT_SECRET_KEY must be set in production"),
        (OLD_SOURCE_KEY, "KAPT_SECRET_KEY is a key published in kapt-api's source"),
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


def test_without_kapt_env_a_key_must_be_as_strong_as_in_production():
    with pytest.raises(ConfigError) as refused:
        config.load(environ={"KAPT_SECRET_KEY": "short-secret"})

    assert str(refused.value) == (
        "KAPT_SECRET_KEY must be at least 32 characters in production (it has 12) "
        "(KAPT_ENV is unset, which means production)."
    )


@pytest.mark.parametrize("env", [None, "development", "test", "production"])
def test_the_key_once_published_in_the_source_is_refused_everywhere(env):
    environ = {"KAPT_SECRET_KEY": OLD_SOURCE_KEY}
    if env is not None:
        environ["KAPT_ENV"] = env

    with pytest.raises(ConfigError, match=r"^KAPT_SECRET_KEY is a key published"):
        config.load(environ=environ)


@pytest.mark.parametrize("env", ["development", "test"])
def test_a_key_that_is_set_is_used_in_development_and_test_too(env, instance_dir):
    assert config.load(environ={"KAPT_ENV": env, "KAPT_SECRET_KEY": "mine"})["SECRET_KEY"] == "mine"
    assert not instance_dir.exists()


# --- development keeps a random key in instance/secret_key ------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_development_makes_a_random_key_once_in_the_instance_folder(instance_dir):
    key = config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"]

    key_file = instance_dir / "secret_key"
    assert key_file.read_text() == key + "\n"
    assert _mode(key_file) == 0o600
    assert len(key) >= 64  # secrets.token_urlsafe(48)
    assert key != OLD_SOURCE_KEY
    assert sorted(p.name for p in instance_dir.iterdir()) == ["secret_key"]  # no draft left


def test_development_reuses_the_key_on_later_starts(instance_dir):
    first = config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"]
    made = (instance_dir / "secret_key").stat()

    again = config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"]

    assert again == first
    later = (instance_dir / "secret_key").stat()
    assert (later.st_ino, later.st_mtime_ns) == (made.st_ino, made.st_mtime_ns)


def test_development_keeps_an_existing_key_of_the_developers_own(instance_dir):
    instance_dir.mkdir()
    key_file = instance_dir / "secret_key"
    key_file.write_text("k" * 40 + "\n")
    key_file.chmod(0o600)

    assert config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"] == "k" * 40


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_other_users_can_open_is_refused(instance_dir, mode):
    config.instance_secret_key()
    key_file = instance_dir / "secret_key"
    key_file.chmod(mode)

    with pytest.raises(ConfigError) as refused:
        config.load(environ={"KAPT_ENV": "development"})

    assert str(refused.value).startswith(
        f"{key_file} is open to other users (mode {mode:04o}), so anyone on this machine "
        "could sign tokens with it: run `chmod 600"
    )


@pytest.mark.parametrize("content", ["", "\n", "too-short-a-key\n"])
def test_a_key_file_holding_too_short_a_key_is_refused(instance_dir, content):
    instance_dir.mkdir()
    key_file = instance_dir / "secret_key"
    key_file.write_text(content)
    key_file.chmod(0o600)

    with pytest.raises(ConfigError) as refused:
        config.load(environ={"KAPT_ENV": "development"})

    length = len(content.strip())
    assert str(refused.value) == (
        f"{key_file} holds a key of {length} characters, fewer than 32: "
        "delete it to have a new key made."
    )


def test_a_key_file_that_cannot_be_read_is_refused_saying_so(instance_dir):
    instance_dir.mkdir()
    key_file = instance_dir / "secret_key"
    key_file.write_bytes(b"\xff" * 64)
    key_file.chmod(0o600)

    with pytest.raises(ConfigError) as refused:
        config.load(environ={"KAPT_ENV": "development"})

    assert str(refused.value).startswith(
        f"KAPT_SECRET_KEY is not set and {key_file} cannot be used"
    )


def test_a_process_that_loses_the_race_to_make_the_key_uses_the_winners(instance_dir, monkeypatch):
    """Another process links its key file between this one's look and its own link."""
    link = os.link

    def another_process_first(source: Any, target: Any) -> None:
        Path(target).write_text("w" * 64 + "\n")
        Path(target).chmod(0o600)
        link(source, target)

    monkeypatch.setattr(config.os, "link", another_process_first)

    assert config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"] == "w" * 64
    assert sorted(p.name for p in instance_dir.iterdir()) == ["secret_key"]


STARTER = """
import sys
from pathlib import Path
from kapt_api import config
config.INSTANCE_DIR = Path(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print(config.load(environ={"KAPT_ENV": "development"})["SECRET_KEY"], flush=True)
"""


def test_processes_starting_together_agree_on_one_key(instance_dir):
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, str(instance_dir)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for process in starting:  # every one imported and waiting: then all go at once
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in starting:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        keys = {process.communicate(timeout=60)[0].strip() for process in starting}
    finally:
        for process in starting:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert keys == {(instance_dir / "secret_key").read_text().strip()}
    assert sorted(p.name for p in instance_dir.iterdir()) == ["secret_key"]


# --- the test environment: a random key per process ------------------------------------------


def test_the_test_environment_keeps_one_random_key_per_process_and_writes_none(instance_dir):
    first = config.load(environ={"KAPT_ENV": "test"})["SECRET_KEY"]
    second = config.load(overrides={"KAPT_ENV": "test"}, environ={})["SECRET_KEY"]
    elsewhere = subprocess.run(
        [
            sys.executable,
            "-c",
            "from kapt_api import config; "
            "print(config.load(environ={'KAPT_ENV': 'test'})['SECRET_KEY'])",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()

    assert first == second
    assert len(first) >= 64
    assert elsewhere not in {"", first}
    assert not instance_dir.exists()


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
