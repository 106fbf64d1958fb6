"""Clinics, their opening hours and rooms; staff members, working hours and time off.

Hours are wall-clock times in the clinic's own IANA zone (a recurring 09:00 stays
09:00 local across DST); absolute moments (time off) are stored in UTC.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kapt_api.auth.models import Role, User
from kapt_api.db import Base, IdMixin, TimestampMixin


class RoomKind(StrEnum):
    DOSING = "dosing"
    THERAPY = "therapy"
    TELEHEALTH = "telehealth"


class Clinic(IdMixin, TimestampMixin, Base):
    __tablename__ = "clinics"
    __table_args__ = (
        CheckConstraint(
            "waitlist_offer_minutes BETWEEN 1 AND 1440", name="waitlist_offer_minutes_range"
        ),
        CheckConstraint(
            "check_in_opens_minutes BETWEEN 0 AND 1440", name="check_in_opens_minutes_range"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(500))
    # Waitlist backfill (scheduling/waitlist): how long a freed time is held for the
    # patient offered it, and whether offer messages go out (the desk always sees them).
    waitlist_offer_minutes: Mapped[int] = mapped_column(default=30, server_default="30")
    waitlist_offers_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    # How long before a booked start check-in opens; start and complete follow it
    # (scheduling/booking/status_rules.py). Earlier, a step is refused, so a session
    # cannot be run days before its time.
    check_in_opens_minutes: Mapped[int] = mapped_column(default=60, server_default="60")
    opening_hours: Mapped[list[OpeningHours]] = relationship(
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="(OpeningHours.weekday, OpeningHours.opens)",
    )


class OpeningHours(Base):
    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("opens < closes", name="opens_before_closes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clinics.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)


class Room(IdMixin, TimestampMixin, Base):
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("clinic_id", "name"),)

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)


class StaffMember(IdMixin, TimestampMixin, Base):
    """A person who works at a clinic; their login and roles are the linked User."""

    __tablename__ = "staff_members"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)
    credentials: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    user: Mapped[User] = relationship(lazy="joined")
    clinic: Mapped[Clinic] = relationship()
    working_hours: Mapped[list[WorkingHours]] = relationship(
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="(WorkingHours.weekday, WorkingHours.starts)",
    )

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def full_name(self) -> str:
        return self.user.full_name

    @property
    def sorted_roles(self) -> list[Role]:
        """The login's roles in a stable order (a set's order varies between processes,
        and the ETag is computed from what is shown)."""
        return sorted(self.user.roles)


class WorkingHours(Base):
    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("starts < ends", name="starts_before_ends"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)


class TimeOff(IdMixin, Base):
    __tablename__ = "time_off"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="starts_before_ends"),)

    staff_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
