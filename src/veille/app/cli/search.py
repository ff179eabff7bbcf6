"""veille search, and the saved searches (veille searches ...)."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from veille.app.cli.common import (
    MAX_COUNT, _catch_up, _check_dates, _check_filters, _exit_if_nothing, _n, err, json_option, out,
)
from veille.errors import ArchiveError, VeilleError
from veille.storage import Archive

if TYPE_CHECKING:
    from veille.app.cli.main import State


@click.command()
@click.argument("query", required=False, default="")
@click.option("--lang", help="Only articles in this language (and stem the query for it).")
@click.option("--source", help="Only articles of this source.")
@click.option("--since", metavar="DATE", help="Published on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Published on or before DATE (YYYY-MM-DD).")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True,
              help="Best matches first, or newest first.")
@click.option("--limit", type=click.IntRange(min=1, max=MAX_COUNT), default=10, show_default=True, help="Stories per page.")
@click.option("--page", type=click.IntRange(min=1, max=MAX_COUNT), default=1, show_default=True,
              help="Which page of --limit stories to show (the last line says when there is a next one).")
@click.option("--all-versions", is_flag=True, help="Every matching article, not one line per story.")
@click.option("--count", "count_only", is_flag=True, help="Only the number of matching stories and articles.")
@json_option("JSON Lines: one story (or article) per line.")
@click.option("--saved", metavar="NAME", help="Run a saved search (see `veille searches`); options given here win.")
@click.option("--facets", is_flag=True, help="Counts by language, source, tag and top entities for the query.")
@click.option("--cross-lingual", is_flag=True,
              help="Also search the query's topic terms in other languages, and every spelling of its names.")
@click.pass_obj
def search(state: State, query: str, lang: str | None, source: str | None, since: str | None, until: str | None,
           sort: str, limit: int, page: int, all_versions: bool, count_only: bool, as_json: bool,
           saved: str | None, facets: bool, cross_lingual: bool) -> None:
    """Search the archive: words, "exact phrases", AND/OR/NOT, (groups), field:value, prefix*.

    Fields: lang:fr source:NAME entity:palantir tag:facial-recognition story:ID published:[2025-01-01 to].
    One line per story, its other versions beneath. Example: veille search '"reconnaissance faciale" AND lang:fr'
    """
    from veille.app.queries import expand_cross_lingual, filters_of, find_ids, parse_query, resolve_saved
    from veille.search import open_index
    from veille.search.query import check_syntax

    _check_dates(since, until)
    archive = state.archive()
    if saved:
        query, lang, source = resolve_saved(archive, saved, query, lang, source)
    lang, source = _check_filters(archive, lang, source)
    if cross_lingual:
        check_syntax(query)
        query, expansions = expand_cross_lingual(query)
        for note in expansions:
            err.print(f"[dim]expanded: {escape(note)}[/dim]")
    _catch_up(archive)
    if archive.count_articles() == 0:
        raise ArchiveError(f"no articles yet in {archive.location}; add some with `veille import PATH` or `veille fetch`")
    index = open_index(archive, reader=True)
    filters = filters_of(lang, source, since, until)
    tree = parse_query(query)
    plan = index.parse(tree, lang, filters)
    _say_how_it_was_read(plan.ignored)
    if count_only or facets:
        ids, story_count = find_ids(archive, index, tree, filters, lang=lang)
        if count_only:
            print(json.dumps({"stories": story_count, "articles": len(ids)}) if as_json
                  else f"{_n(story_count, 'story')}, {_n(len(ids), 'article')}")
            _exit_if_nothing(story_count)
            return
        counts = archive.facets(ids)
        if as_json:
            print(json.dumps({"stories": story_count, "articles": len(ids), **counts}, ensure_ascii=False))
            return
        out.print(f"{_n(story_count, 'story')}, {_n(len(ids), 'article')}")
        for name, values in counts.items():
            shown = ", ".join(f"{escape(str(k))} {v}" for k, v in values.items()) or "-"
            out.print(f"[bold]{name:>9}[/bold]  {shown}")
        return
    results = index.search(tree, lang=lang, filters=filters, sort=sort, limit=limit, page=page,
                           by_story=not all_versions)
    highlighter = index.highlighter(tree, lang)
    for hits in results.groups:
        _print_hit(archive, highlighter, hits[0], as_json, scored=plan.scored is not None)
    if results.more and not as_json:
        err.print(f"[dim]more: --page {page + 1}[/dim]")
    if not results.groups and not as_json:
        err.print("no match; try fewer words, a prefix* or --cross-lingual" if page == 1 else
                  f"no page {page}: the results end before it")
    _exit_if_nothing(len(results.groups))


def _marked(passage: str, marks: list[tuple[int, int]], *, colour: bool) -> str:
    """The snippet as console markup: the query's words in colour on a terminal, in [brackets] otherwise."""
    pieces, cursor = [], 0
    for begin, finish in marks:
        word = escape(passage[begin:finish])
        pieces += [escape(passage[cursor:begin]), f"[bold yellow]{word}[/bold yellow]" if colour else f"\\[{word}]"]
        cursor = finish
    return "".join(pieces) + escape(passage[cursor:])


