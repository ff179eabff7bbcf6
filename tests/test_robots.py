"""robots.txt as RFC 9309 reads it: wildcards, `$`, the longest match, our own group; and Crawl-delay.

Each test runs a local server on a loopback address that logs every request it gets (path with
its query, and when it arrived), and a feed on it that links to pages robots.txt allows and
pages it forbids.
"""

import json
import threading

from veille.config.settings import parse_config
from veille.dev.devserver import FixtureServer, Reply
from veille.pipeline import fetch_sources

PAGE = ("<html lang='en'><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        + "<p>The regional police bought {title} from a vendor of face recognition, and the data protection "
          "authority was told only after the contract was signed, according to documents we obtained.</p>" * 4
        + "</article></body></html>")

ROBOTS = """\
# Everyone else: nothing at all. veille has a group of its own, which replaces this one.
User-agent: *
Disallow: /

User-agent: Veille
Disallow: /*.pdf$
Disallow: /*?sessionid=
Disallow: /news
Allow: /news/articles
"""

ALLOWED = [
    "/news/articles/1",  # Allow: /news/articles is longer than Disallow: /news: the longest match wins
    "/reports/annual.pdf.html",  # `$` anchors the end: this one does not end in .pdf
    "/story?id=7",  # a query, but not a session id
    "/about/team",  # forbidden to `*` only; veille's group says nothing about it
]
DISALLOWED = [
    "/news/2026/brief",  # Disallow: /news
    "/reports/annual.pdf",  # Disallow: /*.pdf$
    "/story?sessionid=abc123",  # Disallow: /*?sessionid=
]


class Site:
    """A FixtureServer with a feed linking to `links`, an HTML page at each, and a log of
    every request as the server saw it (path and query)."""

    def __init__(self, links: list[str], robots: str | None, address: str = "127.0.0.2") -> None:
        self.server = FixtureServer(host=address)
        self.links = list(links)
        self.lock = threading.Lock()
        self.seen: list[str] = []  # request targets, query included, in order of arrival
        self.server.routes["/feed.xml"] = self.logged(lambda h: Reply(
            200, self.feed().encode(), {"Content-Type": "application/rss+xml"}))
        if robots is not None:
            self.server.routes["/robots.txt"] = self.logged(lambda h: Reply(
                200, robots.encode(), {"Content-Type": "text/plain"}))
        for link in self.links:
            self.add_route(link)

    def add_route(self, link: str) -> None:
        self.server.routes[link.split("?")[0]] = self.logged(lambda h: Reply(
            200, PAGE.format(title=f"page {h.path}").encode(), {"Content-Type": "text/html; charset=utf-8"}))

    def feed(self) -> str:
        items = "".join(f"<item><title>Entry {n}</title><link>{self.server.url}{link.replace('&', '&amp;')}</link>"
                        f"<guid>{self.server.url}{link.replace('&', '&amp;')}</guid>"
                        f"<description>Teaser for entry {n}, kept when the page is not fetched.</description></item>"
                        for n, link in enumerate(self.links))
        return f"<rss version='2.0'><channel><title>site</title>{items}</channel></rss>"

    def logged(self, route):
        def answer(handler):
            with self.lock:
                self.seen.append(handler.path)
            return route(handler)
        return answer

    def pages_fetched(self) -> set[str]:
        return {p for p in self.seen if p not in ("/feed.xml", "/robots.txt")}

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()


def config_for(site: Site, tmp_path, settings: str = "host_delay: 0"):
    return parse_config(f"settings:\n  {settings}\nsources:\n  - name: site\n    url: {site.server.url}/feed.xml\n",
                        tmp_path / "feeds.yaml")


def test_exactly_the_pages_robots_txt_allows_are_fetched(archive, tmp_path):
    with Site(ALLOWED + DISALLOWED, ROBOTS) as site:
        report = fetch_sources(config_for(site, tmp_path), archive)
    assert site.pages_fetched() == set(ALLOWED)
    assert site.seen.count("/robots.txt") == 1
    refused = {f.url.removeprefix(site.server.url) for f in report.failures if "disallowed by robots.txt" in f.reason}
    assert refused == set(DISALLOWED)
    assert report.counts["new"] == len(ALLOWED) + len(DISALLOWED)  # the refused ones kept from the feed's teaser


def test_the_group_for_everyone_applies_when_there_is_none_for_veille(archive, tmp_path):
    robots = "User-agent: SomeOtherBot\nDisallow: /\n\nUser-agent: *\nDisallow: /*.pdf$\nAllow: /news/articles\nDisallow: /news\n"
    with Site(ALLOWED + DISALLOWED, robots) as site:
        fetch_sources(config_for(site, tmp_path), archive)
    assert site.pages_fetched() == {"/news/articles/1", "/reports/annual.pdf.html", "/story?id=7", "/about/team",
                                    "/story?sessionid=abc123"}  # this `*` group has no session-id rule


def test_a_group_naming_veille_matches_our_product_token_not_the_contact_url(archive, tmp_path):
    # The User-Agent is "veille/0.1.0 (+https://example.org/...)": a group for "example" is not ours.
    robots = "User-agent: example\nDisallow: /\n\nUser-agent: veille\nDisallow: /news\n"
    with Site(["/news/2026/brief", "/about/team"], robots) as site:
        config = config_for(site, tmp_path, "host_delay: 0\n  contact: https://example.org/our-campaign")
        fetch_sources(config, archive)
    assert site.pages_fetched() == {"/about/team"}


