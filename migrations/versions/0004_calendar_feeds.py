"""calendar feeds: private iCalendar feed tokens of staff, and each appointment's calendar revision

Revision ID: 0004_calendar_feeds
Revises: 0003_scheduling
Create Date: 2026-11-27 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import kapt_api.db

# revision identifiers, used by Alembic.
revision = '0004_calendar_feeds'
down_revision = '0003_scheduling'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_feeds',
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_calendar_feeds_created_by_users')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_calendar_feeds_staff_id_staff_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('staff_id', name=op.f('uq_calendar_feeds_staff_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash'))
    )
    op.create_table('appointment_calendar_revisions',
    sa.Column('appointment_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.CheckConstraint('sequence >= 0', name=op.f('ck_appointment_calendar_revisions_sequence_not_negative')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_appointment_calendar_revisions_appointment_id_appointments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('appointment_id', name=op.f('pk_appointment_calendar_revisions'))
    )


def downgrade():
    op.drop_table('appointment_calendar_revisions')
    op.drop_table('calendar_feeds')
