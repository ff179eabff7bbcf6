"""Which articles are the same story: fingerprints, comparisons and originals.

Pure functions; the archive queries that find candidates live in store.py
and the pipeline wires them. Three kinds of link, strongest first:

- **explicit evidence**: a `<link rel=canonical>` pointing at another
  article (a copy), `<link rel=alternate hreflang>` between two pages (a
  translation), a "Source: X" credit line (syndication);
- **same text** (`duplicate`) and **near copies** (`copy`): the text hash,
  and MinHash over word 5-shingles, where each Chinese, Japanese or Korean
  character counts as a word (Jaccard estimated from 128
  permutations; candidates found through 32 LSH bands kept in the database);
- **translations**: language-neutral anchors shared across languages
  (entity keys, numbers, hashtags, handles, domains, acronyms and code-like
  identifiers), weighted by rarity, with a length-ratio check.

Precision first: a link needs strong evidence, and two pieces that merely
share a topic and a few famous names stay apart.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

from veille.text.keys import fold
from veille.text.scripts import words as split_words
from veille.models import Article, DedupeSettings as Settings  # Settings: feeds.yaml's `dedupe:`

NUM_PERM = 128
BANDS = 32  # 32 bands of 4 rows: pairs above ~0.6 Jaccard almost always share one
ROWS = NUM_PERM // BANDS
SHINGLE = 5
SEED = 1

# Latin-script anchors are bounded by what is not an ASCII letter or digit, not by \b: in Chinese or
# Japanese prose a name sits between two ideographs ("使用GNU工具"), which \b counts as word characters.
_IDEOGRAPHS = "\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_L, _R = rf"(?<![^\W{_IDEOGRAPHS}])", rf"(?![^\W{_IDEOGRAPHS}])"  # no word character, unless an ideograph
_NUMBER = re.compile(rf"(?<![.,])(?<![^\W{_IDEOGRAPHS}])\d{{1,3}}(?:[ \u00a0\u202f.,]\d{{3}})+(?:[.,]\d+)?{_R}"
                     rf"|(?<![.,])(?<![^\W{_IDEOGRAPHS}])\d+(?:[.,]\d+)?{_R}")
_HASHTAG = re.compile(r"(?<!\w)#(\w{2,})")
_HANDLE = re.compile(r"(?<![\w@])@(\w{2,})")
_DOMAIN = re.compile(_L + r"((?:[a-z0-9-]+\.)+(?:[a-z]{2,6}))(?:/[^\s\u3000-\u30ff\u4e00-\u9fff]*)?" + _R, re.I)
_ACRONYM = re.compile(_L + r"[A-Z][A-Z0-9_]{1,}[A-Z0-9]" + _R)
# Identifiers are never translated: snake_case names and calls like "bind()" or "bind(2)".
_IDENTIFIER = re.compile(_L + r"[a-z][a-z0-9]*_[a-z0-9_]+" + _R + "|" + _L + r"[a-z][a-z0-9_]{2,}(?=\((?:\d\w*)?\))")
# Command-line options and file paths, as technical writing quotes them in every language.
_OPTION = re.compile(r"(?<![-\w])--[a-z][a-z0-9-]*[a-z0-9]" + _R + "|" + rf"(?<=[{_IDEOGRAPHS}])--[a-z][a-z0-9-]*[a-z0-9]" + _R)
_PATH = re.compile(r"(?:(?<![:/.~\w-])|(?<=[" + _IDEOGRAPHS + r"]))"
                   r"(?:(?:~|\.)(?:/[a-z0-9_.+-]+)+|(?:/[a-z0-9_+-][a-z0-9_.+-]*){2,})")
# Words in capitals that are not acronyms: headings ("DESCRIPTION", "VOIR AUSSI", lines without a
# lower-case letter) and phrases set in capitals ("AUCUNE GARANTIE"), which translators translate.
# An all-capital word of five letters or more counts only where it stands among lower-case words.
_SHOUTED = re.compile(_L + r"[A-Z]{2,}" + _R)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_SPACED = re.compile(r"[^\W\d_]+")
# Characters to one English word (see text_size), and words to one English word where a language
# spaces what is not a word.
HAN_PER_WORD = 1.7
KANA_PER_WORD = 4.0
# Vietnamese spaces every syllable; Korean spaces a word with its particles and endings (an eojeol
# carries about 1.4 English words: median 0.71 of the English count on translations/dev before this).
WORDS_PER_WORD = {"vi": 1.45, "ko": 0.7}
_CREDIT = re.compile(
    r"^\s*(?:source|originally published (?:by|on|in|at)|first published (?:by|on|in|at)|"
    r"publi[ée] (?:initialement|d['’]abord) (?:par|sur|dans)|article initialement publi[ée] (?:par|sur)|"
    r"fuente|quelle|fonte|erstver[öo]ffentlichung)\s*:?\s*(.+)$",
    re.I | re.M,
)


@dataclass
class Fingerprint:
    article_id: str
    lang: str
    length: int
    text_hash: str
    minhash: np.ndarray
    anchors: set[str]
    credit: str | None = None  # "La Quadrature du Net" from "Source : La Quadrature du Net, 16-09-2019"
    size: float = 0.0  # text_size: English words, counted alike in every script
    shares: tuple[tuple[str, float], ...] = ()  # each language's share of the text (Language.shares)

    @property
    def bands(self) -> list[int]:
        return band_hashes(self.minhash)

    @property
    def anchor_bands(self) -> list[int]:
        return anchor_band_hashes(self.anchors)


@dataclass
class Link:
    other_id: str
    kind: str  # duplicate | copy | translation
    score: float
    evidence: str
    explicit: bool = False
    other_is_original: bool = False  # explicit evidence of direction
    cover: float = 1.0  # for a translation: the weighted overlap on the richer side (score: the poorer)

    @property
    def strength(self) -> float:
        return min(self.score, self.cover)


def fingerprint(article: Article) -> Fingerprint:
    # Word 5-grams; in Chinese and Japanese, written without spaces, character 5-grams (scripts.words).
    words = [fold(w) for w in split_words(article.text)]
    shingles = {" ".join(words[i:i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED)
    minhash.update_batch([s.encode("utf-8") for s in shingles if s])
    return Fingerprint(
        article_id=article.id,
        lang=article.lang,
        length=len(article.text),
        text_hash=article.text_hash,
        minhash=minhash.hashvalues.astype(np.uint32),
        anchors=anchors(article),
        credit=credit_line(article.text),
        size=text_size(article.text, article.lang),
        shares=tuple(article.lang_shares),
    )


def text_size(text: str, lang: str = "") -> float:
    """How long a text is, in English words, whatever its script.

    Characters are no common measure: an English page has about 2.5 times the characters of its
    Chinese translation and 1.8 times those of its Japanese one, but as many as its French one.
    Spaced words are, in most languages (a translation keeps about as many: medians 0.9-1.15 of
    the English count on bench/eval/translations/dev). Chinese and Japanese do not space words: a
    Han character counts 1/1.7 of a word and a kana 1/4 (kana spell particles and endings), which
    brings the medians of Chinese and Japanese to 1.04 and 1.03 on the same set. Vietnamese spaces
    every syllable (1.47 before its factor), Korean a word with its particles (0.71 before its
    factor). Latin words inside CJK prose count as words."""
    han, kana = len(_HAN.findall(text)), len(_KANA.findall(text))
    words = len(_SPACED.findall(_CJK.sub(" ", text))) / WORDS_PER_WORD.get(lang, 1.0)
    return words + han / HAN_PER_WORD + kana / KANA_PER_WORD


def band_hashes(signature: np.ndarray, bands: int = BANDS, rows: int = ROWS) -> list[int]:
    table = signature.reshape(bands, rows).astype(np.uint64)
    # A 63-bit hash of each band's rows; SQLite integers are signed 64-bit.
    primes = (1_000_003, 999_983, 1_000_033, 1)
    mixed = table[:, rows - 1].copy()
    for row in range(rows - 1):
        mixed ^= table[:, row] * np.uint64(primes[row])
    return [int(v & np.uint64(0x7FFF_FFFF_FFFF_FFFF)) for v in mixed]


ANCHOR_BANDS = 20  # 20 bands of 2 anchors' MinHash: anchor sets of Jaccard 0.3 share one 85% of the time
ANCHOR_ROWS = 2


def anchor_band_hashes(found: set[str]) -> list[int]:
    """LSH bands over a text's anchor set, whatever each anchor's frequency.

    Candidates for a translation come from the postings of rare anchors, and from these: two
    versions that share only common anchors (GNU, GPL, a year) are still found, in a bounded number
    of index look-ups (one per band), with no scan of the anchors' long postings."""
    if not found:
        return []
    minhash = MinHash(num_perm=ANCHOR_BANDS * ANCHOR_ROWS, seed=SEED + 1)
    minhash.update_batch([a.encode("utf-8") for a in sorted(found)])
    return band_hashes(minhash.hashvalues.astype(np.uint32), ANCHOR_BANDS, ANCHOR_ROWS)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def anchors(article: Article) -> set[str]:
    """Language-neutral things a translation keeps: names, numbers, tags, domains, acronyms."""
    text = article.text
    acronyms = _acronyms(text)
    folded = {fold(a) for a in acronyms}
    # An acronym is written alike in every language, but only some languages have a model that
    # tags it as an entity: kept as the acronym, so that "GNU" in English and in Russian match.
    # A name set in capitals is a heading or a phrase in capitals ("DESCRIPTION", "AUCUNE GARANTIE")
    # that a model took for a name, or an acronym, which is kept as one below.
    found = {f"e:{e.key}" for e in article.entities
             if len(e.key) >= 3 and e.key not in folded and not e.text.isupper()}
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"[ \u00a0\u202f.,]", "", match.group(0))
        if len(digits) >= 2:
            found.add(f"n:{digits.lstrip('0') or '0'}")
    found |= {f"h:{fold(tag)}" for tag in _HASHTAG.findall(text)}
    found |= {f"@:{fold(handle)}" for handle in _HANDLE.findall(text)}
    found |= {f"u:{domain.lower()}" for domain in _DOMAIN.findall(text) if not domain[0].isdigit()}
    found |= {f"a:{acronym}" for acronym in acronyms}
    found |= {f"i:{identifier}" for identifier in _IDENTIFIER.findall(text)}
    found |= {f"o:{option}" for option in _OPTION.findall(text)}
    found |= {f"p:{path.rstrip('.')}" for path in _PATH.findall(text)}
    return found


