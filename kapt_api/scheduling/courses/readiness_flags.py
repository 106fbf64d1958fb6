"""Readiness flags of a dose: protocol rules its course's current schedule no longer
meets for it, because a session it depended on was cancelled or missed.

They are rules.py's own findings on the current schedule (`readiness_findings`, those
of `schedule_findings` for these two rules; counted sessions only: booked, checked in,
in progress, completed), kept for the doses not yet given (booked or checked in):
`preparation_incomplete` on the course's first dose, `integration_missing` on the dose
after the one left without its integration session. A cancel or a no-show may leave
them (the patient is not coming whatever the API answers); check-in of a flagged dose
asks for an override.

Pure functions over values.py values: no database, no Flask.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from kapt_api.clinics.rules import local_text as when
from kapt_api.errors import Violation
from kapt_api.protocols.definition import ProtocolDefinition, SessionKind
from kapt_api.scheduling.courses.rules import BySessionKind, readiness_findings
from kapt_api.scheduling.courses.values import (
    AppointmentStatus,
    CourseSession,
    Finding,
)

# What a dose may lack once a session it depends on is cancelled or missed: the dose is
# flagged with it (readiness.py) and its check-in asks for an override.
READINESS_RULES = ("preparation_incomplete", "integration_missing")
# The rule codes a dose may be flagged with, as rules.py names them.
FLAGS = READINESS_RULES
# A dose whose administration is recorded (in progress, completed) is past readiness.
NOT_YET_GIVEN = frozenset({AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN})


def _dependent(finding: Finding, sessions: Mapping[uuid.UUID, CourseSession]) -> uuid.UUID:
    """The dose a readiness finding holds back: the later of its subjects (the first
    dose for a preparation, the next dose for a missing integration)."""
    subjects = [sessions[i] for i in finding.subjects if i in sessions]
    return max(subjects, key=lambda s: (s.starts_at, str(s.id))).id


def flag_findings(
    definition: ProtocolDefinition,
    sessions: Iterable[CourseSession],
    zone: str,
    *,
    split: BySessionKind | None = None,
) -> dict[uuid.UUID, list[Finding]]:
    """The readiness findings of each dose not yet given (by id); a dose missing from
    the answer is ready. Pure: the course's sessions in, no database. `split` is
    doses_preparations_integrations(sessions), when the caller has it."""
    listed = {s.id: s for s in sessions}
    flagged: dict[uuid.UUID, list[Finding]] = defaultdict(list)
    for finding in readiness_findings(definition, listed.values(), zone, split=split):
        if finding.rule not in FLAGS:
            continue
        dose = listed[_dependent(finding, listed)]
        if dose.kind is SessionKind.DOSING and dose.status in NOT_YET_GIVEN:
            flagged[dose.id].append(finding)
    return dict(flagged)


def flags_of(
    definition: ProtocolDefinition,
    sessions: Iterable[CourseSession],
    zone: str,
    *,
    split: BySessionKind | None = None,
) -> dict[uuid.UUID, list[str]]:
    """The flag codes of each flagged dose, in FLAGS order."""
    return {
        dose: sorted({f.rule for f in found}, key=FLAGS.index)
        for dose, found in flag_findings(definition, sessions, zone, split=split).items()
    }


def flags_left_by(
    definition: ProtocolDefinition,
    sessions: Sequence[CourseSession],
    *,
    gone: uuid.UUID,
    zone: str,
) -> dict[uuid.UUID, list[Finding]]:
    """The flags that appeared because session `gone` was cancelled or missed: those of
    the schedule as it is and not of the same schedule with `gone` still booked (the
    only status a session is cancelled or marked a no-show from)."""
    before = [replace(s, status=AppointmentStatus.BOOKED) if s.id == gone else s for s in sessions]
    earlier = flag_findings(definition, before, zone)
    appeared = {
        dose: [f for f in found if f not in earlier.get(dose, [])]
        for dose, found in flag_findings(definition, sessions, zone).items()
    }
    return {dose: found for dose, found in appeared.items() if found}


OVERRIDE_HINT = "A prescriber or administrator may check the patient in with an override."


def check_in_refusal(
    finding: Finding,
    definition: ProtocolDefinition,
    sessions: Sequence[CourseSession],
    zone: str,
) -> Violation:
    """Why a flagged dose may not be checked in, in words the front desk reads aloud."""
    sequencing = definition.sequencing
    if finding.rule == "preparation_incomplete":
        required = sequencing.preparation_sessions_required
        ready = finding.details.get("before_first_dose", 0)
        message = (
            f"This is the course's first dose: it needs {required} preparation session(s) "
            f"finished before it, and {ready} are booked or done."
        )
    else:
        by_id = {s.id: s for s in sessions}
        previous = min((by_id[i] for i in finding.subjects), key=lambda s: s.starts_at)
        missing = (
            "finished before this dose"
            if sequencing.next_dose_requires_integration_done
            else "booked in its window"
        )
        message = (
            f"The previous dose, on {when(previous.starts_at, zone)}, has no integration "
            f"session {missing}."
        )
    return replace(
        finding.violation(),
        message=f"{message} {OVERRIDE_HINT}",
        details={**finding.violation().details, "overridable": True},
    )
