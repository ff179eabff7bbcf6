"""Vectorised scoring over whoosh's postings, for the query shapes people type most.

whoosh walks postings one document at a time in Python: scoring a word that
half the archive contains costs a few microseconds per article, far too slow
at 100,000 articles. For words, AND, OR and NOT over words, entity keys and
tags, with language, date and other filters, this module reads each posting
list a whole block at a time (whoosh's own block arrays) into numpy, scores
every document at once with the same BM25F formula and parameters whoosh
uses, and picks the top documents with one partial sort. Phrases, prefixes,
wildcards and other ranges are left to whoosh's matchers (`supports` says
which queries qualify), and a test checks that both give the same ranking.

It reads whoosh-reloaded 2.7's segment internals (leaf matchers' block
arrays and the per-document lengths column), pinned in pyproject.toml; if
those change, `available` is False and every query goes to whoosh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from whoosh import query as Q
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

SCORED_FIELDS = ("text", "title", "entity", "tag")
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


def _probe() -> bool:
    from whoosh.codec import whoosh3

    matcher = whoosh3.W3LeafMatcher
    return all(hasattr(matcher, name) for name in ("_read_ids", "_read_values", "_next_block", "_goto")) and \
        hasattr(whoosh3, "LENGTHS_COLUMN") and hasattr(whoosh3, "_lenfield")


available = _probe()


def supports(item) -> bool:
    """True if the fast path can score this (already stemmed) query."""
    if isinstance(item, Q.Term):
        return item.fieldname in SCORED_FIELDS
    if isinstance(item, Q.Phrase):
        return item.fieldname in ("phrases", "title") and item.slop == 1 and len(item.words) > 1
    if isinstance(item, (Q.And, Q.Or)):
        return all(supports(sub) for sub in item.subqueries)
    if isinstance(item, Q.Not):
        return supports(item.query)
    if isinstance(item, Q.AndNot):
        return supports(item.a) and supports(item.b)
    return False


@dataclass
class Matches:
    """Scores over every document of the index (global docnums); `hit` says which ones match."""
    score: np.ndarray
    hit: np.ndarray


class Table:
    """Per open searcher: segments, document lengths, deleted documents, and term postings on demand."""

    def __init__(self, searcher) -> None:
        from whoosh.codec.whoosh3 import LENGTHS_COLUMN

        self.searcher = searcher
        self.leaves = list(searcher.reader().leaf_readers())
        self.size = searcher.doc_count_all()
        self.live = np.ones(self.size, dtype=bool)
        self._lengths: dict[str, np.ndarray] = {}
        self._columns = LENGTHS_COLUMN
        self._days: np.ndarray | None = None
        for reader, base in self.leaves:
            if reader.has_deletions():
                for docnum in reader.deleted_docs_set:
                    self.live[base + docnum] = False

    # -- reading whoosh's segments ------------------------------------------------
    def lengths(self, fieldname: str) -> np.ndarray:
        from whoosh.codec.whoosh3 import _lenfield

        found = self._lengths.get(fieldname)
        if found is None:
            found = np.zeros(self.size, dtype=np.float32)
            for reader, base in self.leaves:
                count = reader.doc_count_all()
                perdoc = reader._perdoc
                name = _lenfield(fieldname)
                if not perdoc.has_column(name):
                    continue
                column = perdoc.column_reader(name, self._columns)
                raw = np.frombuffer(column._dbfile.get(column._basepos, column._count), dtype=np.uint8)
                found[base:base + min(count, len(raw))] = _LENGTH_OF_BYTE[raw[:count]]
            self._lengths[fieldname] = found
        return found

    def postings(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(global docnums, term frequencies) of one term, deleted documents included."""
        ids, weights = [], []
        for reader, base in self.leaves:
            try:
                matcher = reader.postings(fieldname, text)
            except TermNotFound:
                continue
            matcher = getattr(matcher, "child", matcher)  # deletions are masked later, all at once
            while matcher.is_active():
                matcher._read_ids()
                block = np.asarray(matcher._ids, dtype=np.int64) + base
                ids.append(block)
                raw = matcher._data[1]
                if raw is None or isinstance(raw, float):
                    weights.append(np.full(len(block), 1.0 if raw is None else raw, dtype=np.float32))
                else:
                    weights.append(np.asarray(raw, dtype=np.float32))
                if matcher._lastblock:
                    break
                matcher._goto(matcher._nextoffset)
        if not ids:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        return np.concatenate(ids), np.concatenate(weights)

    def days(self) -> np.ndarray:
        """Each document's publication day as a number (20250115), 0 if unknown."""
        if self._days is None:
            self._days = np.zeros(self.size, dtype=np.int32)
            for term in self.searcher.lexicon("day"):
                text = term.decode("utf-8") if isinstance(term, bytes) else term
                ids, _ = self.postings("day", text)
                self._days[ids] = int(text.replace("-", ""))
        return self._days

    def mask(self, fieldname: str, texts) -> np.ndarray:
        """Documents holding any of these terms."""
        found = np.zeros(self.size, dtype=bool)
        for text in texts:
            ids, _ = self.postings(fieldname, text)
            found[ids] = True
        return found

    # -- scoring ---------------------------------------------------------------------
    def evaluate(self, item) -> Matches:
        if isinstance(item, Q.Term):
            return self._term(item)
        if isinstance(item, Q.Phrase):
            return self._phrase(item)
        if isinstance(item, Q.Or):
            parts = [self.evaluate(sub) for sub in item.subqueries]
            score = np.sum([p.score for p in parts], axis=0) * item.boost
            hit = np.logical_or.reduce([p.hit for p in parts])
            return Matches(score, hit)
        if isinstance(item, Q.And):
            parts = [self.evaluate(sub) for sub in item.subqueries]
            hit = np.logical_and.reduce([p.hit for p in parts])
            return Matches(np.sum([p.score for p in parts], axis=0) * item.boost, hit)
        if isinstance(item, Q.AndNot):
            kept, dropped = self.evaluate(item.a), self.evaluate(item.b)
            return Matches(kept.score, kept.hit & ~dropped.hit)
        if isinstance(item, Q.Not):  # as whoosh's InverseMatcher: every other document, each scoring 1
            inner = self.evaluate(item.query)
            hit = self.live & ~inner.hit
            return Matches(hit.astype(np.float32) * item.boost, hit)
        raise TypeError(f"not a fast query: {item!r}")

    def _term(self, item: Q.Term) -> Matches:
        """BM25F exactly as whoosh.scoring.BM25F scores one term (B=0.75, K1=1.2)."""
        ids, tf = self.postings(item.fieldname, item.text)
        score = np.zeros(self.size, dtype=np.float32)
        hit = np.zeros(self.size, dtype=bool)
        if len(ids):
            searcher = self.searcher
            idf = searcher.idf(item.fieldname, item.text)
            if searcher.schema[item.fieldname].scorable:
                average = searcher.avg_field_length(item.fieldname) or 1.0
                length = self.lengths(item.fieldname)[ids]
                b, k1 = 0.75, 1.2
                values = idf * (tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * length / average))
            else:
                values = tf * idf
            score[ids] = values * item.boost
            hit[ids] = True
        return Matches(score, hit)

    def _phrase(self, item: Q.Phrase) -> Matches:
        """Documents with the words side by side: candidates from the word postings (numpy), then
        the positions of only those documents, read from the positional field. Scored as the words."""
        scored = "text" if item.fieldname == "phrases" else item.fieldname
        words = [self._term(Q.Term(scored, w)) for w in item.words]
        candidates = np.logical_and.reduce([w.hit for w in words]) & self.live
        docs = np.flatnonzero(candidates)
        hit = np.zeros(self.size, dtype=bool)
        if len(docs):
            found = [self.positions(item.fieldname, w, docs) for w in item.words]
            for doc in docs.tolist():
                lists = [f.get(doc) for f in found]
                if all(lists) and _adjacent(lists):
                    hit[doc] = True
        score = np.where(hit, np.sum([w.score for w in words], axis=0), 0).astype(np.float32) * item.boost
        return Matches(score, hit)

    def positions(self, fieldname: str, text: str, docs: np.ndarray) -> dict[int, list[int]]:
        """Positions of one term in the given documents (sorted global docnums) only."""
        from whoosh.formats import Positions

        decode = Positions().decode_positions
        out: dict[int, list[int]] = {}
        mask = np.zeros(self.size, dtype=bool)
        mask[docs] = True
        for reader, base in self.leaves:
            wanted = docs[(docs >= base) & (docs < base + reader.doc_count_all())] - base
            if not len(wanted):
                continue
            try:
                matcher = reader.postings(fieldname, text)
            except TermNotFound:
                continue
            matcher = getattr(matcher, "child", matcher)
            pointer = 0
            while matcher.is_active() and pointer < len(wanted):
                if matcher._maxid >= wanted[pointer]:  # a block without wanted documents is not even unpickled
                    matcher._read_ids()
                    ids = np.asarray(matcher._ids, dtype=np.int64)
                    chosen = np.flatnonzero(mask[ids + base])
                    if len(chosen):
                        matcher._read_values()
                        values = matcher._values
                        for i in chosen.tolist():
                            out[base + int(ids[i])] = decode(values[i])
                    pointer = int(np.searchsorted(wanted, matcher._maxid, side="right"))
                if matcher._lastblock:
                    break
                matcher._goto(matcher._nextoffset)
        return out

    def top(self, item, allowed: np.ndarray | None, limit: int, by_date: np.ndarray | None = None
            ) -> tuple[list[tuple[int, float]], int]:
        """The best `limit` (docnum, score) pairs, best first (ties: older docnum first), and the match count.

        With `by_date` (one sortable number per document), newest first instead.
        """
        found = self.evaluate(item) if item is not None else Matches(np.zeros(self.size, np.float32), self.live.copy())
        hit = found.hit & self.live
        if allowed is not None:
            hit &= allowed
        docs = np.flatnonzero(hit)
        if not len(docs):
            return [], 0
        keys = -found.score[docs] if by_date is None else -by_date[docs].astype(np.float64)
        if len(docs) > limit:
            chosen = np.argpartition(keys, limit - 1)[:limit]
            # whatever ties the last chosen key must compete too, so the order does not depend on argpartition
            edge = keys[chosen].max()
            chosen = np.flatnonzero(keys <= edge)
        else:
            chosen = np.arange(len(docs))
        ties = docs[chosen] if by_date is None else -docs[chosen]  # same day: the later indexed first
        order = chosen[np.lexsort((ties, keys[chosen]))][:limit]
        return [(int(docs[i]), float(found.score[docs[i]])) for i in order], len(docs)



