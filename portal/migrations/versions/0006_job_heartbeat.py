"""Jobs carry the moment their process last marked them as alive, so that a job whose
process ended (a restart, a crash) stops holding back the next one.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("jobs", sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE jobs SET heartbeat_at = coalesce(finished_at, started_at)")


def downgrade():
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("heartbeat_at")
