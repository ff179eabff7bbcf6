"""The Celery app of one broker URL, as workers and the commands that queue jobs build it.

Acknowledged late (`task_acks_late`) and one message at a time (`worker_prefetch_multiplier=1`): a
job leaves the broker only once its pass is stored, so a worker killed in the middle of one (kill -9,
the machine gone) has its job given to the next worker (`task_reject_on_worker_lost`). Arguments and
results are JSON: plain values only, never a pickled archive handle.
"""

from __future__ import annotations

import re
import socket

from celery import Celery
from kombu import Exchange, Queue

from veille.errors import BrokerError
from veille.service.queue import QUEUE_FETCH, QUEUE_QUARANTINE

CONNECT_TIMEOUT = 10.0  # seconds: a broker that does not answer within this is said to be down


def make_app(broker: str) -> Celery:
    """The Celery app for `broker` (amqp://...), its results sent back over the broker (rpc://)."""
    app = Celery("veille", broker=broker, backend="rpc://", set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE_FETCH,
        task_queues=[Queue(QUEUE_FETCH, Exchange(QUEUE_FETCH, type="direct"), routing_key=QUEUE_FETCH, durable=True)],
        task_create_missing_queues=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=CONNECT_TIMEOUT,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        result_expires=None,
        enable_utc=True,
    )
    from veille.service.queue.tasks import register

    register(app)
    return app


def quarantine_queue() -> Queue:
    return Queue(QUEUE_QUARANTINE, Exchange(QUEUE_QUARANTINE, type="direct"), routing_key=QUEUE_QUARANTINE,
                 durable=True)


def reach(app: Celery) -> None:
    """Connect once, now: a broker that does not answer is one line naming it (BrokerError)."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # refused, unknown host, wrong password, not AMQP: all alike to the user
        raise broker_error(app.conf.broker_url, exc) from None


def broker_error(url: str, exc: BaseException) -> BrokerError:
    reason = str(exc).strip() or type(exc).__name__
    if isinstance(exc, (ConnectionRefusedError, socket.timeout, TimeoutError)) or "refused" in reason.lower():
        hint = "start RabbitMQ there, or give the right --broker / VEILLE_BROKER / settings.broker"
    elif "ACCESS_REFUSED" in reason or "login" in reason.lower():
        hint = "check the user and password in the broker's address"
    else:
        hint = "check the broker's address (--broker, VEILLE_BROKER or settings.broker)"
    return BrokerError(f"the broker {without_password(url)} does not answer ({reason.splitlines()[0][:200]}); {hint}")


def without_password(url: str) -> str:
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)
