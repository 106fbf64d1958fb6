"""Waitlist entries, freed slots and offers.

An offer's time is held by rows of `resource_holds` that belong to the offer instead
of an appointment (`offer_id` set, `appointment_id` empty; migration 0014_waitlist).
The same table carries both, so the database's one no-overlap guard (PostgreSQL's
exclusion constraint, SQLite's triggers) keeps a competing booking out of an offered
time whatever the race, and the booking rules read the offer's holds with every other
hold and name the clash `held_for_waitlist_offer`. An appointment in an "offered"
status was the other design: it would have put a session nobody booked into every
count of doses, day schedules, reminders and feeds, each of which would need to learn
to skip it. Accepting an offer deletes its holds and books through the booking service
in the same transaction, so the time passes from the offer to the appointment with no
moment in between where a third party could take it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kapt_api.db import Base, IdMixin, TimestampMixin
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.courses.models import one_of


class EntryStatus(StrEnum):
    WAITING = "waiting"
    ENDED = "ended"


class EndReason(StrEnum):
    BOOKED = "booked"  # the course booked a session of that kind
    EXPIRED = "expired"  # the latest date the patient accepts has passed
    COURSE_ENDED = "course_ended"  # discontinued or completed
    REMOVED = "removed"  # taken off the list by the front desk


class SlotStatus(StrEnum):
    OPEN = "open"  # waiting for the job to offer it
    OFFERED = "offered"  # an offer holds (part of) it
    FILLED = "filled"  # an offer was accepted
    EXHAUSTED = "exhausted"  # nobody on the waitlist can take it
    LAPSED = "lapsed"  # its time came before anyone took it


class SlotReason(StrEnum):
    CANCELLED = "cancelled"
    MOVED = "moved"
    NO_SHOW = "no_show"
    WORKING_HOURS = "working_hours"  # a staff member's new working hours
    TIME_OFF_WITHDRAWN = "time_off_withdrawn"  # a staff member's time off withdrawn


class OfferStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    TAKEN = "taken"  # the patient's entry ended (booked that kind elsewhere) meanwhile
    EXPIRED = "expired"
    DECLINED = "declined"


class WaitlistEntry(IdMixin, TimestampMixin, Base):
    """A course waiting for a session of one kind, with what the patient accepts."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint(one_of("status", EntryStatus), name="status_known"),
        CheckConstraint(one_of("kind", SessionKind), name="kind_known"),
        CheckConstraint(
            f"end_reason IS NULL OR {one_of('end_reason', EndReason)}", name="end_reason_known"
        ),
        CheckConstraint("earliest_date <= latest_date", name="dates_in_order"),
        CheckConstraint("min_notice_hours >= 0", name="notice_not_negative"),
        CheckConstraint(
            "(status = 'ended') = (ended_at IS NOT NULL AND end_reason IS NOT NULL)",
            name="ended_with_reason",
        ),
        Index("ix_waitlist_entries_clinic_status", "clinic_id", "status"),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(20))
    earliest_date: Mapped[date] = mapped_column(Date)
    latest_date: Mapped[date] = mapped_column(Date)
    # ISO weekdays the patient accepts, Monday 0 (as clinics.rules.WeeklyInterval).
    weekdays: Mapped[list[int]] = mapped_column(JSON)
    # Local [start, end) clock times "HH:MM" the session must lie within; [] is any time.
    time_windows: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    preferred_staff_ids: Mapped[list[str]] = mapped_column(JSON)
    min_notice_hours: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default=EntryStatus.WAITING.value)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    ended_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class FreedSlot(IdMixin, TimestampMixin, Base):
    """Time given back: a cancelled, moved or missed session with its buffer (its
    appointment and kind), or time a staff member became bookable (their new working
    hours, their time off withdrawn: the staff member, no kind)."""

    __tablename__ = "waitlist_freed_slots"
    __table_args__ = (
        CheckConstraint(one_of("status", SlotStatus), name="status_known"),
        CheckConstraint(one_of("reason", SlotReason), name="reason_known"),
        CheckConstraint(one_of("kind", SessionKind), name="kind_known"),
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
        CheckConstraint(
            "(appointment_id IS NULL) <> (staff_id IS NULL) "
            "AND (appointment_id IS NULL) = (kind IS NULL)",
            name="freed_by_one",
        ),
        Index("ix_waitlist_freed_slots_status", "status", "starts_at"),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.id"))
    kind: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default=SlotStatus.OPEN.value)
    # The candidates the last search found, best first, for the front desk's screen:
    # [{entry_id, course_id, patient_id, rank, closes_at, waiting_since, starts_at}].
    ranked: Mapped[list[dict[str, str | int | None]]] = mapped_column(JSON, default=list)


class WaitlistOffer(IdMixin, TimestampMixin, Base):
    """A session in a freed slot offered to one waitlist entry until `expires_at`."""

    __tablename__ = "waitlist_offers"
    __table_args__ = (
        CheckConstraint(one_of("status", OfferStatus), name="status_known"),
        CheckConstraint(one_of("kind", SessionKind), name="kind_known"),
        CheckConstraint("starts_at < ends_at AND ends_at <= held_until", name="times_in_order"),
        CheckConstraint(
            "(status = 'accepted') = (appointment_id IS NOT NULL)", name="accepted_has_appointment"
        ),
        Index("ix_waitlist_offers_status_expires", "status", "expires_at"),
    )

    freed_slot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("waitlist_freed_slots.id"), index=True
    )
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("waitlist_entries.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"))
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    held_until: Mapped[datetime]
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id"))
    staff_ids: Mapped[list[str]] = mapped_column(JSON)
    rank: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default=OfferStatus.OFFERED.value)
    expires_at: Mapped[datetime]
    # The booked appointment once accepted: how a day schedule or a utilisation report
    # tells a backfilled session (unique: one offer books one appointment).
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id"), unique=True
    )
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    @property
    def staff(self) -> list[uuid.UUID]:
        return [uuid.UUID(s) for s in self.staff_ids]