def test_a_missing_robots_txt_allows_everything(archive, tmp_path):
    with Site(DISALLOWED, robots=None) as site:  # /robots.txt answers 404
        report = fetch_sources(config_for(site, tmp_path), archive)
    assert site.pages_fetched() == set(DISALLOWED)
    assert not [f for f in report.failures if "robots" in f.reason]


def test_a_robots_txt_the_server_fails_to_give_defers_the_pages(archive, tmp_path):
    with Site(ALLOWED, robots=None) as site:
        site.server.routes["/robots.txt"] = site.logged(lambda h: Reply(503, b"busy", {"Content-Type": "text/plain"}))
        report = fetch_sources(config_for(site, tmp_path), archive)
    assert site.pages_fetched() == set()
    assert report.counts["skipped"] == len(ALLOWED) and report.counts["failed"] == 0  # next run, not failed
    assert all("robots.txt unavailable (http 503)" in f.reason for f in report.failures)


def test_a_huge_robots_txt_is_read_up_to_500_kib_and_never_half_a_line(archive, tmp_path):
    from veille.net.robots import ROBOTS_MAX
    head = "User-agent: veille\nDisallow: /\nAllow: /about/team\n"
    crossing = "Allow: /story?id=7\n"  # its first 9 bytes, "Allow: /s", fall inside the limit
    room = ROBOTS_MAX - 9 - len(head)
    padding = "".join("#" + "x" * 98 + "\n" for _ in range(room // 100)) + "#" * (room % 100 - 1) + "\n"
    assert len(head + padding) + 9 == ROBOTS_MAX
    robots = head + padding + crossing + "Allow: /secret\n" * 50_000
    with Site(["/about/team", "/story?id=7", "/secret/plans"], robots) as site:
        fetch_sources(config_for(site, tmp_path), archive)
    # Read by halves, "Allow: /s" would open /secret/plans (and everything under /s) to us.
    assert site.pages_fetched() == {"/about/team"}


# -- Crawl-delay -------------------------------------------------------------------------------
def starts(site: Site) -> list[float]:
    return sorted(r.at for r in site.server.requests)


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


def test_crawl_delay_spaces_the_requests_to_its_host_even_with_no_host_delay(archive, tmp_path):
    robots = "User-agent: *\nCrawl-delay: 1\n"
    links = [f"/news/articles/{n}" for n in range(4)]
    with Site(links, robots) as site:
        config = config_for(site, tmp_path, "host_delay: 0\n  per_host: 2")
        fetch_sources(config, archive)
        first = starts(site)
        assert site.pages_fetched() == set(links)
        # From robots.txt on, the host's own pace: every start at least ~1 s after the one before.
        robots_at = site.server.requests_for("/robots.txt")[0].at
        assert min(gaps([t for t in first if t >= robots_at])) >= 0.8

        # The next run remembers it from the start: the feed request too waits its turn.
        site.links.append("/news/articles/9")
        site.add_route("/news/articles/9")
        site.server.requests.clear()
        fetch_sources(config, archive)
        second = starts(site)
    assert archive.crawl_delays()["127.0.0.2"]["asks"] == 1.0
    assert len(second) >= 3  # feed, robots.txt, the new page
    assert min(gaps(second)) >= 0.8
    assert "/news/articles/9" in site.pages_fetched()


def test_crawl_delay_is_capped_and_status_says_what_veille_waits(cli, tmp_path):
    robots = "User-agent: veille\nCrawl-delay: 3600\n"
    with Site(["/news/articles/1", "/news/articles/2"], robots) as site:
        cli.write_config(f"settings:\n  host_delay: 0\n  max_crawl_delay: 1\nsources:\n"
                         f"  - name: site\n    url: {site.server.url}/feed.xml\n")
        cli("fetch")
        times = [t for t in starts(site) if t >= site.server.requests_for("/robots.txt")[0].at]
    assert site.pages_fetched() == {"/news/articles/1", "/news/articles/2"}  # an hour each was not waited
    assert min(gaps(times)) >= 0.8
    out = " ".join(cli("status").output.split())
    assert "127.0.0.2 asks for 3600 s between requests (Crawl-delay); veille waits 1 s" in out
    assert "max_crawl_delay" in out  # and says which setting caps it
    totals = cli.json_lines("status")[-1]
    assert totals["crawl_delays"] == [{"host": "127.0.0.2", "asks": 3600.0, "waits": 1.0, "capped": True,
                                       "read": totals["crawl_delays"][0]["read"]}]


def test_status_is_silent_about_a_crawl_delay_under_the_host_delay_and_tells_one_over_it(cli, tmp_path):
    with Site(["/news/articles/1"], "User-agent: *\nCrawl-delay: 0.1\n") as site:
        cli.write_config(f"settings:\n  host_delay: 0.2\nsources:\n  - name: site\n    url: {site.server.url}/feed.xml\n")
        cli("fetch")
        assert "Crawl-delay" not in cli("status").output
        assert json.loads(cli("status", "--json").stdout.splitlines()[-1])["crawl_delays"] == []
        # With host_delay 0 the same Crawl-delay is what veille waits, and status says so.
        cli.write_config(f"settings:\n  host_delay: 0\nsources:\n  - name: site\n    url: {site.server.url}/feed.xml\n")
        out = " ".join(cli("status").output.split())
    assert "127.0.0.2 asks for 0.1 s between requests (Crawl-delay); veille waits 0.1 s (robots.txt read" in out
