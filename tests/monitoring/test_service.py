"""Monitoring use cases on the database, the clock driven by the tests."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta

import blinker
import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kapt_api.auth.models import AuditEvent
from kapt_api.db import db
from kapt_api.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleRefused
from kapt_api.monitoring import alerts, chart, fhir, hold, jobs, receivers, rems, service
from kapt_api.monitoring import discharge as discharging
from kapt_api.monitoring.models import Alert, AlertKind, Reading
from kapt_api.monitoring.rules import TimepointState
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import attendance
from kapt_api.scheduling.booking import service as scheduling
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import queries
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.days import readiness
from tests.monitoring.conftest import ARRIVAL, IM_KAP, at, vitals

CONFIRMED = ["alert_and_oriented", "escort_present", "no_driving_acknowledged"]


@pytest.fixture
def raised():
    found = []

    def receive(alert, **kwargs):
        found.append((alert, kwargs))

    signal = blinker.signal("alert.raised")
    signal.connect(receive)
    yield found
    signal.disconnect(receive)


def record(team, session, *, minutes, timepoint=None, by=None, **values):
    return service.record_reading(
        session=session,
        timepoint=timepoint,
        measured_at=at(minutes),
        values=values.pop("given", None) or vitals(**values),
        by=team.caller(by or team.nurse),
        now=at(minutes),
    )


def start(team, session, minutes=10):
    appointment = db.session.get(Appointment, session.appointment_id)
    attendance.start(appointment=appointment, by=team.caller(team.nurse), now=at(minutes))


def test_check_in_opens_the_dosing_sessions_checklist_from_the_course_version(team, session):
    course = db.session.get(Course, session.course_id)
    assert session.protocol_version_id == course.protocol_version_id
    assert session.checked_in_at == ARRIVAL and not session.rems_required
    checklist = service.checklist(session=session, now=at(1))
    assert checklist.min_monitoring_minutes == 120
    assert checklist.occurrences[0].timepoint.key == "baseline"
    assert checklist.occurrences[0].state is TimepointState.DUE


def test_an_integration_session_gets_no_checklist(make_course, make_appointment, team, now):
    appointment = make_appointment(make_course(), kind="integration")
    attendance.check_in(appointment=appointment, by=team.caller(team.front_desk), now=ARRIVAL)
    assert service.session_of_appointment(appointment.id) is None


def test_a_reading_is_stored_with_who_recorded_it_and_marks_its_timepoint_done(team, session):
    reading = record(team, session, minutes=2, timepoint="baseline")
    assert reading.recorded_by == team.nurse.user.id
    assert reading.values["systolic_bp"] == 120
    states = {o.timepoint.key: o.state for o in service.occurrences(session, now=at(3))}
    assert states["baseline"] is TimepointState.DONE


def test_an_implausible_value_is_refused_naming_the_field(team, session):
    with pytest.raises(InvalidInput) as refused:
        record(team, session, minutes=2, timepoint="baseline", spo2=140)
    assert list(refused.value.errors) == ["values.spo2"]
    assert db.session.scalars(select(Reading)).all() == []


def test_a_reading_beyond_a_threshold_raises_an_alert_at_once(team, session, raised):
    start(team, session)
    reading = record(team, session, minutes=30, given=vitals(heart_rate=135))
    (alert,) = db.session.scalars(select(Alert)).all()
    assert (alert.kind, alert.severity, alert.measurement) == ("threshold", "warning", "heart_rate")
    assert alert.reading_id == reading.id and alert.status == "open"
    assert raised == [(alert, {"now": at(30)})]


def test_a_correction_supersedes_the_earlier_reading_and_keeps_both(team, session):
    first = record(team, session, minutes=2, timepoint="baseline", systolic=190)
    corrected = service.record_reading(
        session=session,
        timepoint="baseline",
        measured_at=at(2),
        values=vitals(systolic=130),
        supersedes_id=first.id,
        correction_reason="Cuff was too small",
        by=team.caller(team.prescriber),
        now=at(4),
    )
    current = service.current_readings(session)
    assert [r.id for r in current] == [corrected.id]
    assert {r.id for r in service.all_readings(session)} == {first.id, corrected.id}
    assert corrected.recorded_by == team.prescriber.user.id
    with pytest.raises(Conflict):
        service.record_reading(
            session=session,
            measured_at=at(2),
            values=vitals(),
            timepoint="baseline",
            supersedes_id=first.id,
            correction_reason="again",
            by=team.caller(team.nurse),
            now=at(5),
        )


def test_a_correction_needs_a_reason_and_a_stored_reading_cannot_be_changed(team, session):
    first = record(team, session, minutes=2, timepoint="baseline")
    with pytest.raises(InvalidInput) as refused:
        service.record_reading(
            session=session,
            measured_at=at(2),
            values=vitals(),
            supersedes_id=first.id,
            by=team.caller(team.nurse),
            now=at(3),
        )
    assert "correction_reason" in refused.value.errors
    first.values = {"systolic_bp": 100}
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def test_a_baseline_beyond_the_hold_threshold_holds_the_session_until_a_prescriber_overrides(
    team, rems_session
):
    record(team, rems_session, minutes=2, timepoint="baseline", systolic=150)
    assert rems_session.hold_open
    kinds = [a.kind for a in db.session.scalars(select(Alert))]
    assert kinds == [AlertKind.PRE_DOSE_HOLD.value]
    appointment = db.session.get(Appointment, rems_session.appointment_id)
    with pytest.raises(RuleRefused) as refused:
        start(team, rems_session)
    assert refused.value.violations[0].rule == "pre_dose_gate"
    assert appointment.status == "checked_in"
    course = db.session.get(Course, appointment.course_id)
    assert "above 140" in (queries.pre_dose_hold(course, now=at(5)) or "")
    with pytest.raises(Forbidden):
        hold.override_hold(session=rems_session, reason="ok", by=team.caller(team.nurse), now=at(5))
    hold.override_hold(
        session=rems_session,
        reason="Asymptomatic; benefit outweighs a short rise",
        by=team.caller(team.prescriber),
        now=at(6),
    )
    start(team, rems_session, minutes=7)
    assert appointment.status == "in_progress"
    assert rems_session.dose_started_at == at(7)
    assert queries.pre_dose_hold(course, now=at(8)) is None


def test_a_dose_booked_after_completed_preparations_is_gated_by_its_baseline(
    team, make_course, make_room, now
):
    """Booking, check-in and start go through scheduling's own services."""
    course = make_course(IM_KAP)
    therapy = make_room(team.clinic, name="Oak", kind="therapy")
    desk, therapist, nurse = (team.caller(m) for m in (team.front_desk, team.therapist, team.nurse))
    booked_on = at(-3 * 24 * 60)

    def book(kind, starts_at, room, when=booked_on):
        return scheduling.book(
            course_id=course.id, kind=kind, starts_at=starts_at, room_id=room.id, by=desk, now=when
        )

    for starts_at in (at(-25 * 60), at(-21 * 60)):
        prep = book(SessionKind.PREPARATION, starts_at, therapy)
        attendance.check_in(appointment=prep, by=desk, now=starts_at)
        attendance.start(appointment=prep, by=therapist, now=starts_at)
        attendance.complete(appointment=prep, by=therapist, now=starts_at + timedelta(minutes=55))
    dose = book(SessionKind.DOSING, ARRIVAL, team.room)
    attendance.check_in(appointment=dose, by=desk, now=ARRIVAL)
    session = service.session_of_appointment(dose.id)
    assert session is not None and not session.held
    record(team, session, minutes=2, timepoint="baseline", diastolic=104)
    with pytest.raises(RuleRefused) as refused:
        attendance.start(appointment=dose, by=nurse, now=at(5))
    [violation] = refused.value.violations
    assert violation.rule == "pre_dose_gate" and "104" in violation.message
    with pytest.raises(RuleRefused) as next_refused:
        book(SessionKind.DOSING, ARRIVAL + timedelta(days=7), team.room, when=at(5))
    assert "pre_dose_gate" in [v.rule for v in next_refused.value.violations]
    hold.override_hold(
        session=session, reason="Recheck 138/88", by=team.caller(team.prescriber), now=at(6)
    )
    attendance.start(appointment=dose, by=nurse, now=at(8))
    assert (dose.status, session.dose_started_at) == ("in_progress", at(8))
    audited = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "override"))
    assert [(e.patient_id, e.reason) for e in audited] == [(team.patient.id, "Recheck 138/88")]


