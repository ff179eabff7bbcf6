"""The archive database: the record of truth. All SQL of veille lives here.

SQLite in WAL mode (readers never block the writer), one method per query,
schema versioned with `PRAGMA user_version` and applied by numbered
migrations, so an archive written by any earlier veille opens and upgrades.
Each article is written in its own transaction: a crash loses at most the
article in hand, never one already stored.

The class is assembled from parts by area: schema.py (migrations, opening),
sources.py (feeds, entries, failures), articles.py (articles, revisions,
tagging, the index's changes), stories.py (fingerprints, candidates, stories),
records.py (state, digests, saved searches).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from veille.storage.sqlite.articles import Articles
from veille.models import text_hash
from veille.storage.sqlite.base import compress, decode_shares, decompress, encode_shares
from veille.storage.sqlite.failures import converts_errors
from veille.storage.sqlite.lock import WriterLock, try_writer
from veille.storage.sqlite.records import Records
from veille.storage.sqlite.schema import (ARTICLE_COLUMNS, DB_NAME, INDEX_NAME, LIST_COLUMNS, MIGRATIONS, open_database,
                                         schema_version)
from veille.storage.rows import SourceState
from veille.storage.sqlite.sources import Sources
from veille.storage.sqlite.stories import Stories
from veille.storage.sqlite.tables import Tables

__all__ = ["ARTICLE_COLUMNS", "Archive", "DB_NAME", "LIST_COLUMNS", "MIGRATIONS", "SourceState", "compress",
           "decode_shares", "decompress", "encode_shares", "text_hash"]


LOG_FOLDER = "logs"


def writer_lock(folder: str | Path, command: str) -> WriterLock:
    """The writer lock of the archive in `folder`, before the archive is opened (a command that
    creates its archive takes the lock first)."""
    return WriterLock(Path(folder), command)


@converts_errors
class Archive(Sources, Articles, Stories, Records, Tables):
    """The archive folder: `veille.db`, the search index beside it (`index/`), the logs (`logs/`)
    and the writer lock (`veille.lock`)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.location = str(self.folder)
        self.db, self.readonly = open_database(self.folder)

    # -- the places that go with it ---------------------------------------
    def index_location(self) -> Path:
        """The search index: beside the database, in the archive folder."""
        return self.folder / INDEX_NAME

    def log_folder(self) -> Path:
        return self.folder / LOG_FOLDER

    def writer_lock(self, command: str) -> WriterLock:
        """The one-writer lock, `ARCHIVE/veille.lock` (not taken yet: `acquire()` it, or use `with`)."""
        return writer_lock(self.folder, command)

    def try_writer(self, command: str) -> AbstractContextManager[bool]:
        """True inside while this process holds the writer lock, False if another writer has it."""
        return try_writer(self.folder, command)

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return schema_version(self.db)
