"""The search index itself: the fast scoring path agrees with whoosh, filters and pages behave."""

import random
import re
from datetime import date, timedelta

import pytest

from conftest import SEEDS
from veille.search.whoosh import fastpath
from veille.search.whoosh.index import SearchIndex, language
from veille.models import Article
from veille.stages.plaintext import clean

QUERIES = ["surveillance", "police", "données", "reconnaissance", "palantir", "données AND personnelles",
           "surveillance OR caméras", "police NOT données", "(ville OR city) AND police", "entity:nice",
           "tag:spyware AND data", "securite", "surveillance lang:fr", "police published:[2025-02-01 to 2025-05-31]",
           "police lang:en published:[2025-03-01 to]"]


def sentences():
    pool = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = clean(path.read_text(encoding="utf-8")).text
        pool += [(s, "fr" if re.search(r"\b(les|des|une)\b", s) else "en")
                 for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 30]
    return pool


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    rng = random.Random(3)
    pool = sentences()
    by_lang = {lang: [s for s, l in pool if l == lang] for lang in ("en", "fr")}
    index = SearchIndex(tmp_path_factory.mktemp("index"))
    docs = []
    for n in range(600):
        lang = "fr" if n % 3 else "en"
        text = " ".join(rng.choice(by_lang[lang]) for _ in range(rng.randrange(3, 12)))
        day = (date(2025, 1, 1) + timedelta(days=rng.randrange(200))).isoformat()
        docs.append((Article(id=f"{n:016x}", url="", source=f"s{n % 7}", text=text, lang=lang, title=text[:50],
                             published=day), f"story{n // 2}", rng.sample(["nice", "palantir", "cnil"], 1),
                     rng.sample(["spyware", "biometrics"], 1)))
    index.add(docs[:300], cursor="1")
    index.add(docs[300:], cursor="2")  # two segments
    index.add(docs[:40:3], cursor="3")  # updates: deleted documents in the first segment
    return index


@pytest.mark.skipif(not fastpath.available, reason="whoosh internals changed: every query goes to whoosh")
@pytest.mark.parametrize("query", QUERIES)
def test_the_fast_path_ranks_like_whoosh(index, query):
    plan = index.parse(query)
    assert plan.scored is None or fastpath.supports(plan.scored), plan.scored
    allowed = index._allowed(plan.filters)
    fast, _ = index._fast_hits(plan, allowed, 1000, by_date=False)
    slow, _ = index._whoosh_hits(plan, allowed, 1000, by_date=False)
    assert fast, "the query should match something in the test corpus"
    assert [h.id for h in fast] == [h.id for h in slow]
    assert [h.score for h in fast] == pytest.approx([h.score for h in slow], abs=2e-3)


def test_filters_keep_only_what_they_say(index):
    for group in index.search("police lang:en published:[2025-03-01 to 2025-04-15]", limit=1000).groups:
        for hit in group:
            assert hit.lang == "en" and date(2025, 3, 1) <= hit.published.date() <= date(2025, 4, 15)
    since = index.search("police", filters="published:[2025-03-01 to 2025-04-15]", limit=1000).hits  # --since/--until
    assert since and all(date(2025, 3, 1) <= h.published.date() <= date(2025, 4, 15) for h in since)
    newest = [h.published for h in index.search("police", sort="date", limit=50, by_story=False).hits]
    assert newest == sorted(newest, reverse=True) and len(newest) == 50


def test_pages_follow_each_other_without_overlap(index):
    first, second = (index.search("surveillance", limit=5, page=p) for p in (1, 2))
    assert first.more and len(first.groups) == 5 and len(second.groups) == 5
    assert not {h.story for h in first.hits} & {h.story for h in second.hits}
    stories = [h.story for h in index.search("surveillance", limit=10).hits]
    assert stories[:5] == [h.story for h in first.hits][:5] or len(set(stories)) < len(stories)


def test_words_are_folded_and_stemmed_in_the_articles_language():
    fr = language("fr")
    assert fr.term("Sécurité") == fr.term("securite") == fr.term("sécurités")
    assert fr.term("reconnaissances") == fr.term("reconnaissance")
    assert fr.term("les") == "" and language("en").term("the") == ""
    assert language("xx").term("Überwachung") == "uberwachung"


