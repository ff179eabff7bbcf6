"""Evidence that holds: what the servers sent, kept as WARC records, exported, verified, shown."""

from __future__ import annotations

import gzip
import os
import json
import sqlite3

import pytest
from warcio.archiveiterator import ArchiveIterator

from veille.storage.warc import CaptureStore
from veille.storage.warc.store import sha1_digest
from veille.config.settings import parse_config
from veille.dev.devserver import FixtureServer, Reply
from veille.net.client import Fetcher
from veille.pipeline import fetch_sources
from veille.storage.sqlite.store import Archive

from conftest import FIXTURES, Cli
from test_fetch_site import CONFIG, MANIFEST  # the fixture site, as veille fetch reads it


def read_warc(path):
    """Every record of a WARC file, read by warcio with its digests checked."""
    found = []
    with open(path, "rb") as f:
        for record in ArchiveIterator(f, check_digests="raise"):
            found.append((record.rec_type, dict(record.rec_headers.headers), record.http_headers,
                          record.content_stream().read()))
    return found


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """The fixture site fetched once by `veille fetch`, its archive and config kept for the tests."""
    folder = tmp_path_factory.mktemp("capture")
    with FixtureServer(FIXTURES / "site") as server:
        cli = Cli(folder)
        cli.write_config(CONFIG.format(base=server.url))
        cli("fetch", "--quiet")
        yield cli, server.url


def test_every_response_is_kept_with_its_request_and_digests(fetched):
    cli, base = fetched
    store = CaptureStore(cli.archive / "warc", readonly=True)
    with Archive(cli.archive) as archive:
        articles = archive.list_articles(limit=None)
    assert len(articles) == len(MANIFEST)
    responses = [r for r in store.records() if r.type == "response"]
    requests = [r for r in store.records() if r.type == "request"]
    # Each page and each of the four feeds: one response, one request concurrent to it.
    assert {r.url for r in responses} >= {a.url for a in articles} | {f"{base}/feeds/observatoire.xml"}
    assert sorted(r.concurrent_to for r in requests) == sorted(r.id for r in responses)
    assert all(r.peer == "127.0.0.1" for r in responses)
    for kind, headers, http, payload in (rec for f in store.files() for rec in read_warc(f)):
        if kind == "response":
            assert headers["WARC-IP-Address"] == "127.0.0.1"
            assert headers["WARC-Payload-Digest"] == sha1_digest(payload)
            # robots.txt is asked for first and kept too: the fixture site has none (404)
            assert http.get_statuscode() == ("404" if headers["WARC-Target-URI"].endswith("/robots.txt") else "200")
    store.close()


def test_status_says_what_the_captures_hold(fetched):
    cli, _ = fetched
    said = cli("status").stdout
    assert f"backing {len(MANIFEST)} articles" in " ".join(said.split()) and "WARC records in 1 file" in said
    totals = json.loads(cli("status", "--json").stdout.splitlines()[-1])
    assert totals["captures"]["articles"] == len(MANIFEST) and totals["captures"]["files"] == 1


def test_warc_export_gives_a_file_that_replays_with_its_cdxj(fetched, tmp_path):
    cli, base = fetched
    out = tmp_path / "evidence.warc.gz"
    said = cli("warc", "export", "--out", str(out)).stdout
    assert "warc export:" in said and f"of {len(MANIFEST)} articles" in said
    records = read_warc(out)
    assert records[0][0] == "warcinfo"
    info = records[0][3].decode()
    assert "veille/" in info and "veille-query: (every article)" in info
    with Archive(cli.archive) as archive:
        pages = {a.url: archive.get_article(a.id) for a in archive.list_articles(limit=None)}
    responses = {h["WARC-Target-URI"]: payload for kind, h, _, payload in records if kind == "response"}
    # One response per page, and its payload is exactly what the archive says it received.
    assert set(pages) <= set(responses)
    for url, article in pages.items():
        if article.origin == "page":
            assert responses[url] == article.raw
    # The CDXJ beside it lists every URL, sorted as replay tools look them up.
    lines = (tmp_path / "evidence.cdxj").read_text().splitlines()
    listed = {json.loads(line.split(" ", 2)[2])["url"] for line in lines}
    assert set(pages) <= listed
    assert lines == sorted(lines)
    assert all(json.loads(line.split(" ", 2)[2])["filename"] == "evidence.warc.gz" for line in lines)


