"""Alembic's entry point, run by ``flask --app portal db …`` inside the portal's app."""

from alembic import context
from flask import current_app

target_db = current_app.extensions["migrate"].db


def run_offline():
    context.configure(url=str(target_db.engine.url), target_metadata=target_db.metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online():
    with target_db.engine.connect() as connection:
        # Batch mode lets later migrations alter tables on SQLite, which has no ALTER COLUMN.
        context.configure(connection=connection, target_metadata=target_db.metadata,
                          render_as_batch=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
