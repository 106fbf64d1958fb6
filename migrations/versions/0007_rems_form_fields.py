"""REMS Patient Monitoring Form fields: the patient's sex, each device's time, the
concomitant medications the form asks about and its evaluation question

Revision ID: 0007_rems_form_fields
Revises: 0005_monitoring
Create Date: 2026-11-26 12:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_rems_form_fields'
down_revision = '0005_monitoring'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sex', sa.String(length=10), nullable=True))

    with op.batch_alter_table('monitoring_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_times', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('concomitant_medications', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('ready_to_leave_minutes', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('monitoring_sessions', schema=None) as batch_op:
        batch_op.drop_column('ready_to_leave_minutes')
        batch_op.drop_column('concomitant_medications')
        batch_op.drop_column('device_times')

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('sex')
