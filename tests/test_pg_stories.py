"""The PostgreSQL archive's stories part answers as the SQLite archive's does: the same candidates in
the same order, the same members, the same rows, for the same articles and fingerprints."""

from __future__ import annotations


import pytest

from conftest import SEEDS
from veille.models import Article, Entity
from veille.stages import dedupe
from veille.storage import open_archive
from veille.storage.sqlite.store import Archive as SQLiteArchive

WORDS = SEEDS.joinpath("002_cdb768120f0b8caf.txt").read_text(encoding="utf-8").split()


def store(archive, article: Article, at: str = "2026-01-05T12:00:00Z") -> None:
    archive.save_article(article, at)


def article(number: int, words: list[str], lang: str = "en", day: str = "05", **kw) -> Article:
    values = dict(id=f"{number:032x}", url=f"https://site{number}.example/news/{number}.html", source=f"s{number}",
                  text=" ".join(words), lang=lang, lang_confidence=0.99, lang_reason="test", extractor="test",
                  published=f"2026-01-{day}T10:00:00Z", lang_shares=((lang, 1.0),), title=f"Title {number}")
    values.update(kw)
    return Article(**values)


def corpus() -> list[Article]:
    """An original, near copies of it, a translation-like text sharing its anchors, hreflang pages,
    and an unrelated text."""
    found = [article(1, WORDS, day="03")]
    for n in range(2, 8):
        copy = list(WORDS)
        for i in range(n):
            copy[(i * 37 + n) % len(copy)] = f"x{n}{i}"
        found.append(article(n, copy, day=f"{n + 2:02d}"))
    anchors = [w for w in WORDS if w[:1].isupper() or any(c.isdigit() for c in w)]
    found.append(article(8, ["le", "texte", "traduit", "de"] * 20 + anchors, lang="fr", day="06",
                         lang_shares=(("fr", 0.8), ("en", 0.2))))
    found.append(article(9, ["ein", "ganz", "anderer", "Text"] * 30, lang="de", day="07",
                         alternates={"en": "https://site10.example/news/10.html"}))
    found.append(article(10, ["a", "wholly", "different", "story", "about", "ports"] * 30, day="07",
                         canonical_url="https://site10.example/news/10.html"))
    for one in found:
        one.entities = [Entity("Palantir", "ORG", 0, 8, "palantir"), Entity("ICE", "ORG", 9, 12, "ice")] if one.lang != "de" else []
    return found


@pytest.fixture
def both(tmp_path, pg_url):
    with SQLiteArchive(tmp_path / "archive") as sqlite, open_archive(pg_url) as postgres:
        articles = corpus()
        for one in articles:
            for archive in (sqlite, postgres):
                store(archive, Article(**{**one.__dict__}))
        fingerprints = {}
        for one in articles:
            fp = dedupe.fingerprint(one)
            fingerprints[one.id] = fp
            alternates = sorted(one.alternates.values())
            for archive in (sqlite, postgres):
                archive.save_fingerprint(fp, alternates)
        yield sqlite, postgres, articles, fingerprints


def plain(rows):
    """FingerprintRows as comparable tuples."""
    return [(r.id, r.lang, r.length, r.text_hash, r.minhash.tolist(), r.size, r.shares, r.credit) for r in rows]


