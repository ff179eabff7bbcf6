"""The archive database: the record of truth. All SQL of veille lives here.

SQLite in WAL mode (readers never block the writer), one method per query,
schema versioned with `PRAGMA user_version` and applied by numbered
migrations, so an archive written by any earlier veille opens and upgrades.
Each article is written in its own transaction: a crash loses at most the
article in hand, never one already stored.

The class is assembled from parts by area: schema.py (migrations, opening),
sources.py (feeds, entries, failures, runs), articles.py (articles, revisions,
tagging, the index's changes), stories.py (fingerprints, candidates, stories),
records.py (state, digests, saved searches).
"""

from __future__ import annotations

from pathlib import Path

from veille.storage.sqlite.articles import Articles
from veille.storage.sqlite.base import compress, decode_shares, decompress, encode_shares, text_hash
from veille.storage.sqlite.records import Records
from veille.storage.sqlite.schema import ARTICLE_COLUMNS, DB_NAME, LIST_COLUMNS, MIGRATIONS, open_database, schema_version
from veille.storage.sqlite.sources import SourceState, Sources
from veille.storage.sqlite.stories import Stories

__all__ = ["ARTICLE_COLUMNS", "Archive", "DB_NAME", "LIST_COLUMNS", "MIGRATIONS", "SourceState", "compress",
           "decode_shares", "decompress", "encode_shares", "text_hash"]


class Archive(Sources, Articles, Stories, Records):
    """The archive folder: `veille.db` and, later, the derived search index."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.db, self.readonly = open_database(self.folder)

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
