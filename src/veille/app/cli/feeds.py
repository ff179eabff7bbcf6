"""veille feeds ...: the sources in feeds.yaml, and what the archive knows of them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from veille.app.cli.common import _n, err, json_option, out
from veille.app.reports import check_sources, feed_records
from veille.errors import VeilleError

if TYPE_CHECKING:
    from veille.app.cli.main import State


@click.group()
def feeds() -> None:
    """Manage the sources in feeds.yaml (comments and order are kept).

    Example: veille feeds add https://technopolice.fr --lang fr
    """


@feeds.command(name="list")
@json_option("JSON Lines: one source per line.")
@click.pass_obj
def feeds_list(state: State, as_json: bool) -> None:
    """List the sources with their state. Example: veille feeds list"""
    records = feed_records(state.config(), state.archive() if state.has_archive() else None)
    for record in records:
        if as_json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            condition = record["state"]
            colour = {"ok": "green", "paused": "red", "failing": "yellow"}.get(condition, "dim")
            out.print(f"[{colour}]{condition:>7}[/{colour}]  [bold]{escape(record['name'])}[/bold]  {escape(record['url'])}"
                      f"  [dim]{record['kind']} · {record['language'] or 'auto'} · every {_interval(record['interval'])}[/dim]")


@feeds.command(name="add")
@click.argument("url")
@click.option("--name", help="Name of the source (default: the feed's title).")
@click.option("--lang", help="Language of the source, like fr (default: the feed's own).")
@click.option("--tags", help="Comma-separated tags, like police,biometrics.")
@click.option("--pick", type=click.IntRange(min=1), help="Which of several discovered feeds to add.")
@click.option("--page", "as_page", is_flag=True, help="Add URL as a page to watch, not a feed.")
@click.option("--listing", "as_listing", is_flag=True,
              help="Add URL as a listing page (press releases, news): its article links become entries.")
@click.option("--links", metavar="SELECTOR", help="With --listing: a CSS selector or URL pattern for the article links.")
@click.pass_obj
def feeds_add(state: State, url: str, name: str | None, lang: str | None, tags: str | None, pick: int | None,
              as_page: bool, as_listing: bool, links: str | None) -> None:
    """Add a feed; given a web site, find its feeds and offer them.

    Example: veille feeds add https://www.laquadrature.net --tags privacy
    """
    from veille.config.feedsfile import FeedsFile
    from veille.net import Fetcher, check_url
    from veille.pipeline.discover import discover

    check_url(url)
    file = FeedsFile(state["config_path"])
    settings = state.config().settings if Path(state["config_path"]).exists() else None
    from veille.config.settings import Settings

    title, language, kind = None, lang, "page" if as_page else "listing" if as_listing else "feed"
    if links and not as_listing:
        raise click.UsageError("--links goes with --listing")
    if as_page or as_listing:
        chosen = url
        if as_listing:
            title = _try_listing(url, links, settings or Settings())
    else:
        with Fetcher(settings or Settings()) as fetcher:
            try:
                found = discover(url, fetcher)
            except VeilleError as exc:
                raise VeilleError(f"feeds add: cannot read {url} ({exc}); check the address") from None
        if not found:
            raise VeilleError(f"feeds add: no feed found at {url} (no <link rel=alternate>, none at /feed, /rss.xml, "
                              "..., no sitemap in robots.txt or at /sitemap.xml); pass the feed's own URL, or "
                              "--page to watch the page itself, or add it to feeds.yaml as `kind: listing`")
        if len(found) > 1 and pick is None:
            for number, feed in enumerate(found, start=1):
                out.print(f"  {number}. {escape(feed.title or '(untitled)')}  {escape(feed.url)}  "
                          f"[dim]{feed.entries} entries · {feed.language or 'language not given'}[/dim]")
            if not sys.stdin.isatty():
                raise VeilleError(f"feeds add: {len(found)} feeds found at {url}; choose one with --pick N")
            pick = click.prompt("Which one", type=click.IntRange(1, len(found)))
        if pick is not None and pick > len(found):
            raise VeilleError(f"feeds add: --pick {pick}, but only {_n(len(found), 'feed')} {'was' if len(found) == 1 else 'were'} found")
        feed = found[(pick or 1) - 1]
        chosen, title, kind = feed.url, feed.title if feed.kind == "feed" else None, feed.kind
        language = lang or (feed.language or "").lower()[:2] or None
    if chosen in file.urls():
        raise VeilleError(f"feeds add: {chosen} is already in {file.path}")
    final = name or file.unique_name(title or urlsplit_host(chosen))
    file.add(final, chosen, kind=kind, language=language, links=links,
             tags=[t.strip() for t in tags.split(",") if t.strip()] if tags else None)
    file.save()
    out.print(f"added {escape(final)}: {escape(chosen)}" + (f" (a {kind})" if kind == "sitemap" else "")
              + f" to {file.path}")


def _try_listing(url: str, links: str | None, settings) -> str | None:
    """Read the listing page once and say which article links it gives; its title, for the name."""
    from veille import pipeline
    from veille.net import Fetcher

    with Fetcher(settings) as fetcher:
        try:
            response = fetcher.get(url)
            found = pipeline.read_listing(pipeline.FeedJob("new", url, "listing", links=links), response)
        except VeilleError as exc:
            raise VeilleError(f"feeds add: {url} does not work as a listing ({exc})") from None
    out.print(f"  {_n(len(found.entries), 'article link')}: {escape(found.warning or '')}")
    for entry in found.entries[:5]:
        out.print(f"    {escape(entry.title or entry.url)}  [dim]{escape(entry.url)}[/dim]")
    return found.title


@feeds.command(name="remove")
@click.argument("name")
@click.pass_obj
def feeds_remove(state: State, name: str) -> None:
    """Remove a source from feeds.yaml (its articles stay in the archive). Example: veille feeds remove lemonde"""
    from veille.config.feedsfile import FeedsFile

    file = FeedsFile(state["config_path"])
    if not file.remove(name):
        raise VeilleError(f"feeds remove: no source named {name!r}; `veille feeds list` shows them")
    file.save()
    out.print(f"removed {escape(name)} from {file.path}; its articles stay in the archive")


@feeds.command(name="check")
@click.argument("names", nargs=-1)
@json_option("JSON Lines: one source per line.")
@click.pass_obj
def feeds_check(state: State, names: tuple[str, ...], as_json: bool) -> None:
    """Fetch each source (or the named ones) once and report; nothing is stored.

    Example: veille feeds check "La Quadrature du Net"
    """
    bad = 0
    for source, record in check_sources(state.config(), names):
        bad += not record["ok"]
        if as_json:
            print(json.dumps(record, ensure_ascii=False))
            continue
        if record["ok"]:
            what = f"{record['entries']} entries" if "entries" in record else "page"
            out.print(f"[green]ok[/green]     {escape(source.name)}: {what}, {record['seconds']}s"
                      + (f"; moved permanently to {escape(record['moved_to'])} (`veille feeds fix`)"
                         if "moved_to" in record else "")
                      + (f"; {escape(record['warning'])}" if record.get("warning") else ""))
        else:
            out.print(f"[red]failed[/red] {escape(source.name)}: {escape(record['error'])} → {escape(record['advice'])}")
    if bad:
        sys.exit(1)


@feeds.command(name="fix")
@click.argument("names", nargs=-1)
@click.pass_obj
def feeds_fix(state: State, names: tuple[str, ...]) -> None:
    """Rewrite the URLs of sources that moved permanently (301/308) in feeds.yaml.

    Example: veille feeds fix
    """
    from veille.config.feedsfile import FeedsFile

    archive = state.archive()
    moved = {row["name"]: row["moved_to"] for row in archive.source_rows() if row["moved_to"]}
    if names:
        unknown = [n for n in names if n not in moved]
        if unknown:
            raise VeilleError(f"feeds fix: {', '.join(unknown)} did not move (as of the last fetch); nothing to fix")
        moved = {n: moved[n] for n in names}
    if not moved:
        out.print("feeds fix: no source has moved; nothing to do")
        return
    file = FeedsFile(state["config_path"])
    for name, url in moved.items():
        source = file.find(name)
        if source is None:
            continue
        out.print(f"{escape(name)}: {escape(str(source['url']))} → {escape(url)}")
        file.set_url(name, url)
    file.save()
    for name in moved:
        archive.forget_move(name)


@feeds.command(name="resume")
@click.argument("name")
@click.pass_obj
def feeds_resume(state: State, name: str) -> None:
    """End a source's pause now (after fixing it); the next run tries it. Example: veille feeds resume lemonde"""
    state.config().source(name)
    if not state.archive().resume_source(name):
        raise VeilleError(f"feeds resume: {name!r} was never fetched; nothing to resume")
    out.print(f"resumed {escape(name)}: the next run fetches it")


