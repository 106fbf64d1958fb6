"""Reminder wording: every default template, rendered, is PHI-safe in texts and email
subjects, texts fit 160 characters with long clinic names, and preparation instructions
appear only where the clinic opts in (DOMAIN.md §5)."""

from __future__ import annotations

import re
import string
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapt_api.protocols.definition import Channel, PreparationInstructions, SessionKind
from kapt_api.protocols.reminder_text import (
    ReminderContext,
    TemplateError,
    clinical_terms_in,
    default_templates,
    preparation_text,
    render_reminder,
    render_sms,
)
from kapt_api.protocols.templates import TEMPLATES

# Written out here, not imported: the test must catch a word the code forgot.
FORBIDDEN = [
    "ketamine",
    "esketamine",
    "spravato",
    "ketalar",
    "dose",
    "doses",
    "dosing",
    "infusion",
    "injection",
    "psychotherapy",
    "therapy",
    "psychedelic",
    "psychiatric",
    "depression",
    "anxiety",
    "ptsd",
    "suicide",
    "treatment",
    "medication",
    "drug",
    "diagnosis",
    "integration",
    "dissociation",
    "sedation",
    "nasal",
    "spray",
    "lozenge",
    "sublingual",
    "intravenous",
    "intramuscular",
    "rems",
    "kap",
]
FORBIDDEN_PATTERN = re.compile(r"\b(" + "|".join(FORBIDDEN) + r")\b", re.IGNORECASE)

CONTEXTS = [
    ReminderContext("Oak Clinic", "+15555550100", "Mon, Dec 7", "9:00 AM", "1 Main St"),
    ReminderContext(
        "Northern Lakes Integrative Health & Wellness Center",
        "+15555550100",
        "Wednesday, September 30",
        "10:30 AM",
        "Suite 1200, 4500 North Lincoln Avenue, Chicago, IL 60625",
    ),
    ReminderContext(
        "The Saint Christopher Valley Center for Integrative Wellbeing and Family Health",
        "+442079460000",
        "Thursday, November 26",
        "11:45 PM",
        "Building C, Third Floor, 12000 Old Georgetown Road, North Bethesda, Maryland",
    ),
]
CASES = [
    (template.key, rule, context)
    for template in TEMPLATES.values()
    for rule in template.definition.reminder_policy.rules
    for context in CONTEXTS
]


def _ids(case: tuple) -> str:
    key, rule, context = case
    return f"{key}-{rule.session_kind}-{len(context.clinic_name)}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_default_texts_and_subjects_name_no_drug_treatment_or_diagnosis(case):
    key, rule, context = case
    preparation = TEMPLATES[key].definition.preparation
    sms = render_reminder(rule, Channel.SMS, context, preparation)
    email = render_reminder(rule, Channel.EMAIL, context, preparation)
    assert not FORBIDDEN_PATTERN.search(sms.body), sms.body
    assert email.subject is not None
    assert not FORBIDDEN_PATTERN.search(email.subject), email.subject


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_default_email_bodies_name_no_drug_either(case):
    key, rule, context = case
    email = render_reminder(rule, Channel.EMAIL, context, TEMPLATES[key].definition.preparation)
    assert not FORBIDDEN_PATTERN.search(email.body), email.body


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_default_texts_fit_160_characters_and_name_the_clinic_and_its_number(case):
    key, rule, context = case
    body = render_reminder(rule, Channel.SMS, context, TEMPLATES[key].definition.preparation).body
    assert len(body) <= 160
    assert context.clinic_phone in body
    assert "Reply STOP" in body
    assert body.startswith(context.clinic_name[:20])


def test_a_realistic_long_clinic_name_is_kept_whole():
    context = CONTEXTS[1]
    body = render_sms(default_templates(SessionKind.DOSING).sms_body, context)
    assert context.clinic_name in body and len(body) <= 160


def test_an_extreme_clinic_name_is_shortened_with_ascii_dots():
    context = replace(CONTEXTS[1], clinic_name="Clinic " * 28)
    body = render_sms(default_templates(SessionKind.DOSING).sms_body, context)
    assert len(body) == 160
    assert "..." in body and "\u2026" not in body
    assert body.endswith("Reply STOP to opt out.")


