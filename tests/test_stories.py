"""One story, many versions: duplicates, copies and translations kept together, and apart."""

import json

import pytest

from conftest import BACKENDS, FIXTURES, SEEDS, Cli


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("stories"))
    cli("import", str(SEEDS))
    rows = {row["url"].rsplit("/", 1)[1][:3]: row for row in cli.json_lines("list", "--limit", "0")}
    return cli, rows


def test_the_seed_article_its_copy_and_its_translation_are_one_story(seeds):
    cli, rows = seeds
    story = rows["002"]["story_id"]
    assert rows["000"]["story_id"] == rows["001"]["story_id"] == story
    assert rows["002"]["relation"] == "original" and rows["000"]["original_id"] == rows["002"]["id"]
    assert rows["000"]["relation"] == "translation"
    assert rows["001"]["relation"] in ("duplicate", "copy")


def test_unrelated_seeds_stand_alone(seeds):
    _, rows = seeds
    assert rows["003"]["relation"] == rows["004"]["relation"] == "original"
    assert len({rows[n]["story_id"] for n in ("002", "003", "004")}) == 3


def test_the_story_command_shows_each_link_with_its_evidence(seeds):
    cli, rows = seeds
    story = cli.json_lines("story", rows["000"]["id"])[0]
    by_id = {m["article_id"]: m for m in story["members"]}
    assert story["original_id"] == rows["002"]["id"]
    assert "shared anchors" in by_id[rows["000"]["id"]]["evidence"]
    assert "Palantir" in cli("story", rows["000"]["id"][:8]).stdout or "ICE" in cli("story", rows["000"]["id"][:8]).stdout
    shown = cli.json_lines("show", rows["001"]["id"])[0]
    assert shown["story_id"] == rows["002"]["story_id"] and shown["story_evidence"]


def test_a_syndication_credit_is_kept_as_evidence(seeds):
    cli, rows = seeds
    assert "La Quadrature du Net" in cli.json_lines("show", rows["003"]["id"])[0]["story_evidence"]


def test_rebuilding_gives_the_same_stories_and_originals(seeds):
    cli, rows = seeds
    before = {r["id"]: (r["story_id"], r["relation"], r["original_id"]) for r in cli.json_lines("list", "--limit", "0")}
    cli("dedupe", "--rebuild")
    after = {r["id"]: (r["story_id"], r["relation"], r["original_id"]) for r in cli.json_lines("list", "--limit", "0")}
    groups = lambda mapping: sorted(sorted(i for i in mapping if mapping[i][0] == s) for s in {v[0] for v in mapping.values()})
    assert groups(before) == groups(after)
    assert {i: v[1:] for i, v in before.items()} == {i: v[1:] for i, v in after.items()}


@pytest.fixture(scope="module", params=BACKENDS)
def site(tmp_path_factory, request):
    from veille.config.settings import parse_config
    from veille.dev.devserver import FixtureServer
    from veille.pipeline import fetch_sources
    from veille.storage import open_archive

    folder = tmp_path_factory.mktemp("site-stories")
    url = request.getfixturevalue("pg_cluster").new_database() if request.param == "postgresql" else folder / "archive"
    feeds = ["observatoire.xml", "watchdog.atom", "netzwacht.xml", "vigilancia.xml"]
    with FixtureServer(FIXTURES / "site") as server:
        text = "settings:\n  host_delay: 0\nsources:\n" + "".join(f"  - name: {f}\n    url: {server.url}/feeds/{f}\n" for f in feeds)
        with open_archive(url) as archive:
            fetch_sources(parse_config(text, folder / "f.yaml"), archive)
            yield {a.url.rsplit("/", 1)[1]: archive.story_membership(a.id) for a in archive.list_articles(limit=None)}


def test_hreflang_pages_are_one_story_and_same_subject_articles_stay_apart(site):
    french = site["nice-contrat-reconnaissance-faciale.html"]
    english = site["nice-facial-recognition-contract.html"]
    assert french["story_id"] == english["story_id"]
    assert "hreflang" in (french["evidence"] + english["evidence"])
    others = [m for name, m in site.items() if name not in ("nice-contrat-reconnaissance-faciale.html",
                                                              "nice-facial-recognition-contract.html")]
    assert len({m["story_id"] for m in others}) == len(others)  # every other article is a story of its own


@pytest.mark.parametrize("variant", [
    "https://m.example.org/news/a?utm_source=rss#top", "https://example.org/amp/news/a",
    "https://example.org/news/a/amp", "https://example.org/news/a?amp=1", "HTTPS://EXAMPLE.ORG:443/news/a",
])
def test_amp_mobile_and_tracking_variants_have_one_canonical_url(variant):
    from veille.text.urls import article_id_for_url, canonical_url

    assert canonical_url(variant) == "https://example.org/news/a"
    assert article_id_for_url(variant) == article_id_for_url("https://example.org/news/a")


def test_an_interrupted_rebuild_resumes_and_ends_with_the_same_stories(any_archive):
    from veille.pipeline import Taggers, import_paths, rebuild_stories

    with any_archive as archive:
        import_paths([SEEDS], archive, taggers=Taggers())
        before = {a.id: archive.story_membership(a.id) for a in archive.list_articles(limit=None)}
        seen = []

        def stop_after_three(event, detail):
            if event == "file":
                seen.append(detail)
                if len(seen) == 3:
                    raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            rebuild_stories(archive, progress=stop_after_three, batch=2)
        report = rebuild_stories(archive, batch=2)
        assert sum(report.counts.values()) < 5  # it carried on instead of starting again
        after = {a.id: archive.story_membership(a.id) for a in archive.list_articles(limit=None)}
    strip = lambda m: (m["relation"], m["original_id"])
    assert {i: strip(m) for i, m in before.items()} == {i: strip(m) for i, m in after.items()}


