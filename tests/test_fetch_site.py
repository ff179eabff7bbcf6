"""`veille fetch` against a local multilingual site with real-looking boilerplate."""

import json

import pytest

from veille.config.settings import parse_config
from veille.pipeline import fetch_sources
from veille.storage.sqlite.store import Archive

from conftest import FIXTURES

MANIFEST = json.loads((FIXTURES / "site" / "MANIFEST.json").read_text(encoding="utf-8"))

CONFIG = """\
settings:
  host_delay: 0  # our own local server
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
    from veille.dev.devserver import FixtureServer

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
    from veille.dev.devserver import FixtureServer

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


FEED = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>Drones over the harbour</title><link>{base}/news/drones.html</link><guid>drones</guid>
<description><![CDATA[<p>The port authority bought four drones with thermal cameras to watch the
harbour day and night, according to documents obtained by local journalists.</p>]]></description></item>
</channel></rss>"""


def page_html(extra: str) -> bytes:
    paragraphs = "".join(
        f"<p>The port authority confirmed that its drones fly over the harbour {extra}, "
        f"paragraph {i}, and that nobody consulted the residents about the cameras.</p>" for i in range(5))
    return f"<html lang='en'><head><title>Drones</title></head><body><article><h1>Drones over the harbour</h1>{paragraphs}</article></body></html>".encode()


@pytest.fixture
def news(tmp_path):
    from veille.dev.devserver import FixtureServer

    with FixtureServer() as server:
        server.pages["/feed.xml"] = FEED.format(base=server.url).encode()
        config = parse_config(f"sources:\n  - name: news\n    url: {server.url}/feed.xml\n", tmp_path / "f.yaml")
        with Archive(tmp_path / "archive") as archive:
            yield server, config, archive


def test_a_missing_page_keeps_the_feed_text_and_heals_when_the_page_appears(news):
    server, config, archive = news
    report = fetch_sources(config, archive)  # the page is 404 for now
    (article,) = archive.list_articles(limit=None)
    stored = archive.get_article(article.id)
    assert stored.origin == "feed" and "http 404" in stored.note and "feed's own text" in stored.note
    assert "thermal cameras" in stored.text
    assert any("http 404" in f.reason for f in report.failures)
    assert archive.failures()[0]["reason"].startswith("page not fetched: http 404")

    server.pages["/news/drones.html"] = page_html("every night")
    server.pages["/feed.xml"] += b" "  # the feed changes, so it is read again
    report = fetch_sources(config, archive)
    healed = archive.get_article(article.id)
    assert report.counts["updated"] == 1
    assert healed.origin == "page" and "every night" in healed.text and healed.revision == 2
    assert archive.failures() == []


def test_a_page_that_changes_is_stored_as_a_new_revision(news, tmp_path):
    server, _, archive = news
    server.pages["/news/drones.html"] = page_html("every night")
    config = parse_config(f"sources:\n  - name: harbour\n    url: {server.url}/news/drones.html\n    kind: page\n",
                          tmp_path / "p.yaml")
    assert fetch_sources(config, archive).counts["new"] == 1
    assert fetch_sources(config, archive).counts["new"] == 0  # 304
    server.pages["/news/drones.html"] = page_html("only on weekends")
    assert fetch_sources(config, archive).counts["updated"] == 1
    (article,) = archive.list_articles(limit=None)
    assert "only on weekends" in archive.get_article(article.id).text
    assert [r["revision"] for r in archive.revisions(article.id)] == [1]


def test_robots_txt_is_honoured_for_article_pages(news):
    from veille.dev.devserver import Reply

    server, config, archive = news
    server.pages["/news/drones.html"] = page_html("every night")
    server.routes["/robots.txt"] = lambda h: Reply(200, b"User-agent: *\nDisallow: /news/\n",
                                                   {"Content-Type": "text/plain"})
    report = fetch_sources(config, archive)
    assert not server.requests_for("/news/drones.html")
    assert any("robots.txt" in f.reason for f in report.failures)
    (article,) = archive.list_articles(limit=None)
    assert archive.get_article(article.id).origin == "feed"


def test_an_entry_that_failed_is_retried_even_when_the_feed_has_not_changed(news):
    from veille.dev.devserver import Reply

    server, config, archive = news
    answers = iter([Reply(503, b"busy", {"Content-Type": "text/plain", "Retry-After": "60"})])
    healthy = page_html("every night")
    server.routes["/news/drones.html"] = lambda h: next(answers, Reply(200, healthy, {"Content-Type": "text/html"}))
    fetch_sources(config, archive)  # 503: the feed's text is kept for now
    report = fetch_sources(config, archive)  # same feed: it must not be a 304 that hides the entry
    (article,) = archive.list_articles(limit=None)
    assert report.counts["updated"] == 1
    assert archive.get_article(article.id).origin == "page"
    third = fetch_sources(config, archive)
    assert third.sources["news"].startswith("not modified")  # and now the feed may be cached


def test_a_feed_teaser_never_replaces_an_article_already_held(news, tmp_path):
    from veille.dev.devserver import Reply

    server, _, archive = news
    server.pages["/news/drones.html"] = page_html("every night")
    first = parse_config(f"sources:\n  - name: a\n    url: {server.url}/feed.xml\n", tmp_path / "a.yaml")
    fetch_sources(first, archive)
    server.routes["/news/drones.html"] = lambda h: Reply(503, b"busy", {"Content-Type": "text/plain"})
    server.pages["/other.xml"] = server.pages["/feed.xml"]
    second = parse_config(f"sources:\n  - name: b\n    url: {server.url}/other.xml\n", tmp_path / "b.yaml")
    report = fetch_sources(second, archive)
    (article,) = archive.list_articles(limit=None)
    stored = archive.get_article(article.id)
    assert report.counts["updated"] == 0
    assert "every night" in stored.text and stored.revision == 1 and stored.source == "a"
