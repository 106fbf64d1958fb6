"""Schedule versions: a token per clinic that triggers replace whenever anything a day
schedule shows changes, so a computed day stays valid exactly as long as the clinic
reads the same token

Revision ID: 0009_schedule_versions
Revises: 0008_merged_texts
Create Date: 2026-11-26 13:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009_schedule_versions"
down_revision = "0008_merged_texts"
branch_labels = None
depends_on = None


# What a day schedule shows, and how a changed row names its clinic. {row} is NEW or
# OLD. An UPDATE watches only the columns named (a login does not touch the schedule).
# Each source selects the clinic ids as `c`.
WATCHED = {
    "appointments": ("SELECT {row}.clinic_id AS c", None),
    "appointment_staff": (
        "SELECT clinic_id AS c FROM appointments WHERE id = {row}.appointment_id",
        None,
    ),
    "patients": ("SELECT {row}.clinic_id AS c", "given_name, family_name, clinic_id"),
    "courses": ("SELECT {row}.clinic_id AS c", "protocol_version_id, clinic_id"),
    "staff_members": ("SELECT {row}.clinic_id AS c", None),
    "users": (
        "SELECT clinic_id AS c FROM staff_members WHERE user_id = {row}.id",
        "full_name",
    ),
    "user_roles": (
        "SELECT clinic_id AS c FROM staff_members WHERE user_id = {row}.user_id",
        None,
    ),
    "rooms": ("SELECT {row}.clinic_id AS c", None),
    "clinics": ("SELECT {row}.id AS c", "time_zone"),
    "monitoring_sessions": ("SELECT {row}.clinic_id AS c", None),
}
# A new token is never one seen before, even after a rollback put an old one back (a
# counter would repeat the rolled-back value for different data): a sequence on
# PostgreSQL, a 64-bit random number on SQLite.
BUMP = (
    "INSERT INTO schedule_versions (clinic_id, version) "
    "SELECT c, {token} FROM ({source}) AS changed WHERE c IS NOT NULL "
    "ON CONFLICT (clinic_id) DO UPDATE SET version = excluded.version"
)
TOKENS = {"postgresql": "nextval('schedule_version_tokens')", "sqlite": "random()"}


def _events(table):
    columns = WATCHED[table][1]
    if columns is not None:
        return [("UPDATE", f"UPDATE OF {columns}", ("NEW", "OLD"))]
    return [
        ("INSERT", "INSERT", ("NEW",)),
        ("UPDATE", "UPDATE", ("NEW", "OLD")),
        ("DELETE", "DELETE", ("OLD",)),
    ]


def _bumps(table, rows):
    source = WATCHED[table][0]
    token = TOKENS[op.get_bind().dialect.name]
    return ";\n".join(BUMP.format(source=source.format(row=row), token=token) for row in rows) + ";"


def _postgresql_upgrade():
    op.execute("CREATE SEQUENCE schedule_version_tokens")
    for table in WATCHED:
        branches = "\n".join(
            f"IF TG_OP = '{event}' THEN\n{_bumps(table, rows)}\nEND IF;"
            for event, _, rows in _events(table)
        )
        op.execute(f"""
            CREATE FUNCTION schedule_changed_{table}() RETURNS trigger AS $$
            BEGIN
            {branches}
            RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
        """)
        when = " OR ".join(clause for _, clause, _ in _events(table))
        op.execute(f"""
            CREATE TRIGGER schedule_changed_{table}
            AFTER {when} ON {table}
            FOR EACH ROW EXECUTE FUNCTION schedule_changed_{table}()
        """)


def _sqlite_upgrade():
    for table in WATCHED:
        for event, clause, rows in _events(table):
            op.execute(f"""
                CREATE TRIGGER schedule_changed_{table}_{event.lower()}
                AFTER {clause} ON {table}
                BEGIN
                {_bumps(table, rows)}
                END
            """)


def upgrade():
    op.create_table(
        "schedule_versions",
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("clinic_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in WATCHED:
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS schedule_changed_{table} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS schedule_changed_{table}()")
        else:
            for event, _, _ in _events(table):
                op.execute(f"DROP TRIGGER IF EXISTS schedule_changed_{table}_{event.lower()}")
    op.drop_table("schedule_versions")
    if postgresql:
        op.execute("DROP SEQUENCE IF EXISTS schedule_version_tokens")
