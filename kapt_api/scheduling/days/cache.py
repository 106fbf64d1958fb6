"""Computed day schedules, kept by each process while their clinic's schedule version
still reads the same.

A front desk reloads its day all day long; the day changes a few times an hour. A
computed day is stored with the clinic's schedule version (ScheduleVersion: a token
that database triggers replace on every change a day shows, in the changing
transaction, never reusing one) and served again only while the clinic reads the same
token, so a day is never staler than the database: every replica checks the token on
every request. The token is read before the day is computed, so a change committed in
between makes the stored day look older than it is, never newer: it is recomputed on
the next request. A day computed inside a transaction that is then rolled back is kept
under a token that never comes back.

What is kept is the answer and the patients it shows; each read is still audited.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import bindparam, select

from kapt_api.auth.audit import Shown
from kapt_api.db import db
from kapt_api.scheduling.booking.models import ScheduleVersion

DEFAULT_SIZE = 256  # KAPT_SCHEDULE_CACHE_DAYS; a busy clinic's day is about 80 kB


class ComputedDay:
    """A day's answer and the patients whose names it shows. Once encoded (a busy day is
    tens of kilobytes of JSON), the encoding is what is kept: the answer's Python objects
    (more than its bytes) are let go, and read back from the bytes if asked for again,
    so a process's kept days cost their bytes, not both."""

    def __init__(self, answer: dict[str, Any], patients: Shown) -> None:
        self._answer: dict[str, Any] | None = answer
        self.patients = patients
        self._encoded: bytes | None = None
        self._etag: str | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ComputedDay):
            return NotImplemented
        return (self.answer, self.patients) == (other.answer, other.patients)

    __hash__ = None  # type: ignore[assignment]  # equal by content, and not frozen

    @property
    def answer(self) -> dict[str, Any]:
        """The answer (JSON values only, so reading it back from its bytes is exact)."""
        answer = self._answer
        if answer is None:
            assert self._encoded is not None
            answer = json.loads(self._encoded)
        return answer

    def encoded(self, dumps: Callable[[Any], bytes]) -> bytes:
        if self._encoded is None:
            self._encoded = dumps(self.answer)
            self._answer = None
        return self._encoded

    def etag(self, dumps: Callable[[Any], bytes]) -> str:
        """A strong validator of the encoded answer: a front desk polling its day gets
        304 Not Modified until the day changes."""
        if self._etag is None:
            self._etag = hashlib.blake2b(self.encoded(dumps), digest_size=16).hexdigest()
        return self._etag


class DayCache:
    """At most `size` computed days, least recently used first out; 0 keeps none."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._days: OrderedDict[Hashable, tuple[int, ComputedDay]] = OrderedDict()
        # The embedded server answers from threads; gunicorn's sync workers do not.
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: int) -> ComputedDay | None:
        with self._lock:
            found = self._days.get(key)
            if found is None or found[0] != version:
                return None
            self._days.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, version: int, day: ComputedDay) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._days[key] = (version, day)
            self._days.move_to_end(key)
            while len(self._days) > self.size:
                self._days.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._days.clear()


_cache = DayCache()


def configure(size: int) -> None:
    """Set how many computed days this process keeps (KAPT_SCHEDULE_CACHE_DAYS)."""
    _cache.size = size
    _cache.clear()


_VERSION = select(ScheduleVersion.version).where(
    ScheduleVersion.clinic_id == bindparam("clinic_id")
)


def version_of(clinic_id: uuid.UUID) -> int:
    """The clinic's schedule version token: 0 until anything it shows has changed."""
    found = db.session.scalar(_VERSION, {"clinic_id": clinic_id})
    return int(found or 0)


def computed(key: Hashable, version: int, compute: Callable[[], ComputedDay]) -> ComputedDay:
    """The day under `key` at this schedule version (read before computing): kept, or
    computed now and kept."""
    day = _cache.get(key, version)
    if day is None:
        day = compute()
        _cache.put(key, version, day)
    return day
