"""The search of the web app: the form as a query string, and its answer through the same library
calls as `veille search` (parse_query, the index's search and highlighter, found_story, facets).

    form = SearchForm.read(request.query_params)   # VeilleError: one line saying what to fix
    answer = run_search(library, form, facets=True)
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode

from veille.app.queries import aliases, find_ids, parse_query, resolve_saved
from veille.app.reports import FoundStory, found_story
from veille.errors import VeilleError
from veille.search import Filters, SearchIndex, open_index
from veille.storage import Archive, open_archive

PAGE_SIZES = (10, 20, 50, 100)
MAX_PAGE = 10_000
# The page's facets and counts come from the best FACET_SAMPLE matching articles: counting every match
# reads each one's stored id (450 ms for 37,000 matches at 100,000 articles), the sample takes 7 ms.
# /api/search?facets=1 and count=1 count them all, as the CLI does.
FACET_SAMPLE = 200
NAMES_KEPT = 10_000  # entity key -> its commonest spelling, kept between requests (it hardly moves)


class Library:
    """The archive and its index, opened on first use, and the one thread that uses them: an SQLite
    connection stays in the thread that made it, and whoosh's searcher and caches are not shared.
    Requests queue for it (`run`); the event loop stays free to take the next ones."""

    def __init__(self, archive_url: str) -> None:
        self.url = archive_url
        self._archive: Archive | None = None
        self._index: SearchIndex | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veille-archive")
        self._names: dict[str, str] = {}

    async def run(self, handler, *args):
        """`handler(*args)` on the archive's thread; its answer or its exception."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, handler, *args)

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            self._archive = open_archive(self.url)
        return self._archive

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            self._index = open_index(self.archive, reader=True)  # IndexDamagedError: says to run reindex
        return self._index

    def entity_names(self, keys: list[str]) -> dict[str, str]:
        """The commonest spelling of each key, asked of the archive once (a popular key's spellings
        are counted over every mention: 60 ms for ten keys at 100,000 articles)."""
        missing = [key for key in keys if key not in self._names]
        if missing:
            if len(self._names) > NAMES_KEPT:
                self._names.clear()
            self._names.update({key: key for key in missing} | self.archive.entity_names(missing))
        return {key: self._names[key] for key in keys}

    def close(self) -> None:
        self._thread.submit(self._close).result()
        self._thread.shutdown()

    def _close(self) -> None:
        if self._index is not None:
            self._index.close()
        if self._archive is not None:
            self._archive.close()
        self._archive = self._index = None


@dataclass(frozen=True)
class SearchForm:
    """What the search form (or an /api/search address) asks: `veille search`'s options as fields."""

    q: str = ""
    lang: str = ""
    source: str = ""
    since: str = ""
    until: str = ""
    entity: str = ""  # a name as the user writes it ("AWS"); searched as its key
    tag: str = ""
    sort: str = "relevance"
    page: int = 1
    limit: int = 10
    saved: str = ""
    all_versions: bool = False
    key: str = ""  # an entity key as stored (an entity's page), searched as it is

    FIELDS = ("q", "lang", "source", "since", "until", "entity", "tag", "saved", "key")

    @classmethod
    def read(cls, params) -> "SearchForm":
        """The form from a query string; VeilleError naming the field to fix."""
        values = {name: " ".join((params.get(name) or "").split())[:2000] for name in cls.FIELDS}
        values["lang"] = values["lang"].lower()
        values["tag"] = values["tag"].lower()
        for name in ("since", "until"):
            if values[name] and not _is_day(values[name]):
                raise VeilleError(f"{name}: {values[name]!r} is not a date; write it as YYYY-MM-DD")
        sort = params.get("sort") or "relevance"
        if sort not in ("relevance", "date"):
            raise VeilleError("sort: choose relevance or date")
        return cls(**values, sort=sort, page=_number(params, "page", 1, MAX_PAGE),
                   limit=_number(params, "limit", 10, PAGE_SIZES[-1]),
                   all_versions=params.get("all") in ("1", "on", "true"))

    def filters(self) -> Filters:
        return Filters(lang=self.lang or None, source=self.source or None,
                       since=date.fromisoformat(self.since) if self.since else None,
                       until=date.fromisoformat(self.until) if self.until else None,
                       entities=tuple(k for k in (self.key, aliases().key(self.entity) if self.entity else "") if k),
                       tags=(self.tag,) if self.tag else ())

    def link(self, path: str = "/", **changes) -> str:
        """The address of this search with some fields changed (page=2, lang="fr", ...)."""
        form = replace(self, **changes)
        params = {name: getattr(form, name) for name in self.FIELDS if getattr(form, name)}
        if form.sort != "relevance":
            params["sort"] = form.sort
        if form.page != 1:
            params["page"] = str(form.page)
        if form.limit != 10:
            params["limit"] = str(form.limit)
        if form.all_versions:
            params["all"] = "1"
        return path + (f"?{urlencode(params)}" if params else "")

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in self.FIELDS)


def _is_day(value: str) -> bool:
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _number(params, name: str, default: int, most: int) -> int:
    value = params.get(name)
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= most:
        raise VeilleError(f"{name}: write a whole number from 1 to {most}")
    return int(value)


@dataclass
class SearchAnswer:
    found: list[FoundStory]
    more: bool
    ignored: tuple[str, ...]  # the common words left out of the query
    stories: int | None = None  # with facets: how many stories and articles match in all
    articles: int | None = None
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # entity key -> its commonest spelling, for the facets
    at_least: bool = False  # the counts and facets are of a sample: there are more matches


def _held_source(archive: Archive, source: str | None) -> str | None:
    """A source as the archive names it, whatever its case (`netzwacht`), as `veille search --source` finds it."""
    if source is None or archive.holds(source=source):
        return source
    same = [name for name in archive.counts_by_source() if name.casefold() == source.casefold()]
    return same[0] if len(same) == 1 else source


def run_search(library: Library, form: SearchForm, *, facets: bool = False, exact: bool = False) -> SearchAnswer:
    """One page of results for the form, and (with `facets`) the counts and facets: of the best
    FACET_SAMPLE matches, or (`exact`, as `search --count/--facets`) of every match."""
    archive, index = library.archive, library.index
    query, lang, source = form.q, form.lang or None, form.source or None
    if form.saved:
        query, lang, source = resolve_saved(archive, form.saved, query, lang, source)
    filters = replace(form.filters(), lang=lang, source=_held_source(archive, source))
    tree = parse_query(query)
    plan = index.parse(tree, lang, filters)
    results = index.search(tree, lang=lang, filters=filters, sort=form.sort, limit=form.limit, page=form.page,
                           by_story=not form.all_versions)
    highlighter = index.highlighter(tree, lang)
    found = [f for hits in results.groups
             if (f := found_story(archive, highlighter, hits[0], scored=plan.scored is not None)) is not None]
    answer = SearchAnswer(found=found, more=results.more, ignored=tuple(plan.ignored))
    if facets:
        if exact:
            ids, answer.stories = find_ids(archive, index, tree, filters, lang=lang)
        else:
            sample = index.search(tree, lang=lang, filters=filters, limit=FACET_SAMPLE, by_story=False)
            ids, answer.stories = [hit.id for hit in sample.hits], len({hit.story for hit in sample.hits})
            answer.at_least = sample.more
        answer.articles = len(ids)
        answer.facets = archive.facets(ids)
        answer.names = library.entity_names(list(answer.facets.get("entity", {})))
    return answer
