"""`veille serve` and the Atom feeds of saved searches (issue 19 items 1 and 2), as a browser, a
program and a feed reader meet them: on the seeds, plus one hostile article whose every value
tries to run, link or break a header."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import warnings
from datetime import datetime

import feedparser
import httpx
import lxml.etree
import lxml.html
import pytest

from conftest import ROOT, SEEDS, Cli
from veille.models import Article, Entity
from veille.pipeline import link_story, sync_index
from veille.storage.sqlite.store import Archive

warnings.filterwarnings("ignore", message=".*httpx.*")
from starlette.testclient import TestClient  # noqa: E402  (after the filter: Starlette 1 prefers httpx2)

from veille.app.web import create_app  # noqa: E402

BASE = "http://127.0.0.1:8080"
HOSTILE_TITLE = '<script>alert("t")</script><img src=x onerror=alert(1)>\r\nSet-Cookie: stolen=1'
HOSTILE_TEXT = ("Hostile report on Palantir. <img src=x onerror=alert(2)> and <script>alert(3)</script> "
                "follow.\nA second paragraph naming <b onmouseover=alert(4)>Palantir</b> again.")
HOSTILE_ID = "badc0ffee0000001"


def _hostile_article() -> Article:
    start = HOSTILE_TEXT.index("<img")
    end = HOSTILE_TEXT.index(">", start) + 1
    name = HOSTILE_TEXT.index("Palantir")
    return Article(
        id=HOSTILE_ID, url="javascript:alert(5)", canonical_url="javascript:alert(6)",
        source="evil\r\nX-Injected: 1", title=HOSTILE_TITLE, text=HOSTILE_TEXT, lang="en", lang_confidence=0.99,
        published="2026-01-02T03:04:05Z", fetched="2026-01-02T04:00:00Z", author='"><script>alert(7)</script>',
        raw=b"<html><body><script>alert(8)</script>hostile</body></html>", origin="page",
        entities=[Entity(text=HOSTILE_TEXT[start:end], label="ORG", start=start, end=end,
                         key='"><script>alert(9)</script>', origin="model"),
                  Entity(text="Palantir", label="ORG", start=name, end=name + 8, key="palantir", origin="model")],
        tags=['"><svg onload=alert(10)>', "facial-recognition"], tagger="test",
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The seeds, a hostile article, two saved searches; the app over them and the CLI beside it."""
    cli = Cli(tmp_path_factory.mktemp("serve"))
    cli("import", str(SEEDS))
    cli("searches", "add", "ice-tech", "palantir OR technopolice")
    cli("searches", "add", "hostile", "hostile", "--lang", "en")
    with Archive(cli.archive) as archive:
        article = _hostile_article()
        archive.save_article(article, "2026-01-02T04:00:00Z")
        link_story(archive, article)
        sync_index(archive)
    ids = {row["url"].rsplit("/", 1)[1][:3]: row["id"] for row in cli.json_lines("list", "--limit", "0")
           if row["url"].startswith("file:")}
    client = TestClient(create_app(str(cli.archive)), base_url=BASE)
    return cli, client, ids


def _page(client, path: str, status: int = 200):
    response = client.get(path)
    assert response.status_code == status, (path, response.text[:500])
    return response, lxml.html.fromstring(response.text)


def _assert_inert(doc) -> None:
    """No script, no event handler, no image or frame, and every link to this site or to http(s)."""
    assert not doc.xpath("//script | //img | //iframe | //svg[not(@class='trend')] | //foreignobject | //object "
                         "| //embed | //b[@onmouseover]")
    handlers = [(el.tag, name) for el in doc.iter() if isinstance(el.tag, str)
                for name in el.attrib if name.lower().startswith("on")]
    assert not handlers
    for href in doc.xpath("//@href | //@src | //@action"):
        assert href.startswith(("/", "#", "http://", "https://")) and "javascript:" not in href.lower(), href


# -- pages ---------------------------------------------------------------------------------------

