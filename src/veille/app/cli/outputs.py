"""What goes out of the archive: veille digest, veille export."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from veille.app.cli.common import _catch_up, _check_dates, _check_filters, _n, _progress, out, quiet_option

if TYPE_CHECKING:
    from veille.app.cli.main import State


@click.command()
@click.argument("name")
@click.option("--dry-run", "dry_run", is_flag=True, help="Render without sending and without marking anything.")
@click.option("--send", "send_it", is_flag=True, help="Send it, and record the send (once per period).")
@click.option("--force", is_flag=True, help="With --send: send again even if this period's digest went out.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Also write the message to FILE.eml.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Also write its HTML part to FILE.html.")
@click.pass_obj
def digest(state: State, name: str, dry_run: bool, send_it: bool, force: bool, out_path: Path | None,
           html_path: Path | None) -> None:
    """Render or send a digest from feeds.yaml: the stories new since it was last sent.

    Example: veille digest weekly --dry-run --out weekly.eml
    """
    from datetime import datetime, timezone

    from veille.outputs import digest as digest_module

    if send_it == dry_run:
        raise click.UsageError("say --dry-run (render only) or --send")
    config = state.config()
    chosen = config.digest(name)
    archive = state.archive()
    now = datetime.now(timezone.utc)  # before the index catches up: whatever is stored later waits for next time
    _catch_up(archive)
    matching = digest_module.matching_ids(archive, chosen)
    issue, message, sent, said = digest_module.run(archive, chosen, config.smtp, matching_ids=matching,
                                                   now=now, send_it=send_it, force=force)
    if message is not None and dry_run and not (out_path or html_path):  # a preview on screen
        out.print(escape(message.get_body(("plain",)).get_content().rstrip()), highlight=False)
        out.print()
    if message is not None and (out_path or html_path):
        html = message.get_body(("html",)).get_content()
        if out_path:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_bytes(bytes(message))
        if html_path:
            html_path.parent.mkdir(parents=True, exist_ok=True)
            html_path.write_text(html, encoding="utf-8")
    out.print(escape(said))
    for path in (out_path, html_path):
        if path and message is not None:
            out.print(f"  wrote {escape(str(path))}")


@click.command(name="export")
@click.argument("query", required=False, default="")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet", "spacy"]), default="jsonl",
              show_default=True, help="JSON Lines, a CSV pair (articles and entities), Parquet with nested "
              "entities, or spaCy DocBins for training.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="The data file; the dataset card (datapackage.json, README.md) goes beside it.")
@click.option("--lang", help="Only articles in this language.")
@click.option("--source", help="Only articles of this source.")
@click.option("--since", metavar="DATE", help="Published on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Published on or before DATE (YYYY-MM-DD).")
@click.option("--saved", metavar="NAME", help="The query and filters of a saved search.")
@click.option("--stories", type=click.Choice(["all", "originals"]), default="all", show_default=True,
              help="Every member of every story, or one row per story (its original).")
@click.option("--no-text", is_flag=True, help="Leave the article text out.")
@click.option("--with-html", is_flag=True, help="Add the raw HTML as received, for re-extraction.")
@quiet_option("No progress bar.")
@click.pass_obj
def export_(state: State, query: str, fmt: str, out_path: Path, lang: str | None, source: str | None,
            since: str | None, until: str | None, saved: str | None, stories: str, no_text: bool, with_html: bool,
            quiet: bool) -> None:
    """Export articles as a dataset: full text, stories, tags, entities with offsets, provenance.

    Example: veille export 'tag:facial-recognition' --format parquet --out exports/fr.parquet
    """
    from veille.app.queries import find_ids, parse_query, resolve_saved
    from veille.outputs.export import Selection, export

    _check_dates(since, until)
    archive = state.archive()
    if saved:
        query, lang, source = resolve_saved(archive, saved, query, lang, source)
    lang, source = _check_filters(archive, lang, source)
    matching = None
    if query.strip():
        tree = parse_query(query)
        _catch_up(archive)
        ids, _ = find_ids(archive, None, tree)
        matching = set(ids)
    selection = Selection(query=query, lang=lang, source=source, since=since, until=until, stories=stories,
                          text=not no_text, html=with_html)
    started = time.monotonic()
    with _progress(quiet, "exporting") as progress:
        if progress:
            progress("total", str(len(matching) if matching is not None else archive.count_articles()))
        done = export(archive, selection, fmt, out_path, matching,
                      progress=(lambda item: progress("file", item)) if progress else None)
    out.print(f"export: {_n(done['rows'], 'article')} in {_n(done['stories'], 'story')} to {', '.join(done['files'])} "
              f"and the dataset card beside it ({time.monotonic() - started:.1f}s)")

