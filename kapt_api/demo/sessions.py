"""A course's story as the clinic lived it: the prescriber enrols the patient, the front
desk books each session at the first free slot the slot search offers from the time
the story prefers, and each session then runs its course on the day: check-in, start,
questionnaires, the monitoring checklist of a dose (doses.py), completion.

Every step goes through the service a route would call, after the same `find_*`
look-up (so the same access rules and audit apply), at its moment on the timeline.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from kapt_api.demo import doses
from kapt_api.demo.people import Cast
from kapt_api.demo.plans import MINUTE, Measure, Story, Visit
from kapt_api.demo.replay import Timeline
from kapt_api.outcomes import service as outcomes
from kapt_api.patients.policy import Caller
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.availability import service as availability_service
from kapt_api.scheduling.booking import attendance, queries
from kapt_api.scheduling.booking import service as booking_service
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.courses import service

STEP = timedelta(minutes=5)  # the slot search's grid: a story may prefer 10:35
NURSES = ("okafor", "baptiste")


class DemoRefused(RuntimeError):
    """The demo asked for something the rules (or the calendar) do not allow."""


def answers(instrument: str, total: int) -> list[int]:
    """Answers 0-3 adding up to `total`. PHQ-9's item 9 (thoughts of self-harm) stays
    at 0: above 0 it raises a critical alert, which is not this demo's story."""
    count, spread = (9, 8) if instrument == "phq9" else (7, 7)
    items = [0] * count
    for number in range(total):
        items[number % spread] += 1
    return items


def _book_in_first_free(
    rooms: list[uuid.UUID], booking: dict[str, Any], *, by: Caller, now: datetime
) -> Appointment:
    """Book in the first of these rooms the rules accept (the last is the slot's own)."""
    for number, room_id in enumerate(rooms, start=1):
        try:
            return booking_service.book(**booking, room_id=room_id, by=by, now=now)
        except booking_service.BookingRefused:
            if number == len(rooms):
                raise  # the slot's own room, which the search found free
    raise AssertionError("no room to try")


class Clinic:
    """Tells stories on a timeline, through the services."""

    def __init__(self, cast: Cast, timeline: Timeline, versions: Mapping[str, uuid.UUID]) -> None:
        self.cast = cast
        self.timeline = timeline
        self.versions = versions
        self.by_staff = {member.id: key for key, member in cast.staff.items()}

    def who(self, key: str) -> Caller:
        return self.cast.callers[key]

    def tell(self, story: Story) -> None:
        self.timeline.at(story.enrolled_at, partial(self._enrol, story))
        for visit in sorted(story.visits, key=lambda v: v.prefer):
            self.timeline.at(story.booked_at, partial(self._book, story, visit))

    def _enrol(self, story: Story, now: datetime) -> None:
        story.course = service.enroll(
            patient_id=self.cast.patients[story.patient].id,
            protocol_version_id=self.versions[story.template],
            care_team={role: self.cast.staff[key].id for role, key in story.team.items()},
            by=self.who("reyes"),
            now=now,
        )

    def _book(self, story: Story, visit: Visit, now: datetime) -> None:
        """The front desk books the first free slot from the visit's preferred time, in
        the room the story prefers when that room is free then too."""
        assert story.course is not None
        desk = self.who("patel")
        course = service.find_course(course_id=story.course.id, by=desk)
        found = availability_service.find_slots(
            course=course,
            kind=visit.kind,
            starts_from=visit.prefer,
            until=visit.prefer + (STEP if visit.exact else visit.within),
            now=now,
            step=STEP,
            limit=1,
        )
        if not found:
            raise DemoRefused(f"no {visit.kind} slot for {story.patient} from {visit.prefer}")
        slot = found[0]
        rooms = [slot.room_id]
        if visit.room is not None and self.cast.rooms[visit.room].id != slot.room_id:
            rooms.insert(0, self.cast.rooms[visit.room].id)
        booking = {
            "course_id": course.id,
            "kind": visit.kind,
            "starts_at": slot.starts_at,
            "staff_ids": list(slot.staff_ids),
        }
        self._plan_day(story, visit, _book_in_first_free(rooms, booking, by=desk, now=now))

    # --- the day of a session ---------------------------------------------------------------

    def lead(self, appointment: Appointment) -> str:
        """Who runs the session and takes the readings: its nurse, else its first clinician."""
        keys = [self.by_staff[i] for i in appointment.staff_ids]
        return next((k for k in keys if k in NURSES), keys[0])

    def _plan_day(self, story: Story, visit: Visit, appointment: Appointment) -> None:
        at, lead, ident = self.timeline.at, self.lead(appointment), appointment.id
        start, end = appointment.starts_at, appointment.ends_at
        at(start - 10 * MINUTE, partial(self._advance, ident, attendance.check_in, "patel"))
        dosing = visit.kind is SessionKind.DOSING
        for measure in visit.measures:
            when = start - 8 * MINUTE if dosing else end - 5 * MINUTE
            at(when, partial(self._measure, story, ident if dosing else None, measure, lead))
        at(start, partial(self._advance, ident, attendance.start, lead))
        if dosing:
            doses.plan(self.timeline, self.who, lead, story, visit, appointment)
        at(end, partial(self._advance, ident, attendance.complete, lead, notes=visit.notes))

    def _advance(
        self,
        appointment_id: uuid.UUID,
        change: Callable[..., Appointment],
        key: str,
        now: datetime,
        notes: str | None = None,
    ) -> None:
        """One step of the appointment's status machine (check in, start, complete)."""
        who = self.who(key)
        appointment = queries.find_appointment(
            appointment_id=appointment_id, by=who, action="update", for_change=True
        )
        extra: dict[str, Any] = {"clinical_notes": notes} if notes else {}
        change(appointment=appointment, by=who, now=now, **extra)

    def _measure(
        self, story: Story, dose: uuid.UUID | None, measure: Measure, key: str, now: datetime
    ) -> None:
        """The session's clinician takes the questionnaire: before a dose, else near the
        end of the session."""
        assert story.course is not None
        who = self.who(key)
        course = outcomes.find_course(course_id=story.course.id, by=who, action="create")
        outcomes.record_measure(
            course=course,
            instrument=measure.instrument,
            items=answers(measure.instrument, measure.total),
            measured_at=now,
            by=who,
            now=now,
            appointment_id=dose,
        )
