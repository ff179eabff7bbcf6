"""Reading a query for whoosh: its parser, filters split from what scores, words stemmed per language."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable

from whoosh import query as Q
from whoosh.qparser import QueryParser
from whoosh.qparser.dateparse import DateParserPlugin

from veille.errors import QueryError
from veille.search.protocol import Filters
from veille.search.query import Empty, Query
from veille.search.whoosh.analysis import Language
from veille.search.whoosh.tree import from_whoosh
from veille.text.keys import normalise
from veille.text.scripts import has_cjk

FILTER_FIELDS = ("lang", "source", "published", "story")


class CJKQueryParser(QueryParser):
    """whoosh's parser, except that a word the analyzer cuts into CJK pairs ("传输层" -> 传输 输层)
    is the phrase of those pairs, in order, rather than an AND of them anywhere in the text."""

    def multitoken_query(self, spec, texts, fieldname, termclass, boost):
        if any(has_cjk(text) for text in texts):
            return self.phraseclass(fieldname, texts, boost=boost)
        return super().multitoken_query(spec, texts, fieldname, termclass, boost)


def is_filter(item) -> bool:
    fieldname = getattr(item, "fieldname", None)
    return fieldname in FILTER_FIELDS and not isinstance(item, (Q.CompoundQuery, Q.WrappingQuery, Q.BinaryQuery))


def stem_query(item, tables: list[Language], ignored: list[str]):
    """Turn folded query words into the index terms of each candidate language.

    A word that is a stop word in any of those languages is left out, as the index left it out of
    that language's articles: kept for the others, "the palantir" would require a French "the"
    and find nothing (`ignored` collects such words, for the user to be told)."""
    if isinstance(item, Q.Term) and item.fieldname in ("text", "title"):
        stems = [table.term(item.text) for table in tables]
        terms = list(dict.fromkeys(t for t in stems if t))
        if not all(stems):
            ignored.append(item.text)
            return Q.NullQuery
        if not terms:
            return Q.NullQuery
        made = [Q.Term(item.fieldname, t, boost=item.boost) for t in terms]
        return made[0] if len(made) == 1 else Q.Or(made)
    if isinstance(item, Q.Phrase) and item.fieldname in ("text", "title"):
        variants = []
        for table in tables:
            words = tuple(t for t in (table.term(w) for w in item.words) if t)
            if words and words not in variants:
                variants.append(words)
        if not variants:
            return Q.NullQuery
        positional = "phrases" if item.fieldname == "text" else item.fieldname
        made = [Q.Term(item.fieldname, v[0], boost=item.boost) if len(v) == 1 else
                Q.Phrase(positional, list(v), slop=item.slop, boost=item.boost) for v in variants]
        return made[0] if len(made) == 1 else Q.Or(made)
    if isinstance(item, (Q.CompoundQuery, Q.WrappingQuery, Q.BinaryQuery)):
        return item.apply(lambda sub: stem_query(sub, tables, ignored))
    return item


def filter_text(filters: Filters) -> str:
    """Filters in whoosh's query syntax, read by the same parser as the query (so a source's name
    is lower-cased and cut at commas as the index cut it)."""
    found = []
    if filters.lang:
        found.append(f"lang:{filters.lang}")
    if filters.source:
        found.append(f'source:"{filters.source}"')
    if filters.since or filters.until:
        found.append(f"published:[{filters.since or ''} to {filters.until or ''}]")
    found += [f"entity:{key}" for key in filters.entities] + [f"tag:{tag}" for tag in filters.tags]
    if filters.story:
        found.append(f"story:{filters.story}")
    return " ".join(found)


def read_tree(text: str, *, entity_key: Callable[[str], str] | None = None) -> Query:
    """The tree of a query, read by whoosh's parser against the index's schema."""
    if not text.strip():
        return Empty()
    parser = CJKQueryParser("text", schema=_query_schema())
    parser.add_plugin(DateParserPlugin(free=False))
    try:
        parsed = parser.parse(normalise_filters(text, entity_key or normalise))
    except Exception as exc:  # whoosh raises assorted errors for odd syntax
        raise QueryError(f"search: cannot read the query ({exc}); check quotes, parentheses and field:value") from None
    return from_whoosh(parsed)


@lru_cache(maxsize=1)
def _query_schema():
    from veille.search.whoosh.index import schema  # the index's module defines it (see its alias)

    return schema()


def normalise_filters(query: str, entity_key: Callable[[str], str]) -> str:
    """`entity:"Amazon Web Services"` -> `entity:amazon-web-services`; `date:` is `published:`."""
    query = re.sub(r"\bdate:", "published:", query)
    # whoosh's date parser reads 2025-03-01 as the whole of 2025, but 20250301 as that day
    query = re.sub(r"published:(\[[^\]]*\]|\S+)",
                   lambda m: "published:" + re.sub(r"\b(\d{4})-(\d{2})(?:-(\d{2}))?\b",
                                                   lambda d: "".join(g for g in d.groups() if g), m.group(1)), query)
    return re.sub(r'entity:(?:"([^"]+)"|([^\s)]+))', lambda m: f"entity:{entity_key(m.group(1) or m.group(2))}",
                  query)
