"""Build bench/eval/translations/: real human translations in many languages and scripts.

A second pairs set for the story stage, made only of Debian's human
translations, in two splits by family (see translations/README.md):

  dev/       tune thresholds here, and only here;
  heldout/   report these figures; never tune on them.

Each split is a complete pairs folder (docs/*.txt, pairs.jsonl, docs.json),
the same format as bench/eval/pairs, so `bench/bench_stories.py --pairs
bench/eval/translations/dev` scores it.

Sources (Debian bookworm):
  (a) manual pages: coreutils, diffutils and manpages(-dev) in English,
      manpages-l10n (cs de es fr it nl pl pt_BR ro ru sv uk vi) and the
      Japanese (manpages-ja) and Chinese (manpages-zh) projects;
  (b) documentation: debian-reference, maint-guide and debian-faq in every
      translation Debian ships (zh-tw left out: it is largely a script
      conversion of zh-cn, not a translation).

Labels: "translation" (every language pair of one page or section) and
"different" (hard negatives: other pages of the same family, other
sections of the same chapter, in one language and across languages).

    .venv/bin/python bench/eval/build_translations.py           # download, build, verify
    .venv/bin/python bench/eval/build_translations.py --check   # only verify

Downloads go to bench/cache/translations/ (git-ignored): `apt-get
download` for the packages (run `apt-get update` first on a fresh machine),
then `dpkg-deb -x`. Rendering needs `man` and `col` (`apt-get install
man-db groff-base bsdextrautils`). The output is deterministic.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "translations"
CACHE = ROOT / "bench" / "cache" / "translations"
SPLITS = ("dev", "heldout")

MAN_LANGS = ("en", "cs", "de", "es", "fr", "it", "ja", "nl", "pl", "pt_BR", "ro", "ru", "sv", "uk", "vi", "zh_CN")
MAN_DEBS = ["coreutils", "diffutils", "manpages", "manpages-dev", "manpages-ja", "manpages-ja-dev", "manpages-zh"] + [
    f"manpages-{lang}{dev}" for lang in ("cs", "de", "es", "fr", "it", "nl", "pl", "pt-br", "ru", "uk")
    for dev in ("", "-dev")] + ["manpages-ro", "manpages-sv", "manpages-vi"]
# Families of pages that share vocabulary, options and references: the pages
# of one family are each other's hard negatives, and a family is never split.
MAN_FAMILIES = {
    "files": ["man1/cp.1", "man1/mv.1", "man1/ln.1", "man1/rm.1"],
    "dirs": ["man1/mkdir.1", "man1/rmdir.1", "man1/touch.1"],
    "owners": ["man1/chown.1", "man1/chgrp.1", "man1/chmod.1"],
    "disks": ["man1/df.1", "man1/du.1", "man1/dd.1"],
    "text": ["man1/head.1", "man1/tail.1", "man1/sort.1", "man1/cut.1"],
    "system": ["man1/id.1", "man1/who.1", "man1/uname.1", "man1/date.1"],
    "misc": ["man1/diff.1", "man1/md5sum.1", "man1/ls.1", "man1/cat.1"],
    "etc": ["man5/group.5", "man5/shells.5", "man5/issue.5", "man5/hosts.5"],
    "reference": ["man7/hier.7", "man7/ascii.7"],
    "syscalls": ["man2/execve.2", "man2/unlink.2", "man2/rename.2", "man2/lseek.2", "man3/fopen.3"],
}
MAN_BODY_CHARS = 3000  # of the English page; a translation keeps the same sections
MAN_DROP = re.compile(r"^(TRANSLATION|TRADUCTION|ÜBERSETZUNG|TRADUCCIÓN|TRADUZIONE|TŁUMACZENIE|PŘEKLAD|VERTALING|"
                      r"ПЕРЕВОД|ПЕРЕКЛАД|TRADUÇÃO|ÖVERSÄTTNING|TRADUCERE|BẢN DỊCH|翻訳者|翻译|跋|COLOPHON|"
                      r"AUTHOR|AUTEUR|AUTOR|AUTORI|AUTORZY|AUTOŘI|AUTEURS|АВТОР|АВТОРЫ|АВТОРИ|FÖRFATTARE|"
                      r"TÁC GIẢ|作者|著者)", re.I)

# (b) documentation: package stem -> languages (Debian's spelling)
GUIDES = {
    "debian-reference": ("de es fr id it ja pt zh-cn", "debian-reference-{lang}", "debian-reference-en"),
    "maint-guide": ("ca de es fr it ja ru vi zh-cn", "maint-guide-{lang}", "maint-guide"),
    # developers-reference (de fr it ja ru) is left out for now: its Sphinx chapters nest every
    # section in the chapter's own, so the section picker below finds no two separate units.
    "debian-faq": ("de fr it ja ko nl pt ru zh-cn", "debian-faq-{lang}", "debian-faq"),
}
UNITS_PER_CHAPTER = 2  # sections taken from one chapter (each other's hard negatives)
CHAPTERS_PER_GUIDE = 5
SECTION_MIN = 1800  # characters of English text for a section to be a unit
SECTION_CHARS = 3000  # cut after this much English text (same blocks in every language)
MAX_UNTRANSLATED = 0.5  # a "translation" more than half left in English is no translation: left out

_CJK = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"  # not Hangul: Korean is spaced
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_EN_WORDS = re.compile(r"\b(the|of|is|are|and|to|by|which|with|this|that|be|from|on|you|for)\b", re.I)


def squash(text: str) -> str:
    """One line; no space left between two CJK characters that a line break had split."""
    return _CJK_GAP.sub("", " ".join(text.split()))


def english_prose(text: str) -> bool:
    return len(_EN_WORDS.findall(text)) >= 3


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


# ---------------------------------------------------------------------------
# downloads
# ---------------------------------------------------------------------------
def fetch(cache: Path) -> Path:
    debs = cache / "debs"
    root = cache / "root"
    debs.mkdir(parents=True, exist_ok=True)
    wanted = MAN_DEBS + [name for stem, (langs, pattern, en) in GUIDES.items()
                         for name in [en] + [pattern.format(lang=lang) for lang in langs.split()]]
    missing = [p for p in wanted if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True)
    if not root.exists():
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


# ---------------------------------------------------------------------------
# (a) manual pages
# ---------------------------------------------------------------------------
def man_path(root: Path, page: str, lang: str) -> Path | None:
    base = root / "usr/share/man" / ("" if lang == "en" else lang) / f"{page}.gz"
    if not base.is_file() or base.is_symlink():
        return None
    with gzip.open(base) as fh:
        if fh.read(4) == b".so ":
            return None
    return base


def render(path: Path) -> list[str]:
    """`man -l FILE | col -bx`, 80 columns, no hyphenation and no justification (no padding spaces)."""
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANROFFOPT="-rHY=0 -dAD=l")
    # Run beside the file: given the full path of a page under another man tree, man-db can hang.
    out = subprocess.run(["man", "-l", path.name], cwd=path.parent, env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, check=True, timeout=120).stdout
    out = subprocess.run(["col", "-bx"], input=out, capture_output=True, check=True).stdout
    return out.decode("utf-8", "replace").split("\n")


def man_sections(lines: list[str]) -> list[tuple[str, list[str]]]:
    """[(heading, paragraphs)] of a rendered page, header and footer lines removed."""
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    lines = lines[1:-1]
    sections: list[tuple[str, list[str]]] = []
    block: list[str] = []

    def flush():
        if block and sections:
            sections[-1][1].append(squash(" ".join(block)))
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
    return [(h, [p for p in paras if p]) for h, paras in sections]


def man_doc(root: Path, page: str, lang: str) -> tuple[str, list[tuple[str, list[str]]]] | None:
    path = man_path(root, page, lang)
    if path is None:
        return None
    sections = man_sections(render(path))
    if not sections or not sections[0][1]:
        return None
    title = sections[0][1][0]
    body = [(h, paras) for h, paras in sections[1:] if not MAN_DROP.match(h)]
    return title, body


def man_cut(en_body: list, body: list) -> list[str]:
    """The first sections of the English page up to ~MAN_BODY_CHARS; a translation with the same
    number of sections keeps as many sections (the same content), else the same share of its text."""
    count, total = 0, 0
    for heading, paras in en_body:
        if total >= MAN_BODY_CHARS:
            break
        count += 1
        total += sum(len(p) for p in paras)
    if len(body) == len(en_body):
        chosen = body[:count]
        flat = [x for h, paras in chosen for x in [h, *paras]]
        if total > MAN_BODY_CHARS * 1.6:  # one long section: cut inside it, at the same share
            return _share_cut(flat, MAN_BODY_CHARS / total)
        return flat
    en_full = sum(len(p) for h, paras in en_body for p in paras)
    flat = [x for h, paras in body for x in [h, *paras]]
    return _share_cut(flat, min(1.0, total / max(1, en_full)) * min(1.0, MAN_BODY_CHARS * 1.6 / max(1, total)))


def _share_cut(paragraphs: list[str], share: float) -> list[str]:
    limit = share * sum(len(p) for p in paragraphs)
    kept, total = [], 0
    for para in paragraphs:
        if total >= limit:
            break
        kept.append(para)
        total += len(para)
    return kept


def build_man(root: Path) -> tuple[dict, list[dict], dict]:
    docs, pairs, family_of = {}, [], {}
    for family, pages in MAN_FAMILIES.items():
        versions: dict[str, dict[str, str]] = {}
        for page in pages:
            name = page.split("/")[1]
            english = man_doc(root, page, "en")
            if english is None:
                raise SystemExit(f"no English page {page}")
            en_paras = {norm(p) for h, paras in english[1] for p in paras if len(p.split()) >= 8}
            versions[name] = {}
            for lang in MAN_LANGS:
                found = english if lang == "en" else man_doc(root, page, lang)
                if found is None:
                    continue
                title, body = found
                kept = man_cut(english[1], body)
                code = lang.split("_")[0]
                path = f"docs/man-{name}-{code}.txt"
                doc = {"title": title, "paragraphs": kept, "lang": lang.lower().replace("_", "-"),
                       "source": f"Debian {page} ({lang})", "family": f"man-{family}"}
                if lang != "en":
                    left = [p for p in kept if norm(p) in en_paras and english_prose(p)]
                    share = sum(map(len, left)) / max(1, sum(map(len, kept)))
                    if share > MAX_UNTRANSLATED:
                        continue
                    if left:
                        doc["untranslated"] = round(share, 2)
                docs[path] = doc
                versions[name][code] = path
                family_of[path] = f"man-{family}"
        pairs += _translation_pairs(versions, "manpage")
        pairs += _hard_negatives(versions, f"manpages of the {family} family")
    return docs, pairs, family_of


# ---------------------------------------------------------------------------
# (b) documentation
# ---------------------------------------------------------------------------
_LEAF = {"p", "pre", "li", "dt", "dd", "tr", "h1", "h2", "h3", "h4", "h5", "blockquote"}
_SKIP = re.compile(r"\b(navheader|navfooter|toc|toctree-wrapper|sphinxsidebar|related|footer)\b")


def _html(path: Path):
    from lxml import html
    return html.parse(str(path)).getroot()


def guide_files(root: Path, guide: str, lang: str) -> dict[str, Path]:
    """chapter name -> HTML file, for one language of one guide."""
    share = root / "usr/share"
    if guide == "debian-reference":
        return {p.name.split(".")[0]: p for p in sorted((share / "debian-reference").glob(f"ch*.{lang}.html"))}
    if guide == "maint-guide":
        folder = share / "doc" / ("maint-guide" if lang == "en" else f"maint-guide-{lang}") / "html"
        return {p.name.split(".")[0]: p for p in sorted(folder.glob(f"*.{lang}.html")) if not p.name.startswith("index")}
    if guide == "developers-reference":
        folder = share / "developers-reference" / ("" if lang == "en" else lang)
        skip = {"index", "search", "genindex", "developers-reference"}
        return {p.stem: p for p in sorted(folder.glob("*.html")) if p.stem not in skip}
    if guide == "debian-faq":
        folder = share / "doc/debian/FAQ" / ("" if lang == "en" else lang)
        return {p.name.split(".")[0]: p for p in sorted(folder.glob(f"*.{lang}.html"))
                if not p.name.startswith(("index", "faqinfo"))}
    raise ValueError(guide)


def sections(tree) -> dict[str, object]:
    """section id -> element, for DocBook (div.section, id on the title's anchor) and Sphinx (section[id])."""
    found = {}
    for el in tree.iter("section"):
        if el.get("id"):
            found[el.get("id")] = el
    for el in tree.xpath('//div[contains(concat(" ", @class, " "), " section ")]'):
        ids = el.xpath('./div[@class="titlepage"]//*[@id]/@id') or ([el.get("id")] if el.get("id") else [])
        if ids:
            found.setdefault(ids[0], el)
    return found


def blocks(element) -> tuple[str, list[str]]:
    """(heading, leaf text blocks in document order) of a section; sub-section headings are blocks."""
    heading, out = None, []
    for el in element.iter(*_LEAF):
        if any(_SKIP.search(a.get("class") or "") for a in el.iterancestors()):
            continue
        if heading is None and el.tag in ("h1", "h2", "h3", "h4", "h5"):
            heading = squash(el.text_content()).replace("\u00b6", "").strip()
            continue
        if any(isinstance(d.tag, str) and d.tag in _LEAF for d in el.iterdescendants()):
            continue
        if el.tag == "tr":
            text = " ".join(squash(c.text_content()) for c in el if isinstance(c.tag, str))
        else:
            text = squash(el.text_content())
        text = text.replace("\u00b6", "").strip()
        if text:
            out.append(text)
    return heading or "", out


def _is_inside(child, parent) -> bool:
    return any(a is parent for a in child.iterancestors())


def guide_units(root: Path, guide: str) -> list[tuple[str, str, str]]:
    """(chapter, section id, unit name) chosen in English: sections with enough text, not nested in each other."""
    chosen = []
    for chapter, path in guide_files(root, guide, "en").items():
        tree = _html(path)
        picked: list = []
        for sid, el in sorted(sections(tree).items(), key=lambda kv: _order(tree, kv[1])):
            _, text = blocks(el)
            size = sum(map(len, text))
            if size < SECTION_MIN or any(_is_inside(el, p) or _is_inside(p, el) for _, p in picked):
                continue
            # prefer leaf-ish sections: skip a section whose first child section already has enough text
            picked.append((sid, el))
            if len(picked) == UNITS_PER_CHAPTER:
                break
        if len(picked) == UNITS_PER_CHAPTER:
            chosen += [(chapter, sid, f"{guide}.{chapter}.{sid.strip('_')[:40]}") for sid, _ in picked]
        if len({c for c, _, _ in chosen}) == CHAPTERS_PER_GUIDE:
            break
    return chosen


def _order(tree, element) -> int:
    for n, el in enumerate(tree.iter()):
        if el is element:
            return n
    return 0


def build_guides(root: Path) -> tuple[dict, list[dict], dict]:
    docs, pairs, family_of = {}, [], {}
    for guide, (langs, _, _) in GUIDES.items():
        units = guide_units(root, guide)
        trees: dict[tuple[str, str], object] = {}
        by_chapter: dict[str, dict[str, dict[str, str]]] = collections.defaultdict(dict)
        for chapter, sid, name in units:
            versions: dict[str, str] = {}
            en_heading, en_blocks = None, None
            for lang in ["en", *langs.split()]:
                files = guide_files(root, guide, lang)
                if chapter not in files:
                    continue
                key = (lang, chapter)
                if key not in trees:
                    trees[key] = sections(_html(files[chapter]))
                element = trees[key].get(sid)
                if element is None:
                    continue
                heading, text = blocks(element)
                if lang == "en":
                    en_heading, en_blocks = heading, text
                    count, total = 0, 0
                    for block in text:
                        if total >= SECTION_CHARS:
                            break
                        count, total = count + 1, total + len(block)
                    kept = text[:count]
                elif len(text) == len(en_blocks):
                    kept = text[:count]
                else:  # not the same blocks: the same share of the text
                    kept = _share_cut(text, total / max(1, sum(map(len, en_blocks))))
                doc = {"title": heading or en_heading, "paragraphs": kept, "lang": lang,
                       "source": f"Debian {guide} {chapter} §{sid} ({lang})", "family": f"{guide}.{chapter}"}
                if lang != "en":
                    english = {norm(b) for b in en_blocks if len(b.split()) >= 8}
                    left = [b for b in kept if norm(b) in english and english_prose(b)]
                    share = sum(map(len, left)) / max(1, sum(map(len, kept)))
                    if share > MAX_UNTRANSLATED:
                        continue
                    if left:
                        doc["untranslated"] = round(share, 2)
                path = f"docs/{name}-{lang.split('-')[0]}.txt"
                docs[path] = doc
                versions[lang.split("-")[0]] = path
                family_of[path] = f"{guide}.{chapter}"
            by_chapter[chapter][name] = versions
        for chapter, versions in by_chapter.items():
            pairs += _translation_pairs(versions, guide)
            pairs += _hard_negatives(versions, f"{guide} {chapter}: two sections of one chapter")
    return docs, pairs, family_of


# ---------------------------------------------------------------------------
# pairs, splits, output
# ---------------------------------------------------------------------------
def _translation_pairs(versions: dict[str, dict[str, str]], what: str) -> list[dict]:
    pairs = []
    for unit, langs in versions.items():
        for a, b in itertools.combinations(sorted(langs), 2):
            pairs.append({"a": langs[a], "b": langs[b], "relation": "translation",
                          "kind": f"{what} {unit}: Debian human translation ({a}/{b})"})
    return pairs


def _hard_negatives(versions: dict[str, dict[str, str]], why: str) -> list[dict]:
    """For two units of one family: English~English, one other language on both sides, and two
    cross-language pairs (a deterministic rotation over the languages both have)."""
    pairs = []
    for n, (u, v) in enumerate(itertools.combinations(sorted(versions), 2)):
        common = sorted((set(versions[u]) & set(versions[v])) - {"en"})
        chosen = [("en", "en")]
        if common:
            lang = common[n % len(common)]
            chosen.append((lang, lang))
            chosen.append(("en", common[(n + 1) % len(common)]))
            chosen.append((common[(n + 2) % len(common)], "en"))
        seen = set()
        for la, lb in chosen:
            if la in versions[u] and lb in versions[v] and (la, lb) not in seen:
                seen.add((la, lb))
                pairs.append({"a": versions[u][la], "b": versions[v][lb], "relation": "different",
                              "kind": f"{why} ({la}/{lb})"})
    return pairs


def splits(families: set[str]) -> dict[str, str]:
    """family -> dev or heldout: within each source (manual pages, each guide), families in the order
    of a hash of their names, taken in turn. Stable, balanced, and blind to the texts."""
    by_source: dict[str, list[str]] = collections.defaultdict(list)
    for family in families:
        by_source[family.split(".")[0].split("-")[0] if family.startswith("man-") else family.split(".")[0]].append(family)
    chosen = {}
    for source, names in sorted(by_source.items()):
        for n, family in enumerate(sorted(names, key=lambda f: (zlib.crc32(f.encode()), f))):
            chosen[family] = SPLITS[n % 2]
    return chosen


def render_doc(doc: dict) -> str:
    return doc["title"] + "\n\n" + "\n\n".join(doc["paragraphs"]) + "\n"


def write(docs: dict, pairs: list[dict], family_of: dict) -> None:
    split_of = splits(set(family_of.values())).__getitem__
    for split in SPLITS:
        out = OUT / split
        if (out / "docs").exists():
            shutil.rmtree(out / "docs")
        (out / "docs").mkdir(parents=True)
        mine = {p: d for p, d in docs.items() if split_of(family_of[p]) == split}
        for path, doc in sorted(mine.items()):
            (out / path).write_text(render_doc(doc), encoding="utf-8")
        with (out / "pairs.jsonl").open("w", encoding="utf-8") as fh:
            for p in pairs:
                if p["a"] in mine and p["b"] in mine:
                    row = {**p, "lang_a": docs[p["a"]]["lang"], "lang_b": docs[p["b"]]["lang"]}
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        (out / "docs.json").write_text(json.dumps(
            {path: {k: doc[k] for k in ("lang", "source", "family", "untranslated") if k in doc}
             for path, doc in sorted(mine.items())}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def check(out: Path) -> int:
    """Verify one split: files exist, every doc is paired, the labels are closed; print counts."""
    errors: list[str] = []
    rows = [json.loads(line) for line in (out / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    meta = json.loads((out / "docs.json").read_text(encoding="utf-8"))
    docs = sorted(p.relative_to(out).as_posix() for p in (out / "docs").glob("*.txt"))
    labels: dict[frozenset, str] = {}
    related: dict[str, set[str]] = collections.defaultdict(set)
    seen = set()
    for r in rows:
        key = frozenset((r["a"], r["b"]))
        if len(key) != 2 or key in labels:
            errors.append(f"self or repeated pair {r['a']} {r['b']}")
        labels[key] = r["relation"]
        seen |= key
        if r["relation"] != "different":
            related[r["a"]].add(r["b"])
            related[r["b"]].add(r["a"])
    for d in docs:
        if d not in seen:
            errors.append(f"{d} is in no pair")
        if d not in meta:
            errors.append(f"{d} missing from docs.json")
        lines = (out / d).read_text(encoding="utf-8").split("\n")
        if not lines[0].strip() or lines[1].strip():
            errors.append(f"{d}: first line must be a title followed by a blank line")
    for start in sorted(related):  # closure: versions of one text are all listed, never as different
        members = {start} | related[start]
        for a, b in itertools.combinations(sorted(members), 2):
            if labels.get(frozenset((a, b))) != "translation":
                errors.append(f"related but not listed as translation: {a} {b}")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    langs = collections.Counter(meta[d]["lang"] for d in docs)
    counts = collections.Counter(r["relation"] for r in rows)
    families = {meta[d]["family"] for d in docs}
    print(f"{out.name}: {len(docs)} documents in {len(families)} families, {len(langs)} languages "
          f"({', '.join(f'{k} {v}' for k, v in sorted(langs.items()))}); "
          f"{counts['translation']} translation and {counts['different']} different pairs; {size / 1e6:.2f} MB")
    for e in errors[:20]:
        print("ERROR", e)
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=CACHE, help="download folder (default bench/cache/translations)")
    parser.add_argument("--check", action="store_true", help="only verify the committed set")
    args = parser.parse_args()
    if not args.check:
        for tool in ("man", "col", "apt-get", "dpkg-deb"):
            if not shutil.which(tool):
                raise SystemExit(f"{tool} not found: apt-get install man-db groff-base bsdextrautils")
        root = fetch(args.cache)
        man_docs, man_pairs, man_families = build_man(root)
        guide_docs, guide_pairs, guide_families = build_guides(root)
        write({**man_docs, **guide_docs}, man_pairs + guide_pairs, {**man_families, **guide_families})
    return max(check(OUT / split) for split in SPLITS)


if __name__ == "__main__":
    sys.exit(main())
