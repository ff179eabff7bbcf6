"""The coordinator: the only module that wires stages together.

    fetch feed -> entries -> fetch page -> extract -> language -> store

Read `fetch_sources` and `import_paths` top to bottom: each step either hands
its result to the next or records why it could not, and the run goes on.
A failure on one item is data, not a crash. Network and CPU work for the
entries of a feed runs in a small thread pool; every write to the archive
happens here, on the calling thread, one article per transaction.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlsplit

import numpy as np

from veille.stages import dedupe
from veille.stages import health
from veille.stages import extract as extract_stage
from veille.stages import feeds as feed_stage
from veille.stages import language as language_stage
from veille.stages import plaintext
from veille.config.settings import NLP, Config, Source
from veille.stages.dedupe import Link
from veille.stages.dedupe import Settings as DedupeSettings
from veille.text.encoding import decode, looks_like_html
from veille.stages.entities import EntityTagger, KnownName, capped_note, data_fingerprint
from veille.errors import (BlockedURLError, DeferredError, ExtractError, FeedError, FetchError, ImportFileError,
                     ImportPathError, is_storage_failure)
from veille.net.http import ANY, Fetcher, Response, allowance, check_url
from veille.models import Article, Entry, Extracted, ParsedFeed
from veille.text.keys import DATA, fold
from veille.text.times import Clock, iso, utcnow
from veille.storage.sqlite.store import Archive, SourceState, decode_shares
from veille.stages.topics import TopicTagger
from veille.text.urls import article_id_for_content, article_id_for_url, canonical_url

logger = logging.getLogger(__name__)

IMPORT_SOURCE = "import"
IMPORT_SUFFIXES = (".html", ".htm", ".txt", ".md")
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
FEED_ACCEPT = (
    "application/rss+xml,application/atom+xml,application/rdf+xml,application/feed+json,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"
)
PAGE_RETRIES = 3  # a page that failed this often is not retried on later runs
MAX_NEW_PER_PASS = 500  # new entries fetched per feed and run; a feed of 10,000 entries is read over 20 runs
DEFER_AFTER = 30.0  # seconds: a host that asks us to wait longer is left for the next pass

Progress = Callable[[str, str], None]  # (event, detail)


@dataclass
class Failure:
    source: str
    url: str
    reason: str


@dataclass
class RunReport:
    counts: Counter = field(default_factory=Counter)  # new, updated, unchanged, failed, skipped
    failures: list[Failure] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # source -> outcome in words
    articles: list[str] = field(default_factory=list)  # ids stored new or updated, in order

    def count(self, outcome: str, article_id: str | None = None) -> None:
        self.counts[outcome] += 1
        if article_id and outcome in ("new", "updated"):
            self.articles.append(article_id)

    def fail(self, source: str, url: str, reason: str) -> None:
        self.counts["failed"] += 1
        self.failures.append(Failure(source, url, reason))


@dataclass
class _Page:
    """What a worker thread brings back for one entry or page."""

    entry: Entry | None
    url: str
    article: Article | None = None
    error: str | None = None  # why the page itself could not be had
    deferred: bool = False  # not tried now (the host asked to wait, robots.txt unavailable): not a failure


# --------------------------------------------------------------------------
# veille fetch
# --------------------------------------------------------------------------


class Taggers:
    """The tagging stages for one run: entities (spaCy + gazetteer) and topics."""

    def __init__(self, config: Config | None = None, archive: Archive | None = None) -> None:
        nlp = config.nlp if config else NLP()
        known = [KnownName(*row) for row in archive.known_names()] if archive else []
        self.entities = EntityTagger(dict(nlp.models), known_names=known, batch_size=nlp.batch_size)
        self.topics = TopicTagger()
        self.topics_fingerprint = data_fingerprint(DATA / "topics.yaml")
        self.batch_size = nlp.batch_size

    def describe(self, lang: str) -> str:
        return f"{self.entities.describe(lang)}; topics {self.topics_fingerprint}"

    def report_problems(self, report: "RunReport") -> None:
        """A configured model that is missing is said once per run, not per article."""
        for lang, problem in sorted(self.entities.problems.items()):
            report.failures.append(Failure("nlp", lang, problem))

    def tag(self, articles: list[Article]) -> None:
        """Fill in entities, tags and tagger; a failure leaves the articles untagged, with a note."""
        if not articles:
            return
        try:
            found = self.entities.tag([(a.text, a.lang) for a in articles])
            for article, entities in zip(articles, found):
                article.entities = entities
                article.tags = self.topics.tag(article.text, article.lang)
                article.tagger = self.describe(article.lang)
                capped = capped_note(article.text)
                if capped and capped not in (article.note or ""):
                    article.note = f"{article.note}; {capped}" if article.note else capped
        except Exception as exc:  # a model failing must not cost the articles themselves
            logger.debug("tagging failed", exc_info=True)
            for article in articles:
                article.entities, article.tags, article.tagger = [], [], None
                reason = f"not tagged ({type(exc).__name__}: {exc}); run `veille retag`"
                article.note = f"{article.note}; {reason}" if article.note else reason


def fetch_sources(
    config: Config,
    archive: Archive,
    *,
    names: Iterable[str] | None = None,
    fetcher: Fetcher | None = None,
    taggers: Taggers | None = None,
    clock: Clock = utcnow,
    progress: Progress | None = None,
    due_only: bool = False,
    stop: threading.Event | None = None,
) -> RunReport:
    """One pass over the enabled sources (or the named ones), fetched concurrently.

    Paused sources are left out unless named; with `due_only` (the scheduler), so are the
    ones still backing off. Setting `stop` ends the pass after the article in hand.
    """
    named = list(names or [])
    candidates = [config.source(n) for n in named] if named else list(config.enabled_sources)
    taggers = taggers or Taggers(config, archive)
    report = RunReport()
    now = iso(clock())
    sources = []
    for source in candidates:
        state = archive.source_state(source.name)
        if state.paused_since and not named and not (due_only and (state.next_attempt or "") <= now):
            report.sources[source.name] = f"paused since {state.paused_since[:10]}: {health.advice(state.error_kind)}"
            report.counts["paused"] += 1
            continue
        if due_only and state.next_attempt and state.next_attempt > now:
            continue
        sources.append((source, state))
    run_id = archive.start_run("fetch", now)
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(config.settings)
    fetcher.remember_crawl_delays({host: known["asks"] for host, known in archive.crawl_delays().items()})
    _notify(progress, "total", str(len(sources)))
    try:
        _Pass(config, archive, fetcher, taggers, report, clock, progress, stop or threading.Event()).run(sources)
        archive.record_crawl_delays(fetcher.take_crawl_delays(), iso(clock()))  # for status and the next run
    finally:
        if own_fetcher:
            fetcher.close()
        archive.finish_run(run_id, iso(clock()), dict(report.counts))
    taggers.report_problems(report)
    _sync_quietly(archive, report)
    return report


@dataclass
class _SourceWork:
    """One source in a pass: its feed, the entries to fetch, the pages fetched so far."""

    source: Source
    state: SourceState
    response: Response | None = None
    feed: ParsedFeed | None = None
    fresh: list[Entry] = field(default_factory=list)
    pages: list[_Page] = field(default_factory=list)  # fetched, not stored yet
    fetched: int = 0
    complete: bool = True  # every page fetched so far was had in full
    left: int = 0  # new entries over MAX_NEW_PER_PASS, left for the next run
    twins: dict[str, list[str]] = field(default_factory=dict)  # link -> other entries' keys with that link


class _Pass:
    """Fetches feeds and pages in a thread pool, at most `per_host` at a time per host and
    `concurrency` in all; parses and extracts in the workers; tags and stores here, on the
    calling thread, one article per transaction."""

    def __init__(self, config: Config, archive: Archive, fetcher: Fetcher, taggers: Taggers, report: RunReport,
                 clock: Clock, progress: Progress | None, stop: threading.Event) -> None:
        self.config, self.archive, self.fetcher, self.taggers = config, archive, fetcher, taggers
        self.report, self.clock, self.progress, self.stop = report, clock, progress, stop
        self.settings = config.settings
        self.waiting: dict[str, deque] = {}  # host -> jobs not started
        self.busy: Counter = Counter()  # host -> jobs running
        self.running: dict[Future, tuple[str, Callable[[object], None], _SourceWork]] = {}

    def run(self, sources: list[tuple[Source, SourceState]]) -> None:
        pool = ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="fetch")
        try:
            for source, state in sources:
                work = _SourceWork(source, state)
                self._queue(work, source.url, lambda w=work: self._fetch_feed(w),
                            lambda result, w=work: self._feed_done(w, result))
            while (self.running or any(self.waiting.values())) and not self.stop.is_set():
                pause = self._start(pool)
                if not self.running:
                    self.stop.wait(pause)
                    continue
                done, _ = wait(list(self.running), timeout=pause, return_when=FIRST_COMPLETED)
                for future in done:
                    host, handle, work = self.running.pop(future)
                    self.busy[host] -= 1
                    if self.stop.is_set():
                        break
                    try:
                        handle(future.result())
                    except Exception as exc:  # a bug or a locked database on one source: record it, go on
                        if is_storage_failure(exc):
                            raise  # a full or read-only disk fails every source alike: stop, say it once
                        logger.debug("handler failed", exc_info=True, extra={"source": work.source.name})
                        try:
                            self._failed(work, exc)
                        except Exception:
                            self.report.fail(work.source.name, work.source.url,
                                             f"internal error ({type(exc).__name__}: {exc}); please report it")
        finally:
            pool.shutdown(wait=not self.stop.is_set(), cancel_futures=True)

    # -- the dispatcher: a job starts only when its host has room ----------------
    def _queue(self, work: _SourceWork, url: str, job: Callable[[], object], handle: Callable[[object], None]) -> None:
        host = (urlsplit(url).hostname or "").lower()
        self.waiting.setdefault(host, deque()).append((url, job, handle, work))

    def _start(self, pool: ThreadPoolExecutor) -> float:
        """Start what the limits allow; return how long until a waiting host may start again."""
        soonest = 0.5
        started = True
        while started and len(self.running) < self.settings.concurrency:
            started = False
            for host, jobs in self.waiting.items():  # one job per host per round: hosts take turns
                if not jobs or self.busy[host] >= self.settings.per_host:
                    continue
                if len(self.running) >= self.settings.concurrency:
                    break
                held = self.fetcher.gate.held_for(jobs[0][0])
                if held > DEFER_AFTER:  # the host asked us to wait (Retry-After): not in this pass
                    self._defer(host, held)
                    continue
                wait_for = self.fetcher.gate.ready_in(jobs[0][0])
                if wait_for > 0:  # its delay (or Crawl-delay) has not passed: do not tie up a worker sleeping
                    soonest = min(soonest, wait_for)
                    continue
                url, job, handle, work = jobs.popleft()
                self.running[pool.submit(_guarded, job)] = (host, handle, work)
                self.busy[host] += 1
                started = True
        return max(soonest, 0.005)

    def _defer(self, host: str, seconds: float) -> None:
        """Everything still queued for a host that asked us to wait: answered now, as deferred."""
        jobs, self.waiting[host] = self.waiting[host], deque()
        for url, _, handle, work in jobs:
            error = DeferredError("the host asked us to wait (Retry-After)", url, f"{seconds:.0f} s",
                                  status=429, retry_after=seconds)
            try:
                handle(error)
            except Exception as exc:
                logger.debug("deferral failed", exc_info=True)
                self.report.fail(work.source.name, url, f"internal error ({type(exc).__name__}: {exc})")

    # -- workers (no archive access) ---------------------------------------------------
    def _fetch_feed(self, work: _SourceWork):
        source, state = work.source, work.state
        accept = FEED_ACCEPT if source.kind == "feed" else PAGE_ACCEPT
        conditional = health.conditional(state.as_health())
        response = self.fetcher.get(source.url, etag=state.etag if conditional else None,
                                    last_modified=state.last_modified if conditional else None, accept=accept)
        if response.not_modified:
            return response, None, None
        if source.kind == "page":
            return response, None, _page_from_response(source, None, source.url, response, self.clock)
        return response, parse_feed(response), None

    # -- handlers (calling thread: the archive is written here only) ------------------------
    def _feed_done(self, work: _SourceWork, result) -> None:
        source = work.source
        _notify(self.progress, "source", source.name)
        if isinstance(result, BaseException):
            self._failed(work, result)
            return
        response, feed, page = result
        work.response = response
        if response.not_modified:
            self._succeeded(work, "not modified (304)", not_modified=True)
            return
        if page is not None:
            self.taggers.tag([page.article] if page.article else [])
            _store_page(source, self.archive, self.report, page, self.clock, self.config.dedupe)
            self._succeeded(work, "fetched page" if page.error is None else page.error, keep=page.error is None)
            return
        work.feed = feed
        work.fresh = _fresh_entries(source, self.archive, feed, self.report, work.twins)
        if len(work.fresh) > MAX_NEW_PER_PASS:  # a huge or hostile feed: the rest next time, newest first
            work.left = len(work.fresh) - MAX_NEW_PER_PASS
            work.fresh = work.fresh[:MAX_NEW_PER_PASS]
            work.complete = False  # the next run reads the feed in full, not a 304
        if not work.fresh:
            self._finish(work)
            return
        allow = allowance(response, source.allow_private)
        for entry in work.fresh:
            self._queue(work, entry.url or source.url,
                        lambda e=entry: _fetch_entry(source, feed, e, self.fetcher, self.clock, allow),
                        lambda page, w=work: self._page_done(w, page))

    def _page_done(self, work: _SourceWork, page) -> None:
        if isinstance(page, DeferredError):
            page = _Page(None, page.url, error=f"page not fetched now: {page.reason}; tried again next run",
                         deferred=True)
        elif isinstance(page, BaseException):  # _fetch_entry turns errors into pages; this is a last resort
            page = _Page(None, work.source.url, error=f"internal error ({type(page).__name__}: {page})")
        work.pages.append(page)
        work.fetched += 1
        if len(work.pages) >= self.taggers.batch_size or work.fetched == len(work.fresh):
            self._store(work)
        if work.fetched == len(work.fresh) and not self.stop.is_set():
            self._finish(work)

    def _store(self, work: _SourceWork) -> None:
        """Tag the pages fetched so far together (nlp.pipe), then store them one per transaction."""
        pages, work.pages = work.pages, []
        self.taggers.tag([p.article for p in pages if p.article is not None])
        for page in pages:
            if self.stop.is_set():
                return  # the feed's validators are not stored: the next pass reads it in full
            _notify(self.progress, "article", page.url)
            _store_page(work.source, self.archive, self.report, page, self.clock, self.config.dedupe)
            work.complete = work.complete and page.error is None
            twins = work.twins.get(page.url)
            if twins and page.entry is not None and page.article is not None and \
                    self.archive.entry_seen(work.source.name, page.entry.guid or page.url):
                for key in twins:  # the same link under other guids: the same article
                    self.archive.mark_entry(work.source.name, key, page.url, page.article.id, iso(self.clock()))

    def _finish(self, work: _SourceWork) -> None:
        """All pages of a feed are stored: now the feed itself."""
        feed = work.feed
        assert feed is not None
        outcome = f"{len(feed.entries)} entries, {len(work.fresh)} new"
        if work.left:
            outcome += f", {work.left} more left for the next run (at most {MAX_NEW_PER_PASS} per run)"
        if feed.warning:
            outcome += f"; {feed.warning}"
        # The feed's validators are stored only now, after its entries: a run that dies
        # half-way fetches the feed in full next time instead of getting a 304 and
        # never seeing the entries it missed. If a page failed, they are not kept either:
        # the next run must read the feed in full (not get a 304) to retry that entry.
        self._succeeded(work, outcome, keep=work.complete)

    def _succeeded(self, work: _SourceWork, outcome: str, *, keep: bool = True, not_modified: bool = False) -> None:
        response = work.response
        assert response is not None
        moved = response.moved_to
        if moved:
            outcome += f"; moved permanently to {moved} (`veille feeds fix {work.source.name}` updates feeds.yaml)"
        state = health.after_success(work.state.as_health(), not_modified=not_modified)
        self.archive.record_source_success(
            work.source.name, work.source.url, work.source.kind, at=iso(self.clock()), status=outcome,
            etag=response.etag, last_modified=response.last_modified, keep_validators=keep,
            health=state, moved_to=moved)
        self.report.sources[work.source.name] = outcome

    def _failed(self, work: _SourceWork, error: BaseException) -> None:
        if isinstance(error, FetchError):
            reason = error.summary
        elif isinstance(error, FeedError):
            reason = str(error)
        else:
            logger.debug("source crashed", exc_info=error, extra={"source": work.source.name})
            reason = f"internal error ({type(error).__name__}: {error})"
        kind = health.kind_of(error) if isinstance(error, Exception) else "other"
        _source_failed(work.source, self.archive, self.report, reason, self.clock, work.state, kind,
                       self.settings.pause_after, getattr(error, "retry_after", None))


def _sync_quietly(archive: Archive, report: RunReport) -> None:
    """Index what was stored. The index is derived: if this fails, the next sync catches up."""
    try:
        sync_index(archive)
    except Exception as exc:
        logger.debug("index sync failed", exc_info=True)
        report.failures.append(Failure("index", str(archive.folder), f"search index not updated ({exc}); "
                                       "it catches up on the next run, or run `veille reindex`"))


def parse_feed(response: Response) -> ParsedFeed:
    """The feed in a response; FeedError says so plainly (`not_a_feed`) when it is a web page instead."""
    try:
        return feed_stage.parse(response.body, response.url, response.charset)
    except FeedError:
        if response.is_html() or looks_like_html(response.body):
            error = FeedError(f"the URL gives an HTML page, not a feed ({response.content_type or 'no type'})")
            error.not_a_feed = True
            raise error from None
        raise


def _guarded(job: Callable[[], object]) -> object:
    """Run a worker job; an exception comes back as the result, for the calling thread to record."""
    try:
        return job()
    except Exception as exc:
        return exc


def _fresh_entries(source: Source, archive: Archive, feed: ParsedFeed, report: RunReport,
                   twins: dict[str, list[str]]) -> list[Entry]:
    """Entries not archived yet, and not given up on. Links we may never fetch are failures.

    Entries that repeat the link of another entry of this pass (new guids on one page) are not
    fetched again: their keys go into `twins`, to be marked as seen with that page's article."""
    fresh: list[Entry] = []
    seen_keys: set[str] = set()
    for entry in feed.entries:
        key = entry.guid or entry.url
        if not key or key in seen_keys:
            continue
        seen_keys.add(key)
        if archive.entry_seen(source.name, key):
            report.count("unchanged")
            continue
        if not entry.url:
            report.fail(source.name, key, "entry has no link")
            continue
        if entry.url in twins:
            twins[entry.url].append(key)
            continue
        if archive.failure_count(source.name, entry.url, "page") >= PAGE_RETRIES:
            report.count("skipped")
            continue
        twins[entry.url] = []
        fresh.append(entry)
    return fresh


