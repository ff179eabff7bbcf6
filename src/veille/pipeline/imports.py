"""`veille import`: local files (HTML, text, Markdown) as articles."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from veille.errors import ExtractError, ImportFileError, ImportPathError
from veille.models import Article
from veille.pipeline.indexing import sync_quietly
from veille.pipeline.reports import Progress, RunReport, notify
from veille.config.settings import Settings
from veille.pipeline.steps import StoppedClock, assemble
from veille.pipeline.stories import link_quietly
from veille.pipeline.tagging import Taggers
from veille.pipeline.workers import Workers, tag_articles, workers_for
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
    settings: Settings | None = None,
    workers: int | Workers | None = None,
) -> RunReport:
    """Import local files: HTML through the extractor, text through its own cleaner; read and
    tagged by worker processes (`workers`, else settings.workers) or, with 1, in this process.

    Regular files only, of at most `max_bytes` (settings.max_body): a FIFO, a device or a link
    to one is refused with its reason, never read."""
    files = collect_paths(paths)
    report = RunReport()
    notify(progress, "total", str(len(files)))
    given = taggers is not None
    taggers = taggers or Taggers(None, archive)
    pool, own = workers_for(settings, workers, taggers, given)
    size = taggers.batch_size * (2 * pool.count if pool else 1)  # with workers: a batch each, one more waiting
    try:
        for start in range(0, len(files), size):
            prepared = []
            for path in files[start:start + size]:
                notify(progress, "file", str(path))
                if pool is None:
                    prepared.append(read_file(path, archive, report, clock=clock, max_bytes=max_bytes))
                elif (taken := _take_file(path, archive, report, max_bytes)) is not None:
                    prepared.append(ImportJob(str(path), *taken, clock()))
            if pool is None:
                articles = [a for a in prepared if a is not None]
                taggers.tag(articles)
            else:  # read and tagged by the workers; what could not be read is recorded here
                read = pool.run(prepared, import_files, taggers.batch_size)
                articles = [a for job, got in zip(prepared, read) if (a := _recorded(archive, report, job, got))]
            _save_imports(archive, report, articles, clock, stories)
    finally:
        if own and pool is not None:
            pool.close()
    taggers.report_problems(report, pool.problems if pool else None)
    sync_quietly(archive, report)
    return report


def _save_imports(archive: Archive, report: RunReport, articles: list[Article], clock: Clock,
                  stories: DedupeSettings | None) -> None:
    for article in articles:
        outcome = archive.save_article(article, iso(clock()))
        archive.clear_failures(IMPORT_SOURCE, article.url)
        report.count(outcome, article.id)
        link_quietly(archive, article, outcome, report, stories)


def read_file(path: Path, archive: Archive, report: RunReport, *, clock: Clock = utcnow,
              max_bytes: int = MAX_IMPORT_BYTES) -> Article | None:
    """A local file as an article ready to tag and store, or None (recorded) if it is not one."""
    taken = _take_file(path, archive, report, max_bytes)
    if taken is None:
        return None
    job = ImportJob(str(path), *taken, clock())
    return _recorded(archive, report, job, read_import(job))


@dataclass(frozen=True)
class ImportJob:
    """A file's bytes, to be read as an article (by a worker process, or here)."""

    path: str
    url: str
    raw: bytes
    article_id: str
    at: datetime  # when it was read: the article's `fetched`


def _take_file(path: Path, archive: Archive, report: RunReport, max_bytes: int) -> tuple[str, bytes, str] | None:
    """(url, bytes, article id) of a file not archived yet; None (recorded) for one that cannot be read or is."""
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
    return url, raw, article_id


def _recorded(archive: Archive, report: RunReport, job: ImportJob, got: Article | str) -> Article | None:
    """The article read from a file, or None with the reason it could not be read recorded."""
    if isinstance(got, Article):
        return got
    archive.record_failure(IMPORT_SOURCE, job.url, "extract", got, iso(job.at))
    report.fail(IMPORT_SOURCE, job.url, got)
    return None


def read_import(job: ImportJob) -> Article | str:
    """Decode, clean or extract, detect: the file's article, or why there is none. No archive here."""
    path = Path(job.path)
    text = decode(job.raw)
    suffix = path.suffix.lower()
    is_html = suffix in (".html", ".htm")
    try:
        extracted = extract_stage.extract(text, job.url) if is_html else plaintext.clean(text, markdown=suffix == ".md")
    except Exception as exc:  # ExtractError, or a library failing on strange input
        return str(exc) if isinstance(exc, ExtractError) else f"internal error ({type(exc).__name__}: {exc})"
    if not extracted.text.strip():
        return "no text left after cleaning"
    article = assemble(IMPORT_SOURCE, None, None, job.url, extracted, StoppedClock(job.at), origin="file")
    if not is_html and not article.published:  # only now is the language known to read "24 septembre 2019"
        article.published = plaintext.find_written_date(text, article.lang, markdown=suffix == ".md")
    article.id = job.article_id
    article.canonical_url = job.url
    article.raw = job.raw
    article.raw_type = "text/html" if is_html else ("text/markdown" if suffix == ".md" else "text/plain")
    return article


def import_files(jobs: list[ImportJob]) -> tuple[list[Article | str], dict[str, str]]:
    """Worker process: read each file, tag what was read together."""
    read = [read_import(job) for job in jobs]
    return read, tag_articles([a for a in read if isinstance(a, Article)])[1]
