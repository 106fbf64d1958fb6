"""The hourly search for doses given without their integration session booked reads
recently completed doses through a partial index instead of scanning appointments

Revision ID: 0011_completed_doses_index
Revises: 0010_reminders_by_patient
Create Date: 2026-11-26 13:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_completed_doses_index'
down_revision = '0010_reminders_by_patient'
branch_labels = None
depends_on = None

COMPLETED_DOSE = "kind = 'dosing' AND status = 'completed'"


def upgrade():
    op.create_index(
        'ix_appointments_completed_doses',
        'appointments',
        ['ends_at'],
        unique=False,
        postgresql_where=sa.text(COMPLETED_DOSE),
        sqlite_where=sa.text(COMPLETED_DOSE),
    )


def downgrade():
    op.drop_index('ix_appointments_completed_doses', table_name='appointments')