def _fetch_entry(source: Source, feed: ParsedFeed, entry: Entry, fetcher: Fetcher, clock: Clock,
                 allow: frozenset[str] = ANY) -> _Page:
    """Worker thread: fetch, extract and detect one entry. No archive access here.

    `allow`: the non-public networks the entry's link may reach (see fetch.allowance)."""
    assert entry.url
    try:
        return _fetch_entry_page(source, feed, entry, fetcher, clock, allow)
    except Exception as exc:  # a bug or a library failing on strange input: data, not a crash
        logger.debug("entry failed", exc_info=True, extra={"source": source.name, "url": entry.url})
        return _Page(entry, entry.url, error=f"internal error ({type(exc).__name__}: {exc}); please report it")


def _fetch_entry_page(source: Source, feed: ParsedFeed, entry: Entry, fetcher: Fetcher, clock: Clock,
                      allow: frozenset[str]) -> _Page:
    assert entry.url
    try:
        check_url(entry.url)
        if source.robots and not fetcher.robots_allow(entry.url, allow):
            return _feed_fallback(source, feed, entry, clock, "page not fetched: disallowed by robots.txt")
        response = fetcher.get(entry.url, accept=PAGE_ACCEPT, allow=allow)
    except DeferredError as exc:
        return _Page(entry, entry.url, error=f"page not fetched now: {exc.reason}; tried again next run", deferred=True)
    except BlockedURLError as exc:
        return _Page(entry, entry.url, error=f"link not followed: {exc.reason}")
    except FetchError as exc:
        return _feed_fallback(source, feed, entry, clock, f"page not fetched: {exc.summary}")
    return _page_from_response(source, entry, entry.url, response, clock, feed)


