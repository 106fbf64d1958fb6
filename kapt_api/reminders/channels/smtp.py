"""Email over SMTP: text and HTML parts, the calendar event attached as invite.ics, and
the row's id in the Message-ID."""

from __future__ import annotations

import functools
import html
import secrets
import smtplib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import formatdate

from kapt_api.reminders.channels.outgoing import (
    TIMEOUT_SECONDS,
    DeliveryError,
    Outcome,
    Outgoing,
    message_id,
)


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


class _Headers(HeaderRegistry):
    """The standard header classes, each made once: HeaderRegistry makes a new class
    for every header it is asked for, and a class new to the interpreter is slow to
    instantiate, a third of building a reminder's message. Same classes, same output."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[type, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        kind = self.registry.get(name.lower(), self.default_class)
        made = self._made.get(kind)
        if made is None:
            made = self._made[kind] = type("_" + kind.__name__, (kind, self.base_class), {})
        return made


POLICY = policy.default.clone(header_factory=_Headers())


@functools.lru_cache(maxsize=64)
def _from(sender: str) -> BaseHeader:
    """The From header, parsed once per sender: a header is an immutable string."""
    header: BaseHeader = POLICY.header_factory("From", sender)
    return header


def _boundary(*texts: str) -> str:
    """A boundary of the generator's own form, chosen before the parts are added. Left
    to the generator, it compiles a regular expression for each message to check its
    random boundary against the parts, then rewrites the Content-Type header to carry
    it: a sixth of sending a reminder. Fifteen '=' in a row never occur in
    quoted-printable or base64 text, and the texts sent as they are are checked."""
    while True:
        boundary = f"==============={secrets.randbelow(sys.maxsize):019d}=="
        if not any(boundary in text for text in texts):
            return boundary


def email_message(message: Outgoing, *, sender: str, domain: str) -> EmailMessage:
    """Text and HTML parts, and the calendar event attached as invite.ics."""
    mail = EmailMessage(policy=POLICY)
    mail["From"] = _from(sender)
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
    page = f"<!doctype html><html><body>{paragraphs}</body></html>"
    texts = (message.body, page, message.attachment or "")
    mail.make_alternative(boundary=_boundary(*texts))
    mail.add_alternative(page, subtype="html")
    if message.attachment:
        mail.make_mixed(boundary=_boundary(*texts))
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
