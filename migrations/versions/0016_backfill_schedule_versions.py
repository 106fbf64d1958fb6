"""Day schedules show whether an appointment was backfilled from a waitlist offer (the
offer's `appointment_id`): setting it replaces the clinic's schedule version, as every
other change a day shows does (0009_schedule_versions), so a kept day never hides it.

Accepting an offer books the appointment (which bumps the version already) and sets the
offer's `appointment_id` in the same transaction; the trigger makes the day's
correctness not depend on that order.

Revision ID: 0016_backfill_schedule_versions
Revises: 0015_patient_links
Create Date: 2026-12-06 21:00:00.000000

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0016_backfill_schedule_versions"
down_revision = "0015_patient_links"
branch_labels = None
depends_on = None

# As 0009: a new token never seen before (a sequence on PostgreSQL, random on SQLite).
BUMP = (
    "INSERT INTO schedule_versions (clinic_id, version) "
    "SELECT {row}.clinic_id, {token} "
    "ON CONFLICT (clinic_id) DO UPDATE SET version = excluded.version"
)
NAME = "schedule_changed_waitlist_offers"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        token = "nextval('schedule_version_tokens')"
        op.execute(f"""
            CREATE FUNCTION {NAME}() RETURNS trigger AS $$
            BEGIN
            IF NEW.appointment_id IS DISTINCT FROM OLD.appointment_id THEN
            {BUMP.format(row="NEW", token=token)};
            END IF;
            RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute(f"""
            CREATE TRIGGER {NAME}
            AFTER UPDATE OF appointment_id ON waitlist_offers
            FOR EACH ROW EXECUTE FUNCTION {NAME}()
        """)
    else:
        # SQLite's upsert needs a WHERE after a SELECT's FROM-less form to parse.
        op.execute(f"""
            CREATE TRIGGER {NAME}_update
            AFTER UPDATE OF appointment_id ON waitlist_offers
            WHEN NEW.appointment_id IS NOT OLD.appointment_id
            BEGIN
            {BUMP.format(row="NEW", token="random()").replace(
                "ON CONFLICT", "WHERE true ON CONFLICT")};
            END
        """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {NAME} ON waitlist_offers")
        op.execute(f"DROP FUNCTION IF EXISTS {NAME}()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {NAME}_update")
