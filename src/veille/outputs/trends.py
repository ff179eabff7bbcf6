"""How much a query, an entity or a tag was talked about, and when: articles and stories per day,
week or month, in all or by language, source or tag (`veille trends`, the entity and tag pages).

Each count is the index's own count for that interval (`find_ids` with the interval as the
filters' dates), so a trend says exactly what `veille search --count --since --until` says for
each of its intervals.

    trend = trend_of(archive, index, parse_query("entity:palantir"), interval="month", by="lang")
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from veille.app.queries import find_ids
from veille.errors import VeilleError
from veille.search import NO_FILTERS, Filters, Query

if TYPE_CHECKING:
    from veille.search import SearchIndex
    from veille.storage import Archive

INTERVALS = ("day", "week", "month")
GROUPINGS = ("lang", "source", "tag")
DEFAULT_SPAN = {"day": 30, "week": 12, "month": 12}  # intervals shown when no --since is given
MAX_INTERVALS = 400
MAX_GROUPS = 6  # the groups with most articles over the whole span; the others are left out (and said)


@dataclass
class Trend:
    interval: str
    by: str | None
    buckets: list[tuple[date, date]]  # each interval's first and last day
    articles: dict[str, list[int]]  # group ("all" without `by`) -> articles per interval
    stories: dict[str, list[int]]
    left_out: int = 0  # groups beyond MAX_GROUPS

    def label(self, n: int) -> str:
        """"2025-03-01" (day), "2025-W09" (week), "2025-03" (month)."""
        start = self.buckets[n][0]
        if self.interval == "month":
            return start.strftime("%Y-%m")
        if self.interval == "week":
            year, week, _ = start.isocalendar()
            return f"{year}-W{week:02d}"
        return start.isoformat()

    def records(self) -> list[dict]:
        """`trends --json`: one object per interval and group."""
        return [{"interval": self.label(n), "since": start.isoformat(), "until": end.isoformat(), "group": group
                 if self.by else None, "articles": counts[n], "stories": self.stories[group][n]}
                for group, counts in self.articles.items() for n, (start, end) in enumerate(self.buckets)]


def buckets(interval: str, since: date | None, until: date | None, today: date) -> list[tuple[date, date]]:
    """The intervals from the one holding `since` to the one holding `until` (default: today, and the
    last DEFAULT_SPAN intervals); VeilleError past MAX_INTERVALS."""
    if interval not in INTERVALS:
        raise VeilleError(f"interval: choose {', '.join(INTERVALS)}")
    until = until or today
    start = _start_of(interval, since or _back(interval, until, DEFAULT_SPAN[interval] - 1))
    if since and since > until:
        raise VeilleError("the start is after the end; swap --since and --until")
    found = []
    while start <= until:
        following = _next(interval, start)
        found.append((start, following - timedelta(days=1)))
        start = following
        if len(found) > MAX_INTERVALS:
            raise VeilleError(f"more than {MAX_INTERVALS} intervals; give a later --since or a longer --interval")
    return found


def _start_of(interval: str, day: date) -> date:
    if interval == "month":
        return day.replace(day=1)
    if interval == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    return day


def _next(interval: str, start: date) -> date:
    if interval == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=7 if interval == "week" else 1)


def _back(interval: str, day: date, steps: int) -> date:
    if interval == "month":
        month = day.year * 12 + day.month - 1 - steps
        return date(month // 12, month % 12 + 1, 1)
    return day - timedelta(days=steps * (7 if interval == "week" else 1))


def trend_of(archive: Archive, index: SearchIndex, tree: Query, *, filters: Filters = NO_FILTERS,
             lang: str | None = None, interval: str = "month", by: str | None = None, since: date | None = None,
             until: date | None = None, today: date | None = None) -> Trend:
    """Articles and stories per interval for the query (and filters), in all or by `by`."""
    spans = buckets(interval, since, until, today or date.today())
    groups: dict[str, Filters] = {"all": filters}
    left_out = 0
    if by is not None:
        if by not in GROUPINGS:
            raise VeilleError(f"by: choose {', '.join(GROUPINGS)}")
        whole = replace(filters, since=max(filter(None, (filters.since, spans[0][0]))),
                        until=min(filter(None, (filters.until, spans[-1][1]))))
        ids, _ = find_ids(archive, index, tree, whole, lang=lang)
        counted = archive.facets(ids[:30_000], top=1000)[{"lang": "language", "source": "source", "tag": "tag"}[by]]
        names = list(counted)[:MAX_GROUPS]
        left_out = max(0, len(counted) - MAX_GROUPS)
        groups = {name: _narrowed(filters, by, name) for name in names}
    articles: dict[str, list[int]] = {}
    stories: dict[str, list[int]] = {}
    for group, narrowed in groups.items():
        stemmed = group if by == "lang" else lang  # as `search --count --lang GROUP` stems the words
        articles[group], stories[group] = [], []
        for start, end in spans:
            window = replace(narrowed, since=max(filter(None, (narrowed.since, start))),
                             until=min(filter(None, (narrowed.until, end))))
            ids, story_count = find_ids(archive, index, tree, window, lang=stemmed) if window.since <= window.until \
                else ([], 0)
            articles[group].append(len(ids))
            stories[group].append(story_count)
    return Trend(interval=interval, by=by, buckets=spans, articles=articles, stories=stories, left_out=left_out)


def _narrowed(filters: Filters, by: str, value: str) -> Filters:
    if by == "lang":
        return replace(filters, lang=value)
    if by == "source":
        return replace(filters, source=value)
    return replace(filters, tags=(*filters.tags, value))
