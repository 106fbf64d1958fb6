"""Users, their roles, their login sessions and the append-only audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kapt_api import clock
from kapt_api.db import Base, IdMixin, TimestampMixin


class Role(StrEnum):
    ADMIN = "admin"
    PRESCRIBER = "prescriber"
    NURSE = "nurse"
    THERAPIST = "therapist"
    FRONT_DESK = "front_desk"


CLINICAL_ROLES = frozenset({Role.PRESCRIBER, Role.NURSE, Role.THERAPIST})


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(row.role) for row in self.role_rows)

    @property
    def sorted_roles(self) -> list[Role]:
        return sorted(self.roles)

    def set_roles(self, roles: set[Role] | frozenset[Role]) -> None:
        keep = {row for row in self.role_rows if row.role in roles}
        have = {row.role for row in keep}
        self.role_rows = sorted(keep, key=lambda r: r.role) + [
            UserRole(role=role.value) for role in sorted(roles) if role not in have
        ]

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    user: Mapped[User] = relationship(back_populates="role_rows")


class LoginSession(Base):
    """One login: every token it issued (access and refresh) carries its id, and is
    accepted only while this row exists, is not revoked and has not expired. A token
    naming no row is refused, however well signed."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=lambda: clock.now())
    # When its refresh token expires: no token of the session is accepted after it.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    last_refreshed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship()


class AuditEvent(IdMixin, Base):
    """Who read or changed which record, when. Rows are never updated or deleted
    (database triggers refuse it, see the initial migration)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_patient_time", "patient_id", "occurred_at"),
        Index("ix_audit_events_actor_time", "actor_id", "occurred_at"),
    )

    occurred_at: Mapped[datetime] = mapped_column(default=lambda: clock.now(), index=True)
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(40))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[uuid.UUID | None]
    request_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    # The patients of an event that showed several (a day schedule): patient_id is then
    # null. Loaded with the event for the audit log's answer.
    shown: Mapped[list[AuditEventPatient]] = relationship(
        primaryjoin="foreign(AuditEventPatient.event_id) == AuditEvent.id",
        viewonly=True,
        lazy="selectin",
    )

    @property
    def patient_ids(self) -> list[uuid.UUID]:
        """Every patient the event concerns: its one patient, or the patients it showed."""
        if self.patient_id is not None:
            return [self.patient_id]
        return sorted((row.patient_id for row in self.shown), key=str)


class AuditEventPatient(Base):
    """A patient shown by an audit event that showed several: one event per read of a
    screen listing patients (a busy day schedule lists fifty), one row here per patient
    on it. The key leads with the patient, so "who saw this patient" reads the key.

    No foreign key to the event: the rows are written in the statement that writes
    their event and never change (both tables are append-only), and a foreign-key check
    per row cost as much as writing the row (docs/audit.md)."""

    __tablename__ = "audit_event_patients"

    patient_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
