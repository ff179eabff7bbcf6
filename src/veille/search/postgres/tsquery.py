"""The query tree (search/query.py) as a WHERE clause over the docs table and a tsquery to rank by.

A part of the tree made only of words becomes one tsquery (`&`, `|`, `!`, `<->`), which the GIN
index answers at once; filters (lang, source, story, published, entity, tag) become conditions on
their columns, and a mix is the SQL AND / OR / NOT of both.

Words are stemmed as the whoosh backend stems them: once per candidate language (the one asked,
else the `lang:` filters, else every language the index holds), by PostgreSQL's own parser,
unaccent and stemmer (`phraseto_tsquery`), the variants ORed; a word that is a stop word in any
candidate language is left out (and told: `ignored`), as the index left it out of those articles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from veille.errors import QueryError
from veille.search import query as T

TEXT_FIELDS = ("text", "title")
FILTER_COLUMNS = {"lang": "lang", "source": "source", "story": "story_id"}
ARRAY_COLUMNS = {"entity": "entities", "tag": "tags"}
LEXEME = re.compile(r"'(?:[^']|'')*'(?::\*)?")
SEPARATOR = "\x1f"  # between the values of an array column, for a prefix of one of them
Lexemes = Callable[[list[tuple[str, str]]], dict[tuple[str, str], str]]


@dataclass
class Clause:
    """What a tree says in SQL: `where` with its `params`; `rank` the tsquery to score by (None:
    no word scores); `scored` whether any part ranks, as whoosh counts it (words, entities, tags)."""
    where: str
    params: list
    rank: str | None
    scored: bool
    ignored: tuple[str, ...] = ()


@dataclass
class _Sql:
    fragment: str
    params: list = field(default_factory=list)





class Translator:
    """One query's translation, for the text search configurations `configs`."""

    def __init__(self, configs: list[str], lexemes: Lexemes) -> None:
        self.configs = configs
        self.lexemes = lexemes
        self.found: dict[tuple[str, str], str] = {}
        self.ignored: list[str] = []
        self.ranked: list[str] = []  # the tsqueries of the words that score
        self.scored = False

    def clause(self, tree: T.Query) -> Clause:
        self.found = self.lexemes(_texts(tree, self.configs))
        part = self.part(tree, positive=True)
        if part is None:
            where, params = ("FALSE" if self.scored else "TRUE"), []
        else:
            sql = _as_sql(part)
            where, params = sql.fragment, sql.params
        rank = " | ".join(f"({q})" for q in dict.fromkeys(self.ranked)) or None
        return Clause(where, params, rank, self.scored, tuple(dict.fromkeys(self.ignored)))

    def part(self, node: T.Query, positive: bool):
        kind = type(node)
        if kind is T.And:
            return _and([self.part(item, positive) for item in node.items])
        if kind is T.Or:
            return _or([self.part(item, positive) for item in node.items])
        if kind is T.Not:
            return _not(self.part(node.item, False))
        if kind is T.AndNot:
            return _and([self.part(node.positive, positive), _not(self.part(node.negative, False))])
        if kind is T.AndMaybe:  # the optional part ranks, never narrows
            required = self.part(node.required, positive)
            self.part(node.optional, positive)
            return required
        if kind is T.Require:
            return _and([self.part(node.scoring, positive), self.part(node.required, False)])
        return self.leaf(node, positive)

    def leaf(self, node, positive: bool):
        kind = type(node)
        if kind is T.Empty:
            return _Sql("TRUE")
        if kind is T.Blank:
            return None
        if kind is T.Nothing:
            return _Sql("FALSE")
        if kind is T.Every:
            return _Sql("published IS NOT NULL" if node.field == "published" else "TRUE")
        if kind is T.DateRange:
            return _dates(node)
        if node.field in TEXT_FIELDS:
            self.scored = True
            query = self.words(node)
            if query is not None and positive:
                self.ranked.append(query)
            return query
        if node.field in ARRAY_COLUMNS:
            self.scored = True
        return _field(node)

    def words(self, node) -> str | None:
        """The tsquery of a word, phrase or prefix in every candidate language (None: left out)."""
        kind = type(node)
        if kind is T.Word:
            variants = [self.found[(config, node.text)] for config in self.configs]
            if not all(variants):
                self.ignored.append(node.text)
                return None
            query = _any(variants)
        elif kind is T.Phrase:
            variants = [_slop(self.found[(config, " ".join(node.words))], node.slop) for config in self.configs]
            query = _any([v for v in variants if v])
        elif kind is T.Prefix or (kind is T.Wildcard and re.fullmatch(r"[^*?]+\*", node.text)):
            query = _quoted(node.text.rstrip("*")) + ":*"
        elif kind is T.Wildcard:
            raise QueryError(f"search: the PostgreSQL index has no wildcards inside words ({node.text}); "
                             "use a prefix* instead")
        else:
            raise QueryError("search: the PostgreSQL index has no ranges of words ([a TO m]); "
                             "search for the words, or a prefix*")
        if query and node.field == "title":
            query = LEXEME.sub(lambda m: m.group() + ("A" if m.group().endswith(":*") else ":A"), query)
        return query or None


