"""A text over the one-a-day cap can be merged into the day's other pending text:
the `merged` status and the row that carries it

Revision ID: 0008_merged_texts
Revises: 0007_rems_form_fields
Create Date: 2026-11-26 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_merged_texts'
down_revision = '0007_rems_form_fields'
branch_labels = None
depends_on = None

OLD = "status IN ('pending', 'sent', 'failed', 'expired', 'cancelled', 'skipped')"
NEW = "status IN ('pending', 'sent', 'failed', 'expired', 'cancelled', 'skipped', 'merged')"


def upgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_reminders_merged_into_reminders'), 'reminders', ['merged_into'], ['id']
        )
        batch_op.drop_constraint(batch_op.f('ck_reminders_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_reminders_status_known'), NEW)


def downgrade():
    op.execute("UPDATE reminders SET status = 'skipped' WHERE status = 'merged'")
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_reminders_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_reminders_status_known'), OLD)
        batch_op.drop_constraint(batch_op.f('fk_reminders_merged_into_reminders'), type_='foreignkey')
        batch_op.drop_column('merged_into')
