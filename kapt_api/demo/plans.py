"""What a demo story is made of: the patient's course and the sessions it books, each
with what happens in it (questionnaires, readings set by hand, notes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kapt_api.demo.vitals import Vitals
from kapt_api.protocols.definition import SessionKind
from kapt_api.protocols.measurements import Measurement
from kapt_api.scheduling.courses.models import Course

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Measure:
    instrument: str  # "phq9" or "gad7"
    total: int


@dataclass(frozen=True)
class AdHoc:
    minute: int  # after the dose
    values: Mapping[Measurement, float]
    note: str


@dataclass(frozen=True)
class Visit:
    """A session a story books: the first free slot from `prefer` (exactly there when
    `exact`), and what happens in it."""

    kind: SessionKind
    prefer: datetime
    within: timedelta = timedelta(days=2)
    exact: bool = False
    notes: str | None = None
    measures: tuple[Measure, ...] = ()
    vitals: Vitals = field(default_factory=Vitals)
    ad_hoc: tuple[AdHoc, ...] = ()
    acknowledge: str | None = None  # the prescriber's note on any alert the dose raises
    room: str | None = None  # the room the front desk tries first, when it is free


@dataclass
class Story:
    patient: str
    template: str
    team: Mapping[str, str]  # prescriber_id / nurse_id / therapist_id -> staff key
    enrolled_at: datetime
    booked_at: datetime
    visits: list[Visit]
    course: Course | None = None

    @property
    def esketamine(self) -> bool:
        return self.template.startswith("esketamine")
