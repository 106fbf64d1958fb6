"""A clinic story told through the API, with a marker in every free-text field.

Scheduling's New York clinic (and another clinic), a patient with a name, email and
phone found nowhere else, enrolled on IM KAP with the clinic's prescriber, nurse and
therapist as care team. Everything a person may write about the patient or a session
is written once, as the one who may write it, each with its own marker
(`FREETEXT-<In schema>.<field>`): the clinical fields, a booking's override, a
cancellation, a no-show, a dose charted from check-in to discharge (a held baseline
overridden, a corrected reading, an alert acknowledged, an out-of-range discharge
overridden), the session's clinical notes, and the course discontinued, which
cancels the integration session still booked (moved once before). The patient is
reminded of the dose by email and, having opted in to texts, of the rest by SMS; the
therapists' agendas are written on the Monday morning. The clock is frozen and moved
along.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from kapt_api import clock
from kapt_api.auth.models import Role
from kapt_api.clinics.models import StaffMember
from kapt_api.db import db
from kapt_api.patients.models import Patient
from kapt_api.reminders import agenda
from kapt_api.reminders.events import EVENTS
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.links import minting as links
from kapt_api.scheduling.waitlist import backfill
from kapt_api.scheduling.waitlist.models import WaitlistOffer
from tests.scheduling import conftest as scheduling_fixtures
from tests.scheduling.conftest import API, IM_KAP_KEY, Place, at

# Scheduling's fixtures: the New York clinic with one staff member per role, another
# clinic, the built-in protocols published, "now" frozen on Saturday 5 Dec 2026 10:00.
make_place = scheduling_fixtures.make_place
now = scheduling_fixtures.now
other_place = scheduling_fixtures.other_place
place = scheduling_fixtures.place
versions = scheduling_fixtures.versions

MARKER = re.compile(r"FREETEXT-[A-Za-z]+\.[a-z_]+")
GIVEN_NAME, FAMILY_NAME = "Zephyrine", "Quillfeather"
EMAIL = "zephyrine.quillfeather@mail.test"
PHONE = "+15555550143"
CONFIRMED = ["alert_and_oriented", "escort_present", "no_driving_acknowledged"]
# The dose: Monday 7 December 2026 at 10:00 New York time.
DOSE_AT = at(0, 10)


def marker(schema: str, name: str) -> str:
    return f"FREETEXT-{schema}.{name}"


def markers_in(text: str) -> set[str]:
    """The markers a text shows (an iCalendar file unfolded first)."""
    return set(MARKER.findall(text.replace("\r\n ", "").replace("\r\n\t", "")))


@dataclass
class Story:
    """The clinic, its people, the patient and what was written about them."""

    client: FlaskClient
    place: Place
    other_place: Place
    headers_of: Callable[[StaffMember], dict[str, str]]
    off_team: dict[str, StaffMember]
    patient: Patient
    written: set[str] = field(default_factory=set)
    appointments: dict[str, str] = field(default_factory=dict)
    course: dict[str, Any] = field(default_factory=dict)
    feeds: dict[uuid.UUID, str] = field(default_factory=dict)
    dispatch: Callable[[datetime], None] | None = None

    def mark(self, schema: str, name: str) -> str:
        """The marker for this In field, noted as written."""
        self.written.add(f"{schema}.{name}")
        return marker(schema, name)

    def send(self, method: str, path: str, who: StaffMember, **kwargs: Any) -> Any:
        """A write as `who`, which must succeed; its answer as JSON."""
        headers = {**self.headers_of(who), **kwargs.pop("headers", {})}
        answer = self.client.open(f"{API}{path}", method=method, headers=headers, **kwargs)
        assert answer.status_code < 300, (method, path, answer.get_json())
        return answer.get_json(silent=True)

    def post(self, path: str, who: StaffMember, body: dict[str, Any] | None = None) -> Any:
        return self.send("POST", path, who, json=body or {})

    def at(self, when: datetime) -> None:
        """Move the clock on, the reminder dispatcher first sending what falls due."""
        if self.dispatch is not None:
            self.dispatch(when)
        clock.freeze(when)


def _enrol_and_chart(story: Story, versions: Any) -> None:
    here, patient = story.place, story.patient
    story.course = story.post(
        "/courses",
        here.prescriber,
        {
            "patient_id": str(patient.id),
            "protocol_version_id": str(versions[IM_KAP_KEY].id),
            "care_team": {
                "prescriber_id": str(here.prescriber.id),
                "therapist_id": str(here.therapist.id),
                "nurse_id": str(here.nurse.id),
            },
        },
    )
    clinical = {name: story.mark("ClinicalIn", name) for name in CLINICAL_TEXT}
    _patch(story, f"/patients/{patient.id}", here.prescriber, {"clinical": clinical})


CLINICAL_TEXT = ("allergies", "concomitant_medications", "clinical_notes")


def _patch(story: Story, path: str, who: StaffMember, changes: dict[str, Any]) -> Any:
    etag = story.client.get(f"{API}{path}", headers=story.headers_of(who)).headers["ETag"]
    return story.send("PATCH", path, who, json=changes, headers={"If-Match": etag})


def _book(story: Story, kind: str, starts_at: datetime, **body: Any) -> str:
    here = story.place
    room = here.dosing_room if kind == "dosing" else here.therapy_room
    booked = story.post(
        "/appointments",
        body.pop("by", here.front_desk),
        {
            "course_id": story.course["id"],
            "kind": kind,
            "starts_at": starts_at.isoformat(),
            "room_id": str(room.id),
            **body,
        },
    )
    return str(booked["id"])


def _schedule(story: Story) -> None:
    """Saturday: the dose booked despite its missing preparations, and the sessions
    around it, by text once the patient opts in; one of them cancelled, one moved."""
    override = {
        "rules": ["preparation_incomplete"],
        "reason": story.mark("OverrideIn", "reason"),
    }
    book = story.appointments
    book["dose"] = _book(story, "dosing", DOSE_AT, by=story.place.prescriber, override=override)
    texts = {"sms_opt_in": True, "preferred_reminder_channel": "sms"}
    _patch(story, f"/patients/{story.patient.id}", story.place.front_desk, texts)
    book["missed"] = _book(story, "preparation", at(0, 15))
    book["cancelled"] = _book(story, "preparation", at(1, 15))
    book["integration"] = _book(story, "integration", at(2, 11))
    story.post(
        f"/appointments/{book['cancelled']}/cancel",
        story.place.front_desk,
        {"reason": story.mark("CancelIn", "reason"), "reason_category": "scheduling"},
    )
    later = {"starts_at": at(2, 13).isoformat()}
    _patch(story, f"/appointments/{book['integration']}", story.place.front_desk, later)
    # The patient confirms the integration session by the link their reminders carry.
    integration = db.session.get(Appointment, uuid.UUID(book["integration"]))
    token = links.mint_link(appointment=integration, now=clock.now()).rpartition("/p/")[2]
    db.session.commit()
    assert story.client.post(f"{API}/patient-links/{token}/confirm").status_code == 200
    story.at(at(0, 7, 30))
    agenda.write_agendas(now=clock.now())
    db.session.commit()


def _offer_taken(story: Story) -> None:
    """The cancelled preparation's time is offered from the waitlist (a text, the
    patient having opted in) and taken through the offer's link."""
    story.post(
        f"/courses/{story.course['id']}/waitlist",
        story.place.front_desk,
        {"kind": "preparation", "earliest_date": "2026-12-07", "latest_date": "2026-12-11"},
    )
    backfill.run_backfill(now=clock.now())
    db.session.commit()
    offer = db.session.scalars(
        select(WaitlistOffer)
        .where(WaitlistOffer.status == "offered")
        .order_by(WaitlistOffer.starts_at)
    ).first()
    assert offer is not None
    url = links.mint_offer_link(offer=offer, now=clock.now())
    db.session.commit()
    taken = story.client.post(f"{API}/patient-links/{url.rpartition('/p/')[2]}/accept")
    assert taken.status_code == 200, taken.get_json()


