"""`veille warc export`: the captures of some articles as one WARC file and its CDXJ index.

The records are copied byte for byte from the archive's own files (one gzip member each), so
their digests still hold and `veille verify` or any WARC tool can check them; a new `warcinfo`
record first says what made the file and from which query. The CDXJ index beside it (made by
cdxj-indexer, the one pywb ships) is what pywb and ReplayWeb.page read to replay the pages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from veille import __version__
from veille.storage.warc.store import CaptureError, CaptureStore, parse_member


@dataclass
class Exported:
    warc: Path
    cdxj: Path
    records: int  # request and response records copied
    responses: int
    articles: int  # articles with at least one capture
    missing: int  # articles selected without any capture (imported, fetched before capture, capture: none)
    unreadable: list[str]  # records left out because their bytes no longer match the index (see verify)


def check_out(out: Path, captures: Path | None = None) -> None:
    """--out names a new .warc.gz path, never an existing file (an earlier export, the archive's
    own captures), a folder or a device; its .cdxj beside it must be new too."""
    if not out.name.endswith(".warc.gz"):
        raise CaptureError(f"warc export: {out} must end in .warc.gz (the records are gzip members)")
    if not out.parent.exists():
        raise CaptureError(f"warc export: the folder {out.parent} does not exist")
    if captures is not None and out.resolve().parent == captures.resolve():
        raise CaptureError(f"warc export: {out} is in the archive's capture folder; write the export elsewhere")
    for path in (out, cdxj_of(out)):
        if path.is_symlink() or path.exists():
            what = "exists" if path.is_file() and not path.is_symlink() else "is not a regular file"
            raise CaptureError(f"warc export: {path} {what}; give a new file name (an export never replaces a file)")


def cdxj_of(out: Path) -> Path:
    return out.with_name(out.name[: -len(".warc.gz")] + ".cdxj")


def export(store: CaptureStore, article_ids: list[str], out: Path, *, query: str = "",
           now: datetime | None = None) -> Exported:
    """Write the captures of `article_ids` to `out` (a .warc.gz) and `out` minus .gz plus .cdxj
    beside it. Written under temporary names and renamed last: a killed export leaves no half file."""
    from warcio.warcwriter import WARCWriter

    check_out(out, store.folder)
    now = now or datetime.now(timezone.utc)
    records = store.records_of(article_ids)
    linked = store.linked(article_ids)
    cdxj = cdxj_of(out)
    temp = out.with_name(f".{out.name}.{os.getpid()}.part")
    temp_index = cdxj.with_name(f".{cdxj.name}.{os.getpid()}.part")
    unreadable: list[str] = []
    copied = responses = 0
    try:
        with open(temp, "wb") as f:
            writer = WARCWriter(f, gzip=True, warc_version="WARC/1.1")
            info = {
                "software": f"veille/{__version__} (warcio)",
                "format": "WARC File Format 1.1",
                "description": "pages and feeds as veille fetched them, with the request that fetched each",
                "veille-query": query or "(every article)",
                "veille-exported": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "veille-articles": str(len(linked)),
            }
            writer.write_record(writer.create_warcinfo_record(out.name, info))
            for record in records:
                try:
                    member = store.member(record)
                    headers, _ = parse_member(member)
                    if headers.get("warc-record-id") != record.id:
                        raise CaptureError("another record is at its offset")
                except (OSError, CaptureError) as exc:
                    unreadable.append(f"{record.id} in {record.file}: {exc}")
                    continue
                f.write(member)
                copied += 1
                responses += record.type == "response"
        with open(temp_index, "w", encoding="utf-8") as index:
            _index(temp, out.name, index)
        os.replace(temp_index, cdxj)  # the index first: the WARC appears last, with its index beside it
        os.replace(temp, out)
    finally:
        for leftover in (temp, temp_index):
            if leftover.exists():
                leftover.unlink()
    return Exported(out, cdxj, copied, responses, len(linked), len(set(article_ids)) - len(linked), unreadable)


def _index(warc: Path, name: str, out) -> None:
    """The CDXJ lines of `warc` (SURT-sorted, as replay tools look them up), naming it `name`."""
    from cdxj_indexer import CDXJIndexer

    with open(warc, "rb") as f:
        CDXJIndexer(output=out, inputs=[f], filename=name, sort=True, post_append=True).process_all()
