"""The key that signs tokens: what production refuses, and the key a development run
keeps in a file of its own (made once, atomically, readable by its owner only)."""

from __future__ import annotations

import functools
import os
import secrets
import stat
from pathlib import Path

from kapt_api.config.settings import ConfigError

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a key
MIN_SECRET_LENGTH = 32
# Keys printed in this project's source at some time: whoever read it could sign an
# admin's token with them, so no environment accepts them.
PUBLISHED_SECRETS = frozenset({"kapt-development-secret-do-not-use-in-production"})
NEW_SECRET_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'  # noqa: S105 - a command, not a key


@functools.cache
def process_secret_key() -> str:
    """The test environment's key: random, one per process, written nowhere. Every test
    that starts several processes gives them KAPT_SECRET_KEY itself."""
    return secrets.token_urlsafe(48)


def kept_secret_key(directory: Path) -> str:
    """The development key kept in `directory/secret_key`, made on the first start."""
    path = directory / SECRET_KEY_FILE
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
