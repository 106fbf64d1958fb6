"""Patient links against the database: minting (hashed, one row per appointment), what a
patient does with one (confirm, escort, cancel within the protocol's rules, late
cancellation marked and the desk told), and the links that no longer work."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.errors import Gone, NotFound, RuleRefused
from kapt_api.protocols.definition import SessionKind
from kapt_api.reminders.models import Purpose, Reminder
from kapt_api.scheduling.booking import service as booking
from kapt_api.scheduling.booking import signals
from kapt_api.scheduling.days import service as days
from kapt_api.scheduling.links import minting, rules, service
from kapt_api.scheduling.links.rules import LinkAction
from tests.scheduling.conftest import at, audit_rows
from tests.scheduling.links.conftest import link_rows, token_of

pytestmark = pytest.mark.usefixtures("now")


def test_a_link_is_stored_hashed_and_minted_once_per_appointment(dose, now):
    url = minting.mint_link(appointment=dose, now=now)
    again = minting.mint_link(appointment=dose, now=now)
    db.session.commit()
    token = token_of(url)
    assert url == again == f"http://127.0.0.1:5000/p/{token}"
    (row,) = link_rows(dose)
    assert row.token_hash == rules.token_hash(token)
    stored = [str(getattr(row, c.key)) for c in row.__table__.columns]
    assert not any(token in value for value in stored)
    assert row.purpose == "appointment" and row.patient_id == dose.patient_id
    assert row.expires_at == dose.starts_at + rules.MOVE_ROOM


def test_what_a_link_shows_is_the_clinic_date_time_and_place_only(dose, link_of, now, patient):
    view = service.act(link_of(dose), LinkAction.VIEW, now=now)
    assert (view.clinic_name, view.date, view.time) == (
        "Cedar Clinic",
        "Wednesday, December 9",
        "10:00 AM",
    )
    assert view.actions == ("cancel", "confirm", "escort") and view.escort_needed
    shown = str(view)
    assert patient.given_name not in shown and patient.family_name not in shown
    assert "dosing" not in shown


def test_confirming_is_kept_audited_and_announced_once(dose, link_of, now):
    token = link_of(dose)
    heard = []

    def hear(sender, **kwargs):
        heard.append(sender.id)

    signals.appointment_confirmed.connect(hear)
    try:
        service.act(token, LinkAction.CONFIRM, now=now)
        view = service.act(token, LinkAction.CONFIRM, now=now + timedelta(hours=1))
    finally:
        signals.appointment_confirmed.disconnect(hear)
    db.session.commit()
    assert view.confirmed and dose.confirmed_at == now and heard == [dose.id]
    (link,) = link_rows(dose)
    actions = [(r.action, r.actor_id) for r in audit_rows(resource_type="patient_link")]
    assert actions == [("confirm", link.id), ("confirm", link.id)]
    assert [r.action for r in audit_rows(action="confirm", resource_type="appointment")] == [
        "confirm"
    ]
    assert link.used_at is None  # confirming does not spend the link


def test_the_escort_confirmed_by_the_patient_shows_on_the_day_schedule(
    dose, link_of, now, place, caller_of
):
    def escort() -> str:
        answer = days.clinic_day(
            clinic_id=place.clinic.id, day=date(2026, 12, 9), by=caller_of(place.front_desk)
        ).answer
        (shown,) = [a for g in answer["by_room"] for a in g["appointments"]]
        return shown["readiness"]["escort_confirmed"]

    assert escort() == "unknown"
    service.act(link_of(dose), LinkAction.ESCORT, now=now)
    db.session.commit()
    assert dose.escort_confirmed_at == now
    assert escort() == "confirmed"


def test_only_a_dose_needs_an_escort(preparation, link_of, now):
    token = link_of(preparation)
    assert "escort" not in service.act(token, LinkAction.VIEW, now=now).actions
    with pytest.raises(RuleRefused) as refused:
        service.act(token, LinkAction.ESCORT, now=now)
    assert [v.rule for v in refused.value.violations] == ["escort_not_needed"]


def test_a_cancellation_in_good_time_spends_the_link(dose, link_of, now):
    token = link_of(dose)
    view = service.act(token, LinkAction.CANCEL, now=now)
    db.session.commit()
    assert view.status == "cancelled" and not view.late_cancellation
    assert dose.status == "cancelled" and not dose.late_cancellation
    change = dose.history[-1]
    assert (change.by, change.reason_category) == (None, "patient_request")
    (link,) = link_rows(dose)
    assert (link.used_at, link.used_for) == (now, "cancel")
    assert [r.actor_id for r in audit_rows(action="cancel", resource_type="appointment")] == [
        link.id
    ]
    with pytest.raises(Gone) as gone:
        service.act(token, LinkAction.VIEW, now=now)
    assert gone.value.code == "link_used"


def test_a_late_cancellation_is_marked_late_and_the_front_desk_is_emailed(dose, link_of, place):
    token = link_of(dose)
    two_hours_before = dose.starts_at - timedelta(hours=2)
    view = service.act(token, LinkAction.CANCEL, now=two_hours_before)
    db.session.commit()
    assert view.late_cancellation and dose.late_cancellation
    (email,) = db.session.scalars(
        select(Reminder).where(
            Reminder.appointment_id == dose.id, Reminder.purpose == Purpose.ALERT.value
        )
    )
    assert email.recipient == place.front_desk.email and email.channel == "email"
    assert "late cancellation" in email.subject and "Wednesday, December 9" in email.body
    assert "Quill" not in email.body + email.subject and "dos" not in email.body


def test_a_cancellation_the_rules_refuse_changes_nothing(book, dose, link_of, now):
    book(SessionKind.INTEGRATION, at(3, 15))  # left with no dose before it
    token = link_of(dose)
    with pytest.raises(RuleRefused) as refused:
        service.act(token, LinkAction.CANCEL, now=now)
    db.session.rollback()
    assert refused.value.violations
    db.session.refresh(dose)
    assert dose.status == "booked" and link_rows(dose)[0].used_at is None


def test_unknown_and_expired_links(dose, link_of):
    token = link_of(dose)
    with pytest.raises(NotFound):
        service.act("x" * 22, LinkAction.VIEW, now=dose.starts_at)
    with pytest.raises(Gone) as gone:
        service.act(token, LinkAction.CONFIRM, now=dose.starts_at)
    assert gone.value.code == "link_expired" and gone.value.status == 410


def test_a_moved_appointment_keeps_its_link(dose, link_of, now, place, caller_of):
    token = link_of(dose)
    booking.move(appointment=dose, by=caller_of(place.front_desk), now=now, starts_at=at(2, 14))
    db.session.commit()
    assert service.act(token, LinkAction.VIEW, now=now).time == "2:00 PM"
    assert token_of(minting.mint_link(appointment=dose, now=now)) == token


def test_a_move_to_another_time_asks_the_patient_to_confirm_again(
    dose, link_of, now, place, caller_of
):
    token = link_of(dose)
    service.act(token, LinkAction.CONFIRM, now=now)
    service.act(token, LinkAction.ESCORT, now=now)
    desk = caller_of(place.front_desk)
    booking.move(appointment=dose, by=desk, now=now, room_id=dose.room_id)  # same time
    assert dose.confirmed_at == now and dose.escort_confirmed_at == now
    booking.move(appointment=dose, by=desk, now=now, starts_at=at(2, 14))
    db.session.commit()
    # What the patient said was for the old time.
    assert dose.confirmed_at is None and dose.escort_confirmed_at is None
    view = service.act(token, LinkAction.VIEW, now=now)
    assert not view.confirmed and view.time == "2:00 PM"
