"""Waitlist: entries (a course waiting for a session of one kind, with what the
patient accepts), freed slots (time a cancellation, move or no-show gave back) and
offers; the clinic's offer settings; and resource holds that belong to an offer
instead of an appointment (scheduling/waitlist/models.py), so the one no-overlap guard
keeps every other booking out of an offered time.

`resource_holds.appointment_id` becomes nullable, with exactly one of it and the new
`offer_id` set. PostgreSQL: plain ALTER TABLE statements (the exclusion constraint is
untouched). SQLite cannot drop a NOT NULL in place: the table is rebuilt by hand and
its overlap triggers (0003_scheduling) made again, as a batch operation would drop
them. Columns are added to `clinics` in place, on both engines, so its schedule-version
trigger (0009) stays.

Revision ID: 0014_waitlist
Revises: 0013_reason_categories
Create Date: 2026-12-06 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import kapt_api.db


# revision identifiers, used by Alembic.
revision = '0014_waitlist'
down_revision = '0013_reason_categories'
branch_labels = None
depends_on = None

KINDS = "'intake', 'preparation', 'dosing', 'integration', 'follow_up'"
RESOURCE_KINDS = ("staff", "room", "patient")
HELD_BY_ONE = "(appointment_id IS NULL) <> (offer_id IS NULL)"


def _created_updated():
    return [
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    ]


def _entries():
    op.create_table('waitlist_entries',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('course_id', sa.Uuid(), nullable=False),
    sa.Column('patient_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('earliest_date', sa.Date(), nullable=False),
    sa.Column('latest_date', sa.Date(), nullable=False),
    sa.Column('weekdays', sa.JSON(), nullable=False),
    sa.Column('time_windows', sa.JSON(), nullable=False),
    sa.Column('preferred_staff_ids', sa.JSON(), nullable=False),
    sa.Column('min_notice_hours', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.Column('ended_at', kapt_api.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    *_created_updated(),
    sa.CheckConstraint("(status = 'ended') = (ended_at IS NOT NULL AND end_reason IS NOT NULL)", name=op.f('ck_waitlist_entries_ended_with_reason')),
    sa.CheckConstraint("end_reason IS NULL OR end_reason IN ('booked', 'expired', 'course_ended', 'removed')", name=op.f('ck_waitlist_entries_end_reason_known')),
    sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f('ck_waitlist_entries_kind_known')),
    sa.CheckConstraint("status IN ('waiting', 'ended')", name=op.f('ck_waitlist_entries_status_known')),
    sa.CheckConstraint('earliest_date <= latest_date', name=op.f('ck_waitlist_entries_dates_in_order')),
    sa.CheckConstraint('min_notice_hours >= 0', name=op.f('ck_waitlist_entries_notice_not_negative')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_waitlist_entries_clinic_id_clinics')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_waitlist_entries_course_id_courses')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_waitlist_entries_created_by_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_waitlist_entries_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries'))
    )
    op.create_index('ix_waitlist_entries_clinic_status', 'waitlist_entries', ['clinic_id', 'status'])
    op.create_index(op.f('ix_waitlist_entries_course_id'), 'waitlist_entries', ['course_id'])


def _freed_slots():
    op.create_table('waitlist_freed_slots',
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('appointment_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('starts_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('ranked', sa.JSON(), nullable=False),
    *_created_updated(),
    sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f('ck_waitlist_freed_slots_kind_known')),
    sa.CheckConstraint("reason IN ('cancelled', 'moved', 'no_show')", name=op.f('ck_waitlist_freed_slots_reason_known')),
    sa.CheckConstraint("status IN ('open', 'offered', 'filled', 'exhausted', 'lapsed')", name=op.f('ck_waitlist_freed_slots_status_known')),
    sa.CheckConstraint('starts_at < ends_at', name=op.f('ck_waitlist_freed_slots_starts_before_ends')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_waitlist_freed_slots_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_waitlist_freed_slots_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_freed_slots'))
    )
    op.create_index(op.f('ix_waitlist_freed_slots_clinic_id'), 'waitlist_freed_slots', ['clinic_id'])
    op.create_index('ix_waitlist_freed_slots_status', 'waitlist_freed_slots', ['status', 'starts_at'])


def _offers():
    op.create_table('waitlist_offers',
    sa.Column('freed_slot_id', sa.Uuid(), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('course_id', sa.Uuid(), nullable=False),
    sa.Column('clinic_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('starts_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('held_until', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('room_id', sa.Uuid(), nullable=False),
    sa.Column('staff_ids', sa.JSON(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('expires_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('appointment_id', sa.Uuid(), nullable=True),
    sa.Column('decided_at', kapt_api.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    *_created_updated(),
    sa.CheckConstraint("(status = 'accepted') = (appointment_id IS NOT NULL)", name=op.f('ck_waitlist_offers_accepted_has_appointment')),
    sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f('ck_waitlist_offers_kind_known')),
    sa.CheckConstraint("status IN ('offered', 'accepted', 'taken', 'expired', 'declined')", name=op.f('ck_waitlist_offers_status_known')),
    sa.CheckConstraint('starts_at < ends_at AND ends_at <= held_until', name=op.f('ck_waitlist_offers_times_in_order')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_waitlist_offers_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_waitlist_offers_clinic_id_clinics')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_waitlist_offers_course_id_courses')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_waitlist_offers_decided_by_users')),
    sa.ForeignKeyConstraint(['entry_id'], ['waitlist_entries.id'], name=op.f('fk_waitlist_offers_entry_id_waitlist_entries')),
    sa.ForeignKeyConstraint(['freed_slot_id'], ['waitlist_freed_slots.id'], name=op.f('fk_waitlist_offers_freed_slot_id_waitlist_freed_slots')),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_waitlist_offers_room_id_rooms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_offers')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_waitlist_offers_appointment_id'))
    )
    op.create_index(op.f('ix_waitlist_offers_clinic_id'), 'waitlist_offers', ['clinic_id'])
    op.create_index(op.f('ix_waitlist_offers_entry_id'), 'waitlist_offers', ['entry_id'])
    op.create_index(op.f('ix_waitlist_offers_freed_slot_id'), 'waitlist_offers', ['freed_slot_id'])
    op.create_index('ix_waitlist_offers_status_expires', 'waitlist_offers', ['status', 'expires_at'])


def _clinic_settings():
    true = "true" if op.get_bind().dialect.name == "postgresql" else "1"
    op.execute(
        "ALTER TABLE clinics ADD COLUMN waitlist_offer_minutes INTEGER DEFAULT 30 NOT NULL "
        "CONSTRAINT ck_clinics_waitlist_offer_minutes_range "
        "CHECK (waitlist_offer_minutes BETWEEN 1 AND 1440)"
    )
    op.execute(
        f"ALTER TABLE clinics ADD COLUMN waitlist_offers_enabled BOOLEAN DEFAULT {true} NOT NULL"
    )


def _sqlite_holds(*, offers: bool):
    """Rebuild resource_holds (with or without offer holds) and its overlap triggers."""
    offer_column = "offer_id CHAR(32), " if offers else ""
    appointment = "appointment_id CHAR(32)" + ("" if offers else " NOT NULL")
    offer_constraints = (
        f"CONSTRAINT ck_resource_holds_held_by_one CHECK ({HELD_BY_ONE}), "
        "CONSTRAINT fk_resource_holds_offer_id_waitlist_offers FOREIGN KEY(offer_id) "
        "REFERENCES waitlist_offers (id) ON DELETE CASCADE, "
        if offers else ""
    )
    op.execute(
        f"CREATE TABLE resource_holds_rebuilt ({appointment}, {offer_column}"
        "resource_key VARCHAR(60) NOT NULL, starts_at DATETIME NOT NULL, "
        "ends_at DATETIME NOT NULL, id CHAR(32) NOT NULL, "
        "CONSTRAINT pk_resource_holds PRIMARY KEY (id), "
        "CONSTRAINT ck_resource_holds_starts_before_ends CHECK (starts_at < ends_at), "
        f"{offer_constraints}"
        "CONSTRAINT fk_resource_holds_appointment_id_appointments FOREIGN KEY(appointment_id) "
        "REFERENCES appointments (id) ON DELETE CASCADE)"
    )
    kept = "appointment_id, resource_key, starts_at, ends_at, id"
    where = "" if offers else " WHERE appointment_id IS NOT NULL"
    op.execute(f"INSERT INTO resource_holds_rebuilt ({kept}) SELECT {kept} FROM resource_holds{where}")
    op.execute("DROP TABLE resource_holds")
    op.execute("ALTER TABLE resource_holds_rebuilt RENAME TO resource_holds")
    op.create_index('ix_resource_holds_appointment_id', 'resource_holds', ['appointment_id'])
    op.create_index('ix_resource_holds_key_starts', 'resource_holds', ['resource_key', 'starts_at'])
    if offers:
        op.create_index('ix_resource_holds_offer_id', 'resource_holds', ['offer_id'])
    for kind in RESOURCE_KINDS:
        for event in ("INSERT", "UPDATE"):
            op.execute(f"""
                CREATE TRIGGER resource_holds_no_{kind}_overlap_{event.lower()}
                BEFORE {event} ON resource_holds
                WHEN NEW.resource_key LIKE '{kind}:%' AND EXISTS (
                    SELECT 1 FROM resource_holds AS held
                    WHERE held.resource_key = NEW.resource_key
                    AND held.id <> NEW.id
                    AND held.starts_at < NEW.ends_at
                    AND NEW.starts_at < held.ends_at
                )
                BEGIN
                    SELECT RAISE(ABORT, 'resource_hold_overlap {kind}');
                END
            """)


def _offer_holds():
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_holds(offers=True)
        return
    op.execute(
        "ALTER TABLE resource_holds ADD COLUMN offer_id UUID "
        "CONSTRAINT fk_resource_holds_offer_id_waitlist_offers "
        "REFERENCES waitlist_offers (id) ON DELETE CASCADE"
    )
    op.execute("ALTER TABLE resource_holds ALTER COLUMN appointment_id DROP NOT NULL")
    op.execute(
        f"ALTER TABLE resource_holds ADD CONSTRAINT ck_resource_holds_held_by_one CHECK ({HELD_BY_ONE})"
    )
    op.create_index('ix_resource_holds_offer_id', 'resource_holds', ['offer_id'])


def upgrade():
    _entries()
    _freed_slots()
    _offers()
    _clinic_settings()
    _offer_holds()


def downgrade():
    # Offer holds go with the offers: an appointment's holds are all that stays.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DELETE FROM resource_holds WHERE appointment_id IS NULL")
        op.drop_index('ix_resource_holds_offer_id', table_name='resource_holds')
        op.execute("ALTER TABLE resource_holds DROP CONSTRAINT ck_resource_holds_held_by_one")
        op.execute("ALTER TABLE resource_holds DROP COLUMN offer_id")
        op.execute("ALTER TABLE resource_holds ALTER COLUMN appointment_id SET NOT NULL")
    else:
        _sqlite_holds(offers=False)
    # In place on SQLite too: the CHECK belongs to the column it is dropped with.
    op.execute("ALTER TABLE clinics DROP COLUMN waitlist_offers_enabled")
    op.execute("ALTER TABLE clinics DROP COLUMN waitlist_offer_minutes")
    op.drop_table('waitlist_offers')
    op.drop_table('waitlist_freed_slots')
    op.drop_table('waitlist_entries')
