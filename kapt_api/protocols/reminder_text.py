"""Reminder templates: their placeholders, the default PHI-safe wording, and rendering.

HIPAA lets a reminder go without authorization when it carries only what is needed:
clinic name and phone, date, time, place (DOMAIN.md §5.1); never the patient's name,
which tells whoever reads it who is being treated there. Texts and email subjects
are read on lock screens and by family, so they never name the drug, the treatment or
a diagnosis; TCPA's healthcare exemption wants texts of at most 160 characters that
name the clinic, give its number and offer STOP (DOMAIN.md §5.2). Preparation
instructions (fasting, a driver) imply the treatment, so they go only in an email body
and only where the clinic opts in.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from kapt_api.protocols.definition import PreparationInstructions
from kapt_api.protocols.reminder_policy import (
    Channel,
    MessageTemplates,
    ReminderPolicy,
    ReminderRule,
)
from kapt_api.protocols.session_types import SessionKind

SMS_LIMIT = 160
PLACEHOLDERS = (
    "clinic_name",
    "clinic_phone",
    "date",
    "time",
    "location",
    "preparation_instructions",
)
# Placeholders templates once had: refused in new ones, rendered as nothing in stored ones.
RETIRED = ("patient_first_name",)
EMAIL_BODY_ONLY = frozenset({"preparation_instructions"})
SMS_REQUIRED = ("clinic_name", "clinic_phone")
STOP_WORD = re.compile(r"\bSTOP\b")
# Shortened, in this order, when a text would run past 160 characters.
SHORTENABLE = ("location", "clinic_name")
# A placeholder rendered as nothing takes the space before it along when one of these
# follows ("Hello {patient_first_name}," reads "Hello,").
CLOSING_PUNCTUATION = tuple(",.;:!?")
ELLIPSIS = "..."  # ASCII: one non-GSM-7 character would cut the text limit to 70

# Stems that name a drug, a route, a treatment or a diagnosis (DOMAIN.md §5.1 lists
# ketamine, Spravato, dosing, infusion, psychotherapy as never to appear).
CLINICAL_TERMS = re.compile(
    r"\b(?:"
    r"(?:es)?ketamin\w*|spravato|ketalar|rems|kap|"
    r"dos(?:e|es|ed|ing|age)|infusions?|injections?|shots?|lozenges?|troches?|"
    r"nasal|spray|sublingual|intravenous|intramuscular|iv|im|"
    r"psychotherap\w*|therap(?:y|ies|ist|ists|eutic)|psychedelic\w*|psychiatr\w*|"
    r"treatments?|medications?|medicines?|drugs?|prescri\w*|"
    r"depress(?:ion|ive|ed)|anxiety|ptsd|suicid\w*|diagnos\w*|mental|"
    r"integration|dissociat\w*|sedat\w*|monitoring"
    r")\b",
    re.IGNORECASE,
)


class TemplateError(ValueError):
    """A template that cannot be used, with a sentence saying why."""


@dataclass(frozen=True)
class ReminderContext:
    """The values a reminder may carry; the reminders domain formats date and time."""

    clinic_name: str
    clinic_phone: str
    date: str
    time: str
    location: str


@dataclass(frozen=True)
class RenderedReminder:
    channel: Channel
    subject: str | None
    body: str


# Long but realistic values: a template must fit 160 characters with these unshortened.
SAMPLE_CONTEXT = ReminderContext(
    clinic_name="Northern Lakes Integrative Health & Wellness Center",
    clinic_phone="+15555550100",
    date="Wednesday, September 30",
    time="10:30 AM",
    location="Suite 1200, 4500 North Lincoln Avenue",
)

DEFAULT_SMS = (
    "{clinic_name}: appointment {date} at {time}. "
    "To change it call {clinic_phone}. Reply STOP to opt out."
)
DEFAULT_SUBJECT = "Appointment reminder: {clinic_name}, {date}"
DEFAULT_EMAIL_BODY = (
    "Hello,\n\n"
    "This is a reminder of your appointment with {clinic_name} on {date} at {time}.\n\n"
    "Where: {location}\n\n"
    "{preparation_instructions}"
    "To reschedule or cancel, please call {clinic_phone}.\n\n"
    "{clinic_name}\n"
)


def default_templates(kind: SessionKind) -> MessageTemplates:
    """The PHI-safe wording every session kind starts with: it says "appointment" only."""
    return MessageTemplates(
        sms_body=DEFAULT_SMS, email_subject=DEFAULT_SUBJECT, email_body=DEFAULT_EMAIL_BODY
    )


def default_policy(kinds: Iterable[SessionKind]) -> ReminderPolicy:
    """Reminders by text and email: 72 h and 24 h before a dosing session (two reminders
    beat one, and 72 h falls before a 48-h cancellation cutoff), 24 h before any other
    session (DOMAIN.md §5.3)."""
    return ReminderPolicy(
        tuple(
            ReminderRule(
                session_kind=kind,
                offsets_hours=(72, 24) if kind is SessionKind.DOSING else (24,),
                channels=frozenset(Channel),
                templates=default_templates(kind),
            )
            for kind in kinds
        )
    )


def placeholders_in(template: str) -> list[str]:
    """The {names} a template uses; refuses anything but a plain known-shaped name."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise TemplateError("Unbalanced braces: write {{ and }} for literal braces.") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise TemplateError(
                "Write placeholders as {name}, without formats, indexes or attributes."
            )
        names.append(name)
    return names


