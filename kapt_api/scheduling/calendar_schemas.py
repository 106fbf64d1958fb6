"""What goes over the wire for day schedules, calendar feeds, slot search, course plans
and batch booking.

Times are RFC 3339: `starts_at`/`ends_at` in UTC, `local_starts_at`/`local_ends_at` the
same instants with the clinic's UTC offset of that moment (its wall-clock time). Day
schedules are built as plain dicts (day_schedule.py); these schemas document them and
the tests load every answer back through them.
"""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import AwareDateTime, Date, Integer, LocalTime, Weekday
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.planning import MAINTENANCE_DOSES, MAX_BATCH, MAX_MAINTENANCE_DOSES
from kapt_api.scheduling.readiness import CHECKLIST_STATES, ESCORT_STATES
from kapt_api.scheduling.schemas import KINDS, STATUSES, AppointmentIn, readiness_flags

MAX_STEP_MINUTES = 240
MAX_SLOTS = 500


# --- day schedules --------------------------------------------------------------------------


class ScheduleQuery(ma.Schema):
    clinic_id = ma.fields.UUID(required=True)
    date = Date(required=True, metadata={"description": "A calendar day on the clinic's clocks"})


class StaffScheduleQuery(ma.Schema):
    date = Date(required=True, metadata={"description": "A calendar day on the clinic's clocks"})


class RoomBriefOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)


class StaffBriefOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)


class PersonOut(StaffBriefOut):
    roles = ma.fields.List(ma.fields.String(), required=True)
    active = ma.fields.Boolean(required=True)


class ReadinessOut(ma.Schema):
    """Whether a dose is ready to happen. Null or `not_applicable` for other sessions."""

    preparation_done = ma.fields.Boolean(
        allow_none=True,
        required=True,
        metadata={"description": "The protocol's preparation sessions completed before it"},
    )
    previous_integration_booked = ma.fields.Boolean(
        allow_none=True,
        required=True,
        metadata={
            "description": "The previous dose has its integration session booked; null for "
            "a first dose or a protocol without integration"
        },
    )
    flags = readiness_flags()
    checklist_state = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(CHECKLIST_STATES),
        metadata={"description": "The monitoring checklist; not_started until one is recorded"},
    )
    escort_confirmed = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(ESCORT_STATES),
        metadata={
            "description": "Whether the patient's escort home is confirmed; unknown "
            "until monitoring records it"
        },
    )


class ScheduledAppointmentOut(ma.Schema):
    """An appointment on a day schedule: the patient's name, never clinical notes."""

    id = ma.fields.UUID(required=True)
    course_id = ma.fields.UUID(required=True)
    patient_id = ma.fields.UUID(required=True)
    patient_name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    local_starts_at = AwareDateTime(required=True, metadata={"description": "Clinic wall clock"})
    local_ends_at = AwareDateTime(required=True, metadata={"description": "Clinic wall clock"})
    room = ma.fields.Nested(RoomBriefOut, required=True)
    staff = ma.fields.List(ma.fields.Nested(StaffBriefOut), required=True)
    readiness = ma.fields.Nested(ReadinessOut, required=True)


class DayOut(ma.Schema):
    clinic_id = ma.fields.UUID(required=True)
    date = Date(required=True)
    time_zone = ma.fields.String(required=True)
    starts_at = AwareDateTime(required=True, metadata={"description": "The day's first instant"})
    ends_at = AwareDateTime(required=True, metadata={"description": "The next day's first"})
    hours = ma.fields.Float(required=True, metadata={"description": "23, 24 or 25"})


class RoomDayOut(ma.Schema):
    room = ma.fields.Nested(RoomBriefOut, required=True)
    appointments = ma.fields.List(ma.fields.Nested(ScheduledAppointmentOut), required=True)


class StaffDayEntryOut(ma.Schema):
    staff = ma.fields.Nested(PersonOut, required=True)
    appointments = ma.fields.List(ma.fields.Nested(ScheduledAppointmentOut), required=True)


