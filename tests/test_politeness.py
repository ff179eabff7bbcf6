"""Fetching concurrently and politely: per-host limits, robots.txt, Retry-After, conditional requests.

Two local servers on two loopback addresses (127.0.0.2 and 127.0.0.3) play two
hosts; each answer takes 100 ms, and every request is logged with the number
of requests that host was answering at the same moment.
"""

import threading
import time

import pytest

from veille.config.settings import parse_config
from veille.dev.devserver import FixtureServer, Reply
from veille.pipeline import fetch_sources

ARTICLE = ("<html lang='en'><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
           + "<p>The city council approved a contract for cameras with automatic number plate readers in the "
             "harbour district, story {n}, without telling residents what happens to the data.</p>" * 4
           + "</article></body></html>")


class Overlap:
    """Requests being answered at once, over every host."""
    lock = threading.Lock()
    active = 0
    peak = 0


class Host:
    """A FixtureServer that serves `feeds` feeds of `entries` articles each, slowly, and counts overlap."""

    def __init__(self, address: str, feeds: int, entries: int, robots: str = "") -> None:
        self.server = FixtureServer(host=address)
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        for f in range(feeds):
            self.server.routes[f"/feed{f}.xml"] = self.slow(lambda f=f: self.feed(f, entries), "application/rss+xml")
            for e in range(entries):
                for folder in ("story", "private"):
                    self.server.routes[f"/{folder}/{f}-{e}.html"] = self.slow(
                        lambda f=f, e=e: ARTICLE.format(n=f"{f}-{e}"), "text/html; charset=utf-8")
        if robots:
            self.server.routes["/robots.txt"] = self.slow(lambda: robots, "text/plain")

    def feed(self, f: int, entries: int) -> str:
        folder = "private" if f == 0 else "story"
        items = "".join(f"<item><title>Story {f}-{e}</title><link>{self.server.url}/{folder}/{f}-{e}.html</link>"
                        f"<description>Teaser {f}-{e}</description></item>" for e in range(entries))
        return f"<rss version='2.0'><channel><title>feed {f}</title>{items}</channel></rss>"

    def slow(self, body, content_type: str):
        def answer(handler):
            with self.lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
            with Overlap.lock:
                Overlap.active += 1
                Overlap.peak = max(Overlap.peak, Overlap.active)
            try:
                time.sleep(0.1)
                text = body().encode()
                etag = f'"{hash(text) & 0xffffffff:x}"'
                if handler.headers.get("If-None-Match") == etag:
                    return Reply(304, b"", {"ETag": etag})
                return Reply(200, text, {"Content-Type": content_type, "ETag": etag,
                                         "Last-Modified": "Mon, 02 Mar 2026 08:00:00 GMT"})
            finally:
                with self.lock:
                    self.active -= 1
                with Overlap.lock:
                    Overlap.active -= 1
        return answer

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()


def config_for(hosts, tmp_path, settings="per_host: 2\n  host_delay: 0.02\n  concurrency: 8"):
    lines = [f"settings:\n  {settings}\nsources:"]
    for h, host in enumerate(hosts):
        for f in range(sum(1 for p in host.server.routes if p.startswith("/feed"))):
            lines.append(f"  - name: h{h}f{f}\n    url: {host.server.url}/feed{f}.xml")
    return parse_config("\n".join(lines) + "\n", tmp_path / "feeds.yaml")


def test_no_host_ever_sees_more_than_its_limit_while_hosts_are_fetched_side_by_side(archive, tmp_path):
    Overlap.peak = 0
    with Host("127.0.0.2", feeds=4, entries=3) as one, Host("127.0.0.3", feeds=4, entries=3) as two:
        report = fetch_sources(config_for([one, two], tmp_path), archive)
    assert report.counts["new"] == 24 and report.counts["failed"] == 0
    assert one.peak <= 2 and two.peak <= 2
    assert one.peak == 2 and two.peak == 2  # the limit is used, not just respected
    assert Overlap.peak > 2  # and the two hosts were served side by side, not one after the other


def test_one_request_at_a_time_when_the_config_says_so(archive, tmp_path):
    with Host("127.0.0.2", feeds=3, entries=2) as one:
        fetch_sources(config_for([one], tmp_path, "per_host: 1\n  host_delay: 0"), archive)
    assert one.peak == 1


def test_robots_txt_is_read_once_per_host_and_honoured(archive, tmp_path):
    with Host("127.0.0.2", feeds=2, entries=2, robots="User-agent: *\nDisallow: /private/\n") as host:
        report = fetch_sources(config_for([host], tmp_path), archive)
        paths = [r.path for r in host.server.requests]
    assert paths.count("/robots.txt") == 1
    assert not [p for p in paths if p.startswith("/private/")]
    assert sum("disallowed by robots.txt" in f.reason for f in report.failures) == 2  # kept from the feed's teaser
    assert [p for p in paths if p.startswith("/story/")]


