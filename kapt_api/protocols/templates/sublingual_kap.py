"""Ketamine-assisted psychotherapy with sublingual lozenges (DOMAIN.md §0.6, §3), on the
KAP pattern of building_blocks.kap_definition.

- The therapist is present for the whole dosing session with a remote prescriber; vitals
  before dosing and at the end (§0.7, §2.3, §3.3; Journey Clinical).
- Sublingual onset 10-30 min, peak about 40 min, effects 45-80 min (§2.1, Andrade 2019).
- Integration within 1-7 days after oral dosing (§3.2, Balance Health & Healing).
- Fasting 3 h food, 1 h liquids (§2.6, Flow Wellness).
"""

from __future__ import annotations

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.definition import Medication, PreparationInstructions, Route
from kapt_api.protocols.templates.building_blocks import ProtocolTemplate, kap_definition

SOURCES = (
    "Therapist present for the whole dosing session with a remote prescriber; vitals "
    "before dosing and at the end: Journey Clinical, https://journeyclinical.zendesk.com"
    "/hc/en-us/articles/34352436570644-Overview-Journey-Clinical-s-Offerings",
    "Sublingual onset 10-30 min, peak about 40 min, effects 45-80 min: Andrade, J Clin "
    "Psychiatry 2019, https://www.psychiatrist.com/jcp/depression/oral-ketamine-for-"
    "depression-practical-considerations/",
    "Integration within 1-7 days after oral dosing: Balance Health & Healing, "
    "https://balancehealthandhealing.com/faq-what-should-i-expect-with-ketamine-therapy/",
    "Fasting 3 h food, 1 h liquids: Flow Wellness, https://theflowwellness.com/"
    "ketamine-oral-dissolving-tablet-odt-treatment-information-and-instructions/",
)

TEMPLATE = ProtocolTemplate(
    key="sublingual-kap",
    name="Sublingual KAP",
    description=(
        "Ketamine-assisted psychotherapy with sublingual lozenges: telehealth intake with "
        "the prescriber, two preparation sessions, six weekly dosing sessions with the "
        "therapist present, and integration 1-7 days after each dose."
    ),
    medication=Medication.RACEMIC_KETAMINE,
    route=Route.SUBLINGUAL,
    definition=kap_definition(
        dosing_roles=({Role.THERAPIST},),
        intake_room=RoomKind.TELEHEALTH,
        intake_roles=({Role.PRESCRIBER},),
        window_end=168,
        preparation=PreparationInstructions(
            fasting_solids_minutes=180, fasting_liquids_minutes=60, driver_required=True
        ),
        sources=SOURCES,
    ),
)
