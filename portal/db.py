"""The database handle, and the few statements whose SQL differs between SQLite and
PostgreSQL. Everything dialect-specific lives in this module."""

import contextlib
import sqlite3
import threading
import time
import weakref
from datetime import datetime
from datetime import timezone

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

db = SQLAlchemy()


def utcnow():
    return datetime.now(timezone.utc)


# On SQLite the stored text is already the ISO 8601 form reports print, so a report needs
# no per-row formatting; fixed width keeps text comparison in time order.
SQLITE_TIMESTAMP = sqlite.DATETIME(
    storage_format="%(year)04d-%(month)02d-%(day)02dT%(hour)02d:%(minute)02d:%(second)02d+00:00",
    regexp=r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)",
)


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored as naive UTC, to the second, and always read back as aware UTC,
    on every database (SQLite keeps no time zone of its own)."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(SQLITE_TIMESTAMP)
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be aware; use portal.db.utcnow()")
        return value.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


# An integer primary key that SQLite keeps as its rowid and PostgreSQL as a bigint.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# How long an SQLite writer waits for another to finish before giving up.
BUSY_SECONDS = 10


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
        cursor.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
        # A callback's transaction writes about eight pages; copying the log back into the
        # database every 10,000 pages (about 40 MB) instead of SQLite's 1,000 spares most
        # of that copying, since the same hot pages are written again and again.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection):
        # A writer takes the lock at once (IMMEDIATE): a reader that upgrades to a writer
        # mid-transaction fails at once, instead of waiting, when another writer is busy.
        if connection.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            _begin_immediate(connection.connection.driver_connection)
        else:
            connection.exec_driver_sql("BEGIN")


@contextlib.contextmanager
def snapshot(engine):
    """A read-only transaction that sees one moment of the database throughout: SQLite's
    WAL gives every transaction a snapshot; PostgreSQL needs REPEATABLE READ for one."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ",
                                         postgresql_readonly=True)
        with connection.begin():
            yield connection


@contextlib.contextmanager
def write_transaction(engine):
    """A connection in a transaction meant to write, committed when the block ends."""
    with engine.connect() as connection:
        connection.execution_options(sqlite_begin="IMMEDIATE")
        with connection.begin():
            yield connection


# PostgreSQL's codes for a transaction it aborted so that the others could go on: a
# deadlock, a serialization failure.
RETRYABLE = {"40P01", "40001"}


def retrying(work, attempts=3):
    """``work()``, run again when the database aborted its transaction to break a deadlock
    between writers (on PostgreSQL: a callback and a sync moving the same counts in other
    orders; SQLite has one writer at a time). The last try's failure is raised."""
    for _ in range(attempts - 1):
        try:
            return work()
        except Exception as error:
            cause = getattr(error, "orig", None) or error
            if getattr(cause, "sqlstate", None) not in RETRYABLE:
                raise
    return work()


# PostgreSQL's advisory locks are named by a number the application chooses ("pending").
PENDING_LOCK = 0x70656E64696E67
_TAKE_PENDING_LOCK = sa.select(sa.func.pg_advisory_xact_lock(PENDING_LOCK))


def wait_for_registrations(connection):
    """Until the caller's transaction ends, take turns with every other transaction that
    registers messages or keeps a callback for a message not registered yet, so that one
    of the two always sees the other's work (PostgreSQL: a lock held to the commit; SQLite
    needs none, it has one writer at a time). Returns False where no lock is needed."""
    if connection.dialect.name != "postgresql":
        return False
    DriverStatement.once(_TAKE_PENDING_LOCK, connection.dialect).rows(connection)
    return True


def prefer_index_scans(connection):
    """For the rest of a bulk-load transaction on PostgreSQL: the planner's statistics do
    not yet count the rows this transaction has added, and would answer each duplicate
    check with a scan of the growing table. SQLite needs nothing."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")


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


def bind_processor(sql_type, dialect):
    """The function that turns a Python value into what the driver takes for ``sql_type``
    (an aware timestamp into naive UTC, …), or None when the value goes as it is."""
    return sql_type.dialect_impl(dialect).bind_processor(dialect)


def insert_many(connection, table, rows):
    """INSERT ``rows`` (dicts with the same keys) into ``table`` in the caller's
    transaction. On PostgreSQL by COPY: psycopg runs an executemany as one INSERT per row,
    which made a million-row import spend most of its time in the driver. COPY fills a
    missing column from the database's default only, not from the model's Python-side
    default, so the rows name every such column. Errors are SQLAlchemy's, as for any
    statement (a duplicate key is an IntegrityError)."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    dialect = connection.dialect
    names = list(rows[0])
    # Each value as SQLAlchemy would bind it (aware timestamps become naive UTC, …).
    processors = [(name, bind_processor(table.c[name].type, dialect)) for name in names]
    quote = dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(name) for name in names)}) FROM STDIN"
    try:
        with connection.connection.driver_connection.cursor() as cursor:
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row([processor(row[name]) if processor else row[name]
                                    for name, processor in processors])
    except dialect.loaded_dbapi.Error as error:
        raise sa.exc.DBAPIError.instance(sql, None, error, dialect.loaded_dbapi.Error) \
            from error


def iso_timestamp(column, dialect_name):
    """SQL for ``column`` as ISO 8601 text in UTC with its offset, e.g.
    ``2026-12-03T10:02:57+00:00``."""
    if dialect_name == "sqlite":
        return sa.type_coerce(column, sa.String)
    return sa.func.to_char(column, sa.literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"'"))


