"""Courses, appointments and the booking rules: who may be where, when, and what a
patient's protocol allows next, in six sub-packages named by what the clinic does
(docs/architecture.md):

- `courses/`: enrol, progress, discontinue; a course's sequence rules (doses,
  spacing, phases, preparation and integration) and the readiness flags of its doses.
- `booking/`: appointments, their resource holds, the booking rules, attendance and
  the status steps.
- `availability/`: slot search, whole-course plans and batch booking.
- `days/`: day schedules, their readiness columns and the kept days.
- `feeds/`: staff members' private iCalendar feeds.
- `waitlist/`: courses waiting for an earlier session, the time cancellations free,
  and the offers that backfill it (docs/waitlist.md).

Each sub-package imports only those above it in this list, but for the models: the
tables are one schema joined by foreign keys, so any sub-package may read another's.
Other packages hear about changes through `booking/signals.py` and `courses/signals.py`.
"""
