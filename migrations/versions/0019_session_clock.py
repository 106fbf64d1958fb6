"""The clinic's check-in window: how many minutes before a booked start check-in opens
(start and complete follow it). A column-level CHECK, as waitlist_offer_minutes has, so
SQLite adds and drops it in place.

Revision ID: 0019_session_clock
Revises: 0018_one_active_course
Create Date: 2026-12-06 22:10:00.000000

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0019_session_clock"
down_revision = "0018_one_active_course"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        "ALTER TABLE clinics ADD COLUMN check_in_opens_minutes INTEGER DEFAULT 60 NOT NULL "
        "CONSTRAINT ck_clinics_check_in_opens_minutes_range "
        "CHECK (check_in_opens_minutes BETWEEN 0 AND 1440)"
    )


def downgrade():
    op.execute("ALTER TABLE clinics DROP COLUMN check_in_opens_minutes")
