"""How each setting's text is read: a parser takes what the environment holds and
returns the value, or raises ValueError saying what was expected (config.load names
the variable)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "test", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("auto", "console", "json")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def true_or_false(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def whole_number(raw: str, *, least: int, most: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"expected a whole number, got {raw!r}") from None
    if value < least or (most is not None and value > most):
        bounds = f"at least {least}" if most is None else f"between {least} and {most}"
        raise ValueError(f"must be {bounds}, got {value}")
    return value


def positive_int(raw: str) -> int:
    return whole_number(raw, least=1)


def non_negative_int(raw: str) -> int:
    return whole_number(raw, least=0)


def port(raw: str) -> int:
    return whole_number(raw, least=1, most=65535)


def env_name(raw: str) -> str:
    value = raw.strip()
    if value not in ENVIRONMENTS:
        raise ValueError(f"expected one of {', '.join(ENVIRONMENTS)}, got {raw!r}")
    return value


def database_url(raw: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(raw.strip())
    except ArgumentError:
        raise ValueError("not a database URL such as postgresql+psycopg://user@host/db") from None
    return raw.strip()


def secret(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw


def rate_limit(raw: str) -> str:
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        example = "'5 per minute;20 per hour'"
        raise ValueError(f"expected limits such as {example}, got {raw!r}") from None
    return raw


def storage_url(raw: str) -> str:
    from limits.storage import SCHEMES

    scheme = raw.strip().partition("://")[0]
    if "://" not in raw or scheme not in SCHEMES or scheme.startswith("async+"):
        raise ValueError(f"expected memory:// or redis://host:6379/0, got {raw!r}")
    return raw.strip()


def http_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {raw!r}")
    return raw.strip().rstrip("/")


def optional_http_url(raw: str) -> str:
    return http_url(raw) if raw.strip() else ""


def local_time(raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"(?:[01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"expected a 24-hour time HH:MM, got {raw!r}")
    return value


def email(raw: str) -> str:
    value = raw.strip()
    if not _EMAIL.match(value):
        raise ValueError(f"expected an email address, got {raw!r}")
    return value


def log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"expected one of {', '.join(LOG_FORMATS)}, got {raw!r}")
    return value


def log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return value
