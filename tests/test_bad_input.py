"""Bad input is refused with a 4xx problem naming the field and the rule, and writes
nothing: every table holds as many rows after the refusal as before. A lone surrogate
in every stored text, numbers that are not what their field means, text no database
keeps in a query or a path, on the engine under test."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from kapt_api import clock
from kapt_api.errors import PROBLEM_MIMETYPE
from kapt_api.monitoring.models import MonitoringSession
from tests.conftest import row_counts
from tests.monitoring import conftest as monitoring
from tests.monitoring.conftest import API, ARRIVAL, ESKETAMINE, Team, at, vitals
from tests.monitoring.test_routes import ADMINISTRATION

# The monitoring fixtures, by name: a clinic and its care team, the built-in protocols
# published, and a dose checked in (the way production opens a checklist).
now, team, make_team = monitoring.now, monitoring.team, monitoring.make_team
versions, check_in = monitoring.versions, monitoring.check_in
make_course, make_appointment = monitoring.make_course, monitoring.make_appointment

SURROGATE = "a\ud800b"


@dataclass
class World:
    """One clinic's people, a checked-in esketamine dose, and each caller's headers."""

    team: Team
    session: MonitoringSession
    headers: dict[str, dict[str, str]]

    @property
    def monitoring(self) -> str:
        return f"{API}/appointments/{self.session.appointment_id}/monitoring"


@pytest.fixture
def world(team, make_course, make_appointment, check_in, now, admin, auth_headers) -> World:
    session = check_in(make_appointment(make_course(ESKETAMINE)))
    headers = {
        "admin": auth_headers(admin),
        **{
            role: auth_headers(getattr(team, role).user)
            for role in ("prescriber", "nurse", "front_desk")
        },
    }
    return World(team, session, headers)


@dataclass(frozen=True)
class Case:
    """A request and whom it comes from; `field` is what the 422 must name."""

    method: str
    path: Callable[[World], str]
    body: Callable[[World], Any] | None
    field: str
    who: str = "admin"
    etag_from: bool = False  # a PATCH: read the ETag first, as a front end does


def _clinic(name: Any = "Maple Clinic") -> dict[str, Any]:
    return {"name": name, "time_zone": "America/New_York"}


def _staff(w: World, **changes: Any) -> dict[str, Any]:
    body = {
        "email": "new.nurse@clinic.test",
        "full_name": "New Nurse",
        "password": "a long enough password",
        "roles": ["nurse"],
        "clinic_id": str(w.team.clinic.id),
    }
    return {**body, **changes}


def _patient(w: World, **changes: Any) -> dict[str, Any]:
    body = {
        "clinic_id": str(w.team.clinic.id),
        "given_name": "Rue",
        "family_name": "Lind",
        "date_of_birth": "1990-07-01",
    }
    return {**body, **changes}


def _time_off(reason: Any) -> dict[str, Any]:
    starts = ARRIVAL + timedelta(days=3)
    return {
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=4)).isoformat(),
        "reason": reason,
    }


def _reading(**changes: Any) -> dict[str, Any]:
    return {
        "timepoint": "baseline",
        "measured_at": at(2).isoformat(),
        "values": vitals(),
        **changes,
    }


def _measure(items: list[Any], instrument: str = "phq9") -> dict[str, Any]:
    return {"instrument": instrument, "items": items, "measured_at": ARRIVAL.isoformat()}


def _administration(**changes: Any) -> dict[str, Any]:
    return {**ADMINISTRATION, **changes}


def _discharge(minutes: Any) -> dict[str, Any]:
    events = dict.fromkeys(("sedation", "dissociation", "respiratory_depression"), False)
    return {
        "confirmed": ["alert_and_oriented"],
        "adverse_events": {**events, "bp_increase": False},
        "ready_to_leave_minutes": minutes,
    }


def _charted(endpoint: str, body: Callable[[], dict[str, Any]], field: str) -> Case:
    """A nurse's post to the dose's checklist: a reading, the administration, discharge."""
    return Case("POST", lambda w: f"{w.monitoring}/{endpoint}", lambda w: body(), field, "nurse")


def _registered(**field: Any) -> Case:
    """Front desk registers a patient with one field wrong."""
    [name] = field
    return Case(
        "POST", lambda w: f"{API}/patients", lambda w: _patient(w, **field), name, "front_desk"
    )


def _clinic_url(w: World) -> str:
    return f"{API}/clinics/{w.team.clinic.id}"


def _nurse_url(w: World) -> str:
    return f"{API}/staff/{w.team.nurse.id}"


def _patient_url(w: World) -> str:
    return f"{API}/patients/{w.team.patient.id}"


def _measures_url(w: World) -> str:
    return f"{API}/courses/{w.session.course_id}/measures"


# A lone surrogate in every text the API stores: the driver could not encode it (500).
SURROGATES = {
    "clinic name": Case("POST", lambda w: f"{API}/clinics", lambda w: _clinic(SURROGATE), "name"),
    "clinic address": Case(
        "POST",
        lambda w: f"{API}/clinics",
        lambda w: {**_clinic(), "address": SURROGATE},
        "address",
    ),
    "clinic rename": Case(
        "PATCH", _clinic_url, lambda w: {"name": SURROGATE}, "name", etag_from=True
    ),
    "room name": Case(
        "POST",
        lambda w: f"{_clinic_url(w)}/rooms",
        lambda w: {"name": SURROGATE, "kind": "dosing"},
        "name",
    ),
    "room rename": Case(
        "PATCH",
        lambda w: f"{API}/rooms/{w.team.room.id}",
        lambda w: {"name": SURROGATE},
        "name",
        etag_from=True,
    ),
    "staff name": Case(
        "POST", lambda w: f"{API}/staff", lambda w: _staff(w, full_name=SURROGATE), "full_name"
    ),
    "staff password": Case(
        "POST", lambda w: f"{API}/staff", lambda w: _staff(w, password=SURROGATE * 6), "password"
    ),
    "staff credentials": Case(
        "POST", lambda w: f"{API}/staff", lambda w: _staff(w, credentials=SURROGATE), "credentials"
    ),
    "staff rename": Case(
        "PATCH", _nurse_url, lambda w: {"full_name": SURROGATE}, "full_name", etag_from=True
    ),
    "time-off reason": Case(
        "POST", lambda w: f"{_nurse_url(w)}/time-off", lambda w: _time_off(SURROGATE), "reason"
    ),
    "patient given name": _registered(given_name=SURROGATE),
    "patient family name": _registered(family_name=SURROGATE),
    "patient rename": Case(
        "PATCH",
        _patient_url,
        lambda w: {"family_name": SURROGATE},
        "family_name",
        who="front_desk",
        etag_from=True,
    ),
    "patient allergies": Case(
        "PATCH",
        _patient_url,
        lambda w: {"clinical": {"allergies": SURROGATE}},
        "clinical.allergies",
        who="nurse",
        etag_from=True,
    ),
    "reading note": _charted("readings", lambda: _reading(note=SURROGATE), "note"),
    "reading unit": _charted(
        "readings",
        lambda: _reading(values=[{"measurement": "spo2", "value": 98, "unit": SURROGATE}]),
        "values.0.unit",
    ),
    "reading measurement": _charted(
        "readings",
        lambda: _reading(values=[{"measurement": SURROGATE, "value": 98, "unit": "%"}]),
        "values.0.measurement",
    ),
    "lot number": _charted(
        "administration", lambda: _administration(lot_number=SURROGATE), "lot_number"
    ),
    "cancel reason": Case(
        "POST",
        lambda w: f"{API}/appointments/{w.session.appointment_id}/cancel",
        lambda w: {"reason": SURROGATE},
        "reason",
        who="front_desk",
    ),
    "protocol name": Case(
        "POST",
        lambda w: f"{API}/protocol-templates/sublingual-kap/copy",
        lambda w: {"name": SURROGATE},
        "name",
    ),
    "webhook url": Case(
        "POST",
        lambda w: f"{API}/webhook-subscriptions",
        lambda w: {
            "clinic_id": str(w.team.clinic.id),
            "url": f"https://hooks.clinic.example/{SURROGATE}",
            "events": ["appointment.booked"],
        },
        "url",
    ),
    "webhook event": Case(
        "POST",
        lambda w: f"{API}/webhook-subscriptions",
        lambda w: {
            "clinic_id": str(w.team.clinic.id),
            "url": "https://hooks.clinic.example/kapt",
            "events": [SURROGATE],
        },
        "events.0",
    ),
    "login email": Case(
        "POST", lambda w: f"{API}/auth/tokens", lambda w: {"email": f"{SURROGATE}@b.co"}, "email"
    ),
    "login password": Case(
        "POST",
        lambda w: f"{API}/auth/tokens",
        lambda w: {"email": "a@clinic.test", "password": SURROGATE},
        "password",
    ),
    "unknown field name": Case(
        "POST", lambda w: f"{API}/clinics", lambda w: {**_clinic(), SURROGATE: 1}, SURROGATE
    ),
}

# Numbers that are not what their field means: refused, never truncated or parsed.
NUMBERS = {
    "phq-9 item 2.9": Case(
        "POST", _measures_url, lambda w: _measure([2.9] * 9), "items.0", "nurse"
    ),
    'phq-9 item "3"': Case(
        "POST", _measures_url, lambda w: _measure(["3"] * 9), "items.0", "nurse"
    ),
    "phq-9 item 4": Case("POST", _measures_url, lambda w: _measure([4] * 9), "items.0", "nurse"),
    "phq-9 item -1": Case("POST", _measures_url, lambda w: _measure([-1] * 9), "items.0", "nurse"),
    "gad-7 item true": Case(
        "POST", _measures_url, lambda w: _measure([True] * 7, "gad7"), "items.0", "nurse"
    ),
    'reading value "70"': _charted(
        "readings",
        lambda: _reading(values=[{"measurement": "heart_rate", "value": "70", "unit": "/min"}]),
        "values.0.value",
    ),
    "dose 28.5 mg": _charted(
        "administration",
        lambda: _administration(devices=1, device_times=[at(10).isoformat()], dose_mg=28.5),
        "dose_mg",
    ),
    "dose 30 mg": _charted(
        "administration",
        lambda: _administration(devices=1, device_times=[at(10).isoformat()], dose_mg=30),
        "dose_mg",
    ),
    'dose "56"': _charted("administration", lambda: _administration(dose_mg="56"), "dose_mg"),
    "devices 1.5": _charted("administration", lambda: _administration(devices=1.5), "devices"),
    "ready to leave 30.5 minutes": _charted(
        "discharge", lambda: _discharge(30.5), "ready_to_leave_minutes"
    ),
    'ready to leave "30"': _charted(
        "discharge", lambda: _discharge("30"), "ready_to_leave_minutes"
    ),
    "ready to leave -1": _charted("discharge", lambda: _discharge(-1), "ready_to_leave_minutes"),
    "adverse event 1": _charted(
        "discharge",
        lambda: {
            **_discharge(100),
            "adverse_events": {**_discharge(100)["adverse_events"], "sedation": 1},
        },
        "adverse_events.sedation",
    ),
    "weight 68.25 kg": Case(
        "PATCH",
        _patient_url,
        lambda w: {"clinical": {"weight_kg": 68.25}},
        "clinical.weight_kg",
        "nurse",
        etag_from=True,
    ),
    "room active 1": Case(
        "POST",
        lambda w: f"{_clinic_url(w)}/rooms",
        lambda w: {"name": "Birch", "kind": "dosing", "active": 1},
        "active",
    ),
    "room kind with a space": Case(
        "POST",
        lambda w: f"{_clinic_url(w)}/rooms",
        lambda w: {"name": "Birch", "kind": "dosing "},
        "kind",
    ),
    "patient sex in capitals": _registered(sex="Male"),
}


def _slots(w: World, **query: str) -> str:
    starts = ARRIVAL + timedelta(days=1)
    window = {
        "kind": "dosing",
        "from": starts.isoformat(),
        "to": (starts + timedelta(days=2)).isoformat(),
    }
    pairs = {**window, **query}
    return f"{API}/courses/{w.session.course_id}/slots?" + "&".join(
        f"{k}={v.replace('+', '%2B')}" for k, v in pairs.items()
    )


def _searched(query: str, field: str) -> Case:
    """Front desk lists patients with this query string."""
    return Case("GET", lambda w: f"{API}/patients?{query}", None, field, "front_desk")


def _slots_with(field: str, text: str) -> Case:
    return Case("GET", lambda w: _slots(w, **{field: text}), None, field, "front_desk")


# Query strings: text no database keeps, numbers and flags written loosely.
QUERIES = {
    "search for a lone surrogate as UTF-8": _searched("q=%ED%A0%80", "q"),
    "search that is not UTF-8": _searched("q=%FF", "q"),
    "search for a NUL": _searched("q=%00", "q"),
    "audit action not UTF-8": Case(
        "GET", lambda w: f"{API}/audit-events?action=%C3", None, "action"
    ),
    "page 1.5": _searched("page=1.5", "page"),
    "page +5": _searched("page=%2B5", "page"),
    "page in Arabic-Indic digits": _searched("page=%D9%A5", "page"),
    "page size with a space": _searched("page_size=%205", "page_size"),
    "active=1": _searched("active=1", "active"),
    "step 15.5 minutes": _slots_with("step_minutes", "15.5"),
    "limit 1e2": _slots_with("limit", "1e2"),
    "limit of 19 digits": _slots_with("limit", "9" * 19),
}

CASES = {**SURROGATES, **NUMBERS, **QUERIES}


def _send(client: FlaskClient, w: World, case: Case) -> Any:
    headers = dict(w.headers[case.who])
    path = case.path(w)
    if case.etag_from:
        headers["If-Match"] = client.get(path, headers=headers).headers["ETag"]
    before = row_counts()
    body = None if case.body is None else case.body(w)
    response = client.open(path, method=case.method, json=body, headers=headers)
    return response, before


def assert_refused(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIMETYPE
    return response.get_json()


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(client, world, case):
    clock.freeze(at(16))
    response, before = _send(client, world, case)

    problem = assert_refused(response, 422)
    assert case.field in problem["errors"], problem
    assert all(problem["errors"][case.field]), problem
    assert row_counts() == before


@pytest.mark.parametrize(
    "name", ["a\\ud800b", "\\udc00", "\\ud83d"], ids=["high", "low", "half-emoji"]
)
def test_a_lone_surrogate_escaped_in_the_json_is_refused_at_its_field(client, world, name):
    before = row_counts()
    raw = f'{{"name": "{name}", "time_zone": "America/New_York"}}'

    response = client.post(
        f"{API}/clinics", data=raw, content_type="application/json", headers=world.headers["admin"]
    )

    problem = assert_refused(response, 422)
    assert list(problem["errors"]) == ["name"]
    assert "surrogate" in problem["errors"]["name"][0]
    assert row_counts() == before


def test_a_surrogate_encoded_as_utf8_bytes_is_not_utf8_so_not_json(client, world):
    """RFC 3629: UTF-8 never encodes U+D800-U+DFFF, so these bytes are not JSON text."""
    before = row_counts()
    raw = b'{"name": "a\xed\xa0\x80b", "time_zone": "America/New_York"}'

    response = client.post(
        f"{API}/clinics", data=raw, content_type="application/json", headers=world.headers["admin"]
    )

    assert assert_refused(response, 400)["title"] == "Malformed request body"
    assert row_counts() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/protocol-templates/%ED%A0%80"),
        ("POST", "/protocol-templates/%00/copy"),
        ("GET", "/calendar/%ED%A0%80.ics"),
        ("GET", "/calendar/%00.ics"),
    ],
)
def test_text_no_database_keeps_in_a_path_finds_nothing(client, world, method, path):
    before = row_counts()

    response = client.open(
        API + path,
        method=method,
        json={} if method == "POST" else None,
        headers=world.headers["admin"],
    )

    assert_refused(response, 404)
    assert row_counts() == before


def test_whole_characters_and_noncharacters_are_kept_exactly(client, world):
    name = "Caf\u00e9 \U0001f33f \ufdd0\uffff Clinic"

    response = client.post(f"{API}/clinics", json=_clinic(name), headers=world.headers["admin"])

    assert response.status_code == 201, response.get_json()
    read = client.get(response.headers["Location"], headers=world.headers["admin"])
    assert read.get_json()["name"] == name


def test_a_valid_dose_and_answers_are_still_taken(client, world):
    clock.freeze(at(16))
    nurse = world.headers["nurse"]

    given = client.post(f"{world.monitoring}/administration", json=_administration(), headers=nurse)
    measured = client.post(_measures_url(world), json=_measure([2.0] + [1] * 8), headers=nurse)

    assert given.status_code == 200, given.get_json()
    assert measured.status_code == 201, measured.get_json()
    assert measured.get_json()["total"] == 10
    assert json.loads(measured.get_data())["items"][0] == 2
