"""The rolling 7-day dose limit, counted in the clinic's calendar days (DOMAIN.md §0.3):
no more than max_doses_per_7_days doses on any 7 consecutive calendar days of the
clinic's clocks.

Days, not 168 hours: a twice-weekly schedule (Monday and Thursday at 09:00) puts its
third dose on the Monday a week after the first, which is 167 hours later in the week
the clocks go forward (Europe/Dublin, Pacific/Chatham) and 167.5 in Lord Howe's. Counted
in hours that dose fell inside the first one's window; counted in days it is on day 8,
as the clinic and the patient see it. Rules stated in hours (the minimum spacing
between doses, the integration window, notice) count elapsed hours.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from kapt_api.clinics.rules import local_text as when
from kapt_api.protocols.definition import ProtocolDefinition
from kapt_api.scheduling.courses.phases import WEEK_DAYS, day_text, local_date, midnight
from kapt_api.scheduling.courses.values import CourseSession, Finding

DEFINITION = "7 consecutive calendar days on the clinic's clocks"


def weekly_dose_limit(
    definition: ProtocolDefinition, doses: Sequence[CourseSession], zone: str
) -> list[Finding]:
    """No more than max_doses_per_7_days doses on the 7 clinic calendar days that start
    on any dose's day (doses in time order)."""
    limit = definition.sequencing.max_doses_per_7_days
    days = [local_date(d.starts_at, zone) for d in doses]
    findings: dict[frozenset[uuid.UUID], Finding] = {}
    for first in days:
        last = first + timedelta(days=WEEK_DAYS - 1)
        window = [d for d, day in zip(doses, days, strict=True) if first <= day <= last]
        group = frozenset(d.id for d in window)
        if len(window) > limit and group not in findings:
            findings[group] = Finding(
                "weekly_dose_limit",
                group,
                f"{len(window)} doses would fall within 7 days ({when(window[0].starts_at, zone)} "
                f"to {when(window[-1].starts_at, zone)}, all from {day_text(first)} to "
                f"{day_text(last)}); this protocol allows at most {limit} in any {DEFINITION}.",
                {"max_doses_per_7_days": limit, "counted_in": DEFINITION},
            )
    return list(findings.values())


def next_dose_allowed_from(
    definition: ProtocolDefinition, doses: Sequence[CourseSession], zone: str
) -> datetime | None:
    """The first instant a next dose keeps the limit: the start of the clinic calendar
    day 7 days after the dose `limit` doses back (None: fewer doses than that)."""
    limit = definition.sequencing.max_doses_per_7_days
    if len(doses) < limit:
        return None
    return midnight(local_date(doses[-limit].starts_at, zone) + timedelta(days=WEEK_DAYS), zone)
