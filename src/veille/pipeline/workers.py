"""Extraction, language detection and tagging in worker processes (`settings.workers`, `--workers`).

The calling process keeps the network, politeness and the one archive writer; the workers do the
CPU work, each with the models it loaded once (spaCy holds the GIL, so threads could not share it):

    fetch threads -> RawPage (bytes, entry, job) -> worker: extract, detect, tag (nlp.pipe) -> Page -> store

What crosses is plain values (`jobs`), never an archive handle. A worker that dies (out of memory,
a crash in a C library) is replaced: the batches it took down are run again one item at a time,
alone, and the item that kills a worker alone is given back as failed, with the reason. The rest
of the run goes on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from veille.config.settings import NLP, Settings, worker_count
from veille.models import Article
from veille.pipeline.jobs import Page, RawPage
from veille.pipeline.steps import process, read_page
from veille.pipeline.tagging import Taggers
from veille.stages.entities import KnownName

logger = logging.getLogger(__name__)

# A worker is replaced by a fresh one after this many batches: spaCy's string store only grows,
# and a fresh process gives its memory back (a batch is nlp.batch_size articles).
RECYCLE_AFTER = 400
OWNER_CHECK = 1.0  # seconds between a worker's checks that the process it works for is alive

# -- in the worker process ---------------------------------------------------------------------
_TAGGERS: Taggers | None = None  # this process's taggers, built once by _start


def _start(nlp: NLP, known: list[KnownName], also: Callable[[], None] | None, owner: int) -> None:
    """Worker initializer: the taggers, their models loaded now rather than on the first batch."""
    global _TAGGERS
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the calling process's to handle
    threading.Thread(target=_watch, args=(owner,), daemon=True, name="owner").start()
    _TAGGERS = Taggers.of(nlp, known)
    for lang, _ in nlp.models:
        _TAGGERS.describe(lang)
    if also is not None:  # tests: a worker that misbehaves
        also()


def _watch(owner: int) -> None:
    """A worker outlives no calling process: one killed with SIGKILL never shuts its pool down,
    and its workers (a gigabyte of models) would wait on their queue for ever."""
    while True:
        time.sleep(OWNER_CHECK)
        if os.getppid() != owner:  # re-parented: the owner is gone
            os._exit(1)


def _pid(_: list) -> tuple[list[int], dict[str, str]]:
    return [os.getpid()], {}


def _pages(items: list[RawPage | Page]) -> tuple[list[Page], dict[str, str]]:
    """Read the raw pages (extract, detect), then tag them all together."""
    assert _TAGGERS is not None
    pages = [read_page(item) if isinstance(item, RawPage) else item for item in items]
    process(pages, _TAGGERS)
    return pages, _TAGGERS.entities.problems


def tag_articles(articles: list[Article]) -> tuple[list[Article], dict[str, str]]:
    assert _TAGGERS is not None
    _TAGGERS.tag(articles)  # retag: articles the archive holds, tagged again
    return articles, _TAGGERS.entities.problems


def describe_langs(langs: list[str]) -> tuple[list[str], dict[str, str]]:
    assert _TAGGERS is not None
    return [_TAGGERS.describe(lang) for lang in langs], _TAGGERS.entities.problems


# -- in the calling process ------------------------------------------------------------------------
def workers_for(settings: Settings | None, workers: "int | Workers | None", taggers: Taggers,
                given_taggers: bool = False) -> "tuple[Workers | None, bool]":
    """The worker pool of a run, and whether the run owns it (None: all in this process).

    A pool the caller keeps is used as it is; `taggers` given without a count (the scheduler's,
    a test's) tag in this process; else `--workers`, settings.workers, or one per core."""
    if isinstance(workers, Workers):
        return workers, False
    if workers is None and given_taggers:
        return None, False
    count = worker_count(settings or Settings(), workers)
    return (Workers.for_run(count, taggers), True) if count > 1 else (None, False)


def died(item: Any, reason: str) -> Any:
    """What an item that took its worker down comes back as: a failed page, an untagged article."""
    if isinstance(item, Page) and item.article is None:
        return item  # nothing to read in it (an error, a deferral): as it was
    if isinstance(item, (RawPage, Page)):
        return Page(item.entry, item.url, error=reason)
    if isinstance(item, Article):
        item.tagger = None
        item.note = f"{item.note}; {reason}" if item.note else reason
        return item
    return reason


@dataclass
class _Batch:
    tag: Any  # the caller's: what the results belong to
    function: Callable
    items: list
    alone: bool = False  # run with nothing else in flight: if its worker dies, this item killed it
    pool: int = 0  # the generation of the pool it was given to


class Workers:
    """A pool of NLP worker processes that replaces a worker that dies.

    `submit` a batch with a tag; wait on `futures`; give each finished one to `collect`, which
    returns the (tag, results) that are ready (results line up with the items submitted)."""

    def __init__(self, count: int, nlp: NLP, known: Sequence[KnownName] = (), *,
                 also: Callable[[], None] | None = None) -> None:
        self.count, self.nlp, self.known, self.also = count, nlp, list(known), also
        self.problems: dict[str, str] = {}  # a configured model a worker could not load, per language
        self._pool: ProcessPoolExecutor | None = None
        self._generation = 0
        self._processes: dict[int, Any] = {}  # pid -> process, of the current pool (for exit codes)
        self._running: dict[Future, _Batch] = {}
        self._suspects: deque[_Batch] = deque()  # items of batches a dead worker took down, to run alone
        self._held: deque[_Batch] = deque()  # batches waiting while suspects run

    @classmethod
    def for_run(cls, count: int, taggers: Taggers) -> "Workers":
        return cls(count, taggers.nlp, taggers.entities.known_names)

    # -- the pool ------------------------------------------------------------------------------
    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Spawn, never fork: the calling process has fetch threads (a fork can copy a held lock).
            # Not forkserver either: its server outlives a calling process killed with SIGKILL, and
            # spawned workers are this process's children, which they can watch (`_watch`).
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.count, mp_context=context, initializer=_start,
                                             initargs=(self.nlp, self.known, self.also, os.getpid()),
                                             max_tasks_per_child=RECYCLE_AFTER)
            self._generation += 1
        return self._pool

    def start(self) -> None:
        """Start every worker now and wait until each has loaded its models (a long-lived caller's
        choice: otherwise they start with the first batch)."""
        seen: set[int] = set()
        for _ in range(20):  # a worker that finished its first job may take the next one too
            seen.update(self.run([[]] * self.count, _pid, 1))
            if len(seen) >= self.count:
                return

    def close(self, *, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- batches -------------------------------------------------------------------------------
    @property
    def futures(self) -> list[Future]:
        return list(self._running)

    @property
    def busy(self) -> bool:
        return bool(self._running or self._suspects or self._held)

    def submit(self, tag: Any, items: list, function: Callable = _pages) -> None:
        """Send a batch to the workers (read and tag pages, by default)."""
        batch = _Batch(tag, function, list(items))
        if self._suspects or any(b.alone for b in self._running.values()):
            self._held.append(batch)
        else:
            self._send(batch)

    def _send(self, batch: _Batch) -> None:
        try:
            future = self._executor().submit(batch.function, batch.items)
        except BrokenProcessPool:  # a worker died and the pool knows before its futures say so
            self._replace(self._generation)
            future = self._executor().submit(batch.function, batch.items)
        batch.pool = self._generation
        self._running[future] = batch
        pool = self._executor()
        self._processes.update(getattr(pool, "_processes", None) or {})  # started as needed: note them

    def collect(self, future: Future) -> list[tuple[Any, list]]:
        """The results a finished future makes ready: its own, or (its worker died) those of
        the item found to have killed it; the rest is sent again."""
        batch = self._running.pop(future)
        ready: list[tuple[Any, list]] = []
        try:
            results, problems = future.result()
            self.problems.update(problems)
            ready.append((batch.tag, results))
        except BrokenProcessPool:
            reason = self._replace(batch.pool)
            if batch.alone:
                logger.warning("worker died", extra={"reason": reason})
                ready.append((batch.tag, [died(item, reason) for item in batch.items]))
            else:
                self._suspects.extend(_Batch(batch.tag, batch.function, [item], alone=True) for item in batch.items)
        except Exception as exc:  # a bug, or a value that would not pickle: these items fail, the run goes on
            logger.debug("worker batch failed", exc_info=True)
            reason = f"internal error in a worker ({type(exc).__name__}: {exc}); please report it"
            ready.append((batch.tag, [died(item, reason) for item in batch.items]))
        self._advance()
        return ready

    def _advance(self) -> None:
        """After a death: the suspects one at a time, with nothing else in flight; then what was held back."""
        if self._suspects:
            if not self._running:
                self._send(self._suspects.popleft())
            return
        if any(b.alone for b in self._running.values()):
            return
        while self._held:
            self._send(self._held.popleft())

    def _replace(self, generation: int) -> str:
        """A dead worker's pool is broken for good: a new one takes its place (once). Why it died."""
        if generation == self._generation:
            for process in self._processes.values():  # the broken pool ends them all; be sure to read how
                process.join(timeout=5)
        codes = [p.exitcode for p in self._processes.values() if p.exitcode is not None and p.exitcode < 0]
        if generation == self._generation and self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            self._processes = {}
        killed = [-code for code in codes if -code != signal.SIGTERM] or [-code for code in codes]
        if not killed:
            return "worker died; the page was not read (tried again next run)"
        name = signal.Signals(killed[0]).name if killed[0] in signal.Signals._value2member_map_ else "?"
        return (f"worker died (signal {killed[0]}, {name}: out of memory, or a crash in a parser "
                f"on this page); tried again next run")

    def run(self, items: list, function: Callable, size: int) -> list:
        """Every item through `function` in batches of `size`, all at once; the results in order."""
        for start in range(0, len(items), size):
            self.submit(start, items[start:start + size], function)
        done: dict[int, list] = {}
        while self.busy:
            finished, _ = wait(self.futures, return_when=FIRST_COMPLETED)
            for future in finished:
                for start, results in self.collect(future):
                    done.setdefault(start, []).extend(results)  # a batch's suspects come back in order
        return [result for start in sorted(done) for result in done[start]]
