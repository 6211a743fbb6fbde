"""Teams, campaigns, messages and the per-campaign counts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_campaigns_sent_at", "campaigns", ["sent_at"])
    op.create_index("ix_campaigns_team_sent_at", "campaigns", ["team_id", "sent_at"])
    op.create_table(
        "campaign_counts",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"),
                  primary_key=True),
        sa.Column("status", sa.String(8), primary_key=True),
        sa.Column("provider_status", sa.String(24), primary_key=True),
        sa.Column("error_code", sa.String(32), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("provider_message_id", sa.String(64), nullable=True, unique=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("provider_status", sa.String(24), nullable=True),
        sa.Column("error_code", sa.String(32), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_messages_campaign", "messages", ["campaign_id", "id"])
    op.create_index("ix_messages_campaign_status", "messages", ["campaign_id", "status", "id"])
    op.create_index("ix_messages_campaign_status_updated", "messages",
                    ["campaign_id", "status", "updated_at"])


def downgrade():
    op.drop_table("messages")
    op.drop_table("campaign_counts")
    op.drop_table("campaigns")
    op.drop_table("teams")