def _page_from_response(
    source: Source, entry: Entry | None, url: str, response: Response, clock: Clock,
    feed: ParsedFeed | None = None,
) -> _Page:
    if not response.is_html():
        reason = f"page not fetched: not HTML ({response.content_type or 'no content type'})"
        return _feed_fallback(source, feed, entry, clock, reason) if entry else _Page(entry, url, error=reason)
    try:
        extracted = extract_stage.extract(response.text(), response.url)
    except ExtractError as exc:
        reason = f"no article in page: {exc}"
        return _feed_fallback(source, feed, entry, clock, reason) if entry else _Page(entry, url, error=reason)
    article = _assemble(source, feed, entry, url, extracted, clock, origin="page")
    article.raw = response.body
    article.raw_type = response.content_type or "text/html"
    if response.url != url:
        article.note = f"redirected to {response.url}"
    return _Page(entry, url, article=article)


def _feed_fallback(
    source: Source, feed: ParsedFeed | None, entry: Entry | None, clock: Clock, reason: str,
) -> _Page:
    """Keep the entry with the feed's own content when its page cannot be had."""
    assert entry and entry.url
    if not entry.summary_html:
        return _Page(entry, entry.url, error=reason + "; the feed has no text for it either")
    try:
        extracted = extract_stage.extract_fragment(entry.summary_html)
    except ExtractError:
        return _Page(entry, entry.url, error=reason + "; the feed's text for it is empty")
    article = _assemble(source, feed, entry, entry.url, extracted, clock, origin="feed")
    article.note = f"{reason}; kept the feed's own text"
    article.raw = entry.summary_html.encode("utf-8")
    return _Page(entry, entry.url, article=article, error=reason)


