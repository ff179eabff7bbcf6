"""`veille fetch`: one pass over the sources, in a thread pool.

    fetch feed -> entries -> fetch page -> extract -> language -> tag -> store -> story

Read `fetch_sources` top to bottom: each step either hands its result to the next or records
why it could not, and the run goes on. A failure on one item is data, not a crash. Network and
CPU work runs in a small thread pool: the steps of `steps`, each on a job of `jobs`; every
write to the archive happens here, on the calling thread, one article per transaction."""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from datetime import timezone
from typing import Callable, Iterable
from urllib.parse import urlsplit

from veille.config.settings import Config, Source
from veille.errors import DeferredError, FeedError, FetchError, is_storage_failure
from veille.models import Entry, ParsedFeed
from veille.storage.warc import CaptureStore, open_capture
from veille.net.client import ClientSettings, Fetcher, Response
from veille.net.guard import allowance
from veille.pipeline.indexing import sync_quietly
from veille.pipeline.jobs import FeedJob, Fetched, Page, PageJob, RawPage
from veille.pipeline.reports import Failure, Progress, RunReport, notify
from veille.pipeline.steps import fetch_feed, fetch_page, process
from veille.pipeline.stories import link_quietly
from veille.pipeline.tagging import Taggers
from veille.pipeline.workers import Workers, workers_for
from veille.stages import health
from veille.stages.dedupe import Settings as DedupeSettings
from veille.storage import Archive, SourceState
from veille.text.times import Clock, iso, utcnow

logger = logging.getLogger(__name__)

Step = Callable[..., object]  # fetch_feed or fetch_page: (job, client, clock) -> what comes back

PAGE_RETRIES = 3  # a page that failed this often is not retried on later runs
MAX_NEW_PER_PASS = 500  # new entries fetched per feed and run; a feed of 10,000 entries is read over 20 runs
DEFER_AFTER = 30.0  # seconds: a host that asks us to wait longer is left for the next pass


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
    workers: int | Workers | None = None,
    paused_too: bool | None = None,
) -> RunReport:
    """One pass over the enabled sources (or the named ones), fetched concurrently.

    Paused sources are left out unless named; with `due_only` (the scheduler), so are the
    ones still backing off. Setting `stop` ends the pass after the article in hand. Pages are
    read and tagged by `workers` processes (a count, by default settings.workers, or a pool the
    caller keeps); 1, or `taggers` given without `workers`, reads and tags in this process.
    `paused_too=False`: the named sources are one part of a whole pass (a job on the queue), and
    skip a pause as the pass would.
    """
    named = list(names or [])
    given_taggers = taggers is not None
    candidates = [config.source(n) for n in named] if named else list(config.enabled_sources)
    taggers = taggers or Taggers(config, archive)
    report = RunReport()
    now = iso(clock())
    sources = []
    for source in candidates:
        state = archive.source_state(source.name)
        if state.paused_since and not (named and paused_too is not False) and not (due_only and (state.next_attempt or "") <= now):
            report.sources[source.name] = f"paused since {state.paused_since[:10]}: {health.advice(state.error_kind)}"
            report.counts["paused"] += 1
            continue
        if due_only and state.next_attempt and state.next_attempt > now:
            continue
        sources.append((source, state))
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(ClientSettings.of(config.settings), capture=open_capture(config, archive))
    fetcher.remember_crawl_delays({host: known["asks"] for host, known in archive.crawl_delays().items()})
    notify(progress, "total", str(len(sources)))
    pool, own_pool = workers_for(config.settings, workers, taggers, given_taggers)
    try:
        _Pass(config, archive, fetcher, taggers, report, clock, progress, stop or threading.Event(), pool).run(sources)
        archive.record_crawl_delays(fetcher.take_crawl_delays(), iso(clock()))  # for status and the next run
    finally:
        if own_pool and pool is not None:
            pool.close(wait=not (stop and stop.is_set()))
        if own_fetcher:
            fetcher.close()
            if fetcher.capture is not None:
                fetcher.capture.close()
    taggers.report_problems(report, pool.problems if pool else None)
    sync_quietly(archive, report)
    return report


