"""The contract as a front-end team meets it: a Python client generated from the served
/openapi.json with openapi-python-client's default settings drives a short clinic day
(enrol, book, a refused booking read as a problem whose rule codes are an enum, a move
with If-Match, check-in, readings, an alert, discharge), and a therapist on the care
team reads every record back. No answer may lose a field in the client's models: each
answer's JSON is compared, key by key at every depth, with what the model gives back,
and no model may keep a field it does not declare."""

from __future__ import annotations

import enum
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import httpx
import pytest
from flask import Flask

from kapt_api import clock
from kapt_api.auth.models import Role, User
from kapt_api.db import db
from kapt_api.protocols import service as protocols
from tests.monitoring.conftest import ARRIVAL, IM_KAP, at, vitals

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("now")]

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "kapt_api_client"
# A violation carries facts of its own rule beside `rule` and `message`, by design.
OPEN_BY_DESIGN = {"Violation"}


@pytest.fixture(scope="session")
def generated(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package, generated once per run into a temporary folder."""
    folder = tmp_path_factory.mktemp("generated_client")
    spec = folder / "openapi.json"
    spec.write_bytes(app.test_client().get("/openapi.json").data)
    done = subprocess.run(
        [GENERATOR, "generate", "--path", spec, "--output-path", folder / "client"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": str(GENERATOR.parent)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(folder / "client"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder / "client"))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture
def now() -> Iterator[Any]:
    clock.freeze(ARRIVAL - timedelta(days=2))
    yield
    clock.unfreeze()


def _declares_fields(model: Any) -> bool:
    return any(f.name != "additional_properties" for f in attrs.fields(type(model)))


def assert_nothing_dropped(sent: Any, kept: Any, model: Any, where: str = "$") -> None:
    """`kept` (the model's to_dict()) has every key `sent` has, at every depth, and no
    model with declared fields holds a field it does not declare."""
    if (
        attrs.has(type(model))
        and _declares_fields(model)
        and type(model).__name__ not in OPEN_BY_DESIGN
    ):
        extra = getattr(model, "additional_properties", {})
        assert not extra, f"{where}: undeclared fields {sorted(extra)}"
    if isinstance(sent, dict):
        assert isinstance(kept, dict), where
        assert sorted(sent) == sorted(kept), f"{where}: sent {sorted(sent)}, kept {sorted(kept)}"
        for key, value in sent.items():
            inner = getattr(model, key, None) if attrs.has(type(model)) else None
            if inner is None and attrs.has(type(model)):
                inner = getattr(model, "additional_properties", {}).get(key)
            assert_nothing_dropped(value, kept[key], inner, f"{where}.{key}")
    elif isinstance(sent, list):
        assert isinstance(kept, list) and len(kept) == len(sent), where
        models = model if isinstance(model, list) else [None] * len(sent)
        for index, (value, back, inner) in enumerate(zip(sent, kept, models, strict=True)):
            assert_nothing_dropped(value, back, inner, f"{where}[{index}]")


class Front:
    """One person's screen: the generated client, each call checked for lost fields."""

    def __init__(self, package: ModuleType, app: Flask, token: str) -> None:
        self.package = package
        client = package.AuthenticatedClient(base_url="http://kapt.test", token=token)
        client.set_httpx_client(
            httpx.Client(
                base_url="http://kapt.test",
                transport=httpx.WSGITransport(app=app),
                headers={"Authorization": f"Bearer {token}"},
            )
        )
        self.client = client

    def call(self, operation: str, expected: int, /, **arguments: Any) -> Any:
        module = next(
            importlib.import_module(f"{self.package.__name__}.api.{tag}.{operation}")
            for tag in ("scheduling", "monitoring", "patients", "calendar")
            if importlib.util.find_spec(f"{self.package.__name__}.api.{tag}.{operation}")
        )
        answer = module.sync_detailed(client=self.client, **arguments)
        assert answer.status_code == expected, answer.content
        self.headers = answer.headers
        sent = json.loads(answer.content) if answer.content else None
        parsed = answer.parsed
        kept = [item.to_dict() for item in parsed] if isinstance(parsed, list) else parsed
        if hasattr(kept, "to_dict"):
            kept = kept.to_dict()
        if sent is not None:
            assert_nothing_dropped(sent, kept, parsed)
        return parsed

    def model(self, name: str, data: Any) -> Any:
        """A body model built from its JSON, or an enum member from its value."""
        kind = getattr(importlib.import_module(f"{self.package.__name__}.models"), name)
        return kind.from_dict(data) if hasattr(kind, "from_dict") else kind(data)


@pytest.fixture
def day(make_clinic, make_room, make_staff, make_patient, admin: User, auth_headers) -> Any:
    clinic = make_clinic(name="Cedar Clinic", time_zone="America/New_York")
    room = make_room(clinic, name="Willow", kind="dosing")
    people = {
        role: make_staff(clinic, role, full_name=f"{role.value.title()} Cedar")
        for role in (Role.PRESCRIBER, Role.NURSE, Role.THERAPIST, Role.FRONT_DESK)
    }
    patient = make_patient(clinic, care_team=[people[r] for r in list(people)[:3]])
    installed = protocols.install_builtin_templates(by=admin, now=ARRIVAL - timedelta(days=30))
    db.session.commit()
    version = next(p.current_version for p in installed if p.template_key == IM_KAP)

    def token(user: User) -> str:
        return str(auth_headers(user)["Authorization"].split()[1])

    return clinic, room, people, patient, version, admin, token


def test_a_generated_client_runs_a_clinic_day_and_keeps_every_field(
    app: Flask, generated: ModuleType, day: Any
) -> None:
    clinic, room, people, patient, version, admin, token = day
    as_admin = Front(generated, app, token(admin))
    prescriber = Front(generated, app, token(people[Role.PRESCRIBER].user))
    nurse = Front(generated, app, token(people[Role.NURSE].user))
    desk = Front(generated, app, token(people[Role.FRONT_DESK].user))
    therapist = Front(generated, app, token(people[Role.THERAPIST].user))
    team = {"prescriber_id": str(people[Role.PRESCRIBER].id)}
    team |= {"nurse_id": str(people[Role.NURSE].id)}
    team |= {"therapist_id": str(people[Role.THERAPIST].id)}

    course = as_admin.call(
        "enrol_patient",
        201,
        body=as_admin.model(
            "CourseIn",
            {
                "patient_id": str(patient.id),
                "protocol_version_id": str(version.id),
                "care_team": team,
            },
        ),
    )
    booking = {"course_id": str(course.id), "kind": "dosing", "room_id": str(room.id)}
    booking |= {"override": {"rules": ["preparation_incomplete"], "reason": "Prepared elsewhere"}}
    first = ARRIVAL - timedelta(hours=1)
    dose = prescriber.call(
        "book_appointment",
        201,
        body=prescriber.model("AppointmentIn", {**booking, "starts_at": first.isoformat()}),
    )
    refused = prescriber.call(
        "book_appointment",
        409,
        body=prescriber.model("AppointmentIn", {**booking, "starts_at": first.isoformat()}),
    )
    assert type(refused).__name__ == "Problem"
    # Rule codes are a closed list: the client reads each as a member of its enum.
    assert all(isinstance(v.rule, enum.Enum) for v in refused.violations)
    assert {"room_conflict", "patient_conflict"} <= {v.rule.value for v in refused.violations}

    prescriber.call("get_appointment", 200, appointment_id=dose.id)
    moved = prescriber.call(
        "move_appointment",
        200,
        appointment_id=dose.id,
        body=prescriber.model(
            "AppointmentPatch", {"starts_at": ARRIVAL.isoformat(), "override": booking["override"]}
        ),
        if_match=prescriber.headers["ETag"],
    )
    assert moved.starts_at == ARRIVAL

    clock.freeze(ARRIVAL)
    desk.call("check_in_appointment", 200, appointment_id=dose.id)
    clock.freeze(at(2))
    baseline = {"timepoint": "baseline", "measured_at": at(2).isoformat()}
    nurse.call(
        "record_reading",
        201,
        appointment_id=dose.id,
        body=nurse.model("ReadingIn", {**baseline, "values": vitals(systolic=184)}),
    )
    alerts = nurse.call(
        "list_alerts", 200, clinic_id=clinic.id, status=nurse.model("ListAlertsStatus", "open")
    )
    [alert] = [a for a in alerts if a.kind.value == "threshold"]
    assert alert.severity.value == "critical" and alert.measurement.value == "systolic_bp"
    nurse.call(
        "acknowledge_alert",
        200,
        alert_id=alert.id,
        body=nurse.model("AcknowledgeIn", {"note": "Rechecked"}),
    )
    clock.freeze(at(3))
    nurse.call(
        "record_reading",
        201,
        appointment_id=dose.id,
        body=nurse.model(
            "ReadingIn", {**baseline, "measured_at": at(3).isoformat(), "values": vitals()}
        ),
    )
    clock.freeze(at(4))
    held = nurse.call("start_appointment", 422, appointment_id=dose.id)
    assert [v.rule for v in held.violations] == ["pre_dose_gate"]
    why = prescriber.model("ReasonIn", {"reason": "Rechecked 150/90, asymptomatic"})
    prescriber.call("override_hold", 200, appointment_id=dose.id, body=why)
    clock.freeze(at(5))
    nurse.call("start_appointment", 200, appointment_id=dose.id)
    checklist = nurse.call("get_checklist", 200, appointment_id=dose.id)
    for occurrence in checklist.timepoints:
        if occurrence.state != "done":
            when = max(occurrence.due_at or at(6), at(6))
            clock.freeze(when)
            reading = {"timepoint": occurrence.timepoint, "measured_at": when.isoformat()}
            wanted = {m.value for m in occurrence.measurements}
            values = [v for v in vitals(moaa_s=5, dissociation=0) if v["measurement"] in wanted]
            nurse.call(
                "record_reading",
                201,
                appointment_id=dose.id,
                body=nurse.model("ReadingIn", {**reading, "values": values}),
            )
    clock.freeze(at(5 + checklist.min_monitoring_minutes + 1))
    criteria = [c.key for c in version.definition.checklist.discharge_criteria]
    discharged = nurse.call(
        "discharge_patient",
        200,
        appointment_id=dose.id,
        body=nurse.model("DischargeIn", {"confirmed": criteria}),
    )
    assert discharged.discharged_at is not None

    # The care team's therapist reads every record back, clinical fields included.
    seen = therapist.call("get_appointment", 200, appointment_id=dose.id)
    assert "clinical_notes" in seen.to_dict()
    seen_course = therapist.call("get_course", 200, course_id=course.id)
    assert "measures_trend" in seen_course.to_dict()
    seen_patient = therapist.call("get_patient", 200, patient_id=patient.id)
    assert "clinical" in seen_patient.to_dict()
    therapist.call("list_appointments", 200, course_id=course.id)
    therapist.call("get_checklist", 200, appointment_id=dose.id)
    desk.call("get_clinic_schedule", 200, clinic_id=clinic.id, date=ARRIVAL.date())
