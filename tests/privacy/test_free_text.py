"""Free text is clinical: what a person writes about a patient or a session is shown to
the patient's care team (its prescriber, nurse and therapist) and to administrators
(less, where a domain hides it from them), never to the front desk or to staff off the
care team, who see at most the reason's category.

The OpenAPI document marks every such field x-free-text, and every other string an
answer carries is listed below as what it is. Then the clinic story (conftest.py)
writes a marker into every free-text field a request takes, and every GET operation of
the document is read as every kind of reader, on and off the care team."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from kapt_api.fields import FREE_TEXT
from tests.privacy import document
from tests.privacy.conftest import DOSE_AT, MARKER, Story, markers_in
from tests.scheduling.conftest import IM_KAP_KEY, NOW

# Every plain string (no format, no list of values) an answer may carry that is not
# free text about a patient, and what it is instead.
NOT_FREE_TEXT = {
    # Names and contact details: of people, clinics, rooms, protocols.
    **dict.fromkeys(
        [
            "ClinicOut.name",
            "ClinicOut.address",
            "ClinicOut.phone",
            "RoomOut.name",
            "RoomBriefOut.name",
            "StaffOut.full_name",
            "StaffOut.email",
            "StaffOut.phone",
            "StaffOut.credentials",
            "StaffBriefOut.name",
            "PersonOut.name",
            "UserOut.full_name",
            "UserOut.email",
            "Patient.given_name",
            "Patient.family_name",
            "Patient.email",
            "Patient.phone",
            "ScheduledAppointmentOut.patient_name",
            "RemsFormOut.patient_name",
            "RemsFormOut.monitoring_clinician",
            "RemsFormOut.setting_name",
            "RemsFormOut.setting_address",
            "Course.protocol_name",
            "ProtocolOut.name",
            "ProtocolRef.name",
            "TemplateOut.name",
            "WebhookSubscriptionOut.url",
            "WebhookSubscriptionCreated.url",
            "CalendarFeedOut.url",
            "PatientLinkOut.clinic_name",
            "PatientLinkOut.clinic_phone",
            "PatientLinkOut.place",
        ],
        "a name, an address or contact details",
    ),
    # Codes and kinds from a fixed vocabulary the schema does not enumerate.
    **dict.fromkeys(
        [
            "AuditEventOut.action",
            "AuditEventOut.outcome",
            "AuditEventOut.resource_type",
            "AuditEventOut.resource_id",
            "AuditEventOut.request_id",
            "HealthOut.status",
            "ReadyOut.status",
            "ReadyOut.database",
            "SchedulerOut.status",
            "MeasureOut.loinc",
            "PersonOut.roles[]",
            "ReminderOut.reason",
            "RemsFormOut.sex",
            "RemsFormOut.missing[]",
            "RemsFormOut.lot_number",
            "RoomBriefOut.kind",
            "SessionOut.discharge_confirmed[]",
            "ProtocolOut.template_key",
            "ProtocolVersionOut.template_key",
            "TemplateOut.key",
            "Timepoint.key",
            "DischargeCriterion.key",
            "ReadingOut.timepoint",
            "OccurrenceOut.timepoint",
            "Problem.type",
            "Problem.code",
            "Problem.request_id",
            "PatientLinkOut.status",
        ],
        "a code or a kind",
    ),
    # Wall-clock times (zone names are the TimeZone schema).
    **dict.fromkeys(
        [
            "OpeningHours.opens",
            "OpeningHours.closes",
            "WorkingHours.starts",
            "WorkingHours.ends",
            "PatientLinkOut.date",
            "PatientLinkOut.time",
            "PatientLinkOut.offer_passes_on",
            "TimeWindowOut.starts",
            "TimeWindowOut.ends",
        ],
        "a time zone or a clock time",
    ),
    # What administrators write about a protocol, for every patient on it.
    **dict.fromkeys(
        [
            "ProtocolOut.description",
            "ProtocolVersionOut.notes",
            "TemplateOut.description",
            "Definition.approval_note",
            "Definition.sources[]",
            "Phase.name",
            "Timepoint.label",
            "OccurrenceOut.label",
            "DischargeCriterion.label",
            "Threshold.message",
            "MessageTemplates.sms_body",
            "MessageTemplates.email_subject",
            "MessageTemplates.email_body",
            "Preparation.other_instructions",
        ],
        "protocol text, about no patient",
    ),
    # Sentences the server writes from rules and values, never from a person's text.
    **dict.fromkeys(
        [
            "AlertOut.message",
            "HoldOut.reason",
            "DueSessionOut.note",
            "DueSessionOut.phase",
            "ReminderOut.last_error",
            "Problem.title",
            "Problem.detail",
            "Violation.message",
            "Problem.errors{}[]",
            "SmsReplyOut.reply",
        ],
        "a sentence the server writes",
    ),
    # Secrets shown once to the one they belong to.
    **dict.fromkeys(
        ["TokenOut.access_token", "TokenOut.refresh_token", "WebhookSubscriptionCreated.secret"],
        "a credential",
    ),
    # Time off is about a staff member, not a patient: the clinic's staff see it, so
    # that the schedule makes sense, and its field asks to keep health details out.
    "TimeOffOut.reason": "about a staff member, shown to the clinic's staff",
}

ON_TEAM = ("prescriber on the care team", "nurse on the care team", "therapist on the care team")
# Administrators see the reasons of an appointment's status history, and the audit log
# keeps the reason given with a change (an override, a cancellation, a no-show, a hold
# or discharge overridden). They do not chart, so they see no clinical note.
ADMINS_SEE = {
    "CancelIn.reason",
    "NoShowIn.reason",
    "OverrideIn.reason",
    "ReasonIn.reason",
    "DischargeIn.override_reason",
}


@pytest.fixture(scope="module")
def spec(app: Flask) -> dict[str, Any]:
    return dict(app.test_client().get("/openapi.json").get_json())


def answer_components(spec: dict[str, Any]) -> set[str]:
    return document.components(spec, document.answer_schemas(spec))


def test_every_plain_string_an_answer_carries_is_listed_as_what_it_is(spec):
    plain = document.plain_strings(spec, answer_components(spec))

    assert sorted(plain - set(NOT_FREE_TEXT)) == [], "mark free text FreeTextOut, or list it"
    assert sorted(set(NOT_FREE_TEXT) - plain) == [], "listed, but no longer a plain string"


def test_every_property_of_an_answer_says_what_it_holds(spec):
    """A property without a type (a Function field) could hide a string from the test
    above: each one has a type, a reference, a list of values or a constant."""
    shapes = {"type", "$ref", "oneOf", "anyOf", "allOf", "enum", "const", "default"}
    untyped = sorted(
        f"{name}.{field}"
        for name in answer_components(spec)
        for field, node in spec["components"]["schemas"][name].get("properties", {}).items()
        if not shapes & set(node)
    )
    assert untyped == []


def test_free_text_is_marked_in_requests_and_answers(spec):
    requests = document.components(spec, document.request_schemas(spec))
    assert "CancelIn.reason" in document.free_text(spec, requests)
    assert "StatusChange.reason" in document.free_text(spec, answer_components(spec))
    # Only some views show it: it is not a field every answer has.
    status_change = spec["components"]["schemas"]["StatusChange"]
    assert "reason" not in status_change["required"]
    assert "reason_category" in status_change["required"]


# --- every GET, as every reader ----------------------------------------------------------


def readers(story: Story) -> dict[str, Any]:
    here, there = story.place, story.other_place
    return {
        "admin": here.admin,
        "front desk": here.front_desk,
        ON_TEAM[0]: here.prescriber,
        ON_TEAM[1]: here.nurse,
        ON_TEAM[2]: here.therapist,
        **story.off_team,
        "therapist of another clinic": there.therapist,
        "front desk of another clinic": there.front_desk,
    }


def parameter_values(story: Story, reader: Any) -> dict[str, list[str]]:
    """What each path and query parameter is given: the story's objects, its dates."""
    here = story.place
    return {
        "clinic_id": [str(here.clinic.id)],
        "room_id": [str(here.dosing_room.id)],
        "staff_id": [str(m.id) for m in (here.prescriber, here.nurse, here.therapist)],
        "patient_id": [str(story.patient.id)],
        "course_id": [story.course["id"]],
        "protocol_id": [story.course["protocol_id"]],
        "version_id": [story.course["protocol_version_id"]],
        "key": [IM_KAP_KEY],
        "appointment_id": list(story.appointments.values()),
        # Waitlist entries carry no free text (their fields are codes, dates and ids).
        "entry_id": ["00000000-0000-4000-8000-000000000000"],
        "token": [story.feeds.get(reader.id, "no-such-feed")],
        "date": [DOSE_AT.date().isoformat()],
        "kind": ["dosing"],
        "from": [(NOW - timedelta(days=1)).isoformat()],
        "to": [(NOW + timedelta(days=10)).isoformat()],
        "page_size": ["100"],
    }