def test_an_overdue_timepoint_raises_one_alert_however_many_ticks(team, session, raised):
    record(team, session, minutes=2, timepoint="baseline")
    start(team, session, minutes=10)
    assert jobs.raise_overdue_alerts(at(10 + 15 + 5)) == 0
    assert jobs.raise_overdue_alerts(at(10 + 15 + 6)) == 1
    assert jobs.raise_overdue_alerts(at(10 + 15 + 7)) == 0
    (alert,) = db.session.scalars(select(Alert)).all()
    assert alert.kind == "overdue" and "15 min" in alert.message
    assert len(raised) == 1


def test_alerts_are_acknowledged_once_with_a_note(team, session):
    start(team, session)
    record(team, session, minutes=30, given=vitals(spo2=90))
    (alert,) = db.session.scalars(select(Alert)).all()
    done = alerts.acknowledge(
        alert_id=alert.id, note="Oxygen given", by=team.caller(team.nurse), now=at(31)
    )
    assert (done.status, done.acknowledged_by) == ("acknowledged", team.nurse.user.id)
    with pytest.raises(Conflict):
        alerts.acknowledge(alert_id=alert.id, note="x", by=team.caller(team.nurse), now=at(32))
    with pytest.raises(NotFound):
        alerts.acknowledge(alert_id=alert.id, note="x", by=team.caller(team.front_desk), now=at(32))


