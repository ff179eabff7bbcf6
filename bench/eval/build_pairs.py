"""Rebuild bench/eval/pairs/: labelled document pairs for the dedupe stage.

Every document is real, human-written text (see pairs/README.md):

  (a) Debian manual pages and their human translations (manpages,
      manpages-dev and manpages-{fr,de,es}{,-dev} from Debian bookworm),
      rendered with `man -l` and cut to the first ~3000 characters;
  (b) the articles of veille's fixture site (tests/fixtures/site/);
  (c) articles from the trafilatura 1.0.0 sdist test pages
      (tests/cache/*.html), extracted with veille's own extractor, plus copies
      of them altered the way republication alters text.

Labels: "translation", "copy", "duplicate" (same words, only whitespace
differs) and "different" (hard negatives: same subject, shared names).

    .venv/bin/python bench/eval/build_pairs.py            # download + build
    .venv/bin/python bench/eval/build_pairs.py --check    # only verify pairs/

Downloads go to bench/cache/pairs/ (git-ignored): `apt-get download` for the
Debian packages (run `apt-get update` first on a fresh machine), `pip
download` for the trafilatura sdist. Rendering needs `man` and `col`
(`apt-get install man-db groff-base bsdextrautils`). The output is
deterministic: building twice gives the same files.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "pairs"
DOCS = OUT / "docs"
CACHE = ROOT / "bench" / "cache" / "pairs"
SITE = ROOT / "tests" / "fixtures" / "site"
LANGS = ("en", "fr", "de", "es")
MIN_WORDS = 150

# ---------------------------------------------------------------------------
# (a) manual pages
# ---------------------------------------------------------------------------
DEBS = {  # package -> (language, man root inside the package)
    "manpages": ("en", "usr/share/man"),
    "manpages-dev": ("en", "usr/share/man"),
    "manpages-fr": ("fr", "usr/share/man/fr"),
    "manpages-fr-dev": ("fr", "usr/share/man/fr"),
    "manpages-de": ("de", "usr/share/man/de"),
    "manpages-de-dev": ("de", "usr/share/man/de"),
    "manpages-es": ("es", "usr/share/man/es"),
    "manpages-es-dev": ("es", "usr/share/man/es"),
}
# Pages and the languages they are taken in (every one exists there as a real
# page, not a `.so` alias). Chosen in families that share vocabulary, so
# that different pages make hard negatives: read/write/open/close/dup,
# bind/connect/socket, ip/udp/raw, setenv/putenv/environ, qsort/bsearch,
# getpid/getuid, pipe/fifo, services/protocols.
MAN_PAGES = {
    "man2/bind.2": "en fr de es",
    "man2/connect.2": "en fr de es",
    "man2/getpid.2": "en fr de es",
    "man2/getuid.2": "en fr de es",
    "man2/chdir.2": "en fr de es",
    "man3/setenv.3": "en fr de es",
    "man3/putenv.3": "en fr de es",
    "man3/qsort.3": "en fr de es",
    "man3/bsearch.3": "en fr de es",
    "man5/services.5": "en fr de es",
    "man5/protocols.5": "en fr de es",
    "man7/fifo.7": "en fr de es",
    "man2/open.2": "en fr de",
    "man2/read.2": "en fr de",
    "man2/write.2": "en fr de",
    "man2/close.2": "en fr de",
    "man2/dup.2": "en fr de",
    "man2/fork.2": "en fr de",
    "man2/pipe.2": "en fr de",
    "man2/socket.2": "en fr de",
    "man7/signal.7": "en fr de",
    "man7/environ.7": "en fr de",
    "man7/ip.7": "en fr es",
    "man7/udp.7": "en fr es",
    "man7/raw.7": "en fr es",
}
MAN_BODY_CHARS = 3000  # for the English page; translations get the same share
# Sections that are not part of the page's content (translator credits).
MAN_DROP_SECTIONS = {"TRADUCTION", "ÜBERSETZUNG", "TRADUCCIÓN", "COLOPHON"}
# Hard negatives among manual pages: (page, lang, page, lang).
MAN_DIFFERENT = [
    ("read.2", "en", "write.2", "en"), ("read.2", "fr", "write.2", "fr"),
    ("read.2", "de", "write.2", "de"), ("read.2", "fr", "write.2", "en"),
    ("read.2", "en", "write.2", "de"), ("open.2", "en", "close.2", "en"),
    ("open.2", "fr", "close.2", "de"), ("dup.2", "en", "close.2", "en"),
    ("dup.2", "fr", "close.2", "fr"), ("pipe.2", "en", "fifo.7", "en"),
    ("pipe.2", "de", "fifo.7", "de"), ("pipe.2", "fr", "fifo.7", "es"),
    ("fork.2", "en", "getpid.2", "en"), ("getpid.2", "en", "getuid.2", "en"),
    ("getpid.2", "es", "getuid.2", "es"), ("getpid.2", "fr", "getuid.2", "de"),
    ("getpid.2", "de", "getuid.2", "en"), ("bind.2", "en", "connect.2", "en"),
    ("bind.2", "fr", "connect.2", "fr"), ("bind.2", "de", "connect.2", "de"),
    ("bind.2", "es", "connect.2", "es"), ("bind.2", "es", "connect.2", "en"),
    ("bind.2", "fr", "connect.2", "de"), ("socket.2", "en", "bind.2", "en"),
    ("socket.2", "fr", "connect.2", "en"), ("ip.7", "en", "udp.7", "en"),
    ("ip.7", "fr", "udp.7", "fr"), ("ip.7", "es", "raw.7", "es"),
    ("udp.7", "en", "raw.7", "en"), ("udp.7", "fr", "raw.7", "es"),
    ("ip.7", "fr", "raw.7", "en"), ("ip.7", "en", "socket.2", "en"),
    ("setenv.3", "en", "putenv.3", "en"), ("setenv.3", "fr", "putenv.3", "fr"),
    ("setenv.3", "de", "putenv.3", "de"), ("setenv.3", "es", "putenv.3", "es"),
    ("setenv.3", "es", "putenv.3", "fr"), ("setenv.3", "en", "putenv.3", "de"),
    ("setenv.3", "en", "environ.7", "en"), ("putenv.3", "fr", "environ.7", "fr"),
    ("putenv.3", "de", "environ.7", "en"), ("qsort.3", "en", "bsearch.3", "en"),
    ("qsort.3", "de", "bsearch.3", "de"), ("qsort.3", "es", "bsearch.3", "fr"),
    ("services.5", "en", "protocols.5", "en"),
    ("services.5", "fr", "protocols.5", "fr"), ("services.5", "de", "protocols.5", "en"),
    ("services.5", "es", "protocols.5", "de"), ("signal.7", "en", "environ.7", "en"),
    ("chdir.2", "en", "open.2", "en"), ("chdir.2", "fr", "open.2", "de"),
]

# ---------------------------------------------------------------------------
# (c) articles from the trafilatura 1.0.0 test pages
# ---------------------------------------------------------------------------
TRAFILATURA = "trafilatura==1.0.0"
# file stem -> (language, site domain, site name as a credit line gives it)
ARTICLES = {
    "dw.com.colonial": ("en", "dw.com", "DW"),
    "dw.com.uncork": ("en", "dw.com", "DW"),
    "reuters.com.parasite": ("en", "reuters.com", "Reuters"),
    "nature.com.telescope": ("en", "nature.com", "Nature"),
    "theguardian.com.academics": ("en", "theguardian.com", "The Guardian"),
    "salon.com.emissions": ("en", "salon.com", "Salon"),
    "vancouversun.com.microsoft": ("en", "vancouversun.com", "Vancouver Sun"),
    "vice.com.amazon": ("en", "vice.com", "Vice"),
    "wikimediafoundation.org.turkey": ("en", "wikimediafoundation.org", "Wikimedia Foundation"),
    "threatpost.com.android": ("en", "threatpost.com", "Threatpost"),
    "nationalgeographic.co.uk.goats": ("en", "nationalgeographic.co.uk", "National Geographic"),
    "theplanetarypress.com.forestlands": ("en", "theplanetarypress.com", "The Planetary Press"),
    "blog.wordpress.com.diverse": ("en", "wordpress.com", "The WordPress.com Blog"),
    "theverge.com.ios13": ("en", "theverge.com", "The Verge"),
    "phys.org.tool": ("en", "phys.org", "Phys.org"),
    "zeit.de.zugverkehr": ("de", "zeit.de", "ZEIT ONLINE"),
    "sueddeutsche.de.flixtrain": ("de", "sueddeutsche.de", "Süddeutsche Zeitung"),
    "faz.net.streaming": ("de", "faz.net", "FAZ"),
    "heise.de.lithium": ("de", "heise.de", "heise online"),
    "futurezone.at.lyft": ("de", "futurezone.at", "futurezone"),
    "correctiv.org.zusage": ("de", "correctiv.org", "CORRECTIV"),
    "cnet.de.schutz": ("de", "cnet.de", "CNET.de"),
    "computerbase.de.htc": ("de", "computerbase.de", "ComputerBase"),
    "internet-law.de.pseudonymen": ("de", "internet-law.de", "internet-law.de"),
    "simplyscience.ch.erdoel": ("de", "simplyscience.ch", "SimplyScience"),
    "sonntag-sachsen.de.emanuel": ("de", "sonntag-sachsen.de", "Der Sonntag"),
    "blog.mondediplo.net.turpitude": ("fr", "blog.mondediplo.net", "Le Monde diplomatique"),
    "franceculture.fr.idees": ("fr", "franceculture.fr", "France Culture"),
    "psl.eu.luniversite": ("fr", "psl.eu", "Université PSL"),
    "sauvonsluniversite.com.spip": ("fr", "sauvonsluniversite.fr", "Sauvons l'Université"),
    "soundofscience.fr.1927": ("fr", "soundofscience.fr", "The Sound Of Science"),
}
# Pairs of originals that are hard negatives (same subject or same site).
ARTICLE_DIFFERENT = [
    ("dw.com.colonial", "dw.com.uncork", "same site (DW), different stories"),
    ("salon.com.emissions", "vancouversun.com.microsoft", "same subject: carbon emissions"),
    ("vice.com.amazon", "theplanetarypress.com.forestlands", "same subject: forests, Amazon, climate"),
    ("salon.com.emissions", "theplanetarypress.com.forestlands", "same subject: climate"),
    ("reuters.com.parasite", "vancouversun.com.microsoft", "both Reuters wire stories"),
    ("zeit.de.zugverkehr", "sueddeutsche.de.flixtrain", "same subject: rail, Deutsche Bahn"),
    ("futurezone.at.lyft", "sueddeutsche.de.flixtrain", "same subject: transport companies"),
    ("cnet.de.schutz", "internet-law.de.pseudonymen", "same subject: Google and German data law"),
    ("heise.de.lithium", "computerbase.de.htc", "German tech news"),
    ("psl.eu.luniversite", "sauvonsluniversite.com.spip", "same subject: French universities"),
    ("psl.eu.luniversite", "soundofscience.fr.1927", "same subject: French higher education"),
    ("soundofscience.fr.1927", "sauvonsluniversite.com.spip", "same subject: French research policy"),
    ("theguardian.com.academics", "soundofscience.fr.1927", "same subject: academics, cross-language"),
    ("theguardian.com.academics", "psl.eu.luniversite", "same subject: universities, cross-language"),
    ("wikimediafoundation.org.turkey", "blog.wordpress.com.diverse", "same subject: open web communities"),
    ("threatpost.com.android", "theverge.com.ios13", "same subject: smartphones"),
    ("cnet.de.schutz", "theverge.com.ios13", "tech news, cross-language"),
    ("zeit.de.zugverkehr", "futurezone.at.lyft", "same subject: transport"),
]
# Sites that republish the articles (fictional: .example domains). Their
# furniture is the kind of line real sites wrap around a text; no prose.
REPUBLISHERS = {
    "en": [
        {"name": "Daily Briefing Wire", "domain": "dailybriefing.example",
         "menu": "Home | World | Politics | Business | Tech | Science | Opinion | Video",
         "source": "Source: {site}",
         "newsletter": "Sign up for our newsletter and get the day's top stories straight to your inbox.",
         "related": "Related articles",
         "footer": "© Daily Briefing Wire. All rights reserved. | Privacy | Terms | Contact"},
        {"name": "Newsroom Roundup", "domain": "newsroundup.example",
         "menu": "Menu  News  Climate  Technology  Culture  Science  About us",
         "source": "Source: {site}",
         "newsletter": "Subscribe to our newsletter: the best of the week, every Friday.",
         "related": "You may also like",
         "footer": "Newsroom Roundup — independent news aggregation since 2011. Imprint | Privacy policy"},
    ],
    "de": [
        {"name": "Presseschau Online", "domain": "presseschau.example",
         "menu": "Startseite | Politik | Wirtschaft | Digital | Wissen | Kultur | Sport",
         "source": "Quelle: {site}",
         "newsletter": "Newsletter abonnieren: Die wichtigsten Nachrichten des Tages direkt in Ihr Postfach.",
         "related": "Mehr zum Thema",
         "footer": "© Presseschau Online | Impressum | Datenschutz | Kontakt"},
        {"name": "Nachrichtenkiosk", "domain": "nachrichtenkiosk.example",
         "menu": "Menü  Aktuell  Netzwelt  Mobilität  Gesellschaft  Wissenschaft",
         "source": "Quelle: {site}",
         "newsletter": "Jetzt den Newsletter abonnieren und nichts mehr verpassen.",
         "related": "Das könnte Sie auch interessieren",
         "footer": "Nachrichtenkiosk – Impressum – Datenschutzerklärung – Cookie-Einstellungen"},
    ],
    "fr": [
        {"name": "Revue de presse en ligne", "domain": "revuedepresse.example",
         "menu": "Accueil | Politique | Économie | Société | Culture | Sciences | Éducation",
         "source": "Source : {site}",
         "newsletter": "Inscrivez-vous à notre newsletter et recevez nos articles chaque matin.",
         "related": "À lire aussi",
         "footer": "© Revue de presse en ligne — Mentions légales — Confidentialité — Contact"},
    ],
}
READ_MORE = {"en": "Read more at {domain}", "de": "Weiterlesen auf {domain}",
             "fr": "Lire la suite sur {domain}"}


# ---------------------------------------------------------------------------
# downloads
# ---------------------------------------------------------------------------
def fetch(cache: Path) -> tuple[Path, Path]:
    """Download and unpack the sources; return (man tree root, trafilatura cache dir)."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for pkg in DEBS:
        if not list(debs.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True)
        deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
        target = cache / "man" / pkg
        if not target.exists():
            target.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    sdist = cache / "sdist"
    if not list(sdist.glob("trafilatura-1.0.0.tar.gz")):
        sdist.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        TRAFILATURA, "-d", str(sdist)], check=True)
    tests = sdist / "trafilatura-1.0.0" / "tests" / "cache"
    if not tests.exists():
        with tarfile.open(sdist / "trafilatura-1.0.0.tar.gz") as tar:
            tar.extractall(sdist, filter="data")
    return cache / "man", tests


