"""Monitoring use cases, one module for each part, gathered here under the name every
domain gives its use cases: the checklist opened at check-in and found for a clinician
(sessions.py), readings, their corrections and the alerts they raise (readings.py). The
hold is hold.py, discharge discharge.py, the REMS form rems.py.

They flush and never commit. Values are never logged.
"""

from __future__ import annotations

from kapt_api.monitoring.readings import record_reading
from kapt_api.monitoring.sessions import (
    RESOURCE,
    Checklist,
    PatientRecord,
    all_readings,
    care_team,
    checklist,
    checklist_states,
    current_readings,
    day_states,
    escort_states,
    facts_of,
    find_session,
    occurrences,
    open_session,
    reach_clinical,
    session_of_appointment,
    template_of,
)

__all__ = [
    "RESOURCE",
    "Checklist",
    "PatientRecord",
    "all_readings",
    "care_team",
    "checklist",
    "checklist_states",
    "current_readings",
    "day_states",
    "escort_states",
    "facts_of",
    "find_session",
    "occurrences",
    "open_session",
    "reach_clinical",
    "record_reading",
    "session_of_appointment",
    "template_of",
]
