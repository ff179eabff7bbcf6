"""The search index, kept in step with the archive: `sync_index` after each pass, `reindex`."""

from __future__ import annotations

import logging
from typing import Callable

from veille.pipeline.reports import Failure, Progress, RunReport, notify
from veille.storage import Archive

logger = logging.getLogger(__name__)

def sync_quietly(archive: Archive, report: RunReport) -> None:
    """Index what was stored. The index is derived: if this fails, the next sync catches up."""
    try:
        sync_index(archive)
    except Exception as exc:
        logger.debug("index sync failed", exc_info=True)
        report.failures.append(Failure("index", archive.location, f"search index not updated ({exc}); "
                                       "it catches up on the next run, or run `veille reindex`"))


def sync_index(archive: Archive, *, progress: Progress | None = None, batch: int = 500, procs: int = 1,
               notice: Callable[[str], None] | None = None, into=None) -> int:
    """Index whatever the archive holds that the index has not seen; returns how many.

    Only the archive's writer (or a reader holding the writer lock) calls this: an index that is
    missing or damaged is replaced and filled again, and `notice` (default: a logged warning)
    says so. `into`: another index to fill than the live one (`reindex` builds one beside it)."""
    from veille.search import open_index

    search_index = into or open_index(archive, repair=True)
    built_before = archive.get_state("index") is not None  # a missing index is news only if there was one
    if into is None and search_index.rebuilt and (search_index.rebuilt != "missing" or built_before):
        articles = archive.count_articles()
        if articles:
            (notice or logger.warning)(f"the search index was {search_index.rebuilt}; building it again from "
                                       f"the archive ({articles} articles)")
    if not built_before:
        archive.set_state("index", "built")
    if not search_index.cursor and search_index.cursor_lost:
        (notice or logger.warning)("the search index's cursor.json could not be read; indexing every article "
                                   "again (each one replaces its own entry)")
    done = 0
    try:
        number = archive.change_number(search_index.cursor)
        if number != search_index.cursor:
            search_index.save_cursor(number)  # an older cursor, converted once, not at every sync
        while True:
            changed = archive.changed_since(search_index.cursor, batch)
            if not changed:
                return done
            done += search_index.add(((a, story, keys, tags) for a, story, keys, tags, _ in changed), changed[-1][4],
                                     procs=procs if len(changed) >= 1000 else 1)
            for article, *_ in changed:
                notify(progress, "file", article.id)
    finally:
        search_index.close()


def reindex(archive: Archive, *, progress: Progress | None = None) -> int:
    """Build the index again from the archive: in big batches, two processes each (a fresh index
    is only added to, so whoosh's parallel writer applies). It is built beside the live one, which
    readers go on searching, and takes its place at the end: a reindex stopped half-way leaves the
    old index as it was."""
    from veille.search import open_index

    fresh = open_index(archive, beside=True)
    notify(progress, "total", str(archive.count_articles()))
    count = sync_index(archive, progress=progress, batch=fresh.bulk_batch, procs=2, into=fresh)
    fresh.publish()
    fresh.close()
    return count

