"""The demo clinic a newcomer gets from `make run`."""

import re
from pathlib import Path

from sqlalchemy import func, select

from kapt_api import demo
from kapt_api.auth.models import User
from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.protocols.models import Protocol, ProtocolVersion
from kapt_api.protocols.templates import TEMPLATES

README = Path(__file__).resolve().parent.parent / "README.md"


def test_demo_data_loads_once_and_prints_working_logins(runner, client):
    first = runner.invoke(args=["kapt", "demo-data", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "Demo clinic loaded in" in first.output
    second = runner.invoke(args=["kapt", "demo-data", "--if-empty"])
    assert "already loaded" in second.output
    assert db.session.scalar(select(func.count()).select_from(Clinic)) == 1
    published = db.session.scalars(
        select(Protocol.name).join(ProtocolVersion).where(ProtocolVersion.status == "published")
    ).all()
    assert sorted(published) == sorted(t.name for t in TEMPLATES.values())

    for login in demo.LOGINS:
        assert login.email in second.output and login.password in second.output
        answer = client.post(
            "/api/v1/auth/tokens", json={"email": login.email, "password": login.password}
        )
        assert answer.status_code == 201, (login.email, answer.json)
        assert sorted(answer.json["user"]["roles"]) == sorted(login.roles)


def test_demo_data_leaves_a_database_with_other_users_alone(runner, make_user):
    make_user()
    result = runner.invoke(args=["kapt", "demo-data", "--if-empty"])
    assert "not loaded" in result.output
    assert db.session.scalar(select(func.count()).select_from(Clinic)) == 0


def test_readme_lists_the_demo_logins():
    table = (
        README.read_text()
        .split("<!-- demo-logins:start -->")[1]
        .split("<!-- demo-logins:end -->")[0]
    )
    rows = re.findall(r"\| `([^`]+)` \| `([^`]+)` \| ([a-z_, ]+) \|", table)
    assert rows == [(d.email, d.password, ", ".join(d.roles)) for d in demo.LOGINS]


def test_demo_data_refuses_to_load_beside_other_users(runner, make_user):
    make_user()
    result = runner.invoke(args=["kapt", "demo-data"])

    assert result.exit_code == 1
    assert "already has users; demo clinic not loaded. Use --reset" in result.output
    assert db.session.scalar(select(func.count()).select_from(Clinic)) == 0


def test_reset_refuses_a_database_with_more_than_the_demo(runner, make_user, make_clinic):
    runner.invoke(args=["kapt", "demo-data", "--if-empty"])
    stranger = make_user(email="someone@elsewhere.example")
    make_clinic(name="Elm Street Clinic")

    result = runner.invoke(args=["kapt", "demo-data", "--reset"])

    assert result.exit_code == 1, result.output
    assert "Refusing to reset: the database holds more than the demo clinic" in result.output
    assert "1 clinic(s) other than Cedar Grove Clinic" in result.output
    assert "1 login(s) that are not the demo's" in result.output
    assert db.session.get(User, stranger.id) is not None


def test_reset_refuses_in_production(app, runner, monkeypatch):
    monkeypatch.setitem(app.config, "KAPT_ENV", "production")

    result = runner.invoke(args=["kapt", "demo-data", "--reset"])

    assert result.exit_code == 1
    assert "Refusing to reset: KAPT_ENV is production" in result.output


def test_reset_and_if_empty_do_not_go_together(runner):
    result = runner.invoke(args=["kapt", "demo-data", "--reset", "--if-empty"])

    assert result.exit_code == 2
    assert "Give --if-empty or --reset, not both." in result.output
