"""argon2id password hashes."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

_production = PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults
# Tests create hundreds of users; the same algorithm at minimal cost keeps them fast.
_test = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
# A hash to verify against when the email is unknown, so timing does not reveal accounts.
_DUMMY = _production.hash("kapt-dummy-password-for-timing")


def _hasher() -> PasswordHasher:
    if has_app_context() and current_app.config.get("KAPT_ENV") == "test":
        return _test
    return _production


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher().verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
