"""How `veille dedupe --rebuild` grows with the articles and with the size of their stories
(issue 22, item 11).

For each N given, imports N near copies of the five seed articles (N/5 copies of each, five words
changed in each copy, one in ten left whole: five stories of about N/5 members), then times, in
CPU seconds, first reading every article as the rebuild reads them (oldest first, with their
entities: the reference, measured in the same process) and then `rebuild_stories`. A rebuild
linear in articles keeps ms/article flat as N, and with it the biggest story, grows; the last
column compares it with the reference, whatever the machine's load. To compare with older code,
run it twice, the second time with PYTHONPATH pointing at the other checkout's src/.

    PYTHONPATH=src .venv/bin/python bench/bench_rebuild.py 500 1000 2000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from veille.pipeline import Taggers, import_paths, rebuild_stories
from veille.storage.sqlite.store import Archive

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def near_copies(folder: Path, n: int) -> None:
    """`n` copies of the five seeds, a fifth of each; five words changed in each, one in ten left whole."""
    rng = random.Random(n)
    seeds = sorted(SEEDS.glob("*.txt"))
    for i in range(n):
        seed = seeds[i % len(seeds)]
        copy = seed.read_text(encoding="utf-8").split()
        if i // len(seeds) % 10:
            for _ in range(5):
                copy[rng.randrange(len(copy))] = f"x{rng.randrange(10**6)}"
        (folder / f"c{i:05d}.txt").write_text(" ".join(copy), encoding="utf-8")


def read_all(archive: Archive) -> int:
    """Every article, oldest first, with its entities: what a rebuild reads, and nothing more."""
    after, count = None, 0
    while articles := archive.articles_in_order(after, 200):
        for article in articles:
            article.entities = archive.entities_of(article.id)
        count += len(articles)
        after = (articles[-1].published or articles[-1].fetched or "", articles[-1].id)
    return count


def measure(n: int) -> dict:
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "copies"
        source.mkdir()
        near_copies(source, n)
        with Archive(Path(work) / "archive") as archive:
            import_paths([source], archive, taggers=Taggers())
            started = time.process_time()
            articles = read_all(archive)
            reference = time.process_time() - started
            started, wall = time.process_time(), time.perf_counter()
            rebuild_stories(archive)
            spent, wall = time.process_time() - started, time.perf_counter() - wall
            stories: dict[str, int] = {}
            for article in archive.list_articles(limit=None):
                story = archive.story_of(article.id)
                stories[story] = stories.get(story, 0) + 1
    return {"articles": articles, "stories": len(stories), "biggest": max(stories.values()),
            "reference": reference, "cpu": spent, "wall": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[500, 1000, 2000],
                        help="articles to import (copies of the five seeds)")
    args = parser.parse_args()
    print("| articles | stories | biggest story | read all, CPU s | rebuild, CPU s | rebuild, wall s "
          "| articles/s | ms/article | rebuild ÷ read all |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        m = measure(n)
        print(f"| {m['articles']} | {m['stories']} | {m['biggest']} | {m['reference']:.2f} | {m['cpu']:.1f} "
              f"| {m['wall']:.1f} | {m['articles'] / m['cpu']:.0f} | {m['cpu'] / m['articles'] * 1000:.1f} "
              f"| {m['cpu'] / max(m['reference'], 1e-9):.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