def _texts(tree: T.Query, configs: list[str]) -> list[tuple[str, str]]:
    """Every (configuration, words) pair the tree needs stemmed."""
    wanted: list[tuple[str, str]] = []

    def walk(node) -> None:
        for child in _children(node):
            walk(child)
        if getattr(node, "field", None) in TEXT_FIELDS:
            text = node.text if isinstance(node, T.Word) else " ".join(node.words) if isinstance(node, T.Phrase) \
                else None
            if text is not None:
                wanted.extend((config, text) for config in configs)

    walk(tree)
    return list(dict.fromkeys(wanted))


def _children(node) -> tuple:
    if isinstance(node, (T.And, T.Or)):
        return node.items
    if isinstance(node, T.Not):
        return (node.item,)
    if isinstance(node, T.AndNot):
        return node.positive, node.negative
    if isinstance(node, T.AndMaybe):
        return node.required, node.optional
    if isinstance(node, T.Require):
        return node.scoring, node.required
    return ()


def _any(variants: list[str]) -> str:
    unique = list(dict.fromkeys(variants))
    return unique[0] if len(unique) == 1 else " | ".join(f"({v})" for v in unique)


def _slop(query: str, slop: int) -> str:
    """A phrase `a <-> b` allowed up to `slop` positions apart ("a b"~3); longer phrases: every word."""
    if slop <= 1 or not query:
        return query
    words = LEXEME.findall(query)
    if len(words) == 2:
        return " | ".join(f"{words[0]} <{gap}> {words[1]}" for gap in range(1, slop + 1))
    return " & ".join(words)


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _as_sql(part) -> _Sql:
    return _Sql("doc @@ %s::tsquery", [part]) if isinstance(part, str) else part


def _and(parts: list):
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    words = [p for p in parts if isinstance(p, str)]
    conditions = [p for p in parts if isinstance(p, _Sql)]
    if words:
        joined = words[0] if len(words) == 1 else " & ".join(f"({w})" for w in words)
        if not conditions:
            return joined
        conditions.append(_as_sql(joined))
    if len(conditions) == 1:
        return conditions[0]
    return _Sql(" AND ".join(f"({c.fragment})" for c in conditions), [v for c in conditions for v in c.params])


def _or(parts: list):
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    if all(isinstance(p, str) for p in parts):
        return parts[0] if len(parts) == 1 else " | ".join(f"({p})" for p in parts)
    conditions = [_as_sql(p) for p in parts]
    return _Sql(" OR ".join(f"({c.fragment})" for c in conditions), [v for c in conditions for v in c.params])


def _not(part):
    if part is None:
        return None
    if isinstance(part, str):
        return f"!({part})"
    return _Sql(f"({part.fragment}) IS NOT TRUE", part.params)


def _field(node) -> _Sql:
    """A filter field's condition: lang, source, story as columns; entity and tag as arrays."""
    kind = type(node)
    if node.field in FILTER_COLUMNS:
        column = FILTER_COLUMNS[node.field]
        if kind is T.Word:
            return _Sql(f"{column} = %s", [node.text])
        if kind in (T.Prefix, T.Wildcard):
            return _Sql(f"{column} LIKE %s", [_like(node)])
    elif node.field in ARRAY_COLUMNS:
        column = ARRAY_COLUMNS[node.field]
        if kind is T.Word:
            return _Sql(f"{column} @> %s::text[]", [[node.text]])
        if kind in (T.Prefix, T.Wildcard):
            return _Sql(f"(chr(31) || array_to_string({column}, chr(31)) || chr(31)) LIKE %s",
                        ["%" + SEPARATOR + _like(node) + SEPARATOR + "%"])
    if kind is T.Range and node.field in FILTER_COLUMNS:
        return _between(FILTER_COLUMNS[node.field], node, "TRUE")
    return _Sql("FALSE")  # a field the index does not have


def _like(node) -> str:
    """A LIKE pattern: a prefix (`pal*`) or a wildcard (`te?t`), the rest taken as written."""
    escaped = node.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = escaped.replace("*", "%").replace("?", "_")
    return pattern + "%" if isinstance(node, T.Prefix) else pattern


def _dates(node: T.DateRange) -> _Sql:
    return _between("published", node, "published IS NOT NULL")


def _between(column: str, node, unbounded: str) -> _Sql:
    """`column` within a range's ends (each included or not); `unbounded` when it has neither."""
    conditions, params = [], []
    if node.start is not None:
        conditions.append(f"{column} {'>' if node.start_excl else '>='} %s")
        params.append(node.start)
    if node.end is not None:
        conditions.append(f"{column} {'<' if node.end_excl else '<='} %s")
        params.append(node.end)
    return _Sql(" AND ".join(conditions) or unbounded, params)
