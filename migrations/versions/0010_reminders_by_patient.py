"""Planning reads a patient's texts for the caps and merging: index them by patient

Revision ID: 0010_reminders_by_patient
Revises: 0009_schedule_versions
Create Date: 2026-11-26 13:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010_reminders_by_patient'
down_revision = '0009_schedule_versions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index('ix_reminders_patient_channel', ['patient_id', 'channel'], unique=False)


def downgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_reminders_patient_channel')
