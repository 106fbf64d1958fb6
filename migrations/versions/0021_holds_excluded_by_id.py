"""PostgreSQL's no-overlap guard on resource holds compares the resource's id as a
`uuid` rather than its whole key as text (`staff:<id>`): btree_gist's text keys cost
each GiST page visited a collation-aware comparison of 44-character strings: in busy
weeks a booking's three or four holds took 1.52 ms to insert at 3 million holds against
0.57 ms at 31,000, over the id 0.59 against 0.45 ms (docs/benchmarks.md).

Every id is a UUID made by new_id (kapt_api/db.py), unique across tables, so one id is
one resource: the guard keeps exactly the holds apart it kept before. Building it reads
every hold (about 2 minutes at 3 million); SQLite's triggers are unchanged.

Revision ID: 0021_holds_excluded_by_id
Revises: 0020_audit_event_patients
Create Date: 2026-12-07 07:30:00.000000

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0021_holds_excluded_by_id"
down_revision = "0020_audit_event_patients"
branch_labels = None
depends_on = None

CONSTRAINT = "resource_holds_no_overlap"
HELD = "tstzrange(starts_at, ends_at, '[)') WITH &&"
BY_ID = f"EXCLUDE USING gist ((CAST(split_part(resource_key, ':', 2) AS uuid)) WITH =, {HELD})"
BY_KEY = f"EXCLUDE USING gist (resource_key WITH =, {HELD})"


def _guard(definition: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE resource_holds DROP CONSTRAINT {CONSTRAINT}")
    op.execute(f"ALTER TABLE resource_holds ADD CONSTRAINT {CONSTRAINT} {definition}")


def upgrade():
    _guard(BY_ID)


def downgrade():
    _guard(BY_KEY)
