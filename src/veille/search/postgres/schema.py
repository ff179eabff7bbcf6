"""The PostgreSQL search index's connection and tables: made and versioned by the index itself.

Setting up is idempotent and runs under an advisory lock, so two writers starting at once do
not race to create the same configuration; a database whose search tables a newer veille wrote
is refused with one line, as is a server without the unaccent extension.
"""

from __future__ import annotations

import logging
import re

import psycopg
from psycopg import errors as pg_errors

from veille.errors import SearchDatabaseError
from veille.search.postgres import configs
from veille.storage import pgsearch as sql

logger = logging.getLogger(__name__)


def shown(dsn: str) -> str:
    """The server of a connection string, without its password, for messages."""
    dsn = re.sub(r"(://[^:/@]*):[^@]*@", r"\1@", dsn)
    return re.sub(r"password\s*=\s*\S+", "password=***", dsn)


def connect(dsn: str) -> psycopg.Connection:
    """An autocommit connection (writes take their own transactions); one line if it fails."""
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1 if "FATAL" not in str(exc) else 0]
        raise SearchDatabaseError(f"search: cannot connect to PostgreSQL at {shown(dsn)} ({first.strip()}); "
                                  "check the URL, that the server runs and that the role may log in") from None


def version(conn: psycopg.Connection) -> int | None:
    """The search tables' version in this database (None: there are none)."""
    if not conn.execute(sql.TABLE_EXISTS, ("search_state",)).fetchone()[0]:
        return None
    row = conn.execute(sql.VERSION).fetchone()
    return int(row[0]) if row else None


def check_version(found: int | None, dsn: str) -> None:
    if found is not None and found > sql.SCHEMA_VERSION:
        raise SearchDatabaseError(f"search: the search tables in {shown(dsn)} are version {found}, from a newer "
                                  f"veille (this one knows {sql.SCHEMA_VERSION}); upgrade veille")


def set_up(conn: psycopg.Connection, dsn: str, table: str) -> tuple[bool, set[str]]:
    """Make what is missing: unaccent, a configuration per language, the tables of `table`.
    Returns whether the docs table was missing, and the configurations there are."""
    with conn.transaction():
        conn.execute(sql.ADVISORY_LOCK, (sql.LOCK_KEY,))
        check_version(version(conn), dsn)
        _unaccent(conn, dsn)
        made = _configurations(conn)
        for statement in sql.STATE_DDL:
            conn.execute(statement)
        missing = not conn.execute(sql.TABLE_EXISTS, (table,)).fetchone()[0]
        for statement in sql.docs_ddl(table):
            conn.execute(statement)
        conn.execute(sql.SET_STATE, ("version", str(sql.SCHEMA_VERSION)))
    return missing, made


def available(conn: psycopg.Connection) -> set[str]:
    """The veille_* configurations made in this database."""
    wanted = [configs.name(base) for base in {*configs.BASES.values(), "simple"}]
    return {row[0] for row in conn.execute(sql.CONFIGS, (wanted,))}


def _unaccent(conn: psycopg.Connection, dsn: str) -> None:
    try:
        with conn.transaction():  # a savepoint: the error is reported, not left in the transaction
            conn.execute(sql.UNACCENT)
    except (pg_errors.FeatureNotSupported, pg_errors.UndefinedFile, pg_errors.InsufficientPrivilege,
            pg_errors.UndefinedObject) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise SearchDatabaseError(f"search: PostgreSQL at {shown(dsn)} cannot load the unaccent extension "
                                  f"({reason}); install postgresql-contrib on the server, or run "
                                  "`CREATE EXTENSION unaccent` there as a superuser") from None


def _configurations(conn: psycopg.Connection) -> set[str]:
    """A veille_<language> configuration per stemmer the server has, and veille_simple."""
    made = available(conn)
    bases = sorted({*configs.BASES.values()})
    stems = {row[0] for row in conn.execute(sql.DICTIONARIES, ([f"{b}_stem" for b in bases],))}
    present = {row[0] for row in conn.execute(sql.CONFIGS, (bases + ["simple"],))}
    for base in [*bases, "simple"]:
        name = configs.name(base)
        dictionary = "simple" if base == "simple" else f"{base}_stem"
        if name in made or base not in present or (base != "simple" and dictionary not in stems):
            continue
        conn.execute(sql.COPY_CONFIG.format(name=name, base=base))
        conn.execute(sql.MAP_CONFIG.format(name=name, dictionary=dictionary))
        made.add(name)
    return made
