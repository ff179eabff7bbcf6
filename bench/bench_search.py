"""Search at scale: indexing speed, index size and query latency, next to SQLite FTS5.

    .venv/bin/python bench/bench_search.py [--articles 100000] [--repeat 20]

Builds N articles in English, French, German and Spanish (a third each of
English and French, a sixth each of the others) from real sentences (the
seeds, the fixture site and the NER gold set, shuffled into new articles), with entity
keys, topic tags and dates; indexes them with veille's whoosh index (two
processes, several segments) and, as a reference, into an SQLite FTS5
table; then runs the same fixed queries on both (single words, two-word
AND, phrases of common words, language and date filters, entity and tag
filters) and prints p50 / p95 latency per query type and the ratio to FTS5.
With PostgreSQL installed (or `--pg URL` of an empty database), the PostgreSQL backend too: the
same articles loaded as `veille reindex` loads them (a table beside, two connections, swapped in),
the same queries, and EXPLAIN of each query kind (which indexes answer it, no sequential scan).
A measurement, not a test.

    .venv/bin/python bench/bench_search.py --articles 100000 [--pg postgresql://...] [--no-pg]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from veille.search.whoosh.index import BULK_BATCH, SearchIndex
from veille.models import Article
from veille.stages.plaintext import clean

ROOT = Path(__file__).resolve().parent.parent
ENTITIES = ["palantir", "ice", "frontex", "cnil", "nso-group", "clearview-ai", "europol", "nice", "marseille", "berlin"]
TAGS = ["facial-recognition", "video-surveillance", "spyware", "predictive-policing", "smart-city", "biometrics"]
QUERIES = {
    "word": ["surveillance", "police", "données", "contract", "technologie", "cameras"],
    "two-word AND": ["surveillance AND police", "données AND personnelles", "data AND police", "ville AND caméras"],
    "phrase": ['"de la"', '"in the"', '"reconnaissance faciale"', '"the police"'],
    "filter: lang + date": ["surveillance lang:fr published:[2025-01-01 to 2025-06-30]",
                            "police lang:en published:[2025-03-01 to 2025-12-31]"],
    "filter: entity / tag": ["entity:palantir", "tag:facial-recognition", "police entity:frontex", "tag:spyware AND data"],
}


def sentences() -> dict[str, list[str]]:
    from veille.stages.extract import extract

    by_lang: dict[str, list[str]] = {"en": [], "fr": [], "de": [], "es": []}
    for line in (ROOT / "bench/eval/ner_gold.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        by_lang[item["lang"]].extend(s for s in re.split(r"(?<=[.!?])\s+", item["text"]) if len(s) > 40)
    for path, lang in zip(sorted((ROOT / "seeds").glob("*.txt")), ["fr", "en", "en", "fr", "fr"]):
        text = clean(path.read_text(encoding="utf-8")).text
        by_lang[lang].extend(s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 40)
    site = ROOT / "tests/fixtures/site"
    for page in json.loads((site / "MANIFEST.json").read_text(encoding="utf-8")):
        text = extract((site / page["path"]).read_text(encoding="utf-8")).text or ""
        by_lang[page["lang"]].extend(s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 40)
    return by_lang


def generate(count: int, rng: random.Random) -> list[tuple[Article, list[str], list[str]]]:
    pool = sentences()
    start = date(2025, 1, 1)
    out = []
    for n in range(count):
        lang = ("en", "fr", "en", "fr", "de", "es")[n % 6]
        text = " ".join(rng.choice(pool[lang]) for _ in range(rng.randrange(12, 30)))
        day = (start + timedelta(days=rng.randrange(365))).isoformat()
        article = Article(id=f"{n:016x}", url="", source=f"source-{n % 40}", text=text, lang=lang,
                          title=text[:70], published=day)
        out.append((article, rng.sample(ENTITIES, 2), rng.sample(TAGS, 1)))
    return out


def fts_query(query: str) -> tuple[str, list]:
    """The same query for SQLite FTS5: MATCH expression plus WHERE filters."""
    where, params = [], []
    for field, value in re.findall(r"(lang|entity|tag):(\S+)", query):
        where.append(f"{field} = ?")
        params.append(value)
    dates = re.search(r"published:\[(\S*) to (\S*)\]", query)
    if dates:
        where += ["published >= ?", "published <= ?"]
        params += [dates.group(1) or "0000", dates.group(2) or "9999"]
    words = re.sub(r"(lang|entity|tag):\S+|published:\[[^\]]*\]", " ", query).strip()
    match = words.replace("AND", " ").strip()
    sql = "SELECT rowid FROM docs"
    conditions = (["docs MATCH ?"] if match else []) + where
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    return sql + " ORDER BY rank LIMIT 1000" if match else sql + " LIMIT 1000", ([match] if match else []) + params


def cold(index: SearchIndex) -> SearchIndex:
    """No filter sets left from the previous run: each timed query pays for its own."""
    index._filter_cache.clear()
    return index


def timed(function, repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def postgres_index(args, docs):
    """The PostgreSQL backend loaded as `veille reindex` loads it: (index, seconds, MiB, cluster to destroy)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from pgcluster import Cluster, available

    from veille.search.postgres.index import PostgresIndex

    cluster = None
    if args.pg:
        dsn = args.pg
    else:
        why = available()
        if why:
            print(f"PostgreSQL: {why}\n")
            return None, 0.0, 0.0, None
        cluster = Cluster.start()
        dsn = cluster.new_database("bench")
    index = PostgresIndex(dsn, beside=True)
    started = time.perf_counter()
    for offset in range(0, len(docs), index.bulk_batch):
        index.add(((a, None, e, t) for a, e, t in docs[offset:offset + index.bulk_batch]), cursor=str(offset),
                  procs=2)
    index.publish()
    conn = index._db()
    conn.execute("VACUUM ANALYZE search_docs")
    seconds = time.perf_counter() - started
    mib = conn.execute("SELECT pg_total_relation_size('search_docs')").fetchone()[0] / 2**20
    return index, seconds, mib, cluster