@feeds.command(name="import-opml")
@click.argument("path", type=click.Path(path_type=Path))
@click.pass_obj
def feeds_import_opml(state: State, path: Path) -> None:
    """Add the feeds of an OPML file (from a feed reader); folders become tags.

    Example: veille feeds import-opml subscriptions.opml
    """
    from veille.config.feedsfile import FeedsFile, read_opml

    outlines, skipped = read_opml(path)
    for url in skipped:
        err.print(f"import-opml: skipped {escape(url)}: not an http or https feed address")
    file = FeedsFile(state["config_path"])
    known, added = file.urls(), 0
    for outline in outlines:
        if outline.url in known:
            continue
        file.add(file.unique_name(outline.name), outline.url, language=outline.language, tags=list(outline.tags))
        known.add(outline.url)
        added += 1
    file.save()
    out.print(f"import-opml: {_n(added, 'feed')} added, {len(outlines) - added} already there ({file.path})")


@feeds.command(name="export-opml")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Write to this file (default: stdout).")
@click.pass_obj
def feeds_export_opml(state: State, out_path: Path | None) -> None:
    """Write the feeds as OPML, for feed readers. Example: veille feeds export-opml --out veille.opml"""
    from veille.config.feedsfile import write_opml

    text = write_opml(state.config().sources)
    if out_path:
        out_path.write_text(text, encoding="utf-8")
        err.print(f"export-opml: {sum(s.kind == 'feed' for s in state.config().sources)} feeds written to {out_path}")
    else:
        sys.stdout.write(text)


def urlsplit_host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


def _interval(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"

