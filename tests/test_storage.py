"""The archive behind its protocol: open_archive, typed rows, StorageError, one transaction per placement."""

from __future__ import annotations

import random
import re
import threading
from pathlib import Path

import pytest

from veille import open_archive as exported
from veille.errors import ArchiveError, StorageError, is_storage_failure
from veille.models import Article
from veille.pipeline import link_story
from veille.storage import Archive, open_archive
from veille.storage.rows import FailureRow, RevisionRow, SourceRow

import archive_sql

SRC = Path(__file__).resolve().parent.parent / "src" / "veille"
TEXT = ("The prefecture authorised drones over the demonstration on Saturday, a decision the association "
        "contests before the administrative court, saying that the law does not allow such surveillance. ")

WORDS = sorted(set(TEXT.lower().replace(",", "").replace(".", "").split())) + [
    f"{stem}{end}" for stem in ("port", "river", "council", "budget", "school", "market") for end in ("s", "ed", "ing")]


def article(number: int, text: str = TEXT, **kw) -> Article:
    values = dict(id=f"{number:032x}", url=f"https://site{number}.example/news/{number}.html", source=f"s{number}",
                  text=text * 4, lang="en", lang_confidence=0.99, lang_reason="test", extractor="test",
                  published="2026-01-05T10:00:00Z")
    values.update(kw)
    return Article(**values)


def test_open_archive_takes_a_folder_or_a_sqlite_url(tmp_path):
    assert exported is open_archive
    with open_archive(tmp_path / "a") as by_path, open_archive(f"sqlite://{tmp_path / 'b'}") as by_url:
        assert isinstance(by_path, Archive) and isinstance(by_url, Archive)
        assert (tmp_path / "a" / "veille.db").is_file() and (tmp_path / "b" / "veille.db").is_file()
        assert by_path.index_location() == tmp_path / "a" / "index"
        assert by_path.log_folder() == tmp_path / "a" / "logs"
        assert by_path.location == str(tmp_path / "a")


@pytest.mark.parametrize("url, said", [
    # a PostgreSQL server that does not answer (a free port on 127.0.0.1: nothing listens there)
    ("postgresql://veille:secret@127.0.0.1:{port}/veille", "cannot connect to PostgreSQL 127.0.0.1:{port}/veille"),
    ("mysql://db.example/veille", "not an archive veille knows"),
    ("sqlite://", "names no folder"),
])
def test_other_addresses_are_a_clear_error(url, said):
    from pgcluster import free_port

    port = free_port()
    url, said = url.format(port=port), said.format(port=port)
    with pytest.raises(ArchiveError, match=re.escape(said)) as raised:
        open_archive(url)
    assert "secret" not in str(raised.value) and "\n" not in str(raised.value)
    if url.startswith("postgresql"):
        assert raised.value.exit_code == 2


def test_rows_are_frozen_dataclasses_that_still_read_as_mappings(any_archive):
    archive = any_archive  # each backend
    archive.record_source_failure("s", "https://x.example/feed", "feed", at="t", reason="http 404")
    archive.record_failure("s", "https://x.example/a", "page", "http 404", "t")
    archive.save_article(article(1), "t1")
    archive.save_article(article(1, text="Another text altogether, of a different day. "), "t2")
    (source,), (failure,), (revision,) = archive.source_rows(), archive.failures(), archive.revisions(article(1).id)
    assert (type(source), type(failure), type(revision)) == (SourceRow, FailureRow, RevisionRow)
    assert source.last_error == source["last_error"] == "http 404" and dict(source)["name"] == "s"
    assert failure.count == 1 and revision.revision == 1
    with pytest.raises(AttributeError):
        failure.count = 2  # frozen


def test_a_database_error_is_a_storage_error_with_the_databases_words(archive):
    archive_sql.forbid_writes(archive)
    with pytest.raises(StorageError) as raised:
        archive.save_article(article(1), "t")
    assert "readonly database" in str(raised.value) and is_storage_failure(raised.value)
    assert raised.value.exit_code == 74


def test_a_transaction_joins_the_one_it_is_in_and_rolls_back_with_it(any_archive):
    archive = any_archive  # each backend
    with pytest.raises(RuntimeError):
        with archive.transaction():
            archive.save_article(article(1), "t")  # its own transaction joins the outer one
            with archive.transaction():
                archive.set_state("x", "1")
            raise RuntimeError("the placement failed")
    assert archive.count_articles() == 0 and archive.get_state("x") is None
    with archive.transaction():
        with archive.transaction():
            archive.set_state("x", "1")
        assert archive_sql.in_transaction(archive)  # the inner one did not commit the outer
    assert archive.get_state("x") == "1" and not archive_sql.in_transaction(archive)


