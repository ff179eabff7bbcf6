"""Where the archive is kept: `open_archive(url)` picks the backend from the address.

    open_archive("archive")                      the SQLite archive in the folder ./archive
    open_archive("sqlite:///srv/veille/archive")  the same, as a URL (the folder /srv/veille/archive)
    open_archive("postgresql://user@host/db")     the PostgreSQL archive in that database

Every backend implements the `Archive` protocol (storage/protocol.py) and returns the rows of
storage/rows.py; its failures are `StorageError`s.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from veille.errors import ArchiveError
from veille.storage.postgres.connect import without_password
from veille.storage.protocol import Archive
from veille.storage.sqlite.lock import WriterLock
from veille.storage.rows import SourceState

__all__ = ["Archive", "SourceState", "archive_exists", "batches_in_order", "is_server", "open_archive", "sqlite_folder",
           "writer_lock"]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def open_archive(url: str | Path, *, create: bool = True) -> Archive:
    """The archive at `url`: a folder path, `sqlite:///path`, or `postgresql://user@host:port/db`.
    `create`: an empty PostgreSQL database is made an archive (else it is opened as it is)."""
    if is_server(url):
        from veille.storage.postgres.store import Archive as PostgresArchive

        return PostgresArchive(str(url), create=create)
    from veille.storage.sqlite.store import Archive as SQLiteArchive

    return SQLiteArchive(sqlite_folder(url))


def is_server(url: str | Path) -> bool:
    """Does `url` name an archive on a database server (PostgreSQL), not a folder?"""
    found = None if isinstance(url, Path) else _SCHEME.match(url)
    return found is not None and _is_postgres(found.group(1).lower())


def _is_postgres(scheme: str) -> bool:
    return scheme in ("postgresql", "postgres") or scheme.startswith(("postgresql+", "postgres+"))


def batches_in_order(archive: Archive, after: tuple[str, str] | None = None, batch: int = 500):
    """Every article, oldest first (published, else fetched, then id), a batch at a time, each
    with the position after it (to resume from)."""
    while articles := archive.articles_in_order(after, batch):
        after = (articles[-1].published or articles[-1].fetched or "", articles[-1].id)
        yield articles, after


def archive_exists(url: str | Path) -> bool:
    """Whether an archive is already kept at `url` (readers refuse to make one on a typo)."""
    if is_server(url):
        with open_archive(url, create=False) as archive:
            return archive.schema_version > 0
    from veille.storage.sqlite.schema import DB_NAME

    return (sqlite_folder(url) / DB_NAME).exists()


def writer_lock(url: str | Path, command: str) -> WriterLock:
    """The one-writer lock of the archive at `url`, taken before the archive is opened or made
    (not taken yet: `acquire()` it). An open archive gives the same as `archive.writer_lock(command)`.
    For a PostgreSQL archive: its archive-wide advisory lock (shared, or exclusive for a rebuild)."""
    if is_server(url):
        from veille.storage.postgres.connect import normalised, server_name
        from veille.storage.postgres.lock import AdvisoryLock

        dsn = normalised(str(url))
        return AdvisoryLock(dsn, server_name(dsn), command)  # type: ignore[return-value]
    return WriterLock(sqlite_folder(url), command)


def sqlite_folder(url: str | Path) -> Path:
    """The folder of the SQLite archive at `url`; ArchiveError for another kind of address."""
    if isinstance(url, Path):
        return url
    found = _SCHEME.match(url)
    if found is None:
        return Path(url)
    scheme = found.group(1).lower()
    if scheme == "sqlite":
        path = unquote(url[found.end():])
        if not path:
            raise ArchiveError(f"archive: {url} names no folder; write sqlite:///path/to/archive")
        return Path(path)
    if _is_postgres(scheme):
        raise ArchiveError(f"archive: {without_password(url)} is a PostgreSQL archive, not a folder")
    raise ArchiveError(f"archive: {without_password(url)} is not an archive veille knows ({scheme}://); "
                       "give a folder, or sqlite:///path/to/archive")
