"""Which PostgreSQL text search configuration reads each language: its own Snowball stemmer
behind `unaccent` (`veille_french` is `french` with accents folded first), `veille_simple`
(folded, not stemmed) for a language PostgreSQL has no stemmer for."""

from __future__ import annotations

import re

# ISO 639-1 -> the configurations PostgreSQL 15 ships (each with a `<name>_stem` Snowball dictionary).
BASES = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish", "nl": "dutch",
    "en": "english", "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian", "ne": "nepali",
    "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "pt": "portuguese", "ro": "romanian",
    "ru": "russian", "sr": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish",
    "yi": "yiddish",
}
SIMPLE = "veille_simple"


def name(base: str) -> str:
    return f"veille_{base}"


def config_of(lang: str | None, available: set[str]) -> str:
    """The configuration for articles in `lang`, among those made in this database."""
    base = BASES.get((lang or "").lower())
    made = name(base) if base else SIMPLE
    return made if made in available else SIMPLE


# Common words the whoosh backend leaves out that PostgreSQL's stop lists keep (its french.stop has
# no "les"): taken out of the text before the server reads it, and out of queries, so that both
# backends find the same articles. (A stop word list of its own would need files on the server.)
EXTRA_STOPWORDS = {"veille_french": ("les",)}
_EXTRA = {config: re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.I)
          for config, words in EXTRA_STOPWORDS.items()}


def without_stopwords(config: str, text: str) -> str:
    pattern = _EXTRA.get(config)
    return pattern.sub(" ", text) if pattern is not None and text else text
