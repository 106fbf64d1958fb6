"""What goes over the wire for slot search, course plans and batch booking. Times are
RFC 3339: `starts_at`/`ends_at` in UTC, `local_starts_at`/`local_ends_at` the same
instants with the clinic's UTC offset of that moment."""

from __future__ import annotations

import marshmallow as ma

from kapt_api.fields import AwareDateTime, Integer, LocalTime, TimeZoneName, Weekday
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.availability.plans import (
    MAINTENANCE_DOSES,
    MAX_BATCH,
    MAX_MAINTENANCE_DOSES,
)
from kapt_api.scheduling.booking.schemas import AppointmentIn
from kapt_api.scheduling.courses.schemas import KINDS

MAX_STEP_MINUTES = 240
MAX_SLOTS = 500


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
    time_zone = TimeZoneName(required=True)
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