def test_a_republication_that_credits_its_source_is_a_copy_of_it_even_when_published_first(tmp_path, any_archive):
    from veille.pipeline import Taggers, import_paths

    body = (FIXTURES / "site" / "MANIFEST.json").read_text(encoding="utf-8")  # any real text would do
    article = "\n\n".join(json.loads(body)[0]["must_contain"] * 30)
    original = tmp_path / "original.html"
    original.write_text(f"<html><head><meta property='og:site_name' content='Observatoire'><title>Nice</title>"
                        f"</head><body><article><h1>Nice</h1><p>{article}</p></article></body></html>", encoding="utf-8")
    copy = tmp_path / "copy.txt"
    copy.write_text(f"Nice\n\nSource : Observatoire, 12-03-2026\n\n{article}\n", encoding="utf-8")
    with any_archive as archive:
        import_paths([copy, original], archive, taggers=Taggers())  # the copy arrives first
        rows = {a.url.rsplit("/", 1)[1]: archive.story_membership(a.id) for a in archive.list_articles(limit=None)}
    assert rows["copy.txt"]["story_id"] == rows["original.html"]["story_id"]
    assert rows["original.html"]["relation"] == "original" and rows["copy.txt"]["relation"] in ("copy", "duplicate")


def test_two_rebuilds_give_the_same_stories_whatever_fingerprints_were_there(archive_url):
    # An archive whose articles lack fingerprints (made before stories, or by an older veille) once
    # gave different stories on two rebuilds: the first saw only earlier articles as candidates, the
    # second also the later ones the first had fingerprinted (issue 22).
    import archive_sql
    from veille.pipeline import Taggers, import_paths, rebuild_stories
    from veille.storage import open_archive

    def stories(archive):
        return sorted(sorted((m["article_id"], m["relation"]) for m in archive.story_members(s))
                      for s in {archive.story_of(a.id) for a in archive.list_articles(limit=None)})

    with open_archive(archive_url) as archive:
        import_paths([SEEDS, FIXTURES / "site"], archive, taggers=Taggers())
        placed_as_they_came = stories(archive)
    archive_sql.clear(archive_url, ("fingerprints", "lsh", "anchors", "anchor_lsh", "text_sizes", "stories", "story_members"))
    with open_archive(archive_url) as archive:
        rebuild_stories(archive)
        first = stories(archive)
        rebuild_stories(archive)
        second = stories(archive)
    assert first == second
    assert len(first) == len(placed_as_they_came)


def _dated_page(title: str, day: str, text: str) -> str:
    return (f"<html><head><title>{title}</title><meta property='article:published_time' content='{day}'></head>"
            f"<body><article><h1>{title}</h1><p>{text}</p></article></body></html>")


def test_a_story_keeps_its_id_through_a_rebuild_while_its_members_stay(tmp_path, any_archive):
    # The later-published copy arrived first and named the story; a rebuild places the older one
    # first. Ids quoted in exports and notes must not go stale when nothing changed (issue 21).
    from veille.pipeline import Taggers, import_paths, rebuild_stories

    body = json.loads((FIXTURES / "site" / "MANIFEST.json").read_text(encoding="utf-8"))[0]["must_contain"]
    text = "\n\n".join(body * 30)
    (tmp_path / "later.html").write_text(_dated_page("Later", "2026-03-02", text), encoding="utf-8")
    (tmp_path / "earlier.html").write_text(_dated_page("Earlier", "2026-03-01", text), encoding="utf-8")
    with any_archive as archive:
        import_paths([tmp_path / "later.html", tmp_path / "earlier.html"], archive, taggers=Taggers())
        ids = {a.url.rsplit("/", 1)[1]: a.id for a in archive.list_articles(limit=None)}
        story = archive.story_of(ids["later.html"])
        assert story == archive.story_of(ids["earlier.html"]) == f"s{ids['later.html']}"
        rebuild_stories(archive)
        assert archive.story_of(ids["earlier.html"]) == archive.story_of(ids["later.html"]) == story
        assert archive.story_membership(ids["earlier.html"])["relation"] == "original"
        def stop_after_one(event, detail):
            if event == "file":
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):  # interrupted after the stories were cleared: it resumes
            rebuild_stories(archive, progress=stop_after_one)
        rebuild_stories(archive)
        assert archive.story_of(ids["earlier.html"]) == archive.story_of(ids["later.html"]) == story


def test_each_members_evidence_names_its_relation_to_the_original_before_and_after_a_rebuild(tmp_path):
    # "duplicate" once read "translation of …" and the original "same text as …"; after a rebuild two
    # members were each "translation of" the other (issue 21).
    cli = Cli(tmp_path)
    cli("import", str(SEEDS))
    story_of_000 = next(r["id"] for r in cli.json_lines("list", "--limit", "0") if r["url"].endswith(("/000_ae36fcfe6f8373c6.txt")))
    for _ in range(2):
        story = cli.json_lines("story", story_of_000)[0]
        original = story["original_id"]
        for member in story["members"]:
            said = member["evidence"]
            if member["article_id"] == original:
                assert said.startswith("the original"), said
            else:
                assert said.startswith(f"{member['relation']} of {original[:8]}…"), said
            assert "first of its story" not in said
        shown = cli.json_lines("show", story_of_000)[0]
        assert shown["story_evidence"] == next(m["evidence"] for m in story["members"] if m["article_id"] == story_of_000)
        cli("dedupe", "--rebuild")
