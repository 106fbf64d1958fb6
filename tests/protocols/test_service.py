"""Protocol use cases against the database: versions, drafts, publishing, immutability
(the service's guard and the database's own), templates and who sees what."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from kapt_api.auth.models import AuditEvent, Role
from kapt_api.db import db
from kapt_api.errors import Conflict, InvalidInput, NotFound, RuleRefused
from kapt_api.protocols import policy, service
from kapt_api.protocols.definition import HourWindow, Medication, Route, definition_of
from kapt_api.protocols.definition_schemas import ReminderPolicySchema
from kapt_api.protocols.models import Protocol, ProtocolVersion
from kapt_api.protocols.templates import TEMPLATES
from tests.protocols.conftest import ESKETAMINE, IM_KAP, NOW
from tests.protocols.shapes import with_sequencing, with_threshold

LATER = NOW.replace(hour=16)


def _reload(version: ProtocolVersion) -> ProtocolVersion:
    db.session.expire_all()
    found = db.session.get(ProtocolVersion, version.id)
    assert found is not None
    return found


# --- creating -------------------------------------------------------------------------------


def test_a_new_protocol_starts_with_a_draft_version_one(make_protocol, admin):
    protocol = make_protocol()
    [version] = protocol.versions
    assert (version.number, version.status, version.created_by) == (1, "draft", admin.id)
    assert definition_of(version) == IM_KAP.definition
    assert protocol.current_version is None and protocol.draft is version
    actions = db.session.scalars(
        select(AuditEvent.resource_type).where(AuditEvent.actor_id == admin.id)
    ).all()
    assert {"protocol", "protocol_version"} <= set(actions)


def test_an_invalid_definition_is_refused_naming_each_field(admin):
    broken = with_sequencing(IM_KAP.definition, dose_count=0)
    broken = with_threshold(broken, 2, low=200.0, high=100.0)
    with pytest.raises(InvalidInput) as refused:
        service.create_protocol(
            name="Broken",
            description="",
            medication=Medication.RACEMIC_KETAMINE,
            route=Route.INTRAMUSCULAR,
            clinic_id=None,
            definition=broken,
            by=admin,
            now=NOW,
        )
    assert set(refused.value.errors) == {
        "definition.sequencing.dose_count",
        "definition.checklist.thresholds.2.low",
    }
    assert db.session.scalar(select(func.count()).select_from(Protocol)) == 0


def test_esketamine_by_infusion_is_refused(make_protocol):
    with pytest.raises(InvalidInput) as refused:
        make_protocol(
            medication=Medication.ESKETAMINE,
            route=Route.INTRAVENOUS,
            definition=ESKETAMINE.definition,
        )
    assert list(refused.value.errors) == ["route"]


def test_esketamine_values_are_held_to_the_label(make_protocol):
    with pytest.raises(InvalidInput) as refused:
        make_protocol(
            medication=Medication.ESKETAMINE,
            route=Route.INTRANASAL,
            definition=with_sequencing(ESKETAMINE.definition, max_doses_per_7_days=3),
        )
    assert list(refused.value.errors) == ["definition.sequencing.max_doses_per_7_days"]


def test_protocol_names_are_unique_whatever_the_case(make_protocol):
    make_protocol(name="Clinic IM KAP")
    with pytest.raises(Conflict) as refused:
        make_protocol(name="clinic im kap")
    assert refused.value.code == "protocol_name_taken"


def test_a_protocol_for_an_unknown_clinic_is_refused(make_protocol):
    import uuid

    with pytest.raises(InvalidInput) as refused:
        make_protocol(clinic_id=uuid.uuid4())
    assert list(refused.value.errors) == ["clinic_id"]


# --- drafts and publishing ------------------------------------------------------------------


def test_editing_a_draft_replaces_whole_sections_and_validates_them(make_protocol, admin):
    version = make_protocol().versions[0]
    window = HourWindow(0, 48)
    sequencing = replace(IM_KAP.definition.sequencing, integration_window_hours=window)
    service.update_draft(
        version=version,
        changes={"sequencing": sequencing, "notes": "same day"},
        by=admin,
        now=LATER,
    )
    stored = _reload(version)
    assert definition_of(stored).sequencing.integration_window_hours == window
    assert (stored.notes, stored.updated_at) == ("same day", LATER)
    with pytest.raises(InvalidInput) as refused:
        service.update_draft(
            version=stored,
            changes={"sequencing": replace(sequencing, integration_window_hours=HourWindow(48, 0))},
            by=admin,
            now=LATER,
        )
    assert list(refused.value.errors) == ["sequencing.integration_window_hours.end"]


def test_publishing_freezes_a_version(make_protocol, admin):
    version = make_protocol().versions[0]
    service.publish(version=version, by=admin, now=LATER)
    stored = _reload(version)
    assert (stored.status, stored.published_at, stored.published_by) == (
        "published",
        LATER,
        admin.id,
    )
    before = dict(stored.document)
    with pytest.raises(Conflict) as refused:
        service.update_draft(version=stored, changes={"notes": "oops"}, by=admin, now=LATER)
    assert refused.value.code == "version_published"
    assert f"/protocols/{stored.protocol_id}/versions" in refused.value.detail
    assert "Link" in refused.value.headers
    with pytest.raises(Conflict):
        service.publish(version=stored, by=admin, now=LATER)
    with pytest.raises(Conflict):
        service.replace_reminder_policy(
            version=stored,
            reminder_policy=IM_KAP.definition.reminder_policy,
            by=admin,
            now=LATER,
        )
    assert _reload(version).document == before


def test_publishing_checks_the_definition_again(make_protocol, admin):
    version = make_protocol().versions[0]
    document = dict(version.document)
    document["sequencing"] = {**document["sequencing"], "dose_count": 0}
    version.document = document
    db.session.flush()
    with pytest.raises(InvalidInput) as refused:
        service.publish(version=version, by=admin, now=LATER)
    assert "sequencing.dose_count" in refused.value.errors


def test_a_new_draft_copies_the_latest_version_and_leaves_it_untouched(make_protocol, admin):
    protocol = make_protocol(published=True)
    first = protocol.versions[0]
    draft = service.create_draft(
        protocol=protocol, from_version_id=None, template_key=None, notes="v2", by=admin, now=LATER
    )
    assert (draft.number, draft.status, draft.based_on_version_id) == (2, "draft", first.id)
    assert draft.document == first.document
    edited = with_sequencing(IM_KAP.definition, min_hours_between_doses=72)
    service.update_draft(
        version=draft, changes={"sequencing": edited.sequencing}, by=admin, now=LATER
    )
    db.session.commit()
    assert definition_of(_reload(first)).sequencing.min_hours_between_doses == 48
    assert definition_of(_reload(draft)).sequencing.min_hours_between_doses == 72
    assert protocol.current_version_id == first.id


def test_only_one_draft_at_a_time(make_protocol, admin):
    protocol = make_protocol()
    with pytest.raises(Conflict) as refused:
        service.create_draft(
            protocol=protocol, from_version_id=None, template_key=None, notes="", by=admin, now=NOW
        )
    assert refused.value.code == "draft_exists"


def test_a_new_draft_from_a_template_or_a_named_version(make_protocol, admin):
    protocol = make_protocol(published=True)
    first = protocol.versions[0]
    second = service.create_draft(
        protocol=protocol, from_version_id=None, template_key="im-kap", notes="", by=admin, now=NOW
    )
    assert (second.template_key, second.based_on_version_id) == ("im-kap", None)
    service.publish(version=second, by=admin, now=NOW)
    third = service.create_draft(
        protocol=protocol, from_version_id=first.id, template_key=None, notes="", by=admin, now=NOW
    )
    assert (third.number, third.based_on_version_id) == (3, first.id)


def test_a_template_of_another_medication_or_route_is_refused(make_protocol, admin):
    protocol = make_protocol(published=True)
    with pytest.raises(InvalidInput) as refused:
        service.create_draft(
            protocol=protocol,
            from_version_id=None,
            template_key="sublingual-kap",
            notes="",
            by=admin,
            now=NOW,
        )
    assert list(refused.value.errors) == ["template"]


def test_a_version_of_another_protocol_is_refused(make_protocol, admin):
    mine = make_protocol(published=True)
    other = make_protocol(name="Other", published=True)
    with pytest.raises(InvalidInput) as refused:
        service.create_draft(
            protocol=mine,
            from_version_id=other.versions[0].id,
            template_key=None,
            notes="",
            by=admin,
            now=NOW,
        )
    assert list(refused.value.errors) == ["from_version_id"]


def test_reminder_policy_problems_are_named_within_the_policy(make_protocol, admin):
    version = make_protocol().versions[0]
    wire = ReminderPolicySchema().dump(IM_KAP.definition.reminder_policy)
    wire["rules"][2]["templates"]["email_subject"] = "Your dosing day"
    policy_value = ReminderPolicySchema().load(wire)
    with pytest.raises(InvalidInput) as refused:
        service.replace_reminder_policy(
            version=version, reminder_policy=policy_value, by=admin, now=NOW
        )
    assert list(refused.value.errors) == ["rules.2.templates.email_subject"]


# --- the database guards published versions itself ----------------------------------------


def test_the_database_refuses_to_change_or_delete_a_published_version(make_protocol):
    version = make_protocol(published=True).versions[0]
    for statement in (
        "UPDATE protocol_versions SET notes = 'rewritten' WHERE id = :id",
        "DELETE FROM protocol_versions WHERE id = :id",
    ):
        with pytest.raises(IntegrityError):
            db.session.execute(text(statement), {"id": _db_id(version)})
        db.session.rollback()
    assert _reload(version).notes == ""


def test_the_database_lets_a_draft_change(make_protocol):
    version = make_protocol().versions[0]
    db.session.execute(
        text("UPDATE protocol_versions SET notes = 'fine' WHERE id = :id"), {"id": _db_id(version)}
    )
    assert _reload(version).notes == "fine"


def test_the_database_keeps_one_draft_per_protocol(make_protocol, admin):
    protocol = make_protocol()
    db.session.add(
        ProtocolVersion(
            protocol_id=protocol.id,
            number=2,
            status="draft",
            document=protocol.versions[0].document,
        )
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_database_refuses_esketamine_by_another_route(admin):
    db.session.add(Protocol(name="Odd", medication="esketamine", route="oral"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def _db_id(version: ProtocolVersion) -> object:
    # SQLite stores a Uuid as 32 hex digits; PostgreSQL has a uuid type.
    return version.id.hex if db.session.get_bind().dialect.name == "sqlite" else version.id


# --- templates ------------------------------------------------------------------------------


def test_installing_the_built_ins_publishes_each_once(admin):
    installed = service.install_builtin_templates(by=None, now=NOW)
    assert [p.name for p in installed] == [t.name for t in TEMPLATES.values()]
    assert all(p.current_version is not None for p in installed)
    assert all(p.versions[0].published_by is None for p in installed)
    again = service.install_builtin_templates(by=admin)
    assert [p.id for p in again] == [p.id for p in installed]
    assert db.session.scalar(select(func.count()).select_from(ProtocolVersion)) == 4
    stored = definition_of(installed[0].versions[0])
    assert stored == TEMPLATES["esketamine-rems-induction"].definition


def test_copying_a_template_twice_names_the_copies_apart(admin):
    first = service.copy_template(key="im-kap", name=None, clinic_id=None, by=admin, now=NOW)
    second = service.copy_template(key="im-kap", name=None, clinic_id=None, by=admin, now=NOW)
    assert (first.name, second.name) == ("IM KAP (copy)", "IM KAP (copy 2)")
    assert first.template_key == "im-kap" and first.versions[0].status == "draft"
    with pytest.raises(NotFound):
        service.copy_template(key="lsd-kap", name=None, clinic_id=None, by=admin, now=NOW)


# --- who sees what --------------------------------------------------------------------------


def test_staff_see_published_versions_of_protocols_their_clinic_may_use(
    make_protocol, make_staff, clinic, other_clinic
):
    therapist = make_staff(clinic, Role.THERAPIST).user
    group_wide = make_protocol(name="Group", published=True)
    own = make_protocol(name="Own", published=True, clinic_id=clinic.id)
    elsewhere = make_protocol(name="Elsewhere", published=True, clinic_id=other_clinic.id)
    draft_only = make_protocol(name="Draft only")
    visible = db.session.scalars(service.list_protocols(user=therapist)).all()
    assert [p.name for p in visible] == ["Group", "Own"]
    assert policy.can_see_protocol(therapist, own)
    for hidden in (elsewhere, draft_only):
        with pytest.raises(NotFound):
            service.find_protocol(protocol_id=hidden.id, user=therapist)
    with pytest.raises(NotFound):
        service.find_version(version_id=draft_only.versions[0].id, user=therapist)
    assert service.find_version(version_id=group_wide.versions[0].id, user=therapist)


def test_admins_see_drafts_and_every_clinic(make_protocol, admin, other_clinic):
    make_protocol(name="Draft only")
    make_protocol(name="Elsewhere", published=True, clinic_id=other_clinic.id)
    names = [p.name for p in db.session.scalars(service.list_protocols(user=admin))]
    assert names == ["Draft only", "Elsewhere"]


def test_listing_filters_by_medication_route_and_clinic(make_protocol, admin, clinic, other_clinic):
    make_protocol(name="IM here", clinic_id=clinic.id)
    make_protocol(name="IM there", clinic_id=other_clinic.id)
    make_protocol(
        name="Nasal",
        medication=Medication.ESKETAMINE,
        route=Route.INTRANASAL,
        definition=ESKETAMINE.definition,
    )

    def names(**filters):
        return [p.name for p in db.session.scalars(service.list_protocols(user=admin, **filters))]

    assert names(medication=Medication.ESKETAMINE) == ["Nasal"]
    assert names(route=Route.INTRAMUSCULAR) == ["IM here", "IM there"]
    assert names(clinic_id=clinic.id) == ["IM here", "Nasal"]


def test_a_course_enrols_only_on_a_published_version_its_clinic_may_use(
    make_protocol, clinic, other_clinic
):
    published = make_protocol(name="Here", published=True, clinic_id=clinic.id).versions[0]
    assert service.enrollable_version(version_id=published.id, clinic_id=clinic.id) is published
    with pytest.raises(NotFound):
        service.enrollable_version(version_id=published.id, clinic_id=other_clinic.id)
    draft = make_protocol(name="Draft").versions[0]
    with pytest.raises(RuleRefused) as refused:
        service.enrollable_version(version_id=draft.id, clinic_id=clinic.id)
    assert refused.value.violations[0].rule == "protocol_version_not_published"


def test_a_version_that_newer_rules_refuse_can_still_be_copied_and_corrected(make_protocol, admin):
    """A version published before a rule tightened must not lock its protocol."""
    protocol = make_protocol(published=True)
    legacy = ProtocolVersion(
        number=2,
        status="published",
        document={**protocol.versions[0].document, "approval_note": "  "},
        published_at=NOW,
    )
    protocol.versions.append(legacy)
    db.session.flush()
    draft = service.create_draft(
        protocol=protocol, from_version_id=None, template_key=None, notes="", by=admin, now=NOW
    )
    assert draft.based_on_version_id == legacy.id
    with pytest.raises(InvalidInput) as refused:
        service.publish(version=draft, by=admin, now=LATER)
    assert list(refused.value.errors) == ["approval_note"]
    service.update_draft(
        version=draft, changes={"approval_note": "Approved by Dr Reyes"}, by=admin, now=LATER
    )
    assert service.publish(version=draft, by=admin, now=LATER).status == "published"
