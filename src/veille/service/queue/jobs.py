"""`veille jobs`: what waits on the broker, and the quarantine.

Queue depths come from a passive declare (the broker's own count of ready messages, and of the
workers consuming). Quarantined jobs are read without being taken: fetched unacknowledged, then
handed back when the channel closes, in their order. `retry` sends each quarantined job to its queue
again (its attempts start afresh) and only then removes it from the quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from veille.service.queue import FETCH_SOURCE, QUEUE_FETCH, QUEUE_QUARANTINE, QUEUES
from veille.service.queue.app import broker_error, make_app, quarantine_queue, reach

SHOWN = 1000  # quarantined jobs listed at most


@dataclass
class QueueDepth:
    name: str
    ready: int  # messages waiting for a worker (jobs in flight are not counted)
    consumers: int  # workers serving the queue


@dataclass
class JobsReport:
    queues: list[QueueDepth]
    quarantined: list[dict[str, Any]]


def jobs_report(broker: str) -> JobsReport:
    """Each queue's depth and its workers, and the quarantined jobs with their reasons."""
    app = make_app(broker)
    reach(app)
    try:
        with app.connection_for_read() as conn:
            queues = [_depth(conn, name) for name in (*QUEUES, QUEUE_QUARANTINE)]
            quarantined = _browse(conn, min(queues[-1].ready, SHOWN))
        return JobsReport(queues, quarantined)
    except OSError as exc:
        raise broker_error(broker, exc) from None
    finally:
        app.close()


def retry_quarantined(broker: str, ids: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Send the quarantined jobs (all, or those whose id starts with one of `ids`) to their queue again."""
    wanted = [i for i in ids if i]
    app = make_app(broker)
    reach(app)
    moved, kept = [], []
    try:
        with app.connection_for_write() as conn:
            channel = conn.channel()
            quarantine_queue()(channel).declare()
            while (message := channel.basic_get(QUEUE_QUARANTINE, no_ack=False)) is not None:
                body = _json(message.body)
                if wanted and not any(str(body.get("id", "")).startswith(i) for i in wanted):
                    kept.append(message)
                    continue
                app.send_task(body.get("task", FETCH_SOURCE), args=body.get("args", []),
                              kwargs=body.get("kwargs", {}), queue=QUEUE_FETCH, ignore_result=True)
                channel.basic_ack(message.delivery_tag)
                moved.append(body)
            channel.close()  # the jobs not asked for go back to the quarantine, as they were
        return moved
    except OSError as exc:
        raise broker_error(broker, exc) from None
    finally:
        app.close()


def _depth(conn, name: str) -> QueueDepth:
    channel = conn.channel()
    try:
        _, ready, consumers = channel.queue_declare(name, passive=True)
        return QueueDepth(name, ready, consumers)
    except Exception as exc:
        if "NOT_FOUND" in str(exc):  # never declared yet: no worker has started, no job was queued
            return QueueDepth(name, 0, 0)
        raise
    finally:
        try:
            channel.close()
        except Exception:
            pass


def _browse(conn, count: int) -> list[dict[str, Any]]:
    """The first `count` quarantined jobs, left where they are."""
    if not count:
        return []
    channel = conn.channel()
    found = []
    try:
        for _ in range(count):
            message = channel.basic_get(QUEUE_QUARANTINE, no_ack=False)
            if message is None:
                break
            found.append(_json(message.body))
    finally:
        channel.close()  # unacknowledged: all handed back to the quarantine
    return found


def _json(body: bytes | str) -> dict[str, Any]:
    import json

    try:
        value = json.loads(body)
    except (TypeError, ValueError):
        return {"reason": "not a veille job (not JSON)"}
    return value if isinstance(value, dict) else {"reason": "not a veille job"}