# ---------------------------------------------------------------------------
# (a) manual pages
# ---------------------------------------------------------------------------
def man_file(man_root: Path, page: str, lang: str) -> Path:
    for pkg, (plang, sub) in DEBS.items():
        if plang != lang:
            continue
        path = man_root / pkg / sub / f"{page}.gz"
        if path.exists() and not path.is_symlink():
            return path
    raise SystemExit(f"no {lang} page {page}")


def render(path: Path) -> list[str]:
    """`MANWIDTH=80 man -l FILE | col -bx`, without hyphenation at line ends."""
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANROFFOPT="-rHY=0")
    out = subprocess.run(["man", "-l", str(path)], env=env, capture_output=True, check=True).stdout
    out = subprocess.run(["col", "-bx"], input=out, capture_output=True, check=True).stdout
    return out.decode("utf-8").split("\n")


_CODE = re.compile(r"[;{}]\s*$|^#include|^(struct|union|typedef)\b|^\S+\s*\(.*\)\s*$")


def man_sections(lines: list[str]) -> list[tuple[str, list[str]]]:
    """[(heading, paragraphs)] of a rendered page, header and footer lines removed."""
    while lines and not lines[-1].strip():
        lines.pop()
    lines = lines[1:-1]  # "read(2)  System Calls Manual  read(2)" ... "Linux man-pages 6.03  ..."
    sections: list[tuple[str, list[str]]] = []
    block: list[str] = []

    def flush():
        if block and sections:
            stripped = [re.sub(r"\s{2,}", " ", b.strip()) for b in block]
            if any(_CODE.search(s) for s in stripped):
                sections[-1][1].append("\n".join(stripped))
            else:
                sections[-1][1].append(" ".join(stripped))
        block.clear()

    for line in lines:
        if line.strip() and not line[0].isspace():
            flush()
            sections.append((line.strip(), []))
        elif not line.strip():
            flush()
        else:
            block.append(line)
    flush()
    return sections


