"""The outbox over HTTP: each reminder of an appointment with its delivery state."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from kapt_api.auth.identity import authenticated, current_user
from kapt_api.openapi import QueryPage
from kapt_api.patients.policy import caller
from kapt_api.reminders import planning as planning  # connects the receivers
from kapt_api.reminders import service
from kapt_api.reminders.schemas import ReminderOut, ReminderQuery

bp = Blueprint("reminders", __name__, url_prefix="/api/v1", description="Reminders")


@bp.route("/reminders")
@bp.arguments(ReminderQuery, location="query")
@bp.response(200, ReminderOut(many=True))
@bp.paginate(QueryPage)
@authenticated
def list_reminders(query: dict[str, Any]) -> Any:
    """Each reminder of an appointment: status, attempts, last error and sent time."""
    return service.reminders_of(appointment_id=query["appointment_id"], by=caller(current_user()))
