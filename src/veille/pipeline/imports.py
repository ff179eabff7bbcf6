"""`veille import`: local files (HTML, text, Markdown) as articles."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable

from veille.errors import ExtractError, ImportFileError, ImportPathError
from veille.models import Article
from veille.pipeline.indexing import sync_quietly
from veille.pipeline.reports import Progress, RunReport, notify
from veille.pipeline.steps import assemble
from veille.pipeline.stories import link_quietly
from veille.pipeline.tagging import Taggers
from veille.stages import extract as extract_stage
from veille.stages import plaintext
from veille.stages.dedupe import Settings as DedupeSettings
from veille.models import IMPORT_SOURCE  # the source name of imported files
from veille.storage import Archive
from veille.text.encoding import decode
from veille.text.times import Clock, iso, utcnow
from veille.text.urls import article_id_for_content

IMPORT_SUFFIXES = (".html", ".htm", ".txt", ".md")
MAX_IMPORT_BYTES = 10 * 1000**2  # settings.max_body's default


def _read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`. Opened without blocking and checked
    before a byte is read: a FIFO would wait for a writer for ever, /dev/zero never ends."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device or socket"
            raise ImportFileError(f"not a regular file ({kind}); import files only")
        if info.st_size > max_bytes:
            raise ImportFileError(f"file too large ({info.st_size:,} bytes, limit {max_bytes:,}: settings.max_body)")
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:  # it grew while we read it
        raise ImportFileError(f"file too large (over {max_bytes:,} bytes: settings.max_body)")
    return raw


def collect_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files to import, folders walked recursively, in a stable order."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise ImportPathError(f"import: {path} does not exist; check the path")
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMPORT_SUFFIXES))
        elif path.suffix.lower() in IMPORT_SUFFIXES:
            files.append(path)
        else:
            raise ImportPathError(
                f"import: {path} is not a .html, .htm, .txt or .md file; convert it or leave it out"
            )
    return files


def import_paths(
    paths: Iterable[str | Path],
    archive: Archive,
    *,
    taggers: Taggers | None = None,
    stories: DedupeSettings | None = None,
    clock: Clock = utcnow,
    progress: Progress | None = None,
    max_bytes: int = MAX_IMPORT_BYTES,
) -> RunReport:
    """Import local files: HTML through the extractor, text through its own cleaner.

    Regular files only, of at most `max_bytes` (settings.max_body): a FIFO, a device or a link
    to one is refused with its reason, never read."""
    files = collect_paths(paths)
    report = RunReport()
    notify(progress, "total", str(len(files)))
    taggers = taggers or Taggers(None, archive)
    for start in range(0, len(files), taggers.batch_size):
        prepared = []
        for path in files[start:start + taggers.batch_size]:
            notify(progress, "file", str(path))
            article = read_file(path, archive, report, clock=clock, max_bytes=max_bytes)
            if article is not None:
                prepared.append(article)
        taggers.tag(prepared)
        for article in prepared:
            outcome = archive.save_article(article, iso(clock()))
            archive.clear_failures(IMPORT_SOURCE, article.url)
            report.count(outcome, article.id)
            link_quietly(archive, article, outcome, report, stories)
    taggers.report_problems(report)
    sync_quietly(archive, report)
    return report


def read_file(path: Path, archive: Archive, report: RunReport, *, clock: Clock = utcnow,
              max_bytes: int = MAX_IMPORT_BYTES) -> Article | None:
    """A local file as an article ready to tag and store, or None (recorded) if it is not one."""
    url = path.resolve().as_uri()
    try:
        raw = _read_regular_file(path, max_bytes)
    except ImportFileError as exc:
        report.fail(IMPORT_SOURCE, url, str(exc))
        return None
    except OSError as exc:
        report.fail(IMPORT_SOURCE, url, f"cannot read file ({exc.strerror})")
        return None
    article_id = article_id_for_content(raw)
    if archive.has_article(article_id):
        report.count("unchanged")
        stored = archive.get_article(article_id) if archive.story_of(article_id) is None else None
        if stored is not None:  # an import killed before it placed this file in its story
            stored.entities = archive.entities_of(article_id)  # the story's anchors come from them
            link_quietly(archive, stored, "unchanged", report)
        return None
    text = decode(raw)
    is_html = path.suffix.lower() in (".html", ".htm")
    try:
        extracted = extract_stage.extract(text, url) if is_html else plaintext.clean(
            text, markdown=path.suffix.lower() == ".md"
        )
    except Exception as exc:  # ExtractError, or a library failing on strange input
        reason = str(exc) if isinstance(exc, ExtractError) else f"internal error ({type(exc).__name__}: {exc})"
        archive.record_failure(IMPORT_SOURCE, url, "extract", reason, iso(clock()))
        report.fail(IMPORT_SOURCE, url, reason)
        return None
    if not extracted.text.strip():
        archive.record_failure(IMPORT_SOURCE, url, "extract", "no text left after cleaning", iso(clock()))
        report.fail(IMPORT_SOURCE, url, "no text left after cleaning")
        return None
    article = assemble(IMPORT_SOURCE, None, None, url, extracted, clock, origin="file")
    if not is_html and not article.published:  # only now is the language known to read "24 septembre 2019"
        article.published = plaintext.find_written_date(text, article.lang, markdown=path.suffix.lower() == ".md")
    article.id = article_id
    article.canonical_url = url
    article.raw = raw
    article.raw_type = "text/html" if is_html else ("text/markdown" if path.suffix.lower() == ".md" else "text/plain")
    return article