def full_session(team, session, *, start_at=10):
    record(team, session, minutes=2, timepoint="baseline")
    start(team, session, minutes=start_at)
    record(team, session, minutes=start_at + 40, timepoint="bp_40_min", moaa_s=5)
    for slot in range(15, 121, 15):
        record(
            team,
            session,
            minutes=start_at + slot,
            timepoint="every_15_min",
            given=[
                {"measurement": "heart_rate", "value": 70, "unit": "/min"},
                {"measurement": "spo2", "value": 98, "unit": "%"},
                {"measurement": "moaa_s", "value": 5, "unit": "{score}"},
            ],
        )
    record(
        team,
        session,
        minutes=start_at + 121,
        timepoint="discharge",
        moaa_s=5,
        dissociation=0,
    )


def test_discharge_is_refused_naming_everything_missing_then_allowed(team, session):
    record(team, session, minutes=2, timepoint="baseline")
    start(team, session)
    with pytest.raises(RuleRefused) as refused:
        discharging.sign_discharge(
            session=session, confirmed=[], by=team.caller(team.nurse), now=at(60)
        )
    rules_broken = {v.rule for v in refused.value.violations}
    assert rules_broken == {
        "minimum_monitoring_time",
        "timepoint_missing",
        "discharge_criterion_unconfirmed",
    }


def test_a_complete_session_is_discharged_with_its_confirmations(team, session):
    full_session(team, session)
    done = discharging.sign_discharge(
        session=session, confirmed=CONFIRMED, by=team.caller(team.nurse), now=at(135)
    )
    assert done.discharged_at == at(135) and done.discharge_confirmed == sorted(CONFIRMED)
    with pytest.raises(Conflict):
        discharging.sign_discharge(
            session=session, confirmed=CONFIRMED, by=team.caller(team.nurse), now=at(136)
        )


