"""Each setting is read from its KAPT_* variable; a bad value stops the start with the
variable's name."""

from __future__ import annotations

import pytest

from kapt_api import config
from kapt_api.config import SETTINGS, ConfigError
from tests.config.conftest import GOOD_SECRET

# Engine-independent (it builds both databases itself, or none): run in one pass only.
pytestmark = pytest.mark.once


# One value per setting as an operator would write it, and what the app makes of it.
PARSED = {
    "KAPT_ENV": (" production ", "production"),
    "KAPT_DATABASE_URL": ("postgresql+psycopg://kapt@db/kapt", "postgresql+psycopg://kapt@db/kapt"),
    "KAPT_SECRET_KEY": (GOOD_SECRET, GOOD_SECRET),
    "KAPT_ACCESS_TOKEN_MINUTES": ("30", 30),
    "KAPT_REFRESH_TOKEN_HOURS": (" 8 ", 8),
    "KAPT_LOGIN_RATE_LIMIT": ("10 per minute;50 per day", "10 per minute;50 per day"),
    "KAPT_PATIENT_LINK_RATE_LIMIT": ("60 per minute", "60 per minute"),
    "KAPT_SMS_INBOUND_SECRET": ("inbound-s3cret", "inbound-s3cret"),
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
    ("KAPT_PATIENT_LINK_RATE_LIMIT", "plenty"),
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
    "KAPT_SMS_INBOUND_SECRET",
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
    environ = {"KAPT_SECRET_KEY": GOOD_SECRET, env: raw}

    loaded = config.load(environ=environ)

    assert loaded[_by_env(env).key] == expected


@pytest.mark.parametrize(("env", "raw"), REFUSED)
def test_a_bad_value_is_refused_naming_its_variable(env, raw):
    with pytest.raises(ConfigError) as refused:
        config.load(environ={env: raw})

    assert str(refused.value).startswith(f"{env}")
    assert len(str(refused.value)) > len(env) + 10  # says what was expected, too


def test_a_bad_value_in_the_process_environment_is_refused(monkeypatch):
    monkeypatch.setenv("KAPT_SMTP_PORT", "smtp")

    with pytest.raises(ConfigError, match=r"^KAPT_SMTP_PORT: expected a whole number"):
        config.load()
