"""Benchmark of the archive backends: `veille fetch` into SQLite and into PostgreSQL, same pages,
same run; and, on a PostgreSQL archive of N articles, the query plans of what the CLI, the digest
and exports ask.

    .venv/bin/python bench/bench_backends.py [--pages 96] [--rows 100000] [--pg URL]

Part 1 serves N generated article pages (bench_pipeline's) on 127.0.0.1 with one feed and fetches
them into a fresh SQLite archive and a fresh PostgreSQL database, twice each in the order
S P S P, with the models loaded once before (the NLP is the same work for both: what differs is
the storing). Issue 17's target: PostgreSQL >= 0.9x SQLite.

Part 2 fills a PostgreSQL archive with N synthetic articles (entities, tags, stories), runs the
archive's read methods, and EXPLAINs every statement they send: a sequential scan of `articles`
(any partition) is named. Without --pg, a throwaway cluster is started (tests/pgcluster.py).

A measurement, not a test: figures vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_pipeline import make_site  # noqa: E402

from veille import pipeline  # noqa: E402
from veille.config.settings import parse_config  # noqa: E402
from veille.dev.devserver import FixtureServer  # noqa: E402
from veille.storage import open_archive  # noqa: E402


def fetch_once(config, url, taggers) -> float:
    with open_archive(url) as archive:
        started = time.perf_counter()
        report = pipeline.fetch_sources(config, archive, taggers=taggers, workers=1)
        seconds = time.perf_counter() - started
    assert report.counts["failed"] == 0 and report.counts["new"] > 0, (report.counts, report.failures[:3])
    return seconds


def ingest(pages: int, new_database, folder: Path) -> list[tuple]:
    rows = []
    with FixtureServer() as server:
        make_site(server, pages)
        config = parse_config(f"settings:\n  host_delay: 0\n  capture: none\nsources:\n  - name: bench\n"
                              f"    url: {server.url}/feed.xml\n", folder / "bench.yaml")
        taggers = pipeline.Taggers(config)
        for lang, _ in config.nlp.models:
            taggers.describe(lang)
        times: dict[str, list[float]] = {"SQLite (folder)": [], "PostgreSQL": []}
        for n in range(2):
            times["SQLite (folder)"].append(fetch_once(config, str(folder / f"sqlite-{n}"), taggers))
            times["PostgreSQL"].append(fetch_once(config, new_database(), taggers))
    best = {name: min(values) for name, values in times.items()}
    for name, seconds in best.items():
        rows.append((name, pages, seconds, pages / seconds, best["SQLite (folder)"] / seconds))
    return rows


# -- part 2: query plans at N articles -----------------------------------------------------------
def fill(archive, count: int) -> None:
    """N articles over 24 months, 8 sources, 4 languages, 3 entities and 2 tags each, stories of 3."""
    from veille.storage.tables import TABLES

    tables = {t.name: t for t in TABLES}
    langs, text = ("fr", "en", "de", "es"), "La préfecture a autorisé les drones au-dessus de la manifestation. " * 20
    for start in range(0, count, 2000):
        articles, entities, tags, members, stories = [], [], [], [], []
        for n in range(start, min(count, start + 2000)):
            aid = f"{n:016x}"
            month = f"{2025 + n % 24 // 12}-{n % 12 + 1:02d}"
            when = f"{month}-{1 + n % 28:02d}T08:00:00Z"
            articles.append(dict(id=aid, url=f"https://site{n % 8}.example/{n}", canonical_url=None,
                                 source=f"source-{n % 8}", title=f"Article {n}", author=None, published=when,
                                 fetched=when, lang=langs[n % 4], lang_confidence=0.99, lang_reason="bench",
                                 site_name=None, description=None, html_lang=None, origin="feed", note=None,
                                 text=f"{text} {n}", text_hash=f"{n:064x}", raw=None, raw_type=None,
                                 extractor="bench", alternates="{}", revision=1, first_seen=when, updated=when,
                                 tagger="bench", tagged_at=when, lang_shares="[]"))
            for k in range(3):
                entities.append(dict(article_id=aid, start_char=k * 10, end_char=k * 10 + 5, label="ORG",
                                     text=f"Org {(n + k) % 500}", key=f"org-{(n + k) % 500}", origin="model"))
            tags += [dict(article_id=aid, tag=f"topic-{(n + k) % 40}") for k in range(2)]
            story = f"{n - n % 3:016x}"
            if n % 3 == 0:
                stories.append(dict(id=story, original_id=aid))
            members.append(dict(article_id=aid, story_id=story, relation="original" if n % 3 == 0 else "copy",
                                linked_to=None if n % 3 == 0 else story, score=None, evidence=None, explicit=0))
        for name, rows in (("articles", articles), ("entities", entities), ("tags", tags),
                           ("stories", stories), ("story_members", members)):
            archive.put_rows(tables[name], rows)
    archive._run("ANALYZE")


def recorded(archive, work) -> list[tuple[str, object]]:
    """The statements `work` sends through the archive's Part helpers."""
    from veille.storage.postgres import base

    sent: list[tuple[str, object]] = []
    originals = {name: getattr(base.Part, name) for name in ("_rows", "_one", "_run")}

    def wrap(original):
        def spy(self, sql, params=()):
            sent.append((sql, params))
            return original(self, sql, params)
        return spy

    for name, original in originals.items():
        setattr(base.Part, name, wrap(original))
    try:
        result = work()
        if hasattr(result, "__next__"):
            next(result, None)
    finally:
        for name, original in originals.items():
            setattr(base.Part, name, original)
    return sent


