"""Finding the feeds at an address, for `veille feeds add URL`.

The URL itself if it is a feed (or a sitemap); else the feeds the page links to (`<link
rel=alternate>`); else the usual paths (/feed, /rss.xml, ...); a site with no feed at all, the
sitemaps its robots.txt names (`Sitemap:` lines), else /sitemap.xml. Each candidate is fetched
and parsed before it is offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from veille.errors import FeedError, FetchError
from veille.net import ANY, allowance
from veille.stages import feeds as feed_stage
from veille.stages import sitemaps as sitemap_stage

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json",
              "application/json", "text/xml", "application/xml")
USUAL_PATHS = ("/feed", "/feed/", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/feeds/all.atom.xml",
               "/?feed=rss2")


@dataclass
class Found:
    url: str
    title: str | None
    language: str | None
    entries: int
    kind: str = "feed"  # feed or sitemap


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        if "alternate" in rels and values.get("type", "").lower().split(";")[0].strip() in FEED_TYPES \
                and values.get("href"):
            self.links.append((values["href"], values.get("title") or None))


def as_sitemap(url: str, response) -> Found | None:
    if not sitemap_stage.looks_like_sitemap(response.body):
        return None
    try:
        parsed = sitemap_stage.parse(response.body, response.url)
    except FeedError:
        return None
    title = f"sitemap index of {len(parsed.children)} sitemaps" if parsed.is_index else "sitemap"
    return Found(response.url, title, None, len(parsed.entries) or len(parsed.children), kind="sitemap")


def sitemaps(base: str, fetcher, page) -> list[Found]:
    """The sitemaps robots.txt names (`Sitemap:` lines), else /sitemap.xml, each fetched and read.
    Those robots.txt names are the site's words: they reach what its page's links may."""
    from protego import Protego

    named: list[str] = []
    origin = page
    try:
        robots = fetcher.get(base + "/robots.txt", accept="text/plain,*/*")
        origin = origin or robots
        if robots.status == 200:
            named = list(Protego.parse(robots.text()).sitemaps)
    except (FetchError, ValueError):
        pass
    found = []
    for candidate in dict.fromkeys(named or [base + "/sitemap.xml"]):
        try:
            response = fetcher.get(candidate, accept="application/xml,text/xml,*/*",
                                   allow=allowance(origin, allow_private=False) if named else ANY)
        except FetchError:
            continue
        if response.status == 200 and (sitemap := as_sitemap(candidate, response)) is not None:
            found.append(sitemap)
    return found


def discover(url: str, fetcher) -> list[Found]:
    """The feeds at `url`: the URL itself if it is a feed, else the page's <link rel=alternate>
    feeds, else the usual paths (/feed, /rss.xml, ...). Each candidate is fetched and parsed."""
    def as_feed(candidate: str, response=None) -> Found | None:
        try:  # the page's links are its author's choice: they may reach only what a feed's links may
            response = response or fetcher.get(candidate, accept="application/rss+xml,application/atom+xml,*/*",
                                               allow=allowance(page, allow_private=False))
            parsed = feed_stage.parse(response.body, response.url, response.charset)
        except (FetchError, FeedError):
            return None
        return Found(response.url, parsed.title, parsed.language, len(parsed.entries))

    try:
        response = page = fetcher.get(url, accept="text/html,application/rss+xml,application/atom+xml,*/*")
    except FetchError as exc:  # the address itself answers an error: its site may still name its sitemaps
        parts = urlsplit(url)
        found = sitemaps(f"{parts.scheme}://{parts.netloc}", fetcher, None) if exc.summary.startswith("http 4") else []
        if found:
            return found
        raise
    itself = None if response.is_html() else as_sitemap(url, response) or as_feed(url, response)
    if itself:
        return [itself]
    parser = _Links()
    try:
        parser.feed(response.text())
    except Exception:  # a page too broken to read still gets the usual paths tried
        pass
    candidates = [urljoin(response.url, href) for href, _ in parser.links]
    if not candidates:
        base = f"{urlsplit(response.url).scheme}://{urlsplit(response.url).netloc}"
        candidates = [base + path for path in USUAL_PATHS]
    found: list[Found] = []
    for candidate in dict.fromkeys(candidates):
        feed = as_feed(candidate)
        if feed and feed.url not in {f.url for f in found}:
            found.append(feed)
    if not found:  # a site without feeds: its sitemaps
        found = sitemaps(f"{urlsplit(response.url).scheme}://{urlsplit(response.url).netloc}", fetcher, page)
    return found
