"""One writer per archive: `ARCHIVE/veille.lock`.

Commands that write the archive in bulk (`fetch`, `import`, `run`, `reindex`,
`retag`, `dedupe`) hold an exclusive `flock` on the file for as long as they
run, and write their pid, command and start time into it for the message the
next one shows. The kernel drops the lock when the process ends, however it
ends (SIGKILL included), so a stale file never blocks anyone: only a live
writer does. Readers (`search`, `export`, `status`, the digest) never wait
for it; they only use it to decide whether they may bring the search index up
to date themselves (`try_writer`), or must leave that to the running writer.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .errors import VeilleError

LOCK_NAME = "veille.lock"
WAIT = 5.0  # a writer waits this long for another to finish (a reader's short index catch-up)


class ArchiveBusyError(VeilleError):
    exit_code = 2


class WriterLock:
    def __init__(self, folder: Path, command: str) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.command = command
        self._handle = None

    def acquire(self, wait: float = WAIT) -> "WriterLock":
        """Take the lock, waiting up to `wait` seconds; ArchiveBusyError names the holder if it stays taken."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = open(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+", encoding="utf-8")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip()
                    handle.close()
                    raise ArchiveBusyError(_busy_message(self.path.parent, holder)) from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {self.command} {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            try:
                self._handle.seek(0)
                self._handle.truncate()  # the next reader of the file sees no owner
            except OSError:
                pass
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "WriterLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextmanager
def try_writer(folder: Path, command: str):
    """Yields True while this process holds the writer lock, False if another writer has it (no wait).

    A read-only archive folder yields False too: there is nothing a reader could write there."""
    lock = WriterLock(folder, command)
    try:
        lock.acquire(wait=0)
    except (ArchiveBusyError, OSError):
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _busy_message(folder: Path, holder: str) -> str:
    pid, command, since = (holder.split(" ") + ["", "", ""])[:3]
    who = f"pid {pid}, `veille {command}`" + (f" since {since}" if since else "") if pid else "another process"
    stop = f"; or stop it (kill {pid})" if pid else ""
    return f"the archive {folder} is being written by another veille ({who}); wait for it to finish{stop}"
