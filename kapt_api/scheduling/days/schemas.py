"""What goes over the wire for day schedules.

Times are RFC 3339: `starts_at`/`ends_at` in UTC, `local_starts_at`/`local_ends_at` the
same instants with the clinic's UTC offset of that moment (its wall-clock time). Day
schedules are built as plain dicts (service.py); these schemas document them and the
tests load every answer back through them.
"""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import AwareDateTime, Date, TimeZoneName
from kapt_api.scheduling.courses.schemas import KINDS, STATUSES, readiness_flags
from kapt_api.scheduling.days.readiness import CHECKLIST_STATES, ESCORT_STATES


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
            "description": "Whether the patient's escort home is confirmed: `confirmed` "
            "once the patient said so (patient link or text) or monitoring recorded it; "
            "otherwise monitoring's answer, `unknown` until it records one"
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
    confirmed = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "The patient confirmed they will attend (through their patient "
            "link or by replying C to a text)"
        },
    )
    backfilled = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Booked from a waitlist offer that was accepted: time a "
            "cancellation, move or no-show freed, given to a waiting patient"
        },
    )


class DayOut(ma.Schema):
    clinic_id = ma.fields.UUID(required=True)
    date = Date(required=True)
    time_zone = TimeZoneName(required=True)
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