def test_warc_export_of_a_query_holds_only_its_articles(fetched, tmp_path):
    cli, _ = fetched
    out = tmp_path / "one.warc.gz"
    page = next(p for p in MANIFEST if p["lang"] == "de")
    word = page["title"].split()[0]
    said = cli("warc", "export", word, "--lang", "de", "--out", str(out)).stdout
    records = read_warc(out)
    urls = {h["WARC-Target-URI"] for kind, h, _, _ in records if kind == "response"}
    assert urls and all("/netzwacht/" in u for u in urls), urls
    assert f"veille-query: {word}" in records[0][3].decode()
    assert "1 article" in said or "articles" in said


def test_warc_export_refuses_a_device_and_a_wrong_name(fetched, tmp_path):
    cli, _ = fetched
    result = cli("warc", "export", "--out", "/dev/null", ok=False)
    assert result.exit_code == 2 and "must end in .warc.gz" in result.output
    (tmp_path / "d.warc.gz").mkdir()
    result = cli("warc", "export", "--out", str(tmp_path / "d.warc.gz"), ok=False)
    assert result.exit_code == 2 and "not a regular file" in result.output and "Traceback" not in result.output


def test_show_raw_prints_the_response_as_the_server_sent_it(fetched):
    cli, _ = fetched
    with Archive(cli.archive) as archive:
        article = next(a for a in archive.list_articles(limit=None) if a.origin == "page")
        raw = archive.get_article(article.id).raw
    shown = cli("show", article.id[:8], "--raw").stdout_bytes
    head, _, body = shown.partition(b"\n\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Type: text/html; charset=utf-8" in head and b"ETag: " in head
    assert body == raw


def test_verify_passes_then_names_the_changed_record_and_the_cut_file(tmp_path):
    with FixtureServer(FIXTURES / "site") as server:
        cli = Cli(tmp_path)
        cli.write_config(CONFIG.format(base=server.url))
        cli("fetch", "--quiet")
    said = cli("verify")
    assert "all match" in said.stdout and said.exit_code == 0
    store = CaptureStore(cli.archive / "warc", readonly=True)
    victim = next(r for r in store.records() if r.type == "response" and r.url.endswith(".html"))
    store.close()
    path = cli.archive / "warc" / victim.file
    data = bytearray(path.read_bytes())
    data[victim.offset + victim.length // 2] ^= 0x01  # one byte, in the middle of one record
    path.write_bytes(bytes(data))
    result = cli("verify", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    problems = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(problems) == 1, problems
    assert victim.file in problems[0] and victim.id in problems[0] and victim.url in problems[0]
    assert "1 problem" in result.stderr
    # Cut the file short: every record past the cut is named, nothing crashes.
    path.write_bytes(bytes(data[: victim.offset + 10]))
    result = cli("verify", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert all(victim.file in line for line in result.stdout.splitlines() if line.strip())
    assert "cut short" in result.stdout


def test_verify_names_an_article_whose_text_was_changed(fetched, tmp_path):
    import shutil

    source, _ = fetched
    cli = Cli(tmp_path)
    shutil.copytree(source.archive, cli.archive)
    cli.write_config(source.config.read_text())
    with Archive(cli.archive) as archive:
        victim = archive.list_articles(limit=None)[0]
    db = sqlite3.connect(cli.archive / "veille.db")
    db.execute("UPDATE articles SET text = text || ' (edited)' WHERE id = ?", (victim.id,))
    db.commit()
    db.close()
    result = cli("verify", ok=False)
    assert result.exit_code == 1
    assert f"article {victim.id}: its text no longer matches its content hash" in result.stdout


def test_a_revision_keeps_its_own_records(tmp_path):
    with FixtureServer() as server:
        server.pages["/notice.html"] = (b"<html><head><title>Contrat de vid\xc3\xa9osurveillance</title></head><body>"
                                        b"<article><h1>Contrat de vid\xc3\xa9osurveillance</h1>"
                                        + b"<p>La ville signe un contrat de reconnaissance faciale. </p>" * 8
                                        + b"</article></body></html>")
        cli = Cli(tmp_path)
        cli.write_config(f"settings:\n  host_delay: 0\nsources:\n  - name: ville\n    url: {server.url}/notice.html\n"
                         "    kind: page\n")
        cli("fetch", "--quiet")
        server.pages["/notice.html"] = server.pages["/notice.html"].replace(b"signe", b"annule")
        cli("fetch", "--quiet")
    with Archive(cli.archive) as archive:
        (article,) = archive.list_articles(limit=None)
        assert archive.get_article(article.id).revision == 2
    store = CaptureStore(cli.archive / "warc", readonly=True)
    links = store.db.execute("SELECT outcome FROM links WHERE article_id = ? ORDER BY fetched", (article.id,)).fetchall()
    assert [row[0] for row in links] == ["new", "updated"]
    bodies = [payload for f in store.files() for kind, _, _, payload in read_warc(f) if kind == "response"]
    assert sum(b"signe" in b for b in bodies) == 1 and sum(b"annule" in b for b in bodies) == 1
    store.close()
    assert b"annule" in cli("show", article.id, "--raw").stdout_bytes
    assert "(1 earlier revision) checked: all match" in cli("verify").stdout
    db = sqlite3.connect(cli.archive / "veille.db")
    db.execute("UPDATE revisions SET text = 'FORGED ' || text")
    db.commit()
    db.close()
    result = cli("verify", ok=False)
    assert result.exit_code == 1 and f"article {article.id} revision 1" in result.stdout


def test_a_gzip_response_is_kept_as_sent_and_read_as_meant(tmp_path):
    page = ("<html><head><title>Drones over the city</title></head><body><article><h1>Drones over the city</h1>"
            + "<p>The police department bought six drones with cameras last spring.</p>" * 10
            + "</article></body></html>").encode()
    packed = gzip.compress(page)

    def gzipped(handler):
        return Reply(200, packed, {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"})

    with FixtureServer(routes={"/drones.html": gzipped}) as server:
        config = parse_config(f"settings:\n  host_delay: 0\nsources:\n  - name: city\n    url: {server.url}/drones.html\n"
                              "    kind: page\n", tmp_path / "feeds.yaml")
        with Archive(tmp_path / "archive") as archive:
            report = fetch_sources(config, archive)
            assert report.counts["new"] == 1
            (article,) = archive.list_articles(limit=None)
            assert archive.get_article(article.id).title == "Drones over the city"
    store = CaptureStore(tmp_path / "archive" / "warc", readonly=True)
    (warc,) = store.files()
    with open(warc, "rb") as f:
        responses = [r for r in ArchiveIterator(f, check_digests="raise") if r.rec_type == "response"
                     and (r.http_headers.get_header("Content-Encoding") == "gzip") and r.content_stream()]
    assert len(responses) == 1
    record = next(r for r in store.records() if r.type == "response")
    from veille.storage.warc.store import http_payload, parse_member

    _, block = parse_member(store.member(record))
    assert http_payload(block) == packed  # the bytes as sent, compressed
    store.close()


def test_a_capture_that_fails_keeps_the_article_and_says_so(tmp_path, caplog):
    with FixtureServer(FIXTURES / "site") as server:
        config = parse_config(CONFIG.format(base=server.url), tmp_path / "feeds.yaml")
        store = CaptureStore(tmp_path / "warc")

        def full(exchange):
            raise OSError(28, "No space left on device")

        store.record = full
        with Archive(tmp_path / "archive") as archive, Fetcher(config.settings, capture=store) as fetcher:
            report = fetch_sources(config, archive, fetcher=fetcher)
            assert report.counts["new"] == len(MANIFEST) and report.counts["failed"] == 0
            assert fetcher.capture_failures > 0
            said = [f.reason for f in report.failures]
            assert said and all("article kept, its WARC capture failed" in r and "No space left" in r for r in said)
            assert any(f.stage == "capture" for f in archive.failures())  # in `veille status`
        store.close()
        assert any("capture failed" in r.getMessage() for r in caplog.records)
        # The disk has room again: the next pass fetches those pages again and captures them.
        with Archive(tmp_path / "archive") as archive:
            report = fetch_sources(config, archive)
            assert report.counts["new"] == 0 and report.counts["failed"] == 0 and not report.failures
            pages = [a for a in archive.list_articles(limit=None) if a.origin == "page"]
            assert not [f for f in archive.failures() if f.stage == "capture"]
        store = CaptureStore(tmp_path / "archive" / "warc", readonly=True)
        assert store.linked([a.id for a in pages]) == {a.id for a in pages}
        assert {r[0] for r in store.db.execute("SELECT outcome FROM links")} == {"unchanged"}
        store.close()


def test_capture_none_keeps_no_warc(tmp_path):
    with FixtureServer(FIXTURES / "site") as server:
        cli = Cli(tmp_path)
        cli.write_config(CONFIG.format(base=server.url).replace("host_delay: 0", "host_delay: 0\n  capture: none"))
        cli("fetch", "--quiet")
    assert not (cli.archive / "warc").exists()
    with Archive(cli.archive) as archive:
        article = archive.list_articles(limit=1)[0]
    result = cli("show", article.id, "--raw", ok=False)
    assert result.exit_code != 0 and "no capture of article" in result.output and "Traceback" not in result.output
    assert "no captures" in cli("verify").stdout


def test_files_rotate_by_size_and_every_record_stays_findable(tmp_path):
    from veille.storage.warc import Exchange

    store = CaptureStore(tmp_path / "warc", max_size=4000)
    ids = [store.record(Exchange(url=f"http://example.org/{i}", method="GET", target=f"/{i}",
                                 request_headers=[("Host", "example.org")], http_version="HTTP/1.1", status=200,
                                 reason="OK", headers=[("Content-Type", "text/plain")],
                                 body=os.urandom(1500)))
           for i in range(6)]
    assert len(store.files()) >= 3
    for record in store.records():
        assert record.type in ("response", "request")
    from veille.storage.warc.fixity import verify

    assert verify(store, []).problems == []
    assert len({r.file for r in store.records() if r.id in ids}) >= 3
    store.close()


def test_capture_settings_are_checked(tmp_path):
    from veille.errors import ConfigError

    config = parse_config("settings:\n  capture: none\n  warc_max_size: 200MB\nsources: []\n", tmp_path / "f.yaml")
    assert config.settings.capture == "none" and config.settings.warc_max_size == 200 * 1000**2
    with pytest.raises(ConfigError, match='settings.capture: write "warc"'):
        parse_config("settings:\n  capture: zip\nsources: []\n", tmp_path / "f.yaml")
    with pytest.raises(ConfigError, match="warc_max_size"):
        parse_config("settings:\n  warc_max_size: 10KB\nsources: []\n", tmp_path / "f.yaml")


def test_two_stores_of_one_process_never_share_a_file(tmp_path):
    """`veille run` reopens its store when feeds.yaml changes: both may begin a file in one second."""
    from veille.storage.warc import Exchange
    from veille.storage.warc.fixity import verify

    def exchange(i):
        return Exchange(url=f"http://example.org/{i}", method="GET", target=f"/{i}", request_headers=[],
                        http_version="HTTP/1.1", status=200, reason="OK", headers=[], body=b"x" * i)

    first, second = CaptureStore(tmp_path / "warc"), CaptureStore(tmp_path / "warc")
    first.record(exchange(1))
    second.record(exchange(2))
    first.record(exchange(3))
    assert len(first.files()) == 2
    assert verify(second, []).problems == [] and len(second.records()) == 6
    first.close()
    second.close()


def copy_of(fetched, tmp_path):
    import shutil

    source, _ = fetched
    cli = Cli(tmp_path)
    shutil.copytree(source.archive, cli.archive)
    cli.write_config(source.config.read_text())
    return cli


def test_warc_export_never_replaces_a_file(fetched, tmp_path):
    cli = copy_of(fetched, tmp_path)
    first = tmp_path / "one.warc.gz"
    cli("warc", "export", "--out", str(first))
    before = first.read_bytes()
    result = cli("warc", "export", "--out", str(first), ok=False)
    assert result.exit_code == 2 and "exists; give a new file name" in result.output
    assert first.read_bytes() == before
    own = next((cli.archive / "warc").glob("*.warc.gz"))
    kept = own.read_bytes()
    result = cli("warc", "export", "--out", str(cli.archive / "warc" / "new.warc.gz"), ok=False)
    assert result.exit_code == 2 and "capture folder" in result.output
    result = cli("warc", "export", "--out", str(own), ok=False)
    assert result.exit_code == 2 and own.read_bytes() == kept
    assert "all match" in cli("verify").stdout


def test_verify_names_a_missing_or_damaged_capture_index(fetched, tmp_path):
    cli = copy_of(fetched, tmp_path)
    index = cli.archive / "warc" / "captures.db"
    for extra in ("-wal", "-shm"):
        (cli.archive / "warc" / f"captures.db{extra}").unlink(missing_ok=True)
    index.write_bytes(b"\x00garbage" * 1000)
    result = cli("verify", ok=False)
    assert result.exit_code == 1 and "captures.db" in result.stdout and "Traceback" not in result.output
    with Archive(cli.archive) as archive:
        article = archive.list_articles(limit=1)[0]
    shown = cli("show", article.id, "--raw", ok=False)
    assert shown.exit_code == 1 and "captures.db" in shown.stderr and "veille.db" not in shown.stderr
    index.unlink()
    result = cli("verify", ok=False)
    assert result.exit_code == 1 and "WARC files but no capture index" in result.stdout


def test_a_capture_folder_that_cannot_be_made_costs_no_article(tmp_path, caplog):
    with FixtureServer(FIXTURES / "site") as server:
        config = parse_config(CONFIG.format(base=server.url), tmp_path / "feeds.yaml")
        (tmp_path / "archive").mkdir()
        (tmp_path / "archive" / "warc").write_text("a file where the folder should be")
        with Archive(tmp_path / "archive") as archive:
            report = fetch_sources(config, archive)
            assert report.counts["new"] == len(MANIFEST) and report.counts["failed"] == 0
    assert any("capture off" in r.getMessage() for r in caplog.records)


def test_a_redirect_is_kept_with_its_body(tmp_path):
    from veille.dev.devserver import Reply

    page = (b"<html><head><title>Moved notice</title></head><body><article><h1>Moved notice</h1>"
            + b"<p>The prefecture moved its notice about the drones to a new address this week.</p>" * 6
            + b"</article></body></html>")
    routes = {"/old.html": lambda h: Reply(301, b"moved", {"Location": "/new.html", "Content-Type": "text/plain"}),
              "/new.html": lambda h: Reply(200, page, {"Content-Type": "text/html; charset=utf-8"})}
    with FixtureServer(routes=routes) as server:
        config = parse_config(f"settings:\n  host_delay: 0\nsources:\n  - name: p\n    url: {server.url}/old.html\n"
                              "    kind: page\n", tmp_path / "feeds.yaml")
        with Archive(tmp_path / "archive") as archive:
            assert fetch_sources(config, archive).counts["new"] == 1
    store = CaptureStore(tmp_path / "archive" / "warc", readonly=True)
    (warc,) = store.files()
    statuses = {r[2].get_statuscode(): r[3] for r in read_warc(warc) if r[0] == "response"}
    assert statuses["301"] == b"moved" and statuses["200"] == page
    store.close()