def _adjacent(lists: list[list[int]]) -> bool:
    """Whether some position p of the first word has p+1 in the second list, p+2 in the third..."""
    later = [set(p) for p in lists[1:]]
    return any(all(p + k in positions for k, positions in enumerate(later, start=1)) for p in lists[0])


def speed_up_length_reads() -> None:
    """Read a segment's field lengths from memory, not one 1-byte file read per posting.

    whoosh asks `doc_field_length` once per posting when it writes a segment (for each block's
    shortest and longest document) and once per document it scores; each call reads one byte
    through the column reader. A segment never changes once written, so its length column is read
    whole on first use and kept with the segment's reader. Same values, same `None` for a missing
    length, as the method it replaces.
    """
    from whoosh.codec import whoosh3

    original = whoosh3.W3PerDocReader.doc_field_length
    if getattr(original, "veille", False):
        return

    def doc_field_length(self, docnum, fieldname, default=0):
        cache = self.__dict__.setdefault("_veille_lengths", {})
        raw = cache.get(fieldname)
        if raw is None:
            reader = self._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
            if reader is None:
                return default
            raw = cache[fieldname] = bytes(reader._dbfile.get(reader._basepos, reader._count))
        if docnum > self._doccount:
            raise IndexError("Asked for docnum %r of %d" % (docnum, self._doccount))
        value = raw[docnum] if docnum < len(raw) else 0
        return whoosh3.byte_to_length(value) if value else None

    doc_field_length.veille = True
    whoosh3.W3PerDocReader.doc_field_length = doc_field_length


if available:
    speed_up_length_reads()