def _assemble(
    source: Source, feed: ParsedFeed | None, entry: Entry | None, url: str,
    extracted: Extracted, clock: Clock, *, origin: str,
) -> Article:
    source_lang = (entry.language if entry else None) or source.language or (feed.language if feed else None)
    lang = language_stage.detect(extracted.text, html_lang=extracted.html_lang, source_lang=source_lang)
    return Article(
        id=article_id_for_url(url),
        url=url,
        canonical_url=canonical_url(extracted.canonical_url if _web(extracted.canonical_url) else url),
        source=source.name,
        text=extracted.text,
        title=extracted.title or (entry.title if entry else None),
        author=extracted.author or (entry.author if entry else None),
        published=(entry.published if entry else None) or extracted.published,
        fetched=iso(clock()),
        lang=lang.code,
        lang_confidence=lang.confidence,
        lang_reason=lang.reason,
        lang_shares=lang.shares,
        site_name=extracted.site_name,
        description=extracted.description,
        html_lang=extracted.html_lang,
        origin=origin,
        extractor=extracted.extractor,
        alternates=extracted.alternates,
    )


def _web(url: str | None) -> bool:
    """An http(s) address: a page's canonical link is written by strangers (`javascript:`, `data:`...)."""
    return bool(url) and url.split(":", 1)[0].lower() in ("http", "https")


