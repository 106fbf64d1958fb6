"""Every setting, listed once: its variable, its Flask config key, its default, how
its text is read (parsing.py) and what it means. The README's configuration table is
made from this list (markdown_table), so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kapt_api.config import parsing

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
INSTANCE_DIR = PROJECT_DIR / "instance"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; raised at start-up, never later."""


@dataclass(frozen=True)
class Setting:
    env: str
    key: str
    default: Any
    parse: Callable[[str], Any]
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "KAPT_ENV",
        "KAPT_ENV",
        "production",
        parsing.env_name,
        "`development`, `test` or `production`. Unset means production: a server, which "
        "refuses to start without `KAPT_SECRET_KEY`. Set `development` (as `make run` does) "
        "to try it locally, `test` for the test suite.",
    ),
    Setting(
        "KAPT_DATABASE_URL",
        "SQLALCHEMY_DATABASE_URI",
        f"sqlite:///{INSTANCE_DIR / 'kapt.db'}",
        parsing.database_url,
        "SQLAlchemy URL. SQLite file under `instance/` by default; "
        "`postgresql+psycopg://user:pass@host/db` in production.",
    ),
    Setting(
        "KAPT_SECRET_KEY",
        "SECRET_KEY",
        None,
        parsing.secret,
        "Signs tokens: a long random string, at least 32 characters. Required unless "
        "`KAPT_ENV` is `development` (a random key made once and kept in "
        "`instance/secret_key`, mode 0600) or `test` (a random key per process).",
    ),
    Setting(
        "KAPT_ACCESS_TOKEN_MINUTES",
        "KAPT_ACCESS_TOKEN_MINUTES",
        15,
        parsing.positive_int,
        "Lifetime of an access token.",
    ),
    Setting(
        "KAPT_REFRESH_TOKEN_HOURS",
        "KAPT_REFRESH_TOKEN_HOURS",
        12,
        parsing.positive_int,
        "Lifetime of a refresh token (one clinic shift by default).",
    ),
    Setting(
        "KAPT_LOGIN_RATE_LIMIT",
        "KAPT_LOGIN_RATE_LIMIT",
        "5 per minute;20 per hour",
        parsing.rate_limit,
        "Failed logins allowed per client address and per account before 429.",
    ),
    Setting(
        "KAPT_PATIENT_LINK_RATE_LIMIT",
        "KAPT_PATIENT_LINK_RATE_LIMIT",
        "30 per minute;200 per hour",
        parsing.rate_limit,
        "Requests to patient links (/p/..., /api/v1/patient-links/...), and badly signed "
        "inbound texts, allowed per client address before 429: no secret is guessed by trying.",
    ),
    Setting(
        "KAPT_SMS_INBOUND_SECRET",
        "KAPT_SMS_INBOUND_SECRET",
        "",
        str,
        "Shared secret the SMS gateway signs inbound replies with (HMAC-SHA256 of the raw "
        "body, header X-Kapt-Signature: sha256=<hex>). Empty: inbound texts are refused.",
    ),
    Setting(
        "KAPT_RATELIMIT_STORAGE_URL",
        "RATELIMIT_STORAGE_URI",
        "memory://",
        parsing.storage_url,
        "Rate-limit counters: `memory://` for one process, `redis://host:6379/0` for several.",
    ),
    Setting(
        "KAPT_MAX_CONTENT_LENGTH",
        "MAX_CONTENT_LENGTH",
        256 * 1024,
        parsing.positive_int,
        "Largest request body in bytes; larger bodies get 413.",
    ),
    Setting(
        "KAPT_BASE_URL",
        "KAPT_BASE_URL",
        "http://127.0.0.1:5000",
        parsing.http_url,
        "Public URL of the API, used in links sent to people (calendar feeds, emails).",
    ),
    Setting(
        "KAPT_SMTP_HOST",
        "KAPT_SMTP_HOST",
        "",
        str,
        "SMTP relay for reminders. Empty: the console channel logs and records messages instead.",
    ),
    Setting("KAPT_SMTP_PORT", "KAPT_SMTP_PORT", 25, parsing.port, "SMTP port."),
    Setting(
        "KAPT_SMTP_USERNAME", "KAPT_SMTP_USERNAME", "", str, "SMTP user, if the relay needs one."
    ),
    Setting("KAPT_SMTP_PASSWORD", "KAPT_SMTP_PASSWORD", "", str, "SMTP password."),
    Setting(
        "KAPT_SMTP_STARTTLS",
        "KAPT_SMTP_STARTTLS",
        False,
        parsing.true_or_false,
        "Use STARTTLS with the relay.",
    ),
    Setting(
        "KAPT_MAIL_FROM",
        "KAPT_MAIL_FROM",
        "reminders@kapt.invalid",
        parsing.email,
        "Sender address of reminder emails.",
    ),
    Setting(
        "KAPT_EMBEDDED_SCHEDULER",
        "KAPT_EMBEDDED_SCHEDULER",
        True,
        parsing.true_or_false,
        "Whether `flask kapt serve` (what `make run` uses) runs the scheduler in a thread. "
        "gunicorn never does.",
    ),
    Setting(
        "KAPT_SCHEDULE_CACHE_DAYS",
        "KAPT_SCHEDULE_CACHE_DAYS",
        256,
        parsing.non_negative_int,
        "Computed day schedules each API process keeps while their clinic's schedule is "
        "unchanged (0 keeps none).",
    ),
    Setting(
        "KAPT_SCHEDULER_TICK_SECONDS",
        "KAPT_SCHEDULER_TICK_SECONDS",
        5,
        parsing.positive_int,
        "How often the scheduler's dispatcher job runs.",
    ),
    Setting(
        "KAPT_REMINDER_BATCH_SIZE",
        "KAPT_REMINDER_BATCH_SIZE",
        100,
        parsing.positive_int,
        "How many due reminders one dispatcher claims at a time.",
    ),
    Setting(
        "KAPT_REMINDER_LEASE_SECONDS",
        "KAPT_REMINDER_LEASE_SECONDS",
        120,
        parsing.positive_int,
        "How long a claim lasts: a crashed dispatcher's reminders are sent by another after it.",
    ),
    Setting(
        "KAPT_REMINDER_MAX_ATTEMPTS",
        "KAPT_REMINDER_MAX_ATTEMPTS",
        8,
        parsing.positive_int,
        "Tries before a reminder that keeps failing is marked failed and alerted.",
    ),
    Setting(
        "KAPT_REMINDER_RETRY_SECONDS",
        "KAPT_REMINDER_RETRY_SECONDS",
        30,
        parsing.positive_int,
        "First retry delay; it doubles with each failure (with jitter).",
    ),
    Setting(
        "KAPT_REMINDER_RETRY_MAX_SECONDS",
        "KAPT_REMINDER_RETRY_MAX_SECONDS",
        3600,
        parsing.positive_int,
        "Longest retry delay.",
    ),
    Setting(
        "KAPT_AGENDA_TIME",
        "KAPT_AGENDA_TIME",
        "07:00",
        parsing.local_time,
        "Local time (each clinic's zone) after which therapists get their day's agenda email.",
    ),
    Setting(
        "KAPT_SMS_GATEWAY_URL",
        "KAPT_SMS_GATEWAY_URL",
        "",
        parsing.optional_http_url,
        "The clinic's SMS gateway, which receives texts as signed webhooks. "
        "Empty: texts go to the console channel.",
    ),
    Setting(
        "KAPT_SMS_GATEWAY_SECRET",
        "KAPT_SMS_GATEWAY_SECRET",
        "",
        str,
        "Shared secret signing posts to the SMS gateway (HMAC-SHA256).",
    ),
    Setting(
        "KAPT_LOG_LEVEL",
        "KAPT_LOG_LEVEL",
        "INFO",
        parsing.log_level,
        "Log level: "
        + ", ".join(parsing.LOG_LEVELS)
        + ". APScheduler's per-tick lines show at DEBUG.",
    ),
    Setting(
        "KAPT_LOG_FORMAT",
        "KAPT_LOG_FORMAT",
        "auto",
        parsing.log_format,
        "`json` (one object per line), `console` (short readable lines) or `auto`: console "
        "in development at a terminal, JSON in production, in containers and when piped.",
    ),
    Setting(
        "KAPT_TRUSTED_PROXIES",
        "KAPT_TRUSTED_PROXIES",
        0,
        parsing.non_negative_int,
        "How many reverse proxies sit in front (for the client address used by rate limits).",
    ),
)


def _default_text(setting: Setting) -> str:
    if setting.default is None or setting.default == "":
        return "(empty)"
    if isinstance(setting.default, bool):
        return "`true`" if setting.default else "`false`"
    default = str(setting.default).replace(str(PROJECT_DIR), ".")
    return f"`{default}`"


def markdown_table() -> str:
    """The README's configuration table, one row per setting."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        doc = setting.doc.replace("|", "\\|")
        rows.append(f"| `{setting.env}` | {_default_text(setting)} | {doc} |")
    return "\n".join(rows) + "\n"
