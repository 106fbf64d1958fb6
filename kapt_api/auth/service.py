"""Accounts and tokens: login, refresh, revoke, create users."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import joinedload

from kapt_api import clock
from kapt_api.auth.models import LoginSession, Role, User
from kapt_api.auth.passwords import hash_password, needs_rehash, verify_password
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, Unauthorized

MIN_PASSWORD_LENGTH = 12
# How long a login session's row outlives its tokens: who was logged in when, for the audit.
SESSION_KEPT_AFTER_EXPIRY = timedelta(days=1)


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


def _issue(session: LoginSession, *, now: datetime, with_refresh: bool) -> TokenPair:
    access_life, _ = _lifetimes()
    # An access token never outlives its login session (a refresh just before the end).
    access_life = min(access_life, session.expires_at - now)
    identity, claims = str(session.user_id), {"sid": session.id}
    access = create_access_token(
        identity=identity, additional_claims=claims, expires_delta=access_life
    )
    refresh = (
        create_refresh_token(
            identity=identity, additional_claims=claims, expires_delta=session.expires_at - now
        )
        if with_refresh
        else None
    )
    return TokenPair(
        access,
        refresh,
        now + access_life,
        session.expires_at if with_refresh else None,
        session.user,
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
    now = clock.now()
    user.last_login_at = now
    return start_session(user, now=now)


def start_session(user: User, *, now: datetime) -> TokenPair:
    """Open a login session for a user whose credentials were checked, with its tokens."""
    _, refresh_life = _lifetimes()
    session = LoginSession(
        id=secrets.token_hex(16), user=user, created_at=now, expires_at=now + refresh_life
    )
    db.session.add(session)
    db.session.flush()
    return _issue(session, now=now, with_refresh=True)


def check_session(session_id: object, *, user_id: str, now: datetime) -> LoginSession:
    """The live login session a token names; raise Unauthorized if there is none.

    Read on every authenticated request: one primary-key lookup, which brings the
    session's user along for the user lookup that follows.
    """
    session = (
        db.session.get(LoginSession, session_id, options=[joinedload(LoginSession.user)])
        if isinstance(session_id, str) and session_id
        else None
    )
    if session is None or str(session.user_id) != user_id:
        raise Unauthorized(
            "The token names no login session of this server; log in again.",
            code="session_unknown",
        )
    if session.revoked_at is not None:
        raise Unauthorized("The token was revoked; log in again.", code="token_revoked")
    if session.expires_at <= now:
        raise Unauthorized("The login session has ended; log in again.", code="session_expired")
    return session


def refresh(session_id: str, *, user_id: str, now: datetime) -> TokenPair:
    """A new access token for the same login session, while it is live."""
    session = check_session(session_id, user_id=user_id, now=now)
    session.last_refreshed_at = now
    db.session.flush()
    return _issue(session, now=now, with_refresh=False)


def revoke_session(session_id: str, *, now: datetime) -> None:
    """Revoke every token of one login session (access and refresh)."""
    session = db.session.get(LoginSession, session_id)
    if session is not None and session.revoked_at is None:
        session.revoked_at = now
        db.session.flush()


def revoke_sessions_of(user: User, *, now: datetime) -> int:
    """Revoke every live login session of a user (they were deactivated)."""
    result = db.session.execute(
        update(LoginSession)
        .where(
            LoginSession.user_id == user.id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def load_active_user(user_id: str) -> User | None:
    try:
        uid = uuid.UUID(user_id)
    except ValueError:
        return None
    user = db.session.get(User, uid)
    return user if user is not None and user.active else None


def purge_ended_sessions(*, now: datetime) -> int:
    """Forget login sessions whose tokens all expired more than a day ago."""
    result = db.session.execute(
        delete(LoginSession).where(LoginSession.expires_at < now - SESSION_KEPT_AFTER_EXPIRY)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def count_admins() -> int:
    from kapt_api.auth.models import UserRole

    return int(
        db.session.scalar(
            select(func.count()).select_from(UserRole).where(UserRole.role == Role.ADMIN.value)
        )
        or 0
    )
