"""How an outbox row leaves: email over SMTP, a signed webhook POST, SMS through a
provider whose real transport is the clinic's gateway webhook, or the console.

Every message carries the row's id as its idempotency key (the email's Message-ID,
the webhook's Idempotency-Key), so a receiver can drop the rare duplicate a crashed
dispatcher leaves behind. A channel answers, per message, None (delivered) or a
DeliveryError saying whether trying again may help. The values a channel is given and
answers are in outgoing.py; email in smtp.py, webhooks and SMS in webhooks.py, the
console in console.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kapt_api.reminders.channels.console import ConsoleChannel
from kapt_api.reminders.channels.outgoing import (
    TIMEOUT_SECONDS,
    Channel,
    DeliveryError,
    Outcome,
    Outgoing,
    message_id,
)
from kapt_api.reminders.channels.smtp import SmtpChannel, SmtpSettings, email_message
from kapt_api.reminders.channels.webhooks import (
    GatewaySmsProvider,
    SmsChannel,
    SmsProvider,
    WebhookChannel,
    post_signed,
    signature,
)

__all__ = [
    "TIMEOUT_SECONDS",
    "Channel",
    "ConsoleChannel",
    "DeliveryError",
    "GatewaySmsProvider",
    "Outcome",
    "Outgoing",
    "SmsChannel",
    "SmsProvider",
    "SmtpChannel",
    "SmtpSettings",
    "WebhookChannel",
    "email_message",
    "message_id",
    "post_signed",
    "registry_from_config",
    "signature",
]


def registry_from_config(config: Mapping[str, Any]) -> dict[str, Channel]:
    """The channels this process sends through: SMTP when a host is set, the SMS gateway
    when its URL is set, the console otherwise."""
    console = ConsoleChannel()
    email: Channel = console
    if config["KAPT_SMTP_HOST"]:
        email = SmtpChannel(
            SmtpSettings(
                host=config["KAPT_SMTP_HOST"],
                port=config["KAPT_SMTP_PORT"],
                sender=config["KAPT_MAIL_FROM"],
                username=config["KAPT_SMTP_USERNAME"],
                password=config["KAPT_SMTP_PASSWORD"],
                starttls=config["KAPT_SMTP_STARTTLS"],
            )
        )
    sms: Channel = console
    if config["KAPT_SMS_GATEWAY_URL"]:
        sms = SmsChannel(
            GatewaySmsProvider(config["KAPT_SMS_GATEWAY_URL"], config["KAPT_SMS_GATEWAY_SECRET"])
        )
    return {"email": email, "sms": sms, "webhook": WebhookChannel()}
