"""What every search backend answers: the index of one archive, asked with a query tree and filters.

The app parses the text once (`search.query.parse`), turns command-line options into `Filters`,
and asks; a backend turns both into its own queries (whoosh's today, PostgreSQL's next). Nothing
outside search/ sees a backend's query objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable, Protocol

from veille.models import Article
from veille.search.query import Query


@dataclass(frozen=True)
class Filters:
    """What only narrows the answer, never ranks it: the options of `search`, `export`, saved searches."""
    lang: str | None = None
    source: str | None = None
    since: date | None = None  # published on or after that day
    until: date | None = None  # published on or before that day (the whole of it)
    entities: tuple[str, ...] = ()  # entity keys (`amazon-web-services`), every one required
    tags: tuple[str, ...] = ()  # topic slugs, every one required
    story: str | None = None

    def __bool__(self) -> bool:
        return any((self.lang, self.source, self.since, self.until, self.entities, self.tags, self.story))


NO_FILTERS = Filters()


def published_time(value: str | None) -> datetime | None:
    """An article's ISO time as the naive UTC datetime an index keeps (None if missing or unreadable)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


@dataclass
class Hit:
    id: str
    story: str
    lang: str
    score: float
    title: str | None
    published: datetime | None


@dataclass
class Results:
    """One page of results: `groups` holds one list of hits per story (one hit each with all_versions)."""
    groups: list[list[Hit]] = field(default_factory=list)
    more: bool = False

    @property
    def hits(self) -> list[Hit]:
        return [hit for group in self.groups for hit in group]


class Reading(Protocol):
    """How a backend read a query: `scored` is None when no word ranks (filters alone: newest first);
    `ignored` holds the common words left out ("the", "les", lower-case "and")."""
    scored: object | None
    ignored: tuple[str, ...]


class Highlighter(Protocol):
    def snippet(self, text: str, lang: str | None, width: int = 160) -> str:
        """The passage where the query's words are, those words in [brackets]."""

    def passage(self, text: str, lang: str | None, width: int = 160) -> tuple[str, list[tuple[int, int]]]:
        """The passage, and the (start, end) of each of the query's words in it."""


class SearchIndex(Protocol):
    """One archive's index. A writer keeps it in step (`cursor`, `add`); readers only ask."""

    rebuilt: str | None  # why an index opened with repair was made empty again ("missing", ...)
    cursor_lost: bool
    bulk_batch: int  # articles per commit when a bulk load (`veille reindex`) fills an empty index

    @property
    def cursor(self) -> str:
        """How far the index got in the archive's changes ("" for nothing yet)."""

    def save_cursor(self, value: str) -> None: ...

    def add(self, articles: Iterable[tuple[Article, str | None, list[str], list[str]]], cursor: str,
            procs: int = 1) -> int:
        """Index (article, story id, entity keys, tags) tuples, then move the cursor; how many."""

    def publish(self) -> None:
        """Put an index built beside the live one (`open_index(..., beside=True)`) in its place."""

    def clear(self) -> None: ...

    def close(self) -> None: ...

    def doc_count(self) -> int: ...

    def parse(self, query: Query, lang: str | None = None, filters: Filters = NO_FILTERS) -> Reading: ...

    def search(self, query: Query, *, lang: str | None = None, filters: Filters = NO_FILTERS,
               sort: str = "relevance", limit: int = 10, page: int = 1, by_story: bool = True) -> Results:
        """One page: `limit` stories (articles, without `by_story`) after `page - 1` pages; `lang`
        stems the words for that language only."""

    def count(self, query: Query, *, lang: str | None = None, filters: Filters = NO_FILTERS
              ) -> tuple[list[str], int]:
        """Every matching article id, and the number of stories they make."""

    def highlighter(self, query: Query, lang: str | None = None) -> Highlighter: ...
