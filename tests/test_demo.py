"""The demo clinic a newcomer gets from `make run`."""

import re
from pathlib import Path

from sqlalchemy import func, select

from kapt_api import demo
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
