"""The full-text index: derived from the archive, rebuildable at any time.

whoosh (the `whoosh-reloaded` package), built for speed in pure Python: one
text field holds every article, each word lower-cased, accent-folded and
reduced to its Snowball stem *in the article's own language* (PyStemmer,
in C, with a per-language cache), stop words of that language dropped. So
"reconnaissances" finds "reconnaissance" and "securite" finds "sécurité".
A query word is folded the same way and stemmed once per language the index
holds (usually one to three distinct stems), so each word is one or a few
terms in one field, which lets whoosh skip whole posting blocks that cannot
reach the top results. Chinese and Japanese put no spaces between words,
and Korean glues particles onto them: their characters are indexed one by one
and in overlapping pairs (bigrams, as Lucene's CJK analyzer does), and a query
word of two or more such characters is the phrase of its pairs ("传输层" ->
"传输 输层"), so a word of any length is found without a dictionary.
Language, source, date and story are filters (sets of
documents, cached per open index), not scored terms; entity keys and topic
tags are fields of their own (`entity:palantir`, `tag:facial-recognition`).

The index records how far it got (`cursor.json`): anything stored after
that is indexed on the next `sync`, so a crash between storing and indexing
heals by itself, and `veille reindex` rebuilds it all from the archive.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import re
import shutil
import signal
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np
import snowballstemmer
from whoosh import index as whoosh_index
from whoosh import query as Q
from collections import Counter
from pickle import dumps

from whoosh import formats
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema
from whoosh.idsets import BitSet
from whoosh.lang import has_stopwords, stopwords_for_language
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.qparser import QueryParser
from whoosh.qparser.dateparse import DateParserPlugin
from whoosh.system import pack_uint

from veille.search.whoosh import fastpath
from veille.errors import IndexDamagedError, QueryError
from veille.text.keys import normalise
from veille.models import Article
from veille.text.scripts import CJK, WORD, has_cjk, is_cjk, strip_accents

INDEX_DIR = "index"
# Indexes written before the subpackages name their analyzer and formats `veille.index.*` in the pickled
# schema: the old name stays an alias of this module, so those indexes open without a rebuild.
sys.modules.setdefault("veille.index", sys.modules[__name__])
BUILD_DIR = "index.new"  # `veille reindex` builds here, beside the index readers keep using
# ISO 639-1 -> Snowball algorithm (PyStemmer). Other languages are indexed folded but not stemmed.
STEMMERS = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "et": "estonian", "eu": "basque", "fa": "persian", "fi": "finnish",
    "fr": "french", "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish", "ta": "tamil",
    "tr": "turkish",
}
# Words whoosh's stop lists lack (its French list has no "les").
EXTRA_STOPWORDS = {"fr": {"les", "des", "aux", "du", "au"}, "en": {"its"}, "es": {"los", "las"}}
FILTER_FIELDS = ("lang", "source", "published", "story")
# A word: letters, digits and combining marks (which \w alone leaves out: Devanagari vowel signs).
_WORD = re.compile(f"{WORD}+(?:\\.?{WORD}+)*")
_CJK_SPLIT = re.compile(f"[{CJK}]+|[^{CJK}]+")
CJK_WORD = "\x01"  # not a term: the word holds CJK characters (see ArticleAnalyzer.terms)
# The analyzer's layout, kept in the index's schema: an index written by another layout is rebuilt.
# 2: CJK characters and pairs (1 indexed a run of them as one word), marks inside words, й kept.
LAYOUT = 2
_MARK = "\x00"  # text handed to the analyzer starts with "\x00fr\x00": the language to stem it in
_CACHE_LIMIT = 300_000
# Bulk loads (`veille reindex`) commit this many articles at a time, in two processes. whoosh
# sorts each process's postings in memory up to POOL_MB (its own estimate; the real peak is
# about 650 MiB per process at this size); past it, it spills every posting to disk one pickle
# at a time and merges them back, which halved indexing speed at 20,000 articles per commit.
BULK_BATCH = 8_000
POOL_MB = 512


def fold_word(word: str) -> str:
    """Lower-cased word without accents: 'Sécurité' -> 'securite', 'Straße' -> 'strasse', 'Ёлка' -> 'елка'.

    Accents only: the letters of every script stay (see `scripts.strip_accents`)."""
    word = word.lower()
    if word.isascii():
        return word
    word = word.replace("ß", "ss").replace("œ", "oe").replace("æ", "ae").replace("ø", "o").replace("ł", "l")
    return strip_accents(word)


class _Language:
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
            if len(self.terms) > _CACHE_LIMIT:
                self.terms.clear()
            self.terms[word] = found
        return found

    def word(self, word: str) -> str:
        """`term(word)`, or CJK_WORD if the word holds CJK characters, for an article's words."""
        found = self.words.get(word)
        if found is None:
            found = CJK_WORD if has_cjk(word) else self._term(word)
            if len(self.words) > _CACHE_LIMIT:
                self.words.clear()
            self.words[word] = found
        return found

    def _term(self, word: str) -> str:
        folded = fold_word(word)
        if folded and is_cjk(folded[0]):
            return folded  # a CJK character or pair (see _cjk_terms): no stop list, no stemmer
        return "" if folded in self.stops else self.stem(folded) if self.stem else folded


