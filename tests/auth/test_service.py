"""Accounts and passwords without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from kapt_api.auth import passwords, service
from kapt_api.auth.models import RevokedSession, Role, User
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


def test_revocations_are_forgotten_once_every_token_has_expired():
    db.session.add_all(
        [
            RevokedSession(session_id="old", expires_at=NOW - timedelta(seconds=1)),
            RevokedSession(session_id="live", expires_at=NOW + timedelta(hours=1)),
        ]
    )
    db.session.flush()

    assert service.purge_expired_revocations(now=NOW) == 1

    assert list(db.session.scalars(select(RevokedSession.session_id))) == ["live"]
    assert service.is_revoked("live")
    assert not service.is_revoked("old")