def _acronyms(text: str) -> set[str]:
    found = set()
    # A word in capitals that the text also writes in lower case is a word of its language set in
    # capitals, not an acronym: a manual page's placeholders (FILE, OWNER, FICHIER, DIRECTORUL),
    # which every translation translates.
    lower = {w for w in _LOWER_WORD.findall(text)}
    for line in text.split("\n"):
        shouted = line.upper() == line and not _CJK.search(line)  # a heading, or a line in capitals
        for match in _ACRONYM.finditer(line):
            word = match.group(0)
            if shouted or (len(word) >= 5 and word.isalpha() and _among_capitals(line, match)):
                continue
            if len(word) >= 4 and word.isalpha() and word.lower() in lower:
                continue
            found.add(word)
    return found


_LOWER_WORD = re.compile(r"(?<![^\W\d_])[^\W\d_A-Z]{4,}(?![^\W\d_])")


def _among_capitals(line: str, match: re.Match) -> bool:
    """Is the word next to another word in capitals ("AUCUNE GARANTIE", "NO WARRANTY")?"""
    return bool(_CAPITAL_BEFORE.search(line, 0, match.start()) or _CAPITAL_AFTER.match(line, match.end()))


_CAPITAL_BEFORE = re.compile(_L + r"[A-Z]{2,}[\s,;:/-]+$")
_CAPITAL_AFTER = re.compile(r"[\s,;:/-]+[A-Z]{2,}" + _R)