def _reading(story: Story, minutes: int, **body: Any) -> Any:
    story.at(DOSE_AT + timedelta(minutes=minutes))
    body.setdefault("values", vitals())
    body["measured_at"] = (DOSE_AT + timedelta(minutes=minutes)).isoformat()
    return story.post(
        f"/appointments/{story.appointments['dose']}/monitoring/readings",
        body.pop("by", story.place.nurse),
        body,
    )


def vitals(systolic: float = 120, spo2: float = 98) -> list[dict[str, Any]]:
    given = {
        "systolic_bp": (systolic, "mm[Hg]"),
        "diastolic_bp": (80, "mm[Hg]"),
        "heart_rate": (72, "/min"),
        "spo2": (spo2, "%"),
        "respiratory_rate": (14, "/min"),
    }
    return [{"measurement": k, "value": v, "unit": u} for k, (v, u) in given.items()]


def _dose(story: Story) -> None:
    """Monday: check-in, a held baseline (corrected) overridden, an alert acknowledged,
    every timepoint charted, a discharge overridden, the notes written."""
    here, dose = story.place, story.appointments["dose"]
    monitoring = f"/appointments/{dose}/monitoring"
    story.at(DOSE_AT)
    story.post(f"/appointments/{dose}/check-in", here.front_desk)
    first = _reading(
        story,
        2,
        timepoint="baseline",
        values=vitals(systolic=172),
        note=story.mark("ReadingIn", "note"),
    )
    _reading(
        story,
        3,
        timepoint="baseline",
        values=vitals(systolic=171),
        supersedes_id=first["id"],
        correction_reason=story.mark("ReadingIn", "correction_reason"),
    )
    story.post(
        f"{monitoring}/hold-override", here.prescriber, {"reason": story.mark("ReasonIn", "reason")}
    )
    story.at(DOSE_AT + timedelta(minutes=10))
    story.post(f"/appointments/{dose}/start", here.nurse)
    _reading(story, 12, values=vitals(systolic=190))
    alerts = story.client.get(f"{API}/alerts", headers=story.headers_of(here.nurse)).get_json()
    story.post(
        f"/alerts/{alerts[0]['id']}/acknowledge",
        here.nurse,
        {"note": story.mark("AcknowledgeIn", "note")},
    )
    _chart_to_discharge(story)
    story.post(
        f"{monitoring}/discharge",
        here.prescriber,
        {"confirmed": CONFIRMED, "override_reason": story.mark("DischargeIn", "override_reason")},
    )
    story.post(
        f"/appointments/{dose}/complete",
        here.therapist,
        {"clinical_notes": story.mark("CompleteIn", "clinical_notes")},
    )


