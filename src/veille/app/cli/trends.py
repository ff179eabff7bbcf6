"""veille trends: how much a query was talked about, and when."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from veille.app.cli.common import _catch_up, _check_dates, _check_filters, _n, err, json_option, out
from veille.errors import ArchiveError

if TYPE_CHECKING:
    from veille.app.cli.main import State
    from veille.outputs.trends import Trend

BLOCKS = "·▁▂▃▄▅▆▇█"  # a dot for none: an empty interval still shows


@click.command()
@click.argument("query", required=False, default="")
@click.option("--by", type=click.Choice(["lang", "source", "tag"]), help="One series per language, source or tag.")
@click.option("--interval", type=click.Choice(["day", "week", "month"]), default="month", show_default=True,
              help="One count per day, ISO week (Monday to Sunday) or calendar month.")
@click.option("--since", metavar="DATE", help="From the interval holding DATE (YYYY-MM-DD); default: the last 12 months, 12 weeks or 30 days.")
@click.option("--until", metavar="DATE", help="To the interval holding DATE (default: today).")
@click.option("--lang", help="Only articles in this language (and stem the query for it).")
@click.option("--source", help="Only articles of this source.")
@click.option("--saved", metavar="NAME", help="The query of a saved search.")
@click.option("--stories", is_flag=True, help="Count stories (copies and translations once), not articles.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the chart into this PNG file (one line per series, labelled axes).")
@json_option("JSON Lines: one object per interval and series (since, until, group, articles, stories).")
@click.pass_obj
def trends(state: State, query: str, by: str | None, interval: str, since: str | None, until: str | None,
           lang: str | None, source: str | None, saved: str | None, stories: bool, png_path: Path | None,
           as_json: bool) -> None:
    """Articles (or stories) per day, week or month for a query, an entity:NAME or a tag:SLUG.

    Each count is what `veille search --count --since --until` says for that interval. A bar per
    interval in the terminal (a line of blocks per series with --by). Example: veille trends entity:palantir --by lang
    """
    from veille.app.queries import filters_of, parse_query, resolve_saved
    from veille.outputs.trends import trend_of
    from veille.search import open_index

    _check_dates(since, until)
    archive = state.archive()
    if saved:
        query, lang, source = resolve_saved(archive, saved, query, lang, source)
    lang, source = _check_filters(archive, lang, source)
    _catch_up(archive)
    if archive.count_articles() == 0:
        raise ArchiveError(f"no articles yet in {archive.location}; add some with `veille import PATH` or `veille fetch`")
    index = open_index(archive, reader=True)
    try:
        trend = trend_of(archive, index, parse_query(query), filters=filters_of(lang, source), lang=lang,
                         interval=interval, by=by, since=date.fromisoformat(since) if since else None,
                         until=date.fromisoformat(until) if until else None)
    finally:
        index.close()
    unit = f"{'stories' if stories else 'articles'} per {interval}"
    series = trend.stories if stories else trend.articles
    if png_path is not None:
        from veille.outputs.charts import write_png

        write_png(png_path, [trend.label(n) for n in range(len(trend.buckets))], series,
                  title=query or "everything", unit=unit)
        err.print(f"wrote {escape(str(png_path))}")
    if as_json:
        for record in trend.records():
            print(json.dumps(record, ensure_ascii=False))
        return
    _print_trend(trend, series, unit)


def _print_trend(trend: Trend, series: dict[str, list[int]], unit: str) -> None:
    """One bar per interval; with groups, one line of blocks per group (its total at the end)."""
    labels = [trend.label(n) for n in range(len(trend.buckets))]
    top = max((c for counts in series.values() for c in counts), default=0)
    out.print(f"[bold]{unit}[/bold], {labels[0]} to {labels[-1]}" + (f" · at most {top}" if top else ""))
    if trend.by is None:
        width = max(10, min(50, out.width - 24))
        for label, count in zip(labels, series["all"]):
            bar = "█" * round(width * count / top) if top else ""
            out.print(f"{label:>10}  {bar}{' ' if bar else ''}{count}")
    else:
        name_width = min(24, max(len(name) for name in series) if series else 4)
        for name, counts in series.items():
            blocks = "".join(BLOCKS[0 if not c else max(1, round(8 * c / top))] for c in counts) if top else ""
            out.print(f"{escape(name[:name_width]):<{name_width}}  {blocks}  {sum(counts)}")
        if trend.left_out:
            out.print(f"[dim]and {_n(trend.left_out, 'other')} with fewer articles[/dim]")
    if not top:
        err.print("nothing in these intervals; try an earlier --since")
