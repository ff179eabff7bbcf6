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

from .keys import fold
from .scripts import words as split_words
from .models import Article

NUM_PERM = 128
BANDS = 32  # 32 bands of 4 rows: pairs above ~0.6 Jaccard almost always share one
ROWS = NUM_PERM // BANDS
SHINGLE = 5
SEED = 1

_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+(?:[.,]\d+)?(?![\w])|(?<![\w.,])\d+(?:[.,]\d+)?(?![\w])")
_HASHTAG = re.compile(r"(?<!\w)#(\w{2,})")
_HANDLE = re.compile(r"(?<![\w@])@(\w{2,})")
_DOMAIN = re.compile(r"\b((?:[a-z0-9-]+\.)+(?:[a-z]{2,6}))(?:/\S*)?\b", re.I)
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9_]{1,}[A-Z0-9]\b")
# Identifiers are never translated: snake_case names and calls like "bind()" or "bind(2)".
_IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|\b[a-z][a-z0-9_]{2,}(?=\((?:\d\w*)?\))")
_CREDIT = re.compile(
    r"^\s*(?:source|originally published (?:by|on|in|at)|first published (?:by|on|in|at)|"
    r"publi[ée] (?:initialement|d['’]abord) (?:par|sur|dans)|article initialement publi[ée] (?:par|sur)|"
    r"fuente|quelle|fonte|erstver[öo]ffentlichung)\s*:?\s*(.+)$",
    re.I | re.M,
)


@dataclass(frozen=True)
class Settings:
    # Defaults chosen on bench/eval/pairs (see README): precision first.
    copy_jaccard: float = 0.70  # estimated Jaccard of 5-shingles for a near copy
    translation_score: float = 0.40  # weighted share of the poorer side's anchors that the other has too
    translation_cover: float = 0.30  # ... and of the richer side's: both must share much, not one
    min_shared_anchors: int = 4
    length_ratio: float = 1.8  # longest / shortest text, beyond which no translation
    window_days: int = 400  # candidates published this far apart are not compared


@dataclass
class Fingerprint:
    article_id: str
    lang: str
    length: int
    text_hash: str
    minhash: np.ndarray
    anchors: set[str]
    credit: str | None = None  # "La Quadrature du Net" from "Source : La Quadrature du Net, 16-09-2019"

    @property
    def bands(self) -> list[int]:
        return band_hashes(self.minhash)


@dataclass
class Link:
    other_id: str
    kind: str  # duplicate | copy | translation
    score: float
    evidence: str
    explicit: bool = False
    other_is_original: bool = False  # explicit evidence of direction


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
    )


def band_hashes(signature: np.ndarray) -> list[int]:
    rows = signature.reshape(BANDS, ROWS).astype(np.uint64)
    # A 63-bit hash of each band's rows; SQLite integers are signed 64-bit.
    mixed = rows[:, 0] * np.uint64(1_000_003) ^ rows[:, 1] * np.uint64(999_983) ^ \
        rows[:, 2] * np.uint64(1_000_033) ^ rows[:, 3]
    return [int(v & np.uint64(0x7FFF_FFFF_FFFF_FFFF)) for v in mixed]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def anchors(article: Article) -> set[str]:
    """Language-neutral things a translation keeps: names, numbers, tags, domains, acronyms."""
    text = article.text
    found = {f"e:{e.key}" for e in article.entities if len(e.key) >= 3}
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"[ \u00a0\u202f.,]", "", match.group(0))
        if len(digits) >= 2:
            found.add(f"n:{digits.lstrip('0') or '0'}")
    found |= {f"h:{fold(tag)}" for tag in _HASHTAG.findall(text)}
    found |= {f"@:{fold(handle)}" for handle in _HANDLE.findall(text)}
    found |= {f"u:{domain.lower()}" for domain in _DOMAIN.findall(text) if not domain[0].isdigit()}
    found |= {f"a:{acronym}" for acronym in _ACRONYM.findall(text) if f"e:{fold(acronym)}" not in found}
    found |= {f"i:{identifier}" for identifier in _IDENTIFIER.findall(text)}
    return found


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
    return Link(other.article_id, "copy", similarity,
                f"copy of {other.article_id[:8]}…: {similarity:.0%} of word 5-grams shared (MinHash estimate)")


def compare_translation(
    new: Fingerprint, other: Fingerprint, settings: Settings, document_frequency: dict[str, int], total: int,
    names: dict[str, str] | None = None,
) -> Link | None:
    if new.lang == other.lang or "und" in (new.lang, other.lang):
        return None
    ratio = max(new.length, other.length) / max(1, min(new.length, other.length))
    if ratio > settings.length_ratio:
        return None
    shared = new.anchors & other.anchors
    if len(shared) < settings.min_shared_anchors:
        return None

    def weight(anchor: str) -> float:
        return math.log((total + 1) / (document_frequency.get(anchor, 1) + 0.5))

    shared_weight = sum(weight(a) for a in shared)
    sides = sorted((sum(weight(a) for a in new.anchors), sum(weight(a) for a in other.anchors)))
    score = shared_weight / sides[0] if sides[0] else 0.0
    cover = shared_weight / sides[1] if sides[1] else 0.0
    if score < settings.translation_score or cover < settings.translation_cover:
        return None
    shown = sorted(shared, key=lambda a: (-weight(a), a))[:5]
    labels = ", ".join(_describe_anchor(a, names or {}) for a in shown)
    return Link(other.article_id, "translation", round(score, 3),
                f"translation of {other.article_id[:8]}…: {len(shared)} shared anchors ({labels}, …), "
                f"weighted overlap {score:.2f} / {cover:.2f}, length ratio {ratio:.2f}")


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


def choose_original(members: list[Member]) -> str:
    """The earliest published member, unless explicit evidence says otherwise.

    Without dates: the language most members share (copies gather around the
    original's language), then the most complete text, then the earliest fetched.
    """
    languages: dict[str, int] = {}
    for member in members:
        languages[member.lang] = languages.get(member.lang, 0) + 1

    def rank(member: Member) -> tuple:
        return (
            0 if member.explicit_original else 1,
            1 if member.explicit_copy else 0,
            member.published or "9999",
            -languages[member.lang],
            0 if member.titled else 1,
            -member.length,
            member.fetched,
            member.article_id,
        )

    return min(members, key=rank).article_id


def relation(member: Member, original: Member) -> str:
    if member.article_id == original.article_id:
        return "original"
    if member.text_hash == original.text_hash:
        return "duplicate"
    if member.lang != original.lang and "und" not in (member.lang, original.lang):
        return "translation"
    return "copy"
