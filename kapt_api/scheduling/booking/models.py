"""Appointments, their staff, their status history and the resource holds, and the
clinic schedule version every change replaces.

An appointment holds its staff, room and patient for its time range plus the session
type's buffer, as rows of `resource_holds`; on PostgreSQL an exclusion constraint
makes two overlapping holds of one resource impossible, on SQLite a trigger refuses
them (migration 0003_scheduling) and bookings take the write lock first
(db.begin_write).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from kapt_api import clock
from kapt_api.db import Base, IdMixin, TimestampMixin
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.courses.models import known_category, one_of
from kapt_api.scheduling.courses.values import AppointmentStatus
from kapt_api.scheduling.waitlist.models import WaitlistOffer

COMPLETED_DOSE = "kind = 'dosing' AND status = 'completed'"


class Appointment(IdMixin, TimestampMixin, Base):
    """One session of a course: when, where, with whom, and how it went."""

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(one_of("status", AppointmentStatus), name="status_known"),
        CheckConstraint(one_of("kind", SessionKind), name="kind_known"),
        CheckConstraint("starts_at < ends_at AND ends_at <= held_until", name="times_in_order"),
        CheckConstraint(
            "(override_rules IS NULL) = (override_reason IS NULL)", name="override_has_reason"
        ),
        Index("ix_appointments_patient_starts", "patient_id", "starts_at"),
        Index("ix_appointments_clinic_starts", "clinic_id", "starts_at"),
        # The hourly search for doses given without their integration session booked
        # (courses/integration_gaps.py) reads the recently completed doses only.
        Index(
            "ix_appointments_completed_doses",
            "ends_at",
            postgresql_where=text(COMPLETED_DOSE),
            sqlite_where=text(COMPLETED_DOSE),
        ),
    )

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=AppointmentStatus.BOOKED.value)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # The end of the session's buffer: until then its people and room stay held.
    held_until: Mapped[datetime]
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id"), index=True)
    late_cancellation: Mapped[bool] = mapped_column(default=False)
    # Said by the patient through their link or a text (scheduling/links): they will
    # come, and (a dose) someone will drive them home. The day schedule shows the escort.
    confirmed_at: Mapped[datetime | None]
    escort_confirmed_at: Mapped[datetime | None]
    override_rules: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    clinical_notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    staff: Mapped[list[AppointmentStaff]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AppointmentStaff.position"
    )
    if TYPE_CHECKING:  # mapped below, once the class's id column exists
        backfilled_from_offer_id: uuid.UUID | None
    history: Mapped[list[StatusChange]] = relationship(
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="(StatusChange.at, StatusChange.id)",
    )

    @property
    def staff_ids(self) -> list[uuid.UUID]:
        return [member.staff_id for member in self.staff]

    @property
    def override(self) -> dict[str, Any] | None:
        if self.override_rules is None:
            return None
        return {
            "rules": self.override_rules,
            "reason": self.override_reason,
            "by": self.override_by,
        }


# The accepted waitlist offer that booked the appointment, null when it was booked
# directly: read with the appointment, one lookup of a unique index per row.
Appointment.backfilled_from_offer_id = column_property(  # type: ignore[assignment]
    select(WaitlistOffer.id)
    .where(WaitlistOffer.appointment_id == Appointment.id)
    .correlate_except(WaitlistOffer)
    .scalar_subquery()
)


class AppointmentStaff(Base):
    __tablename__ = "appointment_staff"

    appointment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_members.id"), primary_key=True, index=True
    )
    # The order the staff were given in, so an appointment always reads the same.
    position: Mapped[int] = mapped_column(default=0)


class StatusChange(Base):
    """One step of an appointment's status machine: who, when, from, to and why."""

    __tablename__ = "appointment_status_changes"
    __table_args__ = (
        CheckConstraint(one_of("to_status", AppointmentStatus), name="to_status_known"),
        CheckConstraint(known_category("reason_category"), name="reason_category_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=lambda: clock.now())
    by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    # Set with every cancellation and no-show: the kind of reason everyone may see.
    reason_category: Mapped[str | None] = mapped_column(String(20))


class ResourceHold(IdMixin, Base):
    """A resource (`staff:<id>`, `room:<id>`, `patient:<id>`) held by an appointment
    from its start to the end of its buffer, or by a waitlist offer for the time it is
    offered (waitlist/models.py). Two holds of one resource never overlap."""

    __tablename__ = "resource_holds"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
        CheckConstraint("(appointment_id IS NULL) <> (offer_id IS NULL)", name="held_by_one"),
        Index("ix_resource_holds_key_starts", "resource_key", "starts_at"),
        ExcludeConstraint(
            # The resource's id as a uuid: cheaper for GiST than the key's text
            # (migration 0021_holds_excluded_by_id); ids are unique across tables.
            (literal_column("(CAST(split_part(resource_key, ':', 2) AS uuid))"), "="),
            (
                func.tstzrange(
                    literal_column("starts_at"), literal_column("ends_at"), literal_column("'[)'")
                ),
                "&&",
            ),
            name="resource_holds_no_overlap",
            using="gist",
        ).ddl_if(dialect="postgresql"),
    )

    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    offer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("waitlist_offers.id", ondelete="CASCADE"), index=True
    )
    resource_key: Mapped[str] = mapped_column(String(60))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


# The PostgreSQL sequence the triggers draw new tokens from (SQLite: random()).
VERSION_TOKENS = "schedule_version_tokens"


class ScheduleVersion(Base):
    """A token per clinic that database triggers replace, in the changing transaction,
    whenever anything a day schedule shows changes (appointments and their staff,
    patients' names, staff, roles, rooms, the clinic's time zone, dosing sessions'
    monitoring state: migration 0009_schedule_versions). A new token is never an old one
    again, even after a rollback. A day computed at one token is valid as long as the
    clinic still reads it, on every replica."""

    __tablename__ = "schedule_versions"

    clinic_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(BigInteger)
