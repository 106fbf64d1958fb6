"""Patient link fixtures: the IM KAP course of scheduling's fixtures with its two
preparations on Monday 7 Dec 2026 and its first dose on Wednesday 9 Dec at 10:00 (New
York), booked by the front desk, and the dose's link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from kapt_api.db import db
from kapt_api.protocols.definition import SessionKind
from kapt_api.scheduling.booking import service as booking
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.links import minting
from kapt_api.scheduling.links.models import PatientLink
from tests.scheduling.conftest import at

LINKS = "/api/v1/patient-links"


@pytest.fixture
def book(place, course, caller_of, now) -> Callable[..., Appointment]:
    def make(kind: SessionKind, starts_at: datetime, **kwargs: Any) -> Appointment:
        room = place.dosing_room if kind is SessionKind.DOSING else place.therapy_room
        made = booking.book(
            course_id=course.id,
            kind=kind,
            starts_at=starts_at,
            room_id=room.id,
            by=caller_of(place.front_desk),
            now=now,
            **kwargs,
        )
        db.session.commit()
        return made

    return make


@pytest.fixture
def dose(book) -> Appointment:
    book(SessionKind.PREPARATION, at(0, 9))
    book(SessionKind.PREPARATION, at(0, 13))
    return book(SessionKind.DOSING, at(2, 10))


@pytest.fixture
def preparation(book) -> Appointment:
    return book(SessionKind.PREPARATION, at(0, 9))


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.fixture
def link_of(now) -> Callable[[Appointment], str]:
    """The appointment's link token (its row committed)."""

    def make(appointment: Appointment) -> str:
        url = minting.mint_link(appointment=appointment, now=now)
        db.session.commit()
        return token_of(url)

    return make


def link_rows(appointment: Appointment) -> list[PatientLink]:
    return list(
        db.session.scalars(select(PatientLink).where(PatientLink.appointment_id == appointment.id))
    )
