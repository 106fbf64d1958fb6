"""Minting a patient link for a message: the subject's token (rules.token_for: derived
from the secret key, so every message about one appointment or offer carries the same
link) and its row, written the first time and given the latest expiry after. Only the
token's hash is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, text

from kapt_api.db import db, new_id
from kapt_api.rows import write
from kapt_api.scheduling.booking.models import Appointment
from kapt_api.scheduling.links import rules
from kapt_api.scheduling.links.models import LinkPurpose, PatientLink
from kapt_api.scheduling.waitlist.models import WaitlistEntry, WaitlistOffer


def link_url(token: str) -> str:
    return f"{str(current_app.config['KAPT_BASE_URL']).rstrip('/')}/p/{token}"


def _minted(subject: str, *, now: datetime, **row: Any) -> str:
    """The subject's token, its link's row written (once: asked again, as a moved
    appointment's reminders are, the row only takes the new expiry). One upsert on the
    token's hash instead of a read first: every booking mints its reminders' link."""
    token = rules.token_for(_secret(), subject)
    db.session.flush()  # the subject's own row first, as a flush would order it
    written = {"id": new_id(), "token_hash": rules.token_hash(token), "created_at": now, **row}
    write(_UPSERT, written)
    return token


# Written as SQL, alike on both engines: SQLAlchemy does not cache the compiled form of
# an ON CONFLICT insert, and compiling it anew cost a twentieth of a booking's Python.
# The columns are those an insert of the table sends; used_at and used_for stay NULL.
_UPSERT = text(
    "INSERT INTO patient_links (id, token_hash, purpose, appointment_id, offer_id, "
    "patient_id, clinic_id, created_at, expires_at) "
    "VALUES (:id, :token_hash, :purpose, :appointment_id, :offer_id, "
    ":patient_id, :clinic_id, :created_at, :expires_at) "
    "ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at"
).bindparams(
    *(
        bindparam(column.key, type_=column.type)
        for column in PatientLink.__table__.columns
        if column.key not in ("used_at", "used_for")
    )
)


def mint_link(*, appointment: Appointment, now: datetime) -> str:
    """The appointment's link for a message (its URL): the same URL every time it is
    asked for, valid until the session starts (the row is written the first time)."""
    token = _minted(
        f"appointment:{appointment.id}",
        now=now,
        purpose=LinkPurpose.APPOINTMENT.value,
        appointment_id=appointment.id,
        offer_id=None,
        patient_id=appointment.patient_id,
        clinic_id=appointment.clinic_id,
        expires_at=rules.expiry(starts_at=appointment.starts_at),
    )
    return link_url(token)


def mint_offer_link(*, offer: WaitlistOffer, now: datetime) -> str:
    """The offer's link for its message (its URL), working until the offer expires."""
    entry = db.session.get(WaitlistEntry, offer.entry_id)
    assert entry is not None
    token = _minted(
        f"offer:{offer.id}",
        now=now,
        purpose=LinkPurpose.OFFER.value,
        appointment_id=None,
        offer_id=offer.id,
        patient_id=entry.patient_id,
        clinic_id=offer.clinic_id,
        expires_at=offer.expires_at,
    )
    return link_url(token)


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])
