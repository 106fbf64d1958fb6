"""What goes over the wire for courses: enrolment, discontinuation, the course in each
view (policy.View) and its progress. The session kinds, statuses and reason categories
listed here are shared with the appointment schemas (booking/schemas.py)."""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import AwareDateTime, FreeText, FreeTextOut
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.courses import extras
from kapt_api.scheduling.courses.policy import View
from kapt_api.scheduling.courses.readiness_flags import FLAGS
from kapt_api.scheduling.courses.values import AppointmentStatus, CourseStatus, ReasonCategory

KINDS = [kind.value for kind in SessionKind]
STATUSES = [status.value for status in AppointmentStatus]
COURSE_STATUSES = [status.value for status in CourseStatus]
CATEGORIES = [category.value for category in ReasonCategory]
MAX_REASON = 500


def category(**kwargs: object) -> ma.fields.Enum:
    return ma.fields.Enum(
        ReasonCategory,
        by_value=True,
        load_default=ReasonCategory.OTHER,
        metadata={
            "description": "The kind of reason, which staff off the patient's care team see "
            "instead of the reason; defaults to other"
        },
    )


class CareTeamIn(ma.Schema):
    prescriber_id = ma.fields.UUID(required=True)
    therapist_id = ma.fields.UUID(allow_none=True)
    nurse_id = ma.fields.UUID(allow_none=True)


class CourseIn(ma.Schema):
    patient_id = ma.fields.UUID(required=True)
    protocol_version_id = ma.fields.UUID(
        required=True, metadata={"description": "A published version; the course pins it"}
    )
    care_team = ma.fields.Nested(
        CareTeamIn,
        required=True,
        metadata={
            "description": "Staff of the patient's clinic; they join the patient's care team"
        },
    )


class DiscontinueIn(ma.Schema):
    reason = FreeText(required=True, min_length=1, max_length=MAX_REASON)
    reason_category = category()


class CareTeamOut(ma.Schema):
    prescriber_id = ma.fields.UUID(required=True)
    therapist_id = ma.fields.UUID(allow_none=True, required=True)
    nurse_id = ma.fields.UUID(allow_none=True, required=True)


class CourseOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    patient_id = ma.fields.UUID(required=True)
    clinic_id = ma.fields.UUID(required=True)
    protocol_id = ma.fields.UUID(attribute="protocol_version.protocol_id", required=True)
    protocol_name = ma.fields.String(attribute="protocol_version.protocol.name", required=True)
    protocol_version_id = ma.fields.UUID(required=True)
    protocol_version_number = ma.fields.Integer(attribute="protocol_version.number", required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(COURSE_STATUSES))
    care_team = ma.fields.Nested(CareTeamOut, required=True)
    enrolled_at = AwareDateTime(required=True)
    enrolled_by = ma.fields.UUID(allow_none=True, required=True)
    completed_at = AwareDateTime(allow_none=True, required=True)
    discontinued_at = AwareDateTime(allow_none=True, required=True)
    discontinued_by = ma.fields.UUID(allow_none=True, required=True)
    discontinue_reason_category = ma.fields.String(
        allow_none=True, required=True, validate=ma.validate.OneOf(CATEGORIES)
    )


class CourseClinicalOut(CourseOut):
    discontinue_reason = FreeTextOut(allow_none=True, required=True)
    measures_trend = ma.fields.Function(
        lambda course: extras.supplied("measures_trend", course),
        allow_none=True,
        required=True,
        metadata={
            "type": "array",
            # Named, not imported: outcomes sits above scheduling and registers it.
            "items": {"$ref": "#/components/schemas/TrendOut"},
            "description": "Each instrument's (PHQ-9, GAD-7) first and latest total, the "
            "change and every score, as GET /courses/{id}/measures/trend answers",
        },
    )


def readiness_flags() -> ma.fields.List:
    """A dose's readiness flags, as the day schedules and course progress show them."""
    return ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(FLAGS)),
        required=True,
        metadata={
            "description": "Protocol rules the course's current schedule no longer meets "
            "for this dose, empty when it is ready (and for sessions other than a dose not "
            "yet given): preparation_incomplete (the course's first dose, with fewer "
            "preparation sessions finishing before it than the protocol requires), "
            "integration_missing (the previous dose has no integration session in its "
            "window, finished before this dose where the protocol says so). Check-in of a "
            "flagged dose needs an administrator's or prescriber's override"
        },
    )


class ScheduledSessionOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)


class BookedSessionOut(ScheduledSessionOut):
    """A session booked or under way, with its readiness flags."""

    flags = readiness_flags()


class DueSessionOut(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    number = ma.fields.Integer(
        required=True,
        metadata={"description": "The n-th preparation or dose; for integration, its dose"},
    )
    earliest = AwareDateTime(
        allow_none=True, required=True, metadata={"description": "Earliest start the rules allow"}
    )
    latest = AwareDateTime(
        allow_none=True,
        required=True,
        metadata={"description": "Latest start (integration window, next dose, phase)"},
    )
    note = ma.fields.String(required=True)
    phase = ma.fields.String(allow_none=True, required=True)


class ProgressOut(ma.Schema):
    course_id = ma.fields.UUID(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(COURSE_STATUSES))
    dose_count = ma.fields.Integer(required=True)
    doses_booked = ma.fields.Integer(required=True, metadata={"description": "Done included"})
    doses_done = ma.fields.Integer(required=True)
    preparations_required = ma.fields.Integer(required=True)
    preparations_scheduled = ma.fields.Integer(required=True)
    done = ma.fields.List(ma.fields.Nested(ScheduledSessionOut), required=True)
    booked = ma.fields.List(ma.fields.Nested(BookedSessionOut), required=True)
    due = ma.fields.List(ma.fields.Nested(DueSessionOut), required=True)


# Administrators see why a course was discontinued only on the care team.
COURSE_VIEWS: dict[View, ma.Schema] = {
    View.SCHEDULE: CourseOut(),
    View.REASONS: CourseOut(),
    View.CLINICAL: CourseClinicalOut(),
}


class Course(CourseClinicalOut):
    """A course, one schema for every view: clinicians on the care team also see
    `discontinue_reason` and `measures_trend`, absent from the answer for others."""

    discontinue_reason = FreeTextOut(
        allow_none=True, metadata={"description": "The care team only: absent for others"}
    )
    measures_trend = ma.fields.Function(
        allow_none=True,
        metadata={
            **CourseClinicalOut._declared_fields["measures_trend"].metadata,
            "description": "The care team only, absent for others: "
            + CourseClinicalOut._declared_fields["measures_trend"].metadata["description"],
        },
    )


# For the OpenAPI document: what a caller gets of it is decided per patient.
COURSE_OUT_DOC = Course
