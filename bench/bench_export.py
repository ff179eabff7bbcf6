"""Exports at scale: rows per second and peak memory per format.

    .venv/bin/python bench/bench_export.py [--articles 100000] [--formats jsonl,parquet,csv,spacy]

Builds an archive of N generated articles (real sentences shuffled, as in
bench_search.py) with entities at exact offsets and topic tags, then exports
it to each format in a fresh process (so each peak memory is that format's
own) and prints rows per second, file size and peak memory. A measurement,
not a test.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_search import ENTITIES, generate  # noqa: E402

from veille.models import Entity  # noqa: E402
from veille.storage.sqlite.store import Archive  # noqa: E402

CHILD = """
import sys, time
from pathlib import Path
from veille.outputs.export import Selection, export
from veille.storage.sqlite.store import Archive
with Archive(sys.argv[1]) as archive:
    started = time.perf_counter()
    done = export(archive, Selection(), sys.argv[2], Path(sys.argv[3]), None)
    seconds = time.perf_counter() - started
# VmHWM: this process's own peak (ru_maxrss would carry over the parent's peak across exec)
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(done["rows"], seconds, peak)
"""


def build(folder: Path, count: int) -> None:
    rng = random.Random(11)
    with Archive(folder) as archive:
        for article, keys, tags in generate(count, rng):
            words = list(re.finditer(r"[A-Z][a-zé]{3,}", article.text))[:8]
            article.entities = [Entity(m.group(), "ORG", m.start(), m.end(), keys[i % len(keys)])
                                for i, m in enumerate(words)]
            article.tags = tags
            article.tagger = "bench"
            article.url = f"https://example.org/{article.id}"
            article.fetched = "2025-06-01T00:00:00Z"
            archive.save_article(article, "2025-06-01T00:00:00Z")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--formats", default="jsonl,parquet,csv",
                        help="comma-separated; spacy runs at a few hundred documents/s, so it is not in the default")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        started = time.perf_counter()
        build(tmp / "archive", args.articles)
        print(f"veille export benchmark, {date.today()}, {args.articles:,} articles "
              f"(archive built in {time.perf_counter() - started:.0f} s; {len(ENTITIES)} entity keys)\n")
        print("| format | rows/s | seconds | file MiB | peak memory MiB |")
        print("|---|---:|---:|---:|---:|")
        for fmt in args.formats.split(","):
            out = tmp / "out" / fmt / f"articles.{fmt}"
            result = subprocess.run([sys.executable, "-c", CHILD, str(tmp / "archive"), fmt, str(out)],
                                    capture_output=True, text=True, check=True)
            rows, seconds, peak = result.stdout.split()
            size = sum(f.stat().st_size for f in out.parent.iterdir() if f.name.startswith("articles")) / 2**20
            print(f"| {fmt} | {int(rows) / float(seconds):,.0f} | {float(seconds):.1f} | {size:.0f} | {float(peak):.0f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
