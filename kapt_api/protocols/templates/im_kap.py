"""Ketamine-assisted psychotherapy with intramuscular dosing (DOMAIN.md §0.6, §3), on the
KAP pattern of building_blocks.kap_definition.

- IM is given and monitored by licensed medical staff (nurse or prescriber), the
  therapist present throughout (§0.7, §3.3; Calliope).
- Integration within 1-3 days after IM/IV dosing (§3.2, Balance Health & Healing).
- Fasting 6 h solids, 2 h clear liquids (§2.6, Balance Health & Healing).
"""

from __future__ import annotations

from kapt_api.auth.models import Role
from kapt_api.clinics.models import RoomKind
from kapt_api.protocols.definition import Medication, PreparationInstructions, Route
from kapt_api.protocols.templates.building_blocks import ProtocolTemplate, kap_definition

SOURCES = (
    "IM given and monitored by licensed medical staff (nurse or prescriber), therapist "
    "present throughout: DOMAIN.md §3.3; Calliope, https://calliope.health/preparing-"
    "for-your-ketamine-journey-and-group-experience/",
    "Integration within 1-3 days after IM/IV dosing: Balance Health & Healing, "
    "https://balancehealthandhealing.com/faq-what-should-i-expect-with-ketamine-therapy/",
    "Fasting 6 h solids, 2 h clear liquids: Balance Health & Healing, "
    "https://balancehealthandhealing.com/faq-how-do-i-prepare-for-ketamine-therapy/",
)

TEMPLATE = ProtocolTemplate(
    key="im-kap",
    name="IM KAP",
    description=(
        "Ketamine-assisted psychotherapy with intramuscular dosing: intake, two "
        "preparation sessions, six weekly dosing sessions with a therapist and a nurse or "
        "prescriber present, and integration 1-3 days after each dose."
    ),
    medication=Medication.RACEMIC_KETAMINE,
    route=Route.INTRAMUSCULAR,
    definition=kap_definition(
        dosing_roles=({Role.NURSE, Role.PRESCRIBER}, {Role.THERAPIST}),
        intake_room=RoomKind.THERAPY,
        intake_roles=({Role.PRESCRIBER}, {Role.THERAPIST}),
        window_end=72,
        preparation=PreparationInstructions(
            fasting_solids_minutes=360, fasting_liquids_minutes=120, driver_required=True
        ),
        sources=SOURCES,
    ),
)