def man_doc(man_root: Path, page: str, lang: str) -> tuple[str, list[str]]:
    """(title, full body paragraphs) of one page in one language."""
    sections = man_sections(render(man_file(man_root, page, lang)))
    title = " ".join(sections[0][1])  # NAME / NOM / BEZEICHNUNG / NOMBRE
    body: list[str] = []
    for heading, paras in sections[1:]:
        if heading.upper() in MAN_DROP_SECTIONS:
            continue
        body.append(heading)
        body.extend(paras)
    return title, body


def cut(paragraphs: list[str], limit: float) -> list[str]:
    """The first paragraphs, up to about `limit` characters; never ends on a heading."""
    kept: list[str] = []
    total = 0
    for para in paragraphs:
        if total >= limit:
            break
        kept.append(para)
        total += len(para) + 2
    while kept and _is_heading(kept[-1]):
        kept.pop()
    return kept


def _is_heading(para: str) -> bool:
    return para.upper() == para and len(para.split()) <= 4 and "\n" not in para


def build_man(man_root: Path) -> tuple[dict, list[dict], list[str]]:
    docs: dict[str, dict] = {}
    pairs: list[dict] = []
    notes: list[str] = []
    for page, langs in MAN_PAGES.items():
        name = page.split("/")[1]
        full = {lang: man_doc(man_root, page, lang) for lang in langs.split()}
        en_len = sum(len(p) + 2 for p in full["en"][1])
        en_paras = {norm(p) for p in full["en"][1] if len(p.split()) >= 8}
        for lang, (title, body) in full.items():
            share = sum(len(p) + 2 for p in body) / en_len
            kept = cut(body, MAN_BODY_CHARS * share)
            path = f"docs/man-{name}-{lang}.txt"
            docs[path] = {"title": title, "paragraphs": kept, "lang": lang,
                          "source": f"Debian {page} ({lang})"}
            if lang != "en":
                untranslated = [p for p in kept if norm(p) in en_paras and _english_prose(p)]
                if untranslated:
                    share = sum(len(p) for p in untranslated) / sum(len(p) for p in kept)
                    docs[path]["untranslated"] = f"{len(untranslated)} paragraphs, {share:.0%} of the text"
                    notes.append(f"{path}: {len(untranslated)} paragraph(s) left in English, e.g. "
                                 f"{untranslated[0][:90]!r}")
        for a, b in itertools.combinations(full, 2):
            pairs.append(pair(f"docs/man-{name}-{a}.txt", f"docs/man-{name}-{b}.txt", "translation",
                              f"manpage {name}: Debian human translation ({a}/{b})"))
    for pa, la, pb, lb in MAN_DIFFERENT:
        pairs.append(pair(f"docs/man-{pa}-{la}.txt", f"docs/man-{pb}-{lb}.txt", "different",
                          f"manpages {pa} vs {pb}: different pages, shared vocabulary"))
    return docs, pairs, notes


