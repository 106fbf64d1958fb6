"""Course use cases against the database: enrolment (who may, on which version, one
active course per protocol) and who may discontinue."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kapt_api.db import db
from kapt_api.errors import Conflict, Forbidden, InvalidInput, RuleRefused
from kapt_api.protocols import service as protocols
from kapt_api.scheduling.courses import service as course_service
from kapt_api.scheduling.courses import signals
from kapt_api.scheduling.courses.models import Course
from kapt_api.scheduling.courses.values import CourseStatus
from tests.scheduling.conftest import ESKETAMINE_KEY, audit_rows, rules_of

pytestmark = pytest.mark.usefixtures("now")


# --- enrolment ------------------------------------------------------------------------------


def test_enrolling_pins_the_version_and_puts_the_care_team_on_the_patients(
    course, patient, place, versions
):
    assert course.status == CourseStatus.ACTIVE
    assert course.protocol_version_id == versions["im-kap"].id
    assert course.definition.sequencing.dose_count == 6
    assert set(patient.care_team_ids) == {place.prescriber.id, place.therapist.id, place.nurse.id}
    assert [e.action for e in audit_rows(resource_type="course", patient_id=patient.id)] == [
        "create"
    ]


def test_enrolling_needs_the_front_desk_an_administrator_or_a_prescriber(
    place, patient, versions, caller_of, now
):
    for who in (place.nurse, place.therapist):
        with pytest.raises(Forbidden):
            course_service.enroll(
                patient_id=patient.id,
                protocol_version_id=versions["im-kap"].id,
                care_team={"prescriber_id": place.prescriber.id},
                by=caller_of(who),
                now=now,
            )


def test_enrolling_refuses_a_care_team_that_cannot_staff_the_protocol(
    place, patient, versions, caller_of, now
):
    with pytest.raises(InvalidInput) as refused:
        course_service.enroll(
            patient_id=patient.id,
            protocol_version_id=versions["im-kap"].id,
            care_team={"prescriber_id": place.nurse.id, "nurse_id": place.nurse.id},
            by=caller_of(place.prescriber),
            now=now,
        )
    assert refused.value.errors["care_team.prescriber_id"] == [
        "This staff member is not a prescriber."
    ]
    assert "care_team" in refused.value.errors


def test_enrolling_refuses_staff_and_patients_of_another_clinic(
    place, other_place, patient, versions, caller_of, now, make_patient
):
    with pytest.raises(InvalidInput) as refused:
        course_service.enroll(
            patient_id=patient.id,
            protocol_version_id=versions[ESKETAMINE_KEY].id,
            care_team={"prescriber_id": other_place.prescriber.id},
            by=caller_of(place.prescriber),
            now=now,
        )
    assert "care_team.prescriber_id" in refused.value.errors
    stranger = make_patient(other_place.clinic)
    with pytest.raises(InvalidInput) as refused:
        course_service.enroll(
            patient_id=stranger.id,
            protocol_version_id=versions[ESKETAMINE_KEY].id,
            care_team={"prescriber_id": place.prescriber.id},
            by=caller_of(place.prescriber),
            now=now,
        )
    assert refused.value.errors == {"patient_id": ["No patient with this id."]}


def test_enrolling_on_a_draft_version_is_refused(place, patient, versions, admin, caller_of, now):
    version = versions["im-kap"]
    draft = protocols.create_draft(
        protocol=version.protocol,
        from_version_id=None,
        template_key=None,
        notes="",
        by=admin,
        now=now,
    )
    with pytest.raises(RuleRefused) as refused:
        course_service.enroll(
            patient_id=patient.id,
            protocol_version_id=draft.id,
            care_team={"prescriber_id": place.prescriber.id, "therapist_id": place.therapist.id},
            by=caller_of(place.prescriber),
            now=now,
        )
    assert rules_of(refused) == ["protocol_version_not_published"]


def test_a_second_active_course_on_the_same_protocol_is_refused(course, make_course):
    with pytest.raises(Conflict) as refused:
        make_course()
    assert refused.value.code == "course_already_active"


def _active_courses(patient_id: object) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Course)
        .where(Course.patient_id == patient_id, Course.status == CourseStatus.ACTIVE.value)
    )


def test_an_enrolment_that_lost_the_race_past_the_check_is_refused_by_the_database(
    course, make_course, monkeypatch
):
    # The check read before the other enrolment committed: only the database sees both.
    monkeypatch.setattr(course_service, "_refuse_second_active_course", lambda *_: None)
    with pytest.raises(Conflict) as refused:
        make_course()
    assert refused.value.code == "course_already_active"
    db.session.rollback()
    assert _active_courses(course.patient_id) == 1


def test_a_discontinued_course_leaves_room_for_a_new_one(
    course, make_course, admin, caller_of, now
):
    course_service.discontinue(course=course, reason="Paused", by=caller_of(admin), now=now)
    again = make_course()
    assert again.status == CourseStatus.ACTIVE and again.protocol_id == course.protocol_id
    assert _active_courses(course.patient_id) == 1


# --- discontinuing ---------------------------------------------------------------------------


def test_only_an_admin_or_the_care_teams_prescriber_discontinues(course, place, caller_of, now):
    for who in (place.front_desk, place.therapist):
        with pytest.raises(Forbidden):
            course_service.discontinue(course=course, reason="x", by=caller_of(who), now=now)


def test_a_discontinuation_nobody_cancels_the_sessions_of_is_refused(
    course, place, caller_of, now, monkeypatch
):
    # As if booking's receivers were never loaded: the course must not end with its
    # sessions left booked.
    monkeypatch.setattr(signals.course_discontinued, "receivers", {})
    with pytest.raises(RuntimeError):
        course_service.discontinue(
            course=course, reason="x", by=caller_of(place.prescriber), now=now
        )
