"""Hostile input, end to end through `veille fetch`: every run ends in bounded time and memory,
says why each hostile thing was refused, and leaves the archive as it was.

Each test seeds an archive with a good source (three articles), runs a fetch over the good
source plus a hostile one served by a local server, then checks:
  1. the run finished within a generous bound (on CPU seconds, which a busy machine does not
     inflate, plus a far wider wall-clock bound that only a hang reaches);
  2. (size cases, in a subprocess) the peak RSS of `veille fetch` stayed bounded;
  3. the failure is recorded with a clear reason (report, `failures` table or `sources` row);
  4. the archive is unharmed (seeded articles byte-identical, no duplicates, integrity ok)
     and a later normal fetch still archives new articles.
"""

from __future__ import annotations

import functools
import json
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from veille.config.settings import parse_config
from veille.dev.devserver import FixtureServer, Reply
from veille.pipeline import Taggers, fetch_sources
from veille.storage.sqlite.store import DB_NAME, Archive

import archive_sql

# The bound that catches a blow-up (an expansion, a quadratic parse, a loop) is on CPU seconds: the work
# done, which other jobs on the machine hardly change (a whole hostile fetch uses a few). Waiting uses no
# CPU, so a hang that waits (a socket, a sleep) is caught by the wall-clock bound, set far beyond what
# a fetch takes on 2 busy cores.
RUN_BOUND = 30.0  # CPU seconds a whole hostile fetch may use (generous)
WALL_BOUND = 600.0  # wall seconds: only a hang gets there, however busy the machine (seen: 100 s at load 13)
RSS_BOUND_KIB = 1536 * 1024  # 1.5 GiB
KILL_CPU, KILL_WALL = RUN_BOUND + 5, WALL_BOUND + 10  # a subprocess past either is killed (and the test fails)

WORDS = ("harbour police cameras council budget river school court housing transport energy water "
         "archive tender contract audit museum library market bridge station tunnel ferry clinic").split()


def passwd_marker() -> str:
    try:
        first = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()[0]
        return first.split(":", 3)[0] + ":" + first.split(":", 3)[1] + ":"  # "root:x:"
    except (OSError, IndexError):
        return "root:x:0:0"


def article_html(key: str, lang: str = "en") -> bytes:
    rng = random.Random(key)
    paragraphs = "".join(
        "<p>" + " ".join(rng.choice(WORDS) for _ in range(40)) + f", reported in story {key}.</p>"
        for _ in range(5)
    )
    return (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>Story {key}</title></head>"
            f"<body><article><h1>Story {key}</h1>{paragraphs}</article></body></html>").encode("utf-8")


def rss(items: str, head: str = "", encoding: str | None = "utf-8") -> str:
    declaration = f"<?xml version='1.0' encoding='{encoding}'?>" if encoding else "<?xml version='1.0'?>"
    return (f"{declaration}\n{head}<rss version='2.0'><channel><title>Hostile</title>"
            f"<link>http://example.org/</link>{items}</channel></rss>")


