"""Reason categories: the kind of reason a cancellation, no-show or discontinuation had
(patient_request, clinical, scheduling, other), which staff off the patient's care team
are shown instead of the reason itself

Rows written before this revision get `other`. The cancellations a discontinuation
made copied its reason into the appointments' history ("The course was discontinued:
..."); they now say only that the course was discontinued, as new ones do: the reason
itself stays on the course, for the care team.

Plain ALTER TABLE statements, on both engines: on SQLite a batch operation would copy
`courses` into a new table, and the schedule-version triggers on it (0009) with it.

Revision ID: 0013_reason_categories
Revises: 0012_login_sessions
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013_reason_categories'
down_revision = '0012_login_sessions'
branch_labels = None
depends_on = None

CATEGORIES = "'patient_request', 'clinical', 'scheduling', 'other'"
COLUMNS = {
    "courses": "discontinue_reason_category",
    "appointment_status_changes": "reason_category",
}
DISCONTINUED = "The course was discontinued"


def upgrade():
    for table, column in COLUMNS.items():
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(20) "
            f"CONSTRAINT ck_{table}_{column}_known "
            f"CHECK ({column} IS NULL OR {column} IN ({CATEGORIES}))"
        )
    op.execute(
        "UPDATE courses SET discontinue_reason_category = 'other' "
        "WHERE status = 'discontinued'"
    )
    op.execute(
        "UPDATE appointment_status_changes SET reason_category = 'other' "
        "WHERE to_status IN ('cancelled', 'no_show')"
    )
    op.execute(
        f"UPDATE appointment_status_changes SET reason = '{DISCONTINUED}.' "
        f"WHERE reason LIKE '{DISCONTINUED}: %'"
    )


def downgrade():
    for table, column in COLUMNS.items():
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
