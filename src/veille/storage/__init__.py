"""Where the archive is kept: `open_archive(url)` picks the backend from the address.

    open_archive("archive")                      the SQLite archive in the folder ./archive
    open_archive("sqlite:///srv/veille/archive")  the same, as a URL (the folder /srv/veille/archive)
    open_archive("postgresql://...")              a later version

Every backend implements the `Archive` protocol (storage/protocol.py) and returns the rows of
storage/rows.py; its failures are `StorageError`s.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from veille.errors import ArchiveError
from veille.storage.protocol import Archive
from veille.storage.sqlite.lock import WriterLock
from veille.storage.rows import SourceState

__all__ = ["Archive", "SourceState", "archive_exists", "batches_in_order", "open_archive", "sqlite_folder",
           "writer_lock"]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def open_archive(url: str | Path) -> Archive:
    """The archive at `url`: a folder path, `sqlite:///path`, or (later) `postgresql://...`."""
    from veille.storage.sqlite.store import Archive as SQLiteArchive

    return SQLiteArchive(sqlite_folder(url))


def batches_in_order(archive: Archive, after: tuple[str, str] | None = None, batch: int = 500):
    """Every article, oldest first (published, else fetched, then id), a batch at a time, each
    with the position after it (to resume from)."""
    while articles := archive.articles_in_order(after, batch):
        after = (articles[-1].published or articles[-1].fetched or "", articles[-1].id)
        yield articles, after


def archive_exists(url: str | Path) -> bool:
    """Whether an archive is already kept at `url` (readers refuse to make one on a typo)."""
    from veille.storage.sqlite.schema import DB_NAME

    return (sqlite_folder(url) / DB_NAME).exists()


def writer_lock(url: str | Path, command: str) -> WriterLock:
    """The one-writer lock of the archive at `url`, taken before the archive is opened or made
    (not taken yet: `acquire()` it). An open archive gives the same as `archive.writer_lock(command)`."""
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
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        raise ArchiveError(f"archive: PostgreSQL archives come in a later version of veille; for now give "
                           f"a folder or sqlite:///path/to/archive (not {_without_password(url)})")
    raise ArchiveError(f"archive: {_without_password(url)} is not an archive veille knows ({scheme}://); "
                       "give a folder, or sqlite:///path/to/archive")


def _without_password(url: str) -> str:
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)