def test_a_query_of_stop_words_finds_nothing_rather_than_everything(index):
    assert index.search('"les des"', limit=10).groups == []


def test_the_counting_formats_write_the_bytes_whoosh_would():
    """Articles are counted and placed without a Token per word; the postings must not change."""
    from whoosh import formats

    from veille.search.whoosh.index import ArticleAnalyzer, CountedFrequency, CountedPositions

    analyzer = ArticleAnalyzer()
    for body in ("\x00fr\x00Les caméras de Nice surveillent la ville, et la ville surveille les caméras.",
                 "\x00en\x00Cameras, cameras: the police said the cameras were new.", "\x00\x00", "\x00de\x00"):
        for ours, theirs in ((CountedPositions(field_boost=1.0), formats.Positions(field_boost=1.0)),
                             (CountedFrequency(field_boost=2.0), formats.Frequency(field_boost=2.0))):
            assert sorted(ours.word_values(body, analyzer)) == sorted(theirs.word_values(body, analyzer)), body
    places = dict((w, CountedPositions().decode_positions(v)) for w, _, _, v in
                  CountedPositions().word_values("\x00fr\x00la ville et la ville", analyzer))
    assert places == {"vill": [0, 1]}  # stop words leave no gap: phrases close over them


@pytest.mark.skipif(not fastpath.available, reason="whoosh internals changed: every query goes to whoosh")
@pytest.mark.parametrize("query", ['"données personnelles"', '"reconnaissance faciale"', '"la ville"', '"the police"',
                                   '"surveillance de masse" OR palantir', '"les données" lang:fr'])
def test_the_fast_path_finds_the_same_phrase_matches_as_whoosh(index, query):
    plan = index.parse(query)
    assert fastpath.supports(plan.scored), plan.scored
    allowed = index._allowed(plan.filters)
    fast, _ = index._fast_hits(plan, allowed, 10_000, by_date=False)
    slow, _ = index._whoosh_hits(plan, allowed, 10_000, by_date=False)
    assert fast and {h.id for h in fast} == {h.id for h in slow}


def test_a_bulk_load_in_two_processes_gives_the_same_answers(index, tmp_path):
    """`veille reindex` loads a fresh index with whoosh's parallel writer; it must answer as the serial one."""
    docs = []
    for group in index.search("", sort="date", limit=1000, by_story=False).groups:
        docs.append(group[0].id)
    searcher = index.searcher()
    rebuilt = SearchIndex(tmp_path)
    articles = []
    for fields in searcher.all_stored_fields():
        text = " ".join(w for w in ["surveillance", "police", "données"] if hash(fields["id"] + w) % 2)
        articles.append((Article(id=fields["id"], url="", source="s", text=text or "ville", lang=fields["lang"],
                                 title=None, published="2025-01-01"), fields["story"], [], []))
    rebuilt.add(articles, cursor="x", procs=2)
    serial = SearchIndex(tmp_path / "serial")
    serial.add(articles, cursor="x")
    for query in ("surveillance", "police AND données", "ville OR police"):  # ties may come in another order
        assert {h.id: h.score for h in rebuilt.search(query, limit=1000, by_story=False).hits} == \
            {h.id: h.score for h in serial.search(query, limit=1000, by_story=False).hits}
    assert rebuilt.doc_count() == serial.doc_count() == len(articles) and len(docs) == len(articles)


def test_an_index_written_before_the_subpackages_still_opens():
    """Older indexes pickled their schema's analyzer as `veille.index.ArticleAnalyzer`."""
    import pickle

    from veille.search.whoosh.index import ArticleAnalyzer, schema

    old = pickle.dumps(schema(), protocol=2).replace(b"veille.search.whoosh.index\n", b"veille.index\n")
    assert b"cveille.index\nArticleAnalyzer\n" in old
    opened = pickle.loads(old)
    assert isinstance(opened["text"].analyzer, ArticleAnalyzer)
    assert opened.names() == schema().names()
