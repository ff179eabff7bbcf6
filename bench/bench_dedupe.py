"""Dedupe at scale: time to place one new article in its story, with an archive of N articles.

    .venv/bin/python bench/bench_dedupe.py [--articles 100000] [--new 300]

Fills an archive with N background articles whose fingerprints (MinHash
signatures, LSH bands, anchor postings with a Zipf-like spread and the LSH
bands of each anchor set) are random but shaped like real ones, then measures `link_story` for real articles (the
seeds and the fixture site, tagged) arriving one by one: milliseconds per
article (median, 95th percentile) and the process's peak RSS. Candidates come
from the indexes in the database; nothing scans the archive or holds its
signatures in memory. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from veille.stages import dedupe
from veille.stages.extract import extract
from veille.stages.language import detect
from veille.models import Article
from veille.pipeline import Taggers, link_story
from veille.stages.plaintext import clean
from veille.storage.sqlite.store import Archive, text_hash

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("en", "fr", "de", "es")


def fill(archive: Archive, count: int, rng: random.Random) -> None:
    vocabulary = 200_000
    start = date(2024, 1, 1)
    batch = 5_000
    for offset in range(0, count, batch):
        articles, fingerprints, bands, postings, anchor_bands, sizes = [], [], [], [], [], []
        for n in range(offset, min(count, offset + batch)):
            article_id = f"{n:016x}"
            day = (start + timedelta(days=rng.randrange(730))).isoformat()
            articles.append((article_id, f"https://bench.example/{n}", "bench", "x" * rng.randrange(1500, 6000),
                             rng.choice(LANGS), f"{rng.getrandbits(128):032x}", day))
            signature = np.array([rng.getrandbits(32) for _ in range(dedupe.NUM_PERM)], dtype=np.uint32)
            fingerprints.append((article_id, signature.tobytes()))
            sizes.append((article_id, rng.randrange(250, 1000)))
            bands += [(b, h, article_id) for b, h in enumerate(dedupe.band_hashes(signature))]
            # Anchor popularity falls off like words do: a few common, most rare.
            anchors = {f"e:{int(vocabulary ** rng.random())}" for _ in range(25)}
            postings += [(a, article_id) for a in anchors]
            anchor_bands += [(b, h, article_id) for b, h in enumerate(dedupe.anchor_band_hashes(anchors))]
        with archive.transaction():
            archive.db.executemany(
                "INSERT INTO articles (id, url, source, text, lang, lang_confidence, lang_reason, origin, "
                "text_hash, extractor, fetched, published, first_seen, updated) "
                "VALUES (?, ?, ?, ?, ?, 1, 'bench', 'page', ?, 'bench', ?, NULL, ?, ?)",
                [(i, u, s, t, l, h, d, d, d) for i, u, s, t, l, h, d in articles])
            archive.db.executemany("INSERT INTO fingerprints (article_id, minhash) VALUES (?, ?)", fingerprints)
            archive.db.executemany("INSERT INTO text_sizes (article_id, size) VALUES (?, ?)", sizes)
            archive.db.executemany("INSERT INTO anchor_lsh (band, hash, article_id) VALUES (?, ?, ?)", anchor_bands)
            archive.db.executemany("INSERT INTO lsh (band, hash, article_id) VALUES (?, ?, ?)", bands)
            archive.db.executemany("INSERT OR IGNORE INTO anchors (anchor, article_id) VALUES (?, ?)", postings)
            archive.db.executemany("INSERT INTO story_members (article_id, story_id, relation, evidence) "
                                   "VALUES (?, ?, 'original', 'bench')", [(a[0], "s" + a[0]) for a in articles])
            archive.db.executemany("INSERT INTO stories (id, original_id) VALUES (?, ?)",
                                   [("s" + a[0], a[0]) for a in articles])


def arrivals(count: int) -> list[Article]:
    texts = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        cleaned = clean(path.read_text(encoding="utf-8"))
        texts.append((cleaned.title, cleaned.text))
    for path in sorted((ROOT / "tests/fixtures/site").rglob("*.html")):
        extracted = extract(path.read_text(encoding="utf-8"), "http://bench.local/" + path.name)
        texts.append((extracted.title, extracted.text))
    articles = []
    for n in range(count):
        title, text = texts[n % len(texts)]
        variant = text if n < len(texts) else f"{text}\n\nUpdate {n}: the story continues."
        article = Article(id=f"new{n:013x}", url=f"https://new.example/{n}", source="bench", text=variant,
                          title=title, lang=detect(variant).code, fetched="2025-06-01T00:00:00Z")
        article.text_hash = text_hash(variant)
        articles.append(article)
    Taggers().tag(articles)
    return articles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp, Archive(Path(tmp)) as archive:
        started = time.perf_counter()
        fill(archive, args.articles, rng)
        filled = time.perf_counter() - started
        new = arrivals(args.new)
        timings = []
        for article in new:
            archive.save_article(article, "2025-06-01T00:00:00Z")
            started = time.perf_counter()
            link_story(archive, article)
            timings.append((time.perf_counter() - started) * 1000)
        size = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 2**20
    timings.sort()
    print(f"veille dedupe benchmark, {date.today()}, {args.articles:,} background articles "
          f"(filled in {filled:.0f} s, database {size:.0f} MiB), {args.new} arriving\n")
    print("| archive | arriving | median ms/article | p95 ms/article | max ms | peak RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.articles:,} | {args.new} | {statistics.median(timings):.1f} | "
          f"{timings[int(len(timings) * 0.95) - 1]:.1f} | {timings[-1]:.1f} | "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
