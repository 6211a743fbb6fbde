"""Callbacks applied in their own request: the counts move with every status change by a
trigger on messages, and the index of waiting events holds only the pending ones.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# One bucket of campaign_counts moved by ``amount`` for the row ``side`` (OLD or NEW).
SQLITE_MOVE = """
    INSERT INTO campaign_counts (campaign_id, status, provider_status, error_code, count)
    VALUES ({side}.campaign_id, {side}.status, coalesce({side}.provider_status, ''),
            coalesce({side}.error_code, ''), {amount})
    ON CONFLICT (campaign_id, status, provider_status, error_code)
    DO UPDATE SET count = count + excluded.count;"""
POSTGRESQL_MOVE = SQLITE_MOVE.replace("INTO campaign_counts (", "INTO campaign_counts AS kept (") \
    .replace("SET count = count", "SET count = kept.count")
CHANGED = ("OLD.status {0} NEW.status OR OLD.provider_status {0} NEW.provider_status "
           "OR OLD.error_code {0} NEW.error_code")
COLUMNS = "status, provider_status, error_code"


def _moves(template):
    return template.format(side="OLD", amount=-1) + template.format(side="NEW", amount=1)


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"""
            CREATE TRIGGER messages_count_status_change AFTER UPDATE OF {COLUMNS} ON messages
            WHEN {CHANGED.format("IS NOT")}
            BEGIN {_moves(SQLITE_MOVE)}
            END""")
    else:
        op.execute(f"""
            CREATE FUNCTION portal_count_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN {_moves(POSTGRESQL_MOVE)}
                RETURN NULL;
            END $$""")
        op.execute(f"""
            CREATE TRIGGER messages_count_status_change AFTER UPDATE OF {COLUMNS} ON messages
            FOR EACH ROW WHEN ({CHANGED.format("IS DISTINCT FROM")})
            EXECUTE FUNCTION portal_count_status_change()""")
    op.drop_index("ix_status_events_outcome", table_name="status_events")
    op.create_index("ix_status_events_pending", "status_events", ["id"],
                    sqlite_where=sa.text("outcome = 'pending'"),
                    postgresql_where=sa.text("outcome = 'pending'"))
    _apply_left_behind()


def _apply_left_behind():
    """Callbacks that the background applier of earlier versions had recorded and not yet
    applied: applied now, by the same step that applies a callback waiting for its
    message; those whose message is not registered stay pending."""
    connection = op.get_bind()
    op.execute("UPDATE status_events SET outcome = 'pending' WHERE outcome = 'received'")
    if not connection.execute(sa.text(
            "SELECT 1 FROM status_events WHERE outcome = 'pending' LIMIT 1")).first():
        return
    from portal.ingestion import events
    from portal.plugin_manager import current_plugins

    for provider in current_plugins().providers().values():
        events.apply_pending(connection, provider)


def downgrade():
    op.drop_index("ix_status_events_pending", table_name="status_events")
    op.create_index("ix_status_events_outcome", "status_events", ["outcome", "id"])
    op.execute("DROP TRIGGER messages_count_status_change" +
               ("" if op.get_bind().dialect.name == "sqlite" else " ON messages"))
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION portal_count_status_change()")
