"""Sites without feeds: sitemap and listing-page sources."""

from __future__ import annotations

import gzip
import json

import pytest

from veille.config.settings import parse_config
from veille.dev.devserver import FixtureServer
from veille.errors import ConfigError, FeedError
from veille.pipeline import fetch_sources
from veille.stages import listing, sitemaps
from veille.storage.sqlite.store import Archive

from conftest import FIXTURES, Cli

MANIFEST = json.loads((FIXTURES / "site" / "MANIFEST.json").read_text(encoding="utf-8"))
WATCHDOG = [p["path"] for p in MANIFEST if p["path"].startswith("watchdog/")]
OBSERVATOIRE = [p["path"] for p in MANIFEST if p["path"].startswith("observatoire/")]
NETZWACHT = [p["path"] for p in MANIFEST if p["path"].startswith("netzwacht/")]
TITLES = {p["path"]: p["title"] for p in MANIFEST}


def news_sitemap(base: str) -> bytes:
    urls = "".join(
        f"<url><loc>{base}/{path}</loc><news:news><news:publication><news:name>Watchdog</news:name>"
        f"<news:language>en</news:language></news:publication>"
        f"<news:publication_date>2026-0{i + 1}-10T08:00:00+01:00</news:publication_date>"
        f"<news:title>{TITLES[path].replace('&', '&amp;')}</news:title></news:news></url>"
        for i, path in enumerate(WATCHDOG))
    return (f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>').encode()


def page_sitemap(base: str, changed: str | None = None) -> bytes:
    urls = "".join(f"<url><loc>{base}/{path}</loc><lastmod>{'2026-05-01' if path == changed else '2026-02-01'}</lastmod></url>"
                   for path in OBSERVATOIRE)
    return gzip.compress(f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode())


def index(base: str) -> bytes:
    return (f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f'<sitemap><loc>{base}/sitemaps/news.xml</loc><lastmod>2026-04-01</lastmod></sitemap>'
            f'<sitemap><loc>{base}/sitemaps/pages.xml.gz</loc></sitemap></sitemapindex>').encode()


def press(base: str, paths: list[str]) -> bytes:
    items = "".join(f'<li><a href="/{p}">{TITLES[p]}</a> <a href="/{p}#comments">3 comments</a></li>' for p in paths)
    return (f'<html><head><title>Communiqués</title></head><body>'
            f'<header><nav><a href="/">Home</a> <a href="/about/">About us</a> '
            f'<a href="/netzwacht/kontakt-und-impressum-der-redaktion.html">Kontakt und Impressum</a></nav></header>'
            f'<main><h1>Press releases</h1><ul class="press">{items}</ul>'
            f'<p><a href="/tag/facial-recognition/">facial recognition</a> <a href="/page/2/">Older posts</a> '
            f'<a href="https://elsewhere.example/story-about-cameras-here">A story elsewhere about cameras</a></p></main>'
            f'<footer><a href="/netzwacht/datenschutz-erklaerung-der-seite.html">Datenschutz Erklärung der Seite</a>'
            f'</footer></body></html>').encode()


CONFIG = """\
settings:
  host_delay: 0
sources:
  - name: site map
    url: {base}/sitemap_index.xml
    kind: sitemap
  - name: press
    url: {base}/communiques/
    kind: listing
"""


@pytest.fixture
def feedless(tmp_path):
    """The fixture site's pages with no feed: a sitemap index (a news sitemap and a gzipped one)
    and a listing page."""
    with FixtureServer(FIXTURES / "site") as server:
        base = server.url
        server.pages["/sitemap_index.xml"] = index(base)
        server.pages["/sitemaps/news.xml"] = news_sitemap(base)
        server.pages["/sitemaps/pages.xml.gz"] = page_sitemap(base)
        server.pages["/communiques/"] = press(base, NETZWACHT[:1])
        server.pages["/robots.txt"] = f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap_index.xml\n".encode()
        server.pages["/"] = b"<html><head><title>Home</title></head><body><p>No feed here.</p></body></html>"
        yield server, parse_config(CONFIG.format(base=base), tmp_path / "feeds.yaml"), tmp_path


def page_requests(server, since: int) -> list[str]:
    return sorted(r.path.lstrip("/") for r in server.requests[since:] if r.path.endswith(".html"))


def test_a_site_without_feeds_is_read_from_its_sitemaps_and_listing_once(feedless):
    server, config, folder = feedless
    with Archive(folder / "archive") as archive:
        first = fetch_sources(config, archive)
        assert first.counts["failed"] == 0, first.failures
        articles = {a.url.replace(server.url + "/", ""): a for a in archive.list_articles(limit=None)}
        expected = WATCHDOG + OBSERVATOIRE + NETZWACHT[:1]
        assert sorted(articles) == sorted(expected)  # each article once; nav, tags, pager, off-site left out
        assert first.counts["new"] == len(expected)
        assert page_requests(server, 0) == sorted(expected)
        # The news sitemap's publication date is the article's.
        assert archive.get_article(articles[WATCHDOG[0]].id).published == "2026-01-10T07:00:00Z"

        # A second pass fetches no page: nothing changed.
        before = len(server.requests)
        second = fetch_sources(config, archive)
        assert second.counts["new"] == 0 and page_requests(server, before) == []

        # The site says one page changed (its lastmod), and the listing gains a link: only those are fetched.
        server.pages["/sitemaps/pages.xml.gz"] = page_sitemap(server.url, changed=OBSERVATOIRE[2])
        server.pages["/communiques/"] = press(server.url, NETZWACHT[:2])
        before = len(server.requests)
        third = fetch_sources(config, archive)
        assert page_requests(server, before) == sorted([OBSERVATOIRE[2], NETZWACHT[1]])
        assert third.counts["new"] == 1 and third.counts["failed"] == 0
        assert archive.count_articles() == len(expected) + 1


def test_feeds_add_finds_the_sitemap_a_site_names_in_robots_txt(feedless):
    server, _, folder = feedless
    (folder / "cli").mkdir(exist_ok=True)
    cli = Cli(folder / "cli")
    cli.write_config("sources: []\n")
    said = cli("feeds", "add", server.url + "/").stdout
    assert "(a sitemap)" in said
    text = cli.config.read_text()
    assert f"url: {server.url}/sitemap_index.xml" in text and "kind: sitemap" in text


def test_feeds_check_says_which_links_a_listing_chose(feedless):
    server, _, folder = feedless
    (folder / "cli").mkdir(exist_ok=True)
    cli = Cli(folder / "cli")
    cli.write_config(CONFIG.format(base=server.url))
    said = cli("feeds", "check").stdout
    assert "press: 1 entries" in said and "links found by their shape: 1 under /netzwacht/" in said
    assert f"site map: {len(WATCHDOG) + len(OBSERVATOIRE)} entries" in said


def test_a_listing_with_a_selector_or_a_pattern_takes_exactly_those_links():
    html = press("http://x.test", NETZWACHT).decode()
    by_css = listing.links(html, "http://x.test/communiques/", ".press a")
    assert {e.url for e in by_css.entries} == {f"http://x.test/{p}" for p in NETZWACHT}  # #comments folded in
    # A pattern takes every link it matches, wherever it is on the page (the menu's too).
    by_pattern = listing.links(html, "http://x.test/communiques/", "/netzwacht/*")
    assert {e.url for e in by_pattern.entries} == {f"http://x.test/{p}" for p in NETZWACHT} | {
        "http://x.test/netzwacht/kontakt-und-impressum-der-redaktion.html",
        "http://x.test/netzwacht/datenschutz-erklaerung-der-seite.html"}
    assert {e.title for e in by_css.entries} == {TITLES[p] for p in NETZWACHT}
    with pytest.raises(FeedError, match="no link that `links: .nothing a` selects"):
        listing.links(html, "http://x.test/communiques/", ".nothing a")


def test_a_listing_whose_links_all_leave_the_site_says_so():
    html = '<html><body><a href="https://a.example/x-y-z">One story here</a><a href="https://b.example/2026/q">Two</a></body></html>'
    with pytest.raises(FeedError, match="links all point to other sites; set `links:`"):
        listing.links(html, "http://x.test/news/", None)


def test_links_is_checked_in_feeds_yaml(tmp_path):
    with pytest.raises(ConfigError, match="is not a CSS selector"):
        parse_config("sources:\n  - name: a\n    url: http://x.test/\n    kind: listing\n    links: 'a[[['\n",
                     tmp_path / "f.yaml")
    with pytest.raises(ConfigError, match="links: is for kind: listing only"):
        parse_config("sources:\n  - name: a\n    url: http://x.test/\n    links: 'a'\n", tmp_path / "f.yaml")


@pytest.mark.parametrize("body, reason", [
    (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
     b"<urlset><url><loc>&b;</loc></url></urlset>", "declares XML entities"),
    (b"\x1f\x8b\x08\x00garbage that is not deflate", "gzip that does not unpack"),
    (gzip.compress(b"<urlset>" + b"<url><loc>http://a.test/x</loc></url>" * 1_500_000 + b"</urlset>"),
     "over 50 MB unpacked"),
    (b"<html><body>a page</body></html>", "its root element is <html>"),
    (b"", "empty body"),
])
def test_a_hostile_sitemap_is_refused_with_its_reason(body, reason):
    with pytest.raises(FeedError, match=reason):
        sitemaps.parse(body, "http://a.test/sitemap.xml")


def test_a_sitemap_of_too_many_urls_is_read_up_to_the_protocol_limit():
    body = b"<urlset>" + b"".join(b"<url><loc>http://a.test/p%d</loc></url>" % i for i in range(60_000)) + b"</urlset>"
    found = sitemaps.parse(body, "http://a.test/sitemap.xml")
    assert len(found.entries) == 50_000 and "over 50,000 URLs" in found.warning


def test_a_broken_sitemap_source_fails_in_one_line_and_keeps_the_archive(feedless):
    server, config, folder = feedless
    with Archive(folder / "archive") as archive:
        fetch_sources(config, archive)
        held = archive.count_articles()
        server.pages["/sitemap_index.xml"] = b"\x1f\x8b\x08\x00 not gzip at all"
        report = fetch_sources(config, archive, names=["site map"])
        assert "gzip that does not unpack" in report.sources["site map"]
        assert archive.count_articles() == held


def test_a_listing_in_a_themed_page_still_finds_its_articles():
    """Classes that describe the page (has-sidebar, with-social-share) are not menus; a teaser's
    own <header> holds its title link."""
    teasers = "".join(f'<article class="post"><header><h2><a href="/press/2026/0{i}/contract-number-{i}-signed.html">'
                      f"Contract number {i} signed</a></h2></header><p>Summary.</p></article>" for i in range(1, 5))
    html = (f'<html><body class="archive category has-sidebar colors-light"><header><nav class="menu-main">'
            f'<a href="/about-the-site-and-team/">About the site and team</a></nav></header>'
            f'<div class="content-area with-social-share"><main>{teasers}</main>'
            f'<div class="widget sidebar"><a href="/press/2025/12/old-popular-story-here.html">Old popular story</a></div>'
            f'</div></body></html>')
    found = listing.links(html, "http://x.test/press/", None)
    assert [e.url for e in found.entries] == [f"http://x.test/press/2026/0{i}/contract-number-{i}-signed.html"
                                             for i in range(1, 5)]


def test_a_sitemap_index_reaches_only_what_its_feed_links_may(monkeypatch):
    """The sitemaps an index names are the site's words: fetched with the guard a feed's links get."""
    from veille.net.client import Response
    from veille.net.guard import allowance
    from veille.pipeline import FeedJob, read_sitemap

    asked = []

    class Client:
        def get(self, url, accept=None, allow=None, **kwargs):
            asked.append((url, allow))
            return Response(url=url, status=200, headers={}, body=b"<urlset></urlset>")

    top = Response(url="http://127.0.0.1:1/sitemap.xml", status=200, headers={}, body=index("http://127.0.0.1:1"),
                   peer="127.0.0.1")
    read_sitemap(FeedJob("s", top.url, "sitemap"), Client(), top)
    assert asked and all(allow == allowance(top, False) for _, allow in asked)
    assert all(allow == frozenset({"loopback"}) for _, allow in asked), asked  # its own kind, not metadata
    asked.clear()
    read_sitemap(FeedJob("s", top.url, "sitemap", allow_private=True), Client(), top)
    assert all(allow == allowance(top, True) for _, allow in asked)


def test_feeds_add_listing_shows_the_links_it_will_follow(feedless):
    server, _, folder = feedless
    (folder / "cli").mkdir(exist_ok=True)
    cli = Cli(folder / "cli")
    cli.write_config("sources: []\n")
    said = cli("feeds", "add", server.url + "/communiques/", "--listing").stdout
    assert "1 article link: links found by their shape" in said and TITLES[NETZWACHT[0]] in said
    text = cli.config.read_text()
    assert "kind: listing" in text and "name: Communiqués" in text
    said = cli("feeds", "add", server.url + "/communiques/", "--listing", "--links", ".press a",
               "--name", "press by selector", ok=False)
    assert "already in" in said.output  # one URL, one source
    result = cli("feeds", "add", server.url + "/", "--links", "a", ok=False)
    assert result.exit_code == 2 and "--links goes with --listing" in result.output


def test_feeds_add_reads_robots_txt_even_when_the_site_root_is_missing(feedless):
    server, _, folder = feedless
    del server.pages["/"]
    (folder / "cli").mkdir(exist_ok=True)
    cli = Cli(folder / "cli")
    cli.write_config("sources: []\n")
    assert "(a sitemap)" in cli("feeds", "add", server.url + "/").stdout