def _chart_to_discharge(story: Story) -> None:
    awake = {"measurement": "moaa_s", "value": 5, "unit": "{score}"}
    _reading(story, 50, timepoint="bp_40_min", values=[*vitals(), awake])
    for slot in range(15, 121, 15):
        values = [
            {"measurement": "heart_rate", "value": 70, "unit": "/min"},
            {"measurement": "spo2", "value": 98, "unit": "%"},
            awake,
        ]
        _reading(story, 10 + slot, timepoint="every_15_min", values=values)
    calm = {"measurement": "dissociation", "value": 0, "unit": "{score}"}
    _reading(story, 131, timepoint="discharge", values=[*vitals(), awake, calm])
    _reading(story, 132, values=vitals(spo2=93))


def _after(story: Story) -> None:
    """Monday afternoon: a no-show; then the course discontinued."""
    here = story.place
    story.at(at(0, 15, 30))
    story.post(
        f"/appointments/{story.appointments['missed']}/no-show",
        here.front_desk,
        {"reason": story.mark("NoShowIn", "reason"), "reason_category": "patient_request"},
    )
    story.post(
        f"/courses/{story.course['id']}/discontinue",
        here.prescriber,
        {"reason": story.mark("DiscontinueIn", "reason"), "reason_category": "clinical"},
    )


def _feeds(story: Story) -> None:
    """Each on the care team subscribes to their own calendar feed."""
    for member in (story.place.prescriber, story.place.nurse, story.place.therapist):
        made = story.post(f"/staff/{member.id}/calendar-feed", member)
        story.feeds[member.id] = made["url"].rpartition("/calendar/")[2].removesuffix(".ics")


@pytest.fixture
def hook_url() -> str:
    """Where the clinic app's webhook subscription posts (nothing listens here)."""
    return "https://hooks.clinic.example/kapt"


@pytest.fixture
def dispatch() -> Callable[[datetime], None] | None:
    """How the story sends what falls due as its clock moves on: here, it does not."""
    return None


@pytest.fixture
def story(
    client,
    place,
    other_place,
    versions,
    make_patient,
    make_staff,
    auth_headers,
    now,
    hook_url,
    dispatch,
) -> Iterator[Story]:
    patient = make_patient(
        place.clinic,
        given_name=GIVEN_NAME,
        family_name=FAMILY_NAME,
        email=EMAIL,
        phone=PHONE,
        allergies=None,
        clinical_notes=None,
    )
    off_team = {
        "therapist off the care team": make_staff(place.clinic, Role.THERAPIST),
        "nurse off the care team": make_staff(place.clinic, Role.NURSE),
    }
    db.session.commit()
    told = Story(client, place, other_place, lambda m: auth_headers(m.user), off_team, patient)
    told.dispatch = dispatch
    told.post(
        "/webhook-subscriptions",
        place.admin,
        {
            "clinic_id": str(place.clinic.id),
            "url": hook_url,
            # Every event there is: each one's post is searched for leaks.
            "events": list(EVENTS),
        },
    )
    _enrol_and_chart(told, versions)
    _schedule(told)
    _offer_taken(told)
    _dose(told)
    _after(told)
    _feeds(told)
    yield told