def test_out_of_range_last_readings_need_a_prescribers_override(team, session):
    full_session(team, session)
    record(team, session, minutes=132, given=vitals(spo2=93))
    with pytest.raises(RuleRefused) as refused:
        discharging.sign_discharge(
            session=session, confirmed=CONFIRMED, by=team.caller(team.nurse), now=at(135)
        )
    assert [v.rule for v in refused.value.violations] == ["readings_out_of_range"]
    with pytest.raises(Forbidden):
        discharging.sign_discharge(
            session=session,
            confirmed=CONFIRMED,
            override_reason="x",
            by=team.caller(team.nurse),
            now=at(135),
        )
    done = discharging.sign_discharge(
        session=session,
        confirmed=CONFIRMED,
        override_reason="Baseline SpO2 is 93%",
        by=team.caller(team.prescriber),
        now=at(135),
    )
    assert done.discharge_override_reason == "Baseline SpO2 is 93%"


NO_MEDICATIONS = {
    "benzodiazepines": False,
    "non_benzodiazepine_sedative_hypnotics": False,
    "psychostimulants": True,
    "maois": False,
}
EVENTS = {
    "sedation": False,
    "dissociation": True,
    "respiratory_depression": False,
    "bp_increase": True,
}


def administer(team, session, **overrides):
    given = {
        "first_device_at": at(10),
        "devices": 2,
        "device_times": [at(10), at(15)],
        "dose_mg": 56,
        "lot_number": "LOT42",
        "concomitant_medications": NO_MEDICATIONS,
        **overrides,
    }
    return rems.record_administration(
        session=session, **given, by=team.caller(team.nurse), now=at(16)
    )


def monitor_esketamine(team, session, **administration):
    """Baseline, the start, both devices, the 40-minute BP, every 15 minutes to two
    hours and the discharge readings."""
    record(team, session, minutes=2, timepoint="baseline", systolic=130)
    start(team, session, minutes=8)
    administer(team, session, **administration)
    record(team, session, minutes=50, timepoint="bp_40_min", systolic=150, moaa_s=5, dissociation=3)
    for slot in range(15, 121, 15):
        record(
            team,
            session,
            minutes=10 + slot,
            timepoint="every_15_min",
            given=[
                {"measurement": "heart_rate", "value": 70, "unit": "/min"},
                {"measurement": "spo2", "value": 98, "unit": "%"},
                {"measurement": "moaa_s", "value": 5, "unit": "{score}"},
            ],
        )
    record(team, session, minutes=131, timepoint="discharge", moaa_s=5, dissociation=0)


def discharge_esketamine(team, session, ready_to_leave_minutes):
    return discharging.sign_discharge(
        session=session,
        confirmed=CONFIRMED,
        adverse_events=EVENTS,
        ready_to_leave_minutes=ready_to_leave_minutes,
        by=team.caller(team.nurse),
        now=at(135),
    )


def test_the_rems_form_is_complete_after_an_esketamine_session(team, rems_session):
    team.patient.sex = "female"
    monitor_esketamine(team, rems_session)
    nurse = team.caller(team.nurse)
    with pytest.raises(RuleRefused) as refused:
        discharging.sign_discharge(session=rems_session, confirmed=CONFIRMED, by=nurse, now=at(135))
    rules = [v.rule for v in refused.value.violations]
    assert rules == ["adverse_events_missing", "rems_evaluation_missing"]
    discharge_esketamine(team, rems_session, 95)
    form = rems.form(session=rems_session, by=nurse)
    assert form["complete"] and form["missing"] == []
    assert form["total_monitoring_minutes"] == 125
    assert form["ready_to_leave_minutes"] == 95
    assert form["device_times"] == [at(10), at(15)]
    assert form["sex"] == "female" and form["rems_enrolled"] is False
    assert form["concomitant_medications"] == {**NO_MEDICATIONS, "opioids": None}
    assert form["monitoring_clinician"] == team.nurse.user.full_name
    assert form["setting_name"] == team.clinic.name
    assert (form["bp_before_administration"].systolic, form["bp_40_minutes"].systolic) == (130, 150)
    assert form["bp_before_discharge"].systolic == 120
    assert form["vitals_in_range_before_administration"] is True
    assert form["dissociation"] is True and form["first_treatment"] is True
    assert form["submit_by"] == (at(10) + timedelta(days=7)).date()
    rems.submit(session=rems_session, by=nurse, now=at(200))
    assert rems.form(session=rems_session, by=nurse)["submitted_at"] == at(200)


