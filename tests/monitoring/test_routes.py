"""The monitoring HTTP contract: who reaches what, problem+json naming fields and rules,
the FHIR and SVG answers, audit rows with the patient's id."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from kapt_api import clock
from kapt_api.auth.models import AuditEvent
from kapt_api.db import db
from kapt_api.monitoring import jobs
from kapt_api.scheduler import JOBS
from tests.monitoring.conftest import API, ARRIVAL, IM_KAP, PROBLEM, at, vitals


@pytest.fixture
def as_(team, auth_headers):
    return lambda member: auth_headers(member.user)


def base(session) -> str:
    return f"{API}/appointments/{session.appointment_id}/monitoring"


def post_reading(client, session, headers, minutes, **body):
    clock.freeze(at(minutes))
    body.setdefault("measured_at", at(minutes).isoformat())
    body.setdefault("values", vitals())
    return client.post(f"{base(session)}/readings", json=body, headers=headers)


def test_a_nurse_sees_the_checklist_with_each_timepoint_state(client, team, session, as_):
    post_reading(client, session, as_(team.nurse), 2, timepoint="baseline")
    answer = client.get(base(session), headers=as_(team.nurse))
    assert answer.status_code == 200
    body = answer.get_json()
    states = {(t["timepoint"], t["slot_minutes"]): t["state"] for t in body["timepoints"]}
    assert states[("baseline", None)] == "done"
    assert states[("bp_40_min", 40)] == "due"
    assert body["readings"][0]["values"]["systolic_bp"] == 120
    assert body["session"]["hold"]["held"] is False


def test_front_desk_never_sees_readings_and_another_clinic_gets_404(
    client, team, session, as_, make_team
):
    post_reading(client, session, as_(team.nurse), 2, timepoint="baseline")
    desk = client.get(base(session), headers=as_(team.front_desk))
    assert desk.status_code == 403 and desk.content_type == PROBLEM
    assert "120" not in desk.get_data(as_text=True)
    for path in ("", "/fhir", "/chart.svg", "/rems-form"):
        assert client.get(base(session) + path, headers=as_(team.front_desk)).status_code == 403
    refused = post_reading(client, session, as_(team.front_desk), 3, timepoint="baseline")
    assert refused.status_code == 403
    elsewhere = make_team("Birch Clinic")
    assert client.get(base(session), headers=as_(elsewhere.nurse)).status_code == 404


def test_a_checklist_opens_only_at_check_in(client, team, make_course, make_appointment, as_, now):
    appointment = make_appointment(make_course())
    path = f"{API}/appointments/{appointment.id}/monitoring"
    assert client.get(path, headers=as_(team.nurse)).status_code == 404
    checked = client.post(
        f"{API}/appointments/{appointment.id}/check-in", headers=as_(team.front_desk)
    )
    assert checked.status_code == 200
    assert client.get(path, headers=as_(team.nurse)).status_code == 200


def test_an_implausible_value_is_refused_with_422_naming_the_field(client, team, session, as_):
    answer = post_reading(
        client, session, as_(team.nurse), 2, timepoint="baseline", values=vitals(spo2=130)
    )
    assert answer.status_code == 422 and answer.content_type == PROBLEM
    assert list(answer.get_json()["errors"]) == ["values.spo2"]
    naive = post_reading(client, session, as_(team.nurse), 2, measured_at="2026-12-08T10:00:00")
    assert naive.status_code == 422 and "measured_at" in naive.get_json()["errors"]


def test_a_threshold_alert_is_listed_open_and_acknowledged_with_a_note(client, team, session, as_):
    headers = as_(team.nurse)
    client.post(f"{API}/appointments/{session.appointment_id}/start", headers=headers)
    created = post_reading(client, session, headers, 5, values=vitals(systolic=190))
    assert created.status_code == 201
    listed = client.get(
        f"{API}/alerts",
        query_string={"clinic_id": team.clinic.id, "status": "open"},
        headers=headers,
    )
    (alert,) = listed.get_json()
    assert (alert["severity"], alert["measurement"]) == ("critical", "systolic_bp")
    assert client.get(f"{API}/alerts", headers=as_(team.front_desk)).get_json() == []
    ack = client.post(
        f"{API}/alerts/{alert['id']}/acknowledge",
        json={"note": "Repeated: 150/90"},
        headers=headers,
    )
    assert ack.status_code == 200 and ack.get_json()["status"] == "acknowledged"
    again = client.post(
        f"{API}/alerts/{alert['id']}/acknowledge", json={"note": "x"}, headers=headers
    )
    assert again.status_code == 409
    still_open = client.get(f"{API}/alerts", query_string={"status": "open"}, headers=headers)
    assert still_open.get_json() == []


def test_a_held_session_starts_only_after_a_prescribers_override(client, team, rems_session, as_):
    post_reading(
        client, rems_session, as_(team.nurse), 2, timepoint="baseline", values=vitals(systolic=150)
    )
    start = f"{API}/appointments/{rems_session.appointment_id}/start"
    refused = client.post(start, headers=as_(team.nurse))
    assert refused.status_code == 422
    assert [v["rule"] for v in refused.get_json()["violations"]] == ["pre_dose_gate"]
    override = f"{base(rems_session)}/hold-override"
    assert client.post(override, json={"reason": "ok"}, headers=as_(team.nurse)).status_code == 403
    allowed = client.post(override, json={"reason": "Asymptomatic"}, headers=as_(team.prescriber))
    assert allowed.status_code == 200
    assert allowed.get_json()["hold"]["override_reason"] == "Asymptomatic"
    assert client.post(start, headers=as_(team.nurse)).status_code == 200
    overrides = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "override"))
    assert [e.patient_id for e in overrides] == [team.patient.id]


# The Saturday before the dose (ARRIVAL, Tuesday 10:00 New York), and the preparations
# on the Monday at 09:00 and 13:00.
BOOKED_ON = at(-3 * 24 * 60)
PREPARATIONS = (at(-25 * 60), at(-21 * 60))


def test_a_booked_dose_held_at_its_baseline_starts_only_after_a_prescribers_override(
    client, team, make_course, make_room, as_
):
    """Book, prepare, check in, chart a high baseline, start: the real flow end to end."""
    course = make_course(IM_KAP)
    therapy = make_room(team.clinic, name="Oak", kind="therapy")
    db.session.commit()
    desk, nurse = as_(team.front_desk), as_(team.nurse)

    def book(kind, starts_at, room, when=BOOKED_ON):
        clock.freeze(when)
        body = {
            "course_id": str(course.id),
            "kind": kind,
            "starts_at": starts_at.isoformat(),
            "room_id": str(room.id),
        }
        return client.post(f"{API}/appointments", json=body, headers=desk)

    def step(appointment_id, action, headers, when):
        clock.freeze(when)
        return client.post(f"{API}/appointments/{appointment_id}/{action}", headers=headers)

    for starts_at in PREPARATIONS:
        booked = book("preparation", starts_at, therapy)
        assert booked.status_code == 201, booked.get_json()
        prep = booked.get_json()["id"]
        assert step(prep, "check-in", desk, starts_at).status_code == 200
        assert step(prep, "start", as_(team.therapist), starts_at).status_code == 200
        done = step(prep, "complete", as_(team.therapist), starts_at + timedelta(minutes=55))
        assert done.get_json()["status"] == "completed"
    dose = book("dosing", ARRIVAL, team.room)
    assert dose.status_code == 201, dose.get_json()
    dose_id = dose.get_json()["id"]
    assert step(dose_id, "check-in", desk, ARRIVAL).status_code == 200
    monitoring = f"{API}/appointments/{dose_id}/monitoring"
    clock.freeze(at(2))
    baseline = {"timepoint": "baseline", "measured_at": at(2).isoformat()}
    high = client.post(
        f"{monitoring}/readings", json={**baseline, "values": vitals(systolic=172)}, headers=nurse
    )
    assert high.status_code == 201, high.get_json()

    refused = step(dose_id, "start", nurse, at(5))
    assert refused.status_code == 422 and refused.content_type == PROBLEM
    [violation] = refused.get_json()["violations"]
    assert violation["rule"] == "pre_dose_gate"
    assert "systolic" in violation["message"].lower() and "172" in violation["message"]
    shown = client.get(f"{API}/appointments/{dose_id}", headers=desk).get_json()
    assert shown["status"] == "checked_in"
    next_dose = book("dosing", ARRIVAL + timedelta(days=7), team.room, when=at(5))
    assert "pre_dose_gate" in [v["rule"] for v in next_dose.get_json()["violations"]]

    override = f"{monitoring}/hold-override"
    assert client.post(override, json={"reason": "ok"}, headers=nurse).status_code == 403
    why = "Asymptomatic, rechecked 150/90; benefit outweighs a short rise"
    clock.freeze(at(6))
    allowed = client.post(override, json={"reason": why}, headers=as_(team.prescriber))
    assert allowed.status_code == 200, allowed.get_json()
    assert allowed.get_json()["hold"]["override_by"] == str(team.prescriber.user.id)

    started = step(dose_id, "start", nurse, at(8))
    assert started.status_code == 200, started.get_json()
    assert started.get_json()["status"] == "in_progress"
    checklist = client.get(monitoring, headers=nurse).get_json()
    assert checklist["session"]["dose_started_at"] == at(8).isoformat()
    [audited] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "override"))
    assert (audited.patient_id, audited.actor_id) == (team.patient.id, team.prescriber.user.id)
    assert audited.reason == why


def test_a_refused_discharge_lists_everything_missing(client, team, session, as_):
    post_reading(client, session, as_(team.nurse), 2, timepoint="baseline")
    client.post(f"{API}/appointments/{session.appointment_id}/start", headers=as_(team.nurse))
    clock.freeze(at(40))
    answer = client.post(
        f"{base(session)}/discharge",
        json={"confirmed": ["escort_present"]},
        headers=as_(team.nurse),
    )
    assert answer.status_code == 422 and answer.content_type == PROBLEM
    rules = [v["rule"] for v in answer.get_json()["violations"]]
    assert rules[0] == "minimum_monitoring_time"
    assert rules.count("timepoint_missing") == 3  # 15 and 30 minutes, before discharge
    assert rules.count("discharge_criterion_unconfirmed") == 2


def test_the_fhir_export_and_the_chart(client, team, session, as_):
    post_reading(client, session, as_(team.nurse), 2, timepoint="baseline")
    fhir = client.get(f"{base(session)}/fhir", headers=as_(team.therapist))
    assert fhir.status_code == 200 and fhir.content_type == "application/fhir+json"
    bundle = Bundle.model_validate_json(fhir.get_data(as_text=True))
    assert bundle.type == "collection" and len(bundle.entry) == 4
    svg = client.get(f"{base(session)}/chart.svg", headers=as_(team.therapist))
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    root = ET.fromstring(svg.get_data(as_text=True))  # noqa: S314 - our own output
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_the_rems_form_answers_for_an_esketamine_session(client, team, rems_session, as_):
    clock.freeze(at(11))
    recorded = client.post(
        f"{base(rems_session)}/administration",
        json={
            "first_device_at": at(10).isoformat(),
            "devices": 2,
            "dose_mg": 56,
            "lot_number": "LOT42",
        },
        headers=as_(team.nurse),
    )
    assert recorded.status_code == 200
    form = client.get(f"{base(rems_session)}/rems-form", headers=as_(team.nurse)).get_json()
    assert (form["dose_mg"], form["lot_number"], form["complete"]) == (56, "LOT42", False)
    assert "bp_before_administration" in form["missing"]


MEDICATIONS = {
    "benzodiazepines": True,
    "non_benzodiazepine_sedative_hypnotics": False,
    "psychostimulants": False,
    "maois": False,
    "opioids": False,
}
ADMINISTRATION = {
    "first_device_at": at(10).isoformat(),
    "devices": 2,
    "device_times": [at(10).isoformat(), at(15).isoformat()],
    "dose_mg": 56,
    "lot_number": "LOT42",
    "concomitant_medications": MEDICATIONS,
}
EVENTS = {
    "sedation": True,
    "dissociation": True,
    "respiratory_depression": False,
    "bp_increase": False,
}
DISCHARGE_CHECKS = ["alert_and_oriented", "escort_present", "no_driving_acknowledged"]


def test_a_whole_esketamine_session_fills_the_rems_form(client, team, rems_session, as_):
    desk = as_(team.front_desk)
    patient_url = f"{API}/patients/{team.patient.id}"
    etag = client.get(patient_url, headers=desk).headers["ETag"]
    sexed = client.patch(patient_url, json={"sex": "male"}, headers={**desk, "If-Match": etag})
    assert sexed.status_code == 200
    nurse = as_(team.nurse)

    def chart(minutes, timepoint, **more):
        values = vitals(moaa_s=5, dissociation=0, **more)
        answer = post_reading(
            client, rems_session, nurse, minutes, timepoint=timepoint, values=values
        )
        assert answer.status_code == 201, answer.get_json()

    chart(2, "baseline")
    client.post(f"{API}/appointments/{rems_session.appointment_id}/start", headers=nurse)
    clock.freeze(at(16))
    given = client.post(f"{base(rems_session)}/administration", json=ADMINISTRATION, headers=nurse)
    assert given.status_code == 200, given.get_json()
    chart(50, "bp_40_min")
    for slot in range(15, 121, 15):
        chart(10 + slot, "every_15_min")
    chart(131, "discharge")
    clock.freeze(at(135))
    discharge = f"{base(rems_session)}/discharge"
    body = {"confirmed": DISCHARGE_CHECKS, "adverse_events": EVENTS}
    unanswered = client.post(discharge, json=body, headers=nurse)
    assert unanswered.status_code == 422
    assert [v["rule"] for v in unanswered.get_json()["violations"]] == ["rems_evaluation_missing"]
    late = client.post(discharge, json={**body, "ready_to_leave_minutes": 200}, headers=nurse)
    assert "ready_to_leave_minutes" in late.get_json()["errors"]
    done = client.post(discharge, json={**body, "ready_to_leave_minutes": 100}, headers=nurse)
    assert done.status_code == 200, done.get_json()
    form = client.get(f"{base(rems_session)}/rems-form", headers=nurse).get_json()
    assert (form["complete"], form["missing"]) == (True, [])
    assert form["sex"] == "male" and form["concomitant_medications"] == MEDICATIONS
    assert form["device_times"] == ADMINISTRATION["device_times"]
    assert (form["ready_to_leave_minutes"], form["total_monitoring_minutes"]) == (100, 125)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"device_times": [at(15).isoformat(), at(10).isoformat()]}, "device_times"),
        ({"device_times": [at(10).isoformat()]}, "device_times"),
        ({"device_times": ["10:00"]}, "device_times.0"),
        ({"concomitant_medications": {"benzodiazepines": True}}, "concomitant_medications.maois"),
        (
            {"concomitant_medications": {**MEDICATIONS, "maois": "no"}},
            "concomitant_medications.maois",
        ),
        (
            {"concomitant_medications": {**MEDICATIONS, "caffeine": True}},
            "concomitant_medications.caffeine",
        ),
    ],
)
def test_an_administration_that_cannot_be_recorded_is_422_naming_the_field(
    client, team, rems_session, as_, changes, field
):
    clock.freeze(at(16))
    answer = client.post(
        f"{base(rems_session)}/administration",
        json={**ADMINISTRATION, **changes},
        headers=as_(team.nurse),
    )
    assert answer.status_code == 422 and answer.content_type == PROBLEM
    assert field in answer.get_json()["errors"], answer.get_json()
    form = client.get(f"{base(rems_session)}/rems-form", headers=as_(team.nurse)).get_json()
    assert {"device_times", "concomitant_medications", "sex"} <= set(form["missing"])


def test_every_read_and_write_is_audited_with_the_patient(client, team, session, as_):
    post_reading(client, session, as_(team.nurse), 2, timepoint="baseline")
    client.get(base(session), headers=as_(team.nurse))
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.resource_type.in_(["monitoring", "reading"]))
    ).all()
    assert {(e.action, e.resource_type) for e in events} >= {
        ("create", "monitoring"),
        ("update", "monitoring"),
        ("create", "reading"),
        ("read", "monitoring"),
    }
    assert {e.patient_id for e in events} == {team.patient.id}


def test_the_scheduler_runs_the_monitoring_jobs():
    found = {job.id: job.run for job in JOBS}
    assert found["overdue-timepoints"] is jobs.raise_overdue_alerts
    assert found["late-rems-forms"] is jobs.flag_late_rems_forms


def test_administrators_configure_but_do_not_chart(client, team, session, admin_headers):
    assert client.get(base(session), headers=admin_headers).status_code == 403
    refused = client.post(
        f"{base(session)}/readings",
        json={"measured_at": session.checked_in_at.isoformat(), "values": vitals()},
        headers=admin_headers,
    )
    assert refused.status_code == 403
    assert client.get(f"{API}/alerts", headers=admin_headers).get_json() == []


def test_each_listed_alert_is_audited_with_its_patient(client, team, session, as_):
    headers = as_(team.nurse)
    client.post(f"{API}/appointments/{session.appointment_id}/start", headers=headers)
    post_reading(client, session, headers, 5, values=vitals(spo2=90, heart_rate=130))
    listed = client.get(f"{API}/alerts", headers=headers)
    assert len(listed.get_json()) == 2
    assert "X-Pagination" in listed.headers
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.resource_type == "alert", AuditEvent.action == "list")
    ).all()
    assert sorted(r.resource_id for r in rows) == sorted(a["id"] for a in listed.get_json())
    assert {r.patient_id for r in rows} == {team.patient.id}
