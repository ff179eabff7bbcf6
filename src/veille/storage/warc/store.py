"""WARC files of what the servers sent, and the index that finds a record again."""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Iterable

from veille import __version__
from veille.errors import CaptureError
from veille.models import Exchange

logger = logging.getLogger(__name__)

FOLDER = "warc"
INDEX = "captures.db"
_SERIAL = itertools.count(1)  # the files this process began
DEFAULT_MAX_SIZE = 1000**3  # a WARC file is closed and a new one begun past 1 GB
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,          -- WARC-Record-ID, <urn:uuid:...>
    type TEXT NOT NULL,           -- response, request, warcinfo
    url TEXT,
    at TEXT NOT NULL,             -- WARC-Date
    file TEXT NOT NULL,           -- the file's name in the folder
    offset INTEGER NOT NULL,      -- where its gzip member starts
    length INTEGER NOT NULL,      -- the member's compressed length
    status INTEGER,
    peer TEXT,                    -- the address actually connected to
    concurrent_to TEXT,           -- a request's response
    payload_sha1 TEXT, block_sha1 TEXT, payload_sha256 TEXT, block_sha256 TEXT
);
CREATE INDEX IF NOT EXISTS records_url ON records (url, at);
CREATE INDEX IF NOT EXISTS records_concurrent ON records (concurrent_to);
CREATE TABLE IF NOT EXISTS links (
    article_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    fetched TEXT NOT NULL,        -- the article's fetch time (a revision's own)
    outcome TEXT NOT NULL,        -- new, updated, unchanged
    hop INTEGER NOT NULL,         -- 0 the first request; the highest, the page itself
    PRIMARY KEY (article_id, record_id)
);
CREATE INDEX IF NOT EXISTS links_article ON links (article_id, fetched);
"""


@dataclass(frozen=True)
class Record:
    """A record found in the index."""

    id: str
    type: str
    url: str | None
    at: str
    file: str
    offset: int
    length: int
    status: int | None
    peer: str | None
    concurrent_to: str | None
    payload_sha1: str | None
    block_sha1: str | None
    payload_sha256: str | None
    block_sha256: str | None


def capture_folder(archive: object) -> Path | None:
    """Where an archive keeps its WARC files: ARCHIVE/warc for a folder archive; an archive kept
    on a server names its own (`capture_folder`) or keeps none."""
    own = getattr(archive, "capture_folder", None)
    if callable(own):
        return own()
    folder = getattr(archive, "folder", None)
    return Path(folder) / FOLDER if folder is not None else None


def open_capture(config: object, archive: object) -> "CaptureStore | None":
    """The capture store a fetch writes to: None with `capture: none`, when the archive keeps no
    folder of its own, or when its folder or index cannot be opened (said in the log: the fetch
    goes on without captures, `veille verify` names the damage)."""
    settings = getattr(config, "settings", config)
    if getattr(settings, "capture", "warc") == "none":
        return None
    folder = capture_folder(archive)
    if folder is None:
        logger.warning("capture off: this archive has no folder for WARC files")
        return None
    try:
        return CaptureStore(folder, getattr(settings, "warc_max_size", DEFAULT_MAX_SIZE))
    except CaptureError as exc:  # the articles are worth fetching without their evidence
        logger.warning("capture off for this run", extra={"reason": str(exc)})
        return None


def sha1_digest(data: bytes) -> str:
    """The digest as WARC tools write it: sha1, base32."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class CaptureStore:
    """The WARC files of one archive and their index. Thread-safe: the fetcher's threads share one."""

    def __init__(self, folder: str | Path, max_size: int = DEFAULT_MAX_SIZE, *, readonly: bool = False) -> None:
        self.folder = Path(folder)
        self.max_size = max_size
        self.readonly = readonly
        if not readonly:
            try:
                self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise CaptureError(f"the capture folder {self.folder} cannot be made ({exc.strerror or exc})") from None
        elif not (self.folder / INDEX).exists():
            raise CaptureError(f"no captures in {self.folder} (pages are kept there as WARC when "
                               "`capture: warc` is set, the default)")
        try:
            uri = f"file:{self.folder / INDEX}" + ("?mode=ro" if readonly else "")
            self.db = sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.executescript(SCHEMA)
                os.chmod(self.folder / INDEX, 0o600)
        except sqlite3.Error as exc:
            raise CaptureError(f"the capture index {self.folder / INDEX} cannot be opened ({exc})") from None
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._name: str | None = None

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self.db.close()

    def __enter__(self) -> "CaptureStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------
    def record(self, exchange: Exchange) -> str:
        """Write the exchange as a response and a request record; returns the response's id."""
        from warcio.statusandheaders import StatusAndHeaders
        from warcio.warcwriter import WARCWriter

        if self.readonly:
            raise CaptureError("the capture store is open read-only")
        date = _warc_date(exchange.at)
        headers = [(k, v) if k.lower() != "transfer-encoding" else ("X-Archive-Orig-Transfer-Encoding", v)
                   for k, v in exchange.headers]
        with self._lock:
            out = self._current()
            start = out.tell()
            try:
                writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
                status = StatusAndHeaders(f"{exchange.status} {exchange.reason or ''}".strip(), headers,
                                          protocol=exchange.http_version or "HTTP/1.1")
                extra = {"WARC-Date": date}
                if exchange.peer:
                    extra["WARC-IP-Address"] = exchange.peer
                response = writer.create_warc_record(exchange.url, "response", payload=BytesIO(exchange.body),
                                                     length=len(exchange.body), http_headers=status,
                                                     warc_headers_dict=extra)
                response_id = response.rec_headers.get_header("WARC-Record-ID")
                request_line = StatusAndHeaders(f"{exchange.method} {exchange.target} {exchange.http_version or 'HTTP/1.1'}",
                                                exchange.request_headers, is_http_request=True)
                request = writer.create_warc_record(exchange.url, "request", payload=BytesIO(b""), length=0,
                                                    http_headers=request_line,
                                                    warc_headers_dict={**extra, "WARC-Concurrent-To": response_id})
                writer.write_record(response)
                middle = out.tell()
                writer.write_record(request)
                end = out.tell()
                out.flush()
                out.seek(start)  # read back from the open file what was written: the digests of what is kept
                written = out.read(end - start)
                out.seek(end)
                rows = [self._row("response", exchange, written[:middle - start], start, None),
                        self._row("request", exchange, written[middle - start:], middle, response_id)]
            except Exception:
                out.truncate(start)  # never leave half a record in a file
                out.seek(start)
                raise
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO records (id, type, url, at, file, offset, length, status, peer, "
                    "concurrent_to, payload_sha1, block_sha1, payload_sha256, block_sha256) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            if end >= self.max_size:
                self._rotate()
            return response_id

    def _row(self, kind: str, exchange: Exchange, member: bytes, offset: int, concurrent: str | None) -> tuple:
        headers, block = parse_member(member)
        payload = http_payload(block)
        return (headers["warc-record-id"], kind, exchange.url, headers["warc-date"], self._name, offset, len(member),
                exchange.status if kind == "response" else None, exchange.peer, concurrent,
                headers.get("warc-payload-digest"), headers.get("warc-block-digest"),
                sha256_digest(payload), sha256_digest(block))

    def _current(self) -> BinaryIO:
        if self._file is None:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
            while True:  # a name no file has: two stores of one process (a reload) may open one each second
                self._name = f"veille-{stamp}-{os.getpid()}-{next(_SERIAL):03d}.warc.gz"
                try:
                    fd = os.open(self.folder / self._name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
                    break
                except FileExistsError:
                    continue
            self._file = os.fdopen(fd, "w+b")
            self._write_info(self._file)
        return self._file

    def _write_info(self, out: BinaryIO) -> None:
        from warcio.warcwriter import WARCWriter

        writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
        writer.write_record(writer.create_warcinfo_record(self._name, {
            "software": f"veille/{__version__} (warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        }))

    def _rotate(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def link(self, article_id: str, record_ids: Iterable[str], *, fetched: str, outcome: str) -> None:
        """Note that the article (at this fetch) came from these records, in the order of their hops."""
        with self._lock, self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO links (article_id, record_id, fetched, outcome, hop) VALUES (?, ?, ?, ?, ?)",
                [(article_id, record, fetched, outcome, hop) for hop, record in enumerate(record_ids)])

    # -- reading ---------------------------------------------------------------
    def _read(self, name: str, offset: int, length: int) -> bytes:
        with open(self.folder / name, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def member(self, record: Record) -> bytes:
        """The record's gzip member, byte for byte as it is in its file."""
        return self._read(record.file, record.offset, record.length)

    def records(self, *, since: str | None = None) -> list[Record]:
        with self._reading():
            rows = self.db.execute("SELECT * FROM records WHERE at >= ? ORDER BY file, offset", (since or "",)).fetchall()
        return [Record(**dict(row)) for row in rows]

    @contextmanager
    def _reading(self):
        """A damaged index is named as such (CaptureError), never taken for the archive's own database."""
        try:
            yield
        except sqlite3.Error as exc:
            raise CaptureError(f"the capture index {self.folder / INDEX} is damaged ({exc}); the WARC files beside "
                               "it are untouched") from None

    def integrity(self) -> list[str]:
        """What is wrong with the index itself: SQLite's own check, and links to records it lacks."""
        try:
            found = [row[0] for row in self.db.execute("PRAGMA quick_check")]
            problems = [] if found == ["ok"] else [f"{INDEX}: damaged ({'; '.join(found[:3])})"]
            dangling = self.db.execute("SELECT COUNT(*), COUNT(DISTINCT l.article_id) FROM links l "
                                       "LEFT JOIN records r ON r.id = l.record_id WHERE r.id IS NULL").fetchone()
        except sqlite3.Error as exc:
            return [f"{INDEX}: damaged ({exc}); the WARC files beside it are untouched"]
        if dangling[0]:
            problems.append(f"{INDEX}: {dangling[0]} links of {dangling[1]} articles name records it does not hold")
        return problems

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.warc.gz"))

    def records_of(self, article_ids: list[str]) -> list[Record]:
        """The response records the articles came from and their requests, in capture order."""
        found: dict[str, Record] = {}
        with self._reading():
            self._records_of(article_ids, found)
        return sorted(found.values(), key=lambda r: (r.at, r.type != "response", r.id))

    def _records_of(self, article_ids: list[str], found: dict) -> None:
        for start in range(0, len(article_ids), 500):
            chunk = article_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT r.* FROM links l JOIN records r ON r.id = l.record_id WHERE l.article_id IN ({marks}) "
                f"UNION SELECT q.* FROM links l JOIN records q ON q.concurrent_to = l.record_id "
                f"WHERE l.article_id IN ({marks})", chunk + chunk).fetchall()
            for row in rows:
                found[row["id"]] = Record(**dict(row))

    def linked(self, article_ids: list[str]) -> set[str]:
        """Those of the articles that have a capture."""
        found: set[str] = set()
        with self._reading():
            for start in range(0, len(article_ids), 900):
                chunk = article_ids[start:start + 900]
                found.update(row[0] for row in self.db.execute(
                    f"SELECT DISTINCT article_id FROM links WHERE article_id IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def latest(self, article_id: str) -> Record | None:
        """The response an article's latest fetch ended on (after any redirects)."""
        with self._reading():
            row = self.db.execute(
                "SELECT r.* FROM links l JOIN records r ON r.id = l.record_id WHERE l.article_id = ? "
                "ORDER BY l.fetched DESC, l.hop DESC LIMIT 1", (article_id,)).fetchone()
        return Record(**dict(row)) if row else None

    def summary(self) -> dict:
        """Records, files, their bytes and the articles they back (CaptureError if the index is damaged)."""
        files = self.files()
        try:
            records = self.db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            articles = self.linked_articles()
        except sqlite3.Error as exc:
            raise CaptureError(f"the capture index {self.folder / INDEX} cannot be read ({exc})") from None
        return {"records": records, "files": len(files), "bytes": sum(f.stat().st_size for f in files),
                "articles": articles}

    def linked_articles(self) -> int:
        return self.db.execute("SELECT COUNT(DISTINCT article_id) FROM links").fetchone()[0]


def _warc_date(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_member(data: bytes) -> tuple[dict[str, str], bytes]:
    """A record's WARC headers (lower-case names) and its block, from its gzip member.

    CaptureError says what is wrong: not gzip, cut short, headers unreadable."""
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        raw = inflater.decompress(data)
        if not inflater.eof:
            raise CaptureError("the record is cut short (its gzip member does not end)")
    except zlib.error as exc:
        raise CaptureError(f"the record's bytes are damaged or were changed (gzip: {exc})") from None
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"WARC/"):
        raise CaptureError("the record has no WARC header")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers.get("content-length", ""))
    except ValueError:
        raise CaptureError("the record's Content-Length is not a number") from None
    if len(rest) < length:
        raise CaptureError(f"the record is cut short ({len(rest)} of {length} bytes)")
    return headers, rest[:length]


def http_payload(block: bytes) -> bytes:
    """The payload of an HTTP response or request block: what follows its headers."""
    _, sep, payload = block.partition(b"\r\n\r\n")
    return payload if sep else b""


def http_parts(block: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """The status line, headers and body of an HTTP block."""
    head, _, body = block.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
    return lines[0], headers, body
