"""What a course tells the sub-packages and packages above it (DESIGN.md: imports run one
way, news travels up by signal). Each is sent inside the change's own transaction, so a
receiver's writes commit or roll back with it."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Asked (sender: the course, `now=`) before a dosing session is booked or moved. A
# receiver (monitoring) returns a sentence saying why the course's last checklist
# holds the next dose for a prescriber's decision, or None. Nobody answering means
# no hold. The answer feeds the pre_dose_gate rule.
pre_dose_hold_check = _signals.signal("pre-dose-hold-check")

# Sent (sender: the course, `reason=`, `reason_category=`, `by=`, `now=`) once a course
# is discontinued, its status already set. Booking (receivers.py) cancels the course's
# booked sessions still to come, each with that reason and category.
course_discontinued = _signals.signal("course-discontinued")
