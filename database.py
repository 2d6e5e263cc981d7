"""The database connection: which engine a URL opens, SQLite's single-writer queue, and prepared statements."""
from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime

from peewee import DatabaseProxy, InterfaceError, Model, OperationalError, SqliteDatabase
from playhouse.db_url import connect, parse
from playhouse.pool import MaxConnectionsExceeded
from playhouse.postgres_ext import PooledPostgresqlExtDatabase

db = DatabaseProxy()
UNAVAILABLE = (OperationalError, InterfaceError, MaxConnectionsExceeded)  # locked, busy or unreachable


def round_failed(log: logging.Logger, what: str, then: str = "trying again next round") -> None:
    """Said from a background loop's `except`. An outage repeats every round until the database is back,
    so it is one line; anything else is a defect and keeps its traceback."""
    error = sys.exc_info()[1]
    if isinstance(error, UNAVAILABLE):
        log.warning("%s failed (%s: %s); %s", what, type(error).__name__, str(error).strip().partition("\n")[0], then)
    else:
        log.exception("%s failed; %s", what, then)


class Prepared:
    """A query whose SQL peewee writes once per kind of database, then runs with new values.

    Every message runs the same few statements, and peewee takes several times longer to write their SQL
    than SQLite takes to run them. `build` gets one stand-in per value, of the kinds given (str, int or
    datetime), and must use each unchanged, so that its placeholder takes the real value later.
    """

    def __init__(self, build, *kinds: type) -> None:
        self.build, self.kinds = build, kinds
        self._made: dict[type, tuple[str, list, list[int | None]]] = {}
        self._fields: dict[type[Model], list] = {}

    def _bind(self, values: tuple) -> tuple[str, list]:
        made = self._made.get(type(db.obj))
        if made is None:
            stand_ins = [f"\x1fvalue {n}" if kind is str else datetime(1, 1, 1, microsecond=n) if kind is datetime
                         else -(10 ** 15 + n) for n, kind in enumerate(self.kinds)]
            sql, params = self.build(*stand_ins).bind(db).sql()
            slots = [next((n for n, stand_in in enumerate(stand_ins) if type(param) is type(stand_in)
                           and param == stand_in), None) for param in params]
            made = self._made[type(db.obj)] = (sql, params, slots)
        sql, params, slots = made
        return sql, [param if slot is None else values[slot] for param, slot in zip(params, slots)]

    def row(self, *values) -> tuple | None:
        return db.execute_sql(*self._bind(values)).fetchone()

    def rows(self, *values) -> list[tuple]:
        return db.execute_sql(*self._bind(values)).fetchall()

    def first(self, model: type[Model], *values) -> Model | None:
        """The first row as a model; its columns are matched to fields once, not on every call as peewee does."""
        cursor = db.execute_sql(*self._bind(values))
        row = cursor.fetchone()
        if row is None:
            return None
        fields = self._fields.get(model)
        if fields is None:
            fields = self._fields[model] = [model._meta.columns[column[0]] for column in cursor.description]
        instance = model(__no_default__=1)
        instance.__data__ = {field.name: field.python_value(value) for field, value in zip(fields, row)}
        return instance  # as peewee's field setters would leave it, without a call for each of its fields

    def insert(self, *values) -> int | None:
        """The new row's id; None when a conflict left the row out (an insert that ignores conflicts)."""
        cursor = db.execute_sql(*self._bind(values))
        if db.obj.returning_clause:
            row = cursor.fetchone()
            return row[0] if row else None
        return cursor.lastrowid if cursor.rowcount else None

    def execute(self, *values) -> int:
        return db.execute_sql(*self._bind(values)).rowcount


