"""The patients domain's pure decisions: birth dates, reminder channel and consent,
care team membership, REMS enrolment."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapt_api.auth.models import Role
from kapt_api.patients import rules
from kapt_api.patients.rules import Consent, StaffFacts

TODAY = date(2026, 12, 1)
CLINIC = uuid.uuid4()
OTHER_CLINIC = uuid.uuid4()
# hypothesis takes naive bounds; timezones= makes every generated moment aware UTC.
moments = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


# --- date of birth ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "problem"),
    [
        (date(1986, 3, 14), None),
        (TODAY - timedelta(days=1), None),
        (date(1906, 12, 1), None),
        (TODAY, "past"),
        (TODAY + timedelta(days=1), "past"),
        (date(2090, 1, 1), "past"),
        (date(1906, 11, 30), "120 years"),
        (date(1900, 1, 1), "120 years"),
    ],
)
def test_date_of_birth_must_be_past_and_within_a_lifetime(born, problem):
    errors = rules.date_of_birth_errors(born, today=TODAY)
    if problem is None:
        assert errors == []
    else:
        assert len(errors) == 1
        assert problem in errors[0]


def test_a_lifetime_counts_back_from_29_february_into_a_year_without_one():
    # 1900 was not a leap year: 120 years before 29 February 2020 is taken as 28 February.
    assert rules.date_of_birth_errors(date(1900, 2, 28), today=date(2020, 2, 29)) == []
    assert rules.date_of_birth_errors(date(1900, 2, 27), today=date(2020, 2, 29)) != []


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)))
def test_exactly_the_last_120_years_before_today_are_accepted(born):
    accepted = not rules.date_of_birth_errors(born, today=TODAY)
    assert accepted == (date(1906, 12, 1) <= born < TODAY)


# --- reminder channel ------------------------------------------------------------------


def channel_errors(channel, *, email="a@b.test", phone="+15555550100", opt_in=True, changed=()):
    return rules.reminder_channel_errors(
        channel=channel, email=email, phone=phone, sms_opt_in=opt_in, changed=set(changed)
    )


def test_consistent_channels_pass():
    assert channel_errors("sms") == {}
    assert channel_errors("email", phone=None, opt_in=False) == {}
    assert channel_errors("none", email=None, phone=None, opt_in=False) == {}


def test_sms_without_phone_or_consent_is_named_on_the_channel_when_it_was_chosen():
    errors = channel_errors(
        "sms", phone=None, opt_in=False, changed={"preferred_reminder_channel", "phone"}
    )
    assert list(errors) == ["preferred_reminder_channel"]
    assert any("phone" in m for m in errors["preferred_reminder_channel"])
    assert any("consent" in m for m in errors["preferred_reminder_channel"])


def test_email_without_address_is_named_on_the_channel():
    errors = channel_errors("email", email=None, changed={"preferred_reminder_channel"})
    assert errors == {"preferred_reminder_channel": ["Email reminders need an email address."]}


def test_removing_what_the_channel_needs_is_named_on_the_removed_field():
    assert list(channel_errors("email", email=None, changed={"email"})) == ["email"]
    assert list(channel_errors("sms", phone=None, changed={"phone"})) == ["phone"]


def test_an_unchanged_channel_is_named_when_nothing_else_explains_the_gap():
    assert list(channel_errors("sms", phone=None, changed={"given_name"})) == [
        "preferred_reminder_channel"
    ]


def test_new_patients_get_email_reminders_only_when_they_gave_an_address():
    assert rules.default_reminder_channel(email="a@b.test") == "email"
    assert rules.default_reminder_channel(email=None) == "none"


@pytest.mark.parametrize(
    ("channel", "email", "after"),
    [("sms", "a@b.test", "email"), ("sms", None, "none"), ("email", "a@b.test", "email")],
)
def test_withdrawing_sms_consent_falls_back_instead_of_being_refused(channel, email, after):
    assert rules.channel_after_sms_opt_out(channel=channel, email=email) == after


# --- consent timestamps ----------------------------------------------------------------

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=30)


def test_new_patient_consenting_is_stamped_now():
    assert rules.consent_after(None, opted_in=True, now=T0) == Consent(True, T0, None)


def test_new_patient_not_consenting_has_no_stamps():
    assert rules.consent_after(None, opted_in=False, now=T0) == Consent(False, None, None)


def test_withdrawal_is_stamped_and_keeps_when_consent_was_given():
    given_at = Consent(True, T0, None)
    assert rules.consent_after(given_at, opted_in=False, now=T1) == Consent(False, T0, T1)


def test_consenting_again_is_stamped_and_keeps_the_last_withdrawal():
    withdrawn = Consent(False, T0, T1)
    later = T1 + timedelta(days=1)
    assert rules.consent_after(withdrawn, opted_in=True, now=later) == Consent(True, later, T1)


@given(st.booleans(), st.none() | moments, st.none() | moments, moments)
def test_repeating_the_current_answer_changes_no_stamp(opted_in, in_at, out_at, now):
    before = Consent(opted_in, in_at, out_at)
    assert rules.consent_after(before, opted_in=opted_in, now=now) == before


@given(st.booleans(), st.none() | moments, st.none() | moments, st.booleans(), moments)
def test_the_stamp_of_the_answer_given_is_now_exactly_when_it_changed(
    was, in_at, out_at, answer, now
):
    after = rules.consent_after(Consent(was, in_at, out_at), opted_in=answer, now=now)
    assert after.opted_in is answer
    stamp = after.opted_in_at if answer else after.opted_out_at
    other = after.opted_out_at if answer else after.opted_in_at
    assert (stamp == now) or (answer == was)
    assert other == (out_at if answer else in_at)


# --- care team -------------------------------------------------------------------------


def staff(clinic=CLINIC, *roles, active=True):
    return StaffFacts(clinic_id=clinic, active=active, roles=frozenset(roles or {Role.NURSE}))


def test_active_clinicians_of_the_clinic_may_join():
    members = {uuid.uuid4(): staff(CLINIC, role) for role in (Role.PRESCRIBER, Role.THERAPIST)}
    assert rules.care_team_errors(list(members), clinic_id=CLINIC, staff=members) == {}


def test_each_bad_member_is_named_by_position():
    prescriber, desk, gone, elsewhere, unknown = (uuid.uuid4() for _ in range(5))
    known = {
        prescriber: staff(CLINIC, Role.PRESCRIBER),
        desk: staff(CLINIC, Role.FRONT_DESK, Role.ADMIN),
        gone: staff(CLINIC, Role.NURSE, active=False),
        elsewhere: staff(OTHER_CLINIC, Role.THERAPIST),
    }
    errors = rules.care_team_errors(
        [prescriber, desk, gone, elsewhere, unknown, prescriber], clinic_id=CLINIC, staff=known
    )
    assert set(errors) == {f"care_team.{i}" for i in (1, 2, 3, 4, 5)}
    assert "prescriber, nurse or therapist" in errors["care_team.1"][0]
    assert "no longer active" in errors["care_team.2"][0]
    # Another clinic's staff and an unknown id read the same: nothing leaks across clinics.
    assert errors["care_team.3"] == errors["care_team.4"]
    assert "more than once" in errors["care_team.5"][0]


def test_a_care_team_has_a_size_limit():
    members = {uuid.uuid4(): staff() for _ in range(rules.MAX_CARE_TEAM + 1)}
    errors = rules.care_team_errors(list(members), clinic_id=CLINIC, staff=members)
    assert list(errors) == ["care_team"]


# --- REMS enrolment --------------------------------------------------------------------

BORN = date(1980, 5, 17)


@pytest.mark.parametrize(
    ("enrolled", "enrolled_on", "problem"),
    [
        (True, date(2026, 11, 1), None),
        (True, None, None),
        (False, None, None),
        (True, TODAY, None),
        (False, date(2026, 11, 1), "rems_enrolled"),
        (True, TODAY + timedelta(days=1), "future"),
        (True, date(1979, 1, 1), "date of birth"),
    ],
)
def test_rems_enrolment_date(enrolled, enrolled_on, problem):
    errors = rules.rems_errors(
        enrolled=enrolled, enrolled_on=enrolled_on, today=TODAY, date_of_birth=BORN
    )
    if problem is None:
        assert errors == {}
    else:
        assert problem in errors["clinical.rems_enrolled_on"][0]


def test_merge_errors_keeps_every_message():
    merged = rules.merge_errors({"a": ["1"]}, {}, {"a": ["2"], "b": ["3"]})
    assert merged == {"a": ["1", "2"], "b": ["3"]}
