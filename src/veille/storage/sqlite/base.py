"""What every part of the SQLite archive shares: its connection, transactions, and the stored
forms of values (compressed pages, language shares as JSON, articles from rows)."""

from __future__ import annotations

import json
import sqlite3
import zlib
from contextlib import contextmanager
from typing import Iterator

from veille.models import Article
from veille.storage.sqlite.failures import storage_error


def encode_shares(shares) -> str:
    """(("es", 0.52), ("en", 0.48)) -> '[["es", 0.52], ["en", 0.48]]', the stored form."""
    return json.dumps([[code, share] for code, share in shares])


def decode_shares(stored: str | None) -> tuple[tuple[str, float], ...]:
    return tuple((code, float(share)) for code, share in json.loads(stored or "[]"))


def compress(raw: bytes | None) -> bytes | None:
    return zlib.compress(raw, 6) if raw else None


def decompress(blob: bytes | None) -> bytes | None:
    return zlib.decompress(blob) if blob else None


class Part:
    """A part of the archive's methods, by area; `Archive` is assembled from them."""

    db: sqlite3.Connection
    _depth = 0  # transactions open on this archive's connection (inner ones join the outer)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One unit of work, holding SQLite's write lock from its start (BEGIN IMMEDIATE): what is
        read inside cannot change before what is written inside commits. An inner one joins the
        outer: it commits, or rolls back, with it."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._control("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._control("ROLLBACK")
            raise
        self._depth = 0
        self._control("COMMIT")

    def _control(self, statement: str) -> None:
        try:
            self.db.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise storage_error(exc) from exc


def chunks(ids: list[str], size: int = 900):
    """(ids, "?, ?, ...") pieces small enough for SQLite's limit on bound parameters."""
    for start in range(0, len(ids), size):
        chunk = ids[start:start + size]
        yield chunk, ", ".join("?" * len(chunk))


def row_to_article(row: sqlite3.Row) -> Article:
    keys = row.keys()
    values = {k: row[k] for k in keys if k in Article.__dataclass_fields__}
    if "raw" in values:
        values["raw"] = decompress(values["raw"])
    if "alternates" in values:
        values["alternates"] = json.loads(values["alternates"] or "{}")
    if "lang_shares" in values:
        values["lang_shares"] = decode_shares(values["lang_shares"])
    values.setdefault("text", "")
    return Article(**values)
