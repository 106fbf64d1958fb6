"""Freed time from a staff member's new working hours or withdrawn time off: a freed
slot names either the appointment that freed it (with its kind) or the staff member,
and two more reasons.

PostgreSQL: ALTER TABLE in place. SQLite cannot drop a NOT NULL or change a CHECK in
place: the table is rebuilt (new table, copy, drop, rename), its foreign-key checks
deferred to the commit so the offers that refer to it stay valid. It carries no
triggers.

Revision ID: 0017_freed_staff_time
Revises: 0016_backfill_schedule_versions
Create Date: 2026-12-06 21:10:00.000000

"""

from alembic import op
import sqlalchemy as sa

import kapt_api.db


# revision identifiers, used by Alembic.
revision = "0017_freed_staff_time"
down_revision = "0016_backfill_schedule_versions"
branch_labels = None
depends_on = None

TABLE = "waitlist_freed_slots"
KINDS = "'intake', 'preparation', 'dosing', 'integration', 'follow_up'"
OLD_REASONS = "'cancelled', 'moved', 'no_show'"
NEW_REASONS = OLD_REASONS + ", 'working_hours', 'time_off_withdrawn'"
FREED_BY_ONE = (
    "(appointment_id IS NULL) <> (staff_id IS NULL) AND (appointment_id IS NULL) = (kind IS NULL)"
)
COLUMNS = (
    "id, created_at, updated_at, clinic_id, appointment_id, kind, reason, starts_at, "
    "ends_at, status, ranked"
)


def _table(name, *, staff):
    nullable = staff
    columns = [
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=nullable),
        sa.Column("kind", sa.String(length=20), nullable=nullable),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("starts_at", kapt_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", kapt_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("ranked", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", kapt_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    ]
    constraints = [
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f(f"ck_{TABLE}_kind_known")),
        sa.CheckConstraint(
            f"reason IN ({NEW_REASONS if staff else OLD_REASONS})",
            name=op.f(f"ck_{TABLE}_reason_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'offered', 'filled', 'exhausted', 'lapsed')",
            name=op.f(f"ck_{TABLE}_status_known"),
        ),
        sa.CheckConstraint("starts_at < ends_at", name=op.f(f"ck_{TABLE}_starts_before_ends")),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f(f"fk_{TABLE}_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f(f"fk_{TABLE}_clinic_id_clinics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    ]
    if staff:
        columns.append(sa.Column("staff_id", sa.Uuid(), nullable=True))
        constraints += [
            sa.CheckConstraint(FREED_BY_ONE, name=op.f(f"ck_{TABLE}_freed_by_one")),
            sa.ForeignKeyConstraint(
                ["staff_id"], ["staff_members.id"], name=op.f(f"fk_{TABLE}_staff_id_staff_members")
            ),
        ]
    op.create_table(name, *columns, *constraints)


def _sqlite_rebuild(*, staff):
    op.execute("PRAGMA defer_foreign_keys = ON")
    new = f"{TABLE}_new"
    _table(new, staff=staff)
    # Going back, time a staff member gave has no appointment to keep: it goes.
    keep = "" if staff else " WHERE appointment_id IS NOT NULL"
    if not staff:
        op.execute(
            "DELETE FROM waitlist_offers WHERE freed_slot_id IN "
            f"(SELECT id FROM {TABLE} WHERE appointment_id IS NULL)"
        )
    op.execute(f"INSERT INTO {new} ({COLUMNS}) SELECT {COLUMNS} FROM {TABLE}{keep}")
    op.execute(f"DROP TABLE {TABLE}")
    op.execute(f"ALTER TABLE {new} RENAME TO {TABLE}")
    op.create_index(f"ix_{TABLE}_clinic_id", TABLE, ["clinic_id"])
    op.create_index(f"ix_{TABLE}_status", TABLE, ["status", "starts_at"])


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_rebuild(staff=True)
        return
    op.add_column(TABLE, sa.Column("staff_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f(f"fk_{TABLE}_staff_id_staff_members"), TABLE, "staff_members", ["staff_id"], ["id"]
    )
    op.alter_column(TABLE, "appointment_id", nullable=True)
    op.alter_column(TABLE, "kind", nullable=True)
    op.drop_constraint(op.f(f"ck_{TABLE}_reason_known"), TABLE, type_="check")
    op.create_check_constraint(
        op.f(f"ck_{TABLE}_reason_known"), TABLE, f"reason IN ({NEW_REASONS})"
    )
    op.create_check_constraint(op.f(f"ck_{TABLE}_freed_by_one"), TABLE, FREED_BY_ONE)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_rebuild(staff=False)
        return
    op.execute(
        "DELETE FROM waitlist_offers WHERE freed_slot_id IN "
        f"(SELECT id FROM {TABLE} WHERE appointment_id IS NULL)"
    )
    op.execute(f"DELETE FROM {TABLE} WHERE appointment_id IS NULL")
    op.drop_constraint(op.f(f"ck_{TABLE}_freed_by_one"), TABLE, type_="check")
    op.drop_constraint(op.f(f"ck_{TABLE}_reason_known"), TABLE, type_="check")
    op.create_check_constraint(
        op.f(f"ck_{TABLE}_reason_known"), TABLE, f"reason IN ({OLD_REASONS})"
    )
    op.alter_column(TABLE, "kind", nullable=False)
    op.alter_column(TABLE, "appointment_id", nullable=False)
    op.drop_constraint(op.f(f"fk_{TABLE}_staff_id_staff_members"), TABLE, type_="foreignkey")
    op.drop_column(TABLE, "staff_id")
