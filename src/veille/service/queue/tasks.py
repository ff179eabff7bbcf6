"""The jobs a worker runs. One for now: `fetch_source`, one source's pass, the same
`pipeline.fetch_sources` that `veille fetch` runs, for that one source.

A pass whose source failed (a feed that is not a feed, a 500, a timeout) raises JobFailedError: the
job is tried again after settings.job_retry_delay seconds, then twice that, ..., settings.job_retries
times; then it goes to the quarantine queue with its reason, and its result says so. A job that can
never work (no such source in feeds.yaml) is quarantined at once.

On a SQLite archive each job holds the archive's one-writer lock while it runs (one job at a time,
whatever the number of workers); on PostgreSQL it takes the archive's shared advisory lock, and jobs
run side by side.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task

from veille.config.settings import Config, load_config
from veille.errors import ArchiveBusyError, ConfigError, JobFailedError
from veille.service.queue import FETCH_SOURCE
from veille.text.times import iso, utcnow

logger = logging.getLogger(__name__)

LOCK_WAIT = 600.0  # seconds a job waits for a SQLite archive's writer (another job's pass) before retrying


def register(app: Celery) -> None:
    app.task(name=FETCH_SOURCE, bind=True, acks_late=True, reject_on_worker_lost=True,
             max_retries=None)(fetch_source)


def fetch_source(task: Task, config_path: str, archive_url: str, source_name: str, run_id: str,
                 paused_too: bool = True) -> dict[str, Any]:
    """One source's pass into the archive at `archive_url`; its report as plain values."""
    logger.info("job started", extra={"job": task.request.id, "run": run_id, "source": source_name,
                                      "attempt": task.request.retries + 1})
    config: Config | None = None
    try:
        config = load_config(config_path)
        return run_source(config, archive_url, source_name, paused_too)
    except ConfigError as exc:  # no retry heals feeds.yaml: quarantined at once
        return quarantine(task, source_name, run_id, str(exc))
    except Exception as exc:  # the source failed, or the archive was busy or away: again later
        retries = config.settings.job_retries if config else 0
        if task.request.retries < retries:
            delay = (config.settings.job_retry_delay if config else 0.0) * 2 ** task.request.retries
            logger.info("job retried", extra={"job": task.request.id, "source": source_name, "reason": str(exc),
                                              "in": delay})
            raise task.retry(exc=exc, countdown=delay) from None
        return quarantine(task, source_name, run_id, reason_of(exc))


def run_source(config: Config, archive_url: str, source_name: str, paused_too: bool) -> dict[str, Any]:
    from veille.pipeline import fetch_sources
    from veille.storage import open_archive, writer_lock

    config.source(source_name)  # ConfigError when feeds.yaml names no such source
    lock = writer_lock(archive_url, "worker").acquire(wait=LOCK_WAIT)
    try:
        with open_archive(archive_url) as archive:
            # workers=1: read and tag in this process (the worker's pool is the parallelism)
            report = fetch_sources(config, archive, names=[source_name], workers=1, paused_too=paused_too)
    finally:
        lock.release()
    outcome = report.sources.get(source_name, "")
    if outcome.startswith("failed"):
        raise JobFailedError(outcome.removeprefix("failed: "))
    return {"source": source_name, "counts": dict(report.counts), "articles": report.articles,
            "failures": [vars(f) for f in report.failures], "sources": report.sources}


def reason_of(exc: BaseException) -> str:
    if isinstance(exc, (JobFailedError, ArchiveBusyError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def quarantine(task: Task, source_name: str, run_id: str, reason: str) -> dict[str, Any]:
    """Put the job on the quarantine queue with its reason; its result says it was quarantined."""
    from veille.service.queue.app import quarantine_queue

    attempts = task.request.retries + 1
    body = {"id": task.request.id, "task": task.name, "args": list(task.request.args or []),
            "kwargs": dict(task.request.kwargs or {}), "source": source_name, "run": run_id,
            "reason": reason, "attempts": attempts, "at": iso(utcnow())}
    queue = quarantine_queue()
    with task.app.producer_or_acquire() as producer:
        producer.publish(body, exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue],
                         serializer="json", delivery_mode=2, retry=True)
    logger.warning("job quarantined", extra={"job": task.request.id, "source": source_name, "reason": reason})
    said = f"failed: {reason}; quarantined after {attempts} attempt{'s' if attempts > 1 else ''} (`veille jobs`)"
    return {"source": source_name, "counts": {"failed": 1}, "articles": [], "quarantined": reason,
            "failures": [{"source": source_name, "url": "", "reason": f"quarantined: {reason}"}],
            "sources": {source_name: said}}
