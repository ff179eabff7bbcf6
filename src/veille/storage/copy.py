"""Moving an archive from one backend to another: `veille archive copy SRC DEST`.

Table by table (storage/tables.py), a batch of rows at a time, each batch written in one transaction
of the destination together with how far the copy got, so that a copy cut short (Ctrl-C, a lost
server) goes on where it stopped when run again. At the end the rows of every table are counted on
both sides; a difference is said, table by table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from veille.errors import ArchiveError
from veille.storage.tables import TABLES, Table

PROGRESS = "copy:"  # the destination's state values that say how far a copy got
BATCH = 500


@dataclass
class CopyReport:
    copied: dict[str, int] = field(default_factory=dict)  # rows written by this run, by table
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # (source, destination), by table
    resumed: bool = False

    @property
    def differences(self) -> list[str]:
        return [f"{name}: {mine} in the source, {theirs} in the destination"
                for name, (mine, theirs) in self.counts.items() if mine != theirs]


def copy_archive(source, dest, *, batch: int = BATCH,
                 progress: Callable[[str, int], None] | None = None) -> CopyReport:
    """Copy every table of `source` into `dest` (an empty archive, or one a copy from `source` was
    filling when it stopped); counts checked at the end."""
    report = CopyReport()
    started = dest.get_state(PROGRESS + "from")
    if started is None and dest.count_articles():
        raise ArchiveError(f"archive copy: {dest.location} already holds {dest.count_articles()} articles; copy into "
                           "an empty archive (a new folder, or a new database)")
    if started is not None and started != source.location:
        raise ArchiveError(f"archive copy: {dest.location} is being filled from {started}, not from "
                           f"{source.location}; finish that copy, or copy into another archive")
    report.resumed = started is not None
    dest.set_state(PROGRESS + "from", source.location)
    for table in TABLES:
        report.copied[table.name] = _copy_table(source, dest, table, batch, progress)
    for table in TABLES:
        report.counts[table.name] = (_count(source, table), _count(dest, table))
    if not report.differences:
        for name in [t.name for t in TABLES] + ["from"]:
            dest.set_state(PROGRESS + name, None)
    return report


def _copy_table(source, dest, table: Table, batch: int, progress) -> int:
    mark = PROGRESS + table.name
    stored = dest.get_state(mark)
    if stored == "done":
        return 0
    after = tuple(json.loads(stored)) if stored else None
    copied = 0
    while rows := source.table_rows(table, after, batch):
        after = tuple(rows[-1][c] for c in table.key) if table.key else ((after or (0,))[0] + len(rows),)
        kept = [r for r in rows if not (table.name == "dedupe_state" and r["name"].startswith(PROGRESS))]
        with dest.transaction():
            if kept:
                dest.put_rows(table, kept)
            dest.set_state(mark, json.dumps(list(after)))
        copied += len(kept)
        if progress:
            progress(table.name, copied)
    dest.set_state(mark, "done")
    return copied


def _count(archive, table: Table) -> int:
    if table.name != "dedupe_state":
        return archive.table_count(table)
    rows = archive.table_rows(table, None, 1_000_000)
    return sum(1 for r in rows if not r["name"].startswith(PROGRESS))
