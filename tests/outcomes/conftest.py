"""Outcome fixtures: the monitoring fixtures (a clinic, a care team, the built-in
protocols, courses and dosing appointments)."""

from tests.monitoring.conftest import (  # noqa: F401 - fixtures shared with monitoring
    make_appointment,
    make_course,
    make_team,
    now,
    team,
    versions,
)
