"""How an outbox row leaves: email over SMTP, a signed webhook POST, SMS through a
provider whose real transport is the clinic's gateway webhook, or the console.

Every message carries the row's id as its idempotency key (the email's Message-ID,
the webhook's Idempotency-Key), so a receiver can drop the rare duplicate a crashed
dispatcher leaves behind. A channel answers, per message, None (delivered) or a
DeliveryError saying whether trying again may help.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import smtplib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

import requests
import structlog

log = structlog.get_logger("kapt.reminders")
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Outgoing:
    """A claimed row, as plain values: what a channel needs to send it."""

    id: uuid.UUID
    channel: str
    recipient: str
    subject: str | None
    body: str
    attachment: str | None = None
    payload: Mapping[str, Any] | None = None


class DeliveryError(Exception):
    """A message not delivered; `permanent` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


Outcome = DeliveryError | None


class Channel(Protocol):
    def deliver(self, messages: Sequence[Outgoing]) -> list[Outcome]: ...


def message_id(reminder_id: uuid.UUID, domain: str) -> str:
    return f"<reminder-{reminder_id}@{domain}>"


# --- email -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    starttls: bool = False

    @property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2]


def email_message(message: Outgoing, *, sender: str, domain: str) -> EmailMessage:
    """Text and HTML parts, and the calendar event attached as invite.ics."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject or ""
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id(message.id, domain)
    mail.set_content(message.body)
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>"
        for p in message.body.split("\n\n")
        if p.strip()
    )
    mail.add_alternative(f"<!doctype html><html><body>{paragraphs}</body></html>", subtype="html")
    if message.attachment:
        mail.add_attachment(
            message.attachment.encode(),
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params={"method": "PUBLISH"},
        )
    return mail


def _smtp_outcome(exc: smtplib.SMTPException) -> DeliveryError:
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        code = min(codes) if codes else None
    permanent = isinstance(code, int) and 500 <= code < 600
    return DeliveryError(f"SMTP {code or ''} {type(exc).__name__}".strip(), permanent=permanent)


@dataclass
class SmtpChannel:
    """Email over one SMTP connection, kept open between batches (a relay answers a new
    connection far slower than a message) and opened again when the relay closed it."""

    settings: SmtpSettings
    _smtp: smtplib.SMTP | None = field(default=None, repr=False)

    def _connect(self) -> smtplib.SMTP:
        # EHLO with the sender's domain: smtplib's default looks the machine's name up
        # in DNS on every connection.
        smtp = smtplib.SMTP(
            self.settings.host,
            self.settings.port,
            local_hostname=self.settings.domain,
            timeout=TIMEOUT_SECONDS,
        )
        if self.settings.starttls:
            smtp.starttls()
        if self.settings.username:
            smtp.login(self.settings.username, self.settings.password)
        return smtp

    def deliver(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for number, message in enumerate(messages):
            try:
                outcomes.append(self._send(message))
            except (OSError, smtplib.SMTPException) as exc:
                # No connection: this message and the rest wait for the next try.
                self.close()
                error = DeliveryError(
                    f"SMTP connection failed: {type(exc).__name__}", permanent=False
                )
                return outcomes + [error] * (len(messages) - number)
        return outcomes

    def _send(self, message: Outgoing) -> Outcome:
        mail = email_message(message, sender=self.settings.sender, domain=self.settings.domain)
        try:
            return self._transmit(mail)
        except (smtplib.SMTPServerDisconnected, OSError):
            # The relay closed the idle connection: open a new one, once.
            self.close()
            return self._transmit(mail)

    def _transmit(self, mail: EmailMessage) -> Outcome:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(mail)
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPException as exc:
            return _smtp_outcome(exc)
        return None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


# --- webhooks and SMS ------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over "<timestamp>.<body>" (the timestamp is signed
    too, so a receiver can refuse an old post replayed)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def post_signed(url: str, document: Mapping[str, Any], *, secret: str, key: str) -> None:
    """POST a JSON document signed with the secret; raise DeliveryError on failure."""
    body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "X-Kapt-Timestamp": timestamp,
        "X-Kapt-Signature": signature(secret, timestamp, body),
    }
    try:
        answer = requests.post(url, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise DeliveryError(f"webhook unreachable: {type(exc).__name__}", permanent=False) from None
    if answer.status_code < 300:
        return
    retry = answer.status_code >= 500 or answer.status_code in (408, 409, 425, 429)
    raise DeliveryError(f"webhook answered {answer.status_code}", permanent=not retry)


class SmsProvider(Protocol):
    def send(self, to: str, body: str, idempotency_key: str) -> None: ...


@dataclass(frozen=True)
class GatewaySmsProvider:
    """Texts through the clinic's SMS gateway, which receives a signed webhook."""

    url: str
    secret: str

    def send(self, to: str, body: str, idempotency_key: str) -> None:
        post_signed(self.url, {"to": to, "body": body}, secret=self.secret, key=idempotency_key)


def _each(messages: Sequence[Outgoing], send: Any) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for message in messages:
        try:
            send(message)
            outcomes.append(None)
        except DeliveryError as exc:
            outcomes.append(exc)
    return outcomes


@dataclass(frozen=True)
class SmsChannel:
    provider: SmsProvider

    def deliver(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        return _each(messages, lambda m: self.provider.send(m.recipient, m.body, str(m.id)))


@dataclass(frozen=True)
class WebhookChannel:
    """Event posts to a subscriber; the row's payload holds the document and secret."""

    def deliver(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        return _each(messages, self._send)

    @staticmethod
    def _send(message: Outgoing) -> None:
        payload = message.payload or {}
        post_signed(
            message.recipient,
            payload.get("document", {}),
            secret=str(payload.get("secret", "")),
            key=str(message.id),
        )


@dataclass
class ConsoleChannel:
    """The embedded default: logs each message (its id and channel, never its content
    or recipient) and keeps it in `delivered` for whoever runs the process."""

    delivered: list[Outgoing] = field(default_factory=list)

    def deliver(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        for message in messages:
            log.info(
                "reminder_delivered_to_console",
                reminder_id=str(message.id),
                channel=message.channel,
            )
            self.delivered.append(message)
        return [None for _ in messages]


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
