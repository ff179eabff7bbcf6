"""Entity keys: one key for every spelling of one entity.

    "l'ICE", "the ICE", "ICE", "Immigration and Customs Enforcement" -> "ice"

A key is the name with case and accents folded, leading articles and
elisions dropped, punctuation turned into hyphens; then looked up in the
alias table, built from the gazetteer and `data/aliases.yaml`, which joins
names that share no letters ("AWS" and "Amazon Web Services").

Keys keep the letters of every script: "Роскомнадзор" -> "роскомнадзор",
"Υπουργείο Ψηφιακής" -> "υπουργειο-ψηφιακης", "华为" -> "华为". Only accents are
folded (see `scripts.strip_accents` for which marks are accents).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import yaml

from veille.text.scripts import split_non_words, strip_accents

logger = logging.getLogger(__name__)
# libyaml's loader when PyYAML was built with it (the wheels are): the gazetteer reads in 30 ms, not 300.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LABELS = ("PERSON", "ORG", "LOC", "MISC")

DATA = Path(__file__).resolve().parent.parent / "data"

# Leading articles dropped from keys, in the languages veille ships lexicons for.
_ARTICLES = {
    "the", "le", "la", "les", "el", "los", "las", "il", "lo", "gli", "der", "die", "das", "den", "dem",
}
_ELISION = re.compile(r"^(?:l|d)['’]\s*", re.I)
_POSSESSIVE = re.compile(r"['’]s$", re.I)
# Bumped whenever a key of some name changes, so that `veille retag` tags old articles again
# (2: the letters of every script are kept, where 1 kept ASCII letters only).
KEYS_VERSION = 2


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Lower case, no accents; words of letters and digits of any script, joined by hyphens."""
    words = split_non_words(strip_accents(text.casefold()))
    # casefold writes every Greek sigma "σ"; a word's last one is "ς", as people write it
    return "-".join(w[:-1] + "ς" if w.endswith("σ") else w for w in words)


def normalise(name: str) -> str:
    """The key of a name before aliases: 'l’ICE' -> 'ice', 'The Guardian' -> 'guardian'."""
    name = " ".join(name.split())
    name = _POSSESSIVE.sub("", _ELISION.sub("", name))
    words = name.split(" ")
    if len(words) > 1 and words[0].casefold() in _ARTICLES:
        name = " ".join(words[1:])
    return fold(name)


class Aliases:
    """Normalised spelling -> canonical key."""

    def __init__(self, table: dict[str, str] | None = None) -> None:
        self.table = dict(table or {})
        self._seen: dict[str, str] = {}  # name as written -> key: the same names recur

    def add(self, key: str, names: list[str]) -> None:
        for name in [key, *names]:
            self.table.setdefault(normalise(str(name)), key)
        self._seen.clear()

    def key(self, name: str) -> str:
        found = self._seen.get(name)
        if found is None:
            normal = normalise(name)
            found = self._seen[name] = self.table.get(normal, normal)
        return found


def load_aliases(gazetteer: list[dict], path: Path = DATA / "aliases.yaml") -> Aliases:
    aliases = Aliases()
    for entry in gazetteer:
        aliases.add(entry["key"], entry.get("names", []))
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) if path.exists() else {}
    for key, names in (data or {}).items():
        aliases.add(str(key), [str(n) for n in names or []])
    return aliases


def load_gazetteer(path: Path | None = None) -> list[dict]:
    """The gazetteer's entries (key, label, names), the invalid ones left out with a warning."""
    path = path or DATA / "gazetteer.yaml"
    if not path.exists():
        logger.warning("no gazetteer", extra={"path": str(path)})
        return []
    entries = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or []
    valid = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("key") and entry.get("label") in LABELS:
            valid.append({"key": str(entry["key"]), "label": entry["label"],
                          "names": [str(n) for n in entry.get("names") or [] if str(n).strip()]})
        else:
            logger.warning("gazetteer entry skipped", extra={"entry": entry})
    return valid