def test_a_query_shows_one_result_per_story_with_its_snippet_and_other_versions(served):
    _, client, ids = served
    _, doc = _page(client, "/?q=palantir")
    results = doc.xpath("//li[@class='result']")
    titles = [r.xpath("string(.//h2)").strip() for r in results]
    assert len([t for t in titles if "tyran" in t]) == 1  # the article, its copy and its translation: one story
    story = next(r for r in results if "tyran" in r.xpath("string(.//h2)"))
    assert story.xpath("string(.//mark)").lower() == "palantir"
    assert "also in: en · 1 copy" in story.xpath("string(.//p[@class='also'])")


def test_filters_facets_paging_and_sort_are_plain_links_and_fields(served):
    _, client, ids = served
    _, doc = _page(client, "/?q=palantir")
    facet_links = {a.text_content(): a.get("href") for a in doc.xpath("//aside[@class='facets']//a")}
    assert facet_links["fr"] == "/?q=palantir&lang=fr"
    _, french = _page(client, facet_links["fr"])
    assert french.xpath("//select[@name='lang']/option[@selected]/@value") == ["fr"]
    assert french.xpath("//li[@class='result']//h2/a/@href") == [f"/story/{_story_id(served[0], ids['000'])}"]
    _, first = _page(client, "/?q=&sort=date&limit=10&all=1")
    assert len(first.xpath("//li[@class='result']")) == 6  # every version, newest first
    _, paged = _page(client, "/?sort=date&limit=2")
    assert paged.xpath("//a[@rel='next']/@href") == ["/?sort=date&page=2&limit=2"]
    _, second = _page(client, "/?sort=date&limit=2&page=2")
    assert second.xpath("//a[@rel='prev']/@href") == ["/?sort=date&limit=2"]
    assert not set(paged.xpath("//h2/a/@href")) & set(second.xpath("//h2/a/@href"))
    _, dated = _page(client, "/?until=2020-01-01")
    assert [h.text_content() for h in dated.xpath("//li[@class='result']//h2")] == [
        "La Quadrature du Net ouvre la bataille contre la technopolice"]
    _, tagged = _page(client, "/?tag=facial-recognition&entity=AWS")
    assert not tagged.xpath("//li[@class='result']") and "No match" in tagged.text_content()


def test_past_a_sample_the_page_says_more_than_and_the_api_counts_them_all(served, monkeypatch):
    from veille.app.web import searching

    cli, client, _ = served
    monkeypatch.setattr(searching, "FACET_SAMPLE", 2)
    _, doc = _page(client, "/?q=palantir")
    assert doc.xpath("string(//p[@class='count'])").startswith("More than 2 articles")
    assert client.get("/api/search?q=palantir&count=1").json() == cli.json_lines("search", "palantir", "--count")[0]


def _story_id(cli, article_id: str) -> str:
    return json.loads(cli("story", article_id, "--json").stdout)["story_id"]


def test_a_broken_query_or_date_is_said_beside_the_form(served):
    _, client, _ = served
    response, doc = _page(client, "/?q=%22unclosed", status=400)
    assert "unclosed quote" in doc.xpath("string(//p[@class='error'])")
    assert doc.xpath("//input[@name='q']/@value") == ['"unclosed']
    _, doc = _page(client, "/?since=2020-13-01", status=400)
    assert "YYYY-MM-DD" in doc.xpath("string(//p[@class='error'])")


def test_the_story_page_shows_the_original_its_copy_and_translation_with_evidence(served):
    _, client, ids = served
    _, doc = _page(client, f"/story/{ids['000']}")
    relations = [m.xpath("string(.//strong[@class='relation'])") for m in doc.xpath("//li[contains(@class,'member')]")]
    assert relations == ["original", "duplicate", "translation"]
    evidence = doc.xpath("string(//li[contains(@class,'translation')]//p[@class='evidence'])")
    assert evidence.startswith("translation of ") and "shared anchors" in evidence
    assert f"/article/{ids['000']}" in doc.xpath("//li[contains(@class,'translation')]//h2/a/@href")


