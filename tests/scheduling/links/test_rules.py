"""Patient link rules over plain values: tokens, expiry, single purpose, used links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapt_api.scheduling.links import rules
from kapt_api.scheduling.links.rules import LinkAction, LinkFacts

NOW = datetime(2026, 12, 5, 15, tzinfo=UTC)
START = NOW + timedelta(days=4)


def facts(**changes) -> LinkFacts:
    values = {
        "purpose": "appointment",
        "expires_at": START + rules.MOVE_ROOM,
        "used_at": None,
        "subject_open": True,
        "subject_starts_at": START,
    }
    return LinkFacts(**{**values, **changes})


def test_a_token_is_signed_per_subject_short_and_url_safe():
    one = rules.token_for("secret", "appointment:1")
    assert one == rules.token_for("secret", "appointment:1")  # every text, the same link
    assert one != rules.token_for("secret", "appointment:2")
    assert one != rules.token_for("other secret", "appointment:1")
    assert len(one) == 22 and one.replace("-", "").replace("_", "").isalnum()


@given(st.text(alphabet="ABCDEFabcdef0123456789-_", min_size=22, max_size=22))
def test_the_stored_hash_never_is_the_token(token):
    digest = rules.token_hash(token)
    assert digest != token and token not in digest and len(digest) == 64


def test_a_link_works_while_its_appointment_is_booked_and_not_started():
    assert rules.gone_reason(facts(), now=NOW) is None


@pytest.mark.parametrize(
    ("changes", "at", "rule"),
    [
        ({"used_at": NOW}, NOW, "link_used"),
        ({}, START, "link_expired"),  # the session has started
        ({"expires_at": NOW}, NOW, "link_expired"),
        ({"subject_open": False}, NOW, "link_used"),  # cancelled, checked in, ...
    ],
)
def test_a_used_expired_or_closed_link_is_gone(changes, at, rule):
    found = rules.gone_reason(facts(**changes), now=at)
    assert found is not None and found.rule == rule and found.message


def test_a_link_does_only_what_its_purpose_allows():
    for action in (LinkAction.VIEW, LinkAction.CONFIRM, LinkAction.ESCORT, LinkAction.CANCEL):
        assert rules.action_violation("appointment", action) is None
    refused = rules.action_violation("appointment", LinkAction.ACCEPT_OFFER)
    assert refused is not None and refused.rule == "link_wrong_purpose"
    assert rules.action_violation("offer", LinkAction.CANCEL) is not None
    assert rules.action_violation("offer", LinkAction.ACCEPT_OFFER) is None


def test_expiry_leaves_room_for_a_move():
    assert rules.expiry(starts_at=START) == START + timedelta(days=30)


def test_dates_and_times_read_as_a_patient_reads_them():
    local = datetime(2026, 12, 9, 9, 5, tzinfo=UTC)
    assert rules.date_text(local) == "Wednesday, December 9"
    assert rules.time_text(local) == "9:05 AM"
