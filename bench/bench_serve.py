"""veille serve under load: the search page's server time at N articles, then C clients at once.

    .venv/bin/python bench/bench_serve.py [--articles 100000] [--clients 50] [--keep DIR]

Builds an archive of N articles (bench_search.py's generator: real sentences in four languages,
entity keys, topic tags, dates; one story per article, every tenth with a copy) and its index
(`veille reindex`), or reuses the one in --keep DIR. Starts `veille serve` on a free port of
127.0.0.1 and asks for the search page (results, snippets, "also in", facets) with bench_search's
queries: p50 / p95 of the server's own time (its Server-Timing header) over --repeat runs of each,
by query type. Then --clients clients ask at once, --per-client pages each: errors, p50 / p95 of
what a client waits (queueing included), pages per second. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import QUERIES, generate  # noqa: E402

from veille.models import Entity  # noqa: E402
from veille.pipeline import reindex  # noqa: E402
from veille.storage import open_archive  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def build(folder: Path, count: int) -> None:
    """N articles in the archive, each in a story (every tenth with a copy), and the index."""
    docs = generate(count, random.Random(5))
    archive = open_archive(folder)
    started = time.perf_counter()
    try:
        for offset in range(0, len(docs), 2000):
            with archive.transaction():
                for n, (article, keys, tags) in enumerate(docs[offset:offset + 2000], start=offset):
                    article.url = f"https://source-{n % 40}.example/{article.id}"
                    article.fetched = f"{article.published}T12:00:00Z"
                    article.entities = [Entity(text=k, label="ORG", start=0, end=0, key=k, origin="bench") for k in keys]
                    article.tags = tags
                    archive.save_article(article, article.fetched)
                    original = docs[n - 1][0].id if n % 10 == 9 else article.id
                    members = [{"article_id": article.id, "relation": "copy" if original != article.id else "original",
                                "linked_to": None if original == article.id else original, "score": None,
                                "evidence": None, "explicit": 0}]
                    archive.write_story(f"s{original}", original, members, replace=False)
        print(f"archive: {count:,} articles stored in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        reindex(archive)
        print(f"index: built in {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        archive.close()


def serve(folder: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT / "src"))
    process = subprocess.Popen([sys.executable, "-m", "veille", "--archive", str(folder), "serve", "--port", "0"],
                               stdout=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()
    return process, re.search(r"(http://\S+/)", line).group(1)


def server_ms(response: httpx.Response) -> float:
    return float(response.headers["server-timing"].split("dur=")[1])


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def sequential(url: str, repeat: int) -> list[float]:
    everything = []
    with httpx.Client(timeout=120) as client:
        print("| query type | p50 ms | p95 ms |\n|---|---:|---:|")
        for kind, queries in QUERIES.items():
            times = []
            for query in queries:
                client.get(url, params={"q": query})  # its filter sets, as a server that has been running has them
                for _ in range(repeat):
                    response = client.get(url, params={"q": query})
                    assert response.status_code == 200, (query, response.status_code)
                    times.append(server_ms(response))
            everything += times
            print(f"| {kind} | {p(times, 50):.1f} | {p(times, 95):.1f} |")
    print(f"| all | {p(everything, 50):.1f} | {p(everything, 95):.1f} |")
    with httpx.Client(timeout=120) as client:  # not the search page: a trend chart (12 counts) and facets
        for path in ("entity/palantir", "tag/facial-recognition"):
            client.get(url + path)
            times = [server_ms(client.get(url + path)) for _ in range(repeat)]
            print(f"| page /{path} | {p(times, 50):.1f} | {p(times, 95):.1f} |")
    return everything


async def concurrent(url: str, clients: int, per_client: int) -> None:
    pages = [f"{url}?{urlencode({'q': q})}" for queries in QUERIES.values() for q in queries]
    waits, errors = [], 0

    async def one(client: httpx.AsyncClient, n: int) -> None:
        nonlocal errors
        for k in range(per_client):
            started = time.perf_counter()
            try:
                response = await client.get(pages[(n + k) % len(pages)])
                errors += response.status_code != 200
            except httpx.HTTPError:
                errors += 1
            waits.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one(client, n) for n in range(clients)))
        seconds = time.perf_counter() - started
    print(f"{clients} clients × {per_client} pages: {errors} errors; a client waits p50 {p(waits, 50):.0f} ms, "
          f"p95 {p(waits, 95):.0f} ms; {len(waits) / seconds:.1f} pages/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="Build the archive here once, and reuse it.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp()) / "archive"
    if not (folder / "veille.db").exists():
        build(folder, args.articles)
    process, url = serve(folder)
    try:
        print(f"search page at {args.articles:,} articles, server time over {args.repeat} runs of each query:")
        sequential(url, args.repeat)
        asyncio.run(concurrent(url, args.clients, args.per_client))
    finally:
        process.terminate()
        process.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
