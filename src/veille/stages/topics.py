"""What an article is about: `TopicTagger.tag(text, lang) -> list[str]`.

Topic tags are language-neutral slugs (`facial-recognition`) from an
editable multilingual lexicon (`data/topics.yaml`). Terms and text are
compared word by word on Snowball stems with case and accents folded, so
that "reconnaissances faciales" matches "reconnaissance faciale" and
"facial-recognition systems" matches "facial recognition". Each language's
terms are matched together with the English ones, which travel as loanwords
("smart city", "safe city"). German and Dutch compounds also match inside
longer words ("Gesichtserkennungssoftware"). Languages written without
spaces (Chinese, Japanese) are compared character by character, so "人脸识别"
matches inside "使用人脸识别技术"; languages with no Snowball stemmer are
compared on folded words.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import snowballstemmer
import yaml

from veille.text.keys import DATA, fold
from veille.text.scripts import words as split_words
from veille.text.stemmers import STEMMERS

COMPOUND_LANGS = ("de", "nl", "sv", "da", "no")
# Text in these languages is matched against their own terms and the English ones, even where the lexicon
# has none of their own; text in any other language the lexicon lacks tries every language's terms. (The
# languages the tagger stemmed before it shared the index's stemmer table: the tags stay as they were.)
OWN_TERMS_LANGS = frozenset(("en", "fr", "es", "de", "it", "pt", "nl", "sv", "da", "no", "fi", "ro", "hu", "ru", "tr"))


def load_lexicon(path: Path = DATA / "topics.yaml") -> dict[str, dict[str, list[str]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {} if path.exists() else {}
    return {str(slug): {str(lang): [str(t) for t in terms or []] for lang, terms in (langs or {}).items()}
            for slug, langs in data.items()}


class TopicTagger:
    def __init__(self, lexicon: dict[str, dict[str, list[str]]] | None = None) -> None:
        self.lexicon = load_lexicon() if lexicon is None else lexicon
        self._compiled: dict[str, tuple[dict[str, list[tuple[tuple[str, ...], str]]], list[tuple[str, str]]]] = {}

    def tag(self, text: str, lang: str) -> list[str]:
        """Sorted topic slugs whose terms occur in `text`."""
        lang = (lang or "").split("-")[0]  # "zh-cn": the lexicon's "zh"
        if lang not in OWN_TERMS_LANGS and lang not in self._lexicon_langs():
            # A language the lexicon does not know: try every language's terms, each with its own stemmer.
            return sorted({t for code in self._lexicon_langs() for t in self._tag(text, code)})
        return sorted(self._tag(text, lang))

    def _lexicon_langs(self) -> list[str]:
        return sorted({lang for terms in self.lexicon.values() for lang in terms})

    def _tag(self, text: str, lang: str) -> set[str]:
        phrases, compounds = self._compile(lang)
        stem = _stemmer(lang)
        words = [_fold_word(w) for w in split_words(text)]
        stems = [stem(w) for w in words]
        found: set[str] = set()
        for i, first in enumerate(stems):
            for sequence, slug in phrases.get(first, ()):
                if tuple(stems[i:i + len(sequence)]) == sequence:
                    found.add(slug)
        if compounds:
            for word in set(words):
                for part, slug in compounds:
                    if part in word:
                        found.add(slug)
        return found

    def _compile(self, lang: str):
        if lang not in self._compiled:
            stem = _stemmer(lang)
            phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
            compounds: list[tuple[str, str]] = []
            for slug, by_lang in self.lexicon.items():
                terms = set(by_lang.get(lang, [])) | set(by_lang.get("en", []))
                for term in terms:
                    words = [fold(w) for w in split_words(term)]
                    if not words:
                        continue
                    sequence = tuple(stem(w) for w in words)
                    phrases.setdefault(sequence[0], []).append((sequence, slug))
                    if lang in COMPOUND_LANGS and len(words) == 1 and len(words[0]) >= 8 and term in by_lang.get(lang, []):
                        compounds.append((words[0], slug))
            self._compiled[lang] = (phrases, compounds)
        return self._compiled[lang]


@lru_cache(maxsize=200_000)
def _fold_word(word: str) -> str:
    return fold(word)


@lru_cache(maxsize=None)
def _stemmer(lang: str):
    if lang not in STEMMERS:
        return _same
    algorithm = snowballstemmer.stemmer(STEMMERS[lang])
    return lru_cache(maxsize=200_000)(algorithm.stemWord)


def _same(word: str) -> str:
    return word