class SqliteWriteQueue(SqliteDatabase):
    """SQLite whose writers in this process take turns on a lock rather than in SQLite's busy handler.

    SQLite lets one writer in at a time and makes the others retry after sleeps of up to 100 ms,
    which under load costs far more than the writes; other processes still meet the busy timeout.
    """

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
    LOCK_WAIT = 0.005  # seconds the event loop may wait for the write lock (see at_once)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.write_lock = threading.RLock()

    def begin(self, lock_type=None):
        self.write_lock.acquire()
        try:
            return super().begin(lock_type)
        except BaseException:
            self.write_lock.release()
            raise

    def commit(self):
        super().commit()  # on failure peewee rolls back, which releases
        self.write_lock.release()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self.write_lock.release()

    def execute_sql(self, sql, params=None):
        if self.in_transaction() or not sql.lstrip()[:7].upper().startswith(self.WRITES):
            return super().execute_sql(sql, params)
        with self.write_lock:
            return super().execute_sql(sql, params)

    def at_once(self, work, *args):
        """Run a short write transaction on this thread if nothing stands in its way, else raise WouldWait.

        For the event loop: handing a message's transaction to a worker thread costs more than the
        transaction. The loop must not wait long: it waits for the write lock a few milliseconds at most
        (a thread of this process holds it for one short transaction, which finishes sooner with the loop
        out of its way; giving up at once made writers queue in threads, each slowing the next), tells
        SQLite not to wait for another process at all, and leaves checkpoints (and their fsync) to others.
        """
        if self.in_transaction() or not self.write_lock.acquire(timeout=self.LOCK_WAIT):
            raise WouldWait()
        try:
            connection = self.connection()
            connection.execute("PRAGMA busy_timeout = 0")
            connection.execute("PRAGMA wal_autocheckpoint = 0")
            try:
                return work(*args)
            except OperationalError as error:  # another process holds SQLite's lock; nothing was written
                if "locked" in str(error) or "busy" in str(error):
                    raise WouldWait() from error
                raise
            finally:
                connection.execute(f"PRAGMA busy_timeout = {dict(self._pragmas).get('busy_timeout', 0)}")
                connection.execute("PRAGMA wal_autocheckpoint = 1000")
        finally:
            self.write_lock.release()

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database, all of it, so that the next write starts it over.

        It holds this process's write lock meanwhile (writes wait in worker threads for the few
        milliseconds it takes; readers are not held up): a checkpoint with writes going on beside it
        never reaches the log's end, so the log never started over, and under steady load it grew by
        about 6 MB a second until the load stopped.
        """
        with self.write_lock:
            self.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")


def checkpoint() -> None:
    """SQLite's log into the database, from the sweeper: writes made on the event loop leave it to others."""
    if isinstance(db.obj, SqliteWriteQueue):
        db.obj.checkpoint()


class WouldWait(Exception):
    """SQLite's write lock is taken: run the write where waiting is harmless."""


class PooledPostgres(PooledPostgresqlExtDatabase):
    """PostgreSQL with a connection per thread that is replaced once the server has ended it.

    Each thread keeps its connection for good, and peewee goes on handing a thread the one it has even
    after PostgreSQL restarted or ended it: every later query of that thread failed with "the connection is
    closed". A dead connection outside a transaction is put back (the pool drops it) and a new one opened;
    a transaction it broke fails, and the thread's next one starts on a new connection.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._owners: dict[int, threading.Thread] = {}  # the thread holding each connection in use

    def cursor(self, named_cursor=None):
        if not self.is_closed() and self._state.conn.closed and not self.in_transaction():
            self.close()
        return super().cursor(named_cursor)

    def _connect(self):
        # A thread that ends (the server's thread pool lets one go after ten idle seconds, a worker's pool ends with
        # its event loop) never checks its connection back in: the pool still counts it, and enough of them left
        # every new thread with "Exceeded maximum connections". Full, the pool closes those of ended threads.
        try:
            conn = super()._connect()
        except MaxConnectionsExceeded:
            with self._pool_lock:
                for key, owner in list(self._owners.items()):
                    if not owner.is_alive() and key in self._in_use:
                        self._close(self._in_use[key].connection, close_conn=True)
            conn = super()._connect()
        self._owners[self.conn_key(conn)] = threading.current_thread()
        return conn

    def _close(self, conn, close_conn=False):
        self._owners.pop(self.conn_key(conn), None)  # checked in or closed: no thread holds it now
        super()._close(conn, close_conn)


def open_database(url: str):
    """Connect to SQLite (WAL, busy timeout) or PostgreSQL from a database URL."""
    if url.startswith("sqlite"):
        pragmas = {"journal_mode": "wal", "busy_timeout": 5000, "synchronous": "normal", "foreign_keys": 1}
        # IMMEDIATE takes the write lock at BEGIN, where the busy timeout applies; a deferred
        # transaction that reads first fails at once with "database is locked" when another writer won.
        return SqliteWriteQueue(**parse(url), pragmas=pragmas, lock_type="IMMEDIATE")
    if url.startswith("postgres"):
        # Each thread keeps its connection: HANDOFF_THREADS worker threads plus the event loop's.
        return PooledPostgres(**parse(url), max_connections=64, stale_timeout=300, autorollback=True)
    return connect(url)