_EN_WORDS = re.compile(r"\b(the|of|is|are|and|to|by|which|with|this|that|be|from|on)\b", re.I)


def _english_prose(text: str) -> bool:
    """An English sentence, not a prototype or a list of references."""
    return len(_EN_WORDS.findall(text)) >= 3


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


# ---------------------------------------------------------------------------
# (b) fixture site
# ---------------------------------------------------------------------------
SITE_TRANSLATIONS = {("observatoire/nice-contrat-reconnaissance-faciale.html",
                      "watchdog/nice-facial-recognition-contract.html")}


def build_site() -> tuple[dict, list[dict]]:
    sys.path.insert(0, str(ROOT / "src"))
    from veille.stages.extract import extract

    manifest = json.loads((SITE / "MANIFEST.json").read_text(encoding="utf-8"))
    docs: dict[str, dict] = {}
    paths = {}
    for entry in sorted(manifest, key=lambda e: e["path"]):
        rel = entry["path"]
        html = (SITE / rel).read_text(encoding="utf-8")
        e = extract(html, "http://x/" + rel)
        path = "docs/site-" + rel.replace("/", "-").removesuffix(".html") + ".txt"
        # The manifest's title: veille's extractor cuts French titles at " : ".
        docs[path] = {"title": entry.get("title") or e.title,
                      "paragraphs": [p.strip() for p in e.text.split("\n") if p.strip()],
                      "lang": entry["lang"], "source": f"tests/fixtures/site/{rel}"}
        paths[rel] = path
    pairs = []
    for a, b in itertools.combinations(sorted(paths), 2):
        if (a, b) in SITE_TRANSLATIONS or (b, a) in SITE_TRANSLATIONS:
            pairs.append(pair(paths[a], paths[b], "translation",
                              "fixture site: English translation of a French article (hreflang)"))
        else:
            pairs.append(pair(paths[a], paths[b], "different",
                              "fixture site: two different surveillance articles (shared topics and names)"))
    return docs, pairs


