"""A read of a screen that lists several patients (a day schedule) is one audit event,
its patients one narrow row each in audit_event_patients, keyed by patient: writing a
busy day's fifty full audit rows, each in four indexes, cost a kept day's read more
than everything else it does (docs/audit.md). Append-only like audit_events.

Events written before keep their one row per patient; both shapes answer "who saw this
patient" (GET /audit-events?patient_id=).

Revision ID: 0020_audit_event_patients
Revises: 0019_session_clock
Create Date: 2026-12-07 00:45:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0020_audit_event_patients"
down_revision = "0019_session_clock"
branch_labels = None
depends_on = None

TABLE = "audit_event_patients"


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", "event_id", name=op.f(f"pk_{TABLE}")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{TABLE} is append-only';
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute(f"""
            CREATE TRIGGER {TABLE}_append_only
            BEFORE UPDATE OR DELETE ON {TABLE}
            FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()
        """)
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER {TABLE}_no_{event.lower()}
            BEFORE {event} ON {TABLE}
            BEGIN
                SELECT RAISE(ABORT, '{TABLE} is append-only');
            END
        """)


def downgrade():
    # The triggers go with the table; PostgreSQL's function is dropped after it.
    op.drop_table(TABLE)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
