"""The PostgreSQL search backend answers as the whoosh one: the same stories, in the same order
class, on the seeds and the fixture site (both indexes fed from one SQLite archive)."""

from __future__ import annotations

from datetime import date

import pytest

from conftest import FIXTURES, SEEDS, Cli
from veille.models import Article
from veille.search import Filters, open_index
from veille.search.query import parse
from veille.storage import open_archive


@pytest.fixture(scope="module")
def archive_and_ids(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("pgsearch"))
    cli("import", str(SEEDS), str(FIXTURES / "site"), "--quiet")
    ids = {row["url"].rsplit("/", 1)[1][:3]: row["id"] for row in cli.json_lines("list", "--limit", "0")
           if "seeds" in row["url"]}
    return cli, ids


@pytest.fixture(scope="module")
def pg_dsn(pg_cluster):
    return pg_cluster.new_database("search")


@pytest.fixture(scope="module")
def backends(archive_and_ids, pg_dsn):
    """The whoosh index the CLI built, and a PostgresIndex fed from `archive.changed_since`."""
    from veille.search.postgres.index import PostgresIndex

    cli, ids = archive_and_ids
    archive = open_archive(cli.archive)
    whoosh = open_index(archive, reader=True)
    postgres = PostgresIndex(pg_dsn, repair=True)
    assert postgres.rebuilt == "missing" and postgres.cursor == ""
    while changed := archive.changed_since(postgres.cursor, 7):  # small batches: several transactions
        postgres.add(((a, story, keys, tags) for a, story, keys, tags, _ in changed), changed[-1][4])
    yield {"whoosh": whoosh, "postgres": postgres}, ids, archive
    whoosh.close()
    postgres.close()
    archive.close()


def stories(index, query, **options):
    return [group[0].story for group in index.search(parse(query), limit=50, **options).groups]


def ids_of(index, query, **options):
    return {h.id for h in index.search(parse(query), limit=100, by_story=False, **options).hits}


QUERIES = ["palantir", '"reconnaissance faciale"', "surveillance", "police AND données", "palantir OR technopolice",
           "surveillance NOT entity:palantir", '"les des"', "surveil*", "securite", "reconnaissances", "entity:palantir", "tag:spyware",
           "tag:facial-recognition AND lang:fr", "title:palantir", "lang:de", '"10:30" OR palantir', "lang:en police",
           "published:[2025-01-01 to]", "cameras OR caméras", "tyrans", '"the police"', "(police OR ville) AND lang:fr"]


@pytest.mark.parametrize("query", QUERIES)
def test_postgres_finds_the_same_articles_and_stories_as_whoosh(backends, query):
    indexes, _, _ = backends
    assert ids_of(indexes["postgres"], query) == ids_of(indexes["whoosh"], query)
    ours, theirs = stories(indexes["postgres"], query), stories(indexes["whoosh"], query)
    assert sorted(ours) == sorted(theirs) and len(set(ours)) == len(ours)  # one line per story
    assert indexes["postgres"].count(parse(query))[1] == indexes["whoosh"].count(parse(query))[1]


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_the_acceptance_queries_of_the_seeds(backends, backend):
    indexes, ids, _ = backends
    index = indexes[backend]
    (story,) = [g for g in index.search(parse("palantir"), limit=10).groups if ids["000"] in {h.id for h in g}]
    assert {h.id for h in story} >= {ids["000"], ids["001"], ids["002"]}
    seeds = set(ids.values())
    assert ids_of(index, '"reconnaissance faciale"') & seeds == {ids["003"], ids["004"]}
    assert ids["003"] in ids_of(index, "securite") and ids["003"] in ids_of(index, "reconnaissances")
    assert ids["000"] in ids_of(index, "tyrans", lang="fr") and ids["002"] not in ids_of(index, "tyrans", lang="fr")
    assert ids_of(index, "entity:amazon-web-services") == {ids["000"], ids["001"], ids["002"]}


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_filters_narrow_as_the_query_syntax_does(backends, backend):
    indexes, ids, _ = backends
    index = indexes[backend]
    assert index.search(parse("palantir"), filters=Filters(lang="de")).groups == []
    french = index.search(parse("surveillance"), filters=Filters(lang="fr"), limit=100, by_story=False).hits
    assert french and all(h.lang == "fr" for h in french)
    since = index.search(parse("surveillance"), filters=Filters(since=date(2025, 3, 1)), limit=100, by_story=False)
    assert all(h.published is None or h.published.date() >= date(2025, 3, 1) for h in since.hits)
    assert index.count(parse("police"), filters=Filters(entities=("palantir",))) == \
        index.count(parse("police entity:palantir"))
    source = index.search(parse(""), limit=1, by_story=False).hits[0]
    only = index.search(parse(""), filters=Filters(source=index_source(backends, source.id)), limit=100,
                        by_story=False).hits
    assert only and source.id in {h.id for h in only}