# ---------------------------------------------------------------------------
# (c) articles and their copies
# ---------------------------------------------------------------------------
def build_articles(tests: Path) -> tuple[dict, list[dict]]:
    sys.path.insert(0, str(ROOT / "src"))
    from veille.stages.extract import extract

    originals: dict[str, dict] = {}
    for stem, (lang, domain, site) in ARTICLES.items():
        raw = (tests / f"{stem}.html").read_bytes()
        try:
            html = raw.decode("utf-8")
        except UnicodeDecodeError:
            html = raw.decode("latin-1")
        e = extract(html, f"https://{stem}.html")
        paragraphs = [p.strip() for p in e.text.split("\n") if p.strip()]
        originals[stem] = {"title": e.title.strip(), "paragraphs": paragraphs, "lang": lang,
                           "source": f"trafilatura 1.0.0 tests/cache/{stem}.html"}

    docs: dict[str, dict] = {}
    pairs: list[dict] = []
    by_site: dict[str, list[str]] = collections.defaultdict(list)
    site_turn = collections.Counter()
    stems = list(ARTICLES)
    for i, stem in enumerate(stems):
        lang, domain, site_name = ARTICLES[stem]
        orig = originals[stem]
        family = {f"docs/art-{stem}.txt": ("original", render_doc(orig))}
        docs[f"docs/art-{stem}.txt"] = dict(orig, text=render_doc(orig))
        variants = [["boilerplate", "truncated", "damaged"], ["boilerplate", "damaged"],
                    ["truncated"]][i % 3]
        if i % 4 == 1:
            variants = variants + ["rewrapped"]
        rng = Rng(stem)
        for variant in variants:
            path = f"docs/art-{stem}.{variant}.txt"
            if variant == "boilerplate":
                sites = REPUBLISHERS[lang]
                rep = sites[site_turn[lang] % len(sites)]
                site_turn[lang] += 1
                same_lang = [s for s in stems if ARTICLES[s][0] == lang and s != stem]
                teased = [same_lang[(i * 7 + k * 3) % len(same_lang)] for k in range(2)]
                teased = list(dict.fromkeys(teased))
                text = boilerplate_copy(orig, rep, site_name, [originals[t] for t in teased])
                kind = f"republished on {rep['name']} with its menu, credit line, newsletter prompt and related-articles teasers"
                by_site[rep["domain"]].append(path)
                for t in teased:
                    pairs.append(pair(path, f"docs/art-{t}.txt", "different",
                                      f"copy of {stem} on {rep['name']} whose teaser block quotes the start of {t}"))
            elif variant == "truncated":
                text, share = truncated_copy(orig, lang, domain, rng)
                kind = f"truncated republication: first {share:.0%} of the text and a read-more line"
            elif variant == "damaged":
                text, how = damaged_copy(orig, rng)
                kind = f"typographic damage: {how}"
            else:
                text = rewrapped_copy(orig, rng)
                kind = "same words, only whitespace changed (hard-wrapped lines)"
            docs[path] = {"text": text, "lang": lang, "source": f"copy of docs/art-{stem}.txt ({variant})"}
            family[path] = (kind, text)
        for (pa, (ka, ta)), (pb, (kb, tb)) in itertools.combinations(family.items(), 2):
            relation = "duplicate" if ta.split() == tb.split() else "copy"
            kind = kb if ka == "original" else f"two copies of {stem}: [{ka}] vs [{kb}]"
            pairs.append(pair(pa, pb, relation, kind))
    for domain, paths in sorted(by_site.items()):
        for a, b in zip(paths, paths[1:]):
            pairs.append(pair(a, b, "different",
                              f"two different articles republished on {domain}: same boilerplate, different story"))
    for a, b, why in ARTICLE_DIFFERENT:
        pairs.append(pair(f"docs/art-{a}.txt", f"docs/art-{b}.txt", "different", f"real articles: {why}"))
    return docs, pairs


