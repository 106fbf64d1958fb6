"""What goes over the wire for the waitlist: entries in and out, the freed slots with
their ranked candidates and open offer, and an offer."""

from __future__ import annotations

from datetime import datetime, time

import marshmallow as ma

from kapt_api.fields import AwareDateTime, Choice, Date, Integer, LocalTime, Weekday
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.waitlist.models import (
    EndReason,
    EntryStatus,
    OfferStatus,
    SlotReason,
    SlotStatus,
)

KINDS = [kind.value for kind in SessionKind]


class TimeWindowIn(ma.Schema):
    starts = LocalTime(required=True, metadata={"description": "Clinic wall clock"})
    ends = LocalTime(required=True, metadata={"description": "Clinic wall clock, after starts"})


class TimeWindowOut(ma.Schema):
    starts = LocalTime(required=True)
    ends = LocalTime(required=True)

    @ma.pre_dump
    def _clock_times(self, window: dict[str, str], **_: object) -> dict[str, time]:
        return {name: time.fromisoformat(value) for name, value in window.items()}


class EntryIn(ma.Schema):
    kind = Choice(KINDS, required=True)
    earliest_date = Date(required=True, metadata={"description": "Clinic calendar day"})
    latest_date = Date(required=True, metadata={"description": "Clinic calendar day"})
    weekdays = ma.fields.List(
        Weekday(), load_default=list, validate=ma.validate.Length(max=7),
        metadata={"description": "Days the patient accepts; empty: any"},
    )  # fmt: skip
    time_windows = ma.fields.List(
        ma.fields.Nested(TimeWindowIn), load_default=list, validate=ma.validate.Length(max=10),
        metadata={"description": "Local times the session must lie within; empty: any"},
    )  # fmt: skip
    preferred_staff_ids = ma.fields.List(
        ma.fields.UUID(), load_default=list, validate=ma.validate.Length(max=10),
        metadata={"description": "Any one of them present suits; empty: anyone"},
    )  # fmt: skip
    min_notice_hours = Integer(load_default=0, validate=ma.validate.Range(min=0, max=336))


class EntryQuery(ma.Schema):
    clinic_id = ma.fields.UUID()
    kind = Choice(KINDS)


class EntryOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    clinic_id = ma.fields.UUID(required=True)
    course_id = ma.fields.UUID(required=True)
    patient_id = ma.fields.UUID(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    earliest_date = ma.fields.Date(required=True)
    latest_date = ma.fields.Date(required=True)
    weekdays = ma.fields.List(Weekday(), required=True)
    time_windows = ma.fields.List(ma.fields.Nested(TimeWindowOut), required=True)
    preferred_staff_ids = ma.fields.List(ma.fields.UUID(), required=True)
    min_notice_hours = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(list(EntryStatus)))
    end_reason = ma.fields.String(
        allow_none=True, required=True, validate=ma.validate.OneOf(list(EndReason))
    )
    ended_at = AwareDateTime(allow_none=True, required=True)
    created_at = AwareDateTime(required=True)


class OfferOut(ma.Schema):
    id = ma.fields.UUID(required=True)
    freed_slot_id = ma.fields.UUID(required=True)
    entry_id = ma.fields.UUID(required=True)
    course_id = ma.fields.UUID(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    room_id = ma.fields.UUID(required=True)
    staff_ids = ma.fields.List(ma.fields.UUID(), required=True)
    rank = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(list(OfferStatus)))
    expires_at = AwareDateTime(required=True)
    appointment_id = ma.fields.UUID(allow_none=True, required=True)


class CandidateOut(ma.Schema):
    entry_id = ma.fields.UUID(required=True)
    course_id = ma.fields.UUID(required=True)
    patient_id = ma.fields.UUID(required=True)
    rank = ma.fields.Integer(required=True)
    closes_at = AwareDateTime(
        allow_none=True, required=True,
        metadata={"description": "When the protocol window of the session closes"},
    )  # fmt: skip
    waiting_since = AwareDateTime(required=True)
    starts_at = AwareDateTime(required=True)

    @ma.pre_dump
    def _instants(self, found: dict[str, object], **_: object) -> dict[str, object]:
        # Kept as JSON on the freed slot (FreedSlot.ranked): the times as ISO text.
        instants = ("closes_at", "waiting_since", "starts_at")
        return {k: datetime.fromisoformat(v) if k in instants and isinstance(v, str) else v
                for k, v in found.items()}  # fmt: skip


class FreedSlotOut(ma.Schema):
    id = ma.fields.UUID(required=True, attribute="slot.id")
    clinic_id = ma.fields.UUID(required=True, attribute="slot.clinic_id")
    kind = ma.fields.String(
        required=True, allow_none=True, attribute="slot.kind", validate=ma.validate.OneOf(KINDS),
        metadata={"description": "The freed session's kind; null for a staff member's time"},
    )  # fmt: skip
    staff_id = ma.fields.UUID(
        required=True, allow_none=True, attribute="slot.staff_id",
        metadata={"description": "Whose new working hours or withdrawn time off gave the "
                  "time; null for a freed session"},
    )  # fmt: skip
    reason = ma.fields.String(
        required=True, attribute="slot.reason", validate=ma.validate.OneOf(list(SlotReason))
    )
    starts_at = AwareDateTime(required=True, attribute="slot.starts_at")
    ends_at = AwareDateTime(required=True, attribute="slot.ends_at")
    status = ma.fields.String(
        required=True, attribute="slot.status", validate=ma.validate.OneOf(list(SlotStatus))
    )
    candidates = ma.fields.List(
        ma.fields.Nested(CandidateOut), required=True, attribute="slot.ranked"
    )
    offer = ma.fields.Nested(OfferOut, allow_none=True, required=True)


class OffersQuery(ma.Schema):
    clinic_id = ma.fields.UUID()
