"""The commands that read the archive: status, list, show, story, entities."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from veille.app.cli.common import (
    MAX_COUNT, _check_filters, _n, _optional_config, _short_time, _shown, err, json_option, out,
)
from veille.app.reports import (
    ArticleView, StatusReport, article_record, article_view, entity_rows, names_a_story, status_report,
    story_view,
)
from veille.errors import VeilleError
from veille.models import IMPORT_SOURCE

if TYPE_CHECKING:
    from veille.app.cli.main import State


@click.command()
@json_option("JSON Lines: one object per source, then totals.")
@click.pass_obj
def status(state: State, as_json: bool) -> None:
    """Show each source's articles, last fetch and last error, and totals by language.

    Example: veille status
    """
    config = _optional_config(state)  # a broken feeds.yaml is said first, archive or not
    report = status_report(state.archive(), config)
    if as_json:
        for record in report.sources:
            print(json.dumps(record, ensure_ascii=False))
        print(json.dumps(report.totals(), ensure_ascii=False))
        return
    table, attention = _sources_table(report)
    out.print(table)
    for line in attention:
        out.print(line)
    _print_crawl_delays(report.crawl_delays)
    _print_digests(report.digests)
    _print_totals(report)


def _sources_table(report: StatusReport) -> tuple[Table, list[str]]:
    """The sources as a table, and the lines that ask for something to be done (paused, moved)."""
    table = Table(title=f"veille archive: {report.folder}", title_justify="left")
    # A name is never broken mid-word: it keeps one line, cut with an ellipsis only when the terminal
    # leaves it less room than it needs (the other columns keep 64 of 80 columns: a status and an error keep whole words).
    longest = max((len(r["source"]) + (6 if not r["enabled"] else 0) for r in report.sources), default=6)
    room = max(12, min(longest, 44, out.width - 64))
    table.add_column("source", no_wrap=True, overflow="ellipsis", min_width=min(room, longest), max_width=room)
    table.add_column("articles", justify="right", no_wrap=True)
    table.add_column("last fetch", no_wrap=True)
    table.add_column("status", overflow="fold", min_width=12, max_width=22)
    table.add_column("last error", overflow="fold", ratio=1, min_width=12)
    attention: list[str] = []
    if longest > room:
        attention.append("[dim]names cut to fit the terminal: `veille feeds list` shows them whole[/dim]")
    for r in report.sources:
        name = escape(r["source"]) if r["enabled"] else f"[dim]{escape(r['source'])} (off)[/dim]"
        error = escape(r["last_error"] or "")
        if r["failed_items"]:
            error = (error + "; " if error else "") + f"{_n(r['failed_items'], 'article')} failed"
        status_text = escape(r["last_status"] or "") or ("imported files" if r["source"] == IMPORT_SOURCE else "never fetched")
        if r["paused_since"]:
            status_text = f"[red]paused since {_short_time(r['paused_since'])}[/red]"
            attention.append(f"[red]{escape(r['source'])}[/red] is paused since {_short_time(r['paused_since'])} "
                             f"after {r['consecutive_failures']} failure{'s' if r['consecutive_failures'] != 1 else ''} (last: {escape(r['last_error'] or '?')}): "
                             f"{escape(r['advice'] or '')}; then `veille feeds resume {escape(r['source'])}`")
        elif r["consecutive_failures"]:
            status_text = (f"[red]failed x{r['consecutive_failures']} since {_short_time(r['failing_since'])}[/red]"
                           f"; next try {_short_time(r['next_attempt'])}")
        if r["moved_to"]:
            attention.append(f"[yellow]{escape(r['source'])}[/yellow] moved permanently to {escape(r['moved_to'])}: "
                             "`veille feeds fix` updates feeds.yaml")
        table.add_row(name, str(r["articles"]), _short_time(r["last_fetch"]), status_text, f"[red]{error}[/red]" if error else "")
    return table, attention


def _print_crawl_delays(paced: list[dict]) -> None:
    for p in paced:
        line = (f"{escape(p['host'])} asks for {p['asks']:g} s between requests (Crawl-delay); "
                f"veille waits {p['waits']:g} s")
        if p["capped"]:
            line += " (settings.max_crawl_delay caps it)"
        out.print(line + f" [dim](robots.txt read {_short_time(p['read'])})[/dim]")


def _print_digests(digests: list[dict]) -> None:
    for row in digests:
        refused = row["refused"]
        line = (f"digest [bold]{escape(row['digest'])}[/bold]: last sent {_short_time(row['sent_at'])} UTC, "
                f"{_n(row['stories'], 'story')} to {_n(len(row['recipients']), 'recipient')}")
        if refused:
            line += " · [red]refused: " + escape(", ".join(f"{k} ({v})" for k, v in refused.items())) + \
                "[/red]; check these addresses in feeds.yaml"
        if row.get("status") == "sending":
            line = (f"digest [bold]{escape(row['digest'])}[/bold]: [yellow]a send started "
                    f"{_short_time(row['sent_at'])} UTC was not completed[/yellow] (under way, or interrupted after "
                    f"the message went to the server; Message-ID {escape(row['message_id'])}); if nobody got it, "
                    f"`veille digest {escape(row['digest'])} --send --force` sends it again")
        out.print(line)


def _print_totals(report: StatusReport) -> None:
    langs = ", ".join(f"{lang} {n}" for lang, n in report.by_lang.items()) or "none"
    out.print(f"[bold]{report.total}[/bold] {'article' if report.total == 1 else 'articles'}; by language: {escape(langs)}")
    if report.taggers:
        out.print("[bold]entities and topics[/bold]")
        for row in report.taggers:
            how = row["tagger"].split(";")[0]
            kind = ("full model" if how.startswith("model") else
                    "fallback: gazetteer only" if how.startswith("fallback") else "not tagged: run `veille retag`")
            out.print(f"  {row['lang']}: {_n(row['n'], 'article')}, {kind} ({escape(how)})")
    if report.captures and "error" in report.captures:
        out.print(f"[bold]captures[/bold]: unreadable ({escape(report.captures['error'])}); `veille verify` says more")
    elif report.captures:
        c = report.captures
        out.print(f"[bold]captures[/bold]: {_n(c['records'], 'WARC record')} in {_n(c['files'], 'file')} "
                  f"({c['bytes'] / 1000**2:.1f} MB) backing {_n(c['articles'], 'article')}, in {escape(c['folder'])}")
    if report.recent_failures:
        out.print("[bold]recent failures[/bold]")
        for f in report.recent_failures[:10]:
            out.print(f"  {f['source']}: {f['url']}: {f['reason']} (x{f['count']})", markup=False)


@click.command(name="list")
@click.option("--source", help="Only articles of this source.")
@click.option("--lang", help="Only articles in this language (en, fr, ..., und).")
@click.option("--limit", type=click.IntRange(min=0, max=MAX_COUNT), default=20, show_default=True,
              help="At most this many (0: all).")
@json_option("JSON Lines, one article per line.")
@click.pass_obj
def list_(state: State, source: str | None, lang: str | None, limit: int, as_json: bool) -> None:
    """List archived articles, newest first.

    Example: veille list --lang fr --limit 5
    """
    lang, source = _check_filters(state.archive(), lang, source)
    articles = state.archive().list_articles(source=source, lang=lang, limit=limit or None)
    if as_json:
        archive = state.archive()
        for article in articles:
            print(json.dumps(article_record(article, archive), ensure_ascii=False))
        return
    table = Table(show_edge=False, expand=True)
    table.add_column("id", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("lang", no_wrap=True)
    table.add_column("source", no_wrap=True, overflow="ellipsis", max_width=18)
    table.add_column("title", overflow="fold", ratio=1)
    for a in articles:
        title = escape(a.title) if a.title else "[dim](no title)[/dim]"
        table.add_row(a.id[:10], (a.published or a.fetched or "")[:10], a.lang, escape(a.source), title)
    out.print(table)
    if not articles:
        err.print("no articles match; try `veille status` to see what is archived")


@click.command()
@click.argument("article_id")
@json_option("One JSON object with the text.")
@click.option("--raw", is_flag=True, help="The response as the server sent it (status, headers, body), from its capture.")
@click.pass_obj
def show(state: State, article_id: str, as_json: bool, raw: bool) -> None:
    """Show one article: its metadata and clean text. IDs may be shortened.

    Example: veille show 3f9a1c2b
    """
    archive = state.archive()
    view = article_view(archive, article_id)
    if view is None:
        if names_a_story(archive, article_id):
            raise VeilleError(f"{article_id} is a story id; `veille story {article_id}` shows its articles")
        raise VeilleError(f"no article with id {_shown(article_id)}; `veille list` shows the ids "
                          "(any 4 or more of their first characters will do, if no other id starts so)")
    if raw:
        from veille.app.cli.evidence import print_raw

        print_raw(state, view.article.id)
        return
    if as_json:
        print(json.dumps(view.full_record(), ensure_ascii=False))
        return
    _print_article(view)


def _print_article(view: ArticleView) -> None:
    """The title, the metadata a line each, tags and names, then the text."""
    article, membership = view.article, view.membership
    out.print(f"[bold]{escape(article.title or '(no title)')}[/bold]")
    meta = [
        ("id", article.id), ("url", article.url), ("source", article.source),
        ("site", article.site_name), ("author", article.author), ("published", article.published),
        ("fetched", article.fetched),
        ("language", f"{article.lang} ({article.lang_confidence:.2f}; {article.lang_reason})"
                     + (f"; by paragraph {', '.join(f'{c} {s:.0%}' for c, s in article.lang_shares)}"
                        if len(article.lang_shares) > 1 else "")),
        ("note", article.note), ("revision", str(article.revision) if article.revision > 1 else None),
        ("story", f"{membership['story_id']} ({membership['relation']}"
                  + (f" of {membership['original_id'][:10]}" if membership['relation'] != 'original' else "")
                  + "; `veille story` shows it)" if membership else None),
    ]
    for key, value in meta:
        if value:
            out.print(f"[dim]{key:>9}[/dim]  {escape(value)}")
    if view.tags:
        out.print(f"[dim]{'tags':>9}[/dim]  {escape(', '.join(view.tags))}")
    by_label = view.names_by_label()
    for label in ("PERSON", "ORG", "LOC", "MISC"):
        if label in by_label:
            names = by_label[label]
            shown = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in names)
            out.print(f"[dim]{label.lower():>9}[/dim]  {escape(shown)}")
    if not article.tagger:
        out.print(f"[dim]{'entities':>9}[/dim]  not tagged yet; run `veille retag`")
    out.print()
    out.print(article.text, markup=False)


@click.command()
@click.argument("article_or_story")
@json_option("One JSON object: the story and its members.")
@click.pass_obj
def story(state: State, article_or_story: str, as_json: bool) -> None:
    """Show a story: its original, its copies and translations, and the evidence for each link.

    Give an article id (or a story id, which starts with "s"). Example: veille story 3f9a1c2b
    """
    found = story_view(state.archive(), article_or_story)
    if found is None:
        raise VeilleError(f"no story for {_shown(article_or_story)}; `veille list` shows article ids, "
                          "and `veille dedupe --rebuild` places older articles in stories")
    if as_json:
        print(json.dumps(found.record(), ensure_ascii=False))
        return
    out.print(f"[bold]story {found.story_id}[/bold]: {escape(found.original['title'] or '(no title)')} "
              f"({len(found.members)} version{'s' if len(found.members) > 1 else ''})")
    for m in found.in_order():
        when = (m["published"] or m["fetched"] or "")[:10]
        out.print(f"  [bold]{m['relation']:<11}[/bold] {m['article_id'][:10]}  {m['lang']}  {when}  "
                  f"{escape(m['source'])}  {escape(m['title'] or '')}")
        out.print(f"  {'':<11} [dim]{escape(m['evidence'] or '')}[/dim]")


@click.command()
@click.option("--top", type=click.IntRange(min=1, max=MAX_COUNT), default=20, show_default=True, help="How many entities.")
@click.option("--label", type=click.Choice(["PERSON", "ORG", "LOC", "MISC"], case_sensitive=False),
              help="Only this kind of entity.")
@click.option("--lang", help="Only articles in this language.")
@click.option("--since", metavar="DATE", help="Only articles published (or fetched) on or after DATE (YYYY-MM-DD).")
@json_option("JSON Lines, one entity key per line.")
@click.pass_obj
def entities(state: State, top: int, label: str | None, lang: str | None, since: str | None, as_json: bool) -> None:
    """Rank entities by the number of articles that mention them, across spellings and languages.

    Example: veille entities --label ORG --top 10
    """
    if since and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
        raise click.BadParameter(f"{since!r} is not a date; write it as YYYY-MM-DD", param_hint="--since")
    rows = entity_rows(state.archive(), top=top, label=label.upper() if label else None, lang=lang, since=since)
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    table = Table(show_edge=False, expand=True)
    table.add_column("key", no_wrap=True, overflow="ellipsis", max_width=22)
    table.add_column("name", overflow="fold", ratio=1, min_width=16)
    table.add_column("label", no_wrap=True)
    table.add_column("articles", justify="right", no_wrap=True)
    table.add_column("mentions", justify="right", no_wrap=True)
    table.add_column("languages", no_wrap=True)
    for row in rows:
        langs = ", ".join(row["langs"])
        table.add_row(escape(row["key"]), escape(row["text"] or ""), row["label"] or "", str(row["articles"]),
                      str(row["mentions"]), langs)
    out.print(table)
    if not rows:
        err.print("no entities yet; `veille retag` tags the articles already archived")