def test_the_article_page_links_its_entities_and_tags_and_keeps_file_paths_private(served):
    _, client, ids = served
    _, doc = _page(client, f"/article/{ids['003']}")
    entity_links = doc.xpath("//div[@class='text']//a[contains(@class,'ent')]/@href")
    assert "/entity/la-quadrature-du-net" in entity_links
    assert "/tag/facial-recognition" in doc.xpath("//dd[@class='tags']/a/@href")
    assert "file:" not in lxml.html.tostring(doc, encoding="unicode")  # a path on the keeper's disk stays there
    response = client.get(f"/article/{ids['003']}/raw")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")


def test_an_entity_and_a_tag_have_pages_listing_their_stories(served):
    _, client, ids = served
    _, doc = _page(client, "/entity/la-quadrature-du-net")
    assert doc.xpath("string(//h1)") == "La Quadrature du Net"
    assert doc.xpath("//li[@class='result']")
    _, doc = _page(client, "/tag/video-surveillance")
    assert doc.xpath("//li[@class='result']")
    _page(client, "/entity/nobody-at-all", status=404)
    _, doc = _page(client, "/entities?label=ORG")
    assert "/entity/palantir" in doc.xpath("//table//a/@href")


def test_every_page_is_for_a_phone_and_a_keyboard(served):
    _, client, ids = served
    for path in ("/", "/?q=palantir", f"/story/{ids['000']}", f"/article/{ids['000']}", "/entity/palantir",
                 "/tag/facial-recognition", "/entities", "/searches"):
        _, doc = _page(client, path)
        assert doc.xpath("//meta[@name='viewport']/@content") == ["width=device-width, initial-scale=1"]
        assert doc.xpath("//a[@class='skip']/@href") == ["#main"]
        for field in doc.xpath("//input[not(@type='hidden')] | //select"):
            labelled = field.getparent().tag == "label" or doc.xpath(f"//label[@for='{field.get('id')}']")
            assert labelled, lxml.html.tostring(field)
    css = client.get("/static/style.css")
    assert css.status_code == 200 and "@media" in css.text


# -- the API: the CLI's --json ---------------------------------------------------------------------

def test_the_api_gives_what_the_cli_prints_with_json(served):
    cli, client, ids = served
    assert client.get("/api/search?q=palantir").json() == cli.json_lines("search", "palantir")
    assert client.get("/api/search?q=tyrans&lang=fr&all=1").json() == cli.json_lines(
        "search", "tyrans", "--lang", "fr", "--all-versions")
    assert client.get("/api/search?q=palantir&count=1").json() == cli.json_lines("search", "palantir", "--count")[0]
    assert client.get("/api/search?q=palantir&facets=1").json() == cli.json_lines("search", "palantir", "--facets")[0]
    assert client.get(f"/api/article/{ids['003']}").json() == json.loads(cli("show", ids["003"], "--json").stdout)
    assert client.get(f"/api/story/{ids['000']}").json() == json.loads(cli("story", ids["000"], "--json").stdout)
    assert client.get("/api/entities?top=5&label=ORG").json() == cli.json_lines("entities", "--top", "5", "--label", "ORG")
    assert client.get("/api/searches").json() == cli.json_lines("searches", "list")
    assert client.get("/api/search?q=palantir&source=IMPORT").json() == cli.json_lines(
        "search", "palantir", "--source", "IMPORT")  # a source in another case is found, as by the CLI


def test_the_api_says_what_is_wrong_in_one_json_line(served):
    _, client, _ = served
    response = client.get("/api/search?q=colour:red")
    assert response.status_code == 400 and "unknown field 'colour'" in response.json()["error"]
    assert client.get("/api/article/ffffffffffff").status_code == 404
    assert client.get("/api/search?page=0").status_code == 400
    paged = client.get("/api/search?sort=date&limit=1")
    assert paged.headers["link"] == '</api/search?sort=date&page=2&limit=1>; rel="next"'


# -- safety ----------------------------------------------------------------------------------------

