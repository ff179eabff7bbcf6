"""Opening a PostgreSQL archive: the address, the pool, the schema brought up to date.

Every way it can fail before the first article is one line (ArchiveConnectError, exit 2): a wrong
address, a server that does not answer, a refused password, a database that does not exist, an
extension missing, a database written by a newer veille.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from veille.errors import ArchiveConnectError
from veille.storage.postgres.schema import MIGRATIONS, TRANSACTION_LOCK, VERSION_TABLE

POOL_SIZE = 4  # connections: the writer, the search index, a reader thread or two (`veille serve`)
CONNECT_TIMEOUT = 10  # seconds


def server_name(url: str) -> str:
    """host:port/database, for messages (never the password)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or '/'}"


def without_password(url: str) -> str:
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


def normalised(url: str) -> str:
    """A libpq URL from the forms veille accepts (postgres://, postgresql+psycopg://)."""
    return re.sub(r"^postgres(ql)?(\+[a-z0-9]+)?://", "postgresql://", url, flags=re.I)


def check_connection(dsn: str) -> None:
    """Connect once, directly, so that the first failure is said in one line (the pool retries
    quietly instead)."""
    import psycopg

    server = server_name(dsn)
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        raise ArchiveConnectError(f"archive: cannot connect to PostgreSQL {server}: {_reason(exc)}") from None
    except psycopg.ProgrammingError as exc:  # an address libpq cannot read
        raise ArchiveConnectError(f"archive: {without_password(dsn)} is not a PostgreSQL address veille can use "
                                  f"({_reason(exc)}); write postgresql://USER@HOST:PORT/DATABASE") from None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return "the password was refused; give the right one in the URL or in ~/.pgpass"
    if "does not exist" in lowered and "database" in lowered:
        return f"{text}; create it first (createdb), see the README"
    if "connection refused" in lowered or "could not connect" in lowered or "timeout" in lowered:
        return f"the server does not answer ({text}); is PostgreSQL running there?"
    return text


def open_pool(dsn: str):
    import logging

    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    # The pool's own warnings (each failed reconnection while the server is down) would reach the
    # terminal, one line each; the failure is said once, as a ServerGoneError (--debug shows them).
    pool_log = logging.getLogger("psycopg.pool")
    if pool_log.level == logging.NOTSET and logging.getLogger().level > logging.DEBUG:
        pool_log.setLevel(logging.ERROR)
    pool_log.addHandler(logging.NullHandler())

    pool = ConnectionPool(dsn, min_size=1, max_size=POOL_SIZE, open=False, timeout=30,
                          kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT,
                                  "application_name": "veille"})
    pool.open(wait=True, timeout=CONNECT_TIMEOUT + 5)
    return pool


def schema_version(conn) -> int:
    exists = conn.execute("SELECT to_regclass('veille_schema') IS NOT NULL AS e").fetchone()
    if not exists["e"]:
        return 0
    row = conn.execute("SELECT MAX(version) AS v FROM veille_schema").fetchone()
    return row["v"] or 0


def holds_archive(pool) -> bool:
    """Has this database been made a veille archive (by a command that fills one)?"""
    with pool.connection() as conn:
        return schema_version(conn) > 0


def migrate(pool, server: str) -> int:
    """Bring the schema up to this veille's; the version it is at. Refused (one line) when the
    database is newer than the code. Under the transaction lock: two veilles starting at once
    migrate once."""
    import psycopg

    with pool.connection() as conn:
        version = schema_version(conn)
        if version > len(MIGRATIONS):
            raise ArchiveConnectError(f"archive: the database {server} has schema version {version}, newer than this "
                                      f"veille knows ({len(MIGRATIONS)}); upgrade veille")
        if version == len(MIGRATIONS):
            return version
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (TRANSACTION_LOCK,))
                conn.execute(VERSION_TABLE)
                version = schema_version(conn)
                for number in range(version + 1, len(MIGRATIONS) + 1):
                    conn.execute(MIGRATIONS[number - 1])
                    conn.execute("INSERT INTO veille_schema (version) VALUES (%s)", (number,))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise ArchiveConnectError(f"archive: the role cannot create veille's tables in {server} ({_reason(exc)}); "
                                      "grant it CREATE on the database, see the README") from None
        return len(MIGRATIONS)
