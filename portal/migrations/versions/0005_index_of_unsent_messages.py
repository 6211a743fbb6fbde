"""The (campaign, status, id) index of messages leaves out the SENT ones: nothing looks
them up that way, and a callback moving a SENT message no longer touches the index.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UNSENT = "status != 'SENT'"


def upgrade():
    op.drop_index("ix_messages_campaign_status", table_name="messages")
    op.create_index("ix_messages_campaign_unsent", "messages", ["campaign_id", "status", "id"],
                    sqlite_where=sa.text(UNSENT), postgresql_where=sa.text(UNSENT))


def downgrade():
    op.drop_index("ix_messages_campaign_unsent", table_name="messages")
    op.create_index("ix_messages_campaign_status", "messages", ["campaign_id", "status", "id"])