def credit_line(text: str) -> str | None:
    """The X of a "Source: X" or "originally published by X" line, in the first or last lines."""
    lines = [line for line in text.split("\n") if line.strip()]
    for line in lines[:6] + lines[-6:]:
        match = _CREDIT.match(line)
        if match and len(line) < 200:
            return re.split(r",|\s[-–—]\s|\(|\d{1,2}[-/.]\d", match.group(1))[0].strip() or None
    return None


def compare_copy(new: Fingerprint, other: Fingerprint, settings: Settings) -> Link | None:
    if new.text_hash and new.text_hash == other.text_hash:
        return Link(other.article_id, "duplicate", 1.0, f"same text as {other.article_id[:8]}…")
    if new.lang != other.lang and "und" not in (new.lang, other.lang):
        return None
    similarity = jaccard(new.minhash, other.minhash)
    if similarity < settings.copy_jaccard:
        return None
    if languages_differ(new, other, settings):  # the same words, but much of one of them in another language
        code = second_language(new.lang, new.shares, other.lang, other.shares, settings.second_language) or \
            second_language(other.lang, other.shares, new.lang, new.shares, settings.second_language)
        return Link(other.article_id, "translation", similarity,
                    f"translation of {other.article_id[:8]}…: {similarity:.0%} of word 5-grams shared, "
                    f"and one of them is partly in {code} (the rest left untranslated)")
    return Link(other.article_id, "copy", similarity,
                f"copy of {other.article_id[:8]}…: {similarity:.0%} of word 5-grams shared (MinHash estimate)")


def anchor_weights(document_frequency: dict[str, int], total: int, settings: Settings):
    """How much sharing an anchor says: the rarer, the more (log of the inverse frequency), and
    nothing for an anchor more than `common_anchor` of the archive holds (or 5 articles of a small
    one). Without that ceiling, two texts whose anchors are all boilerplate (GNU, GPL, gnu.org, a
    year) share "all" their evidence, however little it is."""
    ceiling = max(5.0, settings.common_anchor * total) + 0.5

    def weight(anchor: str) -> float:
        return max(0.0, math.log(ceiling / (document_frequency.get(anchor, 1) + 0.5)))

    return weight


