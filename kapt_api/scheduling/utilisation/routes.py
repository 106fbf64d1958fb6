"""Chair utilisation endpoint, under the document's "calendar" tag (scheduling/routes.py)."""

from __future__ import annotations

import uuid
from typing import Any

from kapt_api.auth.identity import authenticated, current_user
from kapt_api.openapi.pages import Blueprint
from kapt_api.patients.policy import caller
from kapt_api.scheduling.utilisation import service
from kapt_api.scheduling.utilisation.schemas import UtilisationOut, UtilisationQuery

bp = Blueprint("utilisation", __name__)
UTILISATION_QUERY = UtilisationQuery()


@bp.route("/clinics/<uuid:clinic_id>/utilisation")
@bp.arguments(UTILISATION_QUERY, location="query")
@bp.response(200, UtilisationOut)
@authenticated
def clinic_utilisation(query: dict[str, Any], clinic_id: uuid.UUID) -> Any:
    """Dosing chair hours booked, freed and backfilled over a range of the clinic's
    days, in all and per dosing room (front desk and administrators)."""
    return service.utilisation(
        clinic_id=clinic_id, first=query["from_"], last=query["to"], by=caller(current_user())
    )