def _store_page(source: Source, archive: Archive, report: RunReport, page: _Page, clock: Clock,
                stories: DedupeSettings | None = None) -> None:
    now = iso(clock())
    if page.deferred:  # tried again on the next run; does not count towards giving up on the page
        report.count("skipped")
        report.failures.append(Failure(source.name, page.url, page.error or "deferred"))
        return
    if page.error:
        archive.record_failure(source.name, page.url, "page", page.error, now)
    if page.article is None:
        report.fail(source.name, page.url, page.error or "unknown")
        return
    if page.article.origin == "feed" and archive.has_article(page.article.id):
        # Never let a feed's teaser replace text we already hold (maybe the full page).
        report.count("unchanged")
        report.failures.append(Failure(source.name, page.url, page.error or "unknown"))
        return
    outcome = archive.save_article(page.article, now)
    report.count(outcome, page.article.id)
    _link(archive, page.article, outcome, report, stories)
    if page.error:
        report.failures.append(Failure(source.name, page.url, page.error))
        return  # kept from the feed: the page is tried again next run
    archive.clear_failures(source.name, page.url)
    if page.entry is not None:
        archive.mark_entry(source.name, page.entry.guid or page.url, page.url, page.article.id, now)


def _link(archive: Archive, article: Article, outcome: str, report: RunReport,
          settings: DedupeSettings | None = None) -> None:
    """Place a new or changed article in its story; a failure here never costs the article.

    An unchanged article is placed too if it has no story: a run killed between storing it and
    linking it left it so, and the rerun finds it "unchanged"."""
    if outcome not in ("new", "updated") and archive.story_of(article.id) is not None:
        return
    try:
        stored = archive.get_article(article.id)
        if stored is not None:
            stored.entities = article.entities
            link_story(archive, stored, settings)
    except Exception as exc:
        logger.debug("dedupe failed", exc_info=True, extra={"url": article.url})
        report.failures.append(Failure(article.source, article.url,
                                       f"not placed in a story ({type(exc).__name__}: {exc}); run `veille dedupe --rebuild`"))


def _source_failed(source: Source, archive: Archive, report: RunReport, reason: str, clock: Clock,
                   state: SourceState | None = None, kind: str = "other", pause_after: float = 12.0,
                   retry_after: float | None = None) -> None:
    state = state or archive.source_state(source.name)
    now = clock()
    after = health.after_failure(state.as_health(), kind, now.astimezone(timezone.utc), source.interval,
                                 pause_after=pause_after, retry_after=retry_after)
    logger.info("source failed", extra={"source": source.name, "reason": reason, "kind": kind,
                                        "score": after.score, "paused": after.paused})
    archive.record_source_failure(source.name, source.url, source.kind, at=iso(now), reason=reason, health=after)
    report.fail(source.name, source.url, reason)
    if after.paused and not state.paused_since:
        report.sources[source.name] = f"failed: {reason}; paused now: {health.advice(kind)}"
    else:
        report.sources[source.name] = f"failed: {reason}"


def _notify(progress: Progress | None, event: str, detail: str) -> None:
    if progress is not None:
        progress(event, detail)


# --------------------------------------------------------------------------
# veille import
# --------------------------------------------------------------------------


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
    run_id = archive.start_run("import", iso(clock()))
    _notify(progress, "total", str(len(files)))
    taggers = taggers or Taggers(None, archive)
    try:
        for start in range(0, len(files), taggers.batch_size):
            prepared = []
            for path in files[start:start + taggers.batch_size]:
                _notify(progress, "file", str(path))
                article = read_file(path, archive, report, clock=clock, max_bytes=max_bytes)
                if article is not None:
                    prepared.append(article)
            taggers.tag(prepared)
            for article in prepared:
                outcome = archive.save_article(article, iso(clock()))
                archive.clear_failures(IMPORT_SOURCE, article.url)
                report.count(outcome, article.id)
                _link(archive, article, outcome, report, stories)
    finally:
        archive.finish_run(run_id, iso(clock()), dict(report.counts))
    taggers.report_problems(report)
    _sync_quietly(archive, report)
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
            _link(archive, stored, "unchanged", report)
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
    source = Source(name=IMPORT_SOURCE, url=url, kind="page")
    article = _assemble(source, None, None, url, extracted, clock, origin="file")
    if not is_html and not article.published:  # only now is the language known to read "24 septembre 2019"
        article.published = plaintext.find_written_date(text, article.lang, markdown=path.suffix.lower() == ".md")
    article.id = article_id
    article.canonical_url = url
    article.raw = raw
    article.raw_type = "text/html" if is_html else ("text/markdown" if path.suffix.lower() == ".md" else "text/plain")
    return article


