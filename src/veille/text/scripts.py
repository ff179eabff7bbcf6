"""Writing systems: what a word is, which marks are accents, and text written without spaces.

Three rules every stage that compares words shares (keys, topics, fingerprints, the index):

- **A word** is a run of letters, digits *and combining marks* (`WORD`). Python's `\\w` leaves
  marks out, which cuts Devanagari, Bengali, Tamil or Thai words at every vowel sign, and Latin
  text in decomposed form (NFD) at every accent.
- **Accents are folded, letters are not** (`strip_accents`): Latin and Greek lose every mark
  ("é" -> "e", "ά" -> "α"), Russian "ё" becomes "е" and stress marks go, Arabic and Hebrew lose
  their optional vowel signs, and compatibility forms become plain ones (full-width "Ａ" -> "A",
  half-width "ｶ" -> "カ"). But "й" stays "й", the voicing mark of "ガ" stays (it is another kana
  than "カ"), Arabic hamza stays, and the vowel signs and viramas of Indic scripts stay: there
  they are the word.
- **Chinese, Japanese and Korean** are written without spaces between words (Korean with spaces
  between phrases, particles attached). `CJK` is their characters: the index cuts such runs into
  overlapping character pairs (bigrams), fingerprints and topic terms into characters.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def _mark_ranges() -> str:
    """A regex class body of the combining marks (Mn, Mc, Me) of the Basic Multilingual Plane.

    From this Python's Unicode tables. The BMP alone: `re` then tests a character against the
    whole class in one table lookup, where one character beyond it (the marks of Brahmi,
    Kaithi, musical notation...) makes every test walk the ranges, twice as slow on every text."""
    category = unicodedata.category
    ranges, start = [], None
    for cp in range(0x10000):
        if category(chr(cp))[0] == "M":
            if start is None:
                start = cp
        elif start is not None:
            ranges.append((start, cp - 1))
            start = None
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


MARKS = _mark_ranges()
# Han (with the iteration and ideographic number marks), kana (with the prolonged sound mark, not
# the middle dot), and Hangul syllables and jamo, full and half width; the BMP only, for speed as
# above (the rare ideographs beyond it are words' letters like any other, in index and query alike).
CJK = ("\u3005\u3007\u3021-\u3029\u3038-\u303c\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
       "\u3041-\u3096\u3099\u309a\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f"
       "\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\ud7b0-\ud7ff\uffa0-\uffdc")
# One character of a word: \w (letters, digits, underscore), combining marks, and the zero-width
# joiners that Persian and Indic words carry inside them.
WORD = f"[\\w{MARKS}\u200c\u200d]"
_LETTER = f"(?:[^\\W_]|[{MARKS}\u200c\u200d])"  # the same without the underscore
_HAS_CJK = re.compile(f"[{CJK}]")
_PLAIN_WORD = re.compile(f"{WORD}+")  # underscores split off after: one class is twice as fast
_PIECES = re.compile(f"[{CJK}]+|(?:(?![{CJK}]){_LETTER})+")
_NOT_WORD = re.compile(f"(?:[^\\w{MARKS}\u200c\u200d]|_)+")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")  # soft hyphen, zero-width space and joiners


def has_cjk(text: str) -> bool:
    return _HAS_CJK.search(text) is not None


def is_cjk(char: str) -> bool:
    return _HAS_CJK.match(char) is not None


def words(text: str) -> list[str]:
    """The words of a text, with every CJK character a word of its own (letters, digits, marks; no `_`).

    What fingerprints and topic terms compare: text without spaces is compared character by
    character, where Latin text is compared word by word.
    """
    if not has_cjk(text):
        found = _PLAIN_WORD.findall(text)
        return found if "_" not in text else [part for word in found for part in word.split("_") if part]
    found = []
    for piece in _PIECES.findall(text):
        if is_cjk(piece[0]):
            found.extend(unicodedata.normalize("NFKC", piece))
        else:
            found.append(piece)
    return found


def split_non_words(text: str) -> list[str]:
    """`text` cut at everything that is not part of a word (underscores included)."""
    return [part for part in _NOT_WORD.split(text) if part]


# Marks that change the letter, not its accent: kept by strip_accents.
_KANA_VOICING = {"\u3099", "\u309a"}
_ARABIC_HAMZA = {"\u0654", "\u0655"}
_ARABIC_OPTIONAL = re.compile("[\u0610-\u061a\u064b-\u0653\u0656-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8"
                              "\u06ea-\u06ed\u0640]")  # vowel signs, Quranic marks and the tatweel (stretching)
_HEBREW_POINTS = re.compile("[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]")  # cantillation and niqqud
# Cyrillic: marks kept on these letters: the breve of й and ў, the diaeresis of ї and ӧ..., the acute of ѓ and ќ.
_CYRILLIC_KEEP = {"\u0306", "\u0308", "\u0301"}
_CYRILLIC_FOLD_ANYWAY = {("е", "\u0308"), ("Е", "\u0308")}  # ё is written е as often as not
_CYRILLIC_ACUTE_LETTERS = set("гГкК")


def _script(char: str) -> str:
    cp = ord(char)
    if cp < 0x0250 or 0x1E00 <= cp <= 0x1EFF or 0x2C60 <= cp <= 0x2C7F or 0xA720 <= cp <= 0xA7FF:
        return "latin"
    if 0x0370 <= cp <= 0x03FF or 0x1F00 <= cp <= 0x1FFF:
        return "greek"
    if 0x0400 <= cp <= 0x052F or 0x1C80 <= cp <= 0x1C8F or 0x2DE0 <= cp <= 0x2DFF or 0xA640 <= cp <= 0xA69F:
        return "cyrillic"
    return "other"


def _drop(mark: str, base: str) -> bool:
    """Whether `mark`, following `base` in NFKD text, is an accent (dropped) or part of the letter."""
    script = _script(base)
    if script in ("latin", "greek"):
        return True
    if script == "cyrillic":
        if (base, mark) in _CYRILLIC_FOLD_ANYWAY or mark not in _CYRILLIC_KEEP:
            return True  # stress marks and the like
        return mark == "\u0301" and base not in _CYRILLIC_ACUTE_LETTERS  # a stress mark on a vowel
    return False


@lru_cache(maxsize=200_000)
def strip_accents(text: str) -> str:
    """`text` with accents folded and compatibility forms made plain; letters and case kept.

    'Sécurité' -> 'Securite', 'Ελληνικά' -> 'Ελληνικα', 'Ёлка' -> 'Елка', 'مُحَمَّد' -> 'محمد',
    'Ｐａｌａｎｔｉｒ' -> 'Palantir'; 'й', 'ガ', 'ئ' and 'हिंदी' unchanged. Zero-width joiners and soft
    hyphens go too: some copies of a text have them and others not ('نرم‌افزار' -> 'نرمافزار').
    """
    if text.isascii():
        return text
    text = _INVISIBLE.sub("", text)
    if text and max(text) >= "\u0591":  # only then can Hebrew or Arabic points be there
        text = _HEBREW_POINTS.sub("", _ARABIC_OPTIONAL.sub("", text))
    decomposed = unicodedata.normalize("NFKD", text)
    kept, base = [], " "
    for char in decomposed:
        if unicodedata.combining(char):
            if char in _KANA_VOICING or char in _ARABIC_HAMZA or not _drop(char, base):
                kept.append(char)
            continue
        base = char
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))