def item(link: str | None, title: str = "An item", guid: str | None = None, summary: str | None = None) -> str:
    parts = [f"<title>{title}</title>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f"<guid isPermaLink='false'>{guid}</guid>")
    if summary is not None:
        parts.append(f"<description>{summary}</description>")
    return "<item>" + "".join(parts) + "</item>"


def serve(body: bytes, content_type: str = "application/rss+xml", **headers: str):
    return lambda handler: Reply(200, body, {"Content-Type": content_type, **headers})


def redirect(target: str):
    return lambda handler: Reply(302, b"", {"Location": target})


# Runs `python -m veille ARGS` as its own child and writes {"exit", "maxrss_kib", "cpu", "killed"}
# to argv[1]; kills the child once it has used more than argv[2] CPU seconds or lived argv[3] wall
# seconds. Why a middle process: on Linux, exec keeps the exec'ing process's old high-water RSS
# in ru_maxrss, so a child spawned straight from pytest (hundreds of MiB with spaCy loaded)
# would report pytest's size. Forked from this small interpreter, the child reports its own.
MEASURE = r"""
import json, os, sys, time
target, kill_cpu, kill_wall = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "veille", *sys.argv[4:]])
tick = os.sysconf("SC_CLK_TCK")


def cpu_so_far():  # user + system seconds of the running child, from /proc (0 where there is none)
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick
    except (OSError, IndexError, ValueError):
        return 0.0


started, killed = time.monotonic(), False
while True:
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    if not killed and (cpu_so_far() > kill_cpu or time.monotonic() - started > kill_wall):
        os.kill(pid, 9)
        killed = True
    time.sleep(0.05)
with open(target, "w") as out:
    json.dump({"exit": os.waitstatus_to_exitcode(status), "maxrss_kib": usage.ru_maxrss,
               "cpu": usage.ru_utime + usage.ru_stime, "killed": killed}, out)
"""


@dataclass
class Spent:
    """What a fetch cost: CPU seconds (the work) and wall seconds (the work plus waiting, plus whatever
    else the machine was doing)."""
    cpu: float
    wall: float

    def bounded(self) -> bool:
        return self.cpu < RUN_BOUND and self.wall < WALL_BOUND

    def __str__(self) -> str:
        return f"{self.cpu:.2f} s CPU, {self.wall:.2f} s wall"


# -- the archive, seeded and checked -------------------------------------------------------

SETTINGS = "settings:\n  host_delay: 0\n  timeout: 2s\n  max_redirects: 5\n  per_host: 4\n"


@dataclass
class Env:
    tmp: Path
    server: FixtureServer
    taggers: Taggers
    before: dict = field(default_factory=dict)
    good_pages: list[str] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.tmp / "archive"

    @property
    def db(self) -> Path:
        return self.folder / DB_NAME

    # the good source: a feed on the same server, extended before the "later" fetch
    def add_good(self, key: str) -> str:
        path = f"/good/{key}.html"
        self.server.pages[path] = article_html(key)
        self.good_pages.append(path)
        items = "".join(item(self.server.url + p, title=f"Good {p}") for p in self.good_pages)
        self.server.pages["/good.xml"] = rss(items).encode()
        return self.server.url + path

    def config_text(self, hostile: str = "", settings: str = "") -> str:
        text = SETTINGS + settings + f"sources:\n  - name: good\n    url: {self.server.url}/good.xml\n"
        return text + hostile

    def fetch(self, hostile: str = "", settings: str = ""):
        """In-process fetch; returns (report, Spent). The CPU time is the whole process's: the fetch's
        threads and the local servers' (which do little)."""
        config = parse_config(self.config_text(hostile, settings), self.tmp / "feeds.yaml")
        with Archive(self.folder) as archive:
            started, cpu = time.monotonic(), time.process_time()
            report = fetch_sources(config, archive, taggers=self.taggers)
            return report, Spent(time.process_time() - cpu, time.monotonic() - started)

    def fetch_subprocess(self, hostile: str = "", settings: str = "") -> "Measured":
        """`veille fetch --json` in a child process, its peak RSS and CPU time read with wait4 (see MEASURE)."""
        config = self.tmp / "feeds.yaml"
        config.write_text(self.config_text(hostile, settings), encoding="utf-8")
        out, err, usage = self.tmp / "fetch.out", self.tmp / "fetch.err", self.tmp / "fetch.rusage"
        command = [sys.executable, "-c", MEASURE, str(usage), str(KILL_CPU), str(KILL_WALL),
                   "--archive", str(self.folder), "--config", str(config), "fetch", "--json"]
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            started = time.monotonic()
            subprocess.run(command, stdout=stdout, stderr=stderr, timeout=KILL_WALL + 30, check=True)
            seconds = time.monotonic() - started
        measured = json.loads(usage.read_text())
        stdout_text = out.read_text(encoding="utf-8", errors="replace")
        summary = None
        for line in stdout_text.splitlines():
            if line.startswith("{"):
                summary = json.loads(line)
        return Measured(measured["exit"], seconds, measured["maxrss_kib"], summary, stdout_text,
                        err.read_text(encoding="utf-8", errors="replace"), measured["killed"], measured["cpu"])

    def rows(self, sql: str, *args) -> list[tuple]:
        return archive_sql.query(self.folder, sql, *args)

    def snapshot(self) -> dict:
        return {row[0]: row[1:] for row in self.rows("SELECT id, url, title, text, text_hash, raw FROM articles")}

    def source_row(self, name: str) -> dict:
        return archive_sql.source_row(self.folder, name)

    def failure_reasons(self, source: str) -> dict[str, str]:
        return dict(self.rows("SELECT url, reason FROM failures WHERE source = ?", source))

    def articles_at(self, url: str) -> list[tuple]:
        return self.rows("SELECT id, title, text FROM articles WHERE url = ?", url)

    def assert_unharmed(self) -> None:
        assert self.rows("PRAGMA integrity_check") == [("ok",)]
        after = self.snapshot()
        for article_id, row in self.before.items():
            assert article_id in after, f"seeded article {row[0]} lost"
            assert after[article_id] == row, f"seeded article {row[0]} changed"
        assert self.rows("SELECT id, COUNT(*) FROM articles GROUP BY id HAVING COUNT(*) > 1") == []
        assert self.rows("SELECT url, COUNT(*) FROM articles GROUP BY url HAVING COUNT(*) > 1") == []
        assert self.rows("SELECT source, key, COUNT(*) FROM entries GROUP BY source, key HAVING COUNT(*) > 1") == []

    def assert_later_fetch_works(self, hostile: str = "", settings: str = "") -> None:
        """A normal fetch after the hostile one archives a new article of the good source."""
        url = self.add_good(f"later-{len(self.good_pages)}")
        report, spent = self.fetch(hostile, settings)
        assert report.counts["new"] >= 1, report
        assert len(self.articles_at(url)) == 1, f"the later fetch did not archive {url}: {report.failures}"
        assert self.source_row("good")["last_error"] is None
        assert spent.bounded(), spent
        self.assert_unharmed()


@dataclass
class Measured:
    exit_code: int
    seconds: float
    maxrss_kib: int
    summary: dict | None
    stdout: str
    stderr: str
    killed: bool
    cpu: float

    @property
    def spent(self) -> Spent:
        return Spent(self.cpu, self.seconds)

    def describe(self) -> str:
        return (f"exit {self.exit_code}, {self.spent}, peak RSS {self.maxrss_kib / 1024:.0f} MiB"
                f"{', KILLED' if self.killed else ''}; stderr: {self.stderr[-800:]!r}")

    def failures(self, source: str) -> list[dict]:
        return [f for f in (self.summary or {}).get("failures", []) if f["source"] == source]


@pytest.fixture(scope="module")
def taggers():
    return Taggers()


@pytest.fixture
def env(tmp_path, taggers):
    with FixtureServer() as server:
        env = Env(tmp_path, server, taggers)
        for n in range(3):
            env.add_good(f"seed-{n}")
        report, _ = env.fetch()
        assert report.counts["new"] == 3, report
        env.before = env.snapshot()
        assert len(env.before) == 3
        yield env


def hostile_source(name: str, url: str, *extra: str) -> str:
    return f"  - name: {name}\n    url: {url}\n" + "".join(f"    {line}\n" for line in extra)


def report_reasons(report, source: str) -> list[str]:
    return [f.reason for f in report.failures if f.source == source]


def all_archived_text(env: Env) -> str:
    """Everything a user could read back: articles, revisions, entries, failures, sources."""
    chunks = []
    for table, columns in (("articles", "title, text, description, author, note, site_name, url"),
                           ("revisions", "title, text"), ("entries", "key, url"),
                           ("failures", "url, reason"), ("sources", "last_status, last_error")):
        for row in env.rows(f"SELECT {columns} FROM {table}"):
            chunks.extend(str(v) for v in row if v is not None)
    for (raw,) in env.rows("SELECT raw FROM articles WHERE raw IS NOT NULL"):
        chunks.append(bytes(raw).decode("utf-8", errors="replace"))
    return "\n".join(chunks)


# -- malformed feeds -------------------------------------------------------------------------


def test_invalid_xml_feed_fails_the_source_with_a_reason(env):
    env.server.routes["/feed.xml"] = serve(b"<?xml version='1.0'?>\n<rss version='2.0'><<channel>>&&&<title "
                                           b"<</item]]></rss>>\x00\x01 garbage")
    report, spent = env.fetch(hostile_source("hostile", env.server.url + "/feed.xml"))
    print(f"hostile run: {spent}")
    assert spent.bounded(), spent
    row = env.source_row("hostile")
    assert row["last_status"] == "failed", row
    assert "not a feed" in row["last_error"], row
    assert any("not a feed" in r for r in report_reasons(report, "hostile"))
    env.assert_unharmed()
    env.server.routes["/feed.xml"] = serve(rss(item(env.server.url + "/ok.html")).encode())
    env.server.pages["/ok.html"] = article_html("ok")
    env.assert_later_fetch_works(hostile_source("hostile", env.server.url + "/feed.xml"))
    assert len(env.articles_at(env.server.url + "/ok.html")) == 1


def test_truncated_feed_keeps_the_complete_entries_and_says_it_was_cut(env):
    url = env.server.url
    items = "".join(item(f"{url}/cut/{n}.html", title=f"Cut {n}") for n in range(4))
    body = rss(items).encode()
    body = body[:body.index(b"<title>Cut 3") + len(b"<title>Cu")]  # mid-entry, mid-element
    env.server.routes["/feed.xml"] = serve(body)
    for n in range(4):
        env.server.pages[f"/cut/{n}.html"] = article_html(f"cut-{n}")
    report, spent = env.fetch(hostile_source("hostile", url + "/feed.xml"))
    print(f"hostile run: {spent}")
    assert spent.bounded(), spent
    for n in range(3):
        assert len(env.articles_at(f"{url}/cut/{n}.html")) == 1, report.failures
    assert env.server.requests_for("/cut/3.html") == []  # its link was cut off
    outcome = report.sources["hostile"]
    assert "not well-formed" in outcome, outcome  # the user is told the feed was damaged
    assert "not well-formed" in env.source_row("hostile")["last_status"]
    env.assert_unharmed()
    env.assert_later_fetch_works(hostile_source("hostile", url + "/feed.xml"))


FRENCH_TITLE = "Sécurité : la préfecture étend la vidéosurveillance à l'œuvre"
FRENCH_TEXT = ("La préfecture a présenté mardi un projet qui étend la vidéosurveillance algorithmique aux gares "
               "et aux écoles ; les élus de l'opposition dénoncent un coût de 2 millions d'€ et une œuvre "
               "de surveillance généralisée. ")


@pytest.mark.parametrize("feed_type, page_type", [
    ("application/rss+xml; charset=utf-8", "text/html; charset=utf-8"),  # declared UTF-8, sent cp1252
    ("application/rss+xml", "text/html"),  # no charset anywhere
], ids=["declared-utf8-body-cp1252", "no-charset"])
def test_wrong_or_missing_charset_still_reads_right(env, feed_type, page_type):
    url = env.server.url
    page = (f"<html lang='fr'><head><title>{FRENCH_TITLE}</title></head><body><article><h1>{FRENCH_TITLE}</h1>"
            + f"<p>{FRENCH_TEXT}</p>" * 4 + "</article></body></html>").encode("cp1252")
    env.server.routes["/fr/page.html"] = serve(page, page_type)
    # the second entry's page is gone: its text comes from the feed itself
    items = (item(f"{url}/fr/page.html", title=FRENCH_TITLE)
             + item(f"{url}/fr/gone.html", title=FRENCH_TITLE + " (2)", summary=f"<p>{FRENCH_TEXT * 2}</p>"))
    env.server.routes["/feed.xml"] = serve(rss(items, encoding=None).encode("cp1252"), feed_type)
    report, spent = env.fetch(hostile_source("hostile", url + "/feed.xml", "language: fr"))
    print(f"hostile run: {spent}")
    assert spent.bounded(), spent
    for path, title in (("/fr/page.html", FRENCH_TITLE), ("/fr/gone.html", FRENCH_TITLE + " (2)")):
        rows = env.articles_at(url + path)
        assert len(rows) == 1, (path, report.failures)
        _, stored_title, text = rows[0]
        assert stored_title == title
        assert "vidéosurveillance algorithmique" in text and "2 millions d'€" in text and "œuvre" in text, text
        assert "\ufffd" not in text + stored_title and "Ã" not in text + stored_title
    env.assert_unharmed()
    env.assert_later_fetch_works(hostile_source("hostile", url + "/feed.xml", "language: fr"))


def laughs_doctype() -> str:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">' for i in range(1, 10)]
    return "<!DOCTYPE rss [" + "".join(levels) + "]>\n"


def test_billion_laughs_feed_is_bounded(env):
    url = env.server.url
    env.server.pages["/laughs/page.html"] = article_html("laughs")
    items = (item(f"{url}/laughs/page.html", title="&lol9;", summary="&lol9;")
             + item(f"{url}/laughs/gone.html", title="Gone &lol9;", summary="<p>Laughs &lol9; end.</p>"))
    env.server.routes["/feed.xml"] = serve(rss(items, head=laughs_doctype()).encode())
    run = env.fetch_subprocess(hostile_source("hostile", url + "/feed.xml"))
    print("billion laughs:", run.describe())
    assert not run.killed and run.spent.bounded(), run.describe()
    assert run.maxrss_kib < RSS_BOUND_KIB, run.describe()
    assert run.exit_code == 0 and run.summary is not None, run.describe()
    # Never expanded: no stored field holds the laughs.
    for title, text in env.rows("SELECT COALESCE(title, ''), text FROM articles"):
        assert "lol" * 100 not in title + text
    longest = env.rows("SELECT MAX(LENGTH(text)), MAX(LENGTH(COALESCE(title, ''))) FROM articles")[0]
    assert max(longest) < 100_000, longest
    # What happened is said: the source failed with a reason, or its entries were read.
    row = env.source_row("hostile")
    if row.get("last_status") == "failed":
        assert row["last_error"] and not row["last_error"].startswith("internal error"), row
    else:
        assert len(env.articles_at(url + "/laughs/page.html")) == 1, (row, run.summary)
    assert not any(f["reason"].startswith("internal error") for f in run.failures("hostile")), run.summary
    env.assert_unharmed()
    env.server.routes["/feed.xml"] = serve(rss(item(f"{url}/laughs/page.html")).encode())
    env.assert_later_fetch_works(hostile_source("hostile", url + "/feed.xml"))


def test_external_entities_are_never_resolved(env):
    url = env.server.url
    marker = passwd_marker()
    env.server.routes["/xxe-probe"] = serve(b"PROBE-SECRET-CONTENT", "text/plain")
    doctype = ('<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
               f'<!ENTITY probe SYSTEM "{url}/xxe-probe">]>\n')
    items = (item(f"{url}/xxe/gone.html", title="Leak &xxe;", guid="xxe-1",
                  summary="<p>Here is the file: &xxe; and the probe: &probe; -- a long enough paragraph of text "
                          "for the feed's own content to be kept as the article when the page is gone.</p>")
             + item(f"{url}/xxe/page.html", title="&xxe;", guid="xxe-2", summary="&xxe;&probe;"))
    env.server.routes["/feed.xml"] = serve(rss(items, head=doctype).encode())
    # the page itself is XHTML with the same internal subset
    env.server.routes["/xxe/page.html"] = serve(
        ('<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
         f'<!ENTITY probe SYSTEM "{url}/xxe-probe">]>\n'
         '<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><title>XXE &xxe;</title></head><body>'
         "<article><h1>An ordinary title</h1>" + "<p>Ordinary text of the page, &xxe; &probe; and more words "
         "about the council budget and the harbour police cameras.</p>" * 5 + "</article></body></html>").encode(),
        "application/xhtml+xml")
    report, spent = env.fetch(hostile_source("hostile", url + "/feed.xml"))
    print(f"hostile run: {spent}")
    assert spent.bounded(), spent
    # both entries were read (the feed's own text for the first, the page for the second)
    assert [r[0] for r in env.rows("SELECT origin FROM articles WHERE url = ?", url + "/xxe/gone.html")] == ["feed"]
    assert len(env.articles_at(url + "/xxe/page.html")) == 1, report.failures
    stored = all_archived_text(env)
    assert marker not in stored, "the contents of /etc/passwd were archived"
    assert "PROBE-SECRET-CONTENT" not in stored
    assert env.server.requests_for("/xxe-probe") == [], "an external entity was fetched"
    for f in report.failures:
        assert marker not in f.reason
    env.assert_unharmed()
    env.assert_later_fetch_works(hostile_source("hostile", url + "/feed.xml"))


# -- size: gzip bomb, huge feed, deep nesting (peak RSS measured in a child process) -----------

@functools.lru_cache(maxsize=None)
def gzip_bomb(prefix: bytes, inflated: int = 1100 * 2**20) -> bytes:
    """A valid gzip body of about 1 MB that inflates to over `inflated` bytes (`prefix`, then spaces).

    One 8 MiB run of spaces is deflated once and its blocks repeated: each copy is
    self-contained and ends byte-aligned (full flush), so the stream stays valid; the
    trailer's CRC and size are those of the whole inflated body."""
    def deflated(data: bytes) -> bytes:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        return packer.compress(data) + packer.flush(zlib.Z_FULL_FLUSH)

    chunk = b" " * 2**23
    copies = (inflated - len(prefix)) // len(chunk) + 1
    crc = zlib.crc32(prefix)
    for _ in range(copies):
        crc = zlib.crc32(chunk, crc)
    size = len(prefix) + copies * len(chunk)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + deflated(prefix) + deflated(chunk) * copies
            + b"\x03\x00" + struct.pack("<II", crc, size & 0xFFFFFFFF))


