"""What goes over the wire for appointments.

Times are RFC 3339 with an offset, answered in UTC. Instead of `starts_at` a booking
may give `local_start` (a date and an HH:MM time on the clinic's clocks); a time the
clocks skip or show twice is refused saying which.

An Out schema per view (courses/policy.View): everyone of the clinic sees the schedule
and each reason's category; administrators also see the reasons in the status
history; clinicians on the patient's care team also see clinical notes and override
reasons.
"""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import AwareDateTime, Choice, Date, FreeText, FreeTextOut, LocalTime
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking.rules import BOOKING_RULES
from kapt_api.scheduling.courses.policy import View
from kapt_api.scheduling.courses.schemas import CATEGORIES, KINDS, MAX_REASON, STATUSES, category

MAX_STAFF = 6


class OverrideIn(ma.Schema):
    """Book despite these clinical rules (administrators and prescribers only)."""

    rules = ma.fields.List(
        Choice(BOOKING_RULES),
        required=True,
        validate=ma.validate.Length(min=1, max=len(BOOKING_RULES)),
        metadata={
            "description": "Rule codes to override; staff_conflict, room_conflict, "
            "patient_conflict, in_the_past and course_not_active never can be."
        },
    )
    reason = FreeText(
        required=True,
        min_length=1,
        max_length=MAX_REASON,
        metadata={"description": "Why; kept and audited"},
    )


class LocalStartIn(ma.Schema):
    """A start as the clinic's clocks show it."""

    date = Date(required=True)
    time = LocalTime(required=True)


class _Placing(ma.Schema):
    starts_at = AwareDateTime(metadata={"description": "Give this or local_start"})
    local_start = ma.fields.Nested(
        LocalStartIn, metadata={"description": "Give this or starts_at: clinic local time"}
    )
    room_id = ma.fields.UUID()
    staff_ids = ma.fields.List(
        ma.fields.UUID(),
        validate=ma.validate.Length(min=1, max=MAX_STAFF),
        metadata={"description": "Defaults to the course care team filling the required roles"},
    )
    override = ma.fields.Nested(OverrideIn)


class AppointmentIn(_Placing):
    course_id = ma.fields.UUID(required=True)
    kind = ma.fields.Enum(SessionKind, by_value=True, required=True)
    room_id = ma.fields.UUID(required=True)


class AppointmentPatch(_Placing):
    """Reschedule: any of the time, the room and the staff; send If-Match."""


class CancelIn(ma.Schema):
    reason = FreeText(required=True, min_length=1, max_length=MAX_REASON)
    reason_category = category()
    override = ma.fields.Nested(
        OverrideIn,
        metadata={
            "description": "Accepted for older clients and no longer needed: cancelling a "
            "preparation or integration session a booked dose depends on is accepted, and "
            "the dose is flagged (preparation_incomplete, integration_missing) instead. "
            "An override sent is checked (administrators and prescribers only) and audited "
            "when it covers a rule the cancel breaks"
        },
    )


class CheckInIn(ma.Schema):
    """Optional: the body may be left out."""

    # The booking's override schema: one kind of override reason everywhere; the
    # service refuses rule codes other than the readiness flags.
    override = ma.fields.Nested(
        OverrideIn,
        metadata={
            "description": "Needed when the dose is flagged (preparation_incomplete, "
            "integration_missing) and its booking did not override that rule already; "
            "only those two codes may be sent here"
        },
    )


class NoShowIn(ma.Schema):
    reason = FreeText(min_length=1, max_length=MAX_REASON)
    reason_category = category()


class CompleteIn(ma.Schema):
    clinical_notes = FreeText(max_length=10000, metadata={"description": "Care team only"})


class AppointmentQuery(ma.Schema):
    patient_id = ma.fields.UUID()
    staff_id = ma.fields.UUID()
    course_id = ma.fields.UUID()
    clinic_id = ma.fields.UUID()
    starts_from = AwareDateTime(
        data_key="from", metadata={"description": "Appointments ending after this"}
    )
    until = AwareDateTime(
        data_key="to", metadata={"description": "Appointments starting before this"}
    )
    status = Choice(STATUSES)


