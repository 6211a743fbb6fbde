"""Commands of ``flask --app portal``."""

from portal.cli import counters
from portal.cli import demo


def register(app):
    app.cli.add_command(demo.demo_command)
    app.cli.add_command(counters.counters_group)
