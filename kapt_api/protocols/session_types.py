"""The kinds of session a protocol plans and who must be present at each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind


class SessionKind(StrEnum):
    INTAKE = "intake"
    PREPARATION = "preparation"
    DOSING = "dosing"
    INTEGRATION = "integration"
    FOLLOW_UP = "follow_up"


@dataclass(frozen=True)
class RoleRequirement:
    """One person who must be present, holding any one of these roles. Each requirement
    of a session type is filled by a different staff member."""

    any_of: frozenset[Role]


@dataclass(frozen=True)
class SessionType:
    kind: SessionKind
    duration_minutes: int
    room_kind: RoomKind
    required_roles: tuple[RoleRequirement, ...]
    buffer_after_minutes: int
    min_notice_hours: int
    cancellation_notice_hours: int

    @property
    def occupied_minutes(self) -> int:
        """How long the room and people are held: the session and its buffer."""
        return self.duration_minutes + self.buffer_after_minutes