def test_a_hostile_article_is_inert_in_every_page(served):
    _, client, _ = served
    for path in ("/?q=hostile", "/?q=palantir&sort=date", f"/story/{HOSTILE_ID}", f"/article/{HOSTILE_ID}",
                 "/entity/palantir", "/tag/facial-recognition", "/entities", "/?source=evil"):
        response, doc = _page(client, path)
        _assert_inert(doc)
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    _, doc = _page(client, f"/article/{HOSTILE_ID}")
    assert doc.xpath("string(//h1)") == HOSTILE_TITLE.replace("\r\n", "\n")  # as written, as text (HTML reads CRLF as LF)
    assert "javascript:alert(5) (not a web address: not linked)" in doc.xpath("string(//dl)")
    linked = {a.text_content(): a.get("href") for a in doc.xpath("//a[contains(@class,'ent')]")}
    assert linked == {"Palantir": "/entity/palantir",  # its text, as text; its key, quoted in the address
                      "<img src=x onerror=alert(2)>": "/entity/%22%3E%3Cscript%3Ealert%289%29%3C%2Fscript%3E"}
    tags = doc.xpath("//dd[@class='tags']/a/@href")
    assert tags == ["/tag/%22%3E%3Csvg%20onload%3Dalert%2810%29%3E", "/tag/facial-recognition"]
    for path in (tags[0], linked["<img src=x onerror=alert(2)>"]):  # not a key or slug the index holds
        _assert_inert(_page(client, path, status=404)[1])


def test_the_archived_copy_of_a_hostile_page_is_shown_never_run(served):
    _, client, _ = served
    response = client.get(f"/article/{HOSTILE_ID}/raw")
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_hostile_article_is_inert_in_the_api(served):
    _, client, _ = served
    for path in (f"/api/article/{HOSTILE_ID}", "/api/search?q=hostile", f"/api/story/{HOSTILE_ID}"):
        response = client.get(path)
        assert response.headers["content-type"] == "application/json"
        assert b"<" not in response.content and b">" not in response.content  # written \u003c: inert if embedded
    assert client.get(f"/api/article/{HOSTILE_ID}").json()["title"] == HOSTILE_TITLE  # the same values


def test_no_value_reaches_a_header(served):
    _, client, _ = served
    for path in ("/api/search?q=palantir%0d%0aX-Injected:%201&limit=1&sort=date",
                 "/?q=x%0d%0aSet-Cookie:%20a=b", "/feeds/hostile.atom", f"/article/{HOSTILE_ID}"):
        response = client.get(path)
        assert "x-injected" not in response.headers and "set-cookie" not in response.headers
        for name, value in response.headers.items():
            assert "\r" not in value and "\n" not in value, (name, value)


def test_no_route_writes_to_the_archive(served):
    cli, client, ids = served

    def dump() -> list[str]:
        with sqlite3.connect(f"file:{cli.archive / 'veille.db'}?mode=ro", uri=True) as db:
            return list(db.iterdump())

    before = dump()
    for path in ("/", "/?q=palantir", f"/story/{ids['000']}", f"/article/{ids['000']}", "/entity/palantir",
                 "/tag/facial-recognition", "/entities", "/searches", "/api/search?q=palantir", "/feeds/ice-tech.atom",
                 "/feeds.opml", f"/api/article/{ids['000']}", "/api/searches"):
        assert client.get(path).status_code == 200
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/api/searches").status_code == 405
    assert dump() == before


# -- Atom feeds of saved searches -------------------------------------------------------------------

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _atom_checked(body: bytes) -> lxml.etree._Element:
    """RFC 4287's rules for a feed and its entries (what its RELAX NG schema requires of them)."""
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feed = lxml.etree.fromstring(body)
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    for node, required in ((feed, ("id", "title", "updated")),
                           *((entry, ("id", "title", "updated", "summary")) for entry in feed.xpath("a:entry", namespaces=ns))):
        for name in required:
            assert len(node.xpath(f"a:{name}", namespaces=ns)) == 1, name
        for stamp in node.xpath("a:updated | a:published", namespaces=ns):
            assert RFC3339.fullmatch(stamp.text)
        assert node.xpath("a:link[@rel='alternate']/@href", namespaces=ns)
        for href in node.xpath("a:link/@href", namespaces=ns):
            assert href.startswith(("http://", "https://")), href
    assert feed.xpath("a:author/a:name", namespaces=ns)  # every entry has an author through the feed's
    return feed


