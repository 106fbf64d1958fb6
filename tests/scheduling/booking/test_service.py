"""Booking use cases against the database: booking with its holds and signals, refusals
naming every rule, overrides, moves, cancellations and a discontinued course's
sessions, the status steps, and the database refusing overlapping holds by itself."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kapt_api.auth.models import Role
from kapt_api.clinics.models import TimeOff
from kapt_api.db import db, new_id
from kapt_api.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleRefused
from kapt_api.patients.models import Patient
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import attendance, holds, queries, service
from kapt_api.scheduling.booking import queries as booking_queries
from kapt_api.scheduling.booking.models import Appointment, ResourceHold
from kapt_api.scheduling.booking.service import BookingRefused
from kapt_api.scheduling.courses import service as course_service
from kapt_api.scheduling.courses import signals
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import AppointmentStatus, ReasonCategory
from tests.scheduling.builders import MONDAY
from tests.scheduling.conftest import at, audit_rows, holds_of, rules_of

pytestmark = pytest.mark.usefixtures("now")

DOSING, PREPARATION, INTEGRATION = (
    SessionKind.DOSING,
    SessionKind.PREPARATION,
    SessionKind.INTEGRATION,
)
H = timedelta(hours=1)


@pytest.fixture
def book(place, caller_of, now):
    """Book through the service as the front desk (or `by`), in the room the kind needs."""

    def make(course: Course, kind: SessionKind, starts_at, *, by=None, **kwargs) -> Appointment:
        room = place.dosing_room if kind is DOSING else place.therapy_room
        kwargs.setdefault("room_id", room.id)
        return service.book(
            course_id=course.id,
            kind=kind,
            starts_at=starts_at,
            by=caller_of(by or place.front_desk),
            now=now,
            **kwargs,
        )

    return make


@pytest.fixture
def prepared(course, book):
    """The IM KAP course with both preparation sessions booked on Monday."""
    return [book(course, PREPARATION, at(0, 9)), book(course, PREPARATION, at(0, 13))]


# --- booking -------------------------------------------------------------------------------


def test_booking_writes_the_appointment_its_holds_history_audit_and_signal(
    course, place, patient, book, received
):
    appointment = book(course, PREPARATION, at(0, 9))

    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.ends_at == at(0, 10)
    assert appointment.held_until == at(0, 10, 10)
    assert appointment.staff_ids == [place.therapist.id]  # the care team's therapist
    keys = [h.resource_key for h in holds_of(appointment.id)]
    assert keys == sorted(
        [f"patient:{patient.id}", f"room:{place.therapy_room.id}", f"staff:{place.therapist.id}"]
    )
    assert all(h.ends_at == at(0, 10, 10) for h in holds_of(appointment.id))
    assert [(c.from_status, c.to_status) for c in appointment.history] == [(None, "booked")]
    assert audit_rows(resource_type="appointment", action="create")[0].patient_id == patient.id
    assert [(name, sender) for name, sender, _ in received] == [("booked", appointment)]
    assert received[0][2]["now"] is not None


def test_a_dose_defaults_to_the_team_members_that_fill_its_roles(course, prepared, place, book):
    dose = book(course, DOSING, at(1, 10))
    assert set(dose.staff_ids) == {place.therapist.id, place.nurse.id}


def test_a_booking_that_clashes_is_refused_409_naming_each_taken_resource(
    course, prepared, make_patient, place, make_course, book
):
    other = make_course(on=make_patient(place.clinic))
    with pytest.raises(BookingRefused) as refused:
        book(other, PREPARATION, at(0, 9, 30))
    assert refused.value.status == 409
    assert sorted(rules_of(refused)) == ["room_conflict", "staff_conflict"]


def test_a_booking_breaking_clinical_rules_is_refused_422_with_all_of_them(course, book):
    with pytest.raises(BookingRefused) as refused:
        book(course, DOSING, at(-1, 8))  # tomorrow, Sunday, before opening, no preparations
    assert refused.value.status == 422
    assert set(rules_of(refused)) == {
        "minimum_notice",
        "outside_working_hours",
        "outside_clinic_hours",
        "preparation_incomplete",
    }
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 0


def test_a_prescriber_overrides_a_clinical_rule_with_a_reason_kept_and_audited(course, place, book):
    dose = book(
        course,
        DOSING,
        at(1, 10),
        by=place.prescriber,
        override={"rules": ["preparation_incomplete"], "reason": "Prepared at the sister clinic."},
    )
    assert dose.override_rules == ["preparation_incomplete"]
    assert dose.override_reason == "Prepared at the sister clinic."
    assert dose.override_by == place.prescriber.user_id
    (row,) = audit_rows(resource_type="appointment", action="override")
    assert row.reason == "preparation_incomplete: Prepared at the sister clinic."


def test_an_override_covers_only_what_it_names(course, place, book):
    with pytest.raises(BookingRefused) as refused:
        book(
            course,
            DOSING,
            at(-1, 10),
            by=place.prescriber,
            override={"rules": ["preparation_incomplete"], "reason": "Seen elsewhere."},
        )
    assert set(rules_of(refused)) == {"outside_working_hours", "outside_clinic_hours"}


def test_front_desk_and_nurses_may_not_override(course, place, book):
    for who in (place.front_desk, place.nurse):
        with pytest.raises(Forbidden):
            book(
                course,
                DOSING,
                at(1, 10),
                by=who,
                override={"rules": ["minimum_notice"], "reason": "x"},
            )


def test_nobody_overrides_a_resource_conflict_and_trying_says_so(course, place, book):
    with pytest.raises(InvalidInput) as refused:
        book(
            course,
            PREPARATION,
            at(0, 9),
            by=place.admin,
            override={"rules": ["staff_conflict"], "reason": "x"},
        )
    assert refused.value.errors["override.rules"][0].startswith(
        "Nobody can override staff_conflict"
    )


def test_clinicians_on_the_care_team_may_book_others_may_not(
    course, place, other_place, book, make_staff
):
    assert book(course, PREPARATION, at(0, 9), by=place.therapist).status == "booked"
    outsider = make_staff(place.clinic, *place.therapist.user.roles, full_name="Other Therapist")
    db.session.commit()
    with pytest.raises(Forbidden):
        book(course, PREPARATION, at(0, 13), by=outsider)
    with pytest.raises(InvalidInput):
        book(course, PREPARATION, at(0, 13), by=other_place.front_desk)


def test_a_room_or_person_of_another_clinic_is_invalid_input(course, other_place, book):
    with pytest.raises(InvalidInput) as refused:
        book(course, PREPARATION, at(0, 9), room_id=other_place.therapy_room.id)
    assert "room_id" in refused.value.errors
    with pytest.raises(InvalidInput) as refused:
        book(course, PREPARATION, at(0, 9), staff_ids=[other_place.therapist.id])
    assert "staff_ids" in refused.value.errors


def test_a_kind_the_protocol_lacks_is_invalid_input(esketamine_course, book):
    with pytest.raises(InvalidInput) as refused:
        book(esketamine_course, PREPARATION, at(0, 9))
    assert "kind" in refused.value.errors


def test_a_local_start_is_read_on_the_clinics_clocks(course, place, caller_of, now):
    appointment = service.book(
        course_id=course.id,
        kind=PREPARATION,
        local_start={"date": date(2026, 12, 7), "time": time(9)},
        room_id=place.therapy_room.id,
        by=caller_of(place.front_desk),
        now=now,
    )
    assert appointment.starts_at == at(0, 9)


@pytest.mark.parametrize(
    ("day", "wall", "rule"),
    [
        (date(2027, 3, 14), time(2, 30), "nonexistent_local_time"),
        (date(2027, 11, 7), time(1, 30), "ambiguous_local_time"),
    ],
)
def test_a_local_start_the_clocks_skip_or_repeat_is_refused_saying_which(
    course, place, caller_of, now, day, wall, rule
):
    with pytest.raises(RuleRefused) as refused:
        service.book(
            course_id=course.id,
            kind=PREPARATION,
            local_start={"date": day, "time": wall},
            room_id=place.therapy_room.id,
            by=caller_of(place.front_desk),
            now=now,
        )
    assert rules_of(refused) == [rule]


@pytest.mark.parametrize(
    ("friday", "monday"),
    [((2027, 3, 26), (2027, 3, 29)), ((2027, 10, 29), (2027, 11, 1))],
)
def test_in_london_nine_oclock_stays_nine_oclock_across_a_transition(
    other_place, make_patient, make_course, caller_of, now, friday, monday
):
    london = ZoneInfo("Europe/London")
    course = make_course(at=other_place, on=make_patient(other_place.clinic))
    desk = caller_of(other_place.front_desk)

    def book_at(day, hour, minute):
        return service.book(
            course_id=course.id,
            kind=PREPARATION,
            starts_at=datetime(*day, hour, minute, tzinfo=london),
            room_id=other_place.therapy_room.id,
            by=desk,
            now=now,
        )

    for day in (friday, monday):
        with pytest.raises(BookingRefused) as refused:
            book_at(day, 8, 30)
        assert rules_of(refused) == ["outside_working_hours"]
        assert book_at(day, 9, 0).starts_at.astimezone(london).hour == 9


def test_a_held_dose_waits_for_a_prescribers_override(course, prepared, place, book):
    def hold(sender, **kwargs):
        return "Blood pressure 168/102 before the last dose."

    signals.pre_dose_hold_check.connect(hold)
    try:
        with pytest.raises(BookingRefused) as refused:
            book(course, DOSING, at(1, 10))
        assert rules_of(refused) == ["pre_dose_gate"]
        dose = book(
            course,
            DOSING,
            at(1, 10),
            by=place.prescriber,
            override={"rules": ["pre_dose_gate"], "reason": "Rechecked: 132/84."},
        )
        assert dose.override_rules == ["pre_dose_gate"]
        assert book(course, PREPARATION, at(2, 9)).status == "booked"  # not a dose: no gate
    finally:
        signals.pre_dose_hold_check.disconnect(hold)


# --- the database's own guard ----------------------------------------------------------------


def test_holds_are_read_as_the_instants_written_in_utc(course, prepared):
    """queries.holds reads its times as PostgreSQL's UTC session gives them (no
    conversion): the same instants, aware, in UTC, as the ORM reads them, on either
    engine."""
    first = prepared[0]
    keys = [h.resource_key for h in holds_of(first.id)]
    read = queries.holds(keys, (first.starts_at - H, first.starts_at + H))
    assert {(h.resource_key, h.starts_at, h.ends_at) for h in read} == {
        (h.resource_key, h.starts_at, h.ends_at) for h in holds_of(first.id)
    }
    assert all(h.starts_at.utcoffset() == h.ends_at.utcoffset() == timedelta(0) for h in read)


def test_a_clinics_staff_are_read_as_staff_facts_reads_its_active_staff(make_clinic, make_staff):
    """A slot search reads its clinic's staff in one statement (queries.clinic_staff): the
    facts staff_facts gives of the active staff whose login is active, by id."""
    clinic, other = make_clinic(), make_clinic()
    working = [make_staff(clinic, Role.NURSE), make_staff(clinic, Role.THERAPIST, Role.PRESCRIBER)]
    away = make_staff(clinic, Role.NURSE)
    for days in (1, 3, 40):  # the last one outside the window
        starts_at = MONDAY + timedelta(days=days)
        db.session.add(TimeOff(staff_id=away.id, starts_at=starts_at, ends_at=starts_at + H,
                               created_at=MONDAY))  # fmt: skip
    make_staff(clinic, Role.NURSE, active=False)
    make_staff(clinic, Role.NURSE).user.active = False
    make_staff(other, Role.NURSE)
    db.session.commit()
    around = (MONDAY, MONDAY + timedelta(days=7))
    active = sorted(member.id for member in (*working, away))
    found = queries.clinic_staff(clinic.id, around=around)
    assert found == queries.staff_facts(active, clinic_id=clinic.id, around=around)
    assert [len(member.time_off) for member in found if member.id == away.id] == [2]


def test_the_database_refuses_overlapping_holds_of_one_resource(course, prepared):
    first = prepared[0]
    held = {hold.resource_key for hold in holds_of(first.id)}
    assert {key.partition(":")[0] for key in held} == {"patient", "room", "staff"}
    for key in sorted(held):
        clash = ResourceHold(
            appointment_id=prepared[1].id,
            resource_key=key,
            starts_at=first.starts_at + H / 2,
            ends_at=first.starts_at + 2 * H,
        )
        with pytest.raises(IntegrityError) as refused, db.session.begin_nested():
            db.session.add(clash)
        # The refusal names the kind of resource, read from the database's own error.
        rule = holds.refused_rule(refused.value, [f"room:{new_id()}", key])
        assert rule == f"{key.partition(':')[0]}_conflict"
    elsewhere = ResourceHold(
        appointment_id=prepared[1].id,
        resource_key=f"room:{new_id()}",
        starts_at=first.starts_at,
        ends_at=first.held_until,
    )
    with db.session.begin_nested():
        db.session.add(elsewhere)
    touching = ResourceHold(
        appointment_id=prepared[1].id,
        resource_key=holds_of(first.id)[0].resource_key,
        starts_at=first.held_until,
        ends_at=first.held_until + H,
    )
    with db.session.begin_nested():
        db.session.add(touching)


def test_a_race_lost_to_a_booking_the_check_did_not_see_is_refused_409(
    course, prepared, book, monkeypatch
):
    # As if the other booking committed between this one's check and its write.
    monkeypatch.setattr(booking_queries, "holds", lambda keys, around: ())
    with pytest.raises(BookingRefused) as refused:
        book(course, PREPARATION, at(0, 9, 30))
    assert refused.value.status == 409
    assert set(rules_of(refused)) & {"staff_conflict", "room_conflict", "patient_conflict"}
    assert len(list(db.session.scalars(sa.select(Appointment)))) == 2


def test_after_a_race_lost_the_same_transaction_books_elsewhere_with_nothing_left_over(
    course, prepared, book, monkeypatch
):
    # A batch checks its next item, the demo tries another room: the refused booking's
    # rows (appointment, staff, status, the holds the database did take) are all gone.
    holds_before = len(list(db.session.scalars(sa.select(ResourceHold))))
    real_holds = booking_queries.holds
    monkeypatch.setattr(booking_queries, "holds", lambda keys, around: ())
    with pytest.raises(BookingRefused):
        book(course, PREPARATION, at(0, 9, 30))
    monkeypatch.setattr(booking_queries, "holds", real_holds)
    assert len(list(db.session.scalars(sa.select(ResourceHold)))) == holds_before
    later = book(course, PREPARATION, at(3, 9))
    db.session.flush()
    assert later.status == "booked"
    assert len(list(db.session.scalars(sa.select(Appointment)))) == 3
    assert {h.starts_at for h in holds_of(later.id)} == {at(3, 9)}


# --- moving ---------------------------------------------------------------------------------


def test_moving_replaces_the_holds_and_says_where_from(
    course, prepared, place, caller_of, now, received
):
    moved = service.move(
        appointment=prepared[0], starts_at=at(0, 11), by=caller_of(place.front_desk), now=now
    )
    assert moved.starts_at == at(0, 11)
    assert {h.starts_at for h in holds_of(moved.id)} == {at(0, 11)}
    assert received[-1][0] == "moved"
    assert received[-1][2]["previous_starts_at"] == at(0, 9)
    assert audit_rows(resource_type="appointment", action="update")


def test_a_move_is_checked_against_every_rule(course, prepared, place, caller_of, now, book):
    dose = book(course, DOSING, at(1, 10))
    with pytest.raises(BookingRefused) as refused:
        service.move(
            appointment=prepared[1], starts_at=at(2, 9), by=caller_of(place.front_desk), now=now
        )
    assert rules_of(refused) == ["preparation_incomplete"]
    assert refused.value.violations[0].details["appointment_ids"] == [str(dose.id)]


def test_a_move_overlapping_its_own_old_time_is_fine(course, prepared, place, caller_of, now):
    moved = service.move(
        appointment=prepared[0], starts_at=at(0, 9, 30), by=caller_of(place.front_desk), now=now
    )
    assert moved.held_until == at(0, 10, 40)


def test_an_override_stays_while_the_time_stays_and_goes_when_it_moves(
    course, place, caller_of, now, book
):
    dose = book(
        course,
        DOSING,
        at(1, 10),
        by=place.prescriber,
        override={"rules": ["preparation_incomplete"], "reason": "Prepared elsewhere."},
    )
    desk = caller_of(place.front_desk)
    same_time = service.move(
        appointment=dose, staff_ids=[place.prescriber.id, place.therapist.id], by=desk, now=now
    )
    assert same_time.override_rules == ["preparation_incomplete"]
    with pytest.raises(BookingRefused) as refused:
        service.move(appointment=dose, starts_at=at(1, 11), by=desk, now=now)
    assert rules_of(refused) == ["preparation_incomplete"]


def test_a_move_to_a_new_time_that_needs_no_override_drops_it(course, place, caller_of, now, book):
    dose = book(
        course,
        DOSING,
        at(1, 10),
        by=place.prescriber,
        override={"rules": ["preparation_incomplete"], "reason": "Prepared elsewhere."},
    )
    book(course, PREPARATION, at(0, 9))
    book(course, PREPARATION, at(0, 13))
    moved = service.move(
        appointment=dose, starts_at=at(1, 11), by=caller_of(place.front_desk), now=now
    )
    assert (moved.override_rules, moved.override_reason, moved.override_by) == (None, None, None)


def test_only_a_booked_appointment_moves(course, prepared, place, caller_of, now):
    desk = caller_of(place.front_desk)
    arrived = prepared[0].starts_at  # check-in opens shortly before the booked start
    attendance.check_in(appointment=prepared[0], by=desk, now=arrived)
    with pytest.raises(Conflict) as refused:
        service.move(appointment=prepared[0], starts_at=at(0, 11), by=desk, now=arrived)
    assert refused.value.violations[0].details["current_status"] == "checked_in"


# --- cancelling and the status steps ---------------------------------------------------------


def test_cancelling_releases_the_holds_and_marks_a_late_cancellation(
    course, prepared, place, caller_of, received
):
    desk = caller_of(place.front_desk)
    early = attendance.cancel(
        appointment=prepared[1], reason="Patient asked", by=desk, now=MONDAY - 48 * H
    )
    assert early.status == "cancelled" and early.late_cancellation is False
    assert holds_of(early.id) == []
    late = attendance.cancel(appointment=prepared[0], reason="Unwell", by=desk, now=at(0, 8))
    assert late.late_cancellation is True
    assert [c.reason for c in late.history] == [None, "Unwell"]
    assert [name for name, _, _ in received][-2:] == ["cancelled", "cancelled"]
    assert received[-1][2]["late"] is True


def test_cancelling_a_preparation_a_booked_dose_needs_is_accepted_with_or_without_override(
    course, prepared, place, caller_of, now, book
):
    # Issue 12: the cancel is accepted (the patient is not coming whatever we answer) and
    # the dose is flagged; an override sent by an existing client is still valid.
    book(course, DOSING, at(1, 10))
    cancelled = attendance.cancel(
        appointment=prepared[0], reason="Unwell", by=caller_of(place.front_desk), now=now
    )
    assert cancelled.status == "cancelled"
    also = attendance.cancel(
        appointment=prepared[1],
        reason="Unwell",
        override={"rules": ["preparation_incomplete"], "reason": "Dose will be moved."},
        by=caller_of(place.admin),
        now=now,
    )
    assert also.status == "cancelled" and also.override_rules is None


def test_the_status_steps_are_kept_with_who_and_when(
    course, prepared, place, caller_of, now, received
):
    appointment = prepared[0]
    arrived = appointment.starts_at
    attendance.check_in(appointment=appointment, by=caller_of(place.front_desk), now=arrived)
    attendance.start(appointment=appointment, by=caller_of(place.therapist), now=arrived)
    attendance.complete(
        appointment=appointment,
        clinical_notes="Intentions set.",
        by=caller_of(place.therapist),
        now=arrived + H,
    )
    steps = [(c.from_status, c.to_status, c.by) for c in appointment.history]
    assert steps == [
        (None, "booked", place.front_desk.user_id),
        ("booked", "checked_in", place.front_desk.user_id),
        ("checked_in", "in_progress", place.therapist.user_id),
        ("in_progress", "completed", place.therapist.user_id),
    ]
    assert appointment.clinical_notes == "Intentions set."
    assert received[-1][0] == "completed"
    assert holds_of(appointment.id)  # a completed session keeps its place in the calendar


def test_an_illegal_step_answers_409_naming_both_statuses(course, prepared, place, caller_of, now):
    with pytest.raises(Conflict) as refused:
        attendance.start(appointment=prepared[0], by=caller_of(place.therapist), now=now)
    assert refused.value.violations[0].details == {
        "current_status": "booked",
        "wanted_status": "in_progress",
    }


def test_who_may_take_each_step(course, prepared, place, caller_of, now):
    arrived = prepared[0].starts_at
    with pytest.raises(Forbidden):
        attendance.check_in(appointment=prepared[0], by=caller_of(place.therapist), now=arrived)
    attendance.check_in(appointment=prepared[0], by=caller_of(place.front_desk), now=arrived)
    with pytest.raises(Forbidden):
        attendance.start(appointment=prepared[0], by=caller_of(place.front_desk), now=arrived)


def test_a_no_show_frees_the_time_but_only_once_it_has_begun(course, prepared, place, caller_of):
    desk = caller_of(place.front_desk)
    with pytest.raises(RuleRefused) as refused:
        attendance.mark_no_show(appointment=prepared[0], by=desk, now=at(0, 8))
    assert rules_of(refused) == ["not_started_yet"]
    gone = attendance.mark_no_show(
        appointment=prepared[0], reason="No answer", by=desk, now=at(0, 9, 20)
    )
    assert gone.status == "no_show"
    assert holds_of(gone.id) == []


def test_an_esketamine_course_goes_on_into_maintenance_after_its_twelve_doses(
    esketamine_course, place, caller_of, book, now
):
    desk, prescriber = caller_of(place.front_desk), caller_of(place.prescriber)
    doses = [
        book(esketamine_course, DOSING, at(day, 10))
        for day in (0, 3, 7, 10, 14, 17, 21, 24, 28, 35, 42, 49)
    ]
    for dose in doses:
        attendance.check_in(appointment=dose, by=desk, now=dose.starts_at)
        attendance.start(appointment=dose, by=prescriber, now=dose.starts_at)
        attendance.complete(appointment=dose, by=prescriber, now=dose.ends_at)
    # The label's maintenance (week 9 on, weekly or every 2 weeks) has no last dose.
    assert esketamine_course.status == "active"
    maintenance = book(esketamine_course, DOSING, at(63, 10))
    assert maintenance.status == "booked"
    with pytest.raises(BookingRefused) as refused:
        book(esketamine_course, DOSING, at(66, 10))  # a second dose in course week 10
    assert rules_of(refused) == ["phase_frequency"]


# --- discontinuing, finding, listing ---------------------------------------------------------


def test_discontinuing_cancels_the_booked_sessions_still_to_come(
    course, prepared, place, caller_of, now, received
):
    stopped = course_service.discontinue(
        course=course,
        reason="Moved away",
        reason_category=ReasonCategory.PATIENT_REQUEST,
        by=caller_of(place.prescriber),
        now=now,
    )
    assert stopped.status == "discontinued" and stopped.discontinued_at == now
    assert stopped.discontinue_reason_category == "patient_request"
    assert {a.status for a in prepared} == {"cancelled"}
    # The reason stays on the course (the care team's view); each cancellation carries
    # its category, which everyone of the clinic may see.
    cancelled = prepared[0].history[-1]
    assert (cancelled.reason, cancelled.reason_category) == (
        "The course was discontinued.",
        "patient_request",
    )
    assert [name for name, _, _ in received][-2:] == ["cancelled", "cancelled"]
    with pytest.raises(Conflict):
        course_service.discontinue(
            course=course, reason="Again", by=caller_of(place.prescriber), now=now
        )


def test_another_clinics_appointments_and_courses_are_not_found(
    course, prepared, other_place, caller_of
):
    stranger = caller_of(other_place.front_desk)
    with pytest.raises(NotFound):
        queries.find_appointment(appointment_id=prepared[0].id, by=stranger)
    with pytest.raises(NotFound):
        course_service.find_course(course_id=course.id, by=stranger)
    assert list(db.session.scalars(queries.appointments(by=stranger))) == []
    denied = audit_rows(resource_type="appointment", action="read")
    assert denied and denied[-1].patient_id == prepared[0].patient_id


def test_the_list_filters_by_patient_staff_course_time_and_status(
    course, prepared, place, caller_of, now, patient: Patient
):
    desk = caller_of(place.front_desk)

    def listed(**filters):
        return [a.id for a in db.session.scalars(queries.appointments(by=desk, **filters))]

    everything = [a.id for a in prepared]
    assert listed() == everything
    assert listed(patient_id=patient.id) == everything
    assert listed(staff_id=place.therapist.id) == everything
    assert listed(staff_id=place.nurse.id) == []
    assert listed(course_id=course.id, status="booked") == everything
    assert listed(starts_from=at(0, 10, 30)) == everything[1:]
    assert listed(until=at(0, 10)) == everything[:1]
    attendance.cancel(appointment=prepared[1], reason="x", by=desk, now=now)
    assert listed(status="cancelled") == everything[1:]
