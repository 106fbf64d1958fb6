"""Accounts and tokens: login, refresh, revoke, create users."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import delete, func, select

from kapt_api import clock
from kapt_api.auth.models import RevokedSession, Role, User
from kapt_api.auth.passwords import hash_password, needs_rehash, verify_password
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, Unauthorized

MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    refresh_expires_at: datetime | None
    user: User

    @property
    def expires_in(self) -> int:
        return int((self.expires_at - clock.now()).total_seconds())


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput({"password": [f"Use at least {MIN_PASSWORD_LENGTH} characters."]})


def create_user(*, email: str, full_name: str, password: str, roles: set[Role]) -> User:
    """Create an account; the email must be unused."""
    check_password_rules(password)
    if find_user_by_email(email) is not None:
        raise Conflict("An account with this email already exists.", code="email_taken")
    user = User(
        email=normalise_email(email),
        full_name=full_name.strip(),
        password_hash=hash_password(password),
    )
    user.set_roles(roles)
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    check_password_rules(password)
    user.password_hash = hash_password(password)


def _lifetimes() -> tuple[timedelta, timedelta]:
    config = current_app.config
    return (
        timedelta(minutes=config["KAPT_ACCESS_TOKEN_MINUTES"]),
        timedelta(hours=config["KAPT_REFRESH_TOKEN_HOURS"]),
    )


def _issue(user: User, session_id: str, *, with_refresh: bool) -> TokenPair:
    access_life, refresh_life = _lifetimes()
    now = clock.now()
    claims = {"sid": session_id}
    access = create_access_token(
        identity=str(user.id), additional_claims=claims, expires_delta=access_life
    )
    refresh = (
        create_refresh_token(
            identity=str(user.id), additional_claims=claims, expires_delta=refresh_life
        )
        if with_refresh
        else None
    )
    return TokenPair(
        access, refresh, now + access_life, now + refresh_life if with_refresh else None, user
    )


def log_in(*, email: str, password: str) -> TokenPair:
    """Exchange email and password for a new login session's tokens."""
    user = find_user_by_email(email)
    # Verify even when the email is unknown: a quick refusal would tell who has an account.
    matches = verify_password(user.password_hash if user else None, password)
    if user is None or not matches or not user.active:
        raise Unauthorized("Email or password is not correct.", code="bad_credentials")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = clock.now()
    return _issue(user, secrets.token_hex(16), with_refresh=True)


def refresh(user: User, session_id: str) -> TokenPair:
    """A new access token for the same login session."""
    return _issue(user, session_id, with_refresh=False)


def revoke_session(session_id: str, *, expires_at: datetime) -> None:
    """Revoke every token of one login session (access and refresh)."""
    if db.session.get(RevokedSession, session_id) is None:
        _, refresh_life = _lifetimes()
        db.session.add(
            RevokedSession(
                session_id=session_id, expires_at=max(expires_at, clock.now() + refresh_life)
            )
        )
        db.session.flush()


def is_revoked(session_id: str | None) -> bool:
    if not session_id:
        return True
    return db.session.get(RevokedSession, session_id) is not None


def load_active_user(user_id: str) -> User | None:
    try:
        uid = uuid.UUID(user_id)
    except ValueError:
        return None
    user = db.session.get(User, uid)
    return user if user is not None and user.active else None


def purge_expired_revocations(*, now: datetime) -> int:
    """Forget revocations of sessions whose tokens have all expired."""
    result = db.session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)


def count_admins() -> int:
    from kapt_api.auth.models import UserRole

    return int(
        db.session.scalar(
            select(func.count()).select_from(UserRole).where(UserRole.role == Role.ADMIN.value)
        )
        or 0
    )
