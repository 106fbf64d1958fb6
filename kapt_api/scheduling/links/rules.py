"""What a patient link may do: plain functions over values, `now` passed in.

A token is 16 bytes (URL-safe, 22 characters) of an HMAC of its subject under the app's
secret: unguessable, and the only secret a link carries. Only its SHA-256 is stored (a
copy of the database opens no link); a fast hash is enough because the token is random
to anyone without the secret, not a password someone chose.

A link is usable until it expires, is spent (its last action done: a cancellation, an
accepted offer), or its subject no longer wants an answer (an appointment no longer
booked, or already started).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kapt_api.errors import Violation, register_rules

# 128 bits (22 characters): unguessable, and short enough that a text reminder can
# carry its link within 160 characters.
# Why a link no longer works or does not do what was asked, why its offer is gone, and
# an escort confirmed for a session that needs none.
LINK_RULES = register_rules(
    "link_used",
    "link_expired",
    "link_wrong_purpose",
    "offer_taken",
    "offer_declined",
    "offer_expired",
    "escort_not_needed",
)
TOKEN_BYTES = 16
# An appointment's link stops working when its session starts (checked against the
# appointment as it is then, so a moved appointment's links follow it); the stored
# expiry is a ceiling that leaves room for a move of up to this much later.
MOVE_ROOM = timedelta(days=30)


class LinkAction(StrEnum):
    VIEW = "view"
    CONFIRM = "confirm"
    ESCORT = "escort"
    CANCEL = "cancel"
    ACCEPT_OFFER = "accept_offer"


# Each purpose's actions: a link for one thing never does another (single purpose).
ACTIONS = {
    "appointment": frozenset(
        {LinkAction.VIEW, LinkAction.CONFIRM, LinkAction.ESCORT, LinkAction.CANCEL}
    ),
    "offer": frozenset({LinkAction.VIEW, LinkAction.ACCEPT_OFFER}),
}
# Actions after which the link is spent.
FINAL = frozenset({LinkAction.CANCEL, LinkAction.ACCEPT_OFFER})


def token_for(secret: str, subject: str) -> str:
    """The link's token: the first 16 bytes of HMAC-SHA256(secret, subject), URL-safe.
    Signed, so unguessable without the app's secret; the same for one subject, so every
    text that mentions an appointment (re-rendered when it moves or merges) carries the
    same link, and one row per subject is enough."""
    digest = hmac.new(secret.encode(), f"patient-link:{subject}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:TOKEN_BYTES]).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expiry(*, starts_at: datetime) -> datetime:
    """The ceiling on an appointment link's life (its session's start ends it sooner)."""
    return starts_at + MOVE_ROOM


@dataclass(frozen=True)
class LinkFacts:
    """What decides whether a link still works."""

    purpose: str
    expires_at: datetime
    used_at: datetime | None
    subject_open: bool  # the appointment still booked (an offer: still open)
    subject_starts_at: datetime | None


def gone_reason(facts: LinkFacts, *, now: datetime) -> Violation | None:
    """Why the link no longer works (answered 410), or None while it does."""
    if facts.used_at is not None:
        return Violation("link_used", "This link has already been used.")
    if now >= facts.expires_at or (
        facts.subject_starts_at is not None and now >= facts.subject_starts_at
    ):
        return Violation("link_expired", "This link has expired.")
    if not facts.subject_open:
        return Violation(
            "link_used", "This appointment is no longer booked, so the link no longer works."
        )
    return None


def action_violation(purpose: str, action: LinkAction) -> Violation | None:
    """A link may only do what its purpose allows."""
    if action in ACTIONS.get(purpose, frozenset()):
        return None
    return Violation(
        "link_wrong_purpose",
        f"This link cannot be used to {action.value.replace('_', ' ')}.",
        {"purpose": purpose},
    )


def date_text(local: datetime) -> str:
    """A day as a patient reads it: "Wednesday, September 30"."""
    return f"{local:%A, %B} {local.day}"


def time_text(local: datetime) -> str:
    """A time as a patient reads it: "9:30 AM"."""
    return local.strftime("%I:%M %p").lstrip("0")


# An offer that can no longer be had: gone for good (410) or taken by a booking (409).
OFFER_GONE = frozenset({"offer_expired", "offer_declined"})


def offer_refusal(
    status: str, expires_at: datetime, *, action: LinkAction, now: datetime
) -> Violation | None:
    """Why an offer's link cannot do `action` now (None: it can). An offer already
    accepted still shows its page (the patient sees their booking); accepting it again
    is refused as taken, like every acceptance after the first."""
    if status in ("accepted", "taken"):
        if action is LinkAction.VIEW and status == "accepted":
            return None
        return Violation("offer_taken", "This session has been taken.")
    if status == "declined":
        return Violation("offer_declined", "This offer was declined.")
    if status == "expired" or now >= expires_at:
        return Violation(
            "offer_expired",
            "This offer has expired: the session has been offered to the next patient.",
        )
    return None


def passes_on_text(local_expiry: datetime) -> str:
    """When an untaken offer passes on, as the patient reads it: "9:30 AM on Monday,
    December 7"."""
    return f"{time_text(local_expiry)} on {date_text(local_expiry)}"
