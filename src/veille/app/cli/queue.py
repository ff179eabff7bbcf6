"""The commands of the broker: `veille worker`, `veille jobs` (and `jobs retry`). `veille fetch
--via-queue` lives with fetch (ingest.py) and finds its broker here."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from veille.app.cli.common import _n, err, json_option, out
from veille.errors import ConfigError

if TYPE_CHECKING:
    from veille.app.cli.main import State


def broker_option():
    """`--broker URL` (as `broker`), else VEILLE_BROKER, else settings.broker."""
    return click.option("--broker", metavar="URL", envvar="VEILLE_BROKER", show_envvar=True, default=None,
                        help="The RabbitMQ broker, amqp://USER:PASSWORD@HOST:PORT/VHOST  [default: settings.broker "
                             "in the sources file]")


def broker_address(state: State, given: str | None) -> str:
    """--broker or VEILLE_BROKER when given, else feeds.yaml's settings.broker; else one line saying how."""
    if given:
        return given.strip()
    if Path(state["config_path"]).is_file() and state.config().settings.broker:
        return state.config().settings.broker
    raise ConfigError("no broker: give --broker amqp://USER:PASSWORD@HOST:PORT/VHOST, set VEILLE_BROKER, or write "
                      "`broker:` under settings in feeds.yaml (`veille fetch` without --via-queue needs none)")


def job_addresses(state: State) -> tuple[str, str]:
    """The config file and the archive as a worker elsewhere must read them: absolute where they are paths."""
    from veille.storage import is_server

    archive = state["archive_path"]
    if not is_server(archive) and "://" not in archive:
        archive = str(Path(archive).resolve())
    return str(Path(state["config_path"]).resolve()), archive


@click.command()
@click.option("--queues", "-Q", default="fetch", show_default=True, metavar="NAMES",
              help="The queues to serve, comma-separated (for now: fetch).")
@click.option("--concurrency", "-c", type=click.IntRange(1, 64), default=1, show_default=True, metavar="N",
              help="Jobs run at once, each in a process of its own (on a SQLite archive they take turns).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning"]), default="info", show_default=True,
              help="How much the worker logs: each job (info), or Celery's own details too (debug).")
@broker_option()
@click.pass_obj
def worker(state: State, queues: str, concurrency: int, log_level: str, broker: str | None) -> None:
    """Run jobs from the broker until stopped: each source's pass, as `veille fetch` runs it.

    The jobs say which feeds.yaml and which archive they are for; every worker must reach both
    (several workers at once need a PostgreSQL archive to write side by side). SIGTERM or Ctrl-C
    stop it once the jobs in hand are done; a worker killed outright has its jobs given to another.
    Example: veille worker --queues fetch --concurrency 2
    """
    from veille.service.queue import QUEUES
    from veille.service.queue.app import make_app, reach, without_password

    names = [name.strip() for name in queues.split(",") if name.strip()]
    unknown = [name for name in names if name not in QUEUES]
    if unknown or not names:
        raise ConfigError(f"--queues: {', '.join(unknown) or 'none given'} is not a queue veille serves; "
                          f"write {', '.join(QUEUES)}")
    url = broker_address(state, broker)
    app = make_app(url)
    reach(app)
    level = getattr(logging, log_level.upper())
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))  # a line per request: only with --debug
    err.print(f"veille worker: {', '.join(names)} on {escape(without_password(url))}, {_n(concurrency, 'process')}; "
              "Ctrl-C stops", soft_wrap=True)
    running = app.Worker(queues=names, concurrency=concurrency, pool="prefork", loglevel=level, quiet=True,
                         hostname=f"veille-{os.getpid()}@{socket.gethostname()}", without_mingle=True,
                         without_gossip=True, optimization="fair")
    running.start()
    raise click.exceptions.Exit(running.exitcode or 0)


@click.group(invoke_without_command=True)
@broker_option()
@json_option("One JSON object: the queues and the quarantined jobs.")
@click.pass_context
def jobs(ctx: click.Context, broker: str | None, as_json: bool) -> None:
    """Show the jobs on the broker: each queue's waiting jobs and workers, and the quarantined jobs with their reasons.

    Example: veille jobs   (then: veille jobs retry)
    """
    ctx.obj["broker"] = broker
    if ctx.invoked_subcommand is not None:
        return
    from veille.service.queue.jobs import jobs_report

    report = jobs_report(broker_address(ctx.obj, broker))
    if as_json:
        print(json.dumps({"queues": [vars(q) for q in report.queues], "quarantined": report.quarantined},
                         ensure_ascii=False))
        return
    for queue in report.queues:
        out.print(f"{queue.name:<12} {_n(queue.ready, 'job')} waiting, {_n(queue.consumers, 'worker')}")
    for job in report.quarantined:
        out.print(f"quarantined {str(job.get('id', '?'))[:8]} {escape(str(job.get('source', '?')))} "
                  f"after {_n(int(job.get('attempts', 0)), 'attempt')} ({job.get('at', '?')}): "
                  f"{escape(str(job.get('reason', '?')))}")
    if report.quarantined:
        out.print("`veille jobs retry` sends them to their queue again (`veille jobs retry ID` for one)")


@jobs.command(name="retry")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@broker_option()
@click.pass_obj
def jobs_retry(state: State, ids: tuple[str, ...], broker: str | None) -> None:
    """Send the quarantined jobs (all, or those named by the start of their id) to their queue again.

    Example: veille jobs retry 3f2a91c0
    """
    from veille.service.queue.jobs import retry_quarantined

    moved = retry_quarantined(broker_address(state, broker or state.get("broker")), ids)
    for job in moved:
        out.print(f"queued again: {str(job.get('id', '?'))[:8]} {escape(str(job.get('source', '?')))}")
    out.print(f"jobs retry: {_n(len(moved), 'job')} queued again")
    if ids and not moved:
        raise click.exceptions.Exit(1)
