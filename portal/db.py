"""The database handle, and the few statements whose SQL differs between SQLite and
PostgreSQL. Everything dialect-specific lives in this module."""

from datetime import datetime
from datetime import timezone

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

db = SQLAlchemy()


def utcnow():
    return datetime.now(timezone.utc)


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored as naive UTC and always read back as aware UTC, on every
    database (SQLite keeps no time zone of its own)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be aware; use portal.db.utcnow()")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


# An integer primary key that SQLite keeps as its rowid and PostgreSQL as a bigint.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def configure_sqlite(engine):
    """WAL lets readers (reports, pages) run while callbacks write. The driver is put in
    autocommit and every transaction opened with an explicit BEGIN: left to itself, Python's
    sqlite3 starts no transaction before a SELECT, so a report read in pages would not see
    one moment of the campaign."""

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN")


def upsert_add(connection, table, keys, column, amount):
    """Add ``amount`` to ``table.column`` in the row identified by ``keys``, creating the
    row when it does not exist yet, in one statement."""
    dialect = connection.dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]
    statement = insert(table).values(**keys, **{column: amount})
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={column: getattr(table.c, column) + statement.excluded[column]},
    )
    connection.execute(statement)
