"""The passage of an article where the query's words are, with those words marked."""

from __future__ import annotations

from veille.search.whoosh.analysis import WORDS, Language, cjk_terms, language
from veille.text.scripts import has_cjk


def _joined(out: str, piece: str) -> str:
    """`out` and `piece` with every run of white space made one space, also across the seam."""
    flat = " ".join(piece.split())
    if piece[:1].isspace() and flat:
        flat = " " + flat
    if piece[-1:].isspace() and flat.strip():
        flat += " "
    if not flat.strip():
        flat = " " if piece else ""
    if out.endswith(" ") and flat.startswith(" "):
        flat = flat[1:]
    if not out and flat.startswith(" "):
        flat = flat[1:]
    return out + flat


class Highlighter:
    """The passage of an article where the query's words are, with those words in [brackets]."""

    def __init__(self, terms: set[str]) -> None:
        self.terms = terms

    def snippet(self, text: str, lang: str | None, width: int = 160) -> str:
        """The passage with the query's words in [brackets] (for pipes and files)."""
        passage, marks = self.passage(text, lang, width)
        pieces, cursor = [], 0
        for begin, finish in marks:
            pieces += [passage[cursor:begin], f"[{passage[begin:finish]}]"]
            cursor = finish
        return "".join(pieces) + passage[cursor:]

    def passage(self, text: str, lang: str | None, width: int = 160) -> tuple[str, list[tuple[int, int]]]:
        """The passage where the query's words are, and where they are in it: (start, end) offsets,
        for a terminal to colour and for --json to give as they are."""
        spans = self._spans(text, language(lang)) if self.terms else []
        if not spans:
            return _first_words(text), []
        first = spans[0][0]
        start = max(0, text.rfind(" ", 0, max(0, first - 80)) + 1)
        if has_cjk(text[max(0, first - 40):first + 40]):
            # Characters twice as wide, and no spaces to cut at: half as many, 20 of them before the word.
            start = max(start, first - 20)
            end = min(len(text), start + (width + 80) // 2)
            space = text.find(" ", end, end + 10)
            end = space if space != -1 else end
        else:
            end = min(len(text), start + width + 80)
            end = max(end, text.find(" ", end) if text.find(" ", end) != -1 else len(text))
        out, marks, cursor = "…" if start else "", [], start
        for begin, finish in spans:
            if begin >= end:
                break
            out = _joined(out, text[cursor:begin])
            word = " ".join(text[begin:finish].split())
            marks.append((len(out), len(out) + len(word)))
            out, cursor = out + word, finish
        out = _joined(out, text[cursor:end]).rstrip()
        if out.startswith("… "):
            out, marks = "…" + out[2:], [(a - 1, b - 1) for a, b in marks]
        return out + ("…" if end < len(text) else ""), marks

    def _spans(self, text: str, table: Language) -> list[tuple[int, int]]:
        """Where the query's terms are in `text`: (start, end) of each word, or of each run of CJK
        characters whose pairs (or single characters) the query holds."""
        if not has_cjk(text):
            return [match.span() for match in WORDS.finditer(text) if table.term(match.group()) in self.terms]
        spans: list[tuple[int, int]] = []
        for term, _, start, end in cjk_terms(text, 0, table, index=True):
            if term not in self.terms:
                continue
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        return spans


def _first_words(text: str, limit: int = 200) -> str:
    piece = " ".join(text[:limit + 50].split())
    return piece[:limit] + ("…" if len(text) > limit else "")
