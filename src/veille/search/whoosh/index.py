"""The full-text index: derived from the archive, rebuildable at any time.

whoosh (the `whoosh-reloaded` package), built for speed in pure Python: one
text field holds every article, its words read as `analysis` says (folded,
stemmed in the article's language, CJK characters and pairs). A query word is
folded the same way and stemmed once per language the index holds (usually one
to three distinct stems), so each word is one or a few terms in one field,
which lets whoosh skip whole posting blocks that cannot reach the top results;
a query word of two or more CJK characters is the phrase of its pairs ("传输层"
-> "传输 输层"). Language, source, date and story are filters (sets of
documents, cached per open index), not scored terms; entity keys and topic
tags are fields of their own (`entity:palantir`, `tag:facial-recognition`).

The index records how far it got (`cursor.json`): anything stored after
that is indexed on the next `sync`, so a crash between storing and indexing
heals by itself, and `veille reindex` rebuilds it all from the archive.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from pickle import dumps
from typing import Iterable

import numpy as np
from whoosh import formats
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema
from whoosh.idsets import BitSet
from whoosh.system import pack_uint

from veille.errors import IndexDamagedError, QueryError  # noqa: F401 - importable here, as before
from veille.models import Article
from veille.search.query import MAX_QUERY_CHARS, MAX_QUERY_TERMS, check_bounds, check_syntax  # noqa: F401
from veille.search import INDEX_DIR
from veille.search.protocol import NO_FILTERS, Filters, Hit, Results, published_time
from veille.search.query import Empty, Query, parse as parse_query, read as read_query
from veille.search.whoosh import fastpath
from veille.search.whoosh.analysis import CJK_WORD, MARK, WORDS, cjk_terms, fold_word, language  # noqa: F401
from veille.search.whoosh.bulk import TiedWriter, swap
from veille.search.whoosh.highlight import Highlighter
from veille.search.whoosh.reading import filter_text, is_filter, stem_query
from veille.search.whoosh.tree import to_whoosh
from veille.text.scripts import has_cjk

# Indexes written before the subpackages name their analyzer and formats `veille.index.*` in the pickled
# schema: the old name stays an alias of this module, so those indexes open without a rebuild.
sys.modules.setdefault("veille.index", sys.modules[__name__])
BUILD_DIR = "index.new"  # `veille reindex` builds here, beside the index readers keep using
# The analyzer's layout, kept in the index's schema: an index written by another layout is rebuilt.
# 2: CJK characters and pairs (1 indexed a run of them as one word), marks inside words, й kept.
LAYOUT = 2
# Bulk loads (`veille reindex`) commit this many articles at a time, in two processes. whoosh
# sorts each process's postings in memory up to POOL_MB (its own estimate; the real peak is
# about 650 MiB per process at this size); past it, it spills every posting to disk one pickle
# at a time and merges them back, which halved indexing speed at 20,000 articles per commit.
BULK_BATCH = 8_000
POOL_MB = 512


class ArticleAnalyzer(Tokenizer):
    """Index time: "\x00fr\x00text" -> French terms. Query time (no mark): folded words, to be stemmed
    per language by `SearchIndex.parse`. Chinese, Japanese and Korean characters: see `cjk_terms`."""

    layout = LAYOUT  # what this code writes; an open index's analyzer says what wrote it

    def __init__(self) -> None:
        self._terms_value = None
        self._terms: list[str] = []
        self._positions: list[int] | None = None

    def __getstate__(self):  # the last text's terms are per process; they never travel with the schema
        return {"layout": LAYOUT}

    def __setstate__(self, state) -> None:
        self.__init__()
        self.layout = state.get("layout", 1)  # indexes written before CJK bigrams pickled no state

    def terms(self, value: str) -> list[str]:
        """The index terms of a marked text ("\x00fr\x00..."), in order, stop words left out.

        What the index formats below count and place, without a Token object per word; the same
        text object for the next field of the same document is read once."""
        if value is self._terms_value:
            return self._terms
        end = value.index(MARK, 1)
        table = language(value[1:end] or None)
        known, term = table.words.get, table.word
        found = [known(word) or term(word) for word in WORDS.findall(value, end + 1)]
        # A word with CJK characters in it says that the text needs cutting into characters: found
        # among the cached words, at no cost for the texts that have none.
        if CJK_WORD not in found:
            self._terms_value, self._terms, self._positions = value, [t for t in found if t], None
        else:
            placed = cjk_terms(value[end + 1:], 0, table, index=True)
            self._terms_value = value
            self._terms, self._positions = [t[0] for t in placed], [t[1] for t in placed]
        return self._terms

    def positions(self, value: str) -> list[int] | range:
        """The position of each of `terms(value)`: one after the other, except CJK pairs, which share."""
        terms = self.terms(value)
        return range(len(terms)) if self._positions is None else self._positions

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        table = None
        if value.startswith(MARK):
            end = value.index(MARK, 1)
            table = language(value[1:end] or None)
            value = value[end + 1:]
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = fold_word(value)
            token.boost, token.stopped = 1.0, False
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        if has_cjk(value):
            for text, position, start, end in cjk_terms(value, start_char, table, index=table is not None,
                                                           position=start_pos):
                token.text = text
                token.boost, token.stopped = 1.0, False
                if keeporiginal:
                    token.original = value[start - start_char:end - start_char]
                if positions:
                    token.pos = position
                if chars:
                    token.startchar, token.endchar = start, end
                yield token
            return
        position = start_pos
        for match in WORDS.finditer(value):
            word = match.group()
            text = table.term(word) if table is not None else fold_word(word)
            if not text:
                continue  # a stop word: not indexed, and phrases close over it as whoosh's StopFilter does
            token.text = text
            token.boost, token.stopped = 1.0, False
            if keeporiginal:
                token.original = word
            if positions:
                token.pos = position
                position += 1
            if chars:
                token.startchar, token.endchar = start_char + match.start(), start_char + match.end()
            yield token


def _marked(value, analyzer) -> bool:
    return isinstance(analyzer, ArticleAnalyzer) and isinstance(value, str) and value.startswith(MARK)


class CountedFrequency(formats.Frequency):
    """whoosh's Frequency format, with an article's terms counted in one pass (same bytes on disk)."""

    def word_values(self, value, analyzer, **kwargs):
        if not _marked(value, analyzer):
            return super().word_values(value, analyzer, **kwargs)
        boost = self.field_boost
        return ((word, count, count * boost, pack_uint(count))
                for word, count in Counter(analyzer.terms(value)).items())


class CountedPositions(formats.Positions):
    """whoosh's Positions format, with an article's positions gathered in one pass (same bytes on disk)."""

    def word_values(self, value, analyzer, **kwargs):
        if not _marked(value, analyzer):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        places: dict[str, list[int]] = {}
        terms = analyzer.terms(value)
        for position, word in zip(analyzer.positions(value), terms):
            found = places.get(word)
            if found is None:
                places[word] = [position]
            else:
                found.append(position)
        boost = self.field_boost
        for word, positions in places.items():
            deltas = [b - a for a, b in zip([0, *positions], positions)]
            yield word, len(positions), len(positions) * boost, pack_uint(len(deltas)) + dumps(deltas, 2)


def schema() -> Schema:
    analyzer = ArticleAnalyzer()
    fields = dict(
        id=ID(stored=True, unique=True),
        story=ID(stored=True, sortable=True),
        lang=ID(stored=True),
        source=KEYWORD(stored=True, lowercase=True, commas=True, scorable=False),
        published=DATETIME(stored=True, sortable=True),
        day=ID(),  # YYYY-MM-DD of `published`: date filters and date order on the fast path
        title=TEXT(analyzer=analyzer, stored=True, phrase=True),
        # The same words twice: `text` without positions is what words and booleans score on (its
        # posting blocks are small and quick to read); `phrases` keeps positions, for "exact phrases".
        text=TEXT(analyzer=analyzer, phrase=False),
        phrases=TEXT(analyzer=analyzer, phrase=True),
        entity=KEYWORD(lowercase=True, commas=True, scorable=True),
        tag=KEYWORD(lowercase=True, commas=True, scorable=True),
    )
    for name, kind in (("title", CountedPositions), ("text", CountedFrequency), ("phrases", CountedPositions)):
        fields[name].format = kind(field_boost=fields[name].format.field_boost)
    return Schema(**fields)


@dataclass
class Plan:
    """A parsed query: what scores (None: everything), what only filters, and the terms to highlight."""
    scored: object | None
    filters: list
    ignored: tuple[str, ...] = ()  # common words left out of the query ("the", "les", lower-case "and")


class SearchIndex:
    """The whoosh index in ARCHIVE/index.

    `repair=True` (the archive's writer, when it brings the index up to date) replaces an index
    that is missing, unreadable or in an older layout with an empty one, which the sync then fills
    from the archive; `self.rebuilt` says why. Without repair, IndexDamagedError instead: a
    reader must not delete what a running writer is using. A `reader` does not create a missing
    index either (the writer that holds the archive does).
    """

    bulk_batch = BULK_BATCH

    def __init__(self, folder: Path, repair: bool = False, reader: bool = False, name: str = INDEX_DIR) -> None:
        self.folder = Path(folder) / name
        self._searcher = None
        self._filter_cache: dict[str, np.ndarray] = {}
        self._table: fastpath.Table | None = None
        self._languages: list[str] | None = None
        self.rebuilt: str | None = None
        self.cursor_lost = False  # cursor.json could not be read: everything is indexed again
        problem = self._open()
        if problem is not None and problem != "missing" and reader:
            problem = self._open()  # once more: `veille reindex` may have put its new index in place meanwhile
        if problem is None:
            return
        if problem == "missing" and reader:  # a writer is at work (else the reader would have built it)
            raise IndexDamagedError(f"the search index in {self.folder} is not built yet; the running veille "
                                    "builds it at its next pass: try again in a moment")
        if problem != "missing" and not repair:
            raise IndexDamagedError(f"the search index in {self.folder} is {problem}; it is rebuilt from the "
                                    "archive by the next `veille fetch` or `veille run` pass, or now with "
                                    "`veille reindex`")
        self.rebuilt = problem
        try:
            self.clear()
        except OSError as exc:
            raise IndexDamagedError(f"the search index in {self.folder} is {problem} and cannot be made again "
                                    f"({exc.strerror}); check that the archive folder is writable") from None

    def _open(self) -> str | None:
        """Open the index and its segments' files; what is wrong with it, or None."""
        if not self.folder.is_dir() or not any(self.folder.glob("_MAIN_*.toc")):
            return "missing"
        try:
            self.ix = whoosh_index.open_dir(self.folder)
            analyzer = self.ix.schema["text"].analyzer if "text" in self.ix.schema else None
            if "phrases" not in self.ix.schema or not isinstance(analyzer, ArticleAnalyzer) or \
                    analyzer.layout != LAYOUT:
                return "in an older layout"
            # open every segment's files and read a term: the searcher is then kept for queries
            self._searcher = self.ix.searcher()
            next(iter(self._searcher.lexicon("id")), None)
        except Exception as exc:  # whoosh raises anything from a damaged file: pickle, struct, EOF...
            return f"unreadable ({type(exc).__name__}: {str(exc)[:80]})"
        return None

    # -- writing -----------------------------------------------------------------
    @property
    def cursor(self) -> str:
        """How far the index got in the archive's changes ("" for nothing yet). A cursor file that
        cannot be read counts as nothing: the next sync indexes every article again (each replaces
        its own document), which heals the index instead of stopping every search."""
        path = self.folder / "cursor.json"
        try:
            value = json.loads(path.read_text(encoding="utf-8"))["cursor"] if path.exists() else ""
        except (OSError, ValueError, TypeError, KeyError):
            value = None
        if not isinstance(value, str):
            self.cursor_lost = True
            return ""
        return value

    def save_cursor(self, value: str) -> None:
        (self.folder / "cursor.tmp").write_text(json.dumps({"cursor": value}))
        (self.folder / "cursor.tmp").replace(self.folder / "cursor.json")

    def add(self, articles: Iterable[tuple[Article, str | None, list[str], list[str]]], cursor: str,
            procs: int = 1) -> int:
        """Index (article, story id, entity keys, tags) tuples in one commit; then move the cursor.

        With procs > 1 (bulk loads into a fresh index) whoosh analyses in parallel processes and
        writes several segments, and documents are added, not updated.
        """
        count = 0
        if procs == 1:
            writer = self.ix.writer(limitmb=POOL_MB)
        else:
            writer = TiedWriter(self.ix, procs=procs, multisegment=True, limitmb=POOL_MB)
        try:
            put = writer.update_document if procs == 1 else writer.add_document
            for article, story, keys, tags in articles:
                mark = f"{MARK}{article.lang or ''}{MARK}"
                body = f"{mark}{article.title or ''}\n{article.text}"
                doc = dict(id=article.id, story=story or f"s{article.id}", lang=article.lang or "und",
                           source=article.source, title=mark + (article.title or ""), text=body, phrases=body,
                           entity=",".join(sorted(set(keys))), tag=",".join(sorted(set(tags))))
                published = published_time(article.published or article.fetched)
                if published:
                    doc["published"] = published
                    doc["day"] = published.date().isoformat()
                put(**doc)
                count += 1
        except BaseException:
            writer.cancel()
            raise
        # A bulk load leaves its segments as they are: merging them at every commit (whoosh's
        # default) re-sorts every posting of the earlier batches in one process, again and again.
        writer.commit(merge=procs == 1)
        self.close()  # the next query opens a searcher on what was just committed
        self.save_cursor(cursor)
        return count

    @classmethod
    def beside(cls, folder: Path) -> "SearchIndex":
        """An empty index built beside the live one (whatever a killed build left there is dropped);
        `publish()` puts it in its place."""
        fresh = cls(folder, repair=True, name=BUILD_DIR)
        if fresh.rebuilt is None:
            fresh.clear()
        return fresh

    def publish(self) -> None:
        """Put this index, built beside the live one, in its place; the old one is deleted."""
        self.close()
        live = self.folder.parent / INDEX_DIR
        swap(self.folder, live)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = live
        self.ix = whoosh_index.open_dir(live)

    def clear(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.ix = whoosh_index.create_in(self.folder, schema())

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        self._reset()

    def _reset(self) -> None:
        self._searcher, self._languages, self._table = None, None, None
        self._filter_cache.clear()

    def doc_count(self) -> int:
        return self.ix.doc_count()

    # -- reading -----------------------------------------------------------------
    def searcher(self):
        """One searcher kept open for this index object (each new one re-reads the segments)."""
        if self._searcher is None:
            self._searcher = self.ix.searcher()
        elif not self._searcher.up_to_date():
            # A new searcher, not whoosh's refresh(): an empty index is never "up to date" (its
            # reader has no generation) and refresh() fails on it (TypeError).
            self._searcher.close()
            self._searcher = self.ix.searcher()
            self._languages, self._table = None, None
            self._filter_cache.clear()
        return self._searcher

    def table(self) -> "fastpath.Table":
        searcher = self.searcher()
        if self._table is None or self._table.searcher is not searcher:
            self._table = fastpath.Table(searcher)
        return self._table

    def languages(self) -> list[str]:
        if self._languages is None:
            searcher = self.searcher()
            self._languages = sorted(t.decode("utf-8") if isinstance(t, bytes) else t for t in searcher.lexicon("lang"))
        return self._languages

    def parse(self, query: str | Query, lang: str | None = None, filters: str | Filters = NO_FILTERS) -> Plan:
        """Read the query (a tree, or text to parse); split the filters off; stem each word in each
        candidate language."""
        tree = parse_query(query) if isinstance(query, str) else query
        limits = read_query(filter_text(filters), entity_key=_as_written) if isinstance(filters, Filters) else \
            read_query(filters)  # text: the query syntax, as a saved search holds it
        if isinstance(limits, Empty):
            parsed = to_whoosh(tree)
        elif isinstance(tree, Empty):
            parsed = to_whoosh(limits)
        else:  # what whoosh's parser made of "(query) filters"
            parsed = Q.And([to_whoosh(tree), to_whoosh(limits)]).normalize()
        parts = list(parsed.subqueries) if isinstance(parsed, Q.And) else [parsed]
        filters_found = [p for p in parts if is_filter(p)]
        scored = [p for p in parts if not is_filter(p) and not isinstance(p, Q.Every)]
        asked = {p.text for p in filters_found if isinstance(p, Q.Term) and p.fieldname == "lang"}
        langs = [lang] if lang else sorted(asked) if asked else self.languages() or [None]
        tables = list({language(code).lang: language(code) for code in langs}.values())
        ignored: list[str] = []
        rewritten = [stem_query(p, tables, ignored) for p in scored]
        rewritten = [p for p in (q.normalize() for q in rewritten) if p is not Q.NullQuery]
        if scored and not rewritten:
            rewritten = [Q.NullQuery]  # only stop words: nothing matches
        body = None if not rewritten else rewritten[0] if len(rewritten) == 1 else Q.And(rewritten)
        return Plan(scored=body, filters=filters_found, ignored=tuple(dict.fromkeys(ignored)))

    def _allowed(self, filters: list) -> np.ndarray | None:
        """The documents every filter lets through (a mask over docnums); each filter cached per searcher."""
        if not filters:
            return None
        searcher = self.searcher()
        allowed = None
        for item in filters:
            key = repr(item)
            found = self._filter_cache.get(key)
            if found is None:
                found = self._filter_mask(searcher, item)
                if len(self._filter_cache) > 64:
                    self._filter_cache.clear()
                self._filter_cache[key] = found
            allowed = found.copy() if allowed is None else allowed & found
        return allowed

    def _filter_mask(self, searcher, item) -> np.ndarray:
        if fastpath.available:
            table = self.table()
            if isinstance(item, Q.Term):
                return table.mask(item.fieldname, [item.text])
            if isinstance(item, Q.DateRange) and item.fieldname == "published":
                days = table.days()
                low = int(item.startdate.strftime("%Y%m%d")) if item.startdate else 1
                high = int(item.enddate.strftime("%Y%m%d")) if item.enddate else 99991231
                return (days >= low) & (days <= high)
        mask = np.zeros(searcher.doc_count_all(), dtype=bool)
        mask[list(searcher.docs_for_query(item))] = True
        return mask

    def search(self, query: str | Query, *, lang: str | None = None, filters: str | Filters = NO_FILTERS,
               sort: str = "relevance", limit: int = 10, page: int = 1, by_story: bool = True) -> Results:
        """One page of results: `limit` stories (or articles, without `by_story`) after `page - 1` pages."""
        plan = self.parse(query, lang, filters)
        allowed = self._allowed(plan.filters)
        want = page * limit
        if allowed is not None and not allowed.any():
            return Results()
        by_date = sort == "date" or plan.scored is None  # without words to score, newest first
        fast = fastpath.available and (plan.scored is None or fastpath.supports(plan.scored))
        fetch = max(want * 3, 30) if by_story else want + 1
        while True:
            hits, exhausted = (self._fast_hits if fast else self._whoosh_hits)(plan, allowed, fetch, by_date)
            if by_story:
                groups: dict[str, list[Hit]] = {}
                for hit in hits:
                    groups.setdefault(hit.story, []).append(hit)
                pages = list(groups.values())
            else:
                pages = [[hit] for hit in hits]
            if len(pages) > want or exhausted:
                return Results(groups=pages[want - limit:want], more=len(pages) > want)
            fetch *= 4

    def _hit(self, docnum: int, score: float) -> Hit:
        fields = self.searcher().stored_fields(docnum)
        return Hit(fields["id"], fields["story"], fields["lang"], round(score, 3), _unmark(fields.get("title")),
                   fields.get("published"))

    def _fast_hits(self, plan: Plan, allowed, fetch: int, by_date: bool) -> tuple[list[Hit], bool]:
        table = self.table()
        top, total = table.top(plan.scored, allowed, fetch, by_date=table.days() if by_date else None)
        return [self._hit(docnum, score) for docnum, score in top], total <= fetch

    def _whoosh_hits(self, plan: Plan, allowed, fetch: int, by_date: bool) -> tuple[list[Hit], bool]:
        kwargs = {"sortedby": "published", "reverse": True} if by_date else {}
        allow = BitSet(np.flatnonzero(allowed).tolist(), size=len(allowed)) if allowed is not None else None
        found = self.searcher().search(plan.scored or Q.Every(), limit=fetch, filter=allow, **kwargs)
        return [self._hit(h.docnum, h.score or 0.0) for h in found], found.scored_length() < fetch

    def count(self, query: str | Query, *, lang: str | None = None, filters: str | Filters = NO_FILTERS
              ) -> tuple[list[str], int]:
        """Every matching article id, and the number of stories they make."""
        plan = self.parse(query, lang, filters)
        searcher = self.searcher()
        allowed = self._allowed(plan.filters)
        if fastpath.available and (plan.scored is None or fastpath.supports(plan.scored)):
            table = self.table()
            hit = (table.evaluate(plan.scored).hit if plan.scored is not None else table.live.copy()) & table.live
            docs = np.flatnonzero(hit if allowed is None else hit & allowed).tolist()
        else:
            found = searcher.docs_for_query(plan.scored) if plan.scored is not None else searcher.reader().all_doc_ids()
            docs = [d for d in found if allowed is None or allowed[d]]
        stories = searcher.reader().column_reader("story")
        ids = [searcher.stored_fields(d)["id"] for d in docs]
        return ids, len({stories[d] for d in docs})

    def highlighter(self, query: str | Query, lang: str | None = None, filters: str | Filters = NO_FILTERS
                    ) -> Highlighter:
        plan = self.parse(query, lang, filters)
        terms = set()
        if plan.scored is not None:
            terms = {t for f, t in plan.scored.iter_all_terms() if f in ("text", "title", "phrases")
                     and isinstance(t, str)}
        return Highlighter(terms)


def _unmark(value: str | None) -> str | None:
    if value and value.startswith(MARK):
        return value[value.index(MARK, 1) + 1:]
    return value


def _as_written(key: str) -> str:  # Filters hold entity keys already
    return key
