"""Crash safety, the hard way: `veille fetch` and `veille run` killed with SIGKILL again and again.

A local site serves a feed of 60 article pages, each answered a little slowly
(so that kills land in the middle of a pass), four of them exact copies of
others (so that stories with several members exist). A seeded RNG picks, for
each round, when to kill: during start-up, after a few more articles are
stored (plus a few milliseconds: mid-tagging, mid-story, mid-index), or
later, once everything is stored (during the index sync, the idle scheduler).
After each kill the archive must be whole (integrity, nothing lost, nothing
twice, no row pointing at a missing article); after a final clean run, every
page is archived exactly once, in exactly one story, with a search index that
matches the archive.

Kill points exercised: 12 rounds of `veille fetch` and 11 of `veille run` (23 SIGKILLs
on the seeded RNG, each delivered to a live process; a round whose process ended by
itself before its kill does not count, and each test asserts a minimum; every round
runs, however slow the machine: no time budget), plus 4 kills
at chosen moments (the process SIGKILLs itself on entering `link_story`,
`Archive.write_story`, `Archive.mark_entry`, `SearchIndex.save_cursor`): 27 in all.
Measured on 2 cores: the file runs in about 110 s idle, 3 to 15 minutes on a loaded
machine (load 5 to 12), where it passes all the same. `pytest -s` prints one
summary line per loop: kill points survived, articles lost, duplicates.

The index's own damage is tested last: a deleted index folder is rebuilt (by
a reader or the next writer) with a message; a garbage TOC file makes a
reader fail with one line while a writer holds the archive, and the next
`veille fetch` rebuilds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from veille.dev.devserver import FixtureServer, Reply
from veille.storage.sqlite.store import text_hash

import archive_sql

PAGES = 60
COPIES = {56: 0, 57: 1, 58: 2, 59: 3}  # page -> the page whose text it repeats word for word
WORD = "harbour"  # in every page
SEED = 20261123
ROUNDS = {"fetch": 12, "run": 11}  # kill rounds per test, all of them whatever the machine's speed
# Waits are for events (articles stored, a process exiting, a log line), each with a deadline far beyond
# what it takes on 2 busy cores: a hang still fails, a slow machine does not.
DEADLINE = 240.0

SUBJECTS = ["The city council", "A regional court", "The interior ministry", "Local police", "The transport authority",
            "A parliamentary committee", "The data protection authority", "Port officials", "The mayor's office",
            "A group of residents"]
ACTIONS = ["approved a contract for", "suspended the trial of", "published an audit of", "questioned the cost of",
           "extended the use of", "asked for a report on", "voted against", "quietly renewed"]
THINGS = ["facial recognition cameras", "automatic number plate readers", "drones over the docks",
          "a predictive policing tool", "biometric gates at the ferry terminal", "smart streetlights with microphones",
          "a data sharing agreement", "body-worn cameras"]
VENDORS = ["Palantir", "Clearview AI", "NSO Group", "Idemia", "Hikvision", "Axon"]
PLACES = ["Marseille", "Rotterdam", "Hamburg", "Genoa", "Antwerp", "Valencia"]
DETAILS = ["Residents were not told what happens to the data.", "The contract runs for three years.",
           "Campaigners called the decision premature.", "No impact assessment was published.",
           "The vendor declined to comment.", "A court challenge is expected in the spring.",
           "Journalists obtained the documents through a freedom of information request.",
           "The system was tested for six months before the vote."]


def page_html(n: int) -> str:
    """Article n: its own words (from a per-page RNG), always with WORD, a vendor and a place."""
    rng = random.Random(COPIES.get(n, n))
    number = COPIES.get(n, n)
    paragraphs = []
    for _ in range(5):
        sentences = [f"{rng.choice(SUBJECTS)} in the {WORD} district of {rng.choice(PLACES)} {rng.choice(ACTIONS)} "
                     f"{rng.choice(THINGS)} supplied by {rng.choice(VENDORS)}, case {number}-{rng.randint(100, 999)}."]
        sentences += rng.sample(DETAILS, 2)
        paragraphs.append("<p>" + " ".join(sentences) + "</p>")
    title = f"{rng.choice(SUBJECTS)} and the {rng.choice(THINGS)}, report {number}"
    return (f"<html lang='en'><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            + "".join(paragraphs) + "</article></body></html>")


def serve_site(server: FixtureServer, pages: int = PAGES, delay: tuple[float, float] = (0.02, 0.05),
               interval: str | None = None, batch: int = 4) -> str:
    """A feed of `pages` articles, each page answered after a delay; returns the config text."""
    items = "".join(f"<item><title>Report {n}</title><link>{server.url}/news/{n}.html</link><guid>n{n}</guid></item>"
                    for n in range(pages))
    server.pages["/feed.xml"] = f"<rss version='2.0'><channel><title>port</title>{items}</channel></rss>".encode()
    slow = random.Random(SEED)
    waits = {n: slow.uniform(*delay) for n in range(pages)}

    def article(handler):
        n = int(handler.path.rsplit("/", 1)[1].split(".")[0])
        time.sleep(waits[n])
        return Reply(200, page_html(n).encode(), {"Content-Type": "text/html; charset=utf-8"})

    for n in range(pages):
        server.routes[f"/news/{n}.html"] = article
    every = f"    interval: {interval}\n" if interval else ""
    # A small tagging batch: articles are stored a few at a time, so kills fall between and inside stores.
    # No spaCy model (a blank pipeline and the gazetteer tag): each start-up is a second shorter, which
    # buys more kill points in the time; what is crash-safe does not depend on the model.
    return (f"settings:\n  host_delay: 0\nnlp:\n  models: {{}}\n  batch_size: {batch}\n"
            f"sources:\n  - name: port\n    url: {server.url}/feed.xml\n{every}")


def page_urls(server: FixtureServer, pages: int = PAGES) -> set[str]:
    return {f"{server.url}/news/{n}.html" for n in range(pages)}


# -- running veille -------------------------------------------------------------------------

def command(archive: Path, config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "veille", "--archive", str(archive), "--config", str(config), *args]


def veille(archive: Path, config: Path, *args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess:
    return subprocess.run(command(archive, config, *args), capture_output=True, text=True, timeout=timeout)


def count_articles(archive: Path) -> int:
    try:
        return archive_sql.count_articles(archive, readonly=True, timeout=10)
    except archive_sql.Error:  # not created yet, or not migrated yet
        return 0


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert lines[0].startswith("veille: "), stderr
    return lines[0]


# -- what a whole archive looks like ----------------------------------------------------------

def archive_problems(archive: Path, urls: set[str] | None = None, *, final: bool = True) -> list[str]:
    """Everything wrong with the archive database. `final`: also what only a finished run guarantees
    (every article fingerprinted and in a story, every page's entry recorded)."""
    problems: list[str] = []
    with archive_sql.reader(archive, timeout=10) as rows:
        if (check := rows("PRAGMA integrity_check")[0][0]) != "ok":
            problems.append(f"integrity_check: {check}")
        if rows("PRAGMA foreign_key_check"):
            problems.append("foreign_key_check failed")
        articles = {r["id"]: r for r in rows("SELECT id, url, source, title, lang, text, text_hash, fetched FROM articles")}
        by_url: dict[str, list[str]] = {}
        for a in articles.values():
            by_url.setdefault(a["url"], []).append(a["id"])
            if not (a["text"] or "").strip():
                problems.append(f"article {a['id']} has no text")
            elif a["text_hash"] != text_hash(a["text"]):
                problems.append(f"article {a['id']}: text_hash does not match its text")
            if not a["lang"] or not a["fetched"] or not a["source"]:
                problems.append(f"article {a['id']}: empty lang/fetched/source")
            if WORD not in a["text"]:
                problems.append(f"article {a['id']}: text lacks {WORD!r} (truncated?)")
        problems += [f"url archived {len(ids)} times: {url}" for url, ids in by_url.items() if len(ids) > 1]
        if urls is not None:
            problems += [f"not a page of the site: {url}" for url in sorted(set(by_url) - urls)]
            if final:
                problems += [f"lost: {url}" for url in sorted(urls - set(by_url))]
        if rows("SELECT 1 FROM revisions LIMIT 1"):
            problems.append("revisions exist: an unchanged page was stored again with another text")

        seen_entries: dict[str, int] = {}
        for e in rows("SELECT source, key, url, article_id FROM entries"):
            seen_entries[e["url"]] = seen_entries.get(e["url"], 0) + 1
            if e["article_id"] not in articles:
                problems.append(f"entry {e['key']} points at a missing article {e['article_id']}")
            elif articles[e["article_id"]]["url"] != e["url"]:
                problems.append(f"entry {e['key']} points at the article of another url")
        problems += [f"entry recorded {n} times: {url}" for url, n in seen_entries.items() if n > 1]
        if final and urls is not None:
            problems += [f"no entry recorded for {url}" for url in sorted(urls - set(seen_entries))]

        for table in ("entities", "tags", "fingerprints", "lsh", "anchors", "alternate_links"):
            orphans = rows(f"SELECT COUNT(*) FROM {table} WHERE article_id NOT IN (SELECT id FROM articles)")[0][0]
            if orphans:
                problems.append(f"{table}: {orphans} rows point at missing articles")
        for e in rows("SELECT e.article_id, e.start_char, e.end_char, e.text, a.text AS body "
                      "FROM entities e JOIN articles a ON a.id = e.article_id"):
            if e["body"][e["start_char"]:e["end_char"]] != e["text"]:
                problems.append(f"entity {e['text']!r} of {e['article_id']}: offsets do not match the text")
                break

        members = {m["article_id"]: m for m in rows("SELECT article_id, story_id, relation FROM story_members")}
        stories = {s["id"]: s["original_id"] for s in rows("SELECT id, original_id FROM stories")}
        problems += [f"story member {a} is not an article" for a in members if a not in articles]
        problems += [f"member {a} of a missing story {m['story_id']}" for a, m in members.items()
                     if m["story_id"] not in stories]
        by_story: dict[str, list] = {}
        for m in members.values():
            by_story.setdefault(m["story_id"], []).append(m)
        for story, original in stories.items():
            inside = by_story.get(story, [])
            if not inside:
                problems.append(f"story {story} has no members")
            elif original not in {m["article_id"] for m in inside}:
                problems.append(f"story {story}: its original {original} is not one of its members")
            elif members[original]["relation"] != "original":
                problems.append(f"story {story}: its original is a {members[original]['relation']}")
        if final:
            fingerprinted = {r[0] for r in rows("SELECT article_id FROM fingerprints")}
            problems += [f"article {a} ({articles[a]['url']}) belongs to no story" for a in articles if a not in members]
            problems += [f"article {a} has no fingerprint" for a in articles if a not in fingerprinted]
    return problems


def archive_ids(archive: Path) -> set[str]:
    return archive_sql.article_ids(archive)


def indexed_ids(archive: Path) -> list[str]:
    """The ids in the search index as last committed, read directly (no catch-up by a reader)."""
    import veille.search.whoosh.index  # noqa: F401 - the schema's analyzer class, for unpickling the index
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(str(archive / "index"), readonly=True)
    with ix.searcher() as searcher:
        return [fields["id"] for fields in searcher.all_stored_fields()]


def search_ids(archive: Path, config: Path, query: str = WORD) -> list[str]:
    done = veille(archive, config, "search", query, "--json", "--all-versions", "--limit", "1000")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return [json.loads(line)["id"] for line in done.stdout.splitlines() if line.strip()]


def assert_index_matches(archive: Path, config: Path) -> None:
    stored = archive_ids(archive)
    indexed = indexed_ids(archive)  # before any reader brings it up to date: what the writer left
    assert len(indexed) == len(set(indexed)), "an article is in the index twice"
    if set(indexed) != stored:
        cursor = json.loads((archive / "index" / "cursor.json").read_text())["cursor"]
        marks = archive_sql.change_marks(archive)
        missing = sorted(m for m in marks if m.split(" ")[1] not in set(indexed))
        raise AssertionError(
            f"index and archive differ: {len(stored - set(indexed))} stored articles not indexed, "
            f"{len(set(indexed) - stored)} indexed ids not stored; index cursor {cursor!r}; "
            f"change marks of the missing: {missing[:8]}; marks > cursor: {sum(m > cursor for m in marks)}")
    found = search_ids(archive, config)  # a reader: catches up first if no writer is at work
    assert len(found) == len(set(found)) and set(found) == stored


# -- the kill loop ------------------------------------------------------------------------------

class Killer:
    """Starts a veille command again and again and kills it with SIGKILL at a moment the RNG picks."""

    def __init__(self, archive: Path, config: Path, args: list[str], urls: set[str], rng: random.Random,
                 log: Path) -> None:
        self.archive, self.config, self.args, self.urls, self.rng, self.log = archive, config, args, urls, rng, log
        self.kills = 0
        self.ended_alone = 0
        self.high_water = 0  # articles ever seen: the count must never go below it
        self.moments: list[str] = []

    def round(self) -> None:
        before = count_articles(self.archive)
        choice = self.rng.random()
        with self.log.open("a") as errors:
            process = subprocess.Popen(command(self.archive, self.config, *self.args), stdout=subprocess.DEVNULL,
                                       stderr=errors)
        try:
            if before < len(self.urls) and choice < 0.65:  # after 1-4 more articles, plus 0-60 ms
                wanted = before + self.rng.randint(1, 4)
                extra = self.rng.uniform(0, 0.06)
                # not a limit that fails the test: on a slow machine the kill only lands earlier
                deadline = time.monotonic() + 40
                while process.poll() is None and time.monotonic() < deadline and count_articles(self.archive) < wanted:
                    time.sleep(0.01)
                time.sleep(extra)
                moment = f"after +{wanted - before} articles +{extra * 1000:.0f}ms"
            else:  # anywhere: start-up, migration, lock, feed, pages, index sync, idle scheduler
                delay = self.rng.uniform(0.1, 3.0)
                deadline = time.monotonic() + delay
                while process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                moment = f"at {delay:.2f}s"
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                assert process.wait(timeout=DEADLINE) == -signal.SIGKILL
                self.kills += 1
                self.moments.append(moment)
            else:
                self.ended_alone += 1
                assert process.returncode == 0, self.log.read_text()[-3000:]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        after = count_articles(self.archive)
        assert after >= self.high_water, f"articles lost: {self.high_water} before the kill, {after} after"
        self.high_water = after
        if (self.archive / "veille.db").exists():
            problems = archive_problems(self.archive, self.urls, final=False)
            assert not problems, f"after kill {self.kills} ({moment}):\n" + "\n".join(problems[:20])

    def summary(self, name: str) -> str:
        stored = archive_ids(self.archive)
        lost = len(self.urls) - len(stored)
        duplicates = archive_sql.duplicate_urls(self.archive)
        return (f"{name}: {self.kills} kill points survived ({self.ended_alone} rounds ended before their kill), "
                f"articles lost: {max(lost, 0)}, duplicates: {duplicates}")


def test_fetch_killed_again_and_again_loses_nothing_and_stores_nothing_twice(tmp_path):
    rng = random.Random(SEED)
    archive, config, log = tmp_path / "archive", tmp_path / "feeds.yaml", tmp_path / "stderr.txt"
    with FixtureServer() as server:
        config.write_text(serve_site(server), encoding="utf-8")
        urls = page_urls(server)
        killer = Killer(archive, config, ["fetch", "--quiet"], urls, rng, log)
        for _ in range(ROUNDS["fetch"]):
            killer.round()
        assert killer.kills >= 9, (killer.kills, killer.moments)

        finished = veille(archive, config, "fetch", "--json")
        assert finished.returncode == 0, finished.stderr
        assert "Traceback" not in finished.stderr, finished.stderr
    print(f"\n{killer.summary('veille fetch')}; kill moments: {', '.join(killer.moments)}")
    problems = archive_problems(archive, urls)
    assert not problems, "\n".join(problems[:30])
    assert count_articles(archive) == PAGES
    assert_index_matches(archive, config)


def test_run_killed_again_and_again_then_stopped_cleanly_keeps_the_archive_whole(tmp_path):
    rng = random.Random(SEED + 1)
    archive, config, log = tmp_path / "archive", tmp_path / "feeds.yaml", tmp_path / "stderr.txt"
    with FixtureServer() as server:
        config.write_text(serve_site(server, interval="2s"), encoding="utf-8")
        urls = page_urls(server)
        killer = Killer(archive, config, ["run"], urls, rng, log)
        for _ in range(ROUNDS["run"]):
            killer.round()
        assert killer.kills >= 8, (killer.kills, killer.moments)
        assert killer.ended_alone == 0, "veille run stopped by itself"

        # a last clean run: until everything is stored and one more pass (with its index sync) is done
        final_log = tmp_path / "final.txt"
        with final_log.open("w") as errors:
            process = subprocess.Popen(command(archive, config, "run"), stderr=errors)
        try:
            deadline = time.monotonic() + DEADLINE
            while count_articles(archive) < PAGES and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.1)
            passes = final_log.read_text().count("pass done")
            while final_log.read_text().count("pass done") <= passes and time.monotonic() < deadline \
                    and process.poll() is None:
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=DEADLINE)
        text = final_log.read_text()
        assert code == 0, text[-3000:]
        assert "Traceback" not in text and "veille run stopped" in text, text[-3000:]
    print(f"\n{killer.summary('veille run')}; kill moments: {', '.join(killer.moments)}")
    problems = archive_problems(archive, urls)
    assert not problems, "\n".join(problems[:30])
    assert count_articles(archive) == PAGES
    assert_index_matches(archive, config)


