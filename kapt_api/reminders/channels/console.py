"""The console channel: what a process without SMTP or an SMS gateway sends through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from kapt_api.reminders.channels.outgoing import Outcome, Outgoing

log = structlog.get_logger("kapt.reminders")


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
