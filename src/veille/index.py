"""The full-text index: derived from the archive, rebuildable at any time.

whoosh (the `whoosh-reloaded` package). Each article is indexed twice over:
in a field of its own language with that language's stemmer and stop words
(so "reconnaissances" finds "reconnaissance"), and in a language-neutral
field with case and accents folded (so "securite" finds "sécurité"). Fields
for language, source, dates, entity keys, topic tags and story make filters
(`lang:fr`, `entity:palantir`, `tag:facial-recognition`, `story:…`).

The index records how far it got (`cursor.json`): anything stored after
that is indexed on the next `sync`, so a crash between storing and indexing
heals by itself, and `veille reindex` rebuilds it all from the archive.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from functools import lru_cache
from typing import Iterable

from whoosh import index as whoosh_index
from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema
from whoosh.lang import has_stemmer, has_stopwords, stopwords_for_language
from whoosh.qparser import MultifieldParser
from whoosh.qparser.dateparse import DateParserPlugin
from whoosh.support.charset import accent_map

from .errors import VeilleError
from .keys import normalise
from .models import Article

INDEX_DIR = "index"
LANGUAGES = ("ar", "da", "de", "en", "es", "fi", "fr", "hu", "it", "nl", "no", "pt", "ro", "ru", "sv", "tr")
# Words whoosh's stop lists lack (its French list has no "les").
EXTRA_STOPWORDS = {"fr": {"les", "des", "aux", "du", "au"}, "en": {"its"}, "es": {"los", "las"}}


class QueryError(VeilleError):
    exit_code = 2


def _language_analyzer(lang: str):
    stops = set(stopwords_for_language(lang)) if has_stopwords(lang) else set()
    stops |= EXTRA_STOPWORDS.get(lang, set())
    chain = RegexTokenizer() | LowercaseFilter() | StopFilter(stoplist=stops, minsize=1)
    if has_stemmer(lang):
        chain = chain | StemFilter(lang=lang)
    return chain


NEUTRAL = RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map)


def schema() -> Schema:
    fields = dict(
        id=ID(stored=True, unique=True),
        story=ID(stored=True),
        lang=ID(stored=True),
        source=KEYWORD(stored=True, lowercase=True, commas=True, scorable=False),
        published=DATETIME(stored=True, sortable=True),
        title=TEXT(analyzer=NEUTRAL, stored=True, field_boost=2.0),
        text=TEXT(analyzer=NEUTRAL, phrase=True),
        entity=KEYWORD(lowercase=True, commas=True, scorable=True),
        tag=KEYWORD(lowercase=True, commas=True, scorable=True),
    )
    for lang in LANGUAGES:
        fields[f"text_{lang}"] = TEXT(analyzer=_language_analyzer(lang), phrase=True)
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
    total: int
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class SearchIndex:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder) / INDEX_DIR
        self._languages: set[str] | None = None
        if whoosh_index.exists_in(self.folder):
            self.ix = whoosh_index.open_dir(self.folder)
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.ix = whoosh_index.create_in(self.folder, schema())

    # -- writing -----------------------------------------------------------------
    @property
    def cursor(self) -> str:
        path = self.folder / "cursor.json"
        return json.loads(path.read_text())["cursor"] if path.exists() else ""

    def _save_cursor(self, value: str) -> None:
        (self.folder / "cursor.tmp").write_text(json.dumps({"cursor": value}))
        (self.folder / "cursor.tmp").replace(self.folder / "cursor.json")

    def add(self, articles: Iterable[tuple[Article, str | None, list[str], list[str]]], cursor: str,
            procs: int = 1) -> int:
        """Index (article, story id, entity keys, tags) tuples in one commit; then move the cursor.

        With procs > 1 (bulk loads into a fresh index) whoosh writes segments in parallel processes,
        and documents are added, not updated.
        """
        count = 0
        options = {"limitmb": 128} if procs == 1 else {"limitmb": 128, "procs": procs, "multisegment": True}
        with self.ix.writer(**options) as writer:
            put = writer.update_document if procs == 1 else writer.add_document
            for article, story, keys, tags in articles:
                doc = dict(id=article.id, story=story or f"s{article.id}", lang=article.lang,
                           source=article.source, title=article.title or "", text=article.text,
                           entity=",".join(sorted(set(keys))), tag=",".join(sorted(set(tags))))
                published = _as_datetime(article.published or article.fetched)
                if published:
                    doc["published"] = published
                if article.lang in LANGUAGES:
                    doc[f"text_{article.lang}"] = article.text
                put(**doc)
                count += 1
        self._languages = None
        self._save_cursor(cursor)
        return count

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ix = whoosh_index.create_in(self.folder, schema())

    def doc_count(self) -> int:
        return self.ix.doc_count()

    def languages(self) -> set[str]:
        if self._languages is None:
            with self.ix.searcher() as searcher:
                self._languages = {t.decode("utf-8") if isinstance(t, bytes) else t for t in searcher.lexicon("lang")}
        return self._languages

    # -- reading -----------------------------------------------------------------
    def parse(self, query: str, lang: str | None = None):
        check_syntax(query)
        # Only the stemmed fields of languages the index holds: each field more is a term more per word.
        present = [lang] if lang in LANGUAGES else sorted(self.languages() & set(LANGUAGES))
        fields = ["title", "text"] + [f"text_{code}" for code in present]
        parser = MultifieldParser(fields, schema=self.ix.schema)
        parser.add_plugin(DateParserPlugin(free=False))
        try:
            return parser.parse(_normalise_filters(query))
        except Exception as exc:  # whoosh raises assorted errors for odd syntax
            raise QueryError(f"search: cannot read the query ({exc}); check quotes, parentheses and field:value") from None

    def search(self, query: str, *, lang: str | None = None, filters: str = "", sort: str = "relevance",
               limit: int = 1000) -> Results:
        parsed = self.parse(query if not filters else f"({query}) {filters}" if query.strip() else filters, lang)
        with self.ix.searcher() as searcher:
            kwargs = {"limit": limit}
            if sort == "date":
                kwargs.update(sortedby="published", reverse=True)
            found = searcher.search(parsed, **kwargs)
            hits = [Hit(h["id"], h["story"], h["lang"], round(h.score or 0.0, 3), h.get("title"), h.get("published"))
                    for h in found]
            return Results(total=len(found), hits=hits)

    def snippet(self, query: str, text: str, lang: str | None, html: bool = False) -> str:
        parsed = self.parse(query, lang) if query.strip() else None
        if parsed is None:
            return _first_words(text)
        # Short words ("de", "des") come in with expanded phrases; they highlight nothing useful.
        terms = {normalise(t) for _, t in parsed.all_terms() if isinstance(t, str) and len(t) > 3}
        stems = {t[:6] for t in terms if len(t) >= 6}
        words = [w for w in re.findall(r"\w+", text) if len(w) > 3 and
                 (normalise(w) in terms or normalise(w)[:6] in stems)]
        if not words:
            return _first_words(text)
        first = text.find(words[0])
        start = max(0, text.rfind(" ", 0, max(0, first - 80)) + 1)
        end = min(len(text), first + 160)
        piece = text[start:end].replace("\n", " ")
        for word in sorted(set(words), key=len, reverse=True):
            piece = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", f"[{word}]", piece)
        return ("…" if start else "") + piece.strip() + ("…" if end < len(text) else "")


def check_syntax(query: str) -> None:
    """whoosh quietly guesses around broken syntax; users deserve to be told where it breaks."""
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
    return re.sub(r'entity:(?:"([^"]+)"|([^\s)]+))', lambda m: f"entity:{_aliases().key(m.group(1) or m.group(2))}",
                  query)


@lru_cache(maxsize=1)
def _aliases():
    from .entities import load_gazetteer
    from .keys import load_aliases

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
    from .topics import load_lexicon

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
