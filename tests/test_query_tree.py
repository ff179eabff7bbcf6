"""The query language as a tree of values: what a backend is asked, whatever text it came from."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from veille.app.queries import filters_of, find_ids, parse_query
from veille.errors import QueryError
from veille.models import Article
from veille.search import Filters, open_index
from veille.search.query import And, Blank, DateRange, Empty, Not, Nothing, Or, Phrase, Prefix, Word, parse
from veille.search.whoosh.index import SearchIndex
from veille.search.whoosh.tree import from_whoosh, to_whoosh


def test_a_query_reads_as_a_tree_of_values():
    assert parse('police AND "Reconnaissance faciale" lang:fr surveil*') == And((
        Word("text", "police"), Phrase("text", ("reconnaissance", "faciale")), Word("lang", "fr"),
        Prefix("text", "surveil")))
    assert parse("caméras OR NOT tag:spyware") == Or((Word("text", "cameras"), Not(Word("tag", "spyware"))))
    assert parse("published:2025-03") == DateRange("published", datetime(2025, 3, 1),
                                                   datetime(2025, 3, 31, 23, 59, 59, 999999))


def test_blank_unreadable_and_empty_queries_are_told_apart():
    assert parse("   ") == Empty()  # everything the filters let through
    assert parse("()") == Blank()  # nothing by itself, no condition beside a filter
    assert parse("date:2025-02-30") == Nothing()  # not a date: matches nothing


def test_errors_say_what_and_where():
    with pytest.raises(QueryError, match="unclosed quote at character 8"):
        parse('police "faciale')
    with pytest.raises(QueryError, match="unknown field 'foo' at character 1"):
        parse("foo:bar")


@pytest.mark.parametrize("text", ['police AND "la ville"~2 lang:fr', "a ANDNOT b", "a ANDMAYBE b", "a REQUIRE b",
                                  "[a TO m}", "te?t^2", "lang:* OR *:*", "传输层", "published:[2025-01-01 to]",
                                  "(police OR caméras)^3 NOT entity:palantir"])
def test_whoosh_gives_back_the_tree_it_was_given(text):
    tree = parse(text)
    assert from_whoosh(to_whoosh(tree)) == tree


def test_names_become_entity_keys_in_every_spelling():
    assert parse_query('entity:AWS entity:"Amazon Web Services"') == Word("entity", "amazon-web-services")


@pytest.fixture
def index(tmp_path):
    opened = SearchIndex(tmp_path)
    docs = [(Article(id=f"{n:016x}", url="", source="Le Monde" if n % 2 else "s", text="police et caméras",
                     lang="fr" if n % 3 else "en", title="t", published=f"2025-0{1 + n % 6}-1{n % 9}"),
             f"story{n // 2}", ["palantir"] if n % 4 == 0 else [], ["spyware"] if n % 5 == 0 else [])
            for n in range(40)]
    opened.add(docs, cursor="1")
    yield opened
    opened.close()


@pytest.mark.parametrize("filters, text", [
    (Filters(lang="fr"), "lang:fr"),
    (Filters(source="Le Monde"), 'source:"Le Monde"'),
    (Filters(since=date(2025, 2, 1), until=date(2025, 4, 15)), "published:[2025-02-01 to 2025-04-15]"),
    (Filters(until=date(2025, 3, 10)), "published:[ to 2025-03-10]"),
    (Filters(entities=("palantir",), tags=("spyware",)), "entity:palantir tag:spyware"),
    (Filters(story="story3"), "story:story3"),
])
def test_filters_narrow_as_their_query_syntax_does(index, filters, text):
    as_value, as_text = index.count("police", filters=filters), index.count("police", filters=text)
    assert as_value == as_text and as_value[0]
    assert index.count(parse("police"), filters=filters) == as_value


def test_find_ids_opens_the_archives_index_when_given_none(tmp_path):
    class Archive:
        folder = tmp_path

        def index_location(self):
            return tmp_path / "index"

    index = open_index(Archive(), repair=True)
    index.add([(Article(id="a" * 16, url="", source="s", text="police", lang="en"), None, [], [])], cursor="1")
    index.close()
    assert find_ids(Archive(), None, "police", filters_of(lang="en")) == (["a" * 16], 1)
    assert find_ids(Archive(), None, "police", filters_of(since="2030-01-01")) == ([], 0)
