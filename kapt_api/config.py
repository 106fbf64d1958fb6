"""Settings read from KAPT_* environment variables, with safe defaults.

Every setting is listed once in SETTINGS so the README table and the code cannot
drift apart (tests/test_config.py checks the README against this list).
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_DIR / "instance"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a key
MIN_SECRET_LENGTH = 32
# Keys printed in this project's source at some time: whoever read it could sign an
# admin's token with them, so no environment accepts them.
PUBLISHED_SECRETS = frozenset({"kapt-development-secret-do-not-use-in-production"})
NEW_SECRET_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'  # noqa: S105 - a command, not a key
ENVIRONMENTS = ("development", "test", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("auto", "console", "json")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


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


def _whole_number(raw: str, *, least: int, most: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"expected a whole number, got {raw!r}") from None
    if value < least or (most is not None and value > most):
        bounds = f"at least {least}" if most is None else f"between {least} and {most}"
        raise ValueError(f"must be {bounds}, got {value}")
    return value


def _positive_int(raw: str) -> int:
    return _whole_number(raw, least=1)


def _non_negative_int(raw: str) -> int:
    return _whole_number(raw, least=0)


def _port(raw: str) -> int:
    return _whole_number(raw, least=1, most=65535)


def _env_name(raw: str) -> str:
    value = raw.strip()
    if value not in ENVIRONMENTS:
        raise ValueError(f"expected one of {', '.join(ENVIRONMENTS)}, got {raw!r}")
    return value


def _database_url(raw: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(raw.strip())
    except ArgumentError:
        raise ValueError("not a database URL such as postgresql+psycopg://user@host/db") from None
    return raw.strip()


def _secret(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw


def _rate_limit(raw: str) -> str:
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        example = "'5 per minute;20 per hour'"
        raise ValueError(f"expected limits such as {example}, got {raw!r}") from None
    return raw


def _storage_url(raw: str) -> str:
    from limits.storage import SCHEMES

    scheme = raw.strip().partition("://")[0]
    if "://" not in raw or scheme not in SCHEMES or scheme.startswith("async+"):
        raise ValueError(f"expected memory:// or redis://host:6379/0, got {raw!r}")
    return raw.strip()


def _http_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {raw!r}")
    return raw.strip().rstrip("/")


def _optional_http_url(raw: str) -> str:
    return _http_url(raw) if raw.strip() else ""


def _local_time(raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"(?:[01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"expected a 24-hour time HH:MM, got {raw!r}")
    return value


def _email(raw: str) -> str:
    value = raw.strip()
    if not _EMAIL.match(value):
        raise ValueError(f"expected an email address, got {raw!r}")
    return value


def _log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"expected one of {', '.join(LOG_FORMATS)}, got {raw!r}")
    return value


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "KAPT_ENV",
        "KAPT_ENV",
        "production",
        _env_name,
        "`development`, `test` or `production`. Unset means production: a server, which "
        "refuses to start without `KAPT_SECRET_KEY`. Set `development` (as `make run` does) "
        "to try it locally, `test` for the test suite.",
    ),
    Setting(
        "KAPT_DATABASE_URL",
        "SQLALCHEMY_DATABASE_URI",
        f"sqlite:///{INSTANCE_DIR / 'kapt.db'}",
        _database_url,
        "SQLAlchemy URL. SQLite file under `instance/` by default; "
        "`postgresql+psycopg://user:pass@host/db` in production.",
    ),
    Setting(
        "KAPT_SECRET_KEY",
        "SECRET_KEY",
        None,
        _secret,
        "Signs tokens: a long random string, at least 32 characters. Required unless "
        "`KAPT_ENV` is `development` (a random key made once and kept in "
        "`instance/secret_key`, mode 0600) or `test` (a random key per process).",
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
        _rate_limit,
        "Failed logins allowed per client address and per account before 429.",
    ),
    Setting(
        "KAPT_RATELIMIT_STORAGE_URL",
        "RATELIMIT_STORAGE_URI",
        "memory://",
        _storage_url,
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
        _http_url,
        "Public URL of the API, used in links sent to people (calendar feeds, emails).",
    ),
    Setting(
        "KAPT_SMTP_HOST",
        "KAPT_SMTP_HOST",
        "",
        str,
        "SMTP relay for reminders. Empty: the console channel logs and records messages instead.",
    ),
    Setting("KAPT_SMTP_PORT", "KAPT_SMTP_PORT", 25, _port, "SMTP port."),
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
        _email,
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
        "KAPT_SCHEDULE_CACHE_DAYS",
        "KAPT_SCHEDULE_CACHE_DAYS",
        256,
        _non_negative_int,
        "Computed day schedules each API process keeps while their clinic's schedule is "
        "unchanged (0 keeps none).",
    ),
    Setting(
        "KAPT_SCHEDULER_TICK_SECONDS",
        "KAPT_SCHEDULER_TICK_SECONDS",
        5,
        _positive_int,
        "How often the scheduler's dispatcher job runs.",
    ),
    Setting(
        "KAPT_REMINDER_BATCH_SIZE",
        "KAPT_REMINDER_BATCH_SIZE",
        100,
        _positive_int,
        "How many due reminders one dispatcher claims at a time.",
    ),
    Setting(
        "KAPT_REMINDER_LEASE_SECONDS",
        "KAPT_REMINDER_LEASE_SECONDS",
        120,
        _positive_int,
        "How long a claim lasts: a crashed dispatcher's reminders are sent by another after it.",
    ),
    Setting(
        "KAPT_REMINDER_MAX_ATTEMPTS",
        "KAPT_REMINDER_MAX_ATTEMPTS",
        8,
        _positive_int,
        "Tries before a reminder that keeps failing is marked failed and alerted.",
    ),
    Setting(
        "KAPT_REMINDER_RETRY_SECONDS",
        "KAPT_REMINDER_RETRY_SECONDS",
        30,
        _positive_int,
        "First retry delay; it doubles with each failure (with jitter).",
    ),
    Setting(
        "KAPT_REMINDER_RETRY_MAX_SECONDS",
        "KAPT_REMINDER_RETRY_MAX_SECONDS",
        3600,
        _positive_int,
        "Longest retry delay.",
    ),
    Setting(
        "KAPT_AGENDA_TIME",
        "KAPT_AGENDA_TIME",
        "07:00",
        _local_time,
        "Local time (each clinic's zone) after which therapists get their day's agenda email.",
    ),
    Setting(
        "KAPT_SMS_GATEWAY_URL",
        "KAPT_SMS_GATEWAY_URL",
        "",
        _optional_http_url,
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
        _log_level,
        "Log level: " + ", ".join(LOG_LEVELS) + ". APScheduler's per-tick lines show at DEBUG.",
    ),
    Setting(
        "KAPT_LOG_FORMAT",
        "KAPT_LOG_FORMAT",
        "auto",
        _log_format,
        "`json` (one object per line), `console` (short readable lines) or `auto`: console "
        "in development at a terminal, JSON in production, in containers and when piped.",
    ),
    Setting(
        "KAPT_TRUSTED_PROXIES",
        "KAPT_TRUSTED_PROXIES",
        0,
        _non_negative_int,
        "How many reverse proxies sit in front (for the client address used by rate limits).",
    ),
)


def load(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Build the Flask config from the environment; raise ConfigError on bad values."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
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
    config.update(overrides)
    _check(config, env_given="KAPT_ENV" in environ or "KAPT_ENV" in overrides)
    return config


def _check(config: dict[str, Any], *, env_given: bool) -> None:
    env = config["KAPT_ENV"]
    if env not in ENVIRONMENTS:
        raise ConfigError(f"KAPT_ENV must be development, test or production, not {env!r}")
    secret = config.get("SECRET_KEY")
    if secret in PUBLISHED_SECRETS:
        raise ConfigError(
            "KAPT_SECRET_KEY is a key published in kapt-api's source: anyone could sign tokens "
            f"with it. Set a new long random string, for example from `{NEW_SECRET_COMMAND}`."
        )
    if secret:
        if env == "production" and len(secret) < MIN_SECRET_LENGTH:
            unset = "" if env_given else " (KAPT_ENV is unset, which means production)"
            raise ConfigError(
                f"KAPT_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters in production "
                f"(it has {len(secret)}){unset}."
            )
    elif env == "development":
        config["SECRET_KEY"] = instance_secret_key()
    elif env == "test":
        config["SECRET_KEY"] = _process_secret_key()
    elif env_given:
        raise ConfigError(
            "KAPT_SECRET_KEY must be set in production: a long random string "
            f"(at least {MIN_SECRET_LENGTH} characters), for example from `{NEW_SECRET_COMMAND}`."
        )
    else:
        # A server started by hand (gunicorn wsgi:app) must not guess that it is a toy.
        raise ConfigError(
            "KAPT_SECRET_KEY is not set, and neither is KAPT_ENV. Set KAPT_SECRET_KEY to a "
            f"long random string (`{NEW_SECRET_COMMAND}`) for a server, or KAPT_ENV=development "
            f"to try it locally with a key kept in instance/{SECRET_KEY_FILE}."
        )


# --- the key of a development or test run ---------------------------------------------------


@functools.cache
def _process_secret_key() -> str:
    """The test environment's key: random, one per process, written nowhere. Every test
    that starts several processes gives them KAPT_SECRET_KEY itself."""
    return secrets.token_urlsafe(48)


def instance_secret_key(directory: Path | None = None) -> str:
    """The development key kept in `instance/secret_key`, made on the first start."""
    path = (INSTANCE_DIR if directory is None else directory) / SECRET_KEY_FILE
    try:
        try:
            return _read_key_file(path)
        except FileNotFoundError:
            pass
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Whoever loses the race (an API and a scheduler started together) reads the winner's.
        return _create_key_file(path) or _read_key_file(path)
    except ConfigError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ConfigError(
            f"KAPT_SECRET_KEY is not set and {path} cannot be used ({reason}): "
            "fix it or its folder, delete it to have a new key made, or set KAPT_SECRET_KEY."
        ) from None


def _create_key_file(path: Path) -> str | None:
    """Write a new key to `path` atomically; None if another process wrote one first.

    The key is written in full to a private draft (O_CREAT | O_EXCL, mode 0600) and
    then linked to its name, which fails if the name exists: no process ever reads a
    half-written key, and all of them end up with the one that was linked first.
    """
    key = secrets.token_urlsafe(48)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(key + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return None
    finally:
        draft.unlink(missing_ok=True)
    return key


def _read_key_file(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, encoding="utf-8") as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{path} is not a file: delete it to have a new key made.")
        if mode & 0o077:
            raise ConfigError(
                f"{path} is open to other users (mode {stat.S_IMODE(mode):04o}), so anyone on "
                f"this machine could sign tokens with it: run `chmod 600 {path}`, or delete it "
                "to have a new key made."
            )
        key = file.read().strip()
    if len(key) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"{path} holds a key of {len(key)} characters, fewer than {MIN_SECRET_LENGTH}: "
            "delete it to have a new key made."
        )
    return key


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


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