def explain(index, query: str) -> str:
    """The plan's scan nodes for one query, as PostgreSQL runs it."""
    from veille.storage import pgsearch as sql
    from veille.search.postgres.index import NEWEST, RANKED, RELEVANCE, SCORE

    clause = index.parse(query).clause
    score, params = (SCORE, [clause.rank]) if clause.rank else ("0.0::real", [])
    bound = [clause.rank, RANKED] if clause.rank else []
    statement = sql.ranked(sql.LIVE, clause.where, score, RELEVANCE if clause.rank else NEWEST, True,
                           bool(clause.rank))
    rows = index._db().execute("EXPLAIN " + statement, [*params, *clause.params, *bound, 10, 0]).fetchall()
    scans = [re.sub(r"\s+\(cost.*", "", r[0]).strip(" ->") for r in rows if "Scan" in r[0]]
    return "; ".join(dict.fromkeys(scans))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pg", metavar="URL", help="an empty PostgreSQL database (default: a throwaway cluster)")
    parser.add_argument("--no-pg", action="store_true", help="whoosh and FTS5 only")
    args = parser.parse_args()
    docs = generate(args.articles, random.Random(5))
    words = sum(len(a.text.split()) for a, _, _ in docs)
    tmp = Path(tempfile.mkdtemp())
    pg, pg_seconds, pg_mib, cluster = None, 0.0, 0.0, None
    try:
        index = SearchIndex(tmp)
        started = time.perf_counter()
        for offset in range(0, len(docs), BULK_BATCH):  # as `veille reindex` loads an archive
            index.add(((a, None, e, t) for a, e, t in docs[offset:offset + BULK_BATCH]), cursor=str(offset),
                      procs=2)
        index_seconds = time.perf_counter() - started
        index_mib = sum(f.stat().st_size for f in (tmp / "index").iterdir()) / 2**20
        opened = time.perf_counter()
        index = SearchIndex(tmp)  # as a fresh process finds it: the first query also reads lengths and dates
        index.search("surveillance lang:fr published:[2025-01-01 to 2025-06-30]", limit=10)
        first_ms = (time.perf_counter() - opened) * 1000

        db = sqlite3.connect(tmp / "fts.db")
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, text, lang UNINDEXED, entity UNINDEXED, "
                   "tag UNINDEXED, published UNINDEXED, tokenize='unicode61 remove_diacritics 2')")
        started = time.perf_counter()
        db.executemany("INSERT INTO docs (title, text, lang, entity, tag, published) VALUES (?, ?, ?, ?, ?, ?)",
                       [(a.title, a.text, a.lang, e[0], t[0], a.published) for a, e, t in docs])
        db.commit()
        fts_seconds = time.perf_counter() - started
        if not args.no_pg:
            pg, pg_seconds, pg_mib, cluster = postgres_index(args, docs)

        print(f"veille search benchmark, {date.today()}, {args.articles:,} articles ({words:,} words), "
              f"{args.repeat} runs of each query\n")
        writers_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"Indexing: whoosh {args.articles / index_seconds:,.0f} articles/s ({index_mib:.0f} MiB; "
              f"{BULK_BATCH:,} articles per commit, peak memory of each writer process {writers_mib:.0f} MiB); "
              f"SQLite FTS5 {args.articles / fts_seconds:,.0f} articles/s"
              + (f"; PostgreSQL {args.articles / pg_seconds:,.0f} articles/s ({pg_mib:.0f} MiB with its indexes, "
                 "two connections, VACUUM ANALYZE included)" if pg else "") + "\n")
        print(f"Opening the index and running a first filtered query: {first_ms:.0f} ms "
              "(each later query reuses the open searcher, as `veille run` and the digests do)\n")
        table(args, index, db, pg)
        if pg:
            print("\nPostgreSQL plans (EXPLAIN, the scans of one query of each kind):\n")
            for kind, queries in QUERIES.items():
                for query in queries:
                    print(f"- {kind}: `{query}`: {explain(pg, query)}")
        db.close()
    finally:
        if pg:
            pg.close()
        if cluster:
            cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def table(args, index, db, pg) -> None:
    p = lambda values, q: sorted(values)[max(0, int(len(values) * q) - 1)]
    print("| query type | whoosh p50 ms | whoosh p95 ms | PostgreSQL p50 ms | PostgreSQL p95 ms | FTS5 p50 ms "
          "| FTS5 p95 ms | whoosh/FTS5 p95 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, queries in QUERIES.items():
        ours, theirs, postgres = [], [], []
        for query in queries:
            ours += timed(lambda: cold(index).search(query, limit=10), args.repeat)
            sql, params = fts_query(query)
            theirs += timed(lambda: db.execute(sql, params).fetchmany(10), args.repeat)
            if pg:
                postgres += timed(lambda: pg.search(query, limit=10), args.repeat)
        pg_cells = f"{statistics.median(postgres):.1f} | {p(postgres, 0.95):.1f}" if pg else "- | -"
        print(f"| {kind} | {statistics.median(ours):.1f} | {p(ours, 0.95):.1f} | {pg_cells} | "
              f"{statistics.median(theirs):.1f} | {p(theirs, 0.95):.1f} | "
              f"{p(ours, 0.95) / max(p(theirs, 0.95), 0.01):.1f}× |")


if __name__ == "__main__":
    sys.exit(main())
