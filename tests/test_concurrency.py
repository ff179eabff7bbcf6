"""Concurrent use of one archive: readers while `veille run` writes, a second writer, a read-only
archive, a full disk.

`veille run` polls two feeds (interval 1s) that grow after every round of
readers, with slow pages, while other processes run `veille search`,
`veille export` and `veille status` round after round: every call must exit
0 with output that parses, counts must never go down, and exported rows must
be internally consistent. A `veille fetch` started meanwhile must be refused
(status 2, naming the run's pid) while the run still holds the archive, not
wait for it to end, and work again once the run is stopped with SIGTERM. A
read-only archive and a full disk must each give one clear line and leave
the archive as it was. Last, two writer passes in the same second (a frozen
clock, in-process) must both reach the search index.

About 75 s on 2 idle cores, 4 to 9 minutes on a loaded machine (load 8 to 12),
where it passes all the same. `pytest -s` prints what the readers saw and
the one-line messages of the refused writer, the read-only archive and the
full disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from test_crash_loops import (WORD, archive_problems, assert_index_matches, command, count_articles, one_line,
                              page_html, serve_site, page_urls, veille)
from veille.dev.devserver import FixtureServer, Reply
from veille.storage.sqlite.store import text_hash

# Waits are for events (an article stored, a process exiting, a log line), each with a deadline far
# beyond what they take even on 2 busy cores: a hang still fails, a slow machine does not.
DEADLINE = 240.0

PER_SOURCE = 32
ROUNDS = 8  # of search + export + status, run at once; the second writer joins round SECOND
# Entries a feed adds after each round of readers: the run has new pages to write during every round,
# however fast or slow the machine (a feed growing on its own clock was all written in 2 slow rounds)
STEP = PER_SOURCE // ROUNDS
SECOND = 2
SOURCES = {"north": 0, "south": 100}  # name -> offset of its pages' texts


def growing_site(server: FixtureServer, released: dict[str, int]) -> str:
    """Two feeds that show released["n"] entries (the test raises it), up to PER_SOURCE; slow pages."""
    for name, offset in SOURCES.items():

        def feed(handler, name=name):
            shown = min(PER_SOURCE, released["n"])
            items = "".join(f"<item><title>{name} {n}</title><link>{server.url}/{name}/{n}.html</link>"
                            f"<guid>{name}-{n}</guid></item>" for n in range(shown))
            body = f"<rss version='2.0'><channel><title>{name}</title>{items}</channel></rss>".encode()
            return Reply(200, body, {"Content-Type": "application/rss+xml"})

        def article(handler, offset=offset):
            n = int(handler.path.rsplit("/", 1)[1].split(".")[0])
            time.sleep(0.02 + (n % 4) * 0.01)
            return Reply(200, page_html(offset + n).encode(), {"Content-Type": "text/html; charset=utf-8"})

        server.routes[f"/{name}.xml"] = feed
        for n in range(PER_SOURCE):
            server.routes[f"/{name}/{n}.html"] = article
    return "settings:\n  host_delay: 0\nnlp:\n  batch_size: 4\nsources:\n" + "".join(
        f"  - name: {name}\n    url: {server.url}/{name}.xml\n    interval: 1s\n" for name in SOURCES)


def growing_urls(server: FixtureServer) -> set[str]:
    return {f"{server.url}/{name}/{n}.html" for name in SOURCES for n in range(PER_SOURCE)}


def clean(done: subprocess.CompletedProcess, what: str) -> None:
    assert done.returncode == 0, f"{what}: exit {done.returncode}: {done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, f"{what}: {done.stderr[-2000:]}"


def test_readers_while_run_writes_then_a_second_writer_is_refused(tmp_path):
    archive, config, log = tmp_path / "archive", tmp_path / "feeds.yaml", tmp_path / "run.txt"
    released = {"n": STEP}
    with FixtureServer() as server:
        config.write_text(growing_site(server, released), encoding="utf-8")
        urls = growing_urls(server)
        with log.open("w") as errors:
            run = subprocess.Popen(command(archive, config, "run"), stderr=errors)
        stopped = False
        try:
            deadline = time.monotonic() + DEADLINE
            while count_articles(archive) == 0 and time.monotonic() < deadline:
                assert run.poll() is None, log.read_text()
                time.sleep(0.05)
            assert count_articles(archive) > 0, log.read_text()

            began_rounds = time.monotonic()
            last = {"search": 0, "export": 0, "status": 0}
            totals = []
            for number in range(ROUNDS):
                out = tmp_path / f"export-{number}.jsonl"
                if number == SECOND:  # a second writer while `veille run` writes: refused, naming the run
                    began = time.monotonic()
                    second = subprocess.Popen(command(archive, config, "fetch", "--quiet"), stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True)
                    answered: dict[str, object] = {}

                    def answer() -> None:  # when the second writer exits, and whether the run still ran then
                        output = second.communicate(timeout=DEADLINE)
                        answered.update(zip(("stdout", "stderr"), output), at=time.monotonic(),
                                        run_alive=run.poll() is None)

                    watcher = threading.Thread(target=answer, daemon=True)
                    watcher.start()
                calls = {
                    "search": subprocess.Popen(command(archive, config, "search", WORD, "--json", "--all-versions",
                                                       "--limit", "1000"),
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                    "export": subprocess.Popen(command(archive, config, "export", "--out", str(out), "--quiet"),
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                    "status": subprocess.Popen(command(archive, config, "status", "--json"),
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                }
                done = {}
                for name, process in calls.items():
                    stdout, stderr = process.communicate(timeout=DEADLINE)
                    done[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
                for name, result in done.items():
                    clean(result, f"round {number}: {name}")
                if number == SECOND:
                    watcher.join(timeout=DEADLINE)
                    # The event, not its speed: the second writer ends (after its 5 s wait for the lock)
                    # while the run still holds the archive. A writer that waited for the run to finish
                    # would never end, since the run only stops when told: the deadline catches that.
                    assert "at" in answered, f"the second writer was not refused within {DEADLINE:.0f}s"
                    waited = answered["at"] - began
                    assert answered["run_alive"], "the second writer ended only once the run had ended"
                    assert second.returncode == 2, (second.returncode, answered["stderr"])
                    line = one_line(answered["stderr"])
                    assert f"pid {run.pid}" in line and "veille run" in line and "kill" in line, line

                hits = [json.loads(line) for line in done["search"].stdout.splitlines() if line.strip()]
                ids = [hit["id"] for hit in hits]
                assert len(ids) == len(set(ids)), f"round {number}: an article found twice"
                rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
                exported = [row["id"] for row in rows]
                assert len(exported) == len(set(exported)), f"round {number}: an article exported twice"
                for row in rows:
                    assert row["text"] and row["content_hash"] == text_hash(row["text"]), row["id"]
                    assert row["word_count"] == len(row["text"].split())
                    assert row["url"] in urls and row["original_id"], row["id"]
                    for entity in row["entities"]:
                        assert row["text"][entity["start"]:entity["end"]] == entity["text"], (row["id"], entity)
                status = [json.loads(line) for line in done["status"].stdout.splitlines() if line.strip()]
                total = status[-1]["total"]
                assert sum(record["articles"] for record in status[:-1]) <= total

                now = {"search": len(ids), "export": len(rows), "status": total}
                for name, value in now.items():
                    assert value >= last[name], f"round {number}: {name} went down from {last[name]} to {value}"
                last = now
                totals.append(total)
                assert run.poll() is None, log.read_text()[-3000:]
                released["n"] += STEP  # more for the run to write during the next round
            assert len(set(totals)) >= 3, f"the readers did not overlap the writing: totals {totals}"
            print(f"\nreaders: {len(totals)} rounds of search/export/status while `veille run` wrote "
                  f"(archive totals seen: {totals}) in {time.monotonic() - began_rounds:.1f}s")

            # let the run finish the feeds and make one more pass (with its index sync), then stop it
            released["n"] = PER_SOURCE
            deadline = time.monotonic() + DEADLINE
            while count_articles(archive) < len(urls) and time.monotonic() < deadline:
                assert run.poll() is None, log.read_text()[-3000:]
                time.sleep(0.2)
            passes = log.read_text().count("pass done")
            while log.read_text().count("pass done") <= passes and time.monotonic() < deadline:
                time.sleep(0.1)
            print(f"second writer refused in {waited:.1f}s: {line}\nall stored {time.monotonic() - began_rounds:.1f}s "
                  "after the first round began")
            run.send_signal(signal.SIGTERM)
            assert run.wait(timeout=DEADLINE) == 0, log.read_text()[-3000:]
            stopped = True
        finally:
            if not stopped and run.poll() is None:
                run.send_signal(signal.SIGTERM)
                try:
                    run.wait(timeout=DEADLINE)
                except subprocess.TimeoutExpired:
                    run.kill()
                    run.wait()
        text = log.read_text()
        assert "Traceback" not in text and "veille run stopped" in text, text[-3000:]

        # the archive is free again: `veille fetch` works
        again = veille(archive, config, "fetch", "--json")
        clean(again, "fetch after the run")
        assert json.loads(again.stdout)["new"] == 0
    problems = archive_problems(archive, urls)
    assert not problems, "\n".join(problems[:30])
    assert_index_matches(archive, config)


# -- a read-only archive ---------------------------------------------------------------------------

def _snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {str(p.relative_to(folder)): (p.stat().st_mode, p.stat().st_mtime_ns,
                                         hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "")
            for p in sorted(folder.rglob("*"))}


def test_a_read_only_archive_gives_one_clear_line_and_nothing_changes(tmp_path):
    archive, config = tmp_path / "archive", tmp_path / "feeds.yaml"
    with FixtureServer() as server:
        config.write_text(serve_site(server, pages=6, delay=(0, 0)), encoding="utf-8")
        first = veille(archive, config, "fetch", "--quiet")
        assert first.returncode == 0, first.stderr
        # one more entry in the feed: the fetch below would have something to write
        server.pages["/feed.xml"] = server.pages["/feed.xml"].replace(
            b"</channel>", f"<item><title>x</title><link>{server.url}/news/0.html?again</link></item></channel>".encode())
        for path in [*archive.rglob("*"), archive]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        # root ignores permissions: as root, the files and folders are also made immutable (chattr +i),
        # which binds root too; where that is not possible, the test is skipped.
        root = os.geteuid() == 0
        try:
            if root:
                chattr = shutil.which("chattr")
                made = chattr and subprocess.run([chattr, "-R", "+i", str(archive)], capture_output=True)
                if not made or made.returncode != 0:
                    pytest.skip("running as root, which ignores file permissions, and chattr +i is not available")
            before = _snapshot(archive)
            done = veille(archive, config, "fetch", "--quiet")
            after = _snapshot(archive)
        finally:
            if root and shutil.which("chattr"):
                subprocess.run([shutil.which("chattr"), "-R", "-i", str(archive)], capture_output=True)
            for path in [archive, *archive.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
    assert after == before, "the read-only archive was changed"
    assert done.returncode not in (0, 70), (done.returncode, done.stderr)
    line = one_line(done.stderr)
    assert any(word in line.lower() for word in ("read-only", "permission", "not permitted", "writable")), line
    print(f"\nread-only archive{' (root: chattr +i)' if root else ''}: exit {done.returncode}: {line}")


# -- a full disk -------------------------------------------------------------------------------------

FULL_DISK = '''
import os, sqlite3, sys
from veille.storage.sqlite import store

AFTER = int(os.environ["VEILLE_TEST_FULL_AFTER"])
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class FullDisk:
    """The archive's connection, on a disk that fills up when the article number AFTER + 1 is written:
    from then on every write fails as SQLite fails on a full disk (the transaction is rolled back)."""

    def __init__(self, db):
        object.__setattr__(self, "_db", db)
        object.__setattr__(self, "_articles", 0)
        object.__setattr__(self, "_full", False)

    def __getattr__(self, name):
        return getattr(self._db, name)

    def __setattr__(self, name, value):
        setattr(self._db, name, value)

    def _check(self, sql):
        words = sql.lstrip().upper()
        if words.startswith("INSERT INTO ARTICLES"):
            if self._articles >= AFTER:
                object.__setattr__(self, "_full", True)
            object.__setattr__(self, "_articles", self._articles + 1)
        if self._full and words.startswith(WRITES):
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql, *args):
        self._check(sql)
        return self._db.execute(sql, *args)

    def executemany(self, sql, *args):
        self._check(sql)
        return self._db.executemany(sql, *args)

    def executescript(self, sql):
        self._check(sql)
        return self._db.executescript(sql)


opened = store.Archive.__init__


def __init__(self, folder):
    opened(self, folder)
    self.db = FullDisk(self.db)


store.Archive.__init__ = __init__

from veille.app.cli.main import main

main(prog_name="veille")
'''


def test_a_full_disk_gives_one_line_and_keeps_the_archive_whole(tmp_path):
    archive, config, script = tmp_path / "archive", tmp_path / "feeds.yaml", tmp_path / "full_disk.py"
    script.write_text(FULL_DISK, encoding="utf-8")
    with FixtureServer() as server:
        config.write_text(serve_site(server, pages=12, delay=(0, 0)), encoding="utf-8")
        urls = page_urls(server, 12)
        full = subprocess.run([sys.executable, str(script), "--archive", str(archive), "--config", str(config),
                               "fetch", "--quiet"], capture_output=True, text=True, timeout=DEADLINE,
                              env=dict(os.environ, VEILLE_TEST_FULL_AFTER="5"))
        kept = count_articles(archive)
        problems = archive_problems(archive)  # what was stored is whole: in stories, fingerprinted, indexable
        # space freed: the next fetch stores the rest
        freed = veille(archive, config, "fetch", "--json")
    assert "Traceback" not in full.stderr, full.stderr
    assert kept == 5, f"{kept} articles kept; the first 5 were written before the disk filled up"
    assert not problems, "\n".join(problems)
    assert full.returncode != 0, f"a fetch on a full disk exited 0: {full.stdout} {full.stderr}"
    line = one_line(full.stderr)
    assert "full" in line or "space" in line, line
    print(f"\nfull disk: exit {full.returncode}: {line}")
    clean(freed, "fetch after space was freed")
    assert json.loads(freed.stdout)["new"] == 7
    problems = archive_problems(archive, urls)
    assert not problems, "\n".join(problems)
    assert_index_matches(archive, config)


# -- writers one after the other, within one second ---------------------------------------------------

def test_articles_stored_in_the_same_second_as_the_last_index_sync_are_indexed(tmp_path):
    """Two passes in one second (`veille run` with two sources due one after the other, or two quick
    `veille fetch`): the second pass's articles must reach the index, whatever their ids."""
    from datetime import datetime, timezone

    from veille.config.settings import parse_config
    from veille.search.whoosh.index import SearchIndex
    from veille.pipeline import fetch_sources
    from veille.storage.sqlite.store import Archive
    from veille.text.urls import article_id_for_url

    moment = datetime(2026, 11, 23, 18, 0, 0, tzinfo=timezone.utc)  # both passes in this second
    with FixtureServer() as server:
        serve_site(server, pages=10, delay=(0, 0))
        items = server.pages["/feed.xml"].split(b"<item>")[1:]
        # source a gets the five articles with the greatest ids, b the others: each of b's ids sorts before
        # the index cursor a's pass leaves ("<second> <greatest id>")
        items.sort(key=lambda item: article_id_for_url(item.split(b"<link>")[1].split(b"</link>")[0].decode()),
                   reverse=True)
        for name, part in (("a", items[:5]), ("b", items[5:])):
            server.pages[f"/{name}.xml"] = (f"<rss version='2.0'><channel><title>{name}</title>".encode()
                                            + b"".join(b"<item>" + item.split(b"</channel>")[0] for item in part)
                                            + b"</channel></rss>")
        config = parse_config("settings:\n  host_delay: 0\nnlp:\n  models: {}\nsources:\n"
                              f"  - name: a\n    url: {server.url}/a.xml\n  - name: b\n    url: {server.url}/b.xml\n",
                              tmp_path / "feeds.yaml")
        with Archive(tmp_path / "archive") as archive:
            first = fetch_sources(config, archive, names=["a"], clock=lambda: moment)
            second = fetch_sources(config, archive, names=["b"], clock=lambda: moment)
            assert first.counts["new"] == 5 and second.counts["new"] == 5
            index = SearchIndex(archive.folder)
            try:
                indexed = index.doc_count()
                cursor = index.cursor
            finally:
                index.close()
            assert indexed == archive.count_articles() == 10, (
                f"{archive.count_articles() - indexed} of the articles stored in the second of the last sync are "
                f"not in the index (cursor {cursor!r}), and no later sync will add them")
