"""Work bounded by what a user can type or import (issue 22, items 6 and 7).

A search query of a 100,000-character word never finished, 10,000 terms took over a minute: a
query has a bounded length and number of terms, and past them one line says so. A 5 MB article
took minutes and 2.7 GB under the entity model: the model reads a bounded part of an article,
the article says so, and its whole text is kept.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SEEDS
from veille.stages.entities import NER_MAX
from veille.search.whoosh.index import MAX_QUERY_CHARS, MAX_QUERY_TERMS

MEMORY_BOUND = 1.5 * 2**30  # the project's bound on a command's resident memory (bytes)


def veille(archive: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "veille", "--archive", str(archive), "--config",
                           str(archive.parent / "none.yaml"), *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    archive = tmp_path_factory.mktemp("bounds") / "archive"
    done = veille(archive, "import", str(SEEDS), "--quiet")
    assert done.returncode == 0, done.stderr
    return archive


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text[-2000:]
    return lines[0]


@pytest.mark.parametrize("query, says", [
    ("a" * 100_000, "characters"),  # did not finish in 120 s
    ("surveillance" * 850, "characters"),  # 10,200 characters: 14 s
    (" ".join(f"w{n}" for n in range(10_000)), "characters"),  # 69 s; 58,889 characters
    (" ".join(["ab"] * (MAX_QUERY_TERMS + 1)), "terms"),  # short words, too many of them
], ids=["a 100,000-character word", "a 10,000-character word", "10,000 terms", "one term too many"])
def test_a_query_past_its_bounds_is_refused_in_one_line(seeded, query, says):
    done = veille(seeded, "search", query)  # the timeout is the bound on waiting, not a speed target
    assert done.returncode == 2, done.stderr[-500:]
    line = one_line(done.stderr)
    assert says in line and (f"{MAX_QUERY_CHARS:,}" in line or str(MAX_QUERY_TERMS) in line), line
    assert len(line) < 300, line  # the query itself is not repeated back


def test_a_query_within_the_bounds_still_answers(seeded):
    words = ["palantir"] + [f"w{n}" for n in range(MAX_QUERY_TERMS - 1)]
    done = veille(seeded, "search", " OR ".join(words[:MAX_QUERY_TERMS // 2]), "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "palantir is in the seeds: the long OR query finds it"


def test_a_saved_search_and_an_export_are_bounded_the_same_way(seeded, tmp_path):
    long = "palantir " * (MAX_QUERY_TERMS + 1)
    added = veille(seeded, "searches", "add", "huge", long)
    assert added.returncode == 2 and "terms" in one_line(added.stderr)
    exported = veille(seeded, "export", long, "--out", str(tmp_path / "out.jsonl"))
    assert exported.returncode == 2 and "terms" in one_line(exported.stderr)
    assert not (tmp_path / "out.jsonl").exists()


PEOPLE = ["Emmanuel Macron", "Ursula von der Leyen", "Peter Thiel", "Alex Karp", "Anne Hidalgo", "Olaf Scholz"]
BODIES = ["Palantir", "Clearview AI", "the European Commission", "the CNIL", "Europol", "Frontex", "Thales"]
PLACES = ["Marseille", "Nice", "Berlin", "Brussels", "Rotterdam", "Lyon", "Hamburg"]
DOINGS = ["signed a contract with", "was questioned about", "published a report on", "met officials from",
          "criticised the work of", "asked for an audit of"]


def long_text(characters: int, rng: random.Random) -> str:
    """Distinct paragraphs full of names (the work of the entity model), `characters` long."""
    paragraphs, size, n = [], 0, 0
    while size < characters:
        sentences = [f"In {rng.choice(PLACES)}, {rng.choice(PEOPLE)} {rng.choice(DOINGS)} {rng.choice(BODIES)} "
                     f"about case {n}-{rng.randrange(10_000)}." for _ in range(5)]
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
        n += 1
    return "A very long report\n\n" + "\n\n".join(paragraphs)


def test_a_5_mb_article_is_kept_whole_tagged_in_part_says_so_and_stays_under_the_memory_bound(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "huge.txt").write_text(long_text(5_000_000, random.Random(6)), encoding="utf-8")
    archive = tmp_path / "archive"
    with open(tmp_path / "out", "w+") as out, open(tmp_path / "err", "w+") as err:
        process = subprocess.Popen([sys.executable, "-m", "veille", "--archive", str(archive), "--config",
                                    str(tmp_path / "none.yaml"), "import", str(folder), "--json"],
                                   stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)  # the kernel's accounting of the finished child
        process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, (tmp_path / "err").read_text()[-2000:]
    assert json.loads((tmp_path / "out").read_text())["new"] == 1
    peak = usage.ru_maxrss * 1024  # kilobytes on Linux
    assert peak < MEMORY_BOUND, f"peak resident memory {peak / 2**30:.2f} GiB"

    listed = veille(archive, "list", "--json")
    article_id = json.loads(listed.stdout.splitlines()[0])["id"]
    shown = json.loads(veille(archive, "show", article_id, "--json").stdout)
    assert len(shown["text"]) > 4_500_000  # the article's text is archived whole
    assert f"first {NER_MAX:,}" in (shown["note"] or ""), shown["note"]
    assert shown["entities"] and max(e["end"] for e in shown["entities"]) <= NER_MAX
