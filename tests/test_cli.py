"""`flask kapt create-admin`: the first administrator of a fresh installation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kapt_api.auth.models import Role, User
from kapt_api.db import db

PASSWORD = "a long admin passphrase"


def _users_named(email: str) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.email == email))


def _create_admin(runner, *args: str, **kwargs):
    return runner.invoke(args=["kapt", "create-admin", *args], **kwargs)


def test_create_admin_makes_an_admin_who_can_log_in(runner, client):
    result = _create_admin(
        runner, "--email", "Head@Cedar.example", "--name", "Hana Head", "--password", PASSWORD
    )

    assert result.exit_code == 0, result.output
    assert "Administrator head@cedar.example created" in result.output
    response = client.post(
        "/api/v1/auth/tokens", json={"email": "head@cedar.example", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert response.get_json()["user"]["roles"] == ["admin"]
    assert response.get_json()["user"]["full_name"] == "Hana Head"


def test_create_admin_asks_for_the_password_twice_without_echoing_it(runner):
    result = _create_admin(runner, "--email", "asks@cedar.example", input=f"{PASSWORD}\n" * 2)

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    user = db.session.scalar(select(User).where(User.email == "asks@cedar.example"))
    assert user.roles == {Role.ADMIN}
    assert user.password_hash.startswith("$argon2id$")


def test_create_admin_takes_the_password_from_the_environment(runner):
    result = _create_admin(
        runner, "--email", "env@cedar.example", env={"KAPT_ADMIN_PASSWORD": PASSWORD}
    )

    assert result.exit_code == 0, result.output
    assert _users_named("env@cedar.example") == 1


def test_create_admin_refuses_a_short_password_with_a_clear_message(runner):
    result = _create_admin(runner, "--email", "short@cedar.example", "--password", "tiny")

    assert result.exit_code == 1
    assert "Error: Use at least 12 characters." in result.output
    assert _users_named("short@cedar.example") == 0


def test_create_admin_refuses_an_email_already_taken(runner, make_user):
    make_user(Role.NURSE, email="taken@cedar.example")
    db.session.commit()

    result = _create_admin(runner, "--email", "TAKEN@cedar.example", "--password", PASSWORD)

    assert result.exit_code == 1
    assert "Error: An account with this email already exists." in result.output
    assert _users_named("taken@cedar.example") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-email"], "Error: --email: Not a valid email address."),
        (["--email", "nul\x00@cedar.example"], "Error: --email: Must not contain control"),
        (["--email", "ok@cedar.example", "--name", "  "], "Error: --name:"),
    ],
)
def test_create_admin_refuses_what_the_api_would_refuse(runner, args, message):
    result = _create_admin(runner, *args, "--password", PASSWORD)

    assert result.exit_code == 1
    assert message in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_admin_needs_an_email(runner):
    result = _create_admin(runner, "--password", PASSWORD)

    assert result.exit_code == 2
    assert "Missing option '--email'" in result.output
