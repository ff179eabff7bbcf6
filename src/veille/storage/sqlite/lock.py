"""One writer per archive: `ARCHIVE/veille.lock`.

Commands that write the archive in bulk (`fetch`, `import`, `run`, `reindex`,
`retag`, `dedupe`) hold an exclusive `flock` on the file for as long as they
run, and write their pid, command and start time into it for the message the
next one shows. The kernel drops the lock when the process ends, however it
ends (SIGKILL included), so a stale file never blocks anyone: only a live
writer does. Readers (`search`, `export`, `status`, the digest) never wait
for it; they only use it to decide whether they may bring the search index up
to date themselves (`try_writer`), or must leave that to the running writer.

A process forked while the lock is held (whoosh's indexing processes) does not
keep it: its copy of the file is swapped for /dev/null at the fork, so only
this process holds the archive, and its end frees it. When the lock is taken
all the same, the message names the process that has the file open, not the
pid written in the file if that one has ended.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
import weakref
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from veille.errors import ArchiveBusyError, LockFileError

LOCK_NAME = "veille.lock"
WAIT = 5.0  # a writer waits this long for another to finish (a reader's short index catch-up)


_HELD: "weakref.WeakSet[WriterLock]" = weakref.WeakSet()


def _drop_in_child() -> None:
    """After a fork: this copy of the process does not hold the archive (the parent does)."""
    for lock in list(_HELD):
        handle, lock._handle = lock._handle, None
        if handle is None:
            continue
        try:  # the same fd number, now /dev/null: closing it later can close nothing else
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, handle.fileno())
            os.close(null)
        except OSError:
            pass
        lock._orphan = handle  # never closed or unlocked from here
    _HELD.clear()


os.register_at_fork(after_in_child=_drop_in_child)


class WriterLock:
    def __init__(self, folder: Path, command: str) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.command = command
        self._handle = None
        self._orphan = None

    def acquire(self, wait: float = WAIT) -> "WriterLock":
        """Take the lock, waiting up to `wait` seconds; ArchiveBusyError names the holder if it stays taken."""
        handle = self._open()
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
        _HELD.add(self)
        return self

    def _open(self):
        folder = self.path.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            return open(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+", encoding="utf-8")
        except (FileExistsError, NotADirectoryError):
            problem = next((f"{p} is a file, not a folder" for p in (folder, *folder.parents) if p.exists()
                            and not p.is_dir()), f"{folder} is not a folder")
            raise LockFileError(f"the archive {folder} cannot be used: {problem}; pass another --archive") from None
        except IsADirectoryError:
            raise LockFileError(f"the archive's lock file {self.path} is a folder; remove it (it holds nothing "
                                "veille needs), then run the command again") from None
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise  # a read-only archive: the caller's storage message says what to do
            raise LockFileError(f"cannot open the archive's lock file {self.path} ({exc.strerror}); "
                                "check the archive folder") from None

    def release(self) -> None:
        _HELD.discard(self)
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
    except (ArchiveBusyError, LockFileError, OSError):
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _busy_message(folder: Path, holder: str) -> str:
    pid, command, since = (holder.split(" ") + ["", "", ""])[:3]
    pid = pid if pid.isdigit() else ""
    who = f"pid {pid}, `veille {command}`" + (f" since {since}" if since else "") if pid else "another process"
    holders = _holders(folder / LOCK_NAME)
    if pid and holders is not None and _ended(int(pid), holders):
        # The pid in the file has ended, yet the lock is taken: by what it left behind (or by a
        # program that took the lock without writing its name).
        if holders:
            shown = ", ".join(f"pid {p} ({_command_line(p)})" for p in holders[:3])
            kill = " ".join(str(p) for p in holders[:3])
            return (f"the archive {folder} is locked by {shown}, left from {who} which has ended; "
                    f"stop it (kill {kill}), then run the command again")
        return (f"the archive {folder} is locked by a process veille cannot see, left from {who} which has "
                "ended; stop it, then run the command again")
    stop = f"; or stop it (kill {pid})" if pid else ""
    return f"the archive {folder} is being written by another veille ({who}); wait for it to finish{stop}"


def _ended(pid: int, holders: list[int]) -> bool:
    """The pid in the lock file no longer holds it: gone, or a new process under a reused pid."""
    if pid in holders:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's process: its open files cannot be seen, it may well hold the lock
    return os.path.isdir(f"/proc/{pid}/fd")


def _holders(path: Path) -> list[int] | None:
    """The pids (not this one) with the lock file open, from /proc; None where /proc cannot tell."""
    try:
        wanted = os.stat(path)
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    found = []
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                known = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if (known.st_dev, known.st_ino) == (wanted.st_dev, wanted.st_ino):
                found.append(pid)
                break
    return sorted(found)


def _command_line(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    line = " ".join(" ".join(w.decode("utf-8", "replace").split()) for w in words if w)  # one line
    return line if len(line) <= 80 else line[:79] + "…"
