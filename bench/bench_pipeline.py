"""Benchmark of the archive pipeline, stage by stage and end to end.

Stages: fetch, extract, language, tag (entities and topics), store.

Serves N generated article pages (real paragraphs from the seeds, in French
and English, wrapped in menus, cookie banners and reader comments) on
127.0.0.1 with one RSS feed listing them, then measures articles per second
for each stage (fetch, extract, language, store) and for `fetch_sources` end
to end, plus the process's peak memory. Prints a Markdown table.

    .venv/bin/python bench/bench_pipeline.py [--pages 300]

It is a measurement, not a test: figures vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from veille import pipeline
from veille.config.settings import Settings, parse_config
from veille.dev.devserver import FixtureServer
from veille.stages.extract import extract
from veille.net.client import Fetcher
from veille.stages.language import detect
from veille.models import Article
from veille.stages.plaintext import clean
from veille.storage.sqlite.store import Archive

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>{title} | Bench Site</title><meta property="og:site_name" content="Bench Site">
<meta name="author" content="Bench Author"><meta property="article:published_time" content="2026-03-{day:02d}">
</head><body>
<header><nav><ul><li><a href="/">Accueil</a></li><li><a href="/about">À propos</a></li>
<li><a href="/contact">Contact</a></li><li><a href="/don">Faire un don</a></li></ul></nav></header>
<div class="cookie-banner">Nous utilisons des cookies pour améliorer votre expérience. <button>OK</button></div>
<main><article><h1>{title}</h1><p class="byline">Par Bench Author, le {day} mars 2026</p>
{paragraphs}
</article>
<aside><h3>À lire aussi</h3><ul><li><a href="/x">Autre article sur la surveillance</a></li></ul></aside>
<section id="comments" class="comments-area"><h2>3 commentaires</h2><ol class="comment-list">
<li class="comment"><p>Premier commentaire d'un lecteur mécontent qui n'a pas lu l'article.</p></li>
<li class="comment"><p>Second comment from a reader who disagrees with everything said above.</p></li>
</ol></section></main>
<footer><p>© 2026 Bench Site · Mentions légales · Newsletter</p></footer></body></html>"""


def seed_paragraphs() -> dict[str, list[str]]:
    by_lang: dict[str, list[str]] = {"fr": [], "en": []}
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        cleaned = clean(path.read_text(encoding="utf-8"))
        lang = detect(cleaned.text).code
        if lang in by_lang:
            by_lang[lang].extend(p for p in cleaned.text.split("\n") if len(p) > 80)
    return by_lang


def make_site(server: FixtureServer, count: int) -> list[str]:
    rng = random.Random(7)
    paragraphs = seed_paragraphs()
    urls, items = [], []
    for n in range(count):
        lang = "fr" if n % 2 else "en"
        chosen = rng.sample(paragraphs[lang], k=min(8, len(paragraphs[lang])))
        title = f"{'Article' if lang == 'en' else 'Article'} {n}: " + chosen[0][:60].rsplit(" ", 1)[0]
        body = "\n".join(f"<p>{p}</p>" for p in chosen)
        path = f"/articles/{n}.html"
        server.pages[path] = TEMPLATE.format(lang=lang, title=title, day=1 + n % 28, paragraphs=body).encode()
        urls.append(server.url + path)
        items.append(f"<item><title>{title}</title><link>{{BASE_URL}}{path}</link><guid>{path}</guid></item>")
    feed = "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Bench</title>"
    server.pages["/feed.xml"] = (feed + "".join(items) + "</channel></rss>").encode()
    return urls


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, count: int, work, rows: list) -> object:
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    rows.append((label, count, seconds, count / seconds if seconds else float("inf"), peak_mib()))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    rows: list = []
    with FixtureServer() as server, tempfile.TemporaryDirectory() as tmp:
        urls = make_site(server, args.pages)
        settings = Settings(timeout=20, host_delay=0)  # politeness waits on purpose; this measures work
        with Fetcher(settings) as fetcher:
            responses = timed("fetch (1 connection)", len(urls), lambda: [fetcher.get(u) for u in urls], rows)
        htmls = [(r.text(), r.url) for r in responses]
        extracted = timed("extract (trafilatura)", len(htmls), lambda: [extract(h, u) for h, u in htmls], rows)
        langs = timed("language (py3langid)", len(extracted), lambda: [detect(e.text) for e in extracted], rows)
        taggers = pipeline.Taggers()
        taggers.tag([Article(id="warm", url="", source="", text=e.text, lang=l.code)
                     for e, l in list(zip(extracted, langs))[:2]])  # load the models outside the timing
        tagged = [Article(id=f"{n:016x}", url="", source="bench", text=e.text, lang=l.code)
                  for n, (e, l) in enumerate(zip(extracted, langs))]

        def tag() -> None:
            for start in range(0, len(tagged), 32):
                taggers.tag(tagged[start:start + 32])

        timed("tag (spaCy NER, gazetteer, topics)", len(tagged), tag, rows)

        def store() -> None:
            with Archive(Path(tmp) / "stage") as archive:
                for n, (e, lang, (html, url)) in enumerate(zip(extracted, langs, htmls)):
                    archive.save_article(Article(
                        id=f"{n:016x}", url=url, source="bench", text=e.text, title=e.title,
                        lang=lang.code, lang_confidence=lang.confidence, lang_reason=lang.reason,
                        extractor=e.extractor, raw=html.encode()), "2026-01-01T00:00:00Z")

        timed("store (SQLite, 1 txn/article)", len(htmls), store, rows)
        config = parse_config(f"settings:\n  host_delay: 0\nsources:\n  - name: bench\n    url: {server.url}/feed.xml\n",
                              Path("bench.yaml"))

        def end_to_end() -> None:
            with Archive(Path(tmp) / "e2e") as archive:
                report = pipeline.fetch_sources(config, archive, taggers=taggers)
                assert report.counts["new"] == len(urls), report.counts

        timed("end to end (veille fetch)", len(urls), end_to_end, rows)

    print(f"veille pipeline benchmark, {args.pages} pages, {date.today()}, "
          f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}, "
          f"{__import__('os').cpu_count()} cores\n")
    print("| stage | articles | seconds | articles/s | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for label, count, seconds, rate, rss in rows:
        print(f"| {label} | {count} | {seconds:.2f} | {rate:.1f} | {rss:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