@dataclass
class _SourceWork:
    """One source in a pass: its feed, the entries to fetch, the pages fetched so far."""

    source: Source
    state: SourceState
    response: Response | None = None
    feed: ParsedFeed | None = None
    fresh: list[Entry] = field(default_factory=list)
    pages: list[Page | RawPage] = field(default_factory=list)  # fetched, not stored yet
    reading: int = 0  # pages with the worker processes, not back yet
    fetched: int = 0
    complete: bool = True  # every page fetched so far was had in full
    left: int = 0  # new entries over MAX_NEW_PER_PASS, left for the next run
    twins: dict[str, list[str]] = field(default_factory=dict)  # link -> other entries' keys with that link


class _Pass:
    """Fetches feeds and pages in a thread pool, at most `per_host` at a time per host and
    `concurrency` in all; parses and extracts in the workers; tags and stores here, on the
    calling thread, one article per transaction.

    What waits and what runs is a (step, job) pair, a step function of `steps` and the plain
    value it runs on (`jobs`): what a queue would carry. What the step brings back goes to the
    handler of that step, here."""

    def __init__(self, config: Config, archive: Archive, fetcher: Fetcher, taggers: Taggers, report: RunReport,
                 clock: Clock, progress: Progress | None, stop: threading.Event, workers: Workers | None = None) -> None:
        self.config, self.archive, self.fetcher, self.taggers = config, archive, fetcher, taggers
        self.report, self.clock, self.progress, self.stop = report, clock, progress, stop
        self.settings = config.settings
        self.waiting: dict[str, deque] = {}  # host -> jobs not started
        self.busy: Counter = Counter()  # host -> jobs running
        self.running: dict[Future, tuple[str, Step, _SourceWork]] = {}  # -> host, step, its source
        # With worker processes, the fetch threads only fetch; the workers read and tag (`_store`).
        self.workers = workers
        # Pages tagged together: nlp.batch_size; with workers, half of it, so that both have work sooner.
        self.batch = max(min(8, taggers.batch_size), taggers.batch_size // 2) if workers else taggers.batch_size
        self.feed_step: Step = partial(fetch_feed, read=False) if workers else fetch_feed
        self.page_step: Step = partial(fetch_page, read=False) if workers else fetch_page
        self.handlers: dict[Step, Callable[[_SourceWork, object], None]] = {
            self.feed_step: self._feed_done, self.page_step: self._page_done}

    def run(self, sources: list[tuple[Source, SourceState]]) -> None:
        pool = ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="fetch")
        workers = self.workers
        try:
            for source, state in sources:
                self._queue(_SourceWork(source, state), self.feed_step, feed_job(source, state))
            while (self.running or any(self.waiting.values()) or (workers and workers.busy)) and not self.stop.is_set():
                pause = self._start(pool)
                reading = workers.futures if workers else []
                if not self.running and not reading:
                    self.stop.wait(pause)
                    continue
                done, _ = wait(list(self.running) + reading, timeout=pause, return_when=FIRST_COMPLETED)
                for future in done:
                    if self.stop.is_set():
                        break
                    if future in self.running:
                        host, step, work = self.running.pop(future)
                        self.busy[host] -= 1
                        self._handle(work, self.handlers[step], future)
                    else:
                        assert workers is not None
                        for (kind, work), pages in workers.collect(future):
                            self._handle(work, self._source_page_read if kind == "source" else self._read, pages)
        finally:
            pool.shutdown(wait=not self.stop.is_set(), cancel_futures=True)

    def _handle(self, work: _SourceWork, handler: Callable[[_SourceWork, object], None], result: object) -> None:
        """Hand a step's result (or a worker's pages) to its handler; a failure is the source's, not the run's."""
        try:
            handler(work, result.result() if isinstance(result, Future) else result)
        except Exception as exc:  # a bug or a locked database on one source: record it, go on
            if is_storage_failure(exc):
                raise  # a full or read-only disk fails every source alike: stop, say it once
            logger.debug("handler failed", exc_info=True, extra={"source": work.source.name})
            try:
                self._failed(work, exc)
            except Exception:
                self.report.fail(work.source.name, work.source.url,
                                 f"internal error ({type(exc).__name__}: {exc}); please report it")

    # -- the dispatcher: a job starts only when its host has room ----------------
    def _queue(self, work: _SourceWork, step: Step, job: FeedJob | PageJob) -> None:
        """Queue a (step, job) pair: a step function and the plain value it runs on."""
        host = (urlsplit(job.url).hostname or "").lower()
        self.waiting.setdefault(host, deque()).append((step, job, work))

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
                held = self.fetcher.gate.held_for(jobs[0][1].url)
                if held > DEFER_AFTER:  # the host asked us to wait (Retry-After): not in this pass
                    self._defer(host, held)
                    continue
                wait_for = self.fetcher.gate.ready_in(jobs[0][1].url)
                if wait_for > 0:  # its delay (or Crawl-delay) has not passed: do not tie up a worker sleeping
                    soonest = min(soonest, wait_for)
                    continue
                step, job, work = jobs.popleft()
                self.running[pool.submit(_guarded, step, job, self.fetcher, self.clock)] = (host, step, work)
                self.busy[host] += 1
                started = True
        return max(soonest, 0.005)

    def _defer(self, host: str, seconds: float) -> None:
        """Everything still queued for a host that asked us to wait: answered now, as deferred."""
        jobs, self.waiting[host] = self.waiting[host], deque()
        for step, job, work in jobs:
            error = DeferredError("the host asked us to wait (Retry-After)", job.url, f"{seconds:.0f} s",
                                  status=429, retry_after=seconds)
            try:
                self.handlers[step](work, error)
            except Exception as exc:
                logger.debug("deferral failed", exc_info=True)
                self.report.fail(work.source.name, job.url, f"internal error ({type(exc).__name__}: {exc})")

    # -- handlers (calling thread: the archive is written here only) ------------------------
    def _feed_done(self, work: _SourceWork, result: Fetched | BaseException) -> None:
        source = work.source
        notify(self.progress, "source", source.name)
        if isinstance(result, BaseException):
            self._failed(work, result)
            return
        response, feed, page = result.response, result.feed, result.page
        work.response = response
        if response.not_modified:
            self._succeeded(work, "not modified (304)", not_modified=True)
            return
        if page is not None and self.workers is not None:
            self.workers.submit(("source", work), [page])
            return
        if page is not None:
            process([page], self.taggers)
            self._source_page_read(work, [page])
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
        language = source.language or feed.language
        for entry in work.fresh:
            self._queue(work, self.page_step, PageJob(source.name, entry.url, entry, language, source.robots, allow))

    def _source_page_read(self, work: _SourceWork, pages: list[Page]) -> None:
        """A page source's page, read and tagged: stored, and the source with it."""
        page = pages[0]
        _store_page(work.source, self.archive, self.report, page, self.clock, self.config.dedupe,
                    capture=self.fetcher.capture)
        # A page whose capture failed is asked for in full next time (no 304), to capture it then.
        self._succeeded(work, "fetched page" if page.error is None else page.error,
                        keep=page.error is None and page.capture_error is None)

    def _page_done(self, work: _SourceWork, page: Page | RawPage | BaseException) -> None:
        if isinstance(page, DeferredError):
            page = Page(None, page.url, error=f"page not fetched now: {page.reason}; tried again next run",
                         deferred=True)
        elif isinstance(page, BaseException):  # fetch_page turns errors into pages; this is a last resort
            page = Page(None, work.source.url, error=f"internal error ({type(page).__name__}: {page})")
        work.pages.append(page)
        work.fetched += 1
        if len(work.pages) >= self.batch or work.fetched == len(work.fresh):
            self._store(work)
        self._maybe_finish(work)

    def _maybe_finish(self, work: _SourceWork) -> None:
        if work.fetched == len(work.fresh) and not work.reading and not self.stop.is_set():
            self._finish(work)

    def _store(self, work: _SourceWork) -> None:
        """Tag the pages fetched so far together (nlp.pipe), then store them one per transaction;
        with worker processes, send them to be read and tagged (stored when they come back)."""
        pages, work.pages = work.pages, []
        if self.workers is not None:
            work.reading += len(pages)
            self.workers.submit(("pages", work), pages)
            return
        process(pages, self.taggers)
        self._save(work, pages)

    def _read(self, work: _SourceWork, pages: list[Page]) -> None:
        """Pages a worker process has read and tagged: stored, and the feed with them once all are."""
        work.reading -= len(pages)
        self._save(work, pages)
        self._maybe_finish(work)

    def _save(self, work: _SourceWork, pages: list[Page]) -> None:
        for page in pages:
            if self.stop.is_set():
                return  # the feed's validators are not stored: the next pass reads it in full
            notify(self.progress, "article", page.url)
            _store_page(work.source, self.archive, self.report, page, self.clock, self.config.dedupe,
                        capture=self.fetcher.capture, feed=work.response)
            work.complete = work.complete and page.error is None and page.capture_error is None
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


