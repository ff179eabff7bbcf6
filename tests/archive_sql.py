"""The tests' one door to the archive's database itself, below the Archive API.

For what the API does not offer on purpose: integrity checks, counts read while another process
writes, rows forced into a state, archives made to look like older ones. Every test that reads or
writes the database file goes through here, so that the same tests can run against another backend
by giving this module another body. SQLite: `folder` is the archive folder, `archive` an open
SQLite archive; `execute` and `in_transaction` also take an open PostgreSQL archive.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Callable, Iterator

from veille.storage.sqlite.store import DB_NAME

Error = sqlite3.Error  # the database driver's errors, as tests expect or raise them
IntegrityError = sqlite3.IntegrityError
OperationalError = sqlite3.OperationalError


def database(folder: Path) -> Path:
    return Path(folder) / DB_NAME


def _connect(folder: Path, readonly: bool, timeout: float, named: bool = True) -> sqlite3.Connection:
    if readonly:
        db = sqlite3.connect(f"file:{database(folder)}?mode=ro", uri=True, timeout=timeout)
    else:
        db = sqlite3.connect(database(folder), timeout=timeout)
    if named:
        db.row_factory = sqlite3.Row
    return db


def query(folder: Path, sql: str, *params, readonly: bool = False, timeout: float = 5.0) -> list[tuple]:
    """The rows of one query on the archive's database, as tuples (a fresh connection, closed after)."""
    with closing(_connect(folder, readonly, timeout, named=False)) as db, db:
        return db.execute(sql, params).fetchall()


def records(folder: Path, sql: str, *params, readonly: bool = False) -> list[sqlite3.Row]:
    """The rows of one query, readable by column name (`row["name"]`, `dict(row)`)."""
    with closing(_connect(folder, readonly, 5.0)) as db, db:
        return db.execute(sql, params).fetchall()


@contextmanager
def reader(folder: Path, *, timeout: float = 5.0) -> Iterator[Callable[..., list[sqlite3.Row]]]:
    """`rows(sql, *params)` on one read-only connection, for many queries that must agree."""
    with closing(_connect(folder, True, timeout)) as db:
        yield lambda sql, *params: db.execute(sql, params).fetchall()


def scalar(folder: Path, sql: str, *params, readonly: bool = False, timeout: float = 5.0):
    """The first value of the first row."""
    return query(folder, sql, *params, readonly=readonly, timeout=timeout)[0][0]


def count_articles(folder: Path, *, readonly: bool = False, timeout: float = 5.0) -> int:
    return scalar(folder, "SELECT COUNT(*) FROM articles", readonly=readonly, timeout=timeout)


def article_ids(folder: Path) -> set[str]:
    return {row[0] for row in query(folder, "SELECT id FROM articles", readonly=True)}


def article_urls(folder: Path) -> list[str]:
    return [row[0] for row in query(folder, "SELECT url FROM articles")]


def duplicate_urls(folder: Path) -> int:
    return scalar(folder, "SELECT COUNT(*) - COUNT(DISTINCT url) FROM articles")


def change_marks(folder: Path) -> list[str]:
    """Each article's position as the search index's cursor once named it ("time id")."""
    return sorted(row[0] for row in query(folder, "SELECT MAX(updated, COALESCE(tagged_at, '')) || ' ' || id "
                                                  "FROM articles", readonly=True))


def integrity(folder: Path, *, readonly: bool = False) -> str:
    """"ok", or what the database's own check found."""
    return scalar(folder, "PRAGMA integrity_check", readonly=readonly)


def checkpoint(folder: Path) -> None:
    """Everything in the write-ahead log moved into the database file, the log emptied."""
    query(folder, "PRAGMA wal_checkpoint(TRUNCATE)")


def script(folder: Path, sql: str) -> None:
    """Statements run as one script (to make an archive look like one an older veille wrote)."""
    with closing(sqlite3.connect(database(folder))) as db:
        db.executescript(sql)


def clear(folder: Path | str, tables: tuple[str, ...]) -> None:
    """Every row of these tables deleted (`folder`: a SQLite archive's, or a PostgreSQL archive's URL)."""
    if str(folder).startswith("postgresql://"):
        import psycopg

        with psycopg.connect(str(folder)) as conn:  # one transaction, committed on leaving
            for table in tables:
                conn.execute(f"DELETE FROM {table}")
        return
    with closing(sqlite3.connect(database(folder))) as db, db:
        for table in tables:
            db.execute(f"DELETE FROM {table}")


def execute(archive, sql: str, *params) -> list:
    """One statement on an open archive's own connection (its transaction rules, its pragmas).
    On a PostgreSQL archive: on its transaction's connection, else one of its pool (`?` as `%s`)."""
    if getattr(archive, "kind", "sqlite") == "postgresql":
        with archive._connection() as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return [tuple(row.values()) for row in cursor.fetchall()] if cursor.description else []
    return archive.db.execute(sql, params).fetchall()


def source_row(folder: Path, name: str) -> dict:
    rows = records(folder, "SELECT * FROM sources WHERE name = ?", name)
    return dict(rows[0]) if rows else {}


def forbid_writes(archive) -> None:
    """Every later write on this open archive fails, as on a read-only disk."""
    archive.db.execute("PRAGMA query_only = 1")


def in_transaction(archive) -> bool:
    if getattr(archive, "kind", "sqlite") == "postgresql":  # this thread's transaction, as the server sees it
        from psycopg.pq import TransactionStatus

        conn = getattr(archive._local, "conn", None)
        if conn is None:
            return False
        if getattr(archive._local, "pipeline", None) is not None:
            archive._local.pipeline.sync()  # what was sent has been answered: the status is the server's
        return conn.info.transaction_status == TransactionStatus.INTRANS
    return archive.db.in_transaction


@contextmanager
def statements(archive) -> Iterator[list[str]]:
    """The statements an open archive runs inside the block, in order."""
    seen: list[str] = []
    archive.db.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        archive.db.set_trace_callback(None)


@contextmanager
def steps(archive, per: int = 1000) -> Iterator[Callable[[], int]]:
    """How much work the database does inside the block: `steps()` is the number of virtual-machine
    instructions it ran, in thousands (`per`), a count that does not depend on the machine's speed."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0  # go on

    archive.db.set_progress_handler(tick, per)
    try:
        yield lambda: count[0]
    finally:
        archive.db.set_progress_handler(None, per)
