"""What patient links tell the packages above scheduling. There is no front-desk alert
in scheduling or monitoring (monitoring's alerts go to the care team's clinicians), so
a patient's late cancellation is announced here and reminders, which owns the outbox,
emails the clinic's front desk (reminders/front_desk.py).

Sent with the appointment as sender and `now=`, inside the cancellation's transaction.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

late_cancellation_by_patient = _signals.signal("late-cancellation-by-patient")
