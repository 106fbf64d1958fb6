"""Settings read from KAPT_* environment variables, with safe defaults.

Every setting is listed once in SETTINGS so the README table and the code cannot
drift apart (tests/test_config.py checks the README against this list).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
DEV_SECRET = "kapt-development-secret-do-not-use-in-production"  # noqa: S105 - refused in production


class ConfigError(RuntimeError):
    """A setting is missing or malformed; raised at start-up, never later."""


@dataclass(frozen=True)
class Setting:
    env: str
    key: str
    default: Any
    parse: Callable[[str], Any]
    doc: str


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "KAPT_ENV",
        "KAPT_ENV",
        "development",
        str,
        "`development`, `test` or `production`. Production refuses to start without a secret key.",
    ),
    Setting(
        "KAPT_DATABASE_URL",
        "SQLALCHEMY_DATABASE_URI",
        f"sqlite:///{INSTANCE_DIR / 'kapt.db'}",
        str,
        "SQLAlchemy URL. SQLite file under `instance/` by default; "
        "`postgresql+psycopg://user:pass@host/db` in production.",
    ),
    Setting(
        "KAPT_SECRET_KEY",
        "SECRET_KEY",
        None,
        str,
        "Signs tokens. Required when `KAPT_ENV=production`; a fixed development key otherwise.",
    ),
    Setting(
        "KAPT_ACCESS_TOKEN_MINUTES",
        "KAPT_ACCESS_TOKEN_MINUTES",
        15,
        _positive_int,
        "Lifetime of an access token.",
    ),
    Setting(
        "KAPT_REFRESH_TOKEN_HOURS",
        "KAPT_REFRESH_TOKEN_HOURS",
        12,
        _positive_int,
        "Lifetime of a refresh token (one clinic shift by default).",
    ),
    Setting(
        "KAPT_LOGIN_RATE_LIMIT",
        "KAPT_LOGIN_RATE_LIMIT",
        "5 per minute;20 per hour",
        str,
        "Failed logins allowed per client address and per account before 429.",
    ),
    Setting(
        "KAPT_RATELIMIT_STORAGE_URL",
        "RATELIMIT_STORAGE_URI",
        "memory://",
        str,
        "Rate-limit counters: `memory://` for one process, `redis://host:6379/0` for several.",
    ),
    Setting(
        "KAPT_MAX_CONTENT_LENGTH",
        "MAX_CONTENT_LENGTH",
        256 * 1024,
        _positive_int,
        "Largest request body in bytes; larger bodies get 413.",
    ),
    Setting(
        "KAPT_BASE_URL",
        "KAPT_BASE_URL",
        "http://127.0.0.1:5000",
        str,
        "Public URL of the API, used in links sent to people (calendar feeds, emails).",
    ),
    Setting(
        "KAPT_SMTP_HOST",
        "KAPT_SMTP_HOST",
        "",
        str,
        "SMTP relay for reminders. Empty: the console channel logs and records messages instead.",
    ),
    Setting("KAPT_SMTP_PORT", "KAPT_SMTP_PORT", 25, _positive_int, "SMTP port."),
    Setting(
        "KAPT_SMTP_USERNAME", "KAPT_SMTP_USERNAME", "", str, "SMTP user, if the relay needs one."
    ),
    Setting("KAPT_SMTP_PASSWORD", "KAPT_SMTP_PASSWORD", "", str, "SMTP password."),
    Setting(
        "KAPT_SMTP_STARTTLS", "KAPT_SMTP_STARTTLS", False, _bool, "Use STARTTLS with the relay."
    ),
    Setting(
        "KAPT_MAIL_FROM",
        "KAPT_MAIL_FROM",
        "reminders@kapt.invalid",
        str,
        "Sender address of reminder emails.",
    ),
    Setting(
        "KAPT_EMBEDDED_SCHEDULER",
        "KAPT_EMBEDDED_SCHEDULER",
        True,
        _bool,
        "Whether `flask kapt serve` (what `make run` uses) runs the scheduler in a thread. "
        "gunicorn never does.",
    ),
    Setting(
        "KAPT_SCHEDULER_TICK_SECONDS",
        "KAPT_SCHEDULER_TICK_SECONDS",
        5,
        _positive_int,
        "How often the scheduler's dispatcher job runs.",
    ),
    Setting("KAPT_LOG_LEVEL", "KAPT_LOG_LEVEL", "INFO", str, "Log level of the JSON logs."),
    Setting(
        "KAPT_TRUSTED_PROXIES",
        "KAPT_TRUSTED_PROXIES",
        0,
        int,
        "How many reverse proxies sit in front (for the client address used by rate limits).",
    ),
)


def load(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the Flask config from the environment; raise ConfigError on bad values."""
    environ = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None:
            config[setting.key] = setting.default
            continue
        try:
            config[setting.key] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.env}: {exc}") from None
    config.update(overrides or {})
    _check(config)
    return config


def _check(config: dict[str, Any]) -> None:
    env = config["KAPT_ENV"]
    if env not in {"development", "test", "production"}:
        raise ConfigError(f"KAPT_ENV must be development, test or production, not {env!r}")
    secret = config.get("SECRET_KEY")
    if env == "production":
        if not secret or secret == DEV_SECRET:
            raise ConfigError("KAPT_SECRET_KEY must be set in production (a long random string)")
        if len(secret) < 32:
            raise ConfigError("KAPT_SECRET_KEY must be at least 32 characters in production")
    elif not secret:
        config["SECRET_KEY"] = DEV_SECRET
