"""Signed webhook posts: an event to its subscriber, and a text to the clinic's SMS
gateway, each with the row's id as its Idempotency-Key."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from kapt_api.reminders.channels.outgoing import (
    TIMEOUT_SECONDS,
    DeliveryError,
    Outcome,
    Outgoing,
)


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
