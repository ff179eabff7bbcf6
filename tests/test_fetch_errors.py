"""Bad input on the network: each failure is recorded with a reason and the run goes on."""

import gzip
import socket
import time

import pytest

from veille.config.settings import Settings, parse_config
from veille.dev.devserver import FixtureServer, Reply
from veille.errors import BlockedURLError, FetchError
from veille.net.client import Fetcher
from veille.pipeline import fetch_sources
from veille.storage.sqlite.store import Archive

from conftest import FIXTURES

ARTICLE = (FIXTURES / "site" / "watchdog").glob("*.html")


def fast_settings(**kw):
    values = dict(timeout=1.5, max_body=200_000, max_redirects=5)
    values.update(kw)
    return Settings(**values)


STALL = 60  # seconds the slow server takes to answer: far beyond the fetcher's patience, however busy the machine


def slow(handler):
    time.sleep(STALL)
    return Reply(200, b"<html></html>", {"Content-Type": "text/html"})


def redirect_to(target):
    return lambda handler: Reply(302, b"", {"Location": target})


def big(handler):
    return Reply(200, b"<html><body>" + b"x" * 1_000_000 + b"</body></html>", {"Content-Type": "text/html"})


def gzip_bomb(handler):
    body = gzip.compress(b"<html><body>" + b" " * 50_000_000)
    return Reply(200, body, {"Content-Type": "text/html", "Content-Encoding": "gzip"})


ROUTES = {
    "/status/404": lambda h: Reply(404, b"gone", {"Content-Type": "text/plain"}),
    "/status/500": lambda h: Reply(500, b"oops", {"Content-Type": "text/plain"}),
    "/slow": slow,
    "/big": big,
    "/bomb": gzip_bomb,
    "/loop/a": redirect_to("/loop/b"),
    "/loop/b": redirect_to("/loop/a"),
    "/pdf": lambda h: Reply(200, b"%PDF-1.4 binary", {"Content-Type": "application/pdf"}),
    "/to-file": redirect_to("file:///etc/passwd"),
}


@pytest.fixture(scope="module")
def server():
    with FixtureServer(FIXTURES / "site", routes=ROUTES, mounts={"/bad": FIXTURES / "bad"}) as running:
        yield running


@pytest.fixture
def fetcher():
    with Fetcher(fast_settings()) as client:
        yield client


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("path, reason", [
    ("/status/404", "http 404"),
    ("/status/500", "http 500"),
    ("/slow", "timeout"),
    ("/big", "too large"),
    ("/bomb", "too large"),
    ("/loop/a", "redirect loop"),
])
def test_the_fetcher_fails_with_a_short_reason(server, fetcher, path, reason):
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetcher.get(server.url + path)
    assert caught.value.reason == reason
    # bounded: the fetcher gives up on its own (1.5 s timeout), long before the slow server would answer;
    # 30 s, not a few, because a busy machine may delay the wake-up but cannot stretch a socket timeout 20-fold
    assert time.monotonic() - started < 30


def test_connection_refused_is_a_failure_not_a_crash(fetcher):
    with pytest.raises(FetchError, match="connection failed"):
        fetcher.get(f"http://127.0.0.1:{free_port()}/feed.xml")


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,hi", "ftp://x.org/a"])
def test_only_http_and_https_are_ever_requested(fetcher, url):
    with pytest.raises(BlockedURLError):
        fetcher.get(url)


def test_a_redirect_to_another_scheme_is_refused(server, fetcher):
    with pytest.raises(BlockedURLError):
        fetcher.get(server.url + "/to-file")


def test_more_than_five_redirects_is_refused(server):
    server.routes.update({f"/hop/{i}": redirect_to(f"/hop/{i + 1}") for i in range(7)})
    with Fetcher(fast_settings()) as client:
        with pytest.raises(FetchError, match="too many redirects"):
            client.get(server.url + "/hop/0")
    assert len(server.requests_for("/hop/6")) == 0


def test_the_user_agent_names_the_project(server, fetcher):
    fetcher.get(server.url + "/feeds/watchdog.atom")
    agent = server.requests[-1].headers["user-agent"]
    assert agent.startswith("veille/") and "+https://" in agent


CONFIG = """\
settings:
  timeout: 2s
  max_body: 200KB
  host_delay: 0
sources:
  - name: missing
    url: {base}/status/404
  - name: broken server
    url: {base}/status/500
  - name: refused
    url: http://127.0.0.1:{port}/feed.xml
  - name: silent
    url: {base}/slow
  - name: huge
    url: {base}/big
  - name: loop
    url: {base}/loop/a
  - name: pdf page
    url: {base}/pdf
    kind: page
  - name: malformed
    url: {base}/bad/malformed.xml
  - name: latin1
    url: {base}/bad/latin1.xml
    language: fr
  - name: bad links
    url: {base}/bad/badlinks.xml
  - name: empty page
    url: {base}/bad/empty.html
    kind: page
"""


@pytest.fixture(scope="module")
def bad_run(server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-run")
    config = parse_config(CONFIG.format(base=server.url, port=free_port()), folder / "feeds.yaml")
    with Archive(folder / "archive") as archive:
        report = fetch_sources(config, archive)
        yield report, archive


def test_a_run_over_bad_sources_completes_and_records_every_reason(bad_run):
    report, archive = bad_run
    rows = {row["name"]: dict(row) for row in archive.source_rows()}
    expected = {
        "missing": "http 404", "broken server": "http 500", "refused": "connection failed",
        "silent": "timeout", "huge": "too large", "loop": "redirect loop",
        "malformed": "not a feed",
    }
    for name, reason in expected.items():
        assert rows[name]["last_status"] == "failed", name
        assert reason in rows[name]["last_error"], (name, rows[name]["last_error"])
    failed_items = {(f["source"], f["reason"]) for f in map(dict, archive.failures())}
    assert any(s == "pdf page" and "not HTML (application/pdf)" in r for s, r in failed_items)
    assert any(s == "empty page" and "no article" in r for s, r in failed_items)


def test_a_latin1_feed_without_charset_reads_right(bad_run):
    import json
    from veille.stages import feeds

    expected = json.loads((FIXTURES / "bad" / "latin1.expected.json").read_text(encoding="utf-8"))
    body = (FIXTURES / "bad" / "latin1.xml").read_bytes()
    parsed = feeds.parse(body, "http://127.0.0.1/bad/latin1.xml", http_charset=None)
    assert parsed.title == expected["channel_title"]
    assert [e.title for e in parsed.entries] == expected["titles"]
    report, archive = bad_run  # and through the whole run, both entries were archived
    assert len(archive.list_articles(source="latin1", limit=None)) == 2


def test_entry_links_with_other_schemes_are_never_fetched(bad_run, server):
    report, archive = bad_run
    reasons = [f.reason for f in report.failures if f.source == "bad links"]
    assert sum("scheme javascript" in r for r in reasons) == 1
    assert sum("scheme file" in r for r in reasons) == 1
    assert sum("scheme data" in r for r in reasons) == 1
    assert len(archive.list_articles(source="bad links", limit=None)) == 1


def test_the_archive_is_unharmed_and_the_status_shows_each_failure(bad_run, cli, server):
    report, archive = bad_run
    cli.archive = archive.folder
    result = cli("status")
    for reason in ("http 404", "timeout", "redirect loop", "not HTML"):
        assert reason in result.stdout
    assert report.counts["failed"] >= 9
    assert archive.count_articles() >= 3