class Rng:
    """A tiny deterministic generator seeded by a name (no dependence on PYTHONHASHSEED)."""

    def __init__(self, name: str):
        self.state = zlib.crc32(name.encode("utf-8")) or 1

    def random(self) -> float:
        self.state = (self.state * 1103515245 + 12345) % 2**31
        return self.state / 2**31

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randint(self, lo: int, hi: int) -> int:
        return lo + int(self.random() * (hi - lo + 1))


def render_doc(doc: dict) -> str:
    return doc["title"] + "\n\n" + "\n\n".join(doc["paragraphs"]) + "\n"


def teaser(doc: dict, words: int = 18) -> str:
    first = " ".join(doc["paragraphs"][0].split()[:words]).rstrip(",;:.")
    return f"{doc['title']}\n{first}…"


def boilerplate_copy(orig: dict, rep: dict, site_name: str, teased: list[dict]) -> str:
    top = [rep["name"], rep["menu"], rep["source"].format(site=site_name)]
    bottom = [rep["newsletter"], rep["related"]] + [teaser(t) for t in teased] + [rep["footer"]]
    return orig["title"] + "\n\n" + "\n\n".join(top + orig["paragraphs"] + bottom) + "\n"


def truncated_copy(orig: dict, lang: str, domain: str, rng: Rng) -> tuple[str, float]:
    """The first 85-95 % of the text (cut after a sentence) and a read-more line."""
    text = "\n\n".join(orig["paragraphs"])
    target = len(text) * (0.86 + 0.08 * rng.random())
    ends = [m.end() for m in re.finditer(r"[.!?…»“”\"]\s", text)
            if 0.85 * len(text) <= m.end() <= 0.95 * len(text)]
    if ends:
        end = min(ends, key=lambda e: abs(e - target))
    else:  # no sentence ends in the window: cut between words
        end = text.rindex(" ", 0, int(target))
    kept = text[:end].rstrip()
    body = kept + "\n\n" + READ_MORE[lang].format(domain=domain)
    return orig["title"] + "\n\n" + body + "\n", len(kept) / len(text)


