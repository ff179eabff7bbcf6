"""Evidence: every response veille fetches, kept as the server sent it, in WARC files.

    store = CaptureStore(folder)          ARCHIVE/warc: the .warc.gz files and their index
    store.record(exchange) -> record id   a request and a response record, with digests
    store.link(article_id, ids, ...)      which records an article (and each revision) came from
    fixity.verify(store, articles)        digests and content hashes recomputed (veille verify)
    outputs.warc.export(store, ids, out)  the records of some articles as one WARC + CDXJ

The WARC files are written with warcio (WARC/1.1, one gzip member per record, so a file can be
read from any record's offset), rotated by size; the index beside them is a small SQLite file
(`captures.db`) that maps records to files and offsets and articles to records. Each process
writes its own files (the name carries the time and pid), so two writers never share one.
"""

from veille.models import Exchange
from veille.storage.warc.store import CaptureError, CaptureStore, Record, capture_folder, open_capture

__all__ = ["CaptureError", "CaptureStore", "Exchange", "Record", "capture_folder", "open_capture"]
