"""`veille run`: the long-running service.

APScheduler 3 keeps the clock: one interval job per enabled source (with
jitter, so that 300 feeds do not fire in the same second; `max_instances=1`
and coalescing, so that a slow feed never runs twice at once and a missed
run is not replayed ten times). Its job store lives in memory and belongs to
this process alone; what must survive a restart is in the archive: each
source's next run is computed from its last fetch and its backoff as stored
there, so a restart does not refetch everything at once.

A job only puts its source's name on a queue. This thread takes the due
names off the queue and fetches them together (`pipeline.fetch_sources`:
concurrent, polite), with one HTTP client, one set of taggers and one
archive connection, the only writer. SIGINT and SIGTERM set a flag that the
pass checks between articles: the article in hand is finished and committed,
and the process exits. SIGHUP, or a change to the file, reloads `feeds.yaml`;
an invalid edit is logged and ignored, keeping the last good config.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
import random
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from veille import pipeline
from veille.storage.warc import open_capture
from veille.config.settings import Config, Source, load_config, worker_count
from veille.errors import ConfigError, is_storage_failure
from veille.net import Fetcher
from veille.storage import Archive
from veille.text.times import iso, parse, utcnow

logger = logging.getLogger("veille.run")

LOG_NAME = "veille.log"  # in the archive's log folder (archive.log_folder())
DIGEST_GRACE = 6 * 3600  # seconds after its time a digest missed while veille was down is still sent
SPREAD_PER_SOURCE = 0.2  # seconds: overdue sources start this far apart on average (300 feeds: over a minute)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """`2026-11-23T08:00:01Z info source fetched source=lemonde new=3`: one line, grep-able."""

    def format(self, record: logging.LogRecord) -> str:
        moment = iso(datetime.fromtimestamp(record.created, timezone.utc))
        fields = " ".join(f"{key}={_quote(value)}" for key, value in vars(record).items() if key not in _STANDARD)
        line = f"{moment} {record.levelname.lower()} {_escape(record.getMessage())}" + (f" {fields}" if fields else "")
        if record.exc_info:
            line += " error=" + _quote(repr(record.exc_info[1]))
        return line


def _quote(value: object) -> str:
    text = _escape(str(value))
    return f'"{text}"' if not text or any(c in text for c in ' ="') else text


# Every control character (newlines above all), and the backslash that introduces an escape: a value
# from a stranger (a feed title, an OPML name, an error message) can never start a forged log line.
_ESCAPES = {**{code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7f, 0xa0)]},
            ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord("\\"): "\\\\",
            0x2028: "\\u2028", 0x2029: "\\u2029"}


def _escape(text: str) -> str:
    return text.translate(_ESCAPES)


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Log files readable by their owner only (600), the first and every one after a rotation:
    they name sources, addresses and errors."""

    def _open(self):
        os.close(os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        return super()._open()


def setup_logging(folder: Path, level: int = logging.INFO) -> Path:
    """Log to stderr and to `folder`/veille.log (rotated); `folder` is the archive's log_folder()."""
    path = folder / LOG_NAME
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    formatter = KeyValueFormatter()
    root = logging.getLogger("veille")
    root.setLevel(level)
    root.propagate = False  # not also through the CLI's plain stderr handler
    for handler in (logging.StreamHandler(sys.stderr),
                    _PrivateRotatingFileHandler(path, maxBytes=5 * 2**20, backupCount=5, encoding="utf-8")):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return path


class Service:
    def __init__(self, config_path: Path, archive: Archive, *, reload_every: float = 2.0) -> None:
        self.config_path = Path(config_path)
        self.archive = archive
        self.config: Config = load_config(self.config_path)
        self._mtime = self._stat()
        self.reload_every = reload_every
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.due: queue.Queue[str] = queue.Queue()
        self._intervals: dict[str, int] = {}
        self.scheduler = BackgroundScheduler(timezone=timezone.utc)  # its own MemoryJobStore, never shared
        self.capture = open_capture(self.config, archive)  # WARC records of every response (capture: warc)
        self.fetcher = Fetcher(self.config.settings, capture=self.capture)
        self.taggers = pipeline.Taggers(self.config, archive)
        self.taggers_nlp = self.config.nlp
        # One pool of NLP worker processes for the whole service (settings.workers): the models
        # are loaded once, not on every pass; None (workers: 1) tags with self.taggers, in-process.
        self.workers = self._workers(self.config)

    def _workers(self, config: Config) -> "pipeline.Workers | None":
        count = worker_count(config.settings)
        return pipeline.Workers.for_run(count, self.taggers) if count > 1 else None

    # -- scheduling ------------------------------------------------------------------
    def next_run(self, source: Source, now: datetime, spread: float = 0.0) -> datetime:
        """When a source is next due: its last fetch plus its interval, or later if backing off."""
        state = self.archive.source_state(source.name)
        due = now
        if state.last_fetch:
            due = parse(state.last_fetch) + timedelta(seconds=source.interval)
        if state.next_attempt:
            due = max(due, parse(state.next_attempt))
        if due <= now:  # never fetched, or overdue: spread out, not all at once
            due = now + timedelta(seconds=random.uniform(0, min(spread, source.interval)))
        return due

    def schedule(self, config: Config) -> None:
        now = utcnow()
        wanted = {s.name: s for s in config.enabled_sources}
        spread = SPREAD_PER_SOURCE * len(wanted)
        for job in self.scheduler.get_jobs():
            if job.id not in wanted and not job.id.startswith("digest:"):
                job.remove()
                logger.info("source unscheduled", extra={"source": job.id})
        for name, source in wanted.items():
            trigger = IntervalTrigger(seconds=source.interval, jitter=min(source.interval / 10, 300))
            if self.scheduler.get_job(name) is not None and self._intervals.get(name) == source.interval:
                continue
            self.scheduler.add_job(self.due.put, trigger, args=[name], id=name, name=name,
                                   replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=None,
                                   next_run_time=self.next_run(source, now, spread))
            self._intervals[name] = source.interval
        self._schedule_digests(config)
        logger.info("sources scheduled", extra={"sources": len(wanted), "digests": len(config.digests),
                                                "config": str(self.config_path)})

    def _schedule_digests(self, config: Config) -> None:
        from zoneinfo import ZoneInfo

        from apscheduler.triggers.cron import CronTrigger

        wanted = {f"digest:{d.name}": d for d in config.digests}
        if wanted and config.smtp is None:  # the shipped feeds.yaml has a digest and no server to send it
            logger.info("digests not scheduled: no smtp: section in feeds.yaml", extra={"digests": len(wanted)})
            wanted = {}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest:") and job.id not in wanted:
                job.remove()
        from veille.outputs.digest import period_start

        now = utcnow()
        for job_id, digest in wanted.items():
            trigger = CronTrigger.from_crontab(digest.schedule, timezone=ZoneInfo(digest.timezone))
            self.scheduler.add_job(self.due.put, trigger, args=[job_id], id=job_id, name=job_id, replace_existing=True,
                                   max_instances=1, coalesce=True, misfire_grace_time=DIGEST_GRACE)
            if now - period_start(digest, now) < timedelta(seconds=DIGEST_GRACE):
                # started (or restarted) shortly after a send time: the fire was missed while down;
                # sending is refused anyway if this period's digest already went out
                self.due.put(job_id)

    def _digest(self, name: str) -> None:
        """A scheduled digest: sent once per period; a failure is logged and the next run retries the window."""
        from veille.outputs import digest as digest_module

        try:
            chosen = self.config.digest(name)
            pipeline.sync_index(self.archive)
            matching = digest_module.matching_ids(self.archive, chosen)
            _, _, _, said = digest_module.run(self.archive, chosen, self.config.smtp, matching_ids=matching,
                                              send_it=True)
            logger.info("digest", extra={"digest": name, "outcome": said})
        except Exception as exc:  # never let a digest stop the fetching
            logger.error("digest not sent", extra={"digest": name, "reason": str(exc)})

    def _reschedule(self, names: list[str]) -> None:
        """After a pass: each source's next run from what the archive now says (backoff, pause)."""
        now = utcnow()
        for name in names:
            job = self.scheduler.get_job(name)
            source = next((s for s in self.config.enabled_sources if s.name == name), None)
            if job is not None and source is not None:
                state = self.archive.source_state(name)
                when = now + timedelta(seconds=source.interval)
                if state.next_attempt:
                    when = max(when, parse(state.next_attempt))
                job.modify(next_run_time=when)

    # -- config ------------------------------------------------------------------------
    def _stat(self) -> float:
        try:
            return self.config_path.stat().st_mtime
        except OSError:
            return 0.0

    def maybe_reload(self) -> None:
        if not self.reload.is_set() and self._stat() == self._mtime:
            return
        self.reload.clear()
        self._mtime = self._stat()
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            logger.error("config not reloaded, keeping the last good one", extra={"reason": str(exc)})
            return
        self.config = config
        self.fetcher.close()  # a new client and gate: timeouts, User-Agent and per-host limits as now written
        if self.capture is not None:
            self.capture.close()
        self.capture = open_capture(config, self.archive)
        self.fetcher = Fetcher(config.settings, capture=self.capture)
        if config.nlp != self.taggers_nlp or worker_count(config.settings) != (self.workers.count if self.workers else 1):
            self.taggers, self.taggers_nlp = pipeline.Taggers(config, self.archive), config.nlp
            if self.workers is not None:
                self.workers.close(wait=False)
            self.workers = self._workers(config)
        self.schedule(config)
        logger.info("config reloaded", extra={"sources": len(config.enabled_sources)})

    # -- the loop ----------------------------------------------------------------------
    def _take_due(self, wait: float = 1.0) -> list[str]:
        names: list[str] = []
        try:
            names.append(self.due.get(timeout=wait))
        except queue.Empty:
            return names
        time.sleep(0.2)  # let sources due in the same moment join this pass
        while True:
            try:
                names.append(self.due.get_nowait())
            except queue.Empty:
                break
        return list(dict.fromkeys(names))

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: self.reload.set())
        self.schedule(self.config)
        self.scheduler.start()
        logger.info("veille run started", extra={"pid": os.getpid(), "archive": self.archive.location})
        try:  # whatever a killed run stored but did not index, before the first pass is due
            caught_up = pipeline.sync_index(self.archive, notice=logger.warning)
            if caught_up:
                logger.info("index caught up", extra={"articles": caught_up})
        except Exception as exc:
            if is_storage_failure(exc):
                raise
            logger.warning("index not caught up", extra={"error": f"{type(exc).__name__}: {exc}"})
        last_check = time.monotonic()
        try:
            while not self.stop.is_set():
                if time.monotonic() - last_check >= self.reload_every:
                    self.maybe_reload()
                    last_check = time.monotonic()
                due = self._take_due()
                for job in [n for n in due if n.startswith("digest:")]:
                    if not self.stop.is_set():
                        self._digest(job.split(":", 1)[1])
                names = [n for n in due if any(s.name == n for s in self.config.enabled_sources)]
                if names and not self.stop.is_set():
                    self._pass(names)
        finally:
            self.scheduler.shutdown(wait=False)
            self.fetcher.close()
            if self.workers is not None:
                self.workers.close(wait=False)
            if self.capture is not None:
                self.capture.close()
            logger.info("veille run stopped", extra={"pid": os.getpid()})
        return 0

    def _pass(self, names: list[str]) -> None:
        started = time.monotonic()
        report = pipeline.fetch_sources(self.config, self.archive, names=names, fetcher=self.fetcher,
                                        taggers=self.taggers, due_only=True, stop=self.stop, workers=self.workers)
        for name in names:
            outcome = report.sources.get(name)
            if outcome is None:
                continue  # not due yet (backing off)
            level = logging.WARNING if outcome.startswith("failed") else logging.INFO
            logger.log(level, "source fetched", extra={"source": name, "outcome": outcome})
        logger.info("pass done", extra={"sources": len(names), "seconds": round(time.monotonic() - started, 1),
                                        **{k: v for k, v in sorted(report.counts.items())}})
        if not self.stop.is_set():
            self._reschedule(names)
            self._forget(names)

    def _forget(self, names: list[str]) -> None:
        """Runs of these sources that fell due during the pass just made are not made again."""
        kept = []
        while True:
            try:
                name = self.due.get_nowait()
            except queue.Empty:
                break
            if name not in names:
                kept.append(name)
        for name in kept:
            self.due.put(name)
