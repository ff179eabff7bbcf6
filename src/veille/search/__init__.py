"""Full-text search over the archive: the query language (`query`), what a backend answers
(`protocol`), and the backends (`whoosh/`, and `postgres/` for an archive in PostgreSQL).
`open_index(archive)` is the one way in.

Importing this package loads no backend: whoosh or psycopg is imported when an index is opened.
"""

from __future__ import annotations

from veille.search.protocol import NO_FILTERS, Filters, Hit, Results, SearchIndex
from veille.search.query import Query, parse

INDEX_DIR = "index"  # ARCHIVE/index (the writer's sync builds it; `veille reindex` rebuilds it)

__all__ = ["INDEX_DIR", "NO_FILTERS", "Filters", "Hit", "Query", "Results", "SearchIndex", "open_index", "parse"]


def open_index(archive, *, reader: bool = False, repair: bool = False, beside: bool = False) -> SearchIndex:
    """The search index of an archive.

    `repair` (the archive's writer) replaces an index that is missing, unreadable or in an older
    layout with an empty one for the sync to fill; a `reader` neither creates nor repairs one
    (IndexDamagedError says what to do). `beside`: an empty index built next to the live one, which
    readers go on searching until its `publish()` puts it in place (`veille reindex`).

    A PostgreSQL archive (`kind == "postgresql"`) keeps its index in its own database (`archive.dsn`)."""
    if getattr(archive, "kind", "sqlite") == "postgresql":
        from veille.search.postgres.index import PostgresIndex

        return PostgresIndex(archive.dsn, reader=reader, repair=repair, beside=beside)
    from veille.search.whoosh.index import SearchIndex as WhooshIndex

    location = archive.index_location()  # where the backend keeps it (ARCHIVE/index for SQLite)
    if beside:
        return WhooshIndex.beside(location.parent)
    return WhooshIndex(location.parent, repair=repair, reader=reader, name=location.name)
