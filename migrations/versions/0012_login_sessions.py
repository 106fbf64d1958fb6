"""Login sessions as an allow-list: a row per login, which its tokens need to be
accepted, replaces the list of revoked sessions (a well-signed token naming any other
session id was accepted)

Tokens issued before this revision name sessions that have no row: everyone logs in
again once. The downgrade keeps the revocations (sessions logged out or ended by a
deactivation) as rows of revoked_sessions.

Revision ID: 0012_login_sessions
Revises: 0011_completed_doses_index
Create Date: 2026-12-02 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import kapt_api.db


# revision identifiers, used by Alembic.
revision = '0012_login_sessions'
down_revision = '0011_completed_doses_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_refreshed_at', kapt_api.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', kapt_api.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)

    # Nothing to carry over: a revoked session needs no row now, as no row means refused.
    op.drop_table('revoked_sessions')


def downgrade():
    op.create_table('revoked_sessions',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', kapt_api.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_revoked_sessions'))
    )
    op.execute(
        "INSERT INTO revoked_sessions (session_id, revoked_at, expires_at) "
        "SELECT id, revoked_at, expires_at FROM login_sessions WHERE revoked_at IS NOT NULL"
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_login_sessions_expires_at'))

    op.drop_table('login_sessions')