def test_a_form_without_the_sex_medicines_device_times_or_evaluation_is_incomplete(
    team, rems_session
):
    monitor_esketamine(team, rems_session, concomitant_medications=None, device_times=None)
    nurse = team.caller(team.nurse)
    before = rems.form(session=rems_session, by=nurse)
    asked = {"concomitant_medications", "device_times", "ready_to_leave_minutes", "sex"}
    assert not before["complete"] and asked <= set(before["missing"])
    discharge_esketamine(team, rems_session, 120)
    after = rems.form(session=rems_session, by=nurse)
    assert after["missing"] == ["concomitant_medications", "device_times", "sex"]
    with pytest.raises(InvalidInput) as refused:
        rems.submit(session=rems_session, by=nurse, now=at(200))
    assert set(refused.value.errors) == set(after["missing"])


def test_medicines_left_out_of_a_corrected_administration_stay_recorded(team, rems_session):
    start(team, rems_session, minutes=8)
    administer(team, rems_session)
    administer(
        team, rems_session, devices=1, dose_mg=28, device_times=None, concomitant_medications=None
    )
    assert rems_session.concomitant_medications == NO_MEDICATIONS
    assert rems.device_times(rems_session) == [at(10)]


def test_an_incomplete_rems_form_names_what_is_missing_and_cannot_be_submitted(team, rems_session):
    form = rems.form(session=rems_session, by=team.caller(team.nurse))
    assert not form["complete"]
    expected = {"lot_number", "dose_mg", "bp_40_minutes", "sedation", "monitoring_clinician"}
    assert expected <= set(form["missing"])
    with pytest.raises(InvalidInput):
        rems.submit(session=rems_session, by=team.caller(team.nurse), now=at(5))


def test_the_dose_must_match_the_devices(team, rems_session):
    with pytest.raises(InvalidInput) as refused:
        administer(team, rems_session, devices=3, device_times=[at(10), at(12), at(14)])
    assert list(refused.value.errors) == ["dose_mg"]


@pytest.mark.parametrize(
    "times",
    [
        [at(10)],  # one time for two devices
        [at(11), at(15)],  # the first is not first_device_at
        [at(10), at(10)],  # not in order
        [at(10), at(20)],  # after the moment of recording
    ],
)
def test_device_times_that_cannot_be_what_happened_are_refused_naming_the_field(
    team, rems_session, times
):
    with pytest.raises(InvalidInput) as refused:
        administer(team, rems_session, device_times=times)
    assert list(refused.value.errors) == ["device_times"]
    assert rems_session.device_times is None


def test_ready_to_leave_cannot_be_later_than_the_monitoring(team, rems_session):
    monitor_esketamine(team, rems_session)
    with pytest.raises(InvalidInput) as refused:
        discharge_esketamine(team, rems_session, 126)
    assert list(refused.value.errors) == ["ready_to_leave_minutes"]
    assert rems_session.discharged_at is None


def test_rems_forms_not_submitted_within_7_days_are_flagged_once(team, rems_session):
    assert jobs.flag_late_rems_forms(ARRIVAL + timedelta(days=6)) == 0
    assert jobs.flag_late_rems_forms(ARRIVAL + timedelta(days=7, minutes=1)) == 1
    assert jobs.flag_late_rems_forms(ARRIVAL + timedelta(days=8)) == 0
    (alert,) = db.session.scalars(select(Alert)).all()
    assert alert.kind == "rems_form_overdue"


