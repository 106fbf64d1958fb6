"""The outbox over HTTP: each reminder of an appointment with its delivery state, and
the webhook subscriptions of clinic apps."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from kapt_api.auth.identity import authenticated, current_user, requires
from kapt_api.auth.models import Role
from kapt_api.db import db
from kapt_api.idempotency import idempotent
from kapt_api.openapi import QueryPage
from kapt_api.patients.policy import caller
from kapt_api.reminders import events, service
from kapt_api.reminders import planning as planning  # connects the receivers
from kapt_api.reminders import staff_alerts as staff_alerts  # connects the receiver
from kapt_api.reminders.schemas import (
    ReminderOut,
    ReminderQuery,
    WebhookSubscriptionCreated,
    WebhookSubscriptionIn,
    WebhookSubscriptionOut,
)

bp = Blueprint("reminders", __name__, url_prefix="/api/v1", description="Reminders")


@bp.route("/reminders")
@bp.arguments(ReminderQuery, location="query")
@bp.response(200, ReminderOut(many=True))
@bp.paginate(QueryPage)
@authenticated
def list_reminders(query: dict[str, Any]) -> Any:
    """Each reminder of an appointment: status, attempts, last error and sent time."""
    return service.reminders_of(appointment_id=query["appointment_id"], by=caller(current_user()))


@bp.route("/webhook-subscriptions")
@bp.response(200, WebhookSubscriptionOut(many=True))
@bp.paginate(QueryPage)
@requires(Role.ADMIN)
def list_webhook_subscriptions() -> Any:
    """Clinic apps subscribed to signed event posts."""
    return events.subscriptions()


@bp.route("/webhook-subscriptions", methods=["POST"])
@idempotent
@bp.arguments(WebhookSubscriptionIn)
@bp.response(201, WebhookSubscriptionCreated)
@requires(Role.ADMIN)
def create_webhook_subscription(data: dict[str, Any]) -> Any:
    """Subscribe a URL to events; the signing secret is shown in this answer only."""
    subscription = events.subscribe(**data)
    db.session.commit()
    return subscription


@bp.route("/webhook-subscriptions/<uuid:subscription_id>", methods=["DELETE"])
@bp.response(204)
@requires(Role.ADMIN)
def delete_webhook_subscription(subscription_id: uuid.UUID) -> None:
    """Stop posting events to a subscription."""
    events.unsubscribe(subscription_id=subscription_id)
    db.session.commit()