class ClinicDayOut(DayOut):
    """Every room in use and every clinician of the clinic (and anyone else booked)."""

    by_room = ma.fields.List(ma.fields.Nested(RoomDayOut), required=True)
    by_staff = ma.fields.List(ma.fields.Nested(StaffDayEntryOut), required=True)


class StaffDayOut(DayOut):
    staff = ma.fields.Nested(PersonOut, required=True)
    appointments = ma.fields.List(ma.fields.Nested(ScheduledAppointmentOut), required=True)


# --- calendar feeds ---------------------------------------------------------------------------


class CalendarFeedOut(ma.Schema):
    url = ma.fields.String(
        required=True,
        metadata={"description": "Subscribe to it in a calendar app; shown only this once"},
    )
    created_at = AwareDateTime(required=True)


# --- slots, plans, batches --------------------------------------------------------------------


class SlotQuery(ma.Schema):
    kind = ma.fields.Enum(SessionKind, by_value=True, required=True)
    starts_from = AwareDateTime(
        data_key="from", required=True, metadata={"description": "Earliest start"}
    )
    until = AwareDateTime(
        data_key="to",
        required=True,
        metadata={"description": "Starts before this; at most 31 days after from"},
    )
    step_minutes = Integer(
        load_default=15,
        validate=ma.validate.Range(5, MAX_STEP_MINUTES),
        metadata={"description": "Starts on this grid from each opening time"},
    )
    limit = Integer(load_default=100, validate=ma.validate.Range(1, MAX_SLOTS))


class SlotOut(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    local_starts_at = AwareDateTime(required=True, metadata={"description": "Clinic wall clock"})
    local_ends_at = AwareDateTime(required=True, metadata={"description": "Clinic wall clock"})
    room_id = ma.fields.UUID(required=True)
    staff_ids = ma.fields.List(ma.fields.UUID(), required=True)


class PlanIn(ma.Schema):
    starts_from = AwareDateTime(
        data_key="from", metadata={"description": "Plan from here on (default: now)"}
    )
    weekdays = ma.fields.List(
        Weekday(),
        validate=ma.validate.Length(max=7),
        metadata={"description": "Preferred weekdays; others are used when none is free"},
    )
    earliest_time = LocalTime(metadata={"description": "Preferred earliest start, clinic clock"})
    latest_time = LocalTime(metadata={"description": "Preferred latest start, clinic clock"})
    maintenance_doses = Integer(
        load_default=MAINTENANCE_DOSES,
        validate=ma.validate.Range(min=0, max=MAX_MAINTENANCE_DOSES),
        metadata={
            "description": "For a protocol with a maintenance phase (no last dose): how many "
            f"doses into it to plan (default {MAINTENANCE_DOSES})"
        },
    )


class PlannedSessionOut(SlotOut):
    number = ma.fields.Integer(
        required=True,
        metadata={"description": "The n-th preparation or dose; for integration, its dose"},
    )


class BatchItemOut(ma.Schema):
    """One item of POST /appointments/batch, ready to send."""

    course_id = ma.fields.UUID(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    starts_at = AwareDateTime(required=True)
    room_id = ma.fields.UUID(required=True)
    staff_ids = ma.fields.List(ma.fields.UUID(), required=True)


class BatchOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(BatchItemOut), required=True)


class PlanOut(ma.Schema):
    course_id = ma.fields.UUID(required=True)
    time_zone = ma.fields.String(required=True)
    sessions = ma.fields.List(ma.fields.Nested(PlannedSessionOut), required=True)
    batch = ma.fields.Nested(
        BatchOut,
        required=True,
        metadata={"description": "The body that books this plan: POST /appointments/batch"},
    )


class BatchIn(ma.Schema):
    items = ma.fields.List(
        ma.fields.Nested(AppointmentIn),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_BATCH),
        metadata={"description": "Booked in this order, all or none"},
    )
