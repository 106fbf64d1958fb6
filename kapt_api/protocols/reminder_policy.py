"""A protocol's reminder policy: which sessions are reminded of, when, by which channel
and in which words."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kapt_api.protocols.session_types import SessionKind


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


@dataclass(frozen=True)
class MessageTemplates:
    sms_body: str
    email_subject: str
    email_body: str


@dataclass(frozen=True)
class ReminderRule:
    session_kind: SessionKind
    offsets_hours: tuple[int, ...]
    channels: frozenset[Channel]
    templates: MessageTemplates
    include_preparation_instructions: bool = False
    # Texts and subjects are kept free of drug, treatment and diagnosis words unless
    # the clinic says otherwise here (DOMAIN.md §5.1).
    allow_clinical_terms: bool = False


@dataclass(frozen=True)
class ReminderPolicy:
    rules: tuple[ReminderRule, ...]

    def rule_for(self, kind: SessionKind) -> ReminderRule | None:
        return next((rule for rule in self.rules if rule.session_kind is kind), None)
