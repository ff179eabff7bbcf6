"""The PostgreSQL archive: the same `Archive` protocol as the SQLite one, for many writers on
many machines.

    open_archive("postgresql://veille@db.example:5432/veille")

Assembled from parts by area, as the SQLite archive is: sources.py (feeds, entries, failures),
articles.py (articles, revisions, tagging, the index's changes), stories.py (fingerprints,
candidates, stories), records.py (state, digests, saved searches). schema.py holds the tables,
base.py the pool and transactions, lock.py the archive-wide lock, connect.py the way in.

What is not in the database stays on the machine that runs veille: logs of `veille run` (in
$XDG_STATE_HOME/veille/HOST-PORT-DATABASE/logs). A PostgreSQL archive keeps no WARC captures yet.
"""

from __future__ import annotations

import os
import re
import threading
from contextlib import AbstractContextManager
from pathlib import Path

from veille.errors import ArchiveConnectError
from veille.storage.postgres.articles import Articles
from veille.storage.postgres.base import converts_errors, register
from veille.storage.postgres.connect import (check_connection, holds_archive, migrate, normalised, open_pool,
                                             server_name, without_password)
from veille.storage.postgres.lock import AdvisoryLock, try_lock
from veille.storage.postgres.records import Records
from veille.storage.postgres.sources import Sources
from veille.storage.postgres.stories import Stories
from veille.storage.postgres.tables import Tables


def local_folder(url: str) -> Path:
    """This machine's folder for what an archive on a server keeps locally (logs)."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "veille" / re.sub(r"[^A-Za-z0-9.-]+", "-", server_name(url)).strip("-")


@converts_errors
class Archive(Sources, Articles, Stories, Records, Tables):
    kind = "postgresql"

    schema_version = 0

    def __init__(self, url: str, *, create: bool = True) -> None:
        try:
            register()
        except ImportError:
            raise ArchiveConnectError(f"archive: {without_password(url)} is a PostgreSQL archive, and psycopg is not "
                                      "installed; reinstall veille (pip install veille), which brings it") from None
        self.dsn = normalised(url)
        self.server = server_name(self.dsn)
        self.location = without_password(url)
        self._local = threading.local()
        check_connection(self.dsn)
        self._pool = open_pool(self.dsn)
        try:
            if create or holds_archive(self._pool):
                self.schema_version = migrate(self._pool, self.server)
            # an empty database opened without `create` holds no table to ask about: nothing to write yet
            self.readonly = bool(self._value(
                "SELECT to_regclass('articles') IS NOT NULL AND NOT has_table_privilege('articles', 'INSERT') AS ro"))
        except BaseException:
            self._pool.close()
            raise
        self._months: set[str] = set()  # the partitions of `articles` known to exist

    # -- the places that go with it ---------------------------------------
    def index_location(self) -> Path:
        """Where a local search index would be (the PostgreSQL index lives in the database)."""
        return local_folder(self.dsn) / "index"

    def log_folder(self) -> Path:
        return local_folder(self.dsn) / "logs"

    def writer_lock(self, command: str) -> AdvisoryLock:
        """The archive lock for `command`: shared by the commands that add to the archive, exclusive
        for those that rewrite it whole (lock.EXCLUSIVE). Not taken yet: `acquire()` it, or `with`."""
        return AdvisoryLock(self.dsn, self.server, command)

    def try_writer(self, command: str) -> AbstractContextManager[bool]:
        return try_lock(self.dsn, self.server, command)

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
