"""protocols: protocols and their versions, published versions frozen by triggers

Revision ID: 0002_protocols
Revises: 0001_foundation
Create Date: 2026-11-26 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import kapt_api.db


# revision identifiers, used by Alembic.
revision = '0002_protocols'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('protocols',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('medication', sa.String(length=30), nullable=False),
    sa.Column('route', sa.String(length=20), nullable=False),
    sa.Column('clinic_id', sa.Uuid(), nullable=True),
    sa.Column('template_key', sa.String(length=60), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("medication <> 'esketamine' OR route = 'intranasal'", name=op.f('ck_protocols_esketamine_intranasal')),
    sa.CheckConstraint("medication IN ('esketamine', 'racemic_ketamine')", name=op.f('ck_protocols_medication_known')),
    sa.CheckConstraint("route IN ('intranasal', 'intravenous', 'intramuscular', 'sublingual', 'oral')", name=op.f('ck_protocols_route_known')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_protocols_clinic_id_clinics')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_protocols_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protocols')),
    sa.UniqueConstraint('name', name=op.f('uq_protocols_name'))
    )
    with op.batch_alter_table('protocols', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_protocols_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('protocol_versions',
    sa.Column('protocol_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('document', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('based_on_version_id', sa.Uuid(), nullable=True),
    sa.Column('template_key', sa.String(length=60), nullable=True),
    sa.Column('created_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('updated_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', kapt_api.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("(status = 'draft' AND published_at IS NULL) OR (status = 'published' AND published_at IS NOT NULL)", name=op.f('ck_protocol_versions_published_at_when_published')),
    sa.CheckConstraint('number >= 1', name=op.f('ck_protocol_versions_number_positive')),
    sa.CheckConstraint("status IN ('draft', 'published')", name=op.f('ck_protocol_versions_status_known')),
    sa.ForeignKeyConstraint(['based_on_version_id'], ['protocol_versions.id'], name=op.f('fk_protocol_versions_based_on_version_id_protocol_versions')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_protocol_versions_created_by_users')),
    sa.ForeignKeyConstraint(['protocol_id'], ['protocols.id'], name=op.f('fk_protocol_versions_protocol_id_protocols')),
    sa.ForeignKeyConstraint(['published_by'], ['users.id'], name=op.f('fk_protocol_versions_published_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protocol_versions')),
    sa.UniqueConstraint('protocol_id', 'number', name=op.f('uq_protocol_versions_protocol_id_number'))
    )
    with op.batch_alter_table('protocol_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_protocol_versions_protocol_id'), ['protocol_id'], unique=False)
        batch_op.create_index('uq_protocol_versions_one_draft', ['protocol_id'], unique=True, sqlite_where=sa.text("status = 'draft'"), postgresql_where=sa.text("status = 'draft'"))

    _freeze_published_versions()


def downgrade():
    _unfreeze_published_versions()
    with op.batch_alter_table('protocol_versions', schema=None) as batch_op:
        batch_op.drop_index('uq_protocol_versions_one_draft', sqlite_where=sa.text("status = 'draft'"), postgresql_where=sa.text("status = 'draft'"))
        batch_op.drop_index(batch_op.f('ix_protocol_versions_protocol_id'))

    op.drop_table('protocol_versions')
    with op.batch_alter_table('protocols', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_protocols_clinic_id'))

    op.drop_table('protocols')


# A published version is what courses pin: the database itself refuses to change or
# delete it, whoever sends the statement. (SQLSTATE 23000 on PostgreSQL, a constraint
# error on SQLite: both reach the API as an IntegrityError, so a 409.)
def _freeze_published_versions():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION protocol_versions_frozen() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'published protocol versions are immutable'
                    USING ERRCODE = 'integrity_constraint_violation';
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER protocol_versions_frozen
            BEFORE UPDATE OR DELETE ON protocol_versions
            FOR EACH ROW WHEN (OLD.status = 'published')
            EXECUTE FUNCTION protocol_versions_frozen()
        """)
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER protocol_versions_frozen_{event.lower()}
                BEFORE {event} ON protocol_versions
                WHEN OLD.status = 'published'
                BEGIN
                    SELECT RAISE(ABORT, 'published protocol versions are immutable');
                END
            """)


def _unfreeze_published_versions():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS protocol_versions_frozen ON protocol_versions")
        op.execute("DROP FUNCTION IF EXISTS protocol_versions_frozen()")
    else:
        op.execute("DROP TRIGGER IF EXISTS protocol_versions_frozen_update")
        op.execute("DROP TRIGGER IF EXISTS protocol_versions_frozen_delete")