# --------------------------------------------------------------------------
# veille retag
# --------------------------------------------------------------------------


def retag(
    config: Config | None,
    archive: Archive,
    *,
    lang: str | None = None,
    taggers: Taggers | None = None,
    clock: Clock = utcnow,
    progress: Progress | None = None,
) -> RunReport:
    """Tag again every article not tagged by the current models and data files.

    Batch by batch, each committed: an interrupted retag resumes where it stopped.
    """
    taggers = taggers or Taggers(config, archive)
    report = RunReport()
    langs = [lang] if lang else list(archive.counts_by_lang())
    _notify(progress, "total", str(sum(archive.count_to_tag(code, taggers.describe(code)) for code in langs)))
    for code in langs:
        current = taggers.describe(code)
        while True:
            batch = archive.articles_to_tag(code, current, taggers.batch_size)
            if not batch:
                break
            taggers.tag(batch)
            for article in batch:
                if article.tagger is None:  # tagging failed: stop instead of looping on it
                    report.fail("retag", article.id, article.note or "tagging failed")
                    return report
                archive.save_tagging(article, iso(clock()))
                report.count("updated", article.id)
                _notify(progress, "file", article.id)
    taggers.report_problems(report)
    return report


# --------------------------------------------------------------------------
# stories: duplicates, copies, translations
# --------------------------------------------------------------------------

_KIND_ORDER = {"duplicate": 3, "copy": 2, "translation": 1}


def link_story(archive: Archive, article: Article, settings: DedupeSettings | None = None, *,
               placed_only: bool = False) -> dict:
    """Fingerprint `article`, find what it is a version of, and place it in a story.

    `placed_only` (a rebuild): link only to articles already placed again, not to later ones whose
    fingerprints an earlier run left, so that the result does not depend on what was there before.
    Returns its membership (story_id, relation, original_id, evidence).
    """
    settings = settings or DedupeSettings()
    fp = _save_fingerprint(archive, article)
    own_urls = sorted({article.url, canonical_url(article.url)} | ({article.canonical_url} if article.canonical_url else set()))
    links = _explicit_links(archive, article, _alternates(article), own_urls)
    links += _copy_links(archive, fp, settings, placed_only)
    if placed_only:
        links = [link for link in links if archive.story_of(link.other_id) is not None]
    if not any(link.kind in ("duplicate", "copy") for link in links):
        links += _translation_links(archive, article, fp, settings, placed_only)
    return _place_in_story(archive, article, fp, links, settings)


def _save_fingerprint(archive: Archive, article: Article) -> dedupe.Fingerprint:
    fp = dedupe.fingerprint(article)
    archive.save_fingerprint(fp, _alternates(article))
    return fp


def _alternates(article: Article) -> list[str]:
    """The hreflang addresses a page names, as written and canonical."""
    return sorted({canonical_url(u) for u in article.alternates.values()} | set(article.alternates.values()))


def _explicit_links(archive: Archive, article: Article, alternates: list[str], own_urls: list[str]) -> list[Link]:
    links = []
    own = canonical_url(article.url)
    if article.canonical_url and article.canonical_url != own and article.origin != "file":
        for other in archive.articles_at_urls([article.canonical_url]):
            if other != article.id:
                links.append(Link(other, "copy", 1.0, f"copy of {other[:8]}…: its canonical link points there",
                                  explicit=True, other_is_original=True))
    hreflang = set(archive.articles_at_urls(alternates)) | set(archive.articles_linking_to(own_urls))
    for other in sorted(hreflang - {article.id}):
        links.append(Link(other, "translation", 1.0,
                          f"translation of {other[:8]}…: the pages name each other as language versions (hreflang)",
                          explicit=True))
    return links


def _copy_links(archive: Archive, fp: dedupe.Fingerprint, settings: DedupeSettings,
                placed: bool = False) -> list[Link]:
    links = []
    for row in archive.copy_candidates(fp, placed=placed):
        link = dedupe.compare_copy(fp, _fingerprint(row, set()), settings)
        if link is not None:
            links.append(link)
    return links


def _fingerprint(row, anchors: set[str]) -> dedupe.Fingerprint:
    """A stored article's fingerprint, as the candidate queries return it."""
    keys = row.keys()
    return dedupe.Fingerprint(row["id"], row["lang"], row["length"], row["text_hash"],
                              np.frombuffer(row["minhash"], dtype=np.uint32), anchors,
                              credit=row["credit"] if "credit" in keys else None,
                              size=row["size"] or 0.0, shares=decode_shares(row["lang_shares"]))


