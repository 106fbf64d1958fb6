"""What clinics tells the packages above it when a staff member becomes bookable at
times they were not (the waitlist offers that time like time a cancellation freed).
Each is sent inside the change's own transaction, after it is flushed, so a receiver's
writes commit or roll back with it. Clinics never imports its subscribers.

- `working_hours_added`: sender the StaffMember, `added=` the weekly intervals (clinic
  wall clock) the new working week has that the old one had not, `now=`.
- `time_off_withdrawn`: sender the StaffMember, `starts_at=`, `ends_at=` the withdrawn
  time off (UTC), `now=`.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

working_hours_added = _signals.signal("working-hours-added")
time_off_withdrawn = _signals.signal("time-off-withdrawn")