# -- kills at chosen moments ---------------------------------------------------------------------------

KILL_AT = """
import importlib, os, signal
module, _, name = os.environ["VEILLE_TEST_KILL_AT"].partition(":")
owner = importlib.import_module(module)
*path, name = name.split(".")
for part in path:
    owner = getattr(owner, part)
real, calls = getattr(owner, name), [0]


def kill_here(*args, **kwargs):
    calls[0] += 1
    if calls[0] >= int(os.environ["VEILLE_TEST_KILL_ON_CALL"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)


setattr(owner, name, kill_here)
from veille.app.cli.main import main

main(prog_name="veille")
"""

# (where, on which call): the process SIGKILLs itself as it enters that function
MOMENTS = [
    ("veille.pipeline.stories:link_story", 3),  # the article is committed; its fingerprint and story are not
    ("veille.storage.sqlite.store:Archive.write_story", 2),  # its fingerprint is committed; its story is not
    ("veille.storage.sqlite.store:Archive.mark_entry", 2),  # article and story committed; the feed entry not marked
    ("veille.search.whoosh.index:SearchIndex.save_cursor", 1),  # the index committed; its cursor not moved
]


def test_kills_at_the_riskiest_moments_leave_nothing_half_done_after_the_next_run(tmp_path):
    archive, config, script = tmp_path / "archive", tmp_path / "feeds.yaml", tmp_path / "kill_at.py"
    script.write_text(KILL_AT, encoding="utf-8")
    with FixtureServer() as server:
        config.write_text(serve_site(server, pages=12, delay=(0, 0)), encoding="utf-8")
        urls = page_urls(server, 12)
        for where, call in MOMENTS:
            killed = subprocess.run([sys.executable, str(script), "--archive", str(archive), "--config", str(config),
                                     "fetch", "--quiet"], capture_output=True, text=True, timeout=DEADLINE,
                                    env=dict(os.environ, VEILLE_TEST_KILL_AT=where, VEILLE_TEST_KILL_ON_CALL=str(call)))
            assert killed.returncode == -signal.SIGKILL, (where, killed.returncode, killed.stderr[-2000:])
            problems = archive_problems(archive, urls, final=False)
            assert not problems, f"killed in {where}:\n" + "\n".join(problems)
        finished = veille(archive, config, "fetch", "--quiet")
        assert finished.returncode == 0, finished.stderr
    print(f"\nkilled at chosen moments: {', '.join(where for where, _ in MOMENTS)}")
    problems = archive_problems(archive, urls)
    stored, indexed = archive_ids(archive), indexed_ids(archive)
    if sorted(indexed) != sorted(stored):
        problems.append(f"{len(stored - set(indexed))} stored articles are not in the index")
    assert not problems, "\n".join(problems)