def test_candidates_are_the_same_in_the_same_order(both):
    sqlite, postgres, articles, fingerprints = both
    ids = [a.id for a in articles]
    for fp in fingerprints.values():
        assert plain(postgres.copy_candidates(fp)) == plain(sqlite.copy_candidates(fp))
        assert plain(postgres.copy_candidates(fp, limit=2)) == plain(sqlite.copy_candidates(fp, limit=2))
        assert postgres.anchor_frequencies(fp.anchors, cap=3) == sqlite.anchor_frequencies(fp.anchors, cap=3)
        anchors = sorted(fp.anchors)
        for lang in ("en", "fr"):
            for args in ((lang, "2026-01-01", "2026-01-31", 2), (lang, "2026-01-06", "2026-01-08", 1)):
                assert (postgres.translation_candidates(fp, anchors, *args)
                        == sqlite.translation_candidates(fp, anchors, *args))
            assert (postgres.translation_candidates_by_bands(fp, lang, "2026-01-01", "2026-01-31")
                    == sqlite.translation_candidates_by_bands(fp, lang, "2026-01-01", "2026-01-31"))
        assert (postgres.translation_candidates_by_bands(fp, None, "2026-01-01", "2026-01-31", limit=2)
                == sqlite.translation_candidates_by_bands(fp, None, "2026-01-01", "2026-01-31", limit=2))
    assert postgres.copy_candidates(fingerprints[ids[0]])  # the copies were found at all
    assert plain(postgres.fingerprint_rows(ids)) == plain(sorted(sqlite.fingerprint_rows(ids), key=lambda r: r.id))
    assert postgres.anchors_of(ids + ["missing"]) == sqlite.anchors_of(ids + ["missing"])
    assert postgres.entity_names(["palantir", "ice", "none"]) == sqlite.entity_names(["palantir", "ice", "none"])
    urls = ["https://site10.example/news/10.html", "https://site3.example/news/3.html", "https://nowhere.example/"]
    assert postgres.articles_at_urls(urls) == sqlite.articles_at_urls(urls) == [ids[2], ids[9]]
    assert postgres.articles_linking_to(urls) == sqlite.articles_linking_to(urls) == [ids[8]]
    assert postgres.fingerprint_rows([]) == postgres.articles_at_urls([]) == postgres.articles_linking_to([]) == []
    assert postgres.entity_names([]) == {} and postgres.anchor_frequencies(set()) == {}
    assert postgres.translation_candidates(fingerprints[ids[0]], [], "en", "2026", "2027", 1) == []


def test_placing_only_among_placed_articles_reads_only_those(both):
    sqlite, postgres, articles, fingerprints = both
    first, second = articles[0].id, articles[1].id
    for archive in (sqlite, postgres):
        archive.write_story(f"s{first}", first, [
            {"article_id": first, "relation": "original", "linked_to": None, "score": None, "evidence": "the original",
             "explicit": 0}])
    fp = fingerprints[second]
    assert [r.id for r in postgres.copy_candidates(fp, placed=True)] == [first]
    assert plain(postgres.copy_candidates(fp, placed=True)) == plain(sqlite.copy_candidates(fp, placed=True))
    fp8 = fingerprints[articles[7].id]
    assert (postgres.translation_candidates_by_bands(fp8, "fr", "2026-01-01", "2026-01-31", placed=True)
            == sqlite.translation_candidates_by_bands(fp8, "fr", "2026-01-01", "2026-01-31", placed=True))
    assert (postgres.translation_candidates(fp8, sorted(fp8.anchors), "fr", "2026-01-01", "2026-01-31", 1, placed=True)
            == sqlite.translation_candidates(fp8, sorted(fp8.anchors), "fr", "2026-01-01", "2026-01-31", 1, placed=True))