def test_the_fhir_bundle_parses_back_with_a_blood_pressure_panel(team, session):
    record(team, session, minutes=2, timepoint="baseline", systolic=131, diastolic=84)
    text = fhir.bundle(session=session, by=team.caller(team.nurse))
    bundle = Bundle.model_validate_json(text)
    observations = [entry.resource for entry in bundle.entry]
    codes = [o.code.coding[0].code for o in observations]
    assert codes == ["85354-9", "8867-4", "9279-1", "2708-6"]
    panel = observations[0]
    assert [c.code.coding[0].code for c in panel.component] == ["8480-6", "8462-4"]
    assert [c.valueQuantity.value for c in panel.component] == [131, 84]
    assert {c.valueQuantity.code for c in panel.component} == {"mm[Hg]"}
    assert observations[3].valueQuantity.code == "%"
    assert "59408-5" in [c.code for c in observations[3].code.coding]
    assert all(o.category[0].coding[0].code == "vital-signs" for o in observations)


def test_the_chart_is_svg_carrying_each_series_and_the_threshold_bands(team, session):
    record(team, session, minutes=2, timepoint="baseline", systolic=131, heart_rate=75)
    start(team, session)
    record(team, session, minutes=25, given=vitals(systolic=150, heart_rate=90, spo2=96))
    svg = chart.svg(session=session, by=team.caller(team.nurse))
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check its shape
    ns = {"svg": chart.SVG_NS}
    assert root.tag == f"{{{chart.SVG_NS}}}svg"
    series = {
        p.get("data-measurement"): p.get("data-points") for p in root.findall("svg:polyline", ns)
    }
    assert series["systolic_bp"] == "0:131 23:150"
    assert series["heart_rate"] == "0:75 23:90"
    assert series["spo2"] == "0:98 23:96"
    bands = {
        (r.get("data-measurement"), r.get("data-edge"), r.get("data-limit"))
        for r in root.findall("svg:rect", ns)
    }
    assert ("systolic_bp", "high", "180") in bands and ("spo2", "low", "95") in bands


def test_the_day_schedule_reads_each_doses_checklist_and_escort_state(team, session, rems_session):
    receivers.connect()  # the registry is shared; another test may have emptied it
    record(team, rems_session, minutes=2, timepoint="baseline", systolic=150)
    full_session(team, session)
    discharging.sign_discharge(
        session=session, confirmed=CONFIRMED, by=team.caller(team.nurse), now=at(135)
    )
    waiting = uuid.uuid4()
    ids = [session.appointment_id, rems_session.appointment_id, waiting]
    assert readiness.supplied("checklist_state", ids) == {
        session.appointment_id: "completed",
        rems_session.appointment_id: "hold",
        waiting: "not_started",
    }
    assert readiness.supplied("escort_confirmed", ids)[session.appointment_id] == "confirmed"
    assert readiness.supplied("escort_confirmed", ids)[rems_session.appointment_id] == "unknown"


@pytest.mark.parametrize(
    ("minutes", "message"),
    [(-1, "before the patient checked in"), (30, "in the future")],
)
def test_a_reading_outside_the_session_is_refused(team, session, minutes, message):
    with pytest.raises(InvalidInput) as refused:
        service.record_reading(
            session=session,
            measured_at=at(minutes),
            values=vitals(),
            by=team.caller(team.nurse),
            now=at(20),
        )
    assert message in refused.value.errors["measured_at"][0]


def test_no_reading_measured_after_discharge(team, session):
    full_session(team, session)
    discharging.sign_discharge(
        session=session, confirmed=CONFIRMED, by=team.caller(team.nurse), now=at(135)
    )
    late = at(136)
    with pytest.raises(InvalidInput) as refused:
        service.record_reading(
            session=session, measured_at=late, values=vitals(), by=team.caller(team.nurse), now=late
        )
    assert "after the patient was discharged" in refused.value.errors["measured_at"][0]
    earlier = service.record_reading(
        session=session, measured_at=at(130), values=vitals(), by=team.caller(team.nurse), now=late
    )
    assert earlier.measured_at == at(130)


def test_the_database_refuses_to_change_a_stored_reading(team, session):
    reading = record(team, session, minutes=2, timepoint="baseline")
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(update(Reading).where(Reading.id == reading.id).values(note="changed"))
    db.session.rollback()
    assert db.session.get(Reading, reading.id).note is None