# -- a damaged search index ------------------------------------------------------------------------

def test_a_deleted_or_damaged_index_is_rebuilt_and_answers_as_before(tmp_path):
    archive, config = tmp_path / "archive", tmp_path / "feeds.yaml"
    with FixtureServer() as server:
        config.write_text(serve_site(server, pages=12, delay=(0, 0)), encoding="utf-8")
        urls = page_urls(server, 12)
        first = veille(archive, config, "fetch", "--quiet")
        assert first.returncode == 0, first.stderr
        stored = archive_ids(archive)
        assert len(stored) == 12
        before = sorted(search_ids(archive, config))
        vendor = sorted(search_ids(archive, config, "Palantir"))
        assert before == sorted(stored) and vendor

        # the folder deleted: a reader with no writer at work builds it again, and says so
        index = archive / "index"
        shutil.rmtree(index)
        done = veille(archive, config, "search", WORD, "--json", "--all-versions", "--limit", "1000")
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "index" in done.stderr, f"no message about rebuilding the index: {done.stderr!r}"
        assert sorted(json.loads(line)["id"] for line in done.stdout.splitlines()) == before

        # deleted again: the next `veille fetch` builds it again, and says so
        shutil.rmtree(index)
        done = veille(archive, config, "fetch", "--quiet")
        assert done.returncode == 0, done.stderr
        assert "index" in done.stderr, f"no message about rebuilding the index: {done.stderr!r}"
        assert sorted(indexed_ids(archive)) == before

        # a garbage TOC: a reader (a writer holds the archive, so the reader may not repair) fails in one line
        tocs = sorted(index.glob("_MAIN_*.toc"))
        assert tocs, list(index.iterdir())
        for toc in tocs:
            toc.write_bytes(b"\x00garbage, not a whoosh table of contents\xff" * 20)
        with open(archive / "veille.lock", "a+") as held:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running `veille run` would
            held.seek(0)
            held.truncate()
            held.write(f"{os.getpid()} run 2026-11-23T00:00:00Z\n")
            held.flush()
            try:
                done = veille(archive, config, "search", WORD)
            finally:
                fcntl.flock(held, fcntl.LOCK_UN)
        assert done.returncode != 0, done.stdout
        line = one_line(done.stderr)
        assert "index" in line and ("reindex" in line or "fetch" in line), line
        print(f"\ndamaged index, a reader while a writer holds the archive: exit {done.returncode}: {line}")

        # no writer any more: the next `veille fetch` rebuilds it, says so, and searches answer as before
        done = veille(archive, config, "fetch", "--quiet")
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "index" in done.stderr, f"no message about rebuilding the index: {done.stderr!r}"
        assert sorted(indexed_ids(archive)) == before
        assert sorted(search_ids(archive, config)) == before
        assert sorted(search_ids(archive, config, "Palantir")) == vendor
    problems = archive_problems(archive, urls)
    assert not problems, "\n".join(problems)
