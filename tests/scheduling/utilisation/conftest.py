"""Utilisation borrows the waitlist's fixtures: a dose booked and cancelled, a patient
waiting, one tick of the backfill job."""

from tests.scheduling.waitlist.conftest import (  # noqa: F401  (fixtures, used by name)
    book,
    cancel,
    dose_to_cancel,
    enrolled,
    ready,
    tick,
    wait,
)
