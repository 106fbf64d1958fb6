"""Patient links: the hashed, expiring, single-purpose links reminders carry, and what a
patient says through them on the appointment (attendance and escort confirmed)

Self-contained: it touches `appointments` (two nullable columns, plain ALTER TABLE on
both engines, so SQLite keeps the schedule-version triggers of 0009) and adds
`patient_links`, whose `offer_id` references `waitlist_offers` (0014_waitlist): a
deleted offer takes its link with it.

Revision ID: 0015_patient_links
Revises: 0014_waitlist
Create Date: 2026-12-06 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import kapt_api.db


# revision identifiers, used by Alembic.
revision = '0015_patient_links'
down_revision = '0014_waitlist'
branch_labels = None
depends_on = None

APPOINTMENT_COLUMNS = ("confirmed_at", "escort_confirmed_at")


def upgrade():
    timestamp = "TIMESTAMP WITH TIME ZONE" if op.get_bind().dialect.name == "postgresql" else "DATETIME"
    for column in APPOINTMENT_COLUMNS:
        op.execute(f"ALTER TABLE appointments ADD COLUMN {column} {timestamp}")
    op.create_table('patient_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('appointment_id', sa.Uuid(), nullable=True),
    sa.Column('offer_id', sa.Uuid(), nullable=True),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', kapt_api.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_for', sa.String(length=20), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("purpose IN ('appointment', 'offer')", name=op.f('ck_patient_links_purpose_known')),
    sa.CheckConstraint("(purpose = 'appointment' AND appointment_id IS NOT NULL AND offer_id IS NULL) OR (purpose = 'offer' AND offer_id IS NOT NULL)", name=op.f('ck_patient_links_one_subject')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_patient_links_appointment_id_appointments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_patient_links_clinic_id_clinics')),
    sa.ForeignKeyConstraint(['offer_id'], ['waitlist_offers.id'], name=op.f('fk_patient_links_offer_id_waitlist_offers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_patient_links_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_patient_links_token_hash'))
    )
    op.create_index(op.f('ix_patient_links_appointment_id'), 'patient_links', ['appointment_id'], unique=False)
    op.create_index(op.f('ix_patient_links_offer_id'), 'patient_links', ['offer_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_patient_links_offer_id'), table_name='patient_links')
    op.drop_index(op.f('ix_patient_links_appointment_id'), table_name='patient_links')
    op.drop_table('patient_links')
    for column in APPOINTMENT_COLUMNS:
        op.execute(f"ALTER TABLE appointments DROP COLUMN {column}")