class StatusChangeOut(ma.Schema):
    from_status = ma.fields.String(
        allow_none=True, required=True, validate=ma.validate.OneOf(STATUSES)
    )
    to_status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    at = AwareDateTime(required=True)
    by = ma.fields.UUID(allow_none=True, required=True)
    reason_category = ma.fields.String(
        allow_none=True,
        required=True,
        validate=ma.validate.OneOf(CATEGORIES),
        metadata={"description": "Set on a cancellation or a no-show"},
    )


class StatusChangeWithReasonOut(StatusChangeOut):
    reason = FreeTextOut(allow_none=True, required=True)


class OverrideOut(ma.Schema):
    rules = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(BOOKING_RULES)), required=True
    )
    by = ma.fields.UUID(allow_none=True, required=True)


class OverrideClinicalOut(OverrideOut):
    reason = FreeTextOut(required=True)


class AppointmentOut(ma.Schema):
    """The schedule's view of an appointment."""

    id = ma.fields.UUID(required=True)
    course_id = ma.fields.UUID(required=True)
    patient_id = ma.fields.UUID(required=True)
    clinic_id = ma.fields.UUID(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    held_until = AwareDateTime(
        required=True, metadata={"description": "End of the buffer after the session"}
    )
    room_id = ma.fields.UUID(required=True)
    staff_ids = ma.fields.List(ma.fields.UUID(), required=True)
    late_cancellation = ma.fields.Boolean(required=True)
    confirmed_at = AwareDateTime(
        allow_none=True,
        required=True,
        metadata={
            "description": "When the patient confirmed they will attend (patient link or a "
            "reply to a text); null until they do"
        },
    )
    escort_confirmed_at = AwareDateTime(
        allow_none=True,
        required=True,
        metadata={
            "description": "When the patient said someone will take them home after a "
            "dose (patient link); null until they do"
        },
    )
    backfilled_from_offer_id = ma.fields.UUID(
        allow_none=True,
        required=True,
        metadata={
            "description": "The accepted waitlist offer this appointment was booked from "
            "(time a cancellation, move or no-show freed); null when booked directly"
        },
    )
    override = ma.fields.Nested(OverrideOut, allow_none=True, required=True)
    history = ma.fields.List(ma.fields.Nested(StatusChangeOut), required=True)
    created_by = ma.fields.UUID(allow_none=True, required=True)
    created_at = AwareDateTime(required=True)
    updated_at = AwareDateTime(required=True)


class AppointmentWithReasonsOut(AppointmentOut):
    """The administrators' view: with the reasons of the status history."""

    history = ma.fields.List(ma.fields.Nested(StatusChangeWithReasonOut), required=True)


class AppointmentClinicalOut(AppointmentWithReasonsOut):
    """The care team's view: with clinical notes and the override's reason too."""

    override = ma.fields.Nested(OverrideClinicalOut, allow_none=True, required=True)
    clinical_notes = FreeTextOut(allow_none=True, required=True)


APPOINTMENT_VIEWS: dict[View, ma.Schema] = {
    View.SCHEDULE: AppointmentOut(),
    View.REASONS: AppointmentWithReasonsOut(),
    View.CLINICAL: AppointmentClinicalOut(),
}


class StatusChange(StatusChangeOut):
    """A status change as any view shows it; `reason` only in some."""

    reason = FreeTextOut(
        allow_none=True,
        metadata={"description": "Administrators and the care team only: absent for others"},
    )


class Override(OverrideOut):
    """An override as any view shows it; `reason` only to the care team."""

    reason = FreeTextOut(metadata={"description": "The care team only: absent for others"})


class Appointment(AppointmentOut):
    """An appointment, one schema for every view: everyone of the clinic sees the schedule;
    administrators also see the reasons of the status history; clinicians on the patient's
    care team also see `clinical_notes` and the override's reason. A field a caller may
    not see is absent from the answer (never null for that reason)."""

    history = ma.fields.List(ma.fields.Nested(StatusChange), required=True)
    override = ma.fields.Nested(Override, allow_none=True, required=True)
    clinical_notes = FreeTextOut(
        allow_none=True, metadata={"description": "The care team only: absent for others"}
    )


# For the OpenAPI document: what a caller gets of it is decided per patient.
APPOINTMENT_OUT_DOC = Appointment
