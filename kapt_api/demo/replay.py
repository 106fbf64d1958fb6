"""Travelling through the demo's history in order, honestly.

Each thing that happened in the demo clinic is an event at a moment in the past: a
booking, a check-in, a reading, a discharge. The timeline plays them in time order
with the clock frozen at each one (services get it as `now=` too), so a booking is
made before its session, a reading is taken during it, and every rule is asked at
the moment it would have been asked. Events later than the demo's "now" have not
happened and are dropped: a session booked for this afternoon stays booked.

Between events, the reminder dispatcher runs at each moment a reminder falls due,
as the scheduler would have, through a console channel: a demo never sends real
mail or texts about its past, whatever SMTP or SMS gateway is configured. The
dispatcher commits (it is a job's body), so a load commits as it goes.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from kapt_api import clock
from kapt_api.db import db
from kapt_api.reminders import dispatcher
from kapt_api.reminders.channels import Channel, ConsoleChannel
from kapt_api.reminders.models import Reminder, Status

Act = Callable[[datetime], object]


@dataclass(order=True)
class _Event:
    at: datetime
    number: int
    act: Act = field(compare=False)


@contextmanager
def quiet_console() -> Iterator[None]:
    """The console channel logs every message it delivers; replaying weeks of history
    would print a line per past reminder at load time, so those lines are held back."""
    logger = logging.getLogger("kapt.reminders")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def travelled(to: datetime) -> Iterator[None]:
    """The clock frozen at `to` for one step, then put back as it was."""
    kept = clock.frozen_at()
    clock.freeze(to)
    try:
        yield
    finally:
        _restore(kept)


def _restore(kept: datetime | None) -> None:
    if kept is None:
        clock.unfreeze()
    else:
        clock.freeze(kept)


class Timeline:
    """Events in time order up to `until`; `run` plays them."""

    def __init__(self, *, until: datetime) -> None:
        self.until = until
        self._events: list[_Event] = []
        self._numbers = itertools.count()
        self._playing: datetime | None = None
        console = ConsoleChannel()
        self.channels: dict[str, Channel] = {"email": console, "sms": console, "webhook": console}

    def at(self, when: datetime, act: Act) -> None:
        """Plan `act` for `when`, unless that is still to come."""
        if self._playing is not None and when < self._playing:
            raise ValueError(f"an event at {when} planned from {self._playing}: time runs forward")
        if when <= self.until:
            heapq.heappush(self._events, _Event(when, next(self._numbers), act))

    def run(self) -> None:
        """Play every event in order, the dispatcher keeping up, then put the clock back."""
        kept = clock.frozen_at()
        try:
            with quiet_console():
                while self._events:
                    event = heapq.heappop(self._events)
                    self._deliver(up_to=event.at)
                    self._playing = event.at
                    clock.freeze(event.at)
                    event.act(event.at)
                    db.session.flush()
                self._deliver(up_to=self.until)
        finally:
            self._playing = None
            _restore(kept)

    def _deliver(self, *, up_to: datetime) -> None:
        """Run the dispatcher at each moment a reminder fell due, up to `up_to`."""
        config = current_app.config
        limits = dispatcher.Limits.from_config(config)
        while (due := _next_due()) is not None and due <= up_to:
            clock.freeze(due)
            report = dispatcher.dispatch_due(
                now=due,
                batch_size=config["KAPT_REMINDER_BATCH_SIZE"],
                channel_registry=self.channels,
                worker="demo-history",
                limits=limits,
            )
            if report.claimed + report.expired == 0:
                return  # claimed elsewhere (a lease): nothing more this dispatcher can do


def _next_due() -> datetime | None:
    found: datetime | None = db.session.scalar(
        select(func.min(Reminder.next_attempt_at)).where(Reminder.status == Status.PENDING.value)
    )
    return found
