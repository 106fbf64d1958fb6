"""What a patient says through their link shows on the kept day schedule at once: the
appointment's `confirmed` and a dose's `readiness.escort_confirmed` (the schedule
version is replaced in the confirming transaction, so no kept day hides it), and in
the appointment's own answer (`confirmed_at`, `escort_confirmed_at`)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest

from kapt_api.db import db
from kapt_api.scheduling.days import cache
from kapt_api.scheduling.days import service as days
from kapt_api.scheduling.links import service
from kapt_api.scheduling.links.rules import LinkAction
from tests.scheduling.conftest import API, at

pytestmark = pytest.mark.usefixtures("now")


def _shown(place, caller_of, appointment) -> dict[str, Any]:
    answer = days.clinic_day(
        clinic_id=place.clinic.id, day=at(2, 10).date(), by=caller_of(place.front_desk)
    ).answer
    found = {a["id"]: a for g in answer["by_room"] for a in g["appointments"]}
    return found[str(appointment.id)]


def test_a_confirmation_through_the_link_shows_on_the_kept_day(
    place, caller_of, dose, link_of, now
):
    token = link_of(dose)
    before = _shown(place, caller_of, dose)  # computed and kept
    assert (before["confirmed"], before["backfilled"]) == (False, False)
    assert before["readiness"]["escort_confirmed"] == "unknown"
    version = cache.version_of(place.clinic.id)

    service.act(token, LinkAction.CONFIRM, now=now)
    db.session.commit()
    assert cache.version_of(place.clinic.id) != version
    shown = _shown(place, caller_of, dose)
    assert shown["confirmed"] is True
    assert shown["readiness"]["escort_confirmed"] == "unknown"

    service.act(token, LinkAction.ESCORT, now=now)
    db.session.commit()
    shown = _shown(place, caller_of, dose)
    assert shown["readiness"]["escort_confirmed"] == "confirmed"
    # Nothing else of the item changed.
    assert {k: v for k, v in shown.items() if k not in ("confirmed", "readiness")} == {
        k: v for k, v in before.items() if k not in ("confirmed", "readiness")
    }


def test_the_appointment_answer_carries_both_confirmations(
    client, auth_headers, place, dose, link_of, now
):
    token = link_of(dose)
    url = f"{API}/appointments/{dose.id}"
    desk = auth_headers(place.front_desk.user)
    first = client.get(url, headers=desk).get_json()
    assert (first["confirmed_at"], first["escort_confirmed_at"]) == (None, None)
    assert first["backfilled_from_offer_id"] is None

    service.act(token, LinkAction.CONFIRM, now=now)
    service.act(token, LinkAction.ESCORT, now=now)
    db.session.commit()
    answer = client.get(url, headers=desk).get_json()
    utc = now.astimezone(UTC).isoformat()
    assert answer["confirmed_at"] == answer["escort_confirmed_at"] == utc


def test_a_session_other_than_a_dose_never_reads_an_escort(place, caller_of, book, dose):
    shown = _shown(place, caller_of, dose)
    assert shown["readiness"]["escort_confirmed"] == "unknown"
    preparation = next(
        a for a in _day_items(place, caller_of, at(0, 9).date()) if a["kind"] == "preparation"
    )
    assert preparation["readiness"]["escort_confirmed"] == "not_applicable"
    assert preparation["confirmed"] is False


def _day_items(place, caller_of, day) -> list[dict[str, Any]]:
    answer = days.clinic_day(clinic_id=place.clinic.id, day=day, by=caller_of(place.front_desk))
    return [a for g in answer.answer["by_room"] for a in g["appointments"]]
