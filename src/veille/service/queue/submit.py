"""`veille fetch --via-queue`: one job per source on the broker, waited for, one report.

The report is the one `veille fetch` prints (pipeline.RunReport), put together from the jobs'
results as they come back; a job still out when the deadline passes is named, not waited for.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any, Callable, Iterable

from celery.exceptions import TimeoutError as NoResultYet

from veille.config.settings import Config
from veille.errors import BrokerError
from veille.pipeline.reports import Failure, RunReport
from veille.service.queue import FETCH_SOURCE, QUEUE_FETCH
from veille.service.queue.app import broker_error, make_app, reach, without_password

WAIT = 3600.0  # seconds: how long a pass through the queue is waited for, by default


def fetch_via_queue(config: Config, config_path: str, archive_url: str, broker: str, *,
                    names: Iterable[str] | None = None, wait: float = WAIT,
                    progress: Callable[[str, str], None] | None = None) -> RunReport:
    """Queue one `fetch_source` job per enabled source (or per named one) and wait for them all."""
    named = list(names or [])
    sources = [config.source(n).name for n in named] if named else [s.name for s in config.enabled_sources]
    app = make_app(broker)
    reach(app)
    run_id = uuid.uuid4().hex
    if progress:
        progress("total", str(len(sources)))
    try:
        results = [(name, app.send_task(FETCH_SOURCE, args=[config_path, archive_url, name, run_id],
                                        kwargs={"paused_too": bool(named)}, queue=QUEUE_FETCH))
                   for name in sources]
        return _collect(results, wait, broker, progress)
    except BrokerError:
        raise
    except OSError as exc:  # the broker went away while we waited
        raise broker_error(broker, exc) from None
    finally:
        app.close()


def _collect(results: list, wait: float, broker: str, progress: Callable[[str, str], None] | None) -> RunReport:
    report = RunReport()
    deadline = time.monotonic() + wait
    for name, result in results:
        try:
            value = result.get(timeout=max(deadline - time.monotonic(), 0.1), propagate=False, interval=0.2)
        except NoResultYet:
            value = None
        if progress:
            progress("source", name)
        if isinstance(value, dict):
            merge(report, value)
        elif value is None:
            report.fail(name, "", f"no answer from a worker within {wait:.0f} s (is `veille worker` running "
                        f"on {without_password(broker)}?); the job stays queued")
            report.sources[name] = "failed: no answer from a worker"
        else:  # an exception the task let through (it should not)
            report.fail(name, "", f"the job failed ({type(value).__name__}: {value})")
            report.sources[name] = f"failed: {value}"
    return report


def merge(report: RunReport, value: dict[str, Any]) -> None:
    """One job's result into the pass's report."""
    report.counts.update(Counter(value.get("counts", {})))
    report.articles.extend(value.get("articles", []))
    report.failures.extend(Failure(**failure) for failure in value.get("failures", []))
    report.sources.update(value.get("sources", {}))
