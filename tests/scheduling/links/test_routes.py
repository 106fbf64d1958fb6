"""Patient links over HTTP: the JSON for clinic apps and the patient's page, the plain
answers of unknown, used and expired links, rate limiting and the audit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from kapt_api import clock
from kapt_api.db import db
from kapt_api.scheduling.links.models import PatientLink
from tests.scheduling.conftest import PROBLEM, audit_rows
from tests.scheduling.links.conftest import LINKS, link_rows

pytestmark = pytest.mark.usefixtures("now")
CLINICAL = re.compile(r"dos(e|ing)|ketamine|kap\b|therap|escort", re.IGNORECASE)


def test_the_json_says_what_the_link_is_for(client, dose, link_of, patient):
    response = client.get(f"{LINKS}/{link_of(dose)}")
    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "purpose": "appointment",
        "clinic_name": "Cedar Clinic",
        "clinic_phone": body["clinic_phone"],
        "date": "Wednesday, December 9",
        "time": "10:00 AM",
        "place": body["place"],
        "status": "booked",
        "confirmed": False,
        "escort_needed": True,
        "escort_confirmed": False,
        "late_cancellation": False,
        "cancel_would_be_late": False,
        "actions": ["cancel", "confirm", "escort"],
        "offer_expires_at": None,
        "offer_passes_on": None,
    }
    assert patient.family_name not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_confirm_escort_and_cancel_as_json(client, dose, link_of):
    token = link_of(dose)
    assert client.post(f"{LINKS}/{token}/confirm").get_json()["confirmed"] is True
    assert client.post(f"{LINKS}/{token}/escort").get_json()["escort_confirmed"] is True
    cancelled = client.post(f"{LINKS}/{token}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    spent = client.get(f"{LINKS}/{token}")
    assert spent.status_code == 410 and spent.mimetype == PROBLEM
    assert spent.get_json()["violations"][0]["rule"] == "link_used"


def test_unknown_expired_and_refused_links_answer_problem_json(client, dose, link_of, book):
    unknown = client.get(f"{LINKS}/{'A' * 22}")
    assert unknown.status_code == 404 and unknown.mimetype == PROBLEM
    token = link_of(dose)
    clock.freeze(dose.starts_at + timedelta(minutes=1))
    expired = client.post(f"{LINKS}/{token}/confirm")
    assert expired.status_code == 410 and expired.get_json()["violations"][0]["rule"] == (
        "link_expired"
    )


def test_every_look_and_action_is_audited_with_the_link_as_actor(client, dose, link_of):
    token = link_of(dose)
    client.get(f"{LINKS}/{token}")
    client.post(f"{LINKS}/{token}/cancel")
    client.get(f"{LINKS}/{token}")
    (link,) = link_rows(dose)
    rows = audit_rows(resource_type="patient_link")
    assert sorted((r.action, r.outcome, r.actor_id) for r in rows) == [
        ("cancel", "success", link.id),
        ("view", "refused", link.id),
        ("view", "success", link.id),
    ]
    assert all(r.patient_id == dose.patient_id for r in rows)
    assert not any(token in str(r.resource_id) + str(r.reason) for r in rows)


def test_links_are_rate_limited_per_client(app, client, dose, link_of, monkeypatch):
    monkeypatch.setitem(app.config, "KAPT_PATIENT_LINK_RATE_LIMIT", "3 per minute")
    token = link_of(dose)
    answers = [client.get(f"{LINKS}/{token}").status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert client.get(f"{LINKS}/{'B' * 22}").status_code == 429
    assert client.get(f"/p/{token}").status_code == 429
    assert "Too many attempts" in client.get(f"/p/{token}").get_data(as_text=True)


def test_the_token_is_never_logged(client, dose, link_of, capfd):
    token = link_of(dose)
    client.get(f"/p/{token}")
    client.post(f"/p/{token}/confirm")
    client.get(f"{LINKS}/{token}")
    out, err = capfd.readouterr()
    assert token not in out + err


# --- the page -----------------------------------------------------------------------


def test_the_page_is_phone_sized_self_contained_and_names_no_clinical_detail(
    client, dose, link_of, patient
):
    response = client.get(f"/p/{link_of(dose)}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "Cedar Clinic" in page and "Wednesday, December 9 at 10:00 AM" in page
    assert patient.given_name not in page and patient.family_name not in page
    assert not re.search(r"<script|https?://(?!127\.0\.0\.1)", page)
    assert page.count('<form method="post"') == 2  # confirm, escort
    assert '<form method="get" action="/p/' in page  # cancelling asks once more
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", page, flags=re.S))
    assert not CLINICAL.search(visible.replace("Someone will take me home", ""))


def test_the_page_buttons_confirm_and_cancel_without_javascript(client, dose, link_of):
    token = link_of(dose)
    confirmed = client.post(f"/p/{token}/confirm")
    assert confirmed.status_code == 200
    assert "your appointment is confirmed" in confirmed.get_data(as_text=True)
    asked = client.get(f"/p/{token}/cancel").get_data(as_text=True)
    assert "Cancel this appointment?" in asked and "late cancellation" not in asked
    cancelled = client.post(f"/p/{token}/cancel")
    assert "Your appointment is cancelled." in cancelled.get_data(as_text=True)
    spent = client.get(f"/p/{token}")
    assert spent.status_code == 410
    assert "This link has already been used." in spent.get_data(as_text=True)
    assert client.get("/p/nonsense").status_code == 404


def test_a_refused_cancellation_says_why_on_the_page(client, book, dose, link_of):
    from kapt_api.protocols.definition import SessionKind
    from tests.scheduling.conftest import at

    book(SessionKind.INTEGRATION, at(3, 15))
    response = client.post(f"/p/{link_of(dose)}/cancel")
    assert response.status_code == 422
    assert "We could not do that" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PatientLink, link_rows(dose)[0].id).used_at is None


def test_the_page_warns_that_cancelling_now_is_late(client, dose, link_of):
    token = link_of(dose)
    clock.freeze(dose.starts_at - timedelta(hours=3))
    assert client.get(f"{LINKS}/{token}").get_json()["cancel_would_be_late"] is True
    asked = client.get(f"/p/{token}/cancel").get_data(as_text=True)
    assert "recorded as a late cancellation, and the clinic will be told" in asked
    done = client.post(f"/p/{token}/cancel").get_data(as_text=True)
    assert "less notice than the clinic asks for" in done
