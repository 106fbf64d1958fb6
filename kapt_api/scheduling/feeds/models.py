"""Private iCalendar feeds of staff members, and each appointment's calendar revision.

A feed's token travels in its URL (calendar apps cannot send a bearer token), so only
its SHA-256 is stored: a copy of the database does not open anyone's calendar. A
staff member has at most one feed; creating it again rotates the token, deleting it
revokes it.

An appointment's revision is the iCalendar SEQUENCE of its event: it grows each time
the appointment moves or is cancelled, so calendar apps replace what they showed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kapt_api.db import Base, IdMixin


class CalendarFeed(IdMixin, Base):
    __tablename__ = "calendar_feeds"

    staff_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), unique=True
    )
    # Hex SHA-256 of the token; the token itself is shown once, when created.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class CalendarRevision(Base):
    __tablename__ = "appointment_calendar_revisions"
    __table_args__ = (CheckConstraint("sequence >= 0", name="sequence_not_negative"),)

    appointment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(default=0)