_QUOTES_STRAIGHT = str.maketrans({"’": "'", "‘": "'", "‚": "'", "“": '"', "”": '"', "„": '"',
                                  "«": '"', "»": '"', "–": "-", "—": "-", "…": "..."})
_QUOTES_BROKEN = str.maketrans({"’": "?", "‘": "?", "‚": "?", "“": "?", "”": "?", "„": "?",
                                "«": "?", "»": "?", "–": "?", "—": "?", "…": "?"})


def damaged_copy(orig: dict, rng: Rng) -> tuple[str, str]:
    """Curly quotes straightened or turned into '?', lines re-broken, one paragraph dropped."""
    broken = rng.random() < 0.5
    table = _QUOTES_BROKEN if broken else _QUOTES_STRAIGHT
    paragraphs = list(orig["paragraphs"])
    candidates = [k for k in range(1, len(paragraphs) - 1) if len(paragraphs[k].split()) >= 15]
    dropped = rng.choice(candidates) if candidates else len(paragraphs) - 1
    dropped_words = len(paragraphs[dropped].split())
    del paragraphs[dropped]
    width = rng.randint(60, 78)
    wrapped = ["\n".join(textwrap.wrap(p.translate(table), width, break_long_words=False,
                                       break_on_hyphens=False)) for p in paragraphs]
    title = orig["title"].translate(table)
    how = (f"curly quotes and dashes {'replaced by ?' if broken else 'made straight'}, "
           f"lines re-broken at {width} columns, paragraph {dropped + 1} ({dropped_words} words) dropped")
    return title + "\n\n" + "\n\n".join(wrapped) + "\n", how


def rewrapped_copy(orig: dict, rng: Rng) -> str:
    width = rng.randint(64, 76)
    wrapped = ["\n".join(textwrap.wrap(p, width, break_long_words=False, break_on_hyphens=False))
               for p in orig["paragraphs"]]
    return orig["title"] + "\n\n" + "\n\n".join(wrapped) + "\n"


# ---------------------------------------------------------------------------
# output and checks
# ---------------------------------------------------------------------------
def pair(a: str, b: str, relation: str, kind: str) -> dict:
    return {"a": a, "b": b, "relation": relation, "kind": kind}


