"""The commands that fill the archive: fetch, import, retag, dedupe, reindex, run."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from veille.app.cli.common import (
    SUMMARY_JSON, _n, _optional_config, _print_failures, _print_summary, _progress, err, json_option, out,
    quiet_option, workers_option,
)
from veille.app.cli.queue import broker_address, broker_option, job_addresses
from veille import pipeline
from veille.config.settings import Settings, worker_count

if TYPE_CHECKING:
    from veille.app.cli.main import State


@click.command()
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable).")
@workers_option()
@click.option("--via-queue", is_flag=True, help="Queue one job per source on the broker for `veille worker`s "
              "to run, and wait for them (see --broker).")
@broker_option()
@click.option("--wait", type=click.FloatRange(1), default=3600, show_default=True, metavar="SECONDS",
              help="With --via-queue: how long to wait for the workers.")
@quiet_option()
@json_option(SUMMARY_JSON)
@click.pass_obj
def fetch(state: State, sources: tuple[str, ...], workers: int | None, via_queue: bool, broker: str | None,
          wait: float, quiet: bool, as_json: bool) -> None:
    """Fetch every enabled source once: feeds, their new articles, pages.

    With --via-queue, `veille worker`s on the broker do the work, a job per source; the summary is the same.
    Example: veille fetch --source "La Quadrature du Net"
    """
    config = state.config()
    started = time.monotonic()
    if via_queue:
        from veille.service.queue.submit import fetch_via_queue

        config_path, archive_url = job_addresses(state)
        with _progress(quiet or as_json, "fetching") as progress:
            report = fetch_via_queue(config, config_path, archive_url, broker_address(state, broker),
                                     names=sources or None, wait=wait, progress=progress)
        _print_summary("fetch", report, time.monotonic() - started, as_json)
        return
    archive = state.writer("fetch", create=True)
    with _progress(quiet or as_json, "fetching") as progress:
        report = pipeline.fetch_sources(config, archive, names=sources or None, progress=progress, workers=workers)
    _print_summary("fetch", report, time.monotonic() - started, as_json)


@click.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@workers_option()
@quiet_option()
@json_option(SUMMARY_JSON)
@click.pass_obj
def import_(state: State, paths: tuple[Path, ...], workers: int | None, quiet: bool, as_json: bool) -> None:
    """Import local files and folders (.html, .htm, .txt, .md) into the archive.

    Example: veille import seeds/ saved-page.html
    """
    missing = [path for path in paths if not path.exists() and not path.is_symlink()]
    if missing and len(missing) < len(paths):  # import what exists, report the rest (all missing: one line, exit 2)
        paths = tuple(path for path in paths if path not in missing)
    else:
        missing = []
    archive = state.writer("import", create=True)
    started = time.monotonic()
    with _progress(quiet or as_json, "importing") as progress:
        config = _optional_config(state)
        taggers = pipeline.Taggers(config, archive)
        report = pipeline.import_paths(paths, archive, taggers=taggers, progress=progress,
                                       stories=config.dedupe if config else None,
                                       workers=_import_workers(config.settings if config else Settings(), workers,
                                                               paths),
                                       max_bytes=config.settings.max_body if config else pipeline.MAX_IMPORT_BYTES)
    for path in missing:
        report.fail(pipeline.IMPORT_SOURCE, str(path), "does not exist; check the path")
    _print_summary("import", report, time.monotonic() - started, as_json)
    if missing:
        raise click.exceptions.Exit(1)


SMALL_IMPORT = 200  # files: fewer are read in this process unless --workers, settings.workers or VEILLE_WORKERS say otherwise


def _import_workers(settings: Settings, given: int | None, paths: tuple[Path, ...]) -> int:
    """Worker processes take about 7 CPU seconds to load their models, and save about 1/90 s a
    file on 2 cores (bench_workers.py): a few files are read and tagged sooner in this process."""
    count = worker_count(settings, given)
    chosen = given is not None or settings.workers is not None or os.environ.get("VEILLE_WORKERS", "").strip()
    if count > 1 and not chosen and len(pipeline.collect_paths(paths)) < SMALL_IMPORT:
        return 1
    return count


@click.command()
@click.option("--lang", help="Only articles in this language.")
@workers_option()
@quiet_option()
@json_option(SUMMARY_JSON)
@click.pass_obj
def retag(state: State, lang: str | None, workers: int | None, quiet: bool, as_json: bool) -> None:
    """Tag again the articles whose entities and topics came from older models or data files.

    Resumable: stop it at any time, run it again, and it carries on where it stopped.
    Example: veille retag --lang fr
    """
    archive = state.writer("retag")
    started = time.monotonic()
    with _progress(quiet or as_json, "tagging") as progress:
        report = pipeline.retag(_optional_config(state), archive, lang=lang, progress=progress, workers=workers)
    if as_json:  # the same summary object as the other commands ("updated": articles tagged again)
        _print_summary("retag", report, time.monotonic() - started, as_json)
        return
    _print_failures(report)
    tagged, failed = report.counts.get("updated", 0), report.counts.get("failed", 0)
    said = (f"{_n(tagged, 'article')} tagged again" if tagged or failed else
            "nothing to tag again: every article was tagged by the current models and data files")
    out.print(f"retag: {said}{f', {failed} failed' if failed else ''} ({time.monotonic() - started:.1f}s)")


@click.command()
@click.option("--rebuild", is_flag=True, help="Recompute every story from the fingerprints (what dedupe does; "
              "the flag may be left out).")
@quiet_option()
@json_option(SUMMARY_JSON)
@click.pass_obj
def dedupe(state: State, rebuild: bool, quiet: bool, as_json: bool) -> None:
    """Recompute every story (after a settings change), oldest article first; resumable.

    Example: veille dedupe --rebuild   (or just: veille dedupe)
    """
    archive = state.writer("dedupe")
    started = time.monotonic()
    with _progress(quiet or as_json, "stories") as progress:
        config = _optional_config(state)
        report = pipeline.rebuild_stories(archive, config.dedupe if config else None, progress=progress)
    _print_summary("dedupe", report, time.monotonic() - started, as_json)


@click.command()
@quiet_option("No progress bar.")
@click.pass_obj
def reindex(state: State, quiet: bool) -> None:
    """Delete the search index and build it again from the archive.

    Example: veille reindex
    """
    archive = state.writer("reindex")
    started = time.monotonic()
    with _progress(quiet, "indexing") as progress:
        count = pipeline.reindex(archive, progress=progress)
    out.print(f"reindex: {_n(count, 'article')} indexed ({time.monotonic() - started:.1f}s)")


@click.command()
@click.option("--log-level", type=click.Choice(["debug", "info", "warning"]), default="info", show_default=True,
              help="How much the log says, on stderr and in the archive's logs/veille.log.")
@click.pass_obj
def run(state: State, log_level: str) -> None:
    """Run unattended: fetch every enabled source on its own schedule until stopped.

    Logs go to stderr and to ARCHIVE/logs/veille.log (rotated). SIGTERM or Ctrl-C stop it
    after the article in hand; SIGHUP or saving feeds.yaml reloads the sources.
    Example: veille run
    """
    from veille.service.scheduler import Service, setup_logging

    archive = state.writer("run", create=True)
    log_path = setup_logging(archive.log_folder(), getattr(logging, log_level.upper()))
    service = Service(state["config_path"], archive)
    err.print(f"veille run: {_n(len(service.config.enabled_sources), 'source')}; log in {log_path}; Ctrl-C stops",
              soft_wrap=True)
    service.run()

