"""One active course per patient and protocol, kept by the database: courses carry
their version's protocol_id, and a partial unique index over (patient_id, protocol_id)
WHERE status = 'active' refuses a second active course however the enrolments race.

An existing database that already holds two active courses of one patient on one
protocol cannot take the index: the upgrade stops and says how many there are, so the
clinic discontinues the extra ones (POST /courses/{id}/discontinue) and upgrades again.
Nothing is discontinued for them: which course is the right one is a clinical call.

SQLite cannot add a NOT NULL column with a foreign key in place: the table is
rebuilt from its own CREATE TABLE text, and its indexes and triggers (migration
0009's schedule versions) are created again.

Revision ID: 0018_one_active_course
Revises: 0017_freed_staff_time
Create Date: 2026-12-06 22:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0018_one_active_course"
down_revision = "0017_freed_staff_time"
branch_labels = None
depends_on = None

TABLE = "courses"
INDEX = "uq_courses_one_active"
ACTIVE = "status = 'active'"
FOREIGN_KEY = "fk_courses_protocol_id_protocols"
DUPLICATES = (
    "SELECT count(*) FROM (SELECT c.patient_id FROM courses c "
    "JOIN protocol_versions v ON v.id = c.protocol_version_id WHERE c.status = 'active' "
    "GROUP BY c.patient_id, v.protocol_id HAVING count(*) > 1) AS doubled"
)
PROTOCOL_OF = (
    "SELECT protocol_id FROM protocol_versions "
    "WHERE protocol_versions.id = courses.protocol_version_id"
)
BACKFILL = f"UPDATE courses SET protocol_id = ({PROTOCOL_OF})"


def _refuse_duplicates():
    doubled = op.get_bind().execute(sa.text(DUPLICATES)).scalar_one()
    if doubled:
        raise RuntimeError(
            f"{doubled} patient(s) have more than one active course on the same protocol; "
            "discontinue the extra course(s), then run the upgrade again."
        )


# SQLite: the column goes in after protocol_version_id and its foreign key after the
# table's others, written into the table's own CREATE TABLE text, so every other column
# keeps its shape (0013's column CHECK stays on its column, where its DROP COLUMN needs
# it; a batch copy would make it a table CHECK).
AFTER_COLUMN = "protocol_version_id CHAR(32) NOT NULL, "
NEW_COLUMN = "\n\tprotocol_id CHAR(32) NOT NULL, "
NEW_KEY = f", \n\tCONSTRAINT {FOREIGN_KEY} FOREIGN KEY(protocol_id) REFERENCES protocols (id)"


def _sqlite_rebuilt(edit, columns, values):
    """Rebuild courses from its CREATE TABLE text changed by `edit`, its `columns`
    filled with `values` from the old table, its indexes and triggers made again.

    The rows wait in a plain copy while courses is dropped and made again: the rows
    that refer to courses are missing their course from the drop until the copy is
    back, so their checks are deferred to the commit. (Renaming courses aside instead
    would point their foreign keys at the renamed table.)"""
    bind = op.get_bind()
    found = bind.execute(
        sa.text("SELECT type, sql FROM sqlite_master WHERE tbl_name = :t AND sql IS NOT NULL"),
        {"t": TABLE},
    ).all()
    table = next(sql for kind, sql in found if kind == "table")
    others = [sql for kind, sql in found if kind != "table"]
    # After a rebuild SQLite may store the name quoted: CREATE TABLE "courses" (...
    body = table[table.index("(") :]
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.execute(f"CREATE TABLE {TABLE}_copy AS SELECT * FROM {TABLE}")
    op.execute(f"DROP TABLE {TABLE}")
    op.execute(f"CREATE TABLE {TABLE} {edit(body)}")
    op.execute(f"INSERT INTO {TABLE} ({columns}) SELECT {values} FROM {TABLE}_copy AS {TABLE}")
    op.execute(f"DROP TABLE {TABLE}_copy")
    for statement in others:
        op.execute(statement)
    problems = [
        row for row in bind.execute(sa.text("PRAGMA foreign_key_check")) if TABLE in row[:3:2]
    ]
    assert not problems, f"{len(problems)} rows of or about courses refer to missing rows"


def _with_protocol(table):
    assert AFTER_COLUMN in table and table.rstrip().endswith(")"), "unexpected courses table"
    table = table.replace(AFTER_COLUMN, AFTER_COLUMN + NEW_COLUMN, 1)
    return table.rstrip()[:-1].rstrip() + NEW_KEY + "\n)"


def _without_protocol(table):
    return table.replace(NEW_COLUMN, "", 1).replace(NEW_KEY, "", 1)


def _columns(*, protocol):
    names = [r[1] for r in op.get_bind().execute(sa.text(f"PRAGMA table_info({TABLE})"))]
    return ", ".join(n for n in names if protocol or n != "protocol_id")


def _index():
    op.create_index(
        INDEX,
        TABLE,
        ["patient_id", "protocol_id"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )


def upgrade():
    _refuse_duplicates()
    if op.get_bind().dialect.name != "postgresql":
        kept = _columns(protocol=False)
        _sqlite_rebuilt(_with_protocol, f"{kept}, protocol_id", f"{kept}, ({PROTOCOL_OF})")
        _index()
        return
    op.add_column(TABLE, sa.Column("protocol_id", sa.Uuid(), nullable=True))
    op.execute(BACKFILL)
    op.alter_column(TABLE, "protocol_id", nullable=False)
    op.create_foreign_key(FOREIGN_KEY, TABLE, "protocols", ["protocol_id"], ["id"])
    _index()


def downgrade():
    op.drop_index(INDEX, table_name=TABLE)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(FOREIGN_KEY, TABLE, type_="foreignkey")
        op.drop_column(TABLE, "protocol_id")
        return
    kept = _columns(protocol=False)
    _sqlite_rebuilt(_without_protocol, kept, kept)
