"""How `veille dedupe --rebuild` grows with a story's size (issue 22, item 11).

Imports N near copies of one seed article (five words changed in each, so all are one story of
copies), then times `rebuild_stories` in CPU seconds, for each N given. A linear rebuild keeps the
ms/article column flat as N grows. To compare with older code, run it twice, the second time with
PYTHONPATH pointing at the other checkout's src/.

    .venv/bin/python bench/bench_rebuild.py 100 200
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from veille.pipeline import Taggers, import_paths, rebuild_stories
from veille.storage.sqlite.store import Archive

SEED = Path(__file__).resolve().parent.parent / "seeds" / "002_cdb768120f0b8caf.txt"


def near_copies(folder: Path, n: int) -> None:
    words = SEED.read_text(encoding="utf-8").split()
    rng = random.Random(n)
    for i in range(n):
        copy = list(words)
        for _ in range(5):
            copy[rng.randrange(len(copy))] = f"x{rng.randrange(10**6)}"
        (folder / f"c{i:04d}.txt").write_text("Technology for tyrants\n\n" + " ".join(copy), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="+", help="story sizes (copies) to try")
    args = parser.parse_args()
    print("| copies in the story | rebuild CPU s | ms/article | largest story | stories |")
    print("|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as work:
            source = Path(work) / "copies"
            source.mkdir()
            near_copies(source, n)
            with Archive(Path(work) / "archive") as archive:
                import_paths([source], archive, taggers=Taggers())
                started = time.process_time()
                rebuild_stories(archive)
                spent = time.process_time() - started
                stories = {archive.story_of(a.id) for a in archive.list_articles(limit=None)}
                largest = max(len(archive.story_members(s)) for s in stories)
        print(f"| {n} | {spent:.1f} | {spent / n * 1000:.1f} | {largest} | {len(stories)} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
