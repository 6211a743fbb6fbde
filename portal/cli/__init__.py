"""Commands of ``flask --app portal``."""

from portal.cli import accounts
from portal.cli import counters
from portal.cli import demo
from portal.cli import events
from portal.cli import retention
from portal.cli import simulate
from portal.cli import sync
from portal.cli import tokens


def register(app):
    app.cli.add_command(accounts.users_group)
    app.cli.add_command(accounts.teams_group)
    app.cli.add_command(retention.retention_group)
    app.cli.add_command(demo.demo_command)
    app.cli.add_command(counters.counters_group)
    app.cli.add_command(tokens.tokens_group)
    app.cli.add_command(sync.sync_command)
    app.cli.add_command(events.events_group)
    app.cli.add_command(simulate.simulate_command)
