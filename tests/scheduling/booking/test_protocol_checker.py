"""An independent checker over HTTP (issue 12, item 4): random sequences of bookings,
moves, cancellations, status steps, overrides, slot searches and course plans on each
built-in protocol, every answer compared with what the checker's own model
(protocol_model.py, written from the spec and the protocol version's definition as
GET /protocol-versions/{id} answers it) says it should be.

It fails on an accepted request that broke a rule without an override for it (accepted
breach), on a refusal the model finds unjustified or naming other rules (false
refusal), and on a slot offered or a plan proposed that is not accepted when booked at
once. Each run has its own patient and course in a clinic whose hours cover the
weekday 09:00 and 13:00 starts it picks, with one person per role, so that resources
clash only with the course's own sessions; the clock moves forward with the steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from itertools import permutations
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from werkzeug.test import TestResponse

from kapt_api import clock
from kapt_api.db import db
from tests.scheduling import protocol_model as model
from tests.scheduling.builders import NOW
from tests.scheduling.conftest import API

KEYS = ("esketamine-rems-induction", "iv-racemic-series", "im-kap", "sublingual-kap")
# Under a minute per engine for the four protocols (about 30 s on SQLite, 45 s on PostgreSQL).
SETTINGS = settings(
    max_examples=6,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CHECK_IN_OPENS_MINUTES = 60  # the clinic's default check-in window
REASON = "Checker: the prescriber decided so"
STEPS = {
    "check-in": "checked_in",
    "start": "in_progress",
    "complete": "completed",
    "no-show": "no_show",
    "cancel": "cancelled",
}
kinds = st.sampled_from(["dosing", "dosing", "preparation", "integration"])
days = st.integers(-1, 24)
hours = st.sampled_from([9, 13])
modes = st.sampled_from(["none", "none", "all", "some"])
picks = st.integers(0, 1000)


@dataclass(frozen=True)
class World:
    """What every run of one protocol shares: the client, the clinic and who calls."""

    key: str
    client: FlaskClient
    version_id: str
    protocol: model.Protocol
    place: model.Place
    team: dict[str, str]  # care team field -> staff id
    rooms: dict[str, str]  # room kind -> room id
    headers: dict[str, dict[str, str]]  # desk, prescriber, admin
    new_patient: Callable[[], str]


@dataclass(frozen=True)
class Disagreement:
    kind: str
    request: str
    expected: Iterable[str]
    answered: str

    def __str__(self) -> str:
        expected = sorted(self.expected)
        wanted = f"refusal naming {expected}" if expected else "acceptance"
        return f"{self.kind}: {self.request}\n      expected {wanted}; answered {self.answered}"


def answered_rules(response: TestResponse) -> set[str]:
    body = response.get_json(silent=True)
    return {v["rule"] for v in body.get("violations", [])} if isinstance(body, dict) else set()


def answer_text(response: TestResponse) -> str:
    rules = sorted(answered_rules(response))
    return f"{response.status_code} {rules}" if rules else str(response.status_code)


class ProtocolChecker(RuleBasedStateMachine):
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        db.session.commit()
        # Each run's rows go when it ends: the clinic, people and logins stay.
        self.savepoint = db.session.get_bind().begin_nested()
        self.now = NOW
        clock.freeze(self.now)
        self.log: list[str] = []
        self.wrong: list[Disagreement] = []
        self.planned = False
        patient = world.new_patient()
        enrolled = self._send(
            "admin",
            "POST",
            "/courses",
            {
                "patient_id": patient,
                "protocol_version_id": world.version_id,
                "care_team": world.team,
            },
        )
        assert enrolled.status_code == 201, enrolled.get_json()
        self.course_id = enrolled.get_json()["id"]
        self.course = model.Course(world.protocol, world.place, patient)

    def teardown(self) -> None:
        db.session.rollback()
        self.savepoint.rollback()

    # --- talking to the API -------------------------------------------------------------

    def _when(self, instant: datetime) -> str:
        return f"{instant.astimezone(ZoneInfo(self.world.place.zone)):%a %d %b %Y %H:%M}"

    def _send(
        self, who: str, method: str, path: str, body: Any = None, **headers: str
    ) -> TestResponse:
        response = self.world.client.open(
            f"{API}{path}",
            method=method,
            json=body,
            headers={**self.world.headers[who], **headers},
        )
        self.log.append(
            f"[now {self._when(self.now)}] {who} {method} {path} {body or ''} -> "
            f"{answer_text(response)}"
        )
        if response.status_code >= 500:
            self.wrong.append(Disagreement("server error", self.log[-1], (), "500"))
        return response

    def _judge(
        self, request: str, expected: set[str], response: TestResponse, ok: int, refused: int
    ) -> bool:
        """Compare one answer with the model; True when the API accepted."""
        status, rules = response.status_code, answered_rules(response)
        if status == ok:
            if expected:
                self._disagree("accepted breach", request, expected, response)
            return True
        if not expected:
            self._disagree("false refusal", request, expected, response)
        elif rules != expected:
            self._disagree("refusal naming other rules", request, expected, response)
        elif status != refused:
            self._disagree(f"refusal answered {status}, not {refused}", request, expected, response)
        return False

    def _disagree(
        self, kind: str, request: str, expected: set[str], response: TestResponse
    ) -> None:
        self.wrong.append(Disagreement(kind, request, expected, answer_text(response)))

    # --- what a request should do ----------------------------------------------------------

    def _local(self, day: int, hour: int) -> datetime:
        zone = ZoneInfo(self.world.place.zone)
        today = self.now.astimezone(zone).date() + timedelta(days=day)
        return datetime.combine(today, time(hour), tzinfo=zone)

    def _kind(self, kind: str) -> str:
        return kind if kind in self.world.protocol.types else "dosing"

    def _where(self, kind: str) -> tuple[str, tuple[str, ...]]:
        """The room of the right kind, and care team members filling the session's roles
        (nurse and therapist before the prescriber)."""
        kind_type = self.world.protocol.types[kind]
        team = [self.world.team[f] for f in ("nurse_id", "therapist_id", "prescriber_id")]
        roles = self.world.place.roles
        for size in range(len(kind_type.roles), len(team) + 1):
            for chosen in permutations(team, size):
                if model._roles_filled(kind_type.roles, [roles[s] for s in chosen]):
                    return self.world.rooms[kind_type.room_kind], chosen
        raise AssertionError(f"the care team cannot staff a {kind}")

    def _override(self, codes: set[str], mode: str) -> list[str] | None:
        """The rule codes a prescriber overrides: all the model expects, all but one, or
        (nothing to override) one that is not broken, which must change nothing."""
        if mode == "none":
            return None
        chosen = sorted(codes - model.NOT_OVERRIDABLE)
        if mode == "some":
            chosen = chosen[1:]
        return chosen or ["minimum_notice" if "minimum_notice" not in codes else "room_conflict"]

    def _status(self, status: str) -> list[model.Session]:
        return [s for s in self.course.sessions if s.status == status]

    # --- booking and moving ----------------------------------------------------------------

    def _book(self, wanted: model.Session, mode: str, what: str = "") -> None:
        codes = self.course.placing(wanted, now=self.now)
        override = self._override(codes, mode)
        body: dict[str, Any] = {
            "course_id": self.course_id,
            "kind": wanted.kind,
            "starts_at": wanted.starts_at.isoformat(),
            "room_id": wanted.room,
            "staff_ids": list(wanted.staff),
        }
        if override:
            body["override"] = {"rules": override, "reason": REASON}
        who = "prescriber" if override else "desk"
        response = self._send(who, "POST", "/appointments", body)
        request = f"book {what}{wanted.kind} at {self._when(wanted.starts_at)} {self.log[-1]}"
        expected = model.blocking(codes, override or ())
        if self._judge(request, expected, response, 201, self._refusal_status(expected)):
            wanted.id = response.get_json()["id"]
            wanted.override = frozenset(codes & (set(override or ()) - model.NOT_OVERRIDABLE))
            self.course.sessions.append(wanted)

    def _refusal_status(self, expected: set[str]) -> int:
        return 409 if expected & model.RESOURCE_RULES else 422

    @rule(kind=kinds, day=days, hour=hours, mode=modes)
    def book(self, kind: str, day: int, hour: int, mode: str) -> None:
        kind = self._kind(kind)
        room, staff = self._where(kind)
        self._book(self.course.session(kind, self._local(day, hour), room, staff), mode)

    @precondition(lambda self: self.course.sessions)
    @rule(pick=picks, day=days, hour=hours, mode=modes)
    def move(self, pick: int, day: int, hour: int, mode: str) -> None:
        moving = self.course.sessions[pick % len(self.course.sessions)]
        wanted = self.course.session(moving.kind, self._local(day, hour), moving.room, moving.staff)
        if moving.status != "booked":
            codes, override = {"illegal_status_change"}, None
        else:
            codes = self.course.placing(wanted, now=self.now, moving=moving)
            override = self._override(codes, mode)
        body: dict[str, Any] = {"starts_at": wanted.starts_at.isoformat()}
        if override:
            body["override"] = {"rules": override, "reason": REASON}
        who = "prescriber" if override else "desk"
        path = f"/appointments/{moving.id}"
        etag = self.world.client.get(f"{API}{path}", headers=self.world.headers[who]).headers[
            "ETag"
        ]
        response = self._send(who, "PATCH", path, body, **{"If-Match": etag})
        request = (
            f"move {moving.kind} {moving.status} to {self._when(wanted.starts_at)} {self.log[-1]}"
        )
        carried = override is None and wanted.starts_at == moving.starts_at
        cover = set(override or ()) | (set(moving.override) if carried else set())
        expected = model.blocking(codes, cover) if moving.status == "booked" else codes
        refused = 409 if moving.status != "booked" else self._refusal_status(expected)
        if self._judge(request, expected, response, 200, refused):
            overridden = codes & (cover - model.NOT_OVERRIDABLE)
            if override:
                moving.override = frozenset(overridden)
            elif not (carried and overridden):
                moving.override = frozenset()
            moving.starts_at, moving.ends_at = wanted.starts_at, wanted.ends_at
            moving.held_until = wanted.held_until

    # --- cancelling and the status steps -------------------------------------------------

    def _expected_step(self, session: model.Session, step: str) -> tuple[set[str], int]:
        """The rules refusing a status step, and the status of that refusal."""
        if step == "no-show" and session.status == "booked" and self.now < session.starts_at:
            return {"not_started_yet"}, 422
        if STEPS[step] not in model.TRANSITIONS.get(session.status, ()):
            return {"illegal_status_change"}, 409
        if step == "cancel":
            # Cancelling a dose whose integration is booked would leave that session
            # following no dose: cancel the integration first (or override).
            return self.course.cancelling(session), 422
        if step == "check-in" and self.course.flags(session) - session.override:
            # spec12.md: a dose whose preparation or previous integration went missing
            # checks in only with an override (or its booking's own).
            return self.course.flags(session) - session.override, 422
        return self._too_early(session, step), 422

    def _too_early(self, session: model.Session, step: str) -> set[str]:
        """Check-in opens the clinic's window (60 minutes) before the booked start; start
        and complete follow it."""
        opens = session.starts_at - timedelta(minutes=CHECK_IN_OPENS_MINUTES)
        early = step in ("check-in", "start", "complete") and self.now < opens
        return {"check_in_not_open"} if early else set()

    def _step(self, session: model.Session, step: str, override: bool = False) -> None:
        expected, refused = self._expected_step(session, step)
        body: dict[str, Any] | None = None
        who = "prescriber" if step in ("start", "complete") else "desk"
        if step == "cancel":
            body = {"reason": "Patient called"}
        if step in ("no-show", "complete"):
            body = {}
        if override and expected and refused == 422 and step == "check-in":
            body = {"override": {"rules": sorted(expected), "reason": REASON}}
            who, expected = "admin", self._too_early(session, step)
        response = self._send(who, "POST", f"/appointments/{session.id}/{step}", body)
        request = f"{step} {session.kind} {session.status} at {self._when(session.starts_at)}"
        if self._judge(f"{request} {self.log[-1]}", expected, response, 200, refused):
            session.status = STEPS[step]
            if step == "complete":
                self._follow_the_course()

    def _follow_the_course(self) -> None:
        finished = self.course.finished()
        shown = self._send("desk", "GET", f"/courses/{self.course_id}").get_json()["status"]
        if finished != (shown == "completed"):
            expected = "completed" if finished else "active"
            self.wrong.append(
                Disagreement("course status", self.log[-1], (), f"{shown}, model: {expected}")
            )
        self.course.active = shown == "active"

    @precondition(lambda self: self._status("booked"))
    @rule(pick=picks, step=st.sampled_from(["check-in", "check-in", "cancel", "no-show"]))
    def step_a_booked_session(self, pick: int, step: str) -> None:
        booked = self._status("booked")
        self._step(booked[pick % len(booked)], step)

    @precondition(lambda self: any(self.course.flags(s) for s in self._status("booked")))
    @rule(pick=picks)
    def check_in_a_flagged_dose_with_an_override(self, pick: int) -> None:
        flagged = [s for s in self._status("booked") if self.course.flags(s)]
        self._step(flagged[pick % len(flagged)], "check-in", override=True)

    @precondition(lambda self: self._status("checked_in") or self._status("in_progress"))
    @rule(pick=picks)
    def start_or_complete(self, pick: int) -> None:
        going = self._status("checked_in") + self._status("in_progress")
        session = going[pick % len(going)]
        self._step(session, "start" if session.status == "checked_in" else "complete")

    @precondition(lambda self: self.course.sessions)
    @rule(pick=picks, step=st.sampled_from(sorted(STEPS)))
    def any_step(self, pick: int, step: str) -> None:
        self._step(self.course.sessions[pick % len(self.course.sessions)], step)

    # --- time ------------------------------------------------------------------------------

    def _set_clock(self, instant: datetime) -> None:
        self.now = instant
        clock.freeze(instant)

    @rule(hours=st.sampled_from([1, 6, 24, 48, 96, 168]))
    def time_passes(self, hours: int) -> None:
        self._set_clock(self.now + timedelta(hours=hours))

    @precondition(lambda self: any(s.starts_at > self.now for s in self.course.sessions))
    @rule(pick=picks)
    def wait_for_a_session(self, pick: int) -> None:
        coming = sorted(s.starts_at for s in self.course.sessions if s.starts_at > self.now)
        self._set_clock(coming[pick % len(coming)] + timedelta(minutes=5))

    # --- slots and plans -------------------------------------------------------------------

    @rule(kind=kinds, ahead=st.sampled_from([1, 3, 8]))
    def book_the_first_slot_offered(self, kind: str, ahead: int) -> None:
        kind = self._kind(kind)
        start = self.now + timedelta(days=ahead)
        query = {
            "kind": kind,
            "from": start.isoformat(),
            "to": (start + timedelta(days=14)).isoformat(),
            "limit": "5",
        }
        response = self.world.client.get(
            f"{API}/courses/{self.course_id}/slots",
            query_string=query,
            headers=self.world.headers["desk"],
        )
        self.log.append(
            f"[now {self._when(self.now)}] desk GET slots {query} -> {answer_text(response)}"
        )
        assert response.status_code == 200, response.get_json()
        offered = [
            self.course.session(
                kind, datetime.fromisoformat(s["starts_at"]), s["room_id"], s["staff_ids"]
            )
            for s in response.get_json()
        ]
        for slot in offered:
            codes = self.course.placing(slot, now=self.now)
            if codes:
                request = f"slot offered: {kind} at {self._when(slot.starts_at)} {self.log[-1]}"
                self.wrong.append(
                    Disagreement("slot that breaks a rule", request, codes, "offered")
                )
        if offered:
            self._book(offered[0], "none", what="first slot offered: ")

    # Once a run: a plan books the whole course, after which little else is bookable.
    @precondition(lambda self: not self.planned)
    @rule()
    def book_the_plan(self) -> None:
        self.planned = True
        planned = self._send("desk", "POST", f"/courses/{self.course_id}/plan", {})
        if planned.status_code != 200 or not planned.get_json()["batch"]["items"]:
            return
        items = planned.get_json()["batch"]["items"]
        trial = replace(self.course, sessions=list(self.course.sessions))
        proposed = []
        for n, item in enumerate(items):
            wanted = trial.session(
                item["kind"],
                datetime.fromisoformat(item["starts_at"]),
                item["room_id"],
                item["staff_ids"],
            )
            codes = trial.placing(wanted, now=self.now)
            if codes:
                request = f"plan item {n}: {wanted.kind} at {self._when(wanted.starts_at)}"
                self.wrong.append(
                    Disagreement("plan that breaks a rule", request, codes, "proposed")
                )
            wanted.id = f"plan-{n}"
            trial.sessions.append(wanted)
            proposed.append(wanted)
        booked = self._send("desk", "POST", "/appointments/batch", {"items": items})
        if booked.status_code != 201:
            self._disagree("plan not bookable", self.log[-1], set(), booked)
            return
        for wanted, answer in zip(proposed, booked.get_json(), strict=True):
            wanted.id = answer["id"]
            self.course.sessions.append(wanted)

    # --- the invariant -----------------------------------------------------------------------

    @invariant()
    def every_answer_is_as_the_protocol_says(self) -> None:
        assert not self.wrong, self._report()

    def _report(self) -> str:
        counts: dict[str, int] = {}
        for found in self.wrong:
            counts[found.kind] = counts.get(found.kind, 0) + 1
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        lines = [f"{self.world.key}: {summary}", *(f"  {found}" for found in self.wrong)]
        lines += [
            "The requests, in order:",
            *(f"  {n}. {line}" for n, line in enumerate(self.log, 1)),
        ]
        return "\n".join(lines)


@pytest.fixture
def world_of(client, place, versions, make_patient, auth_headers, admin_headers):
    def make(key: str) -> World:
        version_id = str(versions[key].id)
        shown = client.get(f"{API}/protocol-versions/{version_id}", headers=admin_headers)
        assert shown.status_code == 200, shown.get_json()
        staff = [place.prescriber, place.nurse, place.therapist, place.front_desk, place.admin]
        return World(
            key=key,
            client=client,
            version_id=version_id,
            protocol=model.Protocol.from_definition(shown.get_json()["definition"]),
            place=model.Place(
                zone=place.clinic.time_zone,
                opening=(time(8), time(18)),  # the make_clinic factory's, weekdays
                working=(time(9), time(17)),  # the make_staff factory's, weekdays
                room_kinds={
                    str(place.dosing_room.id): "dosing",
                    str(place.therapy_room.id): "therapy",
                },
                roles={str(s.id): frozenset(r.value for r in s.user.roles) for s in staff},
            ),
            team={
                "prescriber_id": str(place.prescriber.id),
                "therapist_id": str(place.therapist.id),
                "nurse_id": str(place.nurse.id),
            },
            rooms={"dosing": str(place.dosing_room.id), "therapy": str(place.therapy_room.id)},
            headers={
                "desk": auth_headers(place.front_desk.user),
                "prescriber": auth_headers(place.prescriber.user),
                "admin": auth_headers(place.admin.user),
            },
            new_patient=lambda: str(make_patient(place.clinic).id),
        )

    return make


@pytest.mark.parametrize("key", KEYS)
def test_every_answer_is_what_the_protocol_says(key, world_of):
    checker = type(f"Checker_{key.replace('-', '_')}", (ProtocolChecker,), {"world": world_of(key)})
    run_state_machine_as_test(checker, settings=SETTINGS)
