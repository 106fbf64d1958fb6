"""The outbox over HTTP: each reminder of an appointment with its delivery state, and
the webhook subscriptions of clinic apps."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from flask import current_app, request

from kapt_api import clock
from kapt_api.auth.identity import authenticated, current_user, public, requires
from kapt_api.auth.models import Role
from kapt_api.db import db
from kapt_api.extensions import limiter
from kapt_api.idempotency import idempotent
from kapt_api.openapi import QueryPage, documents
from kapt_api.openapi.pages import Blueprint
from kapt_api.patients.policy import caller
from kapt_api.reminders import events, inbound, service
from kapt_api.reminders import front_desk as front_desk  # connects the receiver
from kapt_api.reminders import planning as planning  # connects the receivers
from kapt_api.reminders import staff_alerts as staff_alerts  # connects the receiver
from kapt_api.reminders import waitlist_offers as waitlist_offers  # connects the receivers
from kapt_api.reminders.schemas import (
    ReminderOut,
    ReminderQuery,
    SmsInboundIn,
    SmsReplyOut,
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


def _signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Check the gateway's signature over the raw body before the body is read."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        secret = str(current_app.config["KAPT_SMS_INBOUND_SECRET"])
        header = request.headers.get(inbound.SIGNATURE_HEADER)
        inbound.check_signature(request.get_data(cache=True), header, secret)
        return view(*args, **kwargs)

    return checked


def _inbound_limit() -> str:
    return str(current_app.config["KAPT_PATIENT_LINK_RATE_LIMIT"])


def _badly_signed(response: Any) -> bool:
    # Only refused signatures count: the gateway posts every reply from one address, and
    # a busy clinic's replies must not be turned away; guessing the secret must be.
    return bool(response.status_code in (401, 403))


@bp.route("/sms/inbound", methods=["POST"])
@public
@limiter.limit(_inbound_limit, deduct_when=_badly_signed)
@_signed
@bp.arguments(SmsInboundIn)
@bp.response(200, SmsReplyOut)
@bp.doc(
    security=[],
    parameters=[
        {
            "name": inbound.SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "description": "sha256=<hex HMAC-SHA256 of the raw body with the shared secret>",
            "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
        }
    ],
    **documents([401, 403, 429]),
)
def receive_sms_reply(data: dict[str, Any]) -> Any:
    """A patient's reply to a text reminder, posted by the SMS gateway (signed): C
    confirms and X cancels their next session; answers what to text back."""
    answer = inbound.answer_reply(sender=data["sender"], text=data["text"], now=clock.now())
    db.session.commit()
    return answer
