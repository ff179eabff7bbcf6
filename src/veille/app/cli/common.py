"""What every command group shares: the consoles, the formatting helpers, the progress bar, and the
checks of --lang, --source and dates that several commands take."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from veille.config.settings import Config
from veille import pipeline
from veille.storage import Archive

if TYPE_CHECKING:
    from veille.app.cli.main import State

out = Console(highlight=False, soft_wrap=True)  # long lines stay whole when piped
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line, whatever the width

MAX_COUNT = 1_000_000  # --limit, --top, --page: more than an archive lists at once (SQLite's integers end at 2**63)
SUMMARY_JSON = "Print the summary as one JSON object."  # what --json says for the commands that fill the archive


def json_option(help_text: str):
    """`--json` (as `as_json`), saying what this command prints with it."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def quiet_option(help_text: str = "No progress, only the summary."):
    """`-q/--quiet` (as `quiet`): no progress bar."""
    return click.option("-q", "--quiet", is_flag=True, help=help_text)


def workers_option():
    """`--workers N` (as `workers`): NLP worker processes; None: settings.workers, else one per core."""
    return click.option("--workers", type=click.IntRange(1, 64), default=None, metavar="N",
                        help="Processes that extract and tag (default: settings.workers, else one per core; "
                             "1: all in this process).")


def _n(count: int, word: str) -> str:
    """'1 story', '2 stories', '0 articles'."""
    if count == 1:
        return f"1 {word}"
    return f"{count} {word[:-1] + 'ies' if word.endswith('y') and word[-2:-1] not in 'aeiou' else word + 's'}"


def _shown(value: str, width: int = 40) -> str:
    """A value the user typed, quoted and cut short for a one-line message."""
    return repr(value if len(value) <= width else value[:width] + "…")


def _short_time(value: str | None) -> str:
    return value.replace("T", " ").rstrip("Z")[:16] if value else "-"


def _exit_if_nothing(found: int) -> None:
    """Like grep: a search that matched nothing exits 1, so scripts can tell."""
    if not found:
        click.get_current_context().exit(1)


def _check_filters(archive: Archive, lang: str | None, source: str | None) -> tuple[str | None, str | None]:
    """--lang and --source as the archive knows them: a source named in another case is found
    (`--source netzwacht`); a source or language the archive does not hold is one line saying
    which it does hold, not an empty answer."""
    if source is not None and not archive.holds(source=source):
        names = sorted(archive.counts_by_source())
        same = [name for name in names if name.casefold() == source.casefold()]
        if len(same) != 1:
            raise click.BadParameter(f"no source {source!r} in the archive; its sources: "
                                     f"{', '.join(names) or 'none yet'}", param_hint="--source")
        source = same[0]
    if lang is not None:
        from veille.text.langcodes import is_language

        lang = lang.strip().lower()
        if not is_language(lang) and not archive.holds(lang=lang):  # a language with no article yet is no error
            held = ", ".join(f"{code} {n}" for code, n in archive.counts_by_lang().items()) or "none yet"
            raise click.BadParameter(f"unknown language {lang!r} (write an ISO 639-1 code like en, fr, de); "
                                     f"the archive holds: {held}", param_hint="--lang")
    return lang, source


def _check_dates(since: str | None, until: str | None) -> None:
    from datetime import date

    for name, value in (("--since", since), ("--until", until)):
        if not value:
            continue
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a date; write it as YYYY-MM-DD", param_hint=name) from None


def _optional_config(state: State) -> Config | None:
    if not Path(state["config_path"]).exists():
        return None
    return state.config()


def _print_failures(report: pipeline.RunReport) -> None:
    for failure in report.failures:
        err.print(f"[yellow]{escape(failure.source)}[/yellow]: {escape(failure.url)}: {escape(failure.reason)}")


def _print_summary(command: str, report: pipeline.RunReport, seconds: float, as_json: bool) -> None:
    counts = {k: report.counts.get(k, 0) for k in ("new", "updated", "unchanged", "failed")}
    if report.counts.get("skipped"):
        counts["skipped"] = report.counts["skipped"]
    if as_json:
        print(json.dumps({
            "command": command, **counts, "seconds": round(seconds, 2),
            "articles": report.articles,
            "failures": [vars(f) for f in report.failures],
        }, ensure_ascii=False))
        return
    _print_failures(report)
    for name, outcome in report.sources.items():
        if outcome.startswith("paused") or "paused now" in outcome or "moved permanently" in outcome:
            err.print(f"[yellow]{escape(name)}[/yellow]: {escape(outcome)}")
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    if report.sources:
        outcomes = Counter(
            "failed" if o.startswith("failed") else "not modified" if o.startswith("not modified") else
            "paused" if o.startswith("paused") else "read"
            for o in report.sources.values()
        )
        summary += f" · {_n(len(report.sources), 'source')} (" + ", ".join(f"{n} {k}" for k, n in outcomes.items()) + ")"
    out.print(f"{command}: {summary} ({seconds:.1f}s)")


def _catch_up(archive: Archive) -> None:
    """Index what was stored since the last sync, unless a writer (`veille run`, `fetch`...) is at
    work: it keeps the index in step itself, and the reader searches the last committed index."""
    with archive.try_writer("search") as free:
        if free:
            pipeline.sync_index(archive, notice=lambda message: err.print(f"veille: {escape(message)}", soft_wrap=True))


class _progress:
    """A progress bar on stderr (sources for fetch, files for import) with the item in hand.

    Silent with --quiet/--json or when stderr is not a terminal, so logs and pipes stay clean.
    """

    def __init__(self, quiet: bool, label: str) -> None:
        self.quiet = quiet or not err.is_terminal
        self.label = label
        self.bar: Progress | None = None
        self.task = None

    def __enter__(self):
        if self.quiet:
            return None
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[item]}"), console=err, transient=True,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task(self.label, total=None, item="")
        return self.update

    def update(self, event: str, detail: str) -> None:
        assert self.bar is not None
        if event == "total":
            self.bar.update(self.task, total=int(detail))
        elif event in ("source", "file"):
            self.bar.update(self.task, advance=1 if event == "file" else 0, item=escape(detail[-60:]))
            if event == "source":
                self.bar.advance(self.task)
        else:
            self.bar.update(self.task, item=escape(detail[-60:]))

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