def feed_job(source: Source, state: SourceState) -> FeedJob:
    """The job of reading a source, with the validators the archive holds for it (if still trusted)."""
    # A sitemap index may stay the same while the sitemaps it names change: read in full each pass.
    conditional = health.conditional(state.as_health()) and source.kind != "sitemap"
    return FeedJob(source.name, source.url, source.kind, source.language,
                   etag=state.etag if conditional else None,
                   last_modified=state.last_modified if conditional else None,
                   links=source.links, allow_private=source.allow_private)


def _guarded(step: Step, job: FeedJob | PageJob, client: Fetcher, clock: Clock) -> object:
    """Worker thread: run one step on its job; an exception comes back as the result, for the
    calling thread to record."""
    try:
        return step(job, client, clock)
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


def _store_page(source: Source, archive: Archive, report: RunReport, page: Page, clock: Clock,
                stories: DedupeSettings | None = None, *, capture: "CaptureStore | None" = None,
                feed: Response | None = None) -> None:
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
    if capture is not None:
        # The evidence of this fetch: the page's own records, or (its text taken from the feed) the feed's.
        evidence = page.captures if page.article.origin != "feed" or feed is None else feed.captures
        _link_captures(capture, page.article.id, evidence, page.article.fetched or now, outcome)
    link_quietly(archive, page.article, outcome, report, stories)
    if page.error:
        report.failures.append(Failure(source.name, page.url, page.error))
        return  # kept from the feed: the page is tried again next run
    if capture is not None and page.capture_error:
        # The article is kept; its evidence is not. Not marked as seen, so the next pass fetches the
        # page again and captures it (PAGE_RETRIES times at most, like a page that failed).
        archive.record_failure(source.name, page.url, "capture", page.capture_error, now)
        report.failures.append(Failure(source.name, page.url, f"article kept, its WARC capture failed "
                                       f"({page.capture_error}); captured again next run"))
        if archive.failure_count(source.name, page.url, "capture") < PAGE_RETRIES:
            return
    else:  # (a capture given up on stays listed in status)
        archive.clear_failures(source.name, page.url)
    if page.entry is not None:
        archive.mark_entry(source.name, page.entry.guid or page.url, page.url, page.article.id, now)


