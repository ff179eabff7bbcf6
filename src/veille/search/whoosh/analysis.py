"""How the index reads words: folded, stop words dropped, stemmed in the article's own language.

Every word is lower-cased, accent-folded and reduced to its Snowball stem *in the article's own
language* (PyStemmer, in C, with a per-language cache), stop words of that language dropped. So
"reconnaissances" finds "reconnaissance" and "securite" finds "sécurité". Chinese and Japanese put
no spaces between words, and Korean glues particles onto them: their characters are indexed one by
one and in overlapping pairs (bigrams, as Lucene's CJK analyzer does), so a word of any length is
found without a dictionary (see `cjk_terms`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer
from whoosh.lang import has_stopwords, stopwords_for_language

from veille.text.scripts import CJK, WORD, has_cjk, is_cjk, strip_accents
from veille.text.stemmers import STEMMERS  # noqa: F401 - one table, also read by the topic tagger

# Words whoosh's stop lists lack (its French list has no "les").
EXTRA_STOPWORDS = {"fr": {"les", "des", "aux", "du", "au"}, "en": {"its"}, "es": {"los", "las"}}
# A word: letters, digits and combining marks (which \w alone leaves out: Devanagari vowel signs).
WORDS = re.compile(f"{WORD}+(?:\\.?{WORD}+)*")
CJK_RUNS = re.compile(f"[{CJK}]+|[^{CJK}]+")
CJK_WORD = "\x01"  # not a term: the word holds CJK characters (see ArticleAnalyzer.terms)
MARK = "\x00"  # text handed to the analyzer starts with "\x00fr\x00": the language to stem it in
CACHE_LIMIT = 300_000


def fold_word(word: str) -> str:
    """Lower-cased word without accents: 'Sécurité' -> 'securite', 'Straße' -> 'strasse', 'Ёлка' -> 'елка'.

    Accents only: the letters of every script stay (see `scripts.strip_accents`)."""
    word = word.lower()
    if word.isascii():
        return word
    word = word.replace("ß", "ss").replace("œ", "oe").replace("æ", "ae").replace("ø", "o").replace("ł", "l")
    return strip_accents(word)


class Language:
    """One language's word -> index term table: folded, stop words dropped (""), stemmed; cached."""

    def __init__(self, lang: str | None) -> None:
        self.lang = lang
        stops = set(stopwords_for_language(lang)) if lang and has_stopwords(lang) else set()
        self.stops = {fold_word(w) for w in stops | EXTRA_STOPWORDS.get(lang or "", set())}
        algorithm = STEMMERS.get(lang or "")
        self.stem = snowballstemmer.stemmer(algorithm).stemWord if algorithm else None
        self.terms: dict[str, str] = {}  # query words and CJK pieces
        self.words: dict[str, str] = {}  # words of indexed text, CJK_WORD for a word with CJK in it

    def term(self, word: str) -> str:
        """The index term of one word as it appears in text ("" for a stop word)."""
        found = self.terms.get(word)
        if found is None:
            found = self._term(word)
            if len(self.terms) > CACHE_LIMIT:
                self.terms.clear()
            self.terms[word] = found
        return found

    def word(self, word: str) -> str:
        """`term(word)`, or CJK_WORD if the word holds CJK characters, for an article's words."""
        found = self.words.get(word)
        if found is None:
            found = CJK_WORD if has_cjk(word) else self._term(word)
            if len(self.words) > CACHE_LIMIT:
                self.words.clear()
            self.words[word] = found
        return found

    def _term(self, word: str) -> str:
        folded = fold_word(word)
        if folded and is_cjk(folded[0]):
            return folded  # a CJK character or pair (see cjk_terms): no stop list, no stemmer
        return "" if folded in self.stops else self.stem(folded) if self.stem else folded


@lru_cache(maxsize=None)
def language(lang: str | None) -> Language:
    return Language(lang if lang in STEMMERS or (lang and has_stopwords(lang)) else None)


def cjk_terms(text: str, offset: int, table: Language | None, index: bool, position: int = 0
               ) -> list[tuple[str, int, int, int]]:
    """(term, position, start, end) of every index term of a text that holds CJK characters.

    Words are words, as in any text; a run of Chinese, Japanese or Korean characters gives each
    character (a unigram) and each pair of neighbours (a bigram) at the character's position, so
    a query word of two or more characters is a phrase of its pairs and one character is itself.
    At query time (`index` False) a run gives only its pairs, and its last character too when more
    words follow in the same phrase: that character's position is what the next word follows.
    """
    found: list[tuple[str, int, int, int]] = []
    trailing = False  # the last entry is a run's closing unigram (query time)
    for match in WORDS.finditer(text):
        word, start = match.group(), match.start()
        for piece in CJK_RUNS.finditer(word) if has_cjk(word) else (match,):
            part = piece.group()
            begin = offset + start + (piece.start() if piece is not match else 0)
            finish = begin + len(part)
            if not is_cjk(part[0]):
                part = part.strip(".")
                term = (table.term(part) if table is not None else fold_word(part)) if part else ""
                if term:
                    found.append((term, position, begin, finish))
                    position += 1
                    trailing = False
                continue
            chars = unicodedata.normalize("NFKC", part)
            exact = len(chars) == len(part)
            spans = [(begin + i, begin + i + 1, begin + i + 2) for i in range(len(chars))] if exact else \
                [(begin, finish, finish)] * len(chars)
            last = len(chars) - 1
            for i, (first, one, two) in enumerate(spans):
                if index or last == 0:
                    found.append((chars[i], position + i, first, one))
                if i < last:
                    found.append((chars[i:i + 2], position + i, first, min(two, finish)))
            if not index and last > 0:
                found.append((chars[last], position + last, spans[last][0], spans[last][1]))
            trailing = not index and last > 0
            position += len(chars)
    if trailing:
        found.pop()  # nothing follows the last run: its pairs say it all
    return found