def test_a_saved_search_is_a_valid_atom_feed_one_entry_per_story_newest_first(served):
    cli, client, ids = served
    response = client.get("/feeds/ice-tech.atom")
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    _atom_checked(response.content)
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0 and parsed.version == "atom10"
    stories = [r["story_id"] for r in cli.json_lines("search", "--saved", "ice-tech", "--sort", "date")]
    assert [e.id for e in parsed.entries] == [f"tag:veille,2025:story:{s}" for s in stories]
    assert [e.link for e in parsed.entries] == [f"{BASE}/story/{s}" for s in stories]
    tyrants = next(e for e in parsed.entries if "tyrants" in e.title)
    assert "also in: fr · 1 copy" in tyrants.summary and "Palantir" in tyrants.summary
    updated = [datetime.fromisoformat(e.updated.replace("Z", "+00:00")) for e in parsed.entries]
    assert max(updated).strftime("%Y-%m-%dT%H:%M:%SZ") == parsed.feed.updated
    again = feedparser.parse(client.get("/feeds/ice-tech.atom").content)
    assert [e.id for e in again.entries] == [e.id for e in parsed.entries]  # stable ids


def test_a_feed_reader_polling_with_the_etag_gets_304(served):
    _, client, _ = served
    first = client.get("/feeds/ice-tech.atom")
    etag = first.headers["etag"]
    second = client.get("/feeds/ice-tech.atom", headers={"If-None-Match": etag})
    assert second.status_code == 304 and second.content == b"" and second.headers["etag"] == etag
    assert client.get("/feeds/ice-tech.atom", headers={"If-None-Match": '"other"'}).status_code == 200
    opml = client.get("/feeds.opml")
    assert client.get("/feeds.opml", headers={"If-None-Match": opml.headers["etag"]}).status_code == 304


def test_a_hostile_article_is_inert_in_its_feed(served):
    _, client, _ = served
    body = client.get("/feeds/hostile.atom").content
    feed = _atom_checked(body)
    assert not feed.xpath("//*[local-name()='script']")
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    (entry,) = parsed.entries
    assert entry.title == " ".join(HOSTILE_TITLE.split())  # the text as written, on one line, escaped by XML
    assert [link.href for link in entry.links] == [f"{BASE}/story/s{HOSTILE_ID}"]  # javascript: left out
    assert entry.author == "evil X-Injected: 1"


def test_the_opml_lists_every_saved_search_feed(served):
    _, client, _ = served
    doc = lxml.etree.fromstring(client.get("/feeds.opml").content)
    assert doc.xpath("//outline/@xmlUrl") == [f"{BASE}/feeds/hostile.atom", f"{BASE}/feeds/ice-tech.atom"]
    assert client.get("/feeds/nothing-saved.atom").status_code == 404


def test_searches_feed_writes_the_same_feed_to_a_file(served, tmp_path):
    cli, client, _ = served
    out = tmp_path / "ice.atom"
    result = cli("searches", "feed", "ice-tech", "--out", str(out), "--base-url", BASE + "/")
    assert "3 stories" in result.stderr  # palantir, technopolice, and the hostile report on Palantir
    assert out.read_bytes() == client.get("/feeds/ice-tech.atom").content
    missing = cli("searches", "feed", "nope", ok=False)
    assert missing.exit_code == 1 and "no saved search named 'nope'" in missing.stderr


# -- the guard: host, token ------------------------------------------------------------------------

def test_another_host_name_is_refused_so_a_web_page_cannot_rebind_to_the_archive(served):
    _, client, _ = served
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8080"}).status_code == 200