def languages_differ(new: Fingerprint, other: Fingerprint, settings: Settings) -> bool:
    """Two texts in different languages: their main languages differ, or one of them holds a
    substantial share of a language the other hardly has (a Spanish page left half in English is
    detected as English, but it is a translation of the English page, not a copy of it)."""
    return differ(new.lang, new.shares, other.lang, other.shares, settings.second_language)


def differ(lang: str, shares, other_lang: str, other_shares, second: float) -> bool:
    if "und" in (lang, other_lang):
        return False
    if lang != other_lang:
        return True
    return bool(second_language(lang, shares, other_lang, other_shares, second)
                or second_language(other_lang, other_shares, lang, shares, second))


def second_language(lang: str, shares, other_lang: str, other_shares, second: float) -> str | None:
    """A language holding at least `second` of one text and at most a quarter as much of the other."""
    theirs = dict(other_shares) if other_shares else {other_lang: 1.0}
    for code, share in shares or ():
        if code not in (lang, "und") and share >= second and theirs.get(code, 0.0) <= share / 4:
            return code
    return None


def compare_translation(
    new: Fingerprint, other: Fingerprint, settings: Settings, document_frequency: dict[str, int], total: int,
    names: dict[str, str] | None = None,
) -> Link | None:
    if not languages_differ(new, other, settings):
        return None
    sizes = (new.size, other.size) if new.size and other.size else (new.length, other.length)
    ratio = max(sizes) / max(1e-9, min(sizes))
    if ratio > settings.length_ratio:
        return None
    shared = new.anchors & other.anchors
    if len(shared) < settings.min_shared_anchors:
        return None

    weight = anchor_weights(document_frequency, total, settings)
    shared = {a for a in shared if weight(a) > 0}
    if len(shared) < settings.min_shared_anchors:
        return None
    # Only the kinds of anchor both texts have are weighed: a language with no entity model tags
    # no names, and its translation's names are then no evidence either way.
    kinds = {a[0] for a in new.anchors} & {a[0] for a in other.anchors}
    shared_weight = sum(weight(a) for a in shared)
    sides = sorted((sum(weight(a) for a in new.anchors if a[0] in kinds),
                    sum(weight(a) for a in other.anchors if a[0] in kinds)))
    score = shared_weight / sides[0] if sides[0] else 0.0
    cover = shared_weight / sides[1] if sides[1] else 0.0
    if score < settings.translation_score or cover < settings.translation_cover:
        return None
    shown = sorted(shared, key=lambda a: (-weight(a), a))[:5]
    labels = ", ".join(_describe_anchor(a, names or {}) for a in shown)
    return Link(other.article_id, "translation", round(min(score, 1.0), 3),
                f"translation of {other.article_id[:8]}…: {len(shared)} shared anchors ({labels}, …), "
                f"weighted overlap {min(score, 1.0):.2f} / {min(cover, 1.0):.2f}, length ratio {ratio:.2f}",
                cover=round(min(cover, 1.0), 3))


def _describe_anchor(anchor: str, names: dict[str, str]) -> str:
    kind, _, value = anchor.partition(":")
    if kind == "e":
        return names.get(value, value)
    return {"h": "#", "@": "@"}.get(kind, "") + value


@dataclass
class Member:
    """What choosing a story's original needs to know of each member."""

    article_id: str
    lang: str
    text_hash: str
    published: str | None
    fetched: str
    length: int
    explicit_original: bool = False
    explicit_copy: bool = False
    titled: bool = True
    shares: tuple[tuple[str, float], ...] = ()  # each language's share of the text


def choose_original(members: list[Member]) -> str:
    """The earliest published member, unless explicit evidence says otherwise.

    Without dates: the language most members share (copies gather around the
    original's language), then the most complete text, then the earliest fetched.
    """
    languages: dict[str, int] = {}
    for member in members:
        languages[member.lang] = languages.get(member.lang, 0) + 1
    return min(members, key=lambda member: original_rank(member, languages[member.lang])).article_id


def original_rank(member: Member, same_language: int) -> tuple:
    """How `member` ranks to be its story's original (the lowest is), where `same_language` members
    of the story share its language. Between two members of one language the count does not
    matter, so a story's original is the best of the best of each language."""
    return (
        0 if member.explicit_original else 1,
        1 if member.explicit_copy else 0,
        member.published or "9999",
        -same_language,
        0 if member.titled else 1,
        -member.length,
        member.fetched,
        member.article_id,
    )


def relation(member: Member, original: Member, second: float | None = None) -> str:
    if member.article_id == original.article_id:
        return "original"
    if member.text_hash == original.text_hash:
        return "duplicate"
    if differ(member.lang, member.shares, original.lang, original.shares,
              Settings().second_language if second is None else second):
        return "translation"
    return "copy"