def test_stories_are_written_read_joined_and_cleared_alike(both):
    sqlite, postgres, articles, _ = both
    ids = [a.id for a in articles]

    def member(i: int, relation: str, linked: int | None = None, score: float | None = None, explicit=0) -> dict:
        return {"article_id": ids[i], "relation": relation, "linked_to": ids[linked] if linked is not None else None,
                "score": score, "evidence": f"{relation} of {ids[0][:8]}…", "explicit": explicit, "lang": "ignored"}

    for archive in (sqlite, postgres):
        archive.write_story("sA", ids[0], [member(0, "original"), member(1, "copy", 0, 0.9)])
        archive.write_story("sB", ids[7], [member(7, "original"), member(2, "copy", 7, 0.8, explicit=True)])
        archive.write_story("sA", ids[0], [member(3, "duplicate", 0, 1.0)], replace=False)  # the others kept
    for archive in (sqlite, postgres):
        assert archive.story_exists("sA") and archive.story_exists("sB") and not archive.story_exists("sC")
    assert [postgres.story_of(i) for i in ids] == [sqlite.story_of(i) for i in ids]
    assert [postgres.story_membership(i) for i in ids] == [sqlite.story_membership(i) for i in ids]
    assert postgres.story_members("sA") == sqlite.story_members("sA")
    assert [m["article_id"] for m in postgres.story_members("sA")] == [ids[0], ids[1], ids[3]]  # oldest first
    asked = [ids[1], ids[2], ids[9]]
    for lang in ("en", "fr"):
        assert ({k: sorted(v) for k, v in postgres.story_members_in_language(asked, lang).items()}
                == {k: sorted(v) for k, v in sqlite.story_members_in_language(asked, lang).items()})
    assert postgres.story_members_in_language(asked, "fr")[ids[2]] == [(ids[7], (("fr", 0.8), ("en", 0.2)))]
    # sB joins sA: its story is deleted, its members become sA's, whole
    for archive in (sqlite, postgres):
        whole = [member(0, "original"), member(1, "copy", 0, 0.9), member(3, "duplicate", 0, 1.0),
                 member(7, "translation", 0, 0.5), member(2, "copy", 0, 0.8)]
        archive.write_story("sA", ids[0], whole, ["sB"])
    assert not postgres.story_exists("sB") and postgres.story_membership(ids[2])["story_id"] == "sA"
    assert postgres.story_members("sA") == sqlite.story_members("sA")
    assert [postgres.story_membership(i) for i in ids] == [sqlite.story_membership(i) for i in ids]
    for archive in (sqlite, postgres):
        archive.clear_stories()
    assert [postgres.story_of(i) for i in ids] == [None] * len(ids) and postgres.story_members("sA") == []


def test_articles_come_in_order_a_batch_at_a_time(both):
    sqlite, postgres, _, _ = both
    from veille.storage import batches_in_order

    def walk(archive):
        return [[(a.id, a.published, a.text, a.lang_shares, a.alternates, a.title) for a in batch]
                for batch, _ in batches_in_order(archive, batch=3)]

    assert walk(postgres) == walk(sqlite)
    assert len(walk(postgres)) == 4


def test_saving_a_fingerprint_again_replaces_its_bands_anchors_and_links(both):
    _, postgres, articles, fingerprints = both
    one = articles[8]
    fp = fingerprints[one.id]
    for _ in range(2):
        postgres.save_fingerprint(fp, ["https://a.example/", "https://b.example/"])
    counts = {table: postgres._value(f"SELECT COUNT(*) AS n FROM {table} WHERE article_id = %s", (one.id,))
              for table in ("lsh", "anchor_lsh", "anchors", "alternate_links", "fingerprints", "text_sizes")}
    assert counts == {"lsh": len(fp.bands), "anchor_lsh": len(fp.anchor_bands), "anchors": len(fp.anchors),
                      "alternate_links": 2, "fingerprints": 1, "text_sizes": 1}
    assert postgres.articles_linking_to(["https://b.example/"]) == [one.id]
    assert postgres.articles_linking_to(["https://site10.example/news/10.html"]) == []


def test_a_deadlock_or_lock_timeout_is_not_said_as_a_server_gone_away():
    # psycopg makes these OperationalErrors, as it does a lost connection: "does not answer, start
    # it again" sent the user to a server that was running.
    import psycopg
    from psycopg_pool import PoolTimeout

    from veille.errors import ServerGoneError, StorageError
    from veille.storage.postgres.base import storage_error

    for exc in (psycopg.errors.DeadlockDetected("deadlock detected"), psycopg.errors.LockNotAvailable("lock timeout"),
                psycopg.errors.SerializationFailure("could not serialize access")):
        converted = storage_error(exc, "db:5432/v")
        assert isinstance(converted, StorageError) and not isinstance(converted, ServerGoneError), exc
        assert str(exc) in str(converted)
    for exc in (psycopg.OperationalError("server closed the connection unexpectedly"), PoolTimeout("no connection"),
                psycopg.errors.AdminShutdown("terminating connection due to administrator command")):
        assert isinstance(storage_error(exc, "db:5432/v"), ServerGoneError), exc
