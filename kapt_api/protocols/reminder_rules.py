"""Does a reminder policy make sense and keep texts PHI-safe? (DOMAIN.md §5)"""

from __future__ import annotations

from kapt_api.protocols.definition import ProtocolDefinition
from kapt_api.protocols.problems import Problem, out_of_range
from kapt_api.protocols.reminder_policy import Channel, MessageTemplates, ReminderRule
from kapt_api.protocols.reminder_text import (
    EMAIL_BODY_ONLY,
    PLACEHOLDERS,
    RETIRED,
    SAMPLE_CONTEXT,
    SMS_LIMIT,
    SMS_REQUIRED,
    STOP_WORD,
    TemplateError,
    clinical_terms_in,
    literal_text,
    placeholders_in,
    render,
)

MAX_OFFSETS = 5
MAX_OFFSET_HOURS = 720
PREPARATION = "preparation_instructions"


def reminder_problems(definition: ProtocolDefinition) -> list[Problem]:
    """Every problem of a version's reminder policy."""
    kinds = {session.kind for session in definition.session_types}
    first_at: dict[str, int] = {}
    problems: list[Problem] = []
    for i, rule in enumerate(definition.reminder_policy.rules):
        path = f"reminder_policy.rules.{i}"
        if rule.session_kind not in kinds:
            problems.append(
                Problem(
                    f"{path}.session_kind",
                    f"This version has no {rule.session_kind} session type.",
                )
            )
        if rule.session_kind in first_at:
            problems.append(
                Problem(
                    f"{path}.session_kind",
                    f"{rule.session_kind} already has reminders at "
                    f"reminder_policy.rules.{first_at[rule.session_kind]}; keep one.",
                )
            )
        first_at.setdefault(rule.session_kind, i)
        problems += _timing_problems(rule, path)
        problems += template_problems(rule.templates, f"{path}.templates", rule=rule)
        problems += _preparation_problems(rule, path, definition)
    return problems


def _timing_problems(rule: ReminderRule, path: str) -> list[Problem]:
    problems: list[Problem] = []
    if not 1 <= len(rule.offsets_hours) <= MAX_OFFSETS:
        problems.append(
            Problem(f"{path}.offsets_hours", f"Give 1 to {MAX_OFFSETS} times before the session.")
        )
    seen: set[int] = set()
    for j, offset in enumerate(rule.offsets_hours):
        problems += out_of_range(f"{path}.offsets_hours.{j}", offset, 1, MAX_OFFSET_HOURS, "hours")
        if offset in seen:
            problems.append(Problem(f"{path}.offsets_hours.{j}", f"{offset} h is listed twice."))
        seen.add(offset)
    if not rule.channels:
        problems.append(Problem(f"{path}.channels", "Name at least one channel."))
    return problems


def template_problems(
    templates: MessageTemplates, path: str, *, rule: ReminderRule
) -> list[Problem]:
    """Placeholders known, texts within 160 characters and free of clinical words."""
    problems: list[Problem] = []
    for name in ("sms_body", "email_subject", "email_body"):
        text = getattr(templates, name)
        field = f"{path}.{name}"
        try:
            used = placeholders_in(text)
        except TemplateError as exc:
            problems.append(Problem(field, str(exc)))
            continue
        problems += _placeholder_problems(used, field)
        if name != "email_body":
            problems += _short_text_problems(text, used, field, rule=rule)
        if name == "sms_body":
            problems += _sms_problems(text, used, field)
        if name == "email_subject" and ("\n" in text or "\r" in text):
            problems.append(Problem(field, "A subject is one line."))
    return problems


def _placeholder_problems(used: list[str], field: str) -> list[Problem]:
    problems: list[Problem] = []
    retired = sorted(set(used) & set(RETIRED))
    if retired:
        problems.append(
            Problem(
                field,
                f"Reminders never name the patient: remove {{{retired[0]}}} (a text or "
                "an email may be read by someone else).",
            )
        )
    unknown = sorted(set(used) - set(PLACEHOLDERS) - set(RETIRED))
    if unknown:
        problems.append(
            Problem(
                field,
                f"Unknown placeholder {{{unknown[0]}}}; use "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                + ".",
            )
        )
    return problems


def _short_text_problems(
    text: str, used: list[str], field: str, *, rule: ReminderRule
) -> list[Problem]:
    """A text or a subject, which others may see: no preparation instructions and no
    clinical words unless the clinic allows them (DOMAIN.md §5.1)."""
    problems: list[Problem] = []
    if EMAIL_BODY_ONLY & set(used):
        problems.append(Problem(field, "Preparation instructions go only in the email body."))
    if not rule.allow_clinical_terms:
        terms = clinical_terms_in(literal_text(text))
        if terms:
            problems.append(
                Problem(
                    field,
                    "Texts and subjects must not name the drug, the treatment or a "
                    f"diagnosis: remove {', '.join(terms)} (or set allow_clinical_terms).",
                )
            )
    return problems


def _sms_problems(text: str, used: list[str], field: str) -> list[Problem]:
    problems: list[Problem] = []
    missing = [name for name in SMS_REQUIRED if name not in used]
    if missing:
        problems.append(
            Problem(
                field,
                "A text must name the clinic and give its number: add "
                + " and ".join(f"{{{name}}}" for name in missing)
                + ".",
            )
        )
    if not STOP_WORD.search(literal_text(text)):
        problems.append(Problem(field, 'A text must offer opt-out: add "Reply STOP to opt out".'))
    values = {name: getattr(SAMPLE_CONTEXT, name, "") for name in PLACEHOLDERS}
    length = len(render(text, values))
    if length > SMS_LIMIT:
        problems.append(
            Problem(
                field,
                f"With a long clinic name this text runs to {length} characters; "
                f"keep it to {SMS_LIMIT}.",
            )
        )
    return problems


def _preparation_problems(
    rule: ReminderRule, path: str, definition: ProtocolDefinition
) -> list[Problem]:
    if not rule.include_preparation_instructions:
        return []
    field = f"{path}.include_preparation_instructions"
    problems: list[Problem] = []
    if Channel.EMAIL not in rule.channels:
        problems.append(
            Problem(field, "Preparation instructions go only by email: add the email channel.")
        )
    try:
        in_body = PREPARATION in placeholders_in(rule.templates.email_body)
    except TemplateError:
        in_body = True  # the template's own problem is reported already
    if not in_body:
        problems.append(
            Problem(field, f"Add {{{PREPARATION}}} to the email body where they should appear.")
        )
    if definition.preparation.empty:
        problems.append(Problem(field, "This version has no preparation instructions to send."))
    return problems