def requests(
    spec: dict[str, Any], values: dict[str, list[str]]
) -> Iterator[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """Every GET of the document with its parameters filled in every way the story
    offers: (operation, URL, query, the 200 answer's schema)."""
    for path, method, operation in document.operations(spec):
        if method != "get":
            continue
        given = [document.resolve(spec, p) for p in operation.get("parameters", [])]
        names = re.findall(r"{(\w+)}", path)
        query = [p["name"] for p in given if p["in"] == "query" and p["name"] in values]
        missing = [p["name"] for p in given if p.get("required") and p["name"] not in values]
        assert missing == [], f"the story gives no value for {missing} of GET {path}"
        schema = _answer_schema(spec, operation)
        for chosen in itertools.product(*(values[name] for name in [*names, *query])):
            filled = dict(zip([*names, *query], chosen, strict=True))
            url = path.format(**{name: filled[name] for name in names})
            yield f"GET {path}", url, {name: filled[name] for name in query}, schema


def _answer_schema(spec: dict[str, Any], operation: dict[str, Any]) -> Any:
    ok = document.resolve(spec, operation["responses"].get("200", {}))
    return next(iter(ok.get("content", {}).values()), {}).get("schema", {})


def filled_fields(spec: dict[str, Any], schema: Any, value: Any, where: str = "") -> set[str]:
    """`Schema.field` of each free-text field holding a marker in this answer."""
    if isinstance(schema, dict) and "$ref" in schema:
        where = schema["$ref"].rpartition("/")[2]
        schema = document.resolve(spec, schema)
    if not isinstance(schema, dict):
        return set()
    found: set[str] = set()
    for alternative in [*schema.get("oneOf", []), *schema.get("anyOf", [])]:
        if _fits(spec, alternative, value):
            found |= filled_fields(spec, alternative, value, where)
    if isinstance(value, dict):
        for key, item in value.items():
            node = schema.get("properties", {}).get(key)
            if node is None:
                continue
            if node.get(FREE_TEXT) and isinstance(item, str) and MARKER.search(item):
                found.add(f"{where}.{key}")
            found |= filled_fields(spec, node, item, where)
    elif isinstance(value, list):
        for item in value:
            found |= filled_fields(spec, schema.get("items"), item, where)
    return found


def _fits(spec: dict[str, Any], schema: Any, value: Any) -> bool:
    schema = document.resolve(spec, schema)
    if value is None:
        return "null" in str(schema.get("type"))
    if isinstance(value, dict):
        return set(schema.get("required", [])) <= set(value) <= set(schema.get("properties", {}))
    return True


def test_free_text_is_shown_only_to_the_care_team_and_admins(spec, story):
    components = answer_components(spec)
    requested = document.components(spec, document.request_schemas(spec))
    assert story.written == document.free_text(spec, requested), "write into every one"

    seen: dict[str, set[str]] = {}
    filled: set[str] = set()
    read: set[str] = set()
    for label, reader in readers(story).items():
        seen[label] = set()
        headers = story.headers_of(reader)
        for operation, url, query, schema in requests(spec, parameter_values(story, reader)):
            answer = story.client.get(url, query_string=query, headers=headers)
            assert answer.status_code < 500, (label, url)
            read.add(operation)
            seen[label] |= markers_in(answer.get_data(as_text=True))
            if answer.status_code == 200 and answer.is_json:
                filled |= filled_fields(spec, schema, answer.get_json())

    everything = {f"FREETEXT-{name}" for name in story.written}
    admins = {f"FREETEXT-{name}" for name in ADMINS_SEE}
    expected = {
        label: everything if label in ON_TEAM else admins if label == "admin" else set()
        for label in seen
    }
    assert seen == expected
    assert read == {f"GET {p}" for p, m, _ in document.operations(spec) if m == "get"}
    assert filled == document.free_text(spec, components), "every answer's free text was read"
