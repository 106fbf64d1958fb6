"""What goes over the wire for clinics, rooms, staff, working hours and time off.

Opening and working hours are wall-clock times ("HH:MM") in the clinic's own time
zone, so a recurring 09:00 stays 09:00 across daylight saving changes. Time off
is absolute: RFC 3339 with an offset, answered in UTC.
"""

from __future__ import annotations

import marshmallow as ma

from kapt_api.auth.models import Role
from kapt_api.auth.service import MIN_PASSWORD_LENGTH
from kapt_api.clinics.models import RoomKind
from kapt_api.fields import (
    AwareDateTime,
    Email,
    Flag,
    Integer,
    LocalTime,
    Password,
    Phone,
    Text,
    TimeZoneName,
    Weekday,
)

# Seven days of several intervals each is far below this; more is a client bug.
MAX_WEEKLY_INTERVALS = 50
MAX_PASSWORD_LENGTH = 1024
ROOM_KINDS = [kind.value for kind in RoomKind]


def _week(item: type[ma.Schema], **kwargs: object) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.Nested(item),
        validate=ma.validate.Length(
            max=MAX_WEEKLY_INTERVALS, error="Give at most {max} intervals."
        ),
        **kwargs,  # type: ignore[arg-type]
    )


class OpeningHoursSchema(ma.Schema):
    """One opening interval on a weekday, in the clinic's local time."""

    weekday = Weekday(required=True)
    opens = LocalTime(required=True)
    closes = LocalTime(required=True)


class WorkingHoursSchema(ma.Schema):
    """One working interval on a weekday, in the clinic's local time."""

    weekday = Weekday(required=True)
    starts = LocalTime(required=True)
    ends = LocalTime(required=True)


# --- clinics --------------------------------------------------------------------------------


class ClinicIn(ma.Schema):
    name = Text(required=True, min_length=1, max_length=200)
    time_zone = TimeZoneName(required=True)
    phone = Phone(allow_none=True)
    address = Text(max_length=500, allow_none=True)
    opening_hours = _week(
        OpeningHoursSchema,
        metadata={"description": "The whole week; a PATCH that sends it replaces it."},
    )
    waitlist_offer_minutes = Integer(
        validate=ma.validate.Range(min=1, max=1440),
        metadata={"description": "How long a freed time is held for a waitlist offer (30)"},
    )
    waitlist_offers_enabled = Flag(
        metadata={"description": "Whether patients are messaged their waitlist offers (true)"}
    )
    check_in_opens_minutes = Integer(
        validate=ma.validate.Range(min=0, max=1440),
        metadata={
            "description": "How many minutes before a booked start check-in opens (60); "
            "start and complete are refused before it too (check_in_not_open)"
        },
    )


class ClinicPatch(ClinicIn):
    """ClinicIn with every field optional (used with partial=True)."""


class ClinicOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    time_zone = TimeZoneName(required=True)
    phone = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    opening_hours = ma.fields.List(ma.fields.Nested(OpeningHoursSchema), required=True)
    waitlist_offer_minutes = ma.fields.Integer(required=True)
    waitlist_offers_enabled = ma.fields.Boolean(required=True)
    check_in_opens_minutes = ma.fields.Integer(required=True)


# --- rooms ----------------------------------------------------------------------------------


class RoomIn(ma.Schema):
    name = Text(required=True, min_length=1, max_length=100)
    kind = ma.fields.Enum(RoomKind, by_value=True, required=True)
    active = Flag()


class RoomPatch(RoomIn):
    """RoomIn with every field optional (used with partial=True)."""


class RoomQuery(ma.Schema):
    kind = ma.fields.Enum(RoomKind, by_value=True)
    active = Flag()


class RoomOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    clinic_id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"enum": ROOM_KINDS})
    active = ma.fields.Boolean(required=True)


# --- staff ----------------------------------------------------------------------------------


def _roles(**kwargs: object) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.Enum(Role, by_value=True),
        validate=ma.validate.Length(min=1, max=len(Role), error="Give one or more roles."),
        **kwargs,  # type: ignore[arg-type]
    )


class StaffIn(ma.Schema):
    email = Email(required=True)
    full_name = Text(required=True, min_length=1, max_length=200)
    password = Password(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        required=True,
        load_only=True,
        metadata={"description": "The login's first password."},
    )
    roles = _roles(required=True)
    clinic_id = ma.fields.UUID(required=True)
    credentials = Text(max_length=100, allow_none=True, metadata={"example": "RN, MSN"})
    phone = Phone(allow_none=True)


class StaffPatch(ma.Schema):
    full_name = Text(min_length=1, max_length=200)
    roles = _roles()
    clinic_id = ma.fields.UUID()
    credentials = Text(max_length=100, allow_none=True)
    phone = Phone(allow_none=True)
    active = Flag(metadata={"description": "false also disables the login; true enables it again."})


class StaffQuery(ma.Schema):
    clinic_id = ma.fields.UUID()
    role = ma.fields.Enum(Role, by_value=True)
    active = Flag()


class StaffOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    user_id = ma.fields.UUID(required=True)
    email = ma.fields.String(required=True)
    full_name = ma.fields.String(required=True)
    roles = ma.fields.List(
        ma.fields.Enum(Role, by_value=True), attribute="sorted_roles", required=True
    )
    clinic_id = ma.fields.UUID(required=True)
    credentials = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean(required=True)
    working_hours = ma.fields.List(ma.fields.Nested(WorkingHoursSchema), required=True)


# --- working hours and time off -------------------------------------------------------------


class WorkingWeekIn(ma.Schema):
    working_hours = _week(
        WorkingHoursSchema,
        required=True,
        metadata={"description": "The whole week; it replaces the one stored."},
    )


class WorkingWeekOut(ma.Schema):
    staff_id = ma.fields.UUID(required=True, attribute="id")
    clinic_id = ma.fields.UUID(required=True)
    time_zone = TimeZoneName(
        required=True,
        attribute="clinic.time_zone",
        metadata={"description": "The clinic's zone, in which the hours are given."},
    )
    working_hours = ma.fields.List(ma.fields.Nested(WorkingHoursSchema), required=True)


class TimeOffIn(ma.Schema):
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    reason = Text(
        max_length=500,
        allow_none=True,
        metadata={"description": "Shown to the clinic's staff: keep health details out."},
    )


class TimeOffQuery(ma.Schema):
    starts = AwareDateTime(data_key="from", metadata={"description": "Ends after this"})
    ends = AwareDateTime(data_key="to", metadata={"description": "Starts before this"})


class TimeOffOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    staff_id = ma.fields.UUID(required=True)
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    reason = ma.fields.String(allow_none=True)
    created_by = ma.fields.UUID(allow_none=True)
    created_at = AwareDateTime(required=True)
