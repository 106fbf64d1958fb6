"""Day schedules: a clinic's day by room and by staff member, and one person's day, each
appointment with its readiness flags.

A day is a calendar day on the clinic's clocks (23 or 25 hours long on the days the
clocks change). An appointment belongs to the day when it overlaps it. The front desk
sees patients' names (never clinical notes); every patient shown is audited.

Answers are built as plain JSON-ready dicts (schemas.py documents them): a day is read
far more often than it changes, so a computed day is kept until its clinic's schedule
changes (cache.py). Every read is audited.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, literal_column, select

from kapt_api.auth import audit
from kapt_api.auth.models import CLINICAL_ROLES, User
from kapt_api.clinics.models import Clinic, StaffMember
from kapt_api.clinics.policy import StaffPost
from kapt_api.db import db
from kapt_api.errors import NotFound
from kapt_api.patients.policy import Caller, caller_at
from kapt_api.rows import read
from kapt_api.scheduling.booking.models import ScheduleVersion
from kapt_api.scheduling.courses import policy
from kapt_api.scheduling.days import cache, readiness
from kapt_api.scheduling.days.cache import ComputedDay
from kapt_api.scheduling.days.policy import can_see_clinic_day, can_see_staff_day
from kapt_api.scheduling.days.rows import (
    DayRows,
    appointment_rows,
    day_of,
    people,
    people_and_rooms,
)

AUDITED_AS = "schedule"
Answer = dict[str, Any]


@dataclass(frozen=True)
class Shown:
    """What a day's appointments refer to: their people, rooms, staff and readiness."""

    people: dict[uuid.UUID, Answer]
    rooms: dict[uuid.UUID, Answer]
    booked: dict[uuid.UUID, list[uuid.UUID]]
    readiness: dict[uuid.UUID, Answer]

    def items(self, rows: Sequence[Any], zone: ZoneInfo) -> list[Answer]:
        """Each row as the day's answer lists it. A day's appointments share a few start
        and end times: each instant is written (UTC and on the clinic's clocks) once."""
        # One brief per person, shared by each appointment naming them (never changed).
        briefs = {i: {"id": p["id"], "name": p["name"]} for i, p in self.people.items()}
        written: dict[datetime, tuple[str, str]] = {}

        def instant(at: datetime) -> tuple[str, str]:
            found = written.get(at)
            if found is None:
                found = written[at] = (at.isoformat(), at.astimezone(zone).isoformat())
            return found

        rooms, booked, readiness = self.rooms, self.booked, self.readiness
        items = []
        for row in rows:
            starts, local_starts = instant(row.starts_at)
            ends, local_ends = instant(row.ends_at)
            items.append({
                "id": str(row.id),
                "course_id": str(row.course_id),
                "patient_id": str(row.patient_id),
                "patient_name": f"{row.given_name} {row.family_name}",
                "kind": row.kind,
                "status": row.status,
                "starts_at": starts,
                "ends_at": ends,
                "local_starts_at": local_starts,
                "local_ends_at": local_ends,
                "room": rooms[row.room_id],
                "staff": [briefs[s] for s in booked[row.id]],
                "readiness": readiness[row.id],
                "confirmed": row.confirmed_at is not None,
                "backfilled": row.offer_id is not None,
            })  # fmt: skip
        return items


def _shown(clinic_id: uuid.UUID, zone: str, found: DayRows, *, everyone: bool) -> Shown:
    """Everything the rows refer to; with `everyone`, also the clinic's idle rooms and
    active staff (a clinic's whole day lists them all)."""
    staff_ids = {s for ids in found.booked.values() for s in ids}
    room_ids = {r.room_id for r in found.rows}
    named = people_and_rooms(clinic_id if everyone else None, staff_ids, room_ids)
    return Shown(
        people=named.people,
        rooms=named.rooms,
        booked=found.booked,
        readiness=readiness.of_appointments(
            found.rows, zone=zone, course_sessions=found.course_sessions, versions=found.versions
        ),
    )


def _audited(day: ComputedDay, resource_id: uuid.UUID, by: Caller) -> ComputedDay:
    """One audited read naming every patient shown (their names are on the screen)."""
    audit.record_shown("read", AUDITED_AS, resource_id, patients=day.patients, actor_id=by.user_id)
    return day


def _shown_patients(rows: Sequence[Any]) -> audit.Shown:
    return audit.Shown.of(r.patient_id for r in rows)


def _by_name(entries: Iterable[Answer]) -> list[Answer]:
    return sorted(entries, key=lambda e: (e["name"].casefold(), e["id"]))