def _say_how_it_was_read(ignored: tuple[str, ...]) -> None:
    """When the query searched is not what was typed, say so on stderr (stdout stays the answer)."""
    if not ignored:
        return
    note = f"common words left out of the query: {', '.join(ignored)}"
    operators = [w for w in ignored if w in ("and", "or", "not")]
    if operators:
        note += f" (lower-case {', '.join(operators)} is a word; write AND, OR, NOT for operators)"
    err.print(f"[dim]{escape(note)}[/dim]")


def _print_hit(archive: Archive, highlighter, hit, as_json: bool, scored: bool = True) -> None:
    from veille.app.reports import found_story

    found = found_story(archive, highlighter, hit, scored)
    if found is None:
        return
    if as_json:  # the snippet as written, and where the query's words are in it
        print(json.dumps(found.record(), ensure_ascii=False))
        return
    article = found.article
    when = (article.published or article.fetched or "")[:10]
    score = f" · {hit.score:.2f}" if scored else ""  # a search by filters alone ranks nothing
    out.print(f"[bold]{escape(article.title or '(no title)')}[/bold]  [dim]{article.id[:10]} · {escape(article.source)}"
              f" · {when} · {article.lang}{score}[/dim]")
    out.print(f"  {_marked(found.passage, found.marks, colour=out.is_terminal)}")
    parts = found.also_in()
    if parts:
        out.print(f"  [dim]{' · '.join(parts)} (veille story {article.id[:10]})[/dim]")


@click.group(cls=click.Group)
def searches() -> None:
    """Saved searches, by name: for `veille search --saved NAME` and the weekly digest.

    Example: veille searches add nice-cameras '"reconnaissance faciale" AND Nice'
    """


@searches.command(name="add")
@click.argument("name")
@click.argument("query")
@click.option("--lang", help="Only articles in this language.")
@click.option("--source", help="Only articles of this source.")
@click.pass_obj
def searches_add(state: State, name: str, query: str, lang: str | None, source: str | None) -> None:
    """Save QUERY under NAME (replacing a search of that name). Example: veille searches add palantir entity:palantir"""
    from veille.search.query import check_syntax

    if not re.fullmatch(r"[\w.-]{1,64}", name):
        raise click.BadParameter("use letters, digits, '-', '_' or '.', at most 64", param_hint="NAME")
    check_syntax(query)
    options = {k: v for k, v in (("lang", lang), ("source", source)) if v}
    replaced = state.archive().save_search(name, query, options, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    out.print(f"{'replaced' if replaced else 'saved'} search {escape(name)}: {escape(query)}")


@searches.command(name="list")
@json_option("JSON Lines.")
@click.pass_obj
def searches_list(state: State, as_json: bool) -> None:
    """List the saved searches. Example: veille searches list"""
    saved = state.archive().saved_searches()
    for item in saved:
        if as_json:
            print(json.dumps(item, ensure_ascii=False))
        else:
            extra = " ".join(f"--{k} {v}" for k, v in item["options"].items())
            out.print(f"[bold]{escape(item['name'])}[/bold]  {escape(item['query'])} {escape(extra)}")
    if not saved and not as_json:
        err.print("no saved searches; `veille searches add NAME QUERY` saves one")


@searches.command(name="remove")
@click.argument("name")
@click.pass_obj
def searches_remove(state: State, name: str) -> None:
    """Remove a saved search. Example: veille searches remove palantir"""
    if not state.archive().remove_search(name):
        raise VeilleError(f"no saved search named {name!r}; `veille searches list` shows them")
    out.print(f"removed search {escape(name)}")



@searches.command(name="feed")
@click.argument("name")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True, allow_dash=True), default="-",
              show_default=True, help="Write the feed to this file (-: standard output).")
@click.option("--base-url", default="http://127.0.0.1:8080/", show_default=True,
              help="Where `veille serve` answers: the entries link to its story pages.")
@click.pass_obj
def searches_feed(state: State, name: str, out_path: str, base_url: str) -> None:
    """Write a saved search as an Atom feed: one entry per story, newest first.

    Example: veille searches feed palantir --out palantir.atom
    """
    from pathlib import Path

    from veille.app.queries import resolve_saved
    from veille.app.syndication import saved_search_feed
    from veille.search import open_index
    from veille.text.urls import web_link

    if web_link(base_url) is None:
        raise click.BadParameter("give an http:// or https:// address", param_hint="--base-url")
    archive = state.archive()
    resolve_saved(archive, name)  # none of that name: said before anything is done
    _catch_up(archive)
    index = open_index(archive, reader=True)
    try:
        body = saved_search_feed(archive, index, name, base_url)
    finally:
        index.close()
    if out_path == "-":
        click.get_binary_stream("stdout").write(body + b"\n")
        return
    target = Path(out_path)
    partial = target.with_name(target.name + ".tmp")
    partial.write_bytes(body)
    partial.replace(target)  # a feed reader reading the file never sees half of it
    err.print(f"wrote {escape(str(target))}: {_n(body.count(b'<entry>'), 'story')} of saved search {escape(name)}")
