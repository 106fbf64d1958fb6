"""A request whose transaction met another one is run again, inside the request.

A deadlock or a serialization failure (PostgreSQL SQLSTATE 40P01, 40001) or a busy
SQLite database says that another transaction was in the way, never that the request
is wrong, and the database kept nothing of the failed one. So the view runs again on
a clean session, a few times, each after a short random pause, and the answer is the
one the rules give then: 201, 200, 409 or 422 like any other. Only when every attempt
met a collision, or the time allowed ran out, is the answer 503 `database_busy` with
Retry-After; a database that cannot be reached at all stays 503 `database_unavailable`.

Running a view again is safe because a view commits once, as its last write (the
idempotency record it then completes is its own row): a failure before that commit
leaves nothing behind. What ran before the view (the request id, the token check, the
rate limits) runs once, so a retried request counts once. What an attempt keeps in
`g` is dropped with it (audit.start_over), and an Idempotency-Key claim that a failed
attempt released is claimed again by the next.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from sqlalchemy.exc import OperationalError

from kapt_api.db import db, is_transient
from kapt_api.errors import DatabaseBusy

T = TypeVar("T")
log = structlog.get_logger("kapt.retries")


@dataclass(frozen=True)
class Backoff:
    """How often and how long to try: `attempts` in all, the n-th retry after a pause
    drawn between 0 and min(longest_wait, first_wait * 2**(n-1)) ("full jitter": racers
    that collided once do not collide again in step), and no new attempt once `budget`
    seconds have passed since the first began (gunicorn stops a worker at 30 s; SQLite
    has already waited its 15 s busy timeout before it reports a busy database)."""

    attempts: int = 6
    first_wait: float = 0.02
    longest_wait: float = 0.4
    budget: float = 10.0

    def wait(self, retry: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.longest_wait, self.first_wait * 2 ** (retry - 1)))


BACKOFF = Backoff()
_rng = random.Random()  # noqa: S311 - spreads retries in time; nothing secret


def _sqlstate(error: OperationalError) -> str | None:
    found = getattr(error.orig, "sqlstate", None)
    return str(found) if found else None


def run(
    attempt: Callable[[], T],
    *,
    start_over: Callable[[], None] = lambda: None,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`attempt()`, run again while it fails on a transient collision: the session is
    rolled back and `start_over()` called before each new try."""
    policy = backoff or BACKOFF
    started = time.monotonic()
    tries = 0
    while True:
        tries += 1
        try:
            return attempt()
        except OperationalError as error:
            if not is_transient(error):
                raise
            db.session.rollback()
            facts = {"sqlstate": _sqlstate(error), "error_type": type(error.orig).__name__}
            if tries >= policy.attempts or time.monotonic() - started > policy.budget:
                log.warning("database_busy", attempts=tries, **facts)
                raise DatabaseBusy() from None
            pause = policy.wait(tries, _rng)
            log.info("transaction_retried", attempt=tries, wait_ms=round(pause * 1000), **facts)
            sleep(pause)
            start_over()