# Read before anything else on every clinic day: built once, only the clinic changes.
_ZONE_AND_VERSION = (
    select(Clinic.time_zone, ScheduleVersion.version)
    .outerjoin(ScheduleVersion, ScheduleVersion.clinic_id == Clinic.id)
    .where(Clinic.id == bindparam("clinic_id"))
)
# The same with the caller's staff record, which the day's permission needs: one round
# trip instead of two on every read of a day (a front desk reloads it all day). Left
# joins from a single row, so a caller with no staff record or an unknown clinic still
# reads one row, of nulls there.
_CALLER_ZONE_AND_VERSION = (
    select(
        StaffMember.id,
        StaffMember.clinic_id,
        StaffMember.active,
        Clinic.time_zone,
        ScheduleVersion.version,
    )
    .select_from(select(literal_column("1").label("one")).subquery())
    .outerjoin(StaffMember, StaffMember.user_id == bindparam("user_id"))
    .outerjoin(Clinic, Clinic.id == bindparam("clinic_id"))
    .outerjoin(ScheduleVersion, ScheduleVersion.clinic_id == Clinic.id)
)


def clinic_day(*, clinic_id: uuid.UUID, day: date, by: Caller) -> ComputedDay:
    """A clinic's day by room and by staff member, each appointment with its readiness."""
    found = read(_ZONE_AND_VERSION, {"clinic_id": clinic_id})
    zone, version = found[0] if found else (None, None)
    return _clinic_day_read(clinic_id, day, by, zone, version)


def clinic_day_for(*, clinic_id: uuid.UUID, day: date, user: User) -> ComputedDay:
    """clinic_day for this user, their staff record read in the clinic's statement."""
    (found,) = read(_CALLER_ZONE_AND_VERSION, {"user_id": user.id, "clinic_id": clinic_id})
    staff = StaffPost(found.id, found.clinic_id, found.active) if found.id is not None else None
    return _clinic_day_read(clinic_id, day, caller_at(user, staff), found.time_zone, found.version)


def _clinic_day_read(
    clinic_id: uuid.UUID, day: date, by: Caller, zone: str | None, version: int | None
) -> ComputedDay:
    """The day kept at this version or computed now, once `by` may see it; audited."""
    if zone is None or not by.works_in(clinic_id):
        raise NotFound("No clinic with this id.")
    policy.ensure(
        can_see_clinic_day(by, clinic_id),
        "Only front desk and administrators see the whole clinic's day; "
        "clinicians see their own (GET /staff/{id}/schedule).",
    )
    computed = cache.computed(
        ("clinic", clinic_id, day), version or 0, lambda: _clinic_day(clinic_id, zone, day)
    )
    return _audited(computed, clinic_id, by)


def _clinic_day(clinic_id: uuid.UUID, zone: str, day: date) -> ComputedDay:
    the_day = day_of(clinic_id, zone, day)
    found = appointment_rows(the_day)
    shown = _shown(clinic_id, the_day.zone, found, everyone=True)
    items = shown.items(found.rows, ZoneInfo(the_day.zone))
    by_room: dict[str, list[Answer]] = defaultdict(list)
    by_staff: dict[str, list[Answer]] = defaultdict(list)
    for item in items:
        by_room[item["room"]["id"]].append(item)
        for member in item["staff"]:
            by_staff[member["id"]].append(item)
    listed = [
        person
        for person in shown.people.values()
        # Roles are StrEnum members: a role's name is found among them as it is.
        if person["id"] in by_staff or not CLINICAL_ROLES.isdisjoint(person["roles"])
    ]
    answer = {
        **the_day.header(),
        "by_room": [
            {"room": room, "appointments": by_room.get(room["id"], [])}
            for room in _by_name(shown.rooms.values())
        ],
        "by_staff": [
            {"staff": person, "appointments": by_staff.get(person["id"], [])}
            for person in _by_name(listed)
        ],
    }
    return ComputedDay(answer, _shown_patients(found.rows))


def find_staff_for_day(*, staff_id: uuid.UUID, by: Caller) -> StaffMember:
    """The staff member whose day `by` asks for: 404 outside their clinics, 403 for
    someone else's day unless they run the front desk or administer."""
    staff = db.session.get(StaffMember, staff_id)
    if staff is None or not (by.works_in(staff.clinic_id) or by.staff_id == staff_id):
        raise NotFound("No staff member with this id.")
    policy.ensure(
        can_see_staff_day(by, staff),
        "Only the staff member themselves, front desk and administrators see this day.",
    )
    return staff


def staff_day(*, staff: StaffMember, day: date, by: Caller) -> ComputedDay:
    """One staff member's day at their clinic, each appointment with its readiness."""
    version = cache.version_of(staff.clinic_id)
    computed = cache.computed(("staff", staff.id, day), version, lambda: _staff_day(staff, day))
    return _audited(computed, staff.id, by)


def _staff_day(staff: StaffMember, day: date) -> ComputedDay:
    the_day = day_of(staff.clinic_id, staff.clinic.time_zone, day)
    found = appointment_rows(the_day, staff_id=staff.id)
    shown = _shown(staff.clinic_id, the_day.zone, found, everyone=False)
    person = shown.people.get(staff.id) or people(None, {staff.id})[staff.id]
    answer = {
        **the_day.header(),
        "staff": person,
        "appointments": shown.items(found.rows, ZoneInfo(the_day.zone)),
    }
    return ComputedDay(answer, _shown_patients(found.rows))
