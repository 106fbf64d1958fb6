"""Monitoring decisions over plain values, one module for each part, gathered here under
the name every domain gives its decisions: which timepoints are due, done or overdue
(checklist_rules.py), which values are impossible and which cross a threshold
(reading_rules.py), whether a patient may leave (discharge_rules.py).

No database, no Flask; `now` is passed in.
"""

from __future__ import annotations

from kapt_api.monitoring.checklist_rules import (
    Filing,
    Occurrence,
    ReadingFact,
    TimepointState,
    checklist_status,
    end_minutes,
    filing,
)
from kapt_api.monitoring.discharge_rules import DischargeFacts, discharge_violations
from kapt_api.monitoring.reading_rules import (
    Breach,
    Value,
    breaches,
    latest_values,
    value_problems,
)

__all__ = [
    "Breach",
    "DischargeFacts",
    "Filing",
    "Occurrence",
    "ReadingFact",
    "TimepointState",
    "Value",
    "breaches",
    "checklist_status",
    "discharge_violations",
    "end_minutes",
    "filing",
    "latest_values",
    "value_problems",
]