def literal_text(template: str) -> str:
    """The template's own words, without its placeholders."""
    return " ".join(literal for literal, *_ in string.Formatter().parse(template))


def clinical_terms_in(text: str) -> list[str]:
    """Words in a text that name a drug, a route, a treatment or a diagnosis."""
    return sorted({match.group(0).lower() for match in CLINICAL_TERMS.finditer(text)})


def render(template: str, values: dict[str, str]) -> str:
    """Fill the placeholders; nothing but the named values can be reached."""
    out: list[str] = []
    emptied = False
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        if emptied and literal.startswith(CLOSING_PUNCTUATION) and out[-1].endswith(" "):
            out[-1] = out[-1][:-1]
        out.append(literal)
        value = values.get(name, "") if name is not None else None
        emptied = value == ""
        if value:
            out.append(value)
    return "".join(out)


def render_sms(template: str, context: ReminderContext, *, limit: int = SMS_LIMIT) -> str:
    """The text message, at most 160 characters (`limit`): an over-long location or
    clinic name is shortened (in that order) with "..."."""
    values = {**asdict(context), "preparation_instructions": ""}
    text = render(template, values)
    used = placeholders_in(template)
    for name in SHORTENABLE:
        count = used.count(name)
        if len(text) <= limit or not count:
            continue
        excess = len(text) - limit
        values[name] = _shorten(values[name], len(values[name]) - math.ceil(excess / count))
        text = render(template, values)
    if len(text) > limit:
        raise TemplateError(f"The text is {len(text)} characters even shortened; at most {limit}.")
    return text


def sms_with_link(template: str, context: ReminderContext, link: str | None) -> str:
    """The text ending with the patient's link where the whole fits in 160 characters
    (the template's usual shortening allowed); else the text alone, which the patient
    can still answer C or X to: the 160-character cap is TCPA's, the link is not."""
    if link:
        try:
            return f"{render_sms(template, context, limit=SMS_LIMIT - len(link) - 1)} {link}"
        except TemplateError:
            pass
    return render_sms(template, context)


def _shorten(value: str, length: int) -> str:
    if length >= len(value):
        return value
    if length <= len(ELLIPSIS):
        return value[: max(length, 0)]
    return value[: length - len(ELLIPSIS)].rstrip() + ELLIPSIS


def preparation_text(preparation: PreparationInstructions) -> str:
    """The preparation paragraph of an email body (empty when there is nothing to say)."""
    sentences: list[str] = []
    fasting = []
    if preparation.fasting_solids_minutes:
        fasting.append(f"no food for {_duration(preparation.fasting_solids_minutes)}")
    if preparation.fasting_liquids_minutes:
        fasting.append(f"no drinks for {_duration(preparation.fasting_liquids_minutes)}")
    if fasting:
        sentences.append(f"Please have {' and '.join(fasting)} before your appointment.")
    if preparation.driver_required:
        sentences.append(
            "Please arrange for someone to drive you home, and do not drive yourself "
            "until the next day."
        )
    if preparation.other_instructions:
        sentences.append(preparation.other_instructions)
    if not sentences:
        return ""
    return "Before your appointment: " + " ".join(sentences) + "\n\n"


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def render_reminder(
    rule: ReminderRule,
    channel: Channel,
    context: ReminderContext,
    preparation: PreparationInstructions,
    *,
    link: str | None = None,
) -> RenderedReminder:
    """One reminder as it is sent on one channel, carrying the patient's `link` (to
    confirm or cancel) when one is given."""
    if channel is Channel.SMS:
        text = sms_with_link(rule.templates.sms_body, context, link)
        return RenderedReminder(channel, None, text)
    values = {**asdict(context), "preparation_instructions": ""}
    subject = " ".join(render(rule.templates.email_subject, values).split())
    if rule.include_preparation_instructions:
        values["preparation_instructions"] = preparation_text(preparation)
    body = render(rule.templates.email_body, values)
    if link:
        body = f"{body.rstrip()}\n\nConfirm or cancel your appointment online: {link}\n"
    return RenderedReminder(channel, subject, body)
