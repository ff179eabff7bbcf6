"""What every part of the PostgreSQL archive shares: the connection pool, transactions, running a
statement, and PostgreSQL's errors as `StorageError`s.

Outside a transaction each statement runs on a connection of the pool in autocommit mode. Inside
`transaction()` every statement of this thread runs on the one connection that holds it, and the
transaction holds the archive's transaction lock (`pg_advisory_xact_lock`) from its start to its
commit: what is read inside cannot be changed by another writer before what is written inside
commits, as with SQLite's BEGIN IMMEDIATE. Two writers' network and language work run at once;
only their units of work take turns, for milliseconds.
"""

from __future__ import annotations

import functools
import inspect
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from veille.errors import ServerGoneError, StorageError, register_driver_errors
from veille.storage.postgres.schema import TRANSACTION_LOCK


class Part:
    """A part of the archive's methods, by area; `Archive` (store.py) is assembled from them."""

    _pool: Any  # psycopg_pool.ConnectionPool of autocommit connections returning dict rows
    _local: threading.local
    server: str  # host:port/database, for messages

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One unit of work under the archive's transaction lock; an inner one joins the outer."""
        local = self._local
        if getattr(local, "depth", 0):
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        made: set[str] = set()  # the partitions this transaction makes: known to exist once it commits
        try:
            # In pipeline mode: the writes of a unit of work go to the server without waiting for each
            # answer (a read, or a count, waits for what was sent before it), so an article costs a few
            # round trips, not one per statement. Errors still surface inside, and roll it all back.
            with self._pool.connection() as conn, conn.pipeline() as pipeline, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (TRANSACTION_LOCK,))
                local.conn, local.depth, local.made, local.pipeline = conn, 1, made, pipeline
                try:
                    yield
                finally:
                    local.conn, local.depth, local.made, local.pipeline = None, 0, None, None
            if made:
                self._months.update(made)
        except Exception as exc:
            converted = self._converted(exc)
            if converted is exc:
                raise
            raise converted from exc

    @contextmanager
    def _connection(self):
        """The connection of this thread's transaction, else one from the pool for the statement."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self._pool.connection() as conn:
            yield conn

    def _rows(self, sql: str, params: Sequence | dict = ()) -> list[dict]:
        with self._connection() as conn:
            return conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence | dict = ()) -> dict | None:
        with self._connection() as conn:
            return conn.execute(sql, params).fetchone()

    def _value(self, sql: str, params: Sequence | dict = ()) -> Any:
        """The first column of the first row (None without one)."""
        row = self._one(sql, params)
        return next(iter(row.values())) if row else None

    def _run(self, sql: str, params: Sequence | dict = ()) -> int:
        """Run a statement; the number of rows it changed (in a transaction, waits for the answer)."""
        with self._connection() as conn:
            cursor = conn.execute(sql, params)
            pipeline = getattr(self._local, "pipeline", None)
            if pipeline is not None and conn is self._local.conn:
                pipeline.sync()
            return cursor.rowcount

    def _write(self, sql: str, params: Sequence | dict = ()) -> None:
        """Run a statement whose answer nobody reads: in a transaction, sent without waiting."""
        with self._connection() as conn:
            conn.execute(sql, params)

    def _many(self, sql: str, rows: list) -> None:
        if rows:
            with self._connection() as conn, conn.cursor() as cursor:
                cursor.executemany(sql, rows)

    def _converted(self, exc: Exception) -> Exception:
        converted = storage_error(exc, self.server)
        if isinstance(converted, ServerGoneError):
            self._drop_dead_connections()
        return converted

    def _drop_dead_connections(self) -> None:
        """After the server went away: the pool's idle connections are dead too; test them now, so that
        once the server is back the next statements get new ones instead of failing one by one."""
        try:
            self._pool.check()
        except Exception:  # the pool closed, or checking failed: the pool discards bad connections anyway
            pass


def storage_error(exc: BaseException, server: str) -> BaseException:
    """PostgreSQL's and the pool's failures as StorageError (ServerGoneError when the server went
    away); anything else as it is."""
    import psycopg
    from psycopg_pool import PoolTimeout

    if isinstance(exc, StorageError) or not isinstance(exc, (psycopg.Error, PoolTimeout)):
        return exc
    if isinstance(exc, PoolTimeout) or (isinstance(exc, psycopg.OperationalError) and _connection_lost(exc)):
        return ServerGoneError(f"the PostgreSQL server {server} does not answer ({_first_line(exc)}); start it "
                               "again or check the network; the command can be run again, nothing is half-stored")
    return StorageError(f"PostgreSQL {server}: {_first_line(exc)}")


# SQLSTATEs of a connection lost or refused (class 08) or a server shutting down (57P01-3); the other
# OperationalErrors (a deadlock, a lock or statement timeout, a serialisation failure) come from a
# server that answers.
_GONE = ("57P01", "57P02", "57P03")


def _connection_lost(exc) -> bool:
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith("08") or state in _GONE


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _converting(function):
    if inspect.isgeneratorfunction(function):
        @functools.wraps(function)
        def generator(self, *args, **kwargs):
            try:
                yield from function(self, *args, **kwargs)
            except Exception as exc:
                converted = self._converted(exc)
                if converted is exc:
                    raise
                raise converted from exc
        return generator

    @functools.wraps(function)
    def method(self, *args, **kwargs):
        try:
            return function(self, *args, **kwargs)
        except Exception as exc:
            converted = self._converted(exc)
            if converted is exc:
                raise
            raise converted from exc
    return method


def converts_errors(cls: type) -> type:
    """The class, its public methods raising StorageError for PostgreSQL's errors."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_") or name == "transaction":  # transaction converts its own
            continue
        if inspect.isfunction(value):
            setattr(cls, name, _converting(value))
    return cls


def register() -> None:
    """Name psycopg's errors as storage errors (once psycopg is imported, by opening an archive)."""
    import psycopg

    register_driver_errors(psycopg.Error)


# -- the stored forms of values: the SQLite archive's, so that `archive copy` moves them unchanged --
def row_to_article(row: dict):
    """An Article from a row of `articles` (any subset of its columns). `raw` is stored compressed
    with zlib, as in the SQLite archive; `alternates` and `lang_shares` are JSON text."""
    import json

    from veille.models import Article
    from veille.storage.sqlite.base import decode_shares, decompress

    values = {k: v for k, v in row.items() if k in Article.__dataclass_fields__}
    if "raw" in values:
        values["raw"] = decompress(bytes(values["raw"]) if values["raw"] is not None else None)
    if "alternates" in values:
        values["alternates"] = json.loads(values["alternates"] or "{}")
    if "lang_shares" in values:
        values["lang_shares"] = decode_shares(values["lang_shares"])
    values.setdefault("text", "")
    return Article(**values)
