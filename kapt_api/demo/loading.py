"""Loading the demo: open the clinic in the past, then replay every story up to now,
with this morning's run of the scheduler's agenda job."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from kapt_api import clock
from kapt_api.db import db
from kapt_api.demo import people
from kapt_api.demo.people import LOGINS, Cast, DemoLogin
from kapt_api.demo.replay import Timeline, travelled
from kapt_api.demo.sessions import Clinic, Story
from kapt_api.demo.stories import at, local_day, stories
from kapt_api.protocols import service as protocols
from kapt_api.protocols.templates import TEMPLATES
from kapt_api.reminders import agenda

OPENED_DAYS_AGO = 60
REGISTERED_BEFORE = timedelta(hours=2)  # the front desk registers, then the prescriber enrols
REMS_ENROLLED = "esketamine-rems-induction"


def _open(now: datetime) -> tuple[Cast, dict[str, uuid.UUID]]:
    opened = at(local_day(now) - timedelta(days=OPENED_DAYS_AGO), time(8))
    with travelled(opened):
        cast = people.open_clinic(now=opened)
        installed = protocols.install_builtin_templates(by=cast.admin, now=opened)
    keys = {template.name: key for key, template in TEMPLATES.items()}
    return cast, {keys[p.name]: p.versions[0].id for p in installed}


def _register(cast: Cast, timeline: Timeline, story: Story) -> None:
    registered = story.enrolled_at - REGISTERED_BEFORE
    timeline.at(registered, lambda now: people.register_patient(cast, story.patient, now=now))
    if story.template == REMS_ENROLLED:
        day = local_day(registered)
        timeline.at(
            registered + timedelta(minutes=5),
            lambda now: people.enrol_in_rems(cast, story.patient, on=day, now=now),
        )


def _agenda(timeline: Timeline, *, now: datetime) -> None:
    """This morning's therapist agendas, as the scheduler's job wrote them at the agenda
    time (it runs every few minutes; the first run after that time writes them)."""
    timeline.at(at(local_day(now), agenda.agenda_time()), lambda t: agenda.write_agendas(now=t))


def load() -> list[DemoLogin]:
    """Create the demo clinic and its history up to now; returns the logins to print."""
    now = clock.now()
    cast, versions = _open(now)
    timeline = Timeline(until=now)
    _agenda(timeline, now=now)
    clinic = Clinic(cast, timeline, versions)
    for story in stories(now):
        _register(cast, timeline, story)
        clinic.tell(story)
    timeline.run()
    db.session.flush()
    return list(LOGINS)
