"""The protocol checker's own model of the booking rules (issue 12, item 4): given a
protocol version's definition as the API answers it (plain JSON) and a course's
sessions, which rule codes should refuse a request.

Written from the rules as spec12.md and API.md state them, not from kapt_api's rules
code (nothing is imported from it), so that the checker and the API can disagree. Times
are aware datetimes; "7 days" is 168 hours from a dose, a course week is 7 clinic-local
calendar days from the local day of the first counted dose.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise, permutations
from typing import Any
from zoneinfo import ZoneInfo

# Appointments that happened or will happen: only these count and hold resources.
COUNTED = frozenset({"booked", "checked_in", "in_progress", "completed"})
NOT_GIVEN = frozenset({"booked", "checked_in"})
TRANSITIONS = {
    "booked": {"checked_in", "cancelled", "no_show"},
    "checked_in": {"in_progress"},
    "in_progress": {"completed"},
}
# API.md: an override covers a clinical rule, never a resource conflict (nor the past,
# nor a course that has ended).
NOT_OVERRIDABLE = frozenset(
    {"staff_conflict", "room_conflict", "patient_conflict", "in_the_past", "course_not_active"}
)
RESOURCE_RULES = frozenset({"staff_conflict", "room_conflict", "patient_conflict"})

Finding = tuple[str, frozenset[str]]


@dataclass(frozen=True)
class SessionType:
    kind: str
    minutes: int
    buffer: int
    notice_hours: int
    room_kind: str
    roles: tuple[frozenset[str], ...]


@dataclass(frozen=True)
class Phase:
    first_week: int
    last_week: int | None  # None: open-ended maintenance (the last phase only)
    per_period: int
    period_weeks: int

    def holds(self, week: int) -> bool:
        return self.first_week <= week and (self.last_week is None or week <= self.last_week)


@dataclass(frozen=True)
class Protocol:
    """What the checker needs of a protocol version's definition."""

    types: Mapping[str, SessionType]
    dose_count: int
    phases: tuple[Phase, ...]
    min_hours: int
    max_per_7_days: int
    preparations: int
    integration_required: bool
    window: tuple[int, int] | None  # hours after a dose ENDS
    integration_done_first: bool

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> Protocol:
        seq = definition["sequencing"]
        window = seq.get("integration_window_hours")
        return cls(
            types={
                t["kind"]: SessionType(
                    t["kind"],
                    t["duration_minutes"],
                    t.get("buffer_after_minutes", 0),
                    t.get("min_notice_hours", 0),
                    t["room_kind"],
                    tuple(frozenset(r["any_of"]) for r in t["required_roles"]),
                )
                for t in definition["session_types"]
            },
            dose_count=seq["dose_count"],
            phases=tuple(
                Phase(p["first_week"], p.get("last_week"), p["doses_per_period"], p["period_weeks"])
                for p in seq.get("phases") or ()
            ),
            min_hours=seq["min_hours_between_doses"],
            max_per_7_days=seq["max_doses_per_7_days"],
            preparations=seq["preparation_sessions_required"],
            integration_required=seq["integration_required"],
            window=(window["start"], window["end"]) if window else None,
            integration_done_first=seq.get("next_dose_requires_integration_done", False),
        )

    @property
    def open_ended(self) -> bool:
        """A maintenance phase with no end: no dose limit, no automatic completion."""
        return bool(self.phases) and self.phases[-1].last_week is None


@dataclass
class Session:
    id: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    held_until: datetime
    room: str
    staff: tuple[str, ...]
    status: str = "booked"
    override: frozenset[str] = frozenset()

    @property
    def counted(self) -> bool:
        return self.status in COUNTED


@dataclass(frozen=True)
class Place:
    """The clinic as the checker set it up: its zone, hours, rooms and people."""

    zone: str
    opening: tuple[time, time]  # weekdays
    working: tuple[time, time]  # everyone's, weekdays
    room_kinds: Mapping[str, str]
    roles: Mapping[str, frozenset[str]]


def _covered(start: datetime, end: datetime, hours: tuple[time, time], zone: str) -> bool:
    a, b = start.astimezone(ZoneInfo(zone)), end.astimezone(ZoneInfo(zone))
    return (
        a.date() == b.date() and a.weekday() < 5 and hours[0] <= a.time() and b.time() <= hours[1]
    )


def _roles_filled(needed: Sequence[frozenset[str]], people: Sequence[frozenset[str]]) -> bool:
    if len(people) < len(needed):
        return False
    return any(
        all(need & person for need, person in zip(needed, chosen, strict=True))
        for chosen in permutations(people, len(needed))
    )


# --- the protocol's sequencing over a whole schedule ----------------------------------------


