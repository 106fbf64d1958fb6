"""The demo clinic that `make run` loads into an empty database: a busy, believable
Cedar Grove Clinic whose days are placed around the day and hour it is loaded.

Fictional people only. The logins are printed by `flask kapt demo-data` and listed in
the README; they exist so a newcomer can try every role at once.

How it is built: the clinic opens 60 days before "now"; then its history is replayed
in time order (replay.py) with the clock frozen at each step, every step through the
service a route would call (sessions.py): the front desk registers patients and books
at the first slot the slot search offers, prescribers enrol, nurses and therapists
check in, start, take the checklist's readings, discharge and complete, the reminder
dispatcher runs at each reminder's due time (through a console channel: the demo's
past never reaches a real inbox), and the agenda job this morning. So every rule of
the API holds for the demo as for real data; nothing is written behind the services'
backs, and a fresh scheduler finds nothing to catch up on. The courses: stories.py.

What depends on the hour (New York time), because the clinic opens 07:00-21:00 every
day and a dose lasts 150 minutes (stories.featured_dose_start):

- 07:45-19:15: the featured dose (IM KAP) started 45 to 50 minutes ago: in progress,
  its checklist open with the readings so far and one open alert (blood pressure
  186/104 at the 40-minute check). 19:15-21:00: it started at 18:30, the latest a
  dose can, and is still in progress (its patient discharged from 20:35).
- 21:00-24:00: nothing can be under way; the featured dose is today's 18:30 one,
  completed, its alert still open for the prescriber. 00:00-07:45: the same for
  yesterday's 18:30 dose, and today's sessions are all still to come.

Whatever the hour, today's schedule holds intake, preparation, dosing, integration
and follow-up sessions, and the one open alert is there. Loading commits as it goes
(the dispatcher is a job's body and commits): a load that failed half-way is undone
with `--reset`.
"""

from __future__ import annotations

from sqlalchemy import func, inspect, select

from kapt_api.auth import service as auth_service
from kapt_api.auth.models import User
from kapt_api.clinics.models import Clinic
from kapt_api.db import db
from kapt_api.demo.loading import load
from kapt_api.demo.people import CLINIC_NAME, CLINIC_ZONE, LOGINS, DemoLogin
from kapt_api.demo.stories import featured_dose_start

__all__ = [
    "CLINIC_NAME",
    "CLINIC_ZONE",
    "LOGINS",
    "DemoLogin",
    "database_has_users",
    "demo_loaded",
    "featured_dose_start",
    "foreign_contents",
    "load",
]


def database_has_users() -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(User)))


def demo_loaded() -> bool:
    return auth_service.find_user_by_email(LOGINS[0].email) is not None


def foreign_contents() -> list[str]:
    """What the database holds besides the demo clinic, in words (empty: nothing, or
    only the demo, which `--reset` may then replace)."""
    if "users" not in inspect(db.session.connection()).get_table_names():
        return []
    found = []
    others = db.session.scalar(
        select(func.count()).select_from(Clinic).where(Clinic.name != CLINIC_NAME)
    )
    if others:
        found.append(f"{others} clinic(s) other than {CLINIC_NAME}")
    demo_emails = [login.email for login in LOGINS]
    strangers = db.session.scalar(
        select(func.count()).select_from(User).where(User.email.not_in(demo_emails))
    )
    if strangers:
        found.append(f"{strangers} login(s) that are not the demo's")
    return found