def sequential_scans(plan: dict) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan" and str(plan.get("Relation Name", "")).startswith("articles"):
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += sequential_scans(child)
    return found


def plans(archive, count: int) -> list[tuple]:
    some = f"{count // 2:016x}"
    asked = {
        "veille list": lambda: archive.list_articles(limit=20),
        "veille list --lang fr --source": lambda: archive.list_articles(lang="fr", source="source-3", limit=20),
        "veille show ID (prefix)": lambda: archive.get_article(some[:10]),
        "veille show ID": lambda: archive.get_article(some),
        "veille story": lambda: archive.story_members(f"{count // 2 - count // 2 % 3:016x}"),
        "veille entities": lambda: archive.entity_ranking(top=20, since="2026-06-01"),
        "veille status (counts)": lambda: (archive.count_articles(), archive.approximate_count()),
        "digest: stories of the week": lambda: archive.stories_first_seen_between("2026-03-01T00:00:00Z",
                                                                                  "2026-03-08T00:00:00Z"),
        "export --lang --since": lambda: archive.export_batches(lang="de", since="2026-05-01", batch=1000),
        "search index: changes": lambda: archive.changed_since("0", batch=500),
        "facets of a page": lambda: archive.facets([f"{n:016x}" for n in range(0, count, count // 50)]),
    }
    rows = []
    for name, work in asked.items():
        started = time.perf_counter()
        statements = recorded(archive, work)
        seconds = time.perf_counter() - started
        scans = []
        for sql, params in statements:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            with archive._pool.connection() as conn:
                plan = conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()
            tree = next(iter(plan.values()))
            tree = json.loads(tree) if isinstance(tree, str) else tree
            scans += sequential_scans(tree[0]["Plan"])
        rows.append((name, len(statements), seconds * 1000, ", ".join(sorted(set(scans))) or "none"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=96)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg", help="a PostgreSQL server URL (postgresql://USER@HOST:PORT/postgres) to make databases on")
    args = parser.parse_args()
    cluster = None
    if args.pg:
        import psycopg

        counter = iter(range(1_000_000))

        def new_database() -> str:
            name = f"veille_bench_{int(time.time())}_{next(counter)}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            return args.pg.rsplit("/", 1)[0] + "/" + name
    else:
        from pgcluster import Cluster

        cluster = Cluster.start()
        new_database = cluster.new_database
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ingested = ingest(args.pages, new_database, Path(tmp)) if args.pages else []
        url = new_database()
        with open_archive(url) as archive:
            started = time.perf_counter()
            fill(archive, args.rows)
            filled = time.perf_counter() - started
            planned = plans(archive, args.rows)
    finally:
        if cluster is not None:
            cluster.destroy()
    print(f"bench_backends: {date.today()}, {platform.node()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")
    if ingested:
        print(f"\nveille fetch of {args.pages} pages, models loaded before, best of 2 each (S P S P)")
        print(f"{'backend':<18} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'vs SQLite':>10}")
        for name, pages, seconds, rate, ratio in ingested:
            print(f"{name:<18} {pages:>6} {seconds:>8.2f} {rate:>8.1f} {ratio:>9.2f}x")
    print(f"\nPostgreSQL archive of {args.rows} articles (filled in {filled:.0f} s): statements, time, "
          "sequential scans of articles")
    print(f"{'what is asked':<32} {'stmts':>5} {'ms':>8}  seq scans on articles")
    for name, count, ms, scans in planned:
        print(f"{name:<32} {count:>5} {ms:>8.1f}  {scans}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