def _translation_links(
    archive: Archive, article: Article, fp: dedupe.Fingerprint, settings: DedupeSettings, placed: bool = False,
) -> list[Link]:
    if article.lang == "und" or len(fp.anchors) < settings.min_shared_anchors:
        return []
    frequency = archive.anchor_frequencies(fp.anchors)
    total = archive.approximate_count()
    when = (article.published or article.fetched or "")[:10] or "2000-01-01"
    since, until = _window(when, settings.window_days)
    # Candidates: articles sharing enough rare anchors (the postings of a rare anchor are short),
    # and articles whose anchor set is much like this one's (LSH bands: bounded, and blind to how
    # common each anchor is, so two versions sharing only GNU, GPL and a year are compared too).
    rare = sorted(a for a in fp.anchors if frequency.get(a, 1) <= max(20, total // 50))
    candidates = archive.translation_candidates(fp, rare, article.lang, since, until, settings.min_shared_anchors,
                                                placed=placed)
    # A text largely in a second language may be a translation of one in its main language.
    mixed = any(code != article.lang and share >= settings.second_language for code, share in fp.shares)
    for other in archive.translation_candidates_by_bands(fp, None if mixed else article.lang, since, until,
                                                         placed=placed):
        if other not in candidates:
            candidates.append(other)
    anchors = archive.anchors_of(candidates)
    names = archive.entity_names(sorted(a[2:] for a in fp.anchors if a.startswith("e:")))
    links = []
    for row in archive.fingerprint_rows(candidates):
        link = dedupe.compare_translation(fp, _fingerprint(row, anchors[row["id"]]), settings, frequency, total, names)
        if link is not None:
            links.append(link)
    return links


def _window(day: str, days: int) -> tuple[str, str]:
    try:
        moment = datetime.fromisoformat(day)
    except ValueError:
        return "0000", "9999"
    return (moment - timedelta(days=days)).strftime("%Y-%m-%d"), (moment + timedelta(days=days + 1)).strftime("%Y-%m-%d")


def _best_link(archive: Archive, links: list[Link]) -> Link | None:
    """The link that places an article: explicit evidence first, then the strongest kind; among
    translations, one into the story most versions point to (ten language versions of a page are
    one story, not one per version that happened to be compared first), then the best score."""
    if not links:
        return None
    top = max((l.explicit, _KIND_ORDER[l.kind]) for l in links)
    chosen = [l for l in links if (l.explicit, _KIND_ORDER[l.kind]) == top]
    votes: dict[str | None, float] = {}
    story_of = {l.other_id: archive.story_of(l.other_id) for l in chosen}
    for link in chosen:
        key = story_of[link.other_id] or link.other_id
        votes[key] = votes.get(key, 0.0) + link.score
    return max(chosen, key=lambda l: (votes[story_of[l.other_id] or l.other_id], l.score, l.other_id))


def _place_in_story(archive: Archive, article: Article, fp: dedupe.Fingerprint, links: list[Link],
                    settings: DedupeSettings) -> dict:
    best = _best_link(archive, links)
    current = archive.story_of(article.id)
    story_id = current or (archive.story_of(best.other_id) if best else None)
    if story_id is None and best is not None:  # the other article predates stories: give it its own first
        story_id = f"s{best.other_id}"
        archive.write_story(story_id, best.other_id, [_membership(best.other_id, None)])
    if story_id is None:
        story_id = f"s{article.id}"
    members = {m["article_id"]: m for m in archive.story_members(story_id)}
    # The article is a version of texts in other stories too: they were one story all along (the
    # English page and its Chinese translation were placed before the Japanese one that links
    # both), so those stories join this one.
    # A link that is only just enough to place an article is not enough to join two stories: the
    # pages of one family (chown and chgrp) share most of their options.
    merged = sorted({other for other in (archive.story_of(l.other_id) for l in links
                                         if l is not best and l.strength >= settings.merge_overlap)
                     if other and other != story_id})
    for other in merged:
        members.update({m["article_id"]: m for m in archive.story_members(other)})
    evidence = best.evidence if best else "first of its story"
    if fp.credit:
        evidence += f"; credits “{fp.credit}” as its source"
    explicit = 2 if best and best.other_is_original else 1 if best and best.explicit else 0
    mine = _membership(article.id, best.other_id if best else None, best.score if best else None, evidence, explicit)
    rows = [m for key, m in members.items() if key != article.id] + [
        {**mine, "lang": article.lang, "lang_shares": tuple(article.lang_shares), "text_hash": article.text_hash, "published": article.published,
         "fetched": article.fetched or "", "length": len(article.text), "title": article.title,
         "opening": article.text[:200], "credit": fp.credit, "site_name": article.site_name,
         "source": article.source}]
    facts = _StoryFacts(rows)
    original = _original_of(rows, facts)
    first = _member(original, facts)
    relations = {r["article_id"]: dedupe.relation(_member(r, facts), first, settings.second_language) for r in rows}
    for row in rows:  # a first member that became a copy or translation: say which link tied it
        if row["evidence"].startswith("first of its story") and row["article_id"] != original["article_id"]:
            tie = next((r for r in rows if r.get("linked_to") == row["article_id"]), None)
            if tie is not None:
                row.update(evidence=f"joined through {tie['article_id'][:8]}…, which is a "
                                 f"{tie['evidence'].split(' of ', 1)[0]} of it: {tie['evidence'].split(': ', 1)[-1]}")
    fields = ("article_id", "relation", "linked_to", "score", "evidence", "explicit")
    stored = [{key: r.get(key) for key in fields} | {"relation": relations[r["article_id"]]} for r in rows]
    # Only what changed is written: usually the one new member. Rewriting every member at every
    # arrival made a story's placements cost the square of its size.
    before = {key: {f: m.get(f) for f in fields} for key, m in members.items()}
    changed = [row for row in stored if before.get(row["article_id"]) != row]
    archive.write_story(story_id, original["article_id"], changed, merged, replace=bool(merged) or not before)
    return {"story_id": story_id, "relation": relations[article.id], "original_id": original["article_id"],
            "evidence": evidence}


def _membership(article_id: str, linked_to: str | None, score: float | None = None,
                evidence: str = "first of its story", explicit: int = 0) -> dict:
    return {"article_id": article_id, "relation": "original", "linked_to": linked_to, "score": score,
            "evidence": evidence, "explicit": explicit}


def _credits(credit: str | None, row: dict) -> bool:
    """Does a "Source: X" credit name this member's site or source?"""
    if not credit:
        return False
    wanted = fold(credit)
    return any(name and (fold(name) == wanted or wanted in fold(name)) for name in (row.get("site_name"), row.get("source")))


class _StoryFacts:
    """What members say of each other, gathered once per placement: asked of every member for every
    member, it made placing an article cost the square of its story's size (a rebuild, the cube)."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.named_original = {r.get("linked_to") for r in rows if r.get("explicit") == 2}
        self.credits = [(r["article_id"], r["credit"]) for r in rows if r.get("credit")]

    def credited(self, row: dict) -> bool:
        """Does another member's "Source: X" name this member?"""
        return any(other != row["article_id"] and _credits(credit, row) for other, credit in self.credits)

    def credits_another(self, row: dict) -> bool:
        return bool(row.get("credit")) and any(_credits(row["credit"], r) for r in self.rows
                                               if r["article_id"] != row["article_id"])


def _member(row: dict, facts: _StoryFacts) -> dedupe.Member:
    title = (row.get("title") or "").rstrip("…").strip()
    return dedupe.Member(
        article_id=row["article_id"], lang=row["lang"], text_hash=row["text_hash"], published=row["published"],
        fetched=row["fetched"] or "", length=row["length"], shares=_shares(row.get("lang_shares")),
        explicit_original=row["article_id"] in facts.named_original or facts.credited(row),
        explicit_copy=row.get("explicit") == 2 or facts.credits_another(row),
        titled=bool(title) and not (row.get("opening") or "").startswith(title[:60]),
    )


def _shares(stored) -> tuple[tuple[str, float], ...]:
    return decode_shares(stored) if isinstance(stored, str) or stored is None else tuple(stored)


def _original_of(rows: list[dict], facts: _StoryFacts) -> dict:
    chosen = dedupe.choose_original([_member(r, facts) for r in rows])
    return next(r for r in rows if r["article_id"] == chosen)


def _in_order(archive: Archive, after: tuple[str, str] | None, batch: int):
    """Batches of articles, oldest first, with their entities, and the position after each batch."""
    while articles := archive.articles_in_order(after, batch):
        for article in articles:
            article.entities = archive.entities_of(article.id)
        after = (articles[-1].published or articles[-1].fetched or "", articles[-1].id)
        yield articles, after


def rebuild_stories(
    archive: Archive, settings: DedupeSettings | None = None, *, progress: Progress | None = None, batch: int = 200,
) -> RunReport:
    """Recompute every story, oldest article first; resumable after an interruption."""
    settings = settings or DedupeSettings()
    report = RunReport()
    marker = repr(settings)
    state = archive.get_state("rebuild")
    after = None
    if state and state.startswith(marker + "\t"):
        when, _, last = state[len(marker) + 1:].partition("\t")
        after = (when, last)
    else:
        archive.clear_stories()
        # Every fingerprint first: anchor weights count the whole archive, as they will on the
        # next rebuild, so two rebuilds give the same stories whatever fingerprints were there before.
        for articles, _ in _in_order(archive, None, batch):
            for article in articles:
                _save_fingerprint(archive, article)
    _notify(progress, "total", str(archive.count_articles()))
    for articles, after in _in_order(archive, after, batch):
        for article in articles:
            membership = link_story(archive, article, settings, placed_only=True)
            report.count("updated" if membership["relation"] != "original" else "unchanged", article.id)
            _notify(progress, "file", article.id)
        archive.set_state("rebuild", f"{marker}\t{after[0]}\t{after[1]}")
    archive.set_state("rebuild", None)
    return report


# --------------------------------------------------------------------------
# the search index
# --------------------------------------------------------------------------


def sync_index(archive: Archive, *, progress: Progress | None = None, batch: int = 500, procs: int = 1,
               notice: Callable[[str], None] | None = None, into=None) -> int:
    """Index whatever the archive holds that the index has not seen; returns how many.

    Only the archive's writer (or a reader holding the writer lock) calls this: an index that is
    missing or damaged is replaced and filled again, and `notice` (default: a logged warning)
    says so. `into`: another index to fill than the live one (`reindex` builds one beside it)."""
    from veille.search.whoosh.index import SearchIndex

    search_index = into or SearchIndex(archive.folder, repair=True)
    built_before = archive.get_state("index") is not None  # a missing index is news only if there was one
    if into is None and search_index.rebuilt and (search_index.rebuilt != "missing" or built_before):
        articles = archive.count_articles()
        if articles:
            (notice or logger.warning)(f"the search index was {search_index.rebuilt}; building it again from "
                                       f"the archive ({articles} articles)")
    if not built_before:
        archive.set_state("index", "built")
    if not search_index.cursor and search_index.cursor_lost:
        (notice or logger.warning)("the search index's cursor.json could not be read; indexing every article "
                                   "again (each one replaces its own entry)")
    done = 0
    try:
        number = archive.change_number(search_index.cursor)
        if number != search_index.cursor:
            search_index.save_cursor(number)  # an older cursor, converted once, not at every sync
        while True:
            changed = archive.changed_since(search_index.cursor, batch)
            if not changed:
                return done
            done += search_index.add(((a, story, keys, tags) for a, story, keys, tags, _ in changed), changed[-1][4],
                                     procs=procs if len(changed) >= 1000 else 1)
            for article, *_ in changed:
                _notify(progress, "file", article.id)
    finally:
        search_index.close()


def reindex(archive: Archive, *, progress: Progress | None = None) -> int:
    """Build the index again from the archive: in big batches, two processes each (a fresh index
    is only added to, so whoosh's parallel writer applies). It is built beside the live one, which
    readers go on searching, and takes its place at the end: a reindex stopped half-way leaves the
    old index as it was."""
    from veille.search.whoosh.index import BULK_BATCH, SearchIndex

    fresh = SearchIndex.beside(archive.folder)
    _notify(progress, "total", str(archive.count_articles()))
    count = sync_index(archive, progress=progress, batch=BULK_BATCH, procs=2, into=fresh)
    fresh.publish()
    fresh.close()
    return count