def test_story_placement_reads_and_writes_in_one_transaction(archive):
    first, copy = article(1), article(2)
    for one in (first, copy):
        archive.save_article(one, "t")
    link_story(archive, first)
    with archive_sql.statements(archive) as statements:
        link_story(archive, copy)
    words = [" ".join(s.split()).upper() for s in statements]
    first_read = next(i for i, s in enumerate(words) if "FROM STORY_MEMBERS" in s)
    last_write = max(i for i, s in enumerate(words) if s.startswith("INSERT OR REPLACE INTO STORY_MEMBERS"))
    between = [s for s in words[first_read:last_write] if s in ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")]
    assert between == [], between
    assert "BEGIN IMMEDIATE" in words[:first_read] and "COMMIT" in words[last_write:]
    assert archive.story_of(first.id) == archive.story_of(copy.id)


def test_two_writers_placing_copies_at_once_keep_them_in_one_story(archive_url):
    folder = archive_url
    texts = [" ".join(random.Random(n).choices(WORDS, k=120)) + ". " for n in range(12)]  # unrelated texts
    pairs = [(article(2 * n + 1, text=text), article(2 * n + 2, text=text)) for n, text in enumerate(texts)]
    with open_archive(folder) as archive:
        for pair in pairs:
            for one in pair:
                archive.save_article(one, "t")
    barrier, failures = threading.Barrier(2), []

    def place(side: int) -> None:
        try:
            with open_archive(folder) as mine:
                for pair in pairs:
                    barrier.wait(timeout=30)
                    link_story(mine, pair[side])
        except Exception as exc:  # shown by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=place, args=(side,)) for side in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    with open_archive(folder) as archive:
        for one, other in pairs:
            story = archive.story_of(one.id)
            assert story is not None and story == archive.story_of(other.id)
            members = archive.story_members(story)
            assert {m["article_id"] for m in members} == {one.id, other.id}
            assert members[0]["original_id"] in {one.id, other.id}


def near_copies(groups: int, size: int) -> list[list[Article]]:
    """`groups` unrelated texts, `size` near copies of each (two words changed in each copy)."""
    found = []
    for g in range(groups):
        rng = random.Random(g)
        words = rng.choices(WORDS, k=150)
        group = []
        for c in range(size):
            copy = list(words)
            for _ in range(2 if c else 0):
                copy[rng.randrange(len(copy))] = f"w{rng.randrange(10**6)}"
            group.append(article(100 * g + c + 1, text=" ".join(copy) + ". "))
        found.append(group)
    return found


def _place_in_process(url: str, side: int, groups: list[list[Article]], barrier, failures) -> None:
    """One writer of its own (its own process, its own archive): its half of each group's copies."""
    try:
        with open_archive(url) as mine:
            for group in groups:
                barrier.wait(timeout=60)
                for one in group[side::2]:
                    link_story(mine, one)
    except Exception as exc:  # shown by the test's assertion
        failures.put(f"{type(exc).__name__}: {exc}")


def test_two_processes_placing_near_copies_at_once_put_each_in_one_story(archive_url):
    # Issue 17: two `veille fetch` on two machines place related articles at once. Each process
    # places half of each group's near copies at the same moment as the other its half: every
    # article ends in exactly one story, and each group's copies in one story, only theirs.
    import multiprocessing

    groups = near_copies(6, 4)
    with open_archive(archive_url) as archive:
        for group in groups:
            for one in group:
                archive.save_article(one, "t")
    context = multiprocessing.get_context("spawn")
    barrier, failures = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_place_in_process, args=(archive_url, side, groups, barrier, failures))
                 for side in (0, 1)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    said = [failures.get(timeout=5) for _ in range(failures.qsize())] if not failures.empty() else []
    assert said == [] and [p.exitcode for p in processes] == [0, 0], said
    with open_archive(archive_url) as archive:
        stories = set()
        for group in groups:
            ids = {one.id for one in group}
            (story,) = {archive.story_of(one) for one in ids}  # one story for the copies
            assert story is not None and story not in stories
            stories.add(story)
            members = archive.story_members(story)
            assert sorted(m["article_id"] for m in members) == sorted(ids)  # each member once, only them
            assert {m["original_id"] for m in members} <= ids and len({m["original_id"] for m in members}) == 1
        placed = sum(len(archive.story_members(story)) for story in stories)
        assert placed == sum(len(group) for group in groups)


def test_no_sqlite_outside_storage():
    """The issue's check: only storage/ imports sqlite3 or holds SQL."""
    sql = re.compile(r"""["'](SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA)\s""")
    for path in SRC.rglob("*.py"):
        if "storage" in path.relative_to(SRC).parts:
            continue
        text = path.read_text(encoding="utf-8")
        assert "import sqlite3" not in text, path
        assert not sql.search(text), path


def test_the_archive_is_named_on_the_command_line_by_a_folder_or_an_address(tmp_path):
    """`--archive sqlite:///PATH` is the folder PATH; a PostgreSQL server that cannot be reached is said
    in one line naming it, with its password hidden, and nothing is created."""
    from click.testing import CliRunner

    from pgcluster import free_port
    from veille.app.cli.main import main

    seeds = Path(__file__).resolve().parents[1] / "seeds"
    folder = tmp_path / "by-url"
    runner = CliRunner()
    made = runner.invoke(main, ["--archive", f"sqlite://{folder}", "import", str(seeds)])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(main, ["--archive", str(folder), "list", "--json"])
    assert listed.exit_code == 0 and len(listed.stdout.splitlines()) == 5
    port = free_port()  # nothing listens there: never a server of this machine or another
    server = runner.invoke(main, ["--archive", f"postgresql://me:secret@127.0.0.1:{port}/veille", "status"])
    line = server.output.strip()
    assert server.exit_code == 2 and "\n" not in line and "PostgreSQL" in line
    assert "secret" not in line and "cannot connect" in line and f"127.0.0.1:{port}/veille" in line
