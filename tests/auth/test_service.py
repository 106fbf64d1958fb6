"""Accounts, passwords and login sessions without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from flask_jwt_extended import decode_token
from sqlalchemy import select

from kapt_api.auth import passwords, service
from kapt_api.auth.models import LoginSession, Role, User
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, Unauthorized
from tests.conftest import PASSWORD

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_passwords_are_stored_as_argon2id_hashes_never_in_plain(make_user):
    user = make_user(Role.NURSE, password="a long secret sentence")

    users = User.__table__
    row = db.session.execute(select(users).where(users.c.id == user.id)).mappings().one()

    assert row["password_hash"].startswith("$argon2id$")
    assert not any("a long secret sentence" in str(value) for value in row.values())


def test_production_hashes_use_the_full_argon2id_cost(app, monkeypatch):
    monkeypatch.setitem(app.config, "KAPT_ENV", "production")

    hashed = passwords.hash_password("a long secret sentence")

    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_two_users_with_one_password_get_different_hashes(make_user):
    first = make_user(Role.NURSE, password=PASSWORD)
    second = make_user(Role.NURSE, password=PASSWORD)

    assert first.password_hash != second.password_hash


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$garbage"])
def test_a_missing_or_broken_hash_never_matches(stored):
    assert passwords.verify_password(stored, "anything at all") is False


def test_an_unknown_email_costs_a_hash_verification_like_a_wrong_password(make_user, monkeypatch):
    user = make_user(Role.NURSE)
    verified = []
    original = PasswordHasher.verify

    def counting(self, hashed, password):
        verified.append(hashed)
        return original(self, hashed, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)

    for email in (user.email, "nobody@clinic.test"):
        with pytest.raises(Unauthorized):
            service.log_in(email=email, password="wrong password")

    assert len(verified) == 2
    assert all(h.startswith("$argon2id$") for h in verified)


def test_create_user_refuses_a_short_password(make_user):
    with pytest.raises(InvalidInput) as refused:
        make_user(Role.NURSE, password="short")

    assert refused.value.errors == {"password": ["Use at least 12 characters."]}


def test_create_user_refuses_an_email_already_taken_whatever_its_case(make_user):
    make_user(Role.NURSE, email="sam@clinic.test")

    with pytest.raises(Conflict) as refused:
        make_user(Role.NURSE, email="  SAM@Clinic.TEST ")

    assert refused.value.code == "email_taken"


def test_log_in_rehashes_a_password_stored_at_an_older_cost(make_user):
    user = make_user(Role.NURSE)
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=16, parallelism=1).hash(PASSWORD)
    old_hash = user.password_hash

    service.log_in(email=user.email, password=PASSWORD)

    assert user.password_hash != old_hash
    assert passwords.verify_password(user.password_hash, PASSWORD)


# --- login sessions ---------------------------------------------------------------------------


def session_of(token: str) -> LoginSession:
    found = db.session.get(LoginSession, decode_token(token)["sid"])
    assert found is not None
    return found


def refused_code(session_id: object, user: User, now: datetime = NOW) -> str:
    with pytest.raises(Unauthorized) as refused:
        service.check_session(session_id, user_id=str(user.id), now=now)
    return refused.value.code


def test_a_login_opens_a_session_that_ends_with_its_refresh_token(make_user):
    user = make_user(Role.NURSE)

    tokens = service.start_session(user, now=NOW)

    session = session_of(tokens.access_token)
    assert session_of(tokens.refresh_token or "") is session
    assert (session.user_id, session.created_at) == (user.id, NOW)
    assert session.expires_at == tokens.refresh_expires_at == NOW + timedelta(hours=12)
    assert (session.revoked_at, session.last_refreshed_at) == (None, None)
    assert service.check_session(session.id, user_id=str(user.id), now=NOW) is session


def test_every_login_is_a_session_of_its_own(make_user):
    user = make_user(Role.NURSE)

    first = service.log_in(email=user.email, password=PASSWORD)
    second = service.log_in(email=user.email, password=PASSWORD)

    assert session_of(first.access_token).id != session_of(second.access_token).id


@pytest.mark.parametrize("session_id", [None, "", "0" * 32, 42, ["x"]])
def test_a_session_never_issued_is_unknown(make_user, session_id):
    assert refused_code(session_id, make_user(Role.NURSE)) == "session_unknown"


def test_a_session_is_only_good_for_the_user_it_was_opened_for(make_user):
    owner, other = make_user(Role.NURSE), make_user(Role.ADMIN)
    session = session_of(service.start_session(owner, now=NOW).access_token)

    assert refused_code(session.id, other) == "session_unknown"


def test_a_revoked_session_is_refused(make_user):
    user = make_user(Role.NURSE)
    session = session_of(service.start_session(user, now=NOW).access_token)

    service.revoke_session(session.id, now=NOW + timedelta(minutes=5))

    assert session.revoked_at == NOW + timedelta(minutes=5)
    assert refused_code(session.id, user, NOW + timedelta(minutes=6)) == "token_revoked"


def test_a_session_is_refused_from_the_moment_it_ends(make_user):
    user = make_user(Role.NURSE)
    session = session_of(service.start_session(user, now=NOW).access_token)
    ends = NOW + timedelta(hours=12)

    assert service.check_session(session.id, user_id=str(user.id), now=ends - timedelta(seconds=1))
    assert refused_code(session.id, user, ends) == "session_expired"


def test_a_refresh_is_recorded_and_never_outlives_the_session(make_user):
    user = make_user(Role.NURSE)
    session = session_of(service.start_session(user, now=NOW).access_token)
    late = NOW + timedelta(hours=11, minutes=55)

    refreshed = service.refresh(session.id, user_id=str(user.id), now=late)

    assert session.last_refreshed_at == late
    assert refreshed.refresh_token is None
    assert refreshed.expires_at == session.expires_at  # 5 minutes left, not 15
    assert session_of(refreshed.access_token) is session


def test_a_refresh_of_an_ended_session_is_refused(make_user):
    user = make_user(Role.NURSE)
    session = session_of(service.start_session(user, now=NOW).access_token)

    with pytest.raises(Unauthorized) as refused:
        service.refresh(session.id, user_id=str(user.id), now=NOW + timedelta(hours=12))

    assert refused.value.code == "session_expired"
    assert session.last_refreshed_at is None


def test_revoking_a_users_sessions_leaves_other_users_alone(make_user):
    user, other = make_user(Role.NURSE), make_user(Role.NURSE)
    live = [service.start_session(user, now=NOW) for _ in range(2)]
    ended = service.start_session(user, now=NOW - timedelta(hours=13))
    theirs = service.start_session(other, now=NOW)

    assert service.revoke_sessions_of(user, now=NOW) == 2

    db.session.expire_all()
    assert {session_of(t.access_token).revoked_at for t in live} == {NOW}
    assert session_of(ended.access_token).revoked_at is None  # ended already: left as it was
    assert session_of(theirs.access_token).revoked_at is None


def test_ended_sessions_are_kept_a_day_for_the_audit_then_forgotten(make_user):
    user = make_user(Role.NURSE)
    started = {
        name: session_of(service.start_session(user, now=NOW - age).access_token).id
        for name, age in {
            "live": timedelta(hours=1),
            "ended an hour ago": timedelta(hours=13),
            "ended a day ago": timedelta(hours=36, seconds=-1),
            "ended over a day ago": timedelta(hours=36, seconds=1),
        }.items()
    }
    service.revoke_session(started["live"], now=NOW)

    assert service.purge_ended_sessions(now=NOW) == 1

    kept = set(db.session.scalars(select(LoginSession.id).where(LoginSession.user_id == user.id)))
    assert kept == {started[n] for n in ("live", "ended an hour ago", "ended a day ago")}


def test_the_hourly_purge_job_forgets_ended_sessions(make_user):
    from kapt_api import scheduler

    user = make_user(Role.NURSE)
    ended = session_of(service.start_session(user, now=NOW - timedelta(days=3)).access_token).id
    live = session_of(service.start_session(user, now=NOW).access_token).id
    purge = next(job for job in scheduler.JOBS if job.id == "purge-expired-keys")

    purge.run(NOW)

    kept = set(db.session.scalars(select(LoginSession.id).where(LoginSession.user_id == user.id)))
    assert kept == {live} and ended not in kept