def epoch_seconds(column, dialect_name):
    """SQL for the timestamp ``column`` as whole seconds since 1970-01-01 UTC, an integer.
    SQLite parses its stored ISO 8601 text (offset included); PostgreSQL's stored value is
    naive UTC, whose epoch EXTRACT reads without any time zone shift."""
    if dialect_name == "sqlite":
        return sa.cast(sa.func.strftime("%s", column), sa.BigInteger)
    return sa.cast(sa.extract("epoch", column), sa.BigInteger)


class DriverStatement:
    """A statement compiled once and run many times on the database driver's own cursor,
    on the caller's connection and transaction, its rows plain tuples. For the hot paths
    (report pages, the callback's statements): SQLAlchemy's per-execution bookkeeping costs
    about half a microsecond a row and a tenth of a millisecond a statement."""

    def __init__(self, statement, dialect):
        self.compiled = statement.compile(dialect=dialect)
        self.sql = str(self.compiled)
        # The statement's own literals ('' in coalesce(x, ''), …) are parameters too.
        self.defaults = {name: bind.effective_value
                         for name, bind in self.compiled.binds.items()}
        processors = {name: bind_processor(bind.type, dialect)
                      for name, bind in self.compiled.binds.items()}
        self.processors = [(name, processor) for name, processor in processors.items()
                           if processor is not None]
        self.order = self.compiled.positiontup

    def _parameters(self, values):
        parameters = {**self.defaults, **values}
        for name, processor in self.processors:
            parameters[name] = processor(parameters[name])
        if self.order is not None:
            return [parameters[name] for name in self.order]
        return parameters

    def rows(self, connection, **values):
        cursor = _driver_connection(connection).cursor()
        try:
            cursor.execute(self.sql, self._parameters(values))
            return cursor.fetchall()
        finally:
            cursor.close()

    def execute(self, connection, **values):
        """Run the statement and return how many rows it changed (an UPDATE's matches)."""
        cursor = _driver_connection(connection).cursor()
        try:
            cursor.execute(self.sql, self._parameters(values))
            return cursor.rowcount
        finally:
            cursor.close()

    _compiled = {}

    @classmethod
    def once(cls, statement, dialect):
        """The statement compiled for ``dialect`` at its first use, then kept: for the
        module-level statements of the callback path."""
        key = (id(statement), dialect.name)
        compiled = cls._compiled.get(key)
        if compiled is None:
            compiled = cls._compiled.setdefault(key, cls(statement, dialect))
        return compiled


class HeldConnections:
    """One pooled connection per thread for an engine's DriverTransactions, checked out at
    the thread's first transaction and kept for the next: checking a connection out of
    SQLAlchemy's pool and back in for every callback cost the callback benchmark about 3%
    of its rate. A connection goes back to the pool when its transaction fails (the pool
    drops a broken one), when its thread ends, and when the engine is disposed."""

    _of_engine = weakref.WeakKeyDictionary()
    _made = threading.Lock()

    def __init__(self):
        self.local = threading.local()
        self.every = weakref.WeakSet()  # a thread's connection goes with the thread

    @classmethod
    def of(cls, engine):
        held = cls._of_engine.get(engine)
        if held is None:
            with cls._made:
                held = cls._of_engine.get(engine)
                if held is None:
                    held = cls._of_engine[engine] = cls()
                    sa.event.listen(engine, "engine_disposed", held.give_back_all)
        return held

    def take(self, engine):
        pooled = getattr(self.local, "pooled", None)
        if pooled is None:
            pooled = self.local.pooled = engine.raw_connection()
            self.every.add(pooled)
        return pooled

    def give_back(self):
        """Return this thread's connection to the pool."""
        pooled = getattr(self.local, "pooled", None)
        if pooled is not None:
            self.local.pooled = None
            self.every.discard(pooled)
            pooled.close()

    def give_back_all(self, _engine=None):
        """Close every thread's connection: the engine has disposed of its pool already."""
        for pooled in list(self.every):
            pooled.invalidate()
        self.every.clear()
        self.local = threading.local()


class DriverTransaction:
    """A write transaction straight on a driver connection (the thread's held connection),
    for DriverStatements alone: the callback path, where a SQLAlchemy connection and its
    transaction events would cost more than the statements. Commits when the block ends,
    rolls back on an error."""

    def __init__(self, engine):
        self.engine = engine
        self.dialect = engine.dialect
        self.held = HeldConnections.of(engine)

    def __enter__(self):
        self.driver_connection = self.held.take(self.engine).driver_connection
        if self.dialect.name == "sqlite":
            # The driver is in autocommit (configure_sqlite): take the write lock at once.
            try:
                _begin_immediate(self.driver_connection)
            except BaseException:
                self.held.give_back()
                raise
        return self

    def __exit__(self, error_type, error, traceback):
        if error_type is None:
            try:
                self.driver_connection.commit()
                return
            except BaseException:
                self.held.give_back()
                raise
        try:
            self.driver_connection.rollback()
        finally:
            self.held.give_back()


def _begin_immediate(driver_connection):
    """BEGIN IMMEDIATE on SQLite, waiting for the write lock in steps from 50 µs, for every
    writer alike: SQLite's own busy handler sleeps a millisecond at first, ten times the
    length of a callback's whole transaction, and later up to 100 ms, so a writer using it
    would keep losing the lock to callbacks."""
    driver_connection.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + BUSY_SECONDS
        delay = 0.00005
        while True:
            try:
                driver_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.005)
    finally:
        driver_connection.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")


def _driver_connection(connection):
    if isinstance(connection, DriverTransaction):
        return connection.driver_connection
    return connection.connection.driver_connection
