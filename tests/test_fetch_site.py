"""`veille fetch` against a local multilingual site with real-looking boilerplate."""

import json

import pytest

from veille.config import parse_config
from veille.pipeline import fetch_sources
from veille.store import Archive

from conftest import FIXTURES

MANIFEST = json.loads((FIXTURES / "site" / "MANIFEST.json").read_text(encoding="utf-8"))

CONFIG = """\
sources:
  - name: observatoire
    url: {base}/feeds/observatoire.xml
  - name: watchdog
    url: {base}/feeds/watchdog.atom
  - name: netzwacht
    url: {base}/feeds/netzwacht.xml
  - name: vigilancia
    url: {base}/feeds/vigilancia.xml
  - name: rapport
    url: {base}/page/rapport-annuel.html
    kind: page
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from veille.devserver import FixtureServer

    folder = tmp_path_factory.mktemp("site-run")
    with FixtureServer(FIXTURES / "site") as server:
        config = parse_config(CONFIG.format(base=server.url), folder / "feeds.yaml")
        with Archive(folder / "archive") as archive:
            first = fetch_sources(config, archive)
            requests_before = len(server.requests)
            second = fetch_sources(config, archive)
            second_requests = server.requests[requests_before:]
            articles = {a.url.replace(server.url + "/", ""): archive.get_article(a.id)
                        for a in archive.list_articles(limit=None)}
            yield first, second, second_requests, articles, server.url


def test_every_article_of_the_site_is_archived(run):
    first, _, _, articles, _ = run
    assert first.counts["new"] == len(MANIFEST) and first.counts["failed"] == 0, first.failures
    assert sorted(articles) == sorted(page["path"] for page in MANIFEST)


@pytest.mark.parametrize("page", MANIFEST, ids=[p["path"] for p in MANIFEST])
def test_each_article_has_its_title_clean_text_and_language(run, page):
    article = run[3][page["path"]]
    assert article.title == page["title"]
    assert article.lang == page["lang"] and article.lang_confidence > 0.9
    for phrase in page["must_contain"]:
        assert phrase in article.text
    for phrase in page["must_not_contain"]:
        assert phrase not in article.text, phrase
    assert article.raw and b"<html" in article.raw.lower()
    assert article.site_name and article.author and article.published


def test_a_second_run_stores_nothing_and_asks_conditionally(run):
    _, second, requests, _, _ = run
    assert second.counts["new"] == 0 and second.counts["updated"] == 0 and second.counts["failed"] == 0
    feed_requests = [r for r in requests if r.path.startswith(("/feeds/", "/page/"))]
    assert len(feed_requests) == 5
    assert all("if-none-match" in r.headers and "if-modified-since" in r.headers for r in feed_requests)
    # 304s: no article page was fetched again
    assert not [r for r in requests if r.path.startswith(("/observatoire/", "/watchdog/"))]


def test_translations_keep_their_hreflang_links(run):
    articles, base = run[3], run[4]
    english = articles["watchdog/nice-facial-recognition-contract.html"]
    assert english.alternates["fr"] == f"{base}/observatoire/nice-contrat-reconnaissance-faciale.html"


def test_entries_already_archived_are_not_fetched_when_the_feed_changes(tmp_path):
    from veille.devserver import FixtureServer

    with FixtureServer(FIXTURES / "site") as server:
        config = parse_config(CONFIG.format(base=server.url), tmp_path / "feeds.yaml")
        with Archive(tmp_path / "archive") as archive:
            fetch_sources(config, archive, names=["watchdog"])
            # The feed changes (new ETag): its entries are read again, but pages already archived are not fetched.
            feed = (FIXTURES / "site" / "feeds" / "watchdog.atom").read_bytes()
            server.pages["/feeds/watchdog.atom"] = feed.replace(b"</feed>", b"<!-- changed --></feed>")
            before = len(server.requests)
            report = fetch_sources(config, archive, names=["watchdog"])
            paths = [r.path for r in server.requests[before:]]
    assert paths == ["/feeds/watchdog.atom"]
    assert report.counts["unchanged"] == 4 and report.counts["new"] == 0