def index_source(backends, article_id):
    return backends[2].get_article(article_id).source


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_pages_follow_each_other_and_say_when_there_is_more(backends, backend):
    index = backends[0][backend]
    everything = stories(index, "", sort="date")
    first, second = (index.search(parse(""), limit=3, page=p) for p in (1, 2))
    assert first.more and len(first.groups) == 3
    assert [g[0].story for g in first.groups + second.groups] == everything[:6]
    last = index.search(parse(""), limit=3, page=(len(everything) + 2) // 3)
    assert not last.more


def test_newest_first_without_words_and_with_sort_date(backends):
    index = backends[0]["postgres"]
    newest = [h.published for h in index.search(parse("surveillance"), sort="date", limit=50, by_story=False).hits]
    dated = [d for d in newest if d is not None]
    assert dated == sorted(dated, reverse=True)
    assert index.parse(parse("lang:fr")).scored is None and index.parse(parse("police")).scored is not None


def test_snippets_mark_the_query_words_as_whoosh_does(backends):
    indexes, ids, archive = backends
    text = archive.get_article(ids["003"]).text
    for backend in ("whoosh", "postgres"):
        snippet = indexes[backend].highlighter(parse('"reconnaissance faciale" securite')).snippet(text, "fr")
        assert "[reconnaissance]" in snippet.lower() or "[reconnaissance" in snippet.lower()
    assert indexes["postgres"].highlighter(parse("securite")).snippet(text, "fr") == \
        indexes["whoosh"].highlighter(parse("securite")).snippet(text, "fr")


def test_not_leaves_out_the_articles_with_the_word_in_any_of_its_forms(backends):
    index = backends[0]["postgres"]
    police = ids_of(index, "police")
    assert police and not police & ids_of(index, "surveillance NOT police")
    assert ids_of(index, "surveillance NOT police") | (ids_of(index, "surveillance") & police) == \
        ids_of(index, "surveillance")


def test_common_words_are_left_out_and_told(backends):
    index = backends[0]["postgres"]
    assert "the" in index.parse(parse("the palantir")).ignored
    assert stories(index, "the palantir") == stories(index, "palantir")


def test_a_wildcard_inside_a_word_is_one_clear_line(backends):
    from veille.errors import QueryError

    with pytest.raises(QueryError, match="prefix"):
        backends[0]["postgres"].search(parse("te?t"))


def article(n: int, text: str, lang: str = "en") -> Article:
    return Article(id=f"{n:016x}", url=f"https://example.org/{n}", source="Example", text=text, lang=lang,
                   title=f"title {n}", published="2025-05-01")


def test_the_cursor_is_kept_and_an_updated_article_replaces_its_row(pg_cluster):
    from veille.search.postgres.index import PostgresIndex

    dsn = pg_cluster.new_database("cursor")
    index = PostgresIndex(dsn, repair=True)
    index.add([(article(1, "the old words about drones"), "s1", [], []), (article(2, "cameras"), "s2", [], [])], "7")
    index.close()
    index = PostgresIndex(dsn, repair=True)
    assert index.cursor == "7" and index.rebuilt is None and index.doc_count() == 2
    index.add([(article(1, "new words about satellites"), "s1", ["nasa"], ["space"])], "9")
    assert index.doc_count() == 2 and index.cursor == "9"
    assert {h.id for h in index.search(parse("satellites")).hits} == {f"{1:016x}"}
    assert index.search(parse("drones")).groups == []
    assert index.count(parse("entity:nasa tag:space")) == ([f"{1:016x}"], 1)
    reader = PostgresIndex(dsn, reader=True)
    assert reader.doc_count() == 2
    reader.close()
    index.close()


def test_a_reindex_builds_beside_and_swaps_in(pg_cluster):
    from veille.search.postgres.index import PostgresIndex

    dsn = pg_cluster.new_database("beside")
    live = PostgresIndex(dsn, repair=True)
    live.add([(article(1, "drones"), "s1", [], [])], "3")
    fresh = PostgresIndex(dsn, beside=True)
    fresh.add([(article(n, "satellites and drones"), f"s{n}", [], []) for n in range(2, 500)], "5", procs=2)
    assert live.doc_count() == 1 and live.search(parse("satellites")).groups == []  # readers see the old one
    fresh.close()  # as sync_index does before reindex publishes
    fresh.publish()
    assert live.doc_count() == 498 and live.cursor == "5" and len(live.search(parse("satellites")).groups) == 10
    again = PostgresIndex(dsn, beside=True)  # a second reindex finds the names it needs
    again.publish()
    assert live.doc_count() == 0
    for index in (live, fresh, again):
        index.close()


def test_a_reader_of_a_database_without_the_tables_is_told_to_build_them(pg_cluster):
    from veille.errors import IndexDamagedError
    from veille.search.postgres.index import PostgresIndex

    with pytest.raises(IndexDamagedError, match="not built yet"):
        PostgresIndex(pg_cluster.new_database("empty"), reader=True)


def test_tables_from_a_newer_veille_and_a_wrong_url_are_one_line(pg_cluster):
    from veille.errors import SearchDatabaseError
    from veille.search.postgres.index import PostgresIndex

    dsn = pg_cluster.new_database("newer")
    PostgresIndex(dsn).close()
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE search_state SET value = '99' WHERE name = 'version'")
    with pytest.raises(SearchDatabaseError, match="version 99, from a newer veille") as caught:
        PostgresIndex(dsn)
    assert "\n" not in str(caught.value)
    with pytest.raises(SearchDatabaseError, match="cannot connect to PostgreSQL") as caught:
        PostgresIndex(pg_cluster.url("no_such_database"))
    assert "\n" not in str(caught.value)


def test_open_index_gives_a_postgresql_archive_its_postgres_index(pg_cluster):
    from veille.search.postgres.index import PostgresIndex

    class PostgresArchive:
        kind = "postgresql"
        dsn = pg_cluster.new_database("dispatch")

    index = open_index(PostgresArchive(), repair=True)
    assert isinstance(index, PostgresIndex)
    index.close()
