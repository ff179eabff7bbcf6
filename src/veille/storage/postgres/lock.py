"""The archive-wide lock of a PostgreSQL archive: a session-level advisory lock.

Many writers may fill one PostgreSQL archive at once (fetch, import, run, retag on several machines):
they take the archive lock *shared*. A command that rewrites the whole archive (`dedupe`, `reindex`)
takes it *exclusive*: it waits for no fetch to be running, and no fetch starts while it runs. The
server drops the lock when the session ends, however the process ends (SIGKILL included).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from veille.errors import ArchiveBusyError
from veille.storage.postgres.schema import ARCHIVE_LOCK

EXCLUSIVE = frozenset({"dedupe", "reindex", "archive-copy"})  # whole-archive operations; the others share the lock
WAIT = 5.0


class AdvisoryLock:
    """Same use as the SQLite archive's WriterLock: `acquire()`/`release()`, or `with`."""

    def __init__(self, dsn: str, server: str, command: str) -> None:
        self.dsn, self.server, self.command = dsn, server, command
        self.exclusive = command in EXCLUSIVE
        self._conn = None

    def acquire(self, wait: float = WAIT) -> "AdvisoryLock":
        import psycopg

        try:
            conn = psycopg.connect(self.dsn, autocommit=True, application_name=f"veille {self.command}")
        except psycopg.Error as exc:
            from veille.storage.postgres.base import storage_error
            raise storage_error(exc, self.server) from exc
        function = "pg_try_advisory_lock" if self.exclusive else "pg_try_advisory_lock_shared"
        deadline = time.monotonic() + wait
        while not conn.execute(f"SELECT {function}(%s)", (ARCHIVE_LOCK,)).fetchone()[0]:
            if time.monotonic() >= deadline:
                holders = self._holders(conn)
                conn.close()
                raise ArchiveBusyError(self._busy_message(holders))
            time.sleep(0.1)
        self._conn = conn
        return self

    def _holders(self, conn) -> list[str]:
        rows = conn.execute(
            "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.objid = %s "
            "AND l.granted AND l.pid != pg_backend_pid() ORDER BY a.backend_start",
            (ARCHIVE_LOCK,)).fetchall()
        return [f"`{name or 'veille'}` from {addr or 'this host'} since {start:%Y-%m-%dT%H:%M:%SZ}"
                for _pid, name, addr, start in rows]

    def _busy_message(self, holders: list[str]) -> str:
        who = ", ".join(holders[:3]) or "another veille"
        if self.exclusive:
            return (f"the archive {self.server} is in use ({who}); `veille {self.command}` rewrites the whole "
                    "archive and needs it to itself: wait for the others to finish, then run it again")
        return (f"the archive {self.server} is being rewritten as a whole ({who}); wait for it to finish, "
                "then run the command again")

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # the session's end drops the lock
            finally:
                self._conn = None

    def __enter__(self) -> "AdvisoryLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextmanager
def try_lock(dsn: str, server: str, command: str):
    """True inside while this process holds the lock (exclusive for EXCLUSIVE commands), False if not (no wait)."""
    lock = AdvisoryLock(dsn, server, command)
    try:
        lock.acquire(wait=0)
    except Exception:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
