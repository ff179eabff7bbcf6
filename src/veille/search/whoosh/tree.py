"""The query tree (search/query.py) to whoosh's query objects and back, node for node."""

from __future__ import annotations

from whoosh import query as Q
from whoosh.util.times import long_to_datetime

from veille.search import query as T


def to_whoosh(node: T.Query) -> Q.Query:
    """The whoosh query of a tree node (Empty: whoosh's Every, as a blank query always was)."""
    kind = type(node)
    if kind in _LEAVES:
        return _LEAVES[kind](node)
    if kind is T.And:
        return Q.And([to_whoosh(item) for item in node.items], boost=node.boost)
    if kind is T.Or:
        return Q.Or([to_whoosh(item) for item in node.items], boost=node.boost)
    if kind is T.Not:
        return Q.Not(to_whoosh(node.item), boost=node.boost)
    if kind is T.AndNot:
        return Q.AndNot(to_whoosh(node.positive), to_whoosh(node.negative))
    if kind is T.AndMaybe:
        return Q.AndMaybe(to_whoosh(node.required), to_whoosh(node.optional))
    if kind is T.Require:
        return Q.Require(to_whoosh(node.scoring), to_whoosh(node.required))
    raise TypeError(f"not a query node: {node!r}")


_LEAVES = {
    T.Word: lambda n: Q.Term(n.field, n.text, boost=n.boost),
    T.Phrase: lambda n: Q.Phrase(n.field, list(n.words), slop=n.slop, boost=n.boost),
    T.Prefix: lambda n: Q.Prefix(n.field, n.text, boost=n.boost),
    T.Wildcard: lambda n: Q.Wildcard(n.field, n.text, boost=n.boost),
    T.Range: lambda n: Q.TermRange(n.field, n.start, n.end, n.start_excl, n.end_excl, boost=n.boost),
    T.DateRange: lambda n: Q.DateRange(n.field, n.start, n.end, n.start_excl, n.end_excl, boost=n.boost),
    T.Every: lambda n: Q.Every(n.field, boost=n.boost),
    T.Empty: lambda n: Q.Every(),
    T.Nothing: lambda n: _Unread(),
    T.Blank: lambda n: Q.NullQuery,
}
_Unread = type(Q.NullQuery)  # whoosh's parser marks what it cannot read with one of its own, not the
# shared NullQuery: normalize() drops the shared one from an And, and keeps these (so the And matches nothing)


def from_whoosh(item: Q.Query) -> T.Query:
    """The tree node of what whoosh's parser read (the kinds of query its default grammar makes)."""
    if isinstance(item, _Unread):
        return T.Blank() if item is Q.NullQuery else T.Nothing()
    if isinstance(item, Q.Term):
        return T.Word(item.fieldname, item.text, item.boost)
    if isinstance(item, Q.Phrase):
        return T.Phrase(item.fieldname, tuple(item.words), item.slop, item.boost)
    if isinstance(item, Q.Prefix):
        return T.Prefix(item.fieldname, item.text, item.boost)
    if isinstance(item, Q.Wildcard):
        return T.Wildcard(item.fieldname, item.text, item.boost)
    if isinstance(item, Q.TermRange):
        return T.Range(item.fieldname, item.start, item.end, item.startexcl, item.endexcl, item.boost)
    if isinstance(item, Q.DateRange):
        return T.DateRange(item.fieldname, item.startdate, item.enddate, item.startexcl, item.endexcl, item.boost)
    if isinstance(item, Q.NumericRange):  # the DATETIME field's own reading of odd syntax ("date:20250101}")
        start, end = (None if v is None else long_to_datetime(v) for v in (item.start, item.end))
        return T.DateRange(item.fieldname, start, end, item.startexcl, item.endexcl, item.boost)
    if isinstance(item, Q.Every):
        return T.Every(item.fieldname, item.boost)
    if isinstance(item, (Q.And, Q.Or)):
        return (T.And if isinstance(item, Q.And) else T.Or)(tuple(from_whoosh(s) for s in item.subqueries), item.boost)
    if isinstance(item, Q.Not):
        return T.Not(from_whoosh(item.query), item.boost)
    for kind, node in ((Q.AndNot, T.AndNot), (Q.AndMaybe, T.AndMaybe), (Q.Require, T.Require)):
        if isinstance(item, kind):
            return node(from_whoosh(item.a), from_whoosh(item.b))
    raise TypeError(f"whoosh query without a tree node: {item!r}")