def _link_captures(capture: "CaptureStore", article_id: str, records: list[str], fetched: str, outcome: str) -> None:
    if not records:
        return
    try:
        capture.link(article_id, records, fetched=fetched, outcome=outcome)
    except Exception as exc:  # the article is stored; its evidence is found again by the next fetch
        logger.warning("capture not linked", extra={"article": article_id, "reason": f"{type(exc).__name__}: {exc}"})


def _source_failed(source: Source, archive: Archive, report: RunReport, reason: str, clock: Clock,
                   state: SourceState | None = None, kind: str = "other", pause_after: float = 12.0,
                   retry_after: float | None = None) -> None:
    state = state or archive.source_state(source.name)
    now = clock()
    after = health.after_failure(state.as_health(), kind, now.astimezone(timezone.utc), source.interval,
                                 pause_after=pause_after, retry_after=retry_after)
    logger.debug("source failed", extra={"source": source.name, "reason": reason, "kind": kind,
                                        "score": after.score, "paused": after.paused})
    archive.record_source_failure(source.name, source.url, source.kind, at=iso(now), reason=reason, health=after)
    report.fail(source.name, source.url, reason)
    if after.paused and not state.paused_since:
        report.sources[source.name] = f"failed: {reason}; paused now: {health.advice(kind)}"
    else:
        report.sources[source.name] = f"failed: {reason}"

