"""Settings read from KAPT_* environment variables, with safe defaults.

Every setting is listed once in SETTINGS so the README table and the code cannot
drift apart (tests/config/test_settings.py checks the README against this list).
The list is in settings.py, how each value is read in parsing.py, the signing key's
rules and the development key's file in secret_key.py; `python -m kapt_api.config`
prints the README's table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kapt_api.config.parsing import ENVIRONMENTS, LOG_FORMATS, LOG_LEVELS
from kapt_api.config.secret_key import (
    MIN_SECRET_LENGTH,
    NEW_SECRET_COMMAND,
    PUBLISHED_SECRETS,
    SECRET_KEY_FILE,
    kept_secret_key,
    process_secret_key,
)
from kapt_api.config.settings import (
    INSTANCE_DIR,
    PROJECT_DIR,
    SETTINGS,
    ConfigError,
    Setting,
    markdown_table,
)

__all__ = [
    "ENVIRONMENTS",
    "INSTANCE_DIR",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "MIN_SECRET_LENGTH",
    "NEW_SECRET_COMMAND",
    "PROJECT_DIR",
    "PUBLISHED_SECRETS",
    "SECRET_KEY_FILE",
    "SETTINGS",
    "ConfigError",
    "Setting",
    "instance_secret_key",
    "load",
    "markdown_table",
]


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
        config["SECRET_KEY"] = process_secret_key()
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


def instance_secret_key(directory: Path | None = None) -> str:
    """The development key kept in `instance/secret_key`, made on the first start."""
    # INSTANCE_DIR is read here, at the call, so that whoever sets config.INSTANCE_DIR
    # (a test, a process told where its instance folder is) moves the key with it.
    return kept_secret_key(INSTANCE_DIR if directory is None else directory)