@lru_cache(maxsize=None)
def language(lang: str | None) -> _Language:
    return _Language(lang if lang in STEMMERS or (lang and has_stopwords(lang)) else None)


def _cjk_terms(text: str, offset: int, table: _Language | None, index: bool, position: int = 0
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
    for match in _WORD.finditer(text):
        word, start = match.group(), match.start()
        for piece in _CJK_SPLIT.finditer(word) if has_cjk(word) else (match,):
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


class ArticleAnalyzer(Tokenizer):
    """Index time: "\x00fr\x00text" -> French terms. Query time (no mark): folded words, to be stemmed
    per language by `SearchIndex.parse`. Chinese, Japanese and Korean characters: see `_cjk_terms`."""

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
        end = value.index(_MARK, 1)
        table = language(value[1:end] or None)
        known, term = table.words.get, table.word
        found = [known(word) or term(word) for word in _WORD.findall(value, end + 1)]
        # A word with CJK characters in it says that the text needs cutting into characters: found
        # among the cached words, at no cost for the texts that have none.
        if CJK_WORD not in found:
            self._terms_value, self._terms, self._positions = value, [t for t in found if t], None
        else:
            placed = _cjk_terms(value[end + 1:], 0, table, index=True)
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
        if value.startswith(_MARK):
            end = value.index(_MARK, 1)
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
            for text, position, start, end in _cjk_terms(value, start_char, table, index=table is not None,
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
        for match in _WORD.finditer(value):
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
    return isinstance(analyzer, ArticleAnalyzer) and isinstance(value, str) and value.startswith(_MARK)


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


class _TiedTask(SubWriterTask):
    """One of whoosh's indexing processes, killed by the kernel when the process that started it ends.

    whoosh's own processes outlive a killed parent, blocked for ever on their job queue; those
    forked children also kept the parent's open files (the archive's writer lock among them)."""

    def __init__(self, *args, parent: int | None) -> None:
        super().__init__(*args)
        self.parent = parent

    def run(self) -> None:
        _die_with_parent(self.parent)
        super().run()


class _TiedWriter(MpWriter):
    """whoosh's parallel writer, with processes that end with this one."""

    def _new_task(self):
        forked = multiprocessing.get_start_method() == "fork"
        task = _TiedTask(self.storage, self.indexname, self.jobqueue, self.resultqueue, self.subargs,
                         self.multisegment, parent=os.getpid() if forked else None)
        self.tasks.append(task)
        task.start()
        return task


def _die_with_parent(parent: int | None) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if parent is not None and os.getppid() != parent:  # it ended before the line above
        os._exit(1)


def _swap(new: Path, live: Path) -> None:
    """Put folder `new` at `live` and the old one at `new`, in one step where the kernel can
    (renameat2 RENAME_EXCHANGE): a reader opens either the whole old index or the whole new one."""
    if live.is_dir():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.renameat2(-100, os.fsencode(new), -100, os.fsencode(live), 2) == 0:  # AT_FDCWD
                return
        except (OSError, AttributeError):
            pass
        old = live.with_name(live.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        live.rename(old)
        new.rename(live)
        old.rename(new)
    else:
        new.rename(live)


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
class Hit:
    id: str
    story: str
    lang: str
    score: float
    title: str | None
    published: datetime | None


@dataclass
class Results:
    """One page of results: `groups` holds one list of hits per story (one hit each with all_versions)."""
    groups: list[list[Hit]] = field(default_factory=list)
    more: bool = False

    @property
    def hits(self) -> list[Hit]:
        return [hit for group in self.groups for hit in group]


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
            writer = _TiedWriter(self.ix, procs=procs, multisegment=True, limitmb=POOL_MB)
        try:
            put = writer.update_document if procs == 1 else writer.add_document
            for article, story, keys, tags in articles:
                mark = f"{_MARK}{article.lang or ''}{_MARK}"
                body = f"{mark}{article.title or ''}\n{article.text}"
                doc = dict(id=article.id, story=story or f"s{article.id}", lang=article.lang or "und",
                           source=article.source, title=mark + (article.title or ""), text=body, phrases=body,
                           entity=",".join(sorted(set(keys))), tag=",".join(sorted(set(tags))))
                published = _as_datetime(article.published or article.fetched)
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
        _swap(self.folder, live)
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

    def parse(self, query: str, lang: str | None = None, filters: str = "") -> Plan:
        """Check and parse the query; split the filters off; stem each word in each candidate language."""
        check_syntax(query)
        text = f"({query}) {filters}" if query.strip() and filters else query if query.strip() else filters
        parser = _QueryParser("text", schema=self.ix.schema)
        parser.add_plugin(DateParserPlugin(free=False))
        try:
            parsed = parser.parse(_normalise_filters(text)) if text.strip() else Q.Every()
        except Exception as exc:  # whoosh raises assorted errors for odd syntax
            raise QueryError(f"search: cannot read the query ({exc}); check quotes, parentheses and field:value") from None
        parts = list(parsed.subqueries) if isinstance(parsed, Q.And) else [parsed]
        filters_found = [p for p in parts if _is_filter(p)]
        scored = [p for p in parts if not _is_filter(p) and not isinstance(p, Q.Every)]
        asked = {p.text for p in filters_found if isinstance(p, Q.Term) and p.fieldname == "lang"}
        langs = [lang] if lang else sorted(asked) if asked else self.languages() or [None]
        tables = list({language(code).lang: language(code) for code in langs}.values())
        ignored: list[str] = []
        rewritten = [_stem_query(p, tables, ignored) for p in scored]
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

    def search(self, query: str, *, lang: str | None = None, filters: str = "", sort: str = "relevance",
               limit: int = 10, page: int = 1, by_story: bool = True) -> Results:
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

    def count(self, query: str, *, lang: str | None = None, filters: str = "") -> tuple[list[str], int]:
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

    def highlighter(self, query: str, lang: str | None = None, filters: str = "") -> "Highlighter":
        plan = self.parse(query, lang, filters)
        terms = set()
        if plan.scored is not None:
            terms = {t for f, t in plan.scored.iter_all_terms() if f in ("text", "title", "phrases")
                     and isinstance(t, str)}
        return Highlighter(terms)


class _QueryParser(QueryParser):
    """whoosh's parser, except that a word the analyzer cuts into CJK pairs ("传输层" -> 传输 输层)
    is the phrase of those pairs, in order, rather than an AND of them anywhere in the text."""

    def multitoken_query(self, spec, texts, fieldname, termclass, boost):
        if any(has_cjk(text) for text in texts):
            return self.phraseclass(fieldname, texts, boost=boost)
        return super().multitoken_query(spec, texts, fieldname, termclass, boost)


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

    def _spans(self, text: str, table: _Language) -> list[tuple[int, int]]:
        """Where the query's terms are in `text`: (start, end) of each word, or of each run of CJK
        characters whose pairs (or single characters) the query holds."""
        if not has_cjk(text):
            return [match.span() for match in _WORD.finditer(text) if table.term(match.group()) in self.terms]
        spans: list[tuple[int, int]] = []
        for term, _, start, end in _cjk_terms(text, 0, table, index=True):
            if term not in self.terms:
                continue
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        return spans


def _is_filter(item) -> bool:
    fieldname = getattr(item, "fieldname", None)
    return fieldname in FILTER_FIELDS and not isinstance(item, (Q.CompoundQuery, Q.WrappingQuery, Q.BinaryQuery))


def _stem_query(item, tables: list[_Language], ignored: list[str]):
    """Turn folded query words into the index terms of each candidate language.

    A word that is a stop word in any of those languages is left out, as the index left it out of
    that language's articles: kept for the others, "the palantir" would require a French "the"
    and find nothing (`ignored` collects such words, for the user to be told)."""
    if isinstance(item, Q.Term) and item.fieldname in ("text", "title"):
        stems = [table.term(item.text) for table in tables]
        terms = list(dict.fromkeys(t for t in stems if t))
        if not all(stems):
            ignored.append(item.text)
            return Q.NullQuery
        if not terms:
            return Q.NullQuery
        made = [Q.Term(item.fieldname, t, boost=item.boost) for t in terms]
        return made[0] if len(made) == 1 else Q.Or(made)
    if isinstance(item, Q.Phrase) and item.fieldname in ("text", "title"):
        variants = []
        for table in tables:
            words = tuple(t for t in (table.term(w) for w in item.words) if t)
            if words and words not in variants:
                variants.append(words)
        if not variants:
            return Q.NullQuery
        positional = "phrases" if item.fieldname == "text" else item.fieldname
        made = [Q.Term(item.fieldname, v[0], boost=item.boost) if len(v) == 1 else
                Q.Phrase(positional, list(v), slop=item.slop, boost=item.boost) for v in variants]
        return made[0] if len(made) == 1 else Q.Or(made)
    if isinstance(item, (Q.CompoundQuery, Q.WrappingQuery, Q.BinaryQuery)):
        return item.apply(lambda sub: _stem_query(sub, tables, ignored))
    return item


def _unmark(value: str | None) -> str | None:
    if value and value.startswith(_MARK):
        return value[value.index(_MARK, 1) + 1:]
    return value


def filter_text(lang: str | None = None, source: str | None = None, since: str | None = None,
                until: str | None = None) -> str:
    """The filters of the command-line options (and saved searches) in query syntax."""
    filters = []
    if lang:
        filters.append(f"lang:{lang}")
    if source:
        filters.append(f'source:"{source}"')
    if since or until:
        filters.append(f"published:[{since or ''} to {until or ''}]")
    return " ".join(filters)


# A query's bounds: whoosh's query parser takes time in the square of a word's length (a word of
# 100,000 characters never finished) and each term costs a lookup; a question to an archive fits
# well within these, a --cross-lingual expansion too.
MAX_QUERY_CHARS = 4_000
MAX_QUERY_TERMS = 300


def check_bounds(query: str) -> None:
    """A query too long to be answered in reasonable time: one line that says the bound."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"search: the query is {len(query):,} characters long, more than the {MAX_QUERY_CHARS:,} "
                         "a query may have; search for fewer or shorter words")
    terms = len(re.findall(r"[^\s()\"]+", query))
    if terms > MAX_QUERY_TERMS:
        raise QueryError(f"search: the query has {terms:,} terms, more than the {MAX_QUERY_TERMS} a query may have; "
                         "search for fewer words (a saved search or --cross-lingual adds its own)")


def check_syntax(query: str) -> None:
    """whoosh quietly guesses around broken syntax; users deserve to be told where it breaks."""
    check_bounds(query)
    if query.count('"') % 2:
        raise QueryError(f'search: unclosed quote at character {query.rfind(chr(34)) + 1}; close the "phrase"')
    depth = 0
    for position, char in enumerate(query, start=1):
        depth += char == "("
        depth -= char == ")"
        if depth < 0:
            raise QueryError(f"search: unmatched ')' at character {position}; remove it or open a '('")
    if depth:
        raise QueryError("search: unclosed '(' in the query; add the missing ')'")
    unquoted = re.sub(r'"[^"]*"', lambda m: " " * len(m.group(0)), query)
    for match in re.finditer(r"(?<![\w:])([A-Za-z_]+):(?!//)", unquoted):
        if match.group(1) not in ("lang", "source", "entity", "tag", "story", "title", "text", "published", "date"):
            raise QueryError(f"search: unknown field {match.group(1)!r} at character {match.start() + 1}; "
                             "use lang:, source:, entity:, tag:, story:, title: or published:")


def _normalise_filters(query: str) -> str:
    """`entity:"Amazon Web Services"` -> `entity:amazon-web-services`; `date:` is `published:`."""
    query = re.sub(r"\bdate:", "published:", query)
    # whoosh's date parser reads 2025-03-01 as the whole of 2025, but 20250301 as that day
    query = re.sub(r"published:(\[[^\]]*\]|\S+)",
                   lambda m: "published:" + re.sub(r"\b(\d{4})-(\d{2})(?:-(\d{2}))?\b",
                                                   lambda d: "".join(g for g in d.groups() if g), m.group(1)), query)
    return re.sub(r'entity:(?:"([^"]+)"|([^\s)]+))', lambda m: f"entity:{_aliases().key(m.group(1) or m.group(2))}",
                  query)


@lru_cache(maxsize=1)
def _aliases():
    from veille.stages.entities import load_gazetteer
    from veille.text.keys import load_aliases

    return load_aliases(load_gazetteer())


def _as_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def _first_words(text: str, limit: int = 200) -> str:
    piece = " ".join(text[:limit + 50].split())
    return piece[:limit] + ("…" if len(text) > limit else "")


def expand_cross_lingual(query: str) -> tuple[str, list[str]]:
    """Widen a query to the other languages: topic terms into their translations, names into their keys.

    Returns the new query and one line per expansion, to show the user.
    """
    from veille.stages.topics import load_lexicon

    lexicon = load_lexicon()
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
    aliases = _aliases()
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
