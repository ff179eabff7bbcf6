"""The library's questions to the archive and its index, for the command line and whatever comes next
(a web page, a worker): they parse, resolve and ask, and leave formatting to their callers.

    tree = parse_query('"reconnaissance faciale" entity:AWS')
    ids, stories = find_ids(archive, None, tree, filters_of(lang="fr"))
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from veille.errors import VeilleError
from veille.search import NO_FILTERS, Filters, Query, SearchIndex, open_index, parse
from veille.search.expand import cross_lingual
from veille.text.keys import Aliases, load_aliases

if TYPE_CHECKING:
    from veille.storage import Archive


def filters_of(lang: str | None = None, source: str | None = None, since: str | None = None,
               until: str | None = None) -> Filters:
    """The filters of command-line options (dates already checked as YYYY-MM-DD)."""
    return Filters(lang=lang, source=source, since=date.fromisoformat(since) if since else None,
                   until=date.fromisoformat(until) if until else None)


def parse_query(text: str) -> Query:
    """The tree of a query as a user typed it, each entity name as its key in every spelling
    (`entity:AWS` -> `amazon-web-services`); QueryError says what cannot be read, and where."""
    return parse(text, entity_key=aliases().key)


def expand_cross_lingual(query: str) -> tuple[str, list[str]]:
    """--cross-lingual with the shipped topic lexicon and aliases: the widened query, and one line
    per expansion for the user."""
    from veille.stages.topics import load_lexicon

    return cross_lingual(query, load_lexicon(), aliases())


@lru_cache(maxsize=1)
def aliases() -> Aliases:
    """Every spelling of every known name -> its entity key (the gazetteer and aliases.yaml)."""
    from veille.text.keys import load_gazetteer

    return load_aliases(load_gazetteer())


def resolve_saved(archive: Archive, name: str, query: str = "", lang: str | None = None,
                  source: str | None = None, *, required: bool = True
                  ) -> tuple[str, str | None, str | None] | None:
    """A saved search's query (joined to `query`) and options (`lang`, `source` given here win).

    No search of that name: VeilleError naming those there are, or None if not `required` (the
    digest's query is a saved search's name or a query of its own)."""
    stored = archive.saved_search(name)
    if stored is None:
        if not required:
            return None
        names = ", ".join(s["name"] for s in archive.saved_searches()) or "none yet"
        raise VeilleError(f"no saved search named {name!r}; saved searches: {names} (`veille searches add`)")
    query = f"({stored['query']}) {query}".strip() if query and stored["query"] else query or stored["query"]
    return query, lang or stored["options"].get("lang"), source or stored["options"].get("source")


def find_ids(archive: Archive, index: SearchIndex | None, query: str | Query, filters: Filters = NO_FILTERS, *,
             lang: str | None = None) -> tuple[list[str], int]:
    """Every article the query and filters match, and how many stories they make: for `search
    --count/--facets`, `export QUERY` and the digest. Without `index`, the archive's is opened
    (as a reader) and closed again; `lang` stems the query's words for that language only."""
    tree = parse_query(query) if isinstance(query, str) else query
    if index is not None:
        return index.count(tree, lang=lang, filters=filters)
    index = open_index(archive, reader=True)
    try:
        return index.count(tree, lang=lang, filters=filters)
    finally:
        index.close()
