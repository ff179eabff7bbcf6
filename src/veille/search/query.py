"""The query language as a tree of values, whatever the backend that answers it.

    police AND "reconnaissance faciale" -lang:en tag:spyware published:[2025-01-01 to]

`parse(text)` checks the text (bounds, quotes, parentheses, field names: `QueryError` says what
and where) and reads it into frozen dataclasses: words, phrases, prefixes and wildcards, ranges,
AND / OR / NOT and whoosh's ANDNOT, ANDMAYBE and REQUIRE, with a field on each leaf (`text`,
`title`, `lang`, `source`, `entity`, `tag`, `story`, `published`). A word is folded as the index
folds words (lower case, no accents); stemming it is the backend's business, per language.

The grammar is whoosh's default query language, which users already write: the text is read by
whoosh's parser (in `search/whoosh/reading.py`) and turned into this tree, so every query reads as
it did. A backend takes the tree, never the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Union

from veille.errors import QueryError


@dataclass(frozen=True)
class Word:
    """One word (`police`), or one value of a field (`lang:fr`, `entity:palantir`)."""
    field: str
    text: str
    boost: float = 1.0


@dataclass(frozen=True)
class Phrase:
    """Words in this order, at most `slop` apart ("reconnaissance faciale")."""
    field: str
    words: tuple[str, ...]
    slop: int = 1
    boost: float = 1.0


@dataclass(frozen=True)
class Prefix:
    """Words that start with `text` (`surveil*`)."""
    field: str
    text: str
    boost: float = 1.0


@dataclass(frozen=True)
class Wildcard:
    """Words that match a pattern of `?` (one character) and `*` (any run): `te?t`, `*veillance`."""
    field: str
    text: str
    boost: float = 1.0


@dataclass(frozen=True)
class Range:
    """Words between two words (`[a TO m]`); None: open on that side."""
    field: str
    start: str | None
    end: str | None
    start_excl: bool = False
    end_excl: bool = False
    boost: float = 1.0


@dataclass(frozen=True)
class DateRange:
    """Published between two moments (`published:2025-03`, `published:[2025-01-01 to]`); None: open."""
    field: str
    start: datetime | None
    end: datetime | None
    start_excl: bool = False
    end_excl: bool = False
    boost: float = 1.0


@dataclass(frozen=True)
class Every:
    """Every document (`*:*`), or every one with a value in a field (`lang:*`)."""
    field: str | None = None
    boost: float = 1.0


@dataclass(frozen=True)
class Empty:
    """No query at all (blank text): every article the filters let through, newest first."""


@dataclass(frozen=True)
class Nothing:
    """A part that could not be read (`date:2025-02-30`): it matches nothing, nor does what it is ANDed with."""


@dataclass(frozen=True)
class Blank:
    """A query of punctuation alone (`()`, `""`, `^`): it matches nothing by itself and adds no
    condition beside others (a filter then holds alone)."""


@dataclass(frozen=True)
class And:
    items: tuple["Query", ...]
    boost: float = 1.0


@dataclass(frozen=True)
class Or:
    items: tuple["Query", ...]
    boost: float = 1.0


@dataclass(frozen=True)
class Not:
    item: "Query"
    boost: float = 1.0


@dataclass(frozen=True)
class AndNot:
    """`a ANDNOT b`: what matches `positive` and not `negative`."""
    positive: "Query"
    negative: "Query"


@dataclass(frozen=True)
class AndMaybe:
    """`a ANDMAYBE b`: what matches `required`, ranked higher if it matches `optional` too."""
    required: "Query"
    optional: "Query"


@dataclass(frozen=True)
class Require:
    """`a REQUIRE b`: what matches both, ranked by `scoring` alone."""
    scoring: "Query"
    required: "Query"


Query = Union[Word, Phrase, Prefix, Wildcard, Range, DateRange, Every, Empty, Nothing, Blank, And, Or, Not, AndNot,
              AndMaybe, Require]


def parse(text: str, *, entity_key: Callable[[str], str] | None = None) -> Query:
    """The tree of a query as a user wrote it; QueryError (what, and where) if it cannot be read.

    `entity_key` turns a name into its entity key (`entity:"Amazon Web Services"` ->
    `amazon-web-services`): the app passes the alias table; without it a name is only normalised."""
    check_syntax(text)
    return read(text, entity_key=entity_key)


def read(text: str, *, entity_key: Callable[[str], str] | None = None) -> Query:
    """`parse` without the syntax checks: for filters the app wrote itself."""
    from veille.search.whoosh.reading import read_tree  # the grammar is whoosh's (see above)

    return read_tree(text, entity_key=entity_key)

# A query's bounds: whoosh's query parser takes time in the square of a word's length (a word of
# 100,000 characters never finished) and each term costs a lookup; a question to an archive fits
# well within these, a --cross-lingual expansion too.
MAX_QUERY_CHARS = 4_000
MAX_QUERY_TERMS = 300


def check_bounds(query: str) -> None:
    """A query too long to be answered in reasonable time: one line that says the bound."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"search: the query is {len(query):,} characters long, more than the {MAX_QUERY_CHARS:,} "
                         "a query may have; search for fewer or shorter words")
    terms = len(re.findall(r"[^\s()\"]+", query))
    if terms > MAX_QUERY_TERMS:
        raise QueryError(f"search: the query has {terms:,} terms, more than the {MAX_QUERY_TERMS} a query may have; "
                         "search for fewer words (a saved search or --cross-lingual adds its own)")


def check_syntax(query: str) -> None:
    """whoosh quietly guesses around broken syntax; users deserve to be told where it breaks."""
    check_bounds(query)
    if query.count('"') % 2:
        raise QueryError(f'search: unclosed quote at character {query.rfind(chr(34)) + 1}; close the "phrase"')
    depth = 0
    for position, char in enumerate(query, start=1):
        depth += char == "("
        depth -= char == ")"
        if depth < 0:
            raise QueryError(f"search: unmatched ')' at character {position}; remove it or open a '('")
    if depth:
        raise QueryError("search: unclosed '(' in the query; add the missing ')'")
    unquoted = re.sub(r'"[^"]*"', lambda m: " " * len(m.group(0)), query)
    for match in re.finditer(r"(?<![\w:])([A-Za-z_]+):(?!//)", unquoted):
        if match.group(1) not in ("lang", "source", "entity", "tag", "story", "title", "text", "published", "date"):
            raise QueryError(f"search: unknown field {match.group(1)!r} at character {match.start() + 1}; "
                             "use lang:, source:, entity:, tag:, story:, title: or published:")
