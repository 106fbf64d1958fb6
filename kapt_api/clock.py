"""The one source of "now". Domain code asks this module; tests set it."""

from __future__ import annotations

from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def freeze(at: datetime) -> None:
    """Pin "now" (tests and the scheduler's replay tools use this)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("clock.freeze needs an aware datetime")
    _frozen = at.astimezone(UTC)


def frozen_at() -> datetime | None:
    """The pinned "now", or None when the clock runs (so a replay can put it back)."""
    return _frozen


def unfreeze() -> None:
    global _frozen
    _frozen = None
