"""What a channel is given and what it answers: a claimed row as plain values, and per
message None (delivered) or a DeliveryError saying whether trying again may help."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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