def _of(sessions: Iterable[Session], kind: str) -> list[Session]:
    return sorted((s for s in sessions if s.counted and s.kind == kind), key=lambda s: s.starts_at)


def _in_window(protocol: Protocol, integration: Session, dose: Session) -> bool:
    assert protocol.window is not None
    opens, closes = (dose.ends_at + timedelta(hours=h) for h in protocol.window)
    return opens <= integration.starts_at <= closes


def _course_weeks(doses: Sequence[Session], zone: str) -> dict[str, int]:
    """Each dose's course week: 7 local calendar days counted from the first dose's day."""
    if not doses:
        return {}
    local = ZoneInfo(zone)
    first: date = doses[0].starts_at.astimezone(local).date()
    return {d.id: (d.starts_at.astimezone(local).date() - first).days // 7 + 1 for d in doses}


def _phase_periods(protocol: Protocol, doses: Sequence[Session], zone: str) -> list[Finding]:
    """A period of a phase holding more doses than the phase allows (later weeks belong
    to the last phase, whose periods go on)."""
    if not protocol.phases:
        return []
    periods: dict[tuple[int, int], set[str]] = defaultdict(set)
    last = len(protocol.phases) - 1
    for dose_id, week in _course_weeks(doses, zone).items():
        index = next((i for i, p in enumerate(protocol.phases) if p.holds(week)), None)
        ending = protocol.phases[last].last_week
        if index is None and ending is not None and week > ending:
            index = last
        if index is None:
            continue
        phase = protocol.phases[index]
        periods[index, (week - phase.first_week) // phase.period_weeks].add(dose_id)
    return [
        ("phase_frequency", frozenset(ids))
        for (index, _), ids in periods.items()
        if len(ids) > protocol.phases[index].per_period
    ]


def findings(protocol: Protocol, sessions: Iterable[Session], zone: str) -> set[Finding]:
    """Every sequencing rule the counted sessions break, each with the sessions it is about."""
    listed = list(sessions)
    doses = _of(listed, "dosing")
    preparations, integrations = _of(listed, "preparation"), _of(listed, "integration")
    found: set[Finding] = set()
    if not protocol.open_ended and len(doses) > protocol.dose_count:
        found.add(("course_dose_limit", frozenset(d.id for d in doses)))
    for a, b in pairwise(doses):
        if b.starts_at - a.starts_at < timedelta(hours=protocol.min_hours):
            found.add(("too_soon_after_previous_dose", frozenset({a.id, b.id})))
    # 7 consecutive calendar days on the clinic's clocks, from any dose's day.
    day = {d.id: d.starts_at.astimezone(ZoneInfo(zone)).date() for d in doses}
    for dose in doses:
        window = [d.id for d in doses if 0 <= (day[d.id] - day[dose.id]).days < 7]
        if len(window) > protocol.max_per_7_days:
            found.add(("weekly_dose_limit", frozenset(window)))
    found.update(_phase_periods(protocol, doses, zone))
    if protocol.preparations and doses:
        ready = [p for p in preparations if p.ends_at <= doses[0].starts_at]
        if len(ready) < protocol.preparations:
            found.add(("preparation_incomplete", frozenset({doses[0].id})))
    if protocol.window is not None:
        for integration in integrations:
            if not any(_in_window(protocol, integration, d) for d in doses):
                found.add(("integration_outside_window", frozenset({integration.id})))
    if protocol.integration_required:
        found.update(
            ("integration_missing", frozenset({a.id, b.id}))
            for a, b in pairwise(doses)
            if not _integrated(protocol, integrations, a, b)
        )
    return found


def _integrated(
    protocol: Protocol, integrations: Sequence[Session], dose: Session, following: Session
) -> bool:
    def after(i: Session) -> bool:
        if protocol.window is None:
            return dose.ends_at <= i.starts_at
        return _in_window(protocol, i, dose)

    return any(
        after(i) and (not protocol.integration_done_first or i.ends_at <= following.starts_at)
        for i in integrations
    )


# --- a course and the requests made of it -----------------------------------------------------


@dataclass
class Course:
    """One course as the checker believes it stands."""

    protocol: Protocol
    place: Place
    patient: str
    sessions: list[Session] = field(default_factory=list)
    active: bool = True

    def session(self, kind: str, starts_at: datetime, room: str, staff: Sequence[str]) -> Session:
        kind_type = self.protocol.types[kind]
        ends_at = starts_at + timedelta(minutes=kind_type.minutes)
        held = ends_at + timedelta(minutes=kind_type.buffer)
        return Session("new", kind, starts_at, ends_at, held, room, tuple(staff))

    def placing(self, wanted: Session, *, now: datetime, moving: Session | None = None) -> set[str]:
        """Every rule booking `wanted` (or moving `moving` there) breaks, overrides aside."""
        codes: set[str] = set()
        if not self.active:
            codes.add("course_not_active")
        if moving is None or moving.starts_at != wanted.starts_at:
            notice = timedelta(hours=self.protocol.types[wanted.kind].notice_hours)
            if wanted.starts_at < now:
                codes.add("in_the_past")
            elif wanted.starts_at < now + notice:
                codes.add("minimum_notice")
        codes |= self._calendar(wanted, moving)
        codes |= self._sequencing(wanted, moving)
        return codes

    def _calendar(self, wanted: Session, moving: Session | None) -> set[str]:
        place, kind_type = self.place, self.protocol.types[wanted.kind]
        codes = set()
        mine = {
            ("patient", self.patient),
            ("room", wanted.room),
            *(("staff", s) for s in wanted.staff),
        }
        for other in self.sessions:
            if not other.counted or (moving is not None and other.id == moving.id):
                continue
            if other.starts_at < wanted.held_until and wanted.starts_at < other.held_until:
                theirs = {("patient", self.patient), ("room", other.room)}
                theirs |= {("staff", s) for s in other.staff}
                codes |= {f"{what}_conflict" for what, _ in mine & theirs}
        if not all(
            _covered(wanted.starts_at, wanted.ends_at, place.working, place.zone)
            for _ in wanted.staff
        ):
            codes.add("outside_working_hours")
        if not _covered(wanted.starts_at, wanted.ends_at, place.opening, place.zone):
            codes.add("outside_clinic_hours")
        if place.room_kinds[wanted.room] != kind_type.room_kind:
            codes.add("wrong_room_kind")
        if not _roles_filled(kind_type.roles, [place.roles[s] for s in wanted.staff]):
            codes.add("missing_role")
        return codes

    def _sequencing(self, wanted: Session, moving: Session | None) -> set[str]:
        """As a schedule is judged: a finding that involves the booked (moved) session, or
        that the change brings about; one broken before and untouched is not its doing."""
        changed = moving.id if moving is not None else wanted.id
        placed = Session(
            changed,
            wanted.kind,
            wanted.starts_at,
            wanted.ends_at,
            wanted.held_until,
            wanted.room,
            wanted.staff,
        )
        before = findings(self.protocol, self.sessions, self.place.zone)
        after = findings(
            self.protocol, [s for s in self.sessions if s.id != changed] + [placed], self.place.zone
        )
        return {rule for rule, about in after if changed in about or (rule, about) not in before}

    def flags(self, dose: Session) -> set[str]:
        """spec12.md readiness: what a dose not yet given lacks on the current schedule."""
        if dose.kind != "dosing" or dose.status not in NOT_GIVEN:
            return set()
        current = findings(self.protocol, self.sessions, self.place.zone)
        flagged = set()
        for rule, about in current:
            if rule == "preparation_incomplete" and dose.id in about:
                flagged.add(rule)
            if rule == "integration_missing" and self._later_of(about) == dose.id:
                flagged.add(rule)
        return flagged

    def _later_of(self, ids: frozenset[str]) -> str:
        return max((s for s in self.sessions if s.id in ids), key=lambda s: s.starts_at).id

    def cancelling(self, session: Session) -> set[str]:
        """What removing this session breaks that was not broken before and still refuses
        the cancel: an integration session left with no dose to follow. A dose left
        without its preparation or integration is flagged instead (spec12.md)."""
        before = findings(self.protocol, self.sessions, self.place.zone)
        after = findings(
            self.protocol, [s for s in self.sessions if s is not session], self.place.zone
        )
        flagged = {"preparation_incomplete", "integration_missing"}
        return {rule for rule, _about in after - before} - flagged

    def finished(self) -> bool:
        """Every dose done (and the last one's integration, where required); a course with
        an open-ended maintenance phase ends only by discontinue."""
        if self.protocol.open_ended:
            return False
        done = [s for s in self.sessions if s.status == "completed"]
        doses = sorted((s for s in done if s.kind == "dosing"), key=lambda s: s.starts_at)
        if len(doses) < self.protocol.dose_count:
            return False
        if not self.protocol.integration_required:
            return True
        last = doses[-1]
        return any(
            i.kind == "integration"
            and i.starts_at >= last.ends_at
            and (self.protocol.window is None or _in_window(self.protocol, i, last))
            for i in done
        )


def blocking(codes: set[str], override: Iterable[str]) -> set[str]:
    """The codes an override (of these rule codes) leaves refusing the request."""
    return codes - (set(override) - NOT_OVERRIDABLE)