def test_conditional_headers_go_back_exactly_as_received_and_a_second_pass_is_all_304(archive, tmp_path):
    with Host("127.0.0.2", feeds=2, entries=1) as host:
        config = config_for([host], tmp_path)
        fetch_sources(config, archive)
        first = {r.path: r for r in host.server.requests if r.path.startswith("/feed")}
        host.server.requests.clear()
        report = fetch_sources(config, archive)
        second = [r for r in host.server.requests if r.path.startswith("/feed")]
    assert {r.path for r in second} == set(first)
    for request in second:
        assert request.headers["if-none-match"].startswith('"')
        assert request.headers["if-modified-since"] == "Mon, 02 Mar 2026 08:00:00 GMT"
    assert all(o.startswith("not modified") for o in report.sources.values())
    assert not [r for r in host.server.requests if r.path.startswith("/story/")]  # archived entries: not again


def test_retry_after_holds_the_whole_host_back(archive, tmp_path):
    calls = []

    def limited(handler):
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Reply(429, b"slow down", {"Retry-After": "2", "Content-Type": "text/plain"})
        return Reply(200, b"<rss version='2.0'><channel><title>t</title></channel></rss>",
                     {"Content-Type": "application/rss+xml"})

    with FixtureServer(host="127.0.0.2", routes={"/a.xml": limited, "/b.xml": limited}) as server:
        config = parse_config("settings:\n  host_delay: 0\n  per_host: 1\nsources:\n"
                              f"  - name: a\n    url: {server.url}/a.xml\n  - name: b\n    url: {server.url}/b.xml\n",
                              tmp_path / "f.yaml")
        report = fetch_sources(config, archive)
    assert report.sources["a"].startswith("failed: http 429")
    assert calls[1] - calls[0] >= 1.9  # b waited for the host's Retry-After
    state = archive.source_state("a")
    assert state.error_kind == "rate-limited" and state.next_attempt is not None


def test_the_user_agent_names_the_project_and_the_contact(archive, tmp_path):
    with Host("127.0.0.2", feeds=1, entries=1) as host:
        config = parse_config("settings:\n  host_delay: 0\n  contact: https://example.org/our-campaign\nsources:\n"
                              f"  - name: a\n    url: {host.server.url}/feed0.xml\n", tmp_path / "f.yaml")
        fetch_sources(config, archive)
        agents = {r.headers["user-agent"] for r in host.server.requests}
    assert len(agents) == 1 and agents.pop().startswith("veille/")
    assert "https://example.org/our-campaign" in {r.headers["user-agent"] for r in host.server.requests}.pop()


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_is_followed_and_reported(archive, tmp_path, status):
    with FixtureServer(host="127.0.0.2") as server:
        server.routes["/old.xml"] = lambda h: Reply(status, b"", {"Location": f"{server.url}/new.xml"})
        server.routes["/new.xml"] = lambda h: Reply(200, b"<rss version='2.0'><channel><title>t</title></channel></rss>",
                                                    {"Content-Type": "application/rss+xml"})
        config = parse_config(f"settings:\n  host_delay: 0\nsources:\n  - name: a\n    url: {server.url}/old.xml\n",
                              tmp_path / "f.yaml")
        report = fetch_sources(config, archive)
    assert "moved permanently to " + server.url + "/new.xml" in report.sources["a"]
    assert archive.source_state("a").moved_to == f"{server.url}/new.xml"


def test_an_html_page_instead_of_a_feed_is_reported_as_such(archive, tmp_path):
    with FixtureServer(host="127.0.0.2") as server:
        server.pages["/index.html"] = b"<html><head><title>Home</title></head><body><p>Hello</p></body></html>"
        config = parse_config(f"settings:\n  host_delay: 0\nsources:\n  - name: a\n    url: {server.url}/index.html\n",
                              tmp_path / "f.yaml")
        report = fetch_sources(config, archive)
    assert "HTML page, not a feed" in report.sources["a"]
    assert archive.source_state("a").error_kind == "not-a-feed"


def test_a_host_that_asks_for_an_hour_is_left_for_the_next_pass_not_waited_for(archive, tmp_path):
    def limited(handler):
        return Reply(429, b"come back in an hour", {"Retry-After": "3600", "Content-Type": "text/plain"})

    with FixtureServer(host="127.0.0.2", routes={"/a.xml": limited}) as server:
        server.pages["/b.xml"] = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
        config = parse_config("settings:\n  host_delay: 0\n  per_host: 1\nsources:\n"
                              f"  - name: a\n    url: {server.url}/a.xml\n  - name: b\n    url: {server.url}/b.xml\n",
                              tmp_path / "f.yaml")
        report = fetch_sources(config, archive)  # returns at once: the pass does not sleep for an hour
        assert not server.requests_for("/b.xml")
    assert "asked us to wait" in report.sources["b"]
    for name in ("a", "b"):
        state = archive.source_state(name)
        assert state.error_kind == "rate-limited" and state.next_attempt >= "2026"
