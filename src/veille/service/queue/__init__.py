"""Jobs on a broker: Celery workers on RabbitMQ carry the passes the local runner runs in-process.

    app         the Celery app of a broker URL: queues, late acknowledgement, prefetch 1, JSON only
    tasks       `fetch_source`: one source's pass (pipeline.fetch_sources), retried, then quarantined
    submit      `veille fetch --via-queue`: one job per source, waited for, one report
    jobs        `veille jobs`: queue depths, the quarantine, and `veille jobs retry`

A job is plain values (the config file's path, the archive's address, a source's name, a run id),
never an open archive or a closure: any worker on any machine that reads the same feeds.yaml and
reaches the same archive can run it. A job is idempotent by construction: articles are keyed by
their URL, an entry already seen is not fetched again and content hashes tell an unchanged page, so
a job redelivered after its worker died stores nothing twice.

`veille run` and `veille fetch` need none of this: no broker, no server.
"""

from __future__ import annotations

QUEUE_FETCH = "fetch"  # feeds and their pages, read, tagged and stored: one source's pass a job
QUEUE_QUARANTINE = "quarantine"  # jobs that kept failing, with their reasons (plain JSON, not tasks)
QUEUES = (QUEUE_FETCH,)  # the queues a worker may serve
FETCH_SOURCE = "veille.fetch_source"
