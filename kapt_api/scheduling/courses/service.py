"""Course use cases: enrol, find, discontinue, progress. They flush and never commit.

A course pins the published protocol version it was enrolled on. Its care team
(prescriber, therapist, nurse of the patient's clinic) joins the patient's care team,
so the patients policy lets them see the patient's clinical detail. Discontinuing
tells booking (signals.course_discontinued), which cancels the sessions to come.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kapt_api.auth import audit
from kapt_api.auth.models import Role
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, NotFound
from kapt_api.patients.models import CareTeamMember, Patient
from kapt_api.patients.policy import Caller
from kapt_api.protocols import service as protocols
from kapt_api.scheduling.courses import (
    policy,
    progress,
    queries,
    readiness_flags,
    signals,
    staffing,
)
from kapt_api.scheduling.courses.models import ONE_ACTIVE_COURSE, Course
from kapt_api.scheduling.courses.values import CourseStatus, ReasonCategory

RESOURCE = "course"
# The history reason of the cancellations a discontinuation makes: the reason itself
# stays on the course, which only the care team is shown (policy.View).
DISCONTINUED = "The course was discontinued."


def find_course(
    *, course_id: uuid.UUID, by: Caller, action: str = "read", for_change: bool = False
) -> Course:
    """The course if `by` works at its clinic (else 404), the look audited; with
    `for_change`, its row locked."""
    course = queries.locked_course(course_id) if for_change else db.session.get(Course, course_id)
    audit.record(
        action,
        RESOURCE,
        course_id,
        patient_id=course.patient_id if course else None,
        actor_id=by.user_id,
    )
    if course is None or not policy.can_see(by, course.clinic_id):
        raise NotFound("No course with this id.")
    return course


def _patient(patient_id: uuid.UUID, by: Caller) -> Patient:
    patient = db.session.get(Patient, patient_id)
    if patient is None or not by.works_in(patient.clinic_id):
        raise InvalidInput({"patient_id": ["No patient with this id."]})
    if not patient.active:
        raise InvalidInput({"patient_id": ["This patient's record is not active."]})
    return patient


def _care_team(
    care_team: Mapping[str, uuid.UUID | None], *, clinic_id: uuid.UUID
) -> dict[str, tuple[uuid.UUID, frozenset[Role]] | None]:
    """Each named member with their roles, refused unless active staff of the clinic."""
    named = {field: care_team.get(field) for field in staffing.CARE_TEAM_ROLES}
    ids = [staff_id for staff_id in named.values() if staff_id is not None]
    roles = dict(queries.team_roles(ids))
    errors: dict[str, list[str]] = {}
    for field, staff_id in named.items():
        if staff_id is not None and not queries.is_active_staff(staff_id, clinic_id=clinic_id):
            errors[f"care_team.{field}"] = ["Not an active staff member of the patient's clinic."]
    if errors:
        raise InvalidInput(errors)
    return {field: (i, roles[i]) if i is not None else None for field, i in named.items()}


# Kept whole: the checks run in the order their refusals are answered (policy, patient,
# version, care team, one active course), then one write.
def enroll(
    *,
    patient_id: uuid.UUID,
    protocol_version_id: uuid.UUID,
    care_team: Mapping[str, uuid.UUID | None],
    by: Caller,
    now: datetime,
) -> Course:
    """Enrol a patient on a published protocol version with a care team."""
    policy.ensure(
        policy.can_enroll(by),
        "Only the front desk, administrators and prescribers enrol patients on a course.",
    )
    patient = _patient(patient_id, by)
    try:
        version = protocols.enrollable_version(
            version_id=protocol_version_id, clinic_id=patient.clinic_id
        )
    except NotFound:
        raise InvalidInput({"protocol_version_id": ["No such protocol version."]}) from None
    team = _care_team(care_team, clinic_id=patient.clinic_id)
    errors = staffing.care_team_errors(team, version.definition)
    if errors:
        raise InvalidInput(errors)
    _refuse_second_active_course(patient.id, version.protocol_id)
    course = Course(
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        protocol_version_id=version.id,
        protocol_id=version.protocol_id,
        status=CourseStatus.ACTIVE.value,
        enrolled_at=now,
        enrolled_by=by.user_id,
        **{field: member[0] if member else None for field, member in team.items()},
    )
    _write_only_active_course(course)
    joined = [i for i in course.care_team_ids if i not in patient.care_team_ids]
    patient.care_team = [*patient.care_team, *(CareTeamMember(staff_id=i) for i in joined)]
    db.session.flush()
    audit.record("create", RESOURCE, course.id, patient_id=patient.id, actor_id=by.user_id)
    if joined:
        audit.record("update", "patient", patient.id, patient_id=patient.id, actor_id=by.user_id)
    return course


def _already_active() -> Conflict:
    return Conflict(
        "This patient already has an active course on this protocol; complete or "
        "discontinue it first.",
        code="course_already_active",
    )


def _refuse_second_active_course(patient_id: uuid.UUID, protocol_id: uuid.UUID) -> None:
    running = db.session.scalar(
        select(Course.id).where(
            Course.patient_id == patient_id,
            Course.status == CourseStatus.ACTIVE.value,
            Course.protocol_id == protocol_id,
        )
    )
    if running is not None:
        raise _already_active()


def _write_only_active_course(course: Course) -> None:
    """Write the course; a second active one the database refuses (an enrolment that
    committed after the check above read) is answered as the check would have."""
    try:
        with db.session.begin_nested():
            db.session.add(course)
            db.session.flush()
    except IntegrityError as error:
        if not _is_second_active(error):
            raise
        raise _already_active() from None


def _is_second_active(error: IntegrityError) -> bool:
    """The unique index ONE_ACTIVE_COURSE refused the row: PostgreSQL names the index,
    SQLite its columns."""
    diag = getattr(error.orig, "diag", None)
    if diag is not None:
        return getattr(diag, "constraint_name", None) == ONE_ACTIVE_COURSE
    return "courses.patient_id, courses.protocol_id" in str(error.orig)


def discontinue(
    *,
    course: Course,
    reason: str,
    by: Caller,
    now: datetime,
    reason_category: ReasonCategory = ReasonCategory.OTHER,
) -> Course:
    """End an active course early, with a reason and its category; its booked sessions
    still to come are cancelled (their reminders with them) with the same category."""
    policy.ensure(
        policy.can_discontinue(by, queries.patient_care_team(course.patient_id)),
        "Only administrators and the care team's prescriber discontinue a course.",
    )
    if course.status != CourseStatus.ACTIVE.value:
        raise Conflict(
            f"This course is {course.status}; only an active course can be discontinued.",
            code="course_not_active",
        )
    # The course ends before its sessions are cancelled: whoever hears of a cancellation
    # (monitoring's dose readiness alerts) reads it as the course ending, not as a dose
    # left waiting without its preparation.
    course.status = CourseStatus.DISCONTINUED.value
    course.discontinued_at = now
    course.discontinued_by = by.user_id
    course.discontinue_reason = reason
    course.discontinue_reason_category = reason_category
    heard = signals.course_discontinued.send(
        course, reason=DISCONTINUED, reason_category=reason_category, by=by, now=now
    )
    # Booking cancels the sessions to come (booking/receivers.py). Unheard, the course
    # would end with its doses still booked and reminded: refuse rather than do that.
    if not heard:
        raise RuntimeError("nothing cancels a discontinued course's booked sessions")
    db.session.flush()
    audit.record(
        "discontinue", RESOURCE, course.id, patient_id=course.patient_id, actor_id=by.user_id
    )
    return course


def course_progress(*, course: Course, now: datetime) -> progress.Progress:
    """Sessions done, booked and due, with the window in which each next one may start."""
    sessions = queries.course_sessions(course.id)
    zone = queries.clinic_zone(course.clinic_id)
    return progress.course_progress(course.definition, sessions, now=now, zone=zone)


def dose_flags(*, course: Course) -> dict[uuid.UUID, list[str]]:
    """The readiness flags of each flagged dose of the course not yet given."""
    zone = queries.clinic_zone(course.clinic_id)
    sessions = queries.course_sessions(course.id)
    return readiness_flags.flags_of(course.definition, sessions, zone)