def write(docs: dict, pairs: list[dict]) -> None:
    if DOCS.exists():
        shutil.rmtree(DOCS)
    DOCS.mkdir(parents=True)
    for path, doc in sorted(docs.items()):
        text = doc.get("text") or render_doc(doc)
        (OUT / path).write_text(text, encoding="utf-8")
    with (OUT / "pairs.jsonl").open("w", encoding="utf-8") as fh:
        for p in pairs:
            row = {"a": p["a"], "b": p["b"], "relation": p["relation"], "kind": p["kind"],
                   "lang_a": docs[p["a"]]["lang"], "lang_b": docs[p["b"]]["lang"]}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    langs = {path: doc["lang"] for path, doc in sorted(docs.items())}
    (OUT / "docs.json").write_text(json.dumps(
        {path: {k: doc[k] for k in ("lang", "source", "untranslated") if k in doc}
         for path, doc in sorted(docs.items())},
        ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert len(langs) == len(docs)


def check(out: Path = OUT) -> int:
    """Verify pairs/: files exist, every doc is paired, labels are consistent; print counts."""
    errors: list[str] = []
    rows = [json.loads(line) for line in (out / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    docs = sorted(p.relative_to(out).as_posix() for p in (out / "docs").glob("*.txt"))
    seen = set()
    related: dict[str, set[str]] = collections.defaultdict(set)
    labels: dict[frozenset, str] = {}
    for r in rows:
        for key in ("a", "b", "relation", "kind", "lang_a", "lang_b"):
            if key not in r:
                errors.append(f"missing {key}: {r}")
        if r["relation"] not in ("translation", "copy", "duplicate", "different"):
            errors.append(f"bad relation {r}")
        for side in ("a", "b"):
            if not (out / r[side]).is_file():
                errors.append(f"missing file {r[side]}")
            seen.add(r[side])
        key = frozenset((r["a"], r["b"]))
        if len(key) != 2:
            errors.append(f"self pair {r}")
        if key in labels:
            errors.append(f"pair listed twice: {r['a']} {r['b']}")
        labels[key] = r["relation"]
        if r["relation"] != "different":
            related[r["a"]].add(r["b"])
            related[r["b"]].add(r["a"])
    for d in docs:
        if d not in seen:
            errors.append(f"{d} is in no pair")
        text = (out / d).read_text(encoding="utf-8")
        lines = text.split("\n")
        if not lines[0].strip() or (len(lines) > 1 and lines[1].strip()):
            errors.append(f"{d}: first line must be a title followed by a blank line")
        words = len(text.split())
        if words < MIN_WORDS:
            errors.append(f"{d}: only {words} words")
    # closure: every two documents related through a chain must be listed, and never as "different"
    comp: dict[str, int] = {}
    for start in sorted(related):
        if start in comp:
            continue
        stack, comp[start] = [start], len(comp)
        members = [start]
        while stack:
            for nxt in related[stack.pop()]:
                if nxt not in comp:
                    comp[nxt] = comp[start]
                    stack.append(nxt)
                    members.append(nxt)
        for a, b in itertools.combinations(members, 2):
            label = labels.get(frozenset((a, b)))
            if label is None:
                errors.append(f"related but not listed: {a} {b}")
            elif label == "different":
                errors.append(f"related through a chain but labelled different: {a} {b}")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    counts = collections.Counter(r["relation"] for r in rows)
    by_lang = collections.Counter((r["relation"], "-".join(sorted((r["lang_a"], r["lang_b"])))) for r in rows)
    doc_langs = collections.Counter(json.loads((out / "docs.json").read_text())[d]["lang"] for d in docs)
    print(f"{len(docs)} documents ({', '.join(f'{k} {v}' for k, v in sorted(doc_langs.items()))}), "
          f"{len(rows)} pairs, {size / 1e6:.2f} MB")
    for rel in ("translation", "copy", "duplicate", "different"):
        detail = ", ".join(f"{lp} {n}" for (r, lp), n in sorted(by_lang.items()) if r == rel)
        print(f"  {rel:12s} {counts[rel]:4d}   {detail}")
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=CACHE, help="download folder (default bench/cache/pairs)")
    parser.add_argument("--check", action="store_true", help="only verify the committed set")
    args = parser.parse_args()
    if args.check:
        return check()
    for tool in ("man", "col", "apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: apt-get install man-db groff-base bsdextrautils")
    man_root, tests = fetch(args.cache)
    docs, pairs = {}, []
    man_docs, man_pairs, notes = build_man(man_root)
    site_docs, site_pairs = build_site()
    art_docs, art_pairs = build_articles(tests)
    for d in (man_docs, site_docs, art_docs):
        docs.update(d)
    pairs = man_pairs + site_pairs + art_pairs
    write(docs, pairs)
    for note in notes:
        print("untranslated:", note)
    return check()


if __name__ == "__main__":
    sys.exit(main())
