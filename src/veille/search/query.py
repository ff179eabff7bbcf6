"""The query language: bounds and syntax checks that say what is wrong and where."""

from __future__ import annotations

import re

from veille.errors import QueryError

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
