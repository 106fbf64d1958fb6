"""A course: a patient's treatment on one published protocol version, with its care
team. A course pins the version it was enrolled on, so editing a protocol never
rewrites a patient's plan. A patient has at most one active course on a protocol,
whichever of its versions: the database keeps it so (`ONE_ACTIVE_COURSE`), so two
enrolments racing each other leave one course, not two. The CHECK helpers here are
shared by every scheduling table that stores a status or a reason category."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kapt_api.clinics.models import Clinic
from kapt_api.db import Base, IdMixin, TimestampMixin
from kapt_api.patients.models import Patient
from kapt_api.protocols.definition import ProtocolDefinition
from kapt_api.protocols.models import ProtocolVersion
from kapt_api.scheduling.courses.values import CourseStatus, ReasonCategory


def one_of(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def known_category(column: str) -> str:
    """The CHECK of a reason category column (migration 0013_reason_categories)."""
    return f"{column} IS NULL OR {one_of(column, ReasonCategory)}"


# The unique index that keeps one active course per patient and protocol (migration
# 0018_one_active_course); enrol answers its violation as course_already_active.
ONE_ACTIVE_COURSE = "uq_courses_one_active"
ACTIVE = "status = 'active'"


class Course(IdMixin, TimestampMixin, Base):
    """A patient's treatment on one published protocol version, with its care team."""

    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint(one_of("status", CourseStatus), name="status_known"),
        CheckConstraint(
            "(status = 'discontinued') = (discontinued_at IS NOT NULL)",
            name="discontinued_at_when_discontinued",
        ),
        CheckConstraint(
            known_category("discontinue_reason_category"), name="discontinue_reason_category_known"
        ),
        Index(
            ONE_ACTIVE_COURSE,
            "patient_id",
            "protocol_id",
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"), index=True)
    protocol_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("protocol_versions.id"), index=True
    )
    # The protocol of protocol_version_id, kept here so the database can hold one
    # active course per patient and protocol (ONE_ACTIVE_COURSE).
    protocol_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("protocols.id"))
    status: Mapped[str] = mapped_column(String(20), default=CourseStatus.ACTIVE.value)
    prescriber_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"))
    therapist_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.id"))
    nurse_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.id"))
    enrolled_at: Mapped[datetime]
    enrolled_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[datetime | None]
    discontinued_at: Mapped[datetime | None]
    discontinued_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    discontinue_reason: Mapped[str | None] = mapped_column(Text)
    discontinue_reason_category: Mapped[str | None] = mapped_column(String(20))

    protocol_version: Mapped[ProtocolVersion] = relationship(lazy="joined")
    # Read in the same statement when the course is locked for a change
    # (queries.locked_course): the booking rules and the reminders planned on the same
    # signal then find the clinic and the patient without asking the database again.
    patient: Mapped[Patient] = relationship(viewonly=True)
    clinic: Mapped[Clinic] = relationship(viewonly=True)

    @property
    def definition(self) -> ProtocolDefinition:
        return self.protocol_version.definition

    @property
    def care_team(self) -> dict[str, uuid.UUID | None]:
        return {
            "prescriber_id": self.prescriber_id,
            "therapist_id": self.therapist_id,
            "nurse_id": self.nurse_id,
        }

    @property
    def care_team_ids(self) -> list[uuid.UUID]:
        return [i for i in (self.prescriber_id, self.therapist_id, self.nurse_id) if i]