def test_gzip_bomb_feed_and_page_stop_at_the_cap(env):
    url = env.server.url
    feed_bomb = gzip_bomb(b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>")
    page_bomb = gzip_bomb(b"<!DOCTYPE html><html><body><article><p>")
    assert len(feed_bomb) < 5 * 2**20 and len(page_bomb) < 5 * 2**20
    env.server.routes["/bomb.xml"] = serve(feed_bomb, "application/rss+xml", **{"Content-Encoding": "gzip"})
    env.server.routes["/bomb.html"] = serve(page_bomb, "text/html", **{"Content-Encoding": "gzip"})
    env.server.routes["/links.xml"] = serve(rss(item(f"{url}/bomb.html", title="Bomb")).encode())
    hostile = (hostile_source("bomb feed", url + "/bomb.xml")
               + hostile_source("bomb page", url + "/links.xml"))
    run = env.fetch_subprocess(hostile)
    print("gzip bomb:", run.describe())
    assert not run.killed and run.spent.bounded(), run.describe()
    assert run.maxrss_kib < RSS_BOUND_KIB, run.describe()
    assert run.exit_code == 0, run.describe()
    row = env.source_row("bomb feed")
    assert row["last_status"] == "failed" and "too large" in row["last_error"], row
    page_reasons = env.failure_reasons("bomb page")
    assert "too large" in page_reasons.get(url + "/bomb.html", ""), page_reasons
    assert env.articles_at(url + "/bomb.html") == []
    env.assert_unharmed()
    env.assert_later_fetch_works(hostile)


HUGE = 10_000
HANDFUL = 5


def test_a_10000_entry_feed_finishes_in_bounded_time(env):
    url = env.server.url
    for n in range(HANDFUL):
        env.server.pages[f"/many/{n}.html"] = article_html(f"many-{n}")
    items = "".join(item(f"{url}/many/{n % HANDFUL}.html", title=f"Entry {n}", guid=f"entry-{n}",
                         summary=f"<p>Entry {n} of a very long feed.</p>") for n in range(HUGE))
    env.server.routes["/feed.xml"] = serve(rss(items).encode())
    run = env.fetch_subprocess(hostile_source("hostile", url + "/feed.xml"))
    page_requests = sum(len(env.server.requests_for(f"/many/{n}.html")) for n in range(HANDFUL))
    archived = env.rows("SELECT COUNT(*) FROM articles WHERE source = 'hostile'")[0][0]
    seen = env.rows("SELECT COUNT(*) FROM entries WHERE source = 'hostile'")[0][0]
    outcome = env.source_row("hostile").get("last_status") or ""
    print(f"10000 entries: {run.describe()}; {page_requests} page requests, {archived} articles archived, "
          f"{seen} entries marked seen; source outcome: {outcome!r}")
    # killed or not, nothing archived before is harmed and the next normal fetch works
    env.assert_unharmed()
    env.server.routes["/feed.xml"] = serve(rss(item(f"{url}/many/0.html", guid="entry-0")).encode())
    env.assert_later_fetch_works(hostile_source("hostile", url + "/feed.xml"))
    assert not run.killed and run.spent.bounded(), (
        f"{run.describe()}; {page_requests} requests for {HANDFUL} pages, {seen} entries done")
    assert run.maxrss_kib < RSS_BOUND_KIB, run.describe()
    assert run.exit_code == 0 and run.summary is not None, run.describe()
    # Sensible: each of the handful of pages archived once, not fetched ten thousand times,
    # or a cap on entries per run reported to the user.
    said = [f["reason"] for f in run.failures("hostile")] + [outcome]
    cap_said = any("entr" in r and any(w in r for w in ("cap", "limit", "next run", "left")) for r in said)
    assert archived == HANDFUL or cap_said, run.summary
    assert page_requests <= 10 * HANDFUL or cap_said, f"{page_requests} requests for {HANDFUL} pages"


def test_a_page_of_100000_nested_tags_is_bounded(env):
    url = env.server.url
    text = "<p>" + "The deep page still says something about the harbour police cameras. " * 5 + "</p>"
    env.server.routes["/deep.html"] = serve(
        ("<!DOCTYPE html><html lang='en'><head><title>Deep</title></head><body>" + "<div>" * 100_000 + text
         + "</div>" * 100_000 + "</body></html>").encode(), "text/html; charset=utf-8")
    env.server.routes["/feed.xml"] = serve(rss(item(f"{url}/deep.html", title="Deep")).encode())
    run = env.fetch_subprocess(hostile_source("hostile", url + "/feed.xml"))
    print("deep nesting:", run.describe())
    assert not run.killed and run.spent.bounded(), run.describe()
    assert run.maxrss_kib < RSS_BOUND_KIB, run.describe()
    assert run.exit_code == 0 and run.summary is not None, run.describe()
    stored = env.articles_at(url + "/deep.html")
    reasons = env.failure_reasons("hostile")
    if stored:
        print("deep nesting: archived, text", len(stored[0][2]), "chars")
    else:
        reason = reasons.get(url + "/deep.html", "")
        print("deep nesting: not archived:", reason)
        assert reason and not reason.startswith("internal error"), reasons
    env.assert_unharmed()
    env.assert_later_fetch_works(hostile_source("hostile", url + "/feed.xml"))


# -- strange answers --------------------------------------------------------------------------


def png_bytes() -> bytes:
    rng = random.Random(7)
    return (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00"
            + rng.randbytes(60_000))


def test_binary_served_as_html_is_not_archived(env):
    url = env.server.url
    env.server.routes["/bin/random.html"] = serve(random.Random(3).randbytes(100_000), "text/html")
    env.server.routes["/bin/image.html"] = serve(png_bytes(), "text/html; charset=utf-8")
    env.server.routes["/bin/feed.xml"] = serve(png_bytes(), "text/html")
    items = (item(f"{url}/bin/random.html", title="Random") + item(f"{url}/bin/image.html", title="Image"))
    env.server.routes["/feed.xml"] = serve(rss(items).encode())
    hostile = (hostile_source("hostile", url + "/feed.xml")
               + hostile_source("binary feed", url + "/bin/feed.xml"))
    report, spent = env.fetch(hostile)
    print(f"hostile run: {spent}")
    assert spent.bounded(), spent
    reasons = env.failure_reasons("hostile")
    for path in ("/bin/random.html", "/bin/image.html"):
        assert env.articles_at(url + path) == [], f"binary {path} archived as an article"
        reason = reasons.get(url + path, "")
        assert reason.startswith("page not fetched") or reason.startswith("no article"), reasons
    row = env.source_row("binary feed")
    assert row["last_status"] == "failed" and row["last_error"], row
    assert not row["last_error"].startswith("internal error"), row
    env.assert_unharmed()
    env.assert_later_fetch_works(hostile)


class RawServer:
    """Answers every request with the same raw bytes (for answers http.server cannot send)."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.requests = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.sock.getsockname()[1]

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                self.requests += 1
                conn.sendall(self.response)
            except OSError:
                pass

    def __enter__(self) -> "RawServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join(timeout=2)
        self.sock.close()


def huge_header_response(kind: str) -> bytes:
    body = rss(item("http://example.org/x", title="x")).encode()
    if kind == "one 1 MB header":
        headers = b"X-Huge: " + b"a" * 2**20 + b"\r\n"
    else:
        headers = b"".join(b"X-Many-%d: v\r\n" % n for n in range(10_000))
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n" + headers
            + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


@pytest.mark.parametrize("kind", ["one 1 MB header", "10000 headers"])
def test_huge_response_headers_are_refused_with_a_reason(env, kind):
    with RawServer(huge_header_response(kind)) as raw:
        env.server.routes["/feed.xml"] = serve(rss(item(raw.url + "/page.html", title="Headers")).encode())
        hostile = (hostile_source("hostile", raw.url + "/feed.xml")
                   + hostile_source("hostile links", env.server.url + "/feed.xml", "robots: false"))
        report, spent = env.fetch(hostile)
        print(f"hostile run: {spent}")
        assert spent.bounded(), spent
        assert raw.requests >= 2
        row = env.source_row("hostile")
        print(kind, f"{spent}:", row["last_error"], "|", env.failure_reasons("hostile links"))
        assert row["last_status"] == "failed" and row["last_error"], row
        assert not row["last_error"].startswith("internal error"), row
        assert "header" in row["last_error"].lower(), f"unclear reason: {row['last_error']!r}"
        page_reason = env.failure_reasons("hostile links").get(raw.url + "/page.html", "")
        assert "header" in page_reason.lower(), f"unclear reason: {page_reason!r}"
        env.assert_unharmed()
        env.assert_later_fetch_works(hostile)


def test_endless_redirects_stop_at_the_limit(env, cli):
    url = env.server.url
    for n in range(60):
        env.server.routes[f"/r/{n}"] = redirect(f"/r/{n + 1}")
        env.server.routes[f"/p/{n}"] = redirect(f"{url}/p/{n + 1}")
    env.server.routes["/feed.xml"] = serve(rss(item(f"{url}/p/0", title="Redirected")).encode())
    hostile = (hostile_source("hostile", url + "/r/0")
               + hostile_source("hostile links", url + "/feed.xml"))
    report, spent = env.fetch(hostile)
    print(f"hostile run: {spent}")
    assert spent.bounded(), spent
    hops = sum(len(env.server.requests_for(f"/r/{n}")) for n in range(60))
    page_hops = sum(len(env.server.requests_for(f"/p/{n}")) for n in range(60))
    assert hops <= 6 and page_hops <= 6, (hops, page_hops)
    # visible to the user in `veille status --json`
    cli.archive, cli.config = env.folder, env.tmp / "feeds.yaml"
    cli.write_config(env.config_text(hostile))
    lines = cli.json_lines("status")
    by_source = {line["source"]: line for line in lines if "source" in line}
    assert "too many redirects" in by_source["hostile"]["last_error"], by_source["hostile"]
    recent = [f for line in lines for f in line.get("recent_failures", [])]
    assert any(f["source"] == "hostile links" and "too many redirects" in f["reason"] for f in recent), recent
    env.assert_unharmed()
    env.assert_later_fetch_works(hostile)


def test_redirects_to_other_schemes_are_refused(env):
    url = env.server.url
    marker = passwd_marker()
    targets = {"ftp": "ftp://127.0.0.1/pub/file.html", "file": "file:///etc/passwd",
               "javascript": "javascript:alert(document.cookie)"}
    for scheme, target in targets.items():
        env.server.routes[f"/go/{scheme}"] = redirect(target)
    items = "".join(item(f"{url}/go/{s}", title=f"To {s}", summary="<p>The feed's text.</p>") for s in targets)
    env.server.routes["/feed.xml"] = serve(rss(items).encode())
    hostile = (hostile_source("hostile", url + "/feed.xml")
               + hostile_source("feed to file", url + "/go/file"))
    report, spent = env.fetch(hostile)
    print(f"hostile run: {spent}")
    assert spent.bounded(), spent
    reasons = report_reasons(report, "hostile")
    for scheme in targets:
        assert sum(f"scheme {scheme}" in r for r in reasons) == 1, (scheme, reasons)
    row = env.source_row("feed to file")
    assert row["last_status"] == "failed" and "scheme file" in row["last_error"], row
    assert marker not in all_archived_text(env)
    env.assert_unharmed()
    env.assert_later_fetch_works(hostile)


def test_strange_entry_links_are_each_refused_with_a_reason(env):
    url = env.server.url
    env.server.pages["/story/relative.html"] = article_html("relative")
    links = {
        "js": "javascript:alert(1)",
        "data": "data:text/html,&lt;p&gt;hello&lt;/p&gt;",
        "file": "file:///etc/passwd",
        "empty": "",
        "ipv6": "http://[::1",
        "space": "http://a b/",
    }
    items = "".join(item(link, title=f"Link {key}", guid=f"link-{key}") for key, link in links.items())
    items += item("/story/relative.html", title="Relative", guid="link-relative")
    env.server.routes["/feed.xml"] = serve(rss(items).encode())
    report, spent = env.fetch(hostile_source("hostile", url + "/feed.xml"))
    print(f"hostile run: {spent}")
    assert spent.bounded(), spent
    failures = {f.url: f.reason for f in report.failures if f.source == "hostile"}
    print("strange links:", failures, report.sources.get("hostile"))
    row = env.source_row("hostile")
    assert row["last_status"] != "failed", f"one bad link failed the whole feed: {row['last_error']}"
    assert len(env.articles_at(url + "/story/relative.html")) == 1, failures  # relative links resolve
    assert len(failures) == len(links), failures  # one reason per bad link

    def reason_for(key: str) -> str:
        prefix = {"js": "javascript:", "data": "data:", "file": "file:", "space": "http://a"}.get(key)
        found = [r for u, r in failures.items()
                 if u in (links[key], f"link-{key}") or (prefix and u.startswith(prefix))]
        assert len(found) == 1, (key, failures)
        return found[0]

    for key, scheme in (("js", "javascript"), ("data", "data"), ("file", "file")):
        assert f"scheme {scheme} not allowed" in reason_for(key), failures
    assert "no link" in reason_for("empty")
    assert any(word in reason_for("ipv6") for word in ("malformed", "no link")), failures
    # a host with a space is not a transient failure to try again on every run: it is refused
    space = reason_for("space")
    assert "tried again" not in space and space.startswith("link not followed"), space
    assert not any(r.startswith("internal error") for r in failures.values()), failures
    assert passwd_marker() not in all_archived_text(env)
    env.assert_unharmed()
    env.assert_later_fetch_works(hostile_source("hostile", url + "/feed.xml"))
