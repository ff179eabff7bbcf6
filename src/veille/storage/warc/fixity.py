"""`veille verify`: does every capture and every article still hold what was written?

For each WARC record in the index: its gzip member is read from its file and offset, its block
and payload digests recomputed (sha1, as the record's own headers state them, and sha256, as the
index noted them when it was written) and compared. Each WARC file is then read from end to end
with warcio, so a file cut short or with bytes appended or changed between records is found
even where no indexed record covers them. Each article's content hash is recomputed from its
stored text. A problem is one line naming the file, the record or the article; nothing raises.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import Callable, Iterable

from veille.models import text_hash
from veille.storage.warc.store import CaptureError, CaptureStore, http_payload, parse_member, sha1_digest, sha256_digest


@dataclass
class Verified:
    records: int = 0
    files: int = 0
    articles: int = 0
    revisions: int = 0  # earlier revisions of articles
    problems: list[str] = field(default_factory=list)


def orphans(folder) -> list[str]:
    """WARC files in a capture folder that has no index: their records are linked to no article."""
    files = sorted(folder.glob("*.warc.gz")) if folder is not None and folder.is_dir() else []
    if files and not (folder / "captures.db").exists():
        return [f"{folder}: {len(files)} WARC files but no capture index (captures.db): their records are linked "
                "to no article, and `show --raw` and `warc export` cannot find them"]
    return []


def verify(store: CaptureStore | None, articles: Iterable, *, since: str | None = None,
           progress: Callable[[str], None] | None = None, revisions: Iterable = ()) -> Verified:
    """Check the captures (those written on or after `since`), the articles given and their
    earlier revisions ((id, revision, fetched, text, hash) tuples)."""
    result = Verified()
    if store is not None:
        result.problems.extend(store.integrity())
        if not result.problems:
            _records(store, since, result, progress)
        named = {line.split(" ", 1)[0] for line in result.problems}
        _files(store, since, result, named)
    for article in articles:
        result.articles += 1
        expected = text_hash(article.text)
        if article.text_hash and article.text_hash != expected:
            result.problems.append(f"article {article.id}: its text no longer matches its content hash "
                                   f"(stored {article.text_hash[:12]}..., now {expected[:12]}...)")
    for article_id, revision, fetched, text, stored in revisions:
        if since and (fetched or "") < since:
            continue
        result.revisions += 1
        if stored != text_hash(text):
            result.problems.append(f"article {article_id} revision {revision} (fetched {fetched}): its text no "
                                   "longer matches its content hash")
    return result


def _records(store: CaptureStore, since: str | None, result: Verified, progress) -> None:
    for record in store.records(since=since):
        result.records += 1
        if progress:
            progress(record.id)
        where = f"{record.file} record {record.id} ({record.type} {record.url}) at offset {record.offset}"
        try:
            member = store.member(record)
        except FileNotFoundError:
            result.problems.append(f"{where}: the file is missing")
            continue
        except OSError as exc:
            result.problems.append(f"{where}: the file cannot be read ({exc.strerror or exc})")
            continue
        if len(member) < record.length:
            result.problems.append(f"{where}: the file is cut short ({len(member)} of {record.length} bytes)")
            continue
        try:
            headers, block = parse_member(member)
        except CaptureError as exc:
            result.problems.append(f"{where}: {exc}")
            continue
        if headers.get("warc-record-id") != record.id:
            result.problems.append(f"{where}: another record is there ({headers.get('warc-record-id')})")
            continue
        payload = http_payload(block)
        checks = [("block sha1", headers.get("warc-block-digest"), sha1_digest(block)),
                  ("block sha1 (index)", record.block_sha1, sha1_digest(block)),
                  ("block sha256", record.block_sha256, sha256_digest(block))]
        if record.type == "response":
            checks += [("payload sha1", headers.get("warc-payload-digest"), sha1_digest(payload)),
                       ("payload sha1 (index)", record.payload_sha1, sha1_digest(payload)),
                       ("payload sha256", record.payload_sha256, sha256_digest(payload))]
        wrong = [name for name, stated, found in checks if stated and stated != found]
        if wrong:
            result.problems.append(f"{where}: digest mismatch ({', '.join(wrong)}): its content was changed")


def _files(store: CaptureStore, since: str | None, result: Verified, named: set[str]) -> None:
    """Read every file through warcio: damage outside the indexed records is found too (a file
    whose records were already named is not named again for the same damage)."""
    from warcio.archiveiterator import ArchiveIterator

    try:
        known = {row[0] for row in store.db.execute("SELECT DISTINCT file FROM records WHERE at >= ?", (since or "",))}
    except Exception:  # a damaged index is named already: read every file
        known, since = set(), None
    names = {p.name for p in store.files()}
    for name in sorted(known - names):
        result.problems.append(f"{name}: the file is missing from {store.folder}")
    for path in store.files():
        if since and path.name not in known:
            continue
        result.files += 1
        offset = 0
        try:
            with open(path, "rb") as f, contextlib.redirect_stderr(io.StringIO()):  # warcio prints zlib errors
                records = ArchiveIterator(f, check_digests="raise")
                for record in records:
                    offset = records.get_record_offset()
                    record.content_stream().read()
        except Exception as exc:  # warcio's own errors have no common base: any is a damaged file
            if path.name not in named:
                result.problems.append(f"{path.name}: damaged after the record at offset {offset}, outside any "
                                       f"indexed record ({_said(exc)})")


def _said(exc: BaseException) -> str:
    """The error in one printable line: warcio quotes the bytes it could not read."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = "".join(c if c.isprintable() and ord(c) < 0x250 else "?" for c in text)
    return text[:120]
