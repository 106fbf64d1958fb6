"""What booking tells the packages above it (DESIGN.md: imports run one way, news
travels up by signal). Each is sent inside the booking's own transaction, after the
change is flushed and before it is committed, so a subscriber's writes (reminders
planned, moved, cancelled) commit or roll back with it. Scheduling never imports
its subscribers.

Every signal is sent with the appointment as sender and `now=` (the time the change
was made); appointment_moved adds `previous_starts_at=`, appointment_cancelled adds
`late=` (inside the cancellation notice window).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

appointment_booked = _signals.signal("appointment-booked")
appointment_moved = _signals.signal("appointment-moved")
appointment_cancelled = _signals.signal("appointment-cancelled")
appointment_completed = _signals.signal("appointment-completed")
appointment_checked_in = _signals.signal("appointment-checked-in")
appointment_no_show = _signals.signal("appointment-no-show")

# Asked (sender: the appointment, `now=`) before a session starts. A receiver
# (monitoring) returns a sentence saying why the session is held for a prescriber's
# decision, or None; it may note the start time. Any answer refuses the start with
# pre_dose_gate.
appointment_starting = _signals.signal("appointment-starting")

# The patient said they will come (their link or a text): sender the appointment, `now=`.
appointment_confirmed = _signals.signal("appointment-confirmed")