@given(
    st.text(string.ascii_letters + " &'-", max_size=200),
    st.text(string.ascii_letters + string.digits + " ,.#", max_size=200),
)
def test_any_text_is_at_most_160_characters(clinic_name, location):
    context = replace(CONTEXTS[1], clinic_name=clinic_name, location=location)
    sms = "{clinic_name}: {date} {time}, {location}, {location}. {clinic_phone} STOP"
    assert len(render_sms(sms, context)) <= 160


def test_a_stored_template_naming_the_patient_renders_without_the_name():
    """Versions published before the placeholder was retired keep their wording."""
    rule = replace(
        ESKETAMINE.reminder_policy.rules[0],
        templates=replace(
            ESKETAMINE.reminder_policy.rules[0].templates,
            email_body="Hello {patient_first_name},\n\nSee you at {clinic_name}.",
        ),
    )
    body = render_reminder(rule, Channel.EMAIL, CONTEXTS[0], ESKETAMINE.preparation).body
    assert body == "Hello,\n\nSee you at Oak Clinic."


def test_a_text_that_cannot_fit_is_refused_rather_than_cut():
    with pytest.raises(TemplateError):
        render_sms("x" * 170 + " {clinic_name}", CONTEXTS[0])


@given(
    st.sampled_from(FORBIDDEN),
    st.text(" .,!?;:", max_size=3),
    st.text(" .,!?;:", max_size=3),
    st.booleans(),
)
def test_every_forbidden_word_is_caught_in_any_case(word, before, after, upper):
    text = f"Hello{before or ' '}{word.upper() if upper else word.title()}{after or ' '}there"
    assert clinical_terms_in(text)


@pytest.mark.parametrize(
    "text", ["Your appointment with Oak Clinic", "Reply STOP", "Important visit", "I'm here"]
)
def test_ordinary_words_are_not_mistaken_for_clinical_ones(text):
    assert clinical_terms_in(text) == []


def test_clinical_words_are_reported_once_each_in_lower_case():
    assert clinical_terms_in("Dosage: your KETAMINE dose, dose two") == [
        "dosage",
        "dose",
        "ketamine",
    ]


# --- preparation instructions: only where the clinic opts in --------------------------------

ESKETAMINE = TEMPLATES["esketamine-rems-induction"].definition


def test_preparation_instructions_stay_out_unless_the_clinic_opts_in():
    rule = ESKETAMINE.reminder_policy.rule_for(SessionKind.DOSING)
    assert rule is not None and not rule.include_preparation_instructions
    email = render_reminder(rule, Channel.EMAIL, CONTEXTS[0], ESKETAMINE.preparation)
    assert "food" not in email.body and "drive" not in email.body


def test_an_opted_in_email_carries_the_preparation_but_the_text_never_does():
    rule = replace(
        ESKETAMINE.reminder_policy.rule_for(SessionKind.DOSING),
        include_preparation_instructions=True,
    )
    email = render_reminder(rule, Channel.EMAIL, CONTEXTS[0], ESKETAMINE.preparation)
    sms = render_reminder(rule, Channel.SMS, CONTEXTS[0], ESKETAMINE.preparation)
    assert "no food for 2 hours and no drinks for 30 minutes" in email.body
    assert "drive you home" in email.body
    assert "food" not in sms.body and "drive" not in sms.body
    assert "food" not in (email.subject or "")


@pytest.mark.parametrize(
    ("preparation", "expected"),
    [
        (PreparationInstructions(None, None, False, ""), ""),
        (
            PreparationInstructions(360, 120, False, ""),
            "Before your appointment: Please have no food for 6 hours and no drinks for "
            "2 hours before your appointment.\n\n",
        ),
        (
            PreparationInstructions(90, None, True, "Bring a jumper."),
            "Before your appointment: Please have no food for 1 hour 30 minutes before your "
            "appointment. Please arrange for someone to drive you home, and do not drive "
            "yourself until the next day. Bring a jumper.\n\n",
        ),
    ],
)
def test_preparation_paragraph(preparation, expected):
    assert preparation_text(preparation) == expected


def test_placeholders_reach_only_the_named_values():
    rule = replace(
        ESKETAMINE.reminder_policy.rules[0],
        templates=replace(
            ESKETAMINE.reminder_policy.rules[0].templates, email_body="{{literal}} {clinic_name}"
        ),
    )
    body = render_reminder(rule, Channel.EMAIL, CONTEXTS[0], ESKETAMINE.preparation).body
    assert body == "{literal} Oak Clinic"
