"""Real text in many languages and scripts, labelled paragraph by paragraph, for bench_language.py.

Sources (Debian packages, fetched once with `apt-get download` into bench/cache/debs/):

- gnome-user-docs: the GNOME help in 40 languages, translated from the English
  pages in help/C with itstool, so the n-th paragraph of a translated page is
  the n-th of the English one.
- manpages-LL (manpages-l10n, manpages-ja, manpages-zh), rendered with groff;
  the English originals come from `manpages` and `manpages-dev`.
- debian-reference-LL: the Debian Reference, an administration guide dense
  with commands and package names (the Chinese and Japanese pages are the
  "CJK prose among Latin identifiers" case).
- debconf templates (`Description-LL.UTF-8` fields) of a few common packages:
  the only Arabic and Thai prose Debian ships as text.

Translations leave paragraphs in English. A paragraph is labelled with its
document's language only when it differs from every paragraph of the English
original, is mostly written in the language's script, and (for Latin-script
languages) does not read like English (several English function words); the
rest are labelled "en" when they equal an English paragraph (those build the
mixed documents) or dropped. Documents are split dev / held-out by a hash of
their id, so paragraphs of one document never sit on both sides.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "cache"
DEBS = CACHE / "debs"
CORPUS = CACHE / "language" / "corpus.json"
VERSION = 4  # bump when the labelling changes: the cached corpus is rebuilt

MANPAGE_LANGS = {  # package suffix -> (folder under usr/share/man, language)
    "fr": ("fr", "fr"), "de": ("de", "de"), "es": ("es", "es"), "it": ("it", "it"), "pl": ("pl", "pl"),
    "pt-br": ("pt_BR", "pt"), "cs": ("cs", "cs"), "tr": ("tr", "tr"), "ru": ("ru", "ru"), "uk": ("uk", "uk"),
    "el": ("el", "el"), "ja": ("ja", "ja"), "zh": ("zh_CN", "zh"), "mk": ("mk", "mk"), "sr": ("sr", "sr"),
}
REFERENCE_LANGS = {"en": "en", "fr": "fr", "de": "de", "es": "es", "it": "it", "pt": "pt", "id": "id",
                   "ja": "ja", "zh-cn": "zh", "zh-tw": "zh"}
GNOME_LANGS = {  # help folder -> language; the rest of the 40 are left out (too few candidates know them)
    "C": "en", "ca": "ca", "cs": "cs", "da": "da", "de": "de", "el": "el", "es": "es", "fa": "fa", "fi": "fi",
    "fr": "fr", "gl": "gl", "gu": "gu", "he": "he", "hi": "hi", "hr": "hr", "hu": "hu", "id": "id", "it": "it",
    "ja": "ja", "ko": "ko", "lt": "lt", "lv": "lv", "mr": "mr", "nl": "nl", "pa": "pa", "pl": "pl", "pt": "pt",
    "pt_BR": "pt", "ro": "ro", "ru": "ru", "sl": "sl", "sv": "sv", "ta": "ta", "te": "te", "tr": "tr",
    "uk": "uk", "vi": "vi", "zh_CN": "zh",
}
TEMPLATE_PACKAGES = ("tzdata", "keyboard-configuration", "console-setup", "debconf", "popularity-contest",
                     "exim4-config", "postfix", "grub-pc", "tasksel", "ca-certificates", "locales",
                     "dictionaries-common", "mdadm", "wireshark-common", "samba-common", "libpam-runtime",
                     "ucf", "iptables-persistent", "apt-listchanges", "unattended-upgrades", "openssh-server")
TEMPLATE_LANGS = {"ar": "ar", "th": "th", "he": "he", "fa": "fa", "ko": "ko", "hi": "hi", "ta": "ta", "el": "el",
                  "ru": "ru", "ja": "ja", "zh_CN": "zh", "vi": "vi", "tr": "tr", "nl": "nl", "sv": "sv"}
PACKAGES = (["gnome-user-docs", "manpages", "manpages-dev"] + [f"manpages-{s}" for s in MANPAGE_LANGS]
            + [f"debian-reference-{s}" for s in REFERENCE_LANGS] + list(TEMPLATE_PACKAGES))

# Which script each language is written in (the rest: Latin).
SCRIPTS = {"ru": "CYRILLIC", "uk": "CYRILLIC", "mk": "CYRILLIC", "sr": "CYRILLIC", "el": "GREEK", "he": "HEBREW",
           "ar": "ARABIC", "fa": "ARABIC", "hi": "DEVANAGARI", "mr": "DEVANAGARI", "gu": "GUJARATI",
           "pa": "GURMUKHI", "ta": "TAMIL", "te": "TELUGU", "th": "THAI", "ja": "CJK", "zh": "CJK", "ko": "HANGUL"}
# English words that no other language of the corpus writes the same way: several of them in a
# paragraph of a Latin-script translation mean it was left in English.
ENGLISH_WORDS = frozenset("the and that with this which from are been have should would there their when where "
                          "what these those can't don't into only other such than then they your you".split())
MIN_LETTERS = 20


@dataclass
class Document:
    id: str
    source: str  # gnome | man | reference | templates
    lang: str
    # (text, label): label is the language, "en" for a paragraph left in English, None if unsure
    paragraphs: list[tuple[str, str | None]] = field(default_factory=list)
    # the English original of each paragraph, where the source aligns them (gnome pages)
    originals: list[str | None] = field(default_factory=list)

    @property
    def split(self) -> str:
        return "dev" if int(hashlib.sha256(self.id.encode()).hexdigest(), 16) % 2 == 0 else "held-out"


def fetch(packages=PACKAGES) -> None:
    """Download what is missing into bench/cache/debs (Debian's archive; needs `apt-get update` once)."""
    DEBS.mkdir(parents=True, exist_ok=True)
    for package in packages:
        if not list(DEBS.glob(f"{package}_*.deb")):
            done = subprocess.run(["apt-get", "download", package], cwd=DEBS, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"bench_language: could not download {package} ({done.stderr.strip()[-200:]}); "
                                 "run `apt-get update` first")


def _unpack(package: str) -> Path:
    (deb,) = DEBS.glob(f"{package}_*.deb")
    target = CACHE / "language" / "unpacked" / package
    if not target.exists():
        target.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
        subprocess.run(["dpkg-deb", "-e", str(deb), str(target / "DEBIAN")], check=True)
    return target


def letters(text: str) -> int:
    return sum(1 for ch in text if ch.isalpha())


def script_share(text: str, script: str) -> float:
    """Fraction of the letters of `text` written in `script` (CJK: Han and kana together)."""
    alpha = [ch for ch in text if ch.isalpha()]
    if not alpha:
        return 0.0
    names = ("CJK", "HIRAGANA", "KATAKANA") if script == "CJK" else (script,)
    return sum(1 for ch in alpha if unicodedata.name(ch, "").startswith(names)) / len(alpha)


def reads_like_english(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    hits = sum(1 for w in words if w in ENGLISH_WORDS)
    return hits >= 2 and hits >= 0.05 * len(words)


def label(text: str, lang: str, english: set[str]) -> str | None:
    """`lang` if the paragraph is surely in it, "en" if it is the English original, else None."""
    if _norm(text) in english:
        return "en"
    if lang == "en":
        return "en"
    script = SCRIPTS.get(lang)
    if script == "CJK":  # one character is a word: prose among Latin identifiers is still prose
        share = script_share(text, script)
        return lang if share >= 0.5 or (share >= 0.25 and share * letters(text) >= 10) else None
    if script:
        return lang if script_share(text, script) >= 0.5 else None
    if script_share(text, "LATIN") < 0.9 or reads_like_english(text):
        return None
    return lang


def _norm(text: str) -> str:
    return " ".join(text.split())


# -- gnome-user-docs ---------------------------------------------------------------------------
MALLARD = "{http://projectmallard.org/1.0/}"
_BLOCKS = {f"{MALLARD}{t}" for t in ("p", "title", "desc")}


def _mallard_paragraphs(path: Path) -> list[str]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return []
    found = []
    for element in root.iter():
        if element.tag in _BLOCKS:
            text = _norm("".join(element.itertext()))
            if text:
                found.append(text)
    return found


def gnome_documents() -> list[Document]:
    base = _unpack("gnome-user-docs") / "usr/share/help"
    english = {p.name: _mallard_paragraphs(p) for p in sorted((base / "C/gnome-help").glob("*.page"))}
    docs = []
    for folder, lang in GNOME_LANGS.items():
        for path in sorted((base / folder / "gnome-help").glob("*.page")):
            paragraphs = _mallard_paragraphs(path)
            original = english.get(path.name, [])
            aligned = len(original) == len(paragraphs)
            known = {_norm(p) for p in original} if lang != "en" else set()
            doc = Document(f"gnome/{folder}/{path.stem}", "gnome", lang)
            for i, text in enumerate(paragraphs):
                doc.paragraphs.append((text, label(text, lang, known)))
                doc.originals.append(original[i] if aligned else None)
            docs.append(doc)
    return docs


# -- manual pages --------------------------------------------------------------------------------
def render_man(path: Path) -> list[str]:
    """The paragraphs of a manual page as `man` shows them (no hyphenation, one line a paragraph)."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if raw.startswith(b".so "):
        return []
    done = subprocess.run(["groff", "-k", "-t", "-man", "-Tutf8", "-P-cbou", "-rLL=4000n", "-rHY=0", "-rcR=1"],
                          input=raw, capture_output=True, timeout=60)
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    paragraphs, current = [], []
    for line in lines[1:-1]:  # the first and last lines are the page's header and footer
        if line.strip() and line[0].isspace():
            current.append(line.strip())
        elif current:  # a blank line, or a section heading (the only lines not indented): dropped
            paragraphs.append(_norm(" ".join(current)))
            current = []
    if current:
        paragraphs.append(_norm(" ".join(current)))
    return paragraphs


def _rendered(path: Path) -> list[str]:
    key = hashlib.sha256(f"{VERSION} {path}".encode()).hexdigest()[:20]
    cached = CACHE / "language" / "man" / f"{key}.json"
    if cached.exists():
        return json.loads(cached.read_text(encoding="utf-8"))
    paragraphs = render_man(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(paragraphs, ensure_ascii=False), encoding="utf-8")
    return paragraphs


def man_documents(per_lang: int = 60) -> list[Document]:
    english_pages: dict[str, Path] = {}
    for package in ("manpages", "manpages-dev"):
        for path in (_unpack(package) / "usr/share/man").glob("man*/*"):
            english_pages[path.name] = path
    docs = []
    for suffix, (folder, lang) in MANPAGE_LANGS.items():
        pages = sorted((_unpack(f"manpages-{suffix}") / "usr/share/man" / folder).glob("man*/*"))
        if lang not in SCRIPTS:  # Latin script: only pages whose English original we have
            pages = [p for p in pages if p.name in english_pages]
        pages.sort(key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())
        taken = 0
        for path in pages:
            paragraphs = _rendered(path)
            if not paragraphs:
                continue
            english = {_norm(p) for p in _rendered(english_pages[path.name])} if path.name in english_pages else set()
            doc = Document(f"man/{folder}/{path.name}", "man", lang)
            doc.paragraphs = [(text, label(text, lang, english)) for text in paragraphs]
            doc.originals = [None] * len(paragraphs)
            docs.append(doc)
            taken += 1
            if taken == per_lang:
                break
    # English pages too, as a language among the others
    for name in sorted(english_pages, key=lambda n: hashlib.sha256(n.encode()).hexdigest())[:per_lang]:
        paragraphs = _rendered(english_pages[name])
        if paragraphs:
            docs.append(Document(f"man/en/{name}", "man", "en", [(t, "en") for t in paragraphs],
                                 [None] * len(paragraphs)))
    return docs


# -- Debian Reference ----------------------------------------------------------------------------
def _html_paragraphs(path: Path) -> list[str]:
    from lxml import html

    tree = html.parse(str(path))
    return [t for t in (_norm(p.text_content()) for p in tree.iter("p")) if t]


def reference_documents() -> list[Document]:
    docs = []
    english: dict[str, set[str]] = {}
    for path in sorted((_unpack("debian-reference-en") / "usr/share/debian-reference").glob("*.en.html")):
        english[path.name.split(".")[0]] = {_norm(p) for p in _html_paragraphs(path)}
    for suffix, lang in REFERENCE_LANGS.items():
        folder = _unpack(f"debian-reference-{suffix}") / "usr/share/debian-reference"
        for path in sorted(folder.glob(f"*.{suffix}.html")):
            chapter = path.name.split(".")[0]
            if chapter == "index":
                continue
            paragraphs = _html_paragraphs(path)
            known = english.get(chapter, set()) if lang != "en" else set()
            doc = Document(f"reference/{suffix}/{chapter}", "reference", lang,
                           [(t, label(t, lang, known)) for t in paragraphs], [None] * len(paragraphs))
            docs.append(doc)
    return docs


# -- debconf templates ---------------------------------------------------------------------------
def _templates(path: Path) -> list[dict[str, str]]:
    stanzas, current, key = [], {}, None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key:
            current[key] += "\n" + line[1:]
        elif ":" in line:
            key, value = line.split(":", 1)
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def _template_paragraphs(value: str) -> list[str]:
    first, _, rest = value.partition("\n")
    paragraphs = [first] + re.split(r"\n\.\n", rest)
    return [t for t in (_norm(p.replace("\n.", " ")) for p in paragraphs) if t]


def template_documents() -> list[Document]:
    docs = []
    for package in TEMPLATE_PACKAGES:
        path = _unpack(package) / "DEBIAN" / "templates"
        if not path.exists():
            continue
        for stanza in _templates(path):
            english_value = stanza.get("Description") or stanza.get("_Description") or ""
            english = {_norm(p) for p in _template_paragraphs(english_value)}
            for suffix, lang in TEMPLATE_LANGS.items():
                value = stanza.get(f"Description-{suffix}.UTF-8")
                if not value:
                    continue
                paragraphs = _template_paragraphs(value)
                doc = Document(f"templates/{package}/{stanza.get('Template', '?')}/{suffix}", "templates", lang,
                               [(t, label(t, lang, english)) for t in paragraphs], [None] * len(paragraphs))
                docs.append(doc)
    return docs


def load(rebuild: bool = False) -> list[Document]:
    """Every labelled document, built once and cached in bench/cache/language/corpus.json."""
    if CORPUS.exists() and not rebuild:
        data = json.loads(CORPUS.read_text(encoding="utf-8"))
        if data.get("version") == VERSION:
            return [Document(d["id"], d["source"], d["lang"], [tuple(p) for p in d["paragraphs"]], d["originals"])
                    for d in data["documents"]]
    fetch()
    docs = gnome_documents() + man_documents() + reference_documents() + template_documents()
    CORPUS.parent.mkdir(parents=True, exist_ok=True)
    CORPUS.write_text(json.dumps({"version": VERSION, "documents": [
        {"id": d.id, "source": d.source, "lang": d.lang, "paragraphs": d.paragraphs, "originals": d.originals}
        for d in docs]}, ensure_ascii=False), encoding="utf-8")
    return docs
