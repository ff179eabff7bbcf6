"""Bulk loads and their publication: whoosh's parallel writer with processes tied to this one, and
the folder swap that puts an index built beside the live one in its place."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import signal
from pathlib import Path

from whoosh.multiproc import MpWriter, SubWriterTask


class TiedTask(SubWriterTask):
    """One of whoosh's indexing processes, killed by the kernel when the process that started it ends.

    whoosh's own processes outlive a killed parent, blocked for ever on their job queue; those
    forked children also kept the parent's open files (the archive's writer lock among them)."""

    def __init__(self, *args, parent: int | None) -> None:
        super().__init__(*args)
        self.parent = parent

    def run(self) -> None:
        _die_with_parent(self.parent)
        super().run()


class TiedWriter(MpWriter):
    """whoosh's parallel writer, with processes that end with this one."""

    def _new_task(self):
        forked = multiprocessing.get_start_method() == "fork"
        task = TiedTask(self.storage, self.indexname, self.jobqueue, self.resultqueue, self.subargs,
                         self.multisegment, parent=os.getpid() if forked else None)
        self.tasks.append(task)
        task.start()
        return task


def _die_with_parent(parent: int | None) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if parent is not None and os.getppid() != parent:  # it ended before the line above
        os._exit(1)


def swap(new: Path, live: Path) -> None:
    """Put folder `new` at `live` and the old one at `new`, in one step where the kernel can
    (renameat2 RENAME_EXCHANGE): a reader opens either the whole old index or the whole new one."""
    if live.is_dir():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.renameat2(-100, os.fsencode(new), -100, os.fsencode(live), 2) == 0:  # AT_FDCWD
                return
        except (OSError, AttributeError):
            pass
        old = live.with_name(live.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        live.rename(old)
        new.rename(live)
        old.rename(new)
    else:
        new.rename(live)
