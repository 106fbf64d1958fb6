"""The plain values a course's rules decide over: its status, each session's status and
the kind of reason a cancellation had, the sessions as the rules see them, and a rule's
finding. Frozen dataclasses and enums: no database, no Flask. The queries build them
from rows; tests build them by hand."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from kapt_api.errors import Violation
from kapt_api.protocols.definition import ProtocolDefinition, SessionKind

# The id a session being booked carries until it has its own.
NEW_SESSION = uuid.UUID(int=0)


@dataclass(frozen=True)
class Finding:
    """A protocol rule a schedule breaks; equal findings name the same rule and sessions."""

    rule: str
    subjects: frozenset[uuid.UUID]
    message: str = field(compare=False)
    details: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def violation(self) -> Violation:
        others = sorted(str(i) for i in self.subjects if i != NEW_SESSION)
        return Violation(self.rule, self.message, {**self.details, "appointment_ids": others})


class CourseStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    DISCONTINUED = "discontinued"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class ReasonCategory(StrEnum):
    """What kind of reason a cancellation, no-show or discontinuation had, chosen from this
    list when it is written: all that staff off the care team are shown of the reason."""

    PATIENT_REQUEST = "patient_request"
    CLINICAL = "clinical"
    SCHEDULING = "scheduling"
    OTHER = "other"


# An appointment that happened or will happen: what a course's schedule is made of.
SCHEDULED = frozenset(
    {
        AppointmentStatus.BOOKED,
        AppointmentStatus.CHECKED_IN,
        AppointmentStatus.IN_PROGRESS,
        AppointmentStatus.COMPLETED,
    }
)


@dataclass(frozen=True)
class CourseSession:
    """One appointment of a course as the rules see it."""

    id: uuid.UUID
    kind: SessionKind
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus = AppointmentStatus.BOOKED

    @property
    def scheduled(self) -> bool:
        return self.status in SCHEDULED


@dataclass(frozen=True)
class CourseState:
    """What the protocol rules need about a course: its status, its pinned protocol
    version's definition, every appointment it has, and whether the last monitoring
    checklist holds the next dose (None: no hold)."""

    status: CourseStatus
    definition: ProtocolDefinition
    sessions: tuple[CourseSession, ...] = ()
    pre_dose_hold: str | None = None
