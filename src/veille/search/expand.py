"""--cross-lingual: a query widened to the other languages (topic terms, every spelling of a name)."""

from __future__ import annotations

import re

from veille.text.keys import Aliases, normalise


def cross_lingual(query: str, lexicon: dict[str, dict[str, list[str]]], aliases: Aliases) -> tuple[str, list[str]]:
    """Widen a query to the other languages: topic terms into their translations (`lexicon`: topic
    slug -> language -> terms), names into their entity keys (`aliases`).

    Returns the new query and one line per expansion, to show the user.
    """
    notes: list[str] = []
    # Longest terms first, so "vidéosurveillance algorithmique" wins over "vidéosurveillance".
    terms = sorted(((term, slug) for slug, by_lang in lexicon.items() for terms in by_lang.values() for term in terms),
                   key=lambda item: -len(item[0]))
    # Every match is found in the query as the user wrote it, then all are replaced
    # in one pass: an inserted translation must never be expanded again.
    spans: list[tuple[int, int, str]] = []
    done: set[str] = set()
    for term, slug in terms:
        if slug in done:
            continue
        match = re.compile(r'"?(?<![\w-])' + re.escape(term) + r'(?![\w-])"?', re.I).search(query)
        if not match or any(s < match.end() and match.start() < e for s, e, _ in spans):
            continue
        others = sorted({t for ts in lexicon[slug].values() for t in ts if t.lower() != term.lower()})
        group = "(" + " OR ".join([f'"{term}"', *(f'"{t}"' for t in others), f"tag:{slug}"]) + ")"
        spans.append((match.start(), match.end(), group))
        done.add(slug)
        notes.append(f"{term} → tag:{slug} and {len(others)} terms in other languages ({', '.join(others[:4])}, …)")
    for match in re.finditer(r'(?<![\w:"-])([A-Za-zÀ-ÿ][\w-]{1,})(?![\w:])', query):
        word = match.group(1)
        if word.upper() in ("AND", "OR", "NOT", "TO") or any(s < match.end() and match.start() < e for s, e, _ in spans):
            continue
        key = aliases.table.get(normalise(word))
        if key:
            spans.append((match.start(), match.end(), f"({word} OR entity:{key})"))
            notes.append(f"{word} → entity:{key} (every spelling and language)")
    for start, end, replacement in sorted(spans, reverse=True):
        query = query[:start] + replacement + query[end:]
    return query, notes