def test_with_a_token_every_request_without_it_gets_401(served):
    cli, _, _ = served
    client = TestClient(create_app(str(cli.archive), token="s3cret-token"), base_url=BASE)
    for path in ("/", "/api/searches", "/feeds/ice-tech.atom", "/static/style.css", "/feeds.opml"):
        response = client.get(path)
        assert response.status_code == 401 and "token" in response.text, path
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert client.get("/api/searches", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    first = client.get("/?token=s3cret-token")
    assert first.status_code == 200 and "HttpOnly" in first.headers["set-cookie"]
    assert client.get("/entities").status_code == 200  # the cookie, from then on
    feed = feedparser.parse(TestClient(client.app, base_url=BASE).get("/feeds/ice-tech.atom?token=s3cret-token").content)
    assert feed.entries[0].link.endswith("?token=s3cret-token")  # a reader's click opens the story


# -- the command: a real server on a free port -------------------------------------------------------

class Serving:
    """`veille serve` in a process of its own; its address from the line it prints on start."""

    def __init__(self, archive, *args: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(
            [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "veille", "--archive", str(archive), "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
        self.line = _read_line(self.process.stdout, deadline=120)
        found = re.search(r"at (http://\S+/) ", self.line)
        assert found, (self.line, self.process.stderr.read() if self.process.poll() is not None else "")
        self.url = found.group(1)

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def _read_line(stream, deadline: float) -> str:
    """The next line of a child's output, or "" if none comes within `deadline` seconds (generous:
    the child imports the web stack on a busy machine)."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(deadline)
    return got[0] if got else ""


def test_veille_serve_answers_on_127_0_0_1_and_stops_on_sigterm(served):
    cli, _, _ = served
    serving = Serving(cli.archive)
    try:
        assert serving.url.startswith("http://127.0.0.1:")
        response = httpx.get(serving.url + "?q=palantir", timeout=60)
        assert response.status_code == 200 and "also in: en · 1 copy" in response.text
        assert "server" not in response.headers  # nothing says what runs it
        assert httpx.get(serving.url + "feeds/ice-tech.atom", timeout=60).headers["etag"]
    finally:
        assert serving.stop() == 0


def test_another_host_is_warned_about_and_a_token_then_required(served):
    cli, _, _ = served
    serving = Serving(cli.archive, "--host", "0.0.0.0", "--token", "lan-token-123")
    try:
        warning = _read_line(serving.process.stderr, deadline=60)
        assert "anyone who can reach this machine can read the archive" in warning
        address = serving.url.replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(address, timeout=60).status_code == 401
        assert httpx.get(address, headers={"Authorization": "Bearer lan-token-123"}, timeout=60).status_code == 200
    finally:
        serving.stop()


def test_a_port_in_use_or_a_bad_token_is_one_line(served):
    cli, _, _ = served
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        result = cli("serve", "--port", port, ok=False)
    assert result.exit_code == 1 and result.stderr.strip().count("\n") == 0
    assert f"port {port} is in use" in result.stderr and "--port" in result.stderr
    bad = cli("serve", "--token", "a b\r\nc", ok=False)
    assert bad.exit_code == 2 and "--token" in bad.stderr


# -- a real browser ---------------------------------------------------------------------------------

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                    reason="needs Debian's chromium and chromium-driver (`make test` installs them as root)")
def test_in_a_browser_a_query_leads_to_its_story_its_translation_and_an_entity(served, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    cli, _, ids = served
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=420,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)  # a phone's width: the pages must read there
    serving = Serving(cli.archive)
    browser = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    wait = WebDriverWait(browser, 60)
    try:
        browser.get(serving.url)
        box = browser.find_element(By.ID, "q")
        box.send_keys("palantir", Keys.ENTER)  # the keyboard, no mouse
        wait.until(lambda b: "q=palantir" in b.current_url and b.find_elements(By.CSS_SELECTOR, "li.result"))
        result = next(r for r in browser.find_elements(By.CSS_SELECTOR, "li.result") if "tyran" in r.text)
        assert re.search(r"also in: (en|fr) · 1 copy", result.text)
        browser.save_screenshot(str(tmp_path / "search.png"))
        result.find_element(By.CSS_SELECTOR, "h2 a").click()
        wait.until(lambda b: "/story/" in b.current_url)
        translation = browser.find_element(By.CSS_SELECTOR, "li.member.translation")
        assert "translation of" in translation.text
        translation.find_element(By.CSS_SELECTOR, "h2 a").click()
        wait.until(lambda b: f"/article/{ids['000']}" in b.current_url)
        entity = browser.find_element(By.CSS_SELECTOR, "div.text a.ent[href='/entity/palantir']")
        entity.click()
        wait.until(lambda b: b.current_url.endswith("/entity/palantir"))
        assert browser.find_element(By.TAG_NAME, "h1").text == "Palantir"
        assert browser.find_elements(By.CSS_SELECTOR, "li.result")
        chart = browser.find_element(By.CSS_SELECTOR, "svg.trend")  # its chart, drawn without a script
        assert chart.size["width"] > 200 and chart.get_attribute("aria-label").startswith("articles per month")
        for path in ("", "?q=palantir", f"story/{ids['000']}", f"article/{ids['000']}", "entities"):
            browser.get(serving.url + path)  # nothing wider than the phone's screen: no sideways scrolling
            assert browser.execute_script("return document.documentElement.scrollWidth - "
                                          "document.documentElement.clientWidth") <= 0, path
    finally:
        browser.quit()
        serving.stop()


# -- trends ---------------------------------------------------------------------------------------

def test_trends_count_what_search_count_says_for_each_interval(served):
    cli, _, _ = served
    rows = cli.json_lines("trends", "palantir OR technopolice", "--since", "2019-01-01", "--until", "2026-12-31",
                          "--interval", "month")
    assert len(rows) == 96 and rows[0]["since"] == "2019-01-01" and rows[-1]["until"] == "2026-12-31"
    busy = [r for r in rows if r["articles"]]
    assert busy  # the technopolice article of September 2019, the others when they were archived
    for row in busy + rows[:2]:
        result = cli("search", "palantir OR technopolice", "--count", "--json", "--since", row["since"],
                     "--until", row["until"], ok=False)
        assert json.loads(result.stdout) == {"stories": row["stories"], "articles": row["articles"]}
    by_lang = cli.json_lines("trends", "palantir", "--by", "lang", "--interval", "week", "--since", "2019-09-01",
                             "--until", "2026-12-31")
    for row in [r for r in by_lang if r["articles"]]:
        result = cli("search", "palantir", "--count", "--json", "--lang", row["group"], "--since", row["since"],
                     "--until", row["until"])
        assert json.loads(result.stdout) == {"stories": row["stories"], "articles": row["articles"]}
    assert {r["group"] for r in by_lang} == {"en", "fr"}


def test_trends_draw_bars_in_the_terminal_and_a_png_that_opens(served, tmp_path):
    from PIL import Image

    cli, _, _ = served
    text = cli("trends", "tag:facial-recognition", "--since", "2019-09-01", "--until", "2019-11-30").stdout
    assert "articles per month, 2019-09 to 2019-11" in text and "2019-09  █" in text
    png = tmp_path / "trend.png"
    result = cli("trends", "--by", "tag", "--stories", "--since", "2019-01-01", "--png", str(png))
    assert f"wrote {png}" in " ".join(result.stderr.split())
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] >= 600
    bad = cli("trends", "--since", "2026-02-01", "--until", "2026-01-01", ok=False)
    assert bad.exit_code == 1 and "swap --since and --until" in bad.stderr
    assert cli("trends", "--interval", "day", "--since", "1990-01-01", ok=False).exit_code == 1


def test_an_entity_page_shows_its_trend_without_script(served):
    _, client, _ = served
    _, doc = _page(client, "/entity/palantir")
    (chart,) = doc.xpath("//svg[@class='trend']")
    assert chart.get("role") == "img" and chart.get("aria-label").startswith("articles per month: ")
    assert len(chart.xpath(".//rect")) == 12
    _assert_inert(doc)
