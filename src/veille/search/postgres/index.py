"""The search index in PostgreSQL: one row and one tsvector per article, in the archive's database.

Each article's words are read by the text search configuration of its language (unaccent, then
its Snowball stemmer; `simple` for the rest), the title weighted above the text, and a GIN index
answers the words; language, source, story, date, entity keys and tags are columns (b-tree and
GIN indexes). A query is stemmed once per candidate language as whoosh's backend stems it (see
`tsquery`), ranked with ts_rank_cd, and one line per story is the best hit of each (DISTINCT ON).

The cursor lives in the database beside the rows and moves in the same transaction as the rows
it covers, so the index never claims what it did not store. `veille reindex` builds a staging
table beside the live one and swaps it in, with its cursor, in one transaction.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterable

from veille.errors import IndexDamagedError
from veille.models import Article
from veille.search.postgres import configs, schema
from veille.search.postgres.tsquery import Clause, Translator
from veille.search.protocol import NO_FILTERS, Filters, Hit, Results, published_time
from veille.search.query import And, Empty, Query, parse as parse_query, read as read_query
from veille.storage import pgsearch as sql

BULK_BATCH = 5_000  # articles per commit when `veille reindex` fills a fresh table
# Ranked by relevance: at most this many matching articles (title matches first, then the newest;
# see storage/pgsearch.py `ranked`), or four pages' worth when a later page is asked.
RANKED = 2_000
LEXEME_CACHE = 50_000
RELEVANCE = "score DESC, published DESC NULLS LAST, article_id"
NEWEST = "published DESC NULLS LAST, article_id"
# ts_rank_cd normalisation 1: divided by 1 + log(length), so a long article does not win by length.
SCORE = "ts_rank_cd(doc, %s::tsquery, 1)"


@dataclass
class Plan:
    """How the index read a query (the protocol's Reading): `scored` None when no word ranks."""
    scored: object | None
    ignored: tuple[str, ...]
    clause: Clause


class PostgresIndex:
    """One archive's search index in the PostgreSQL database at `dsn` (its own tables).

    A `reader` neither creates nor changes the tables (IndexDamagedError until a writer made them);
    `beside`: an empty staging table that `publish()` puts in place of the live one."""

    bulk_batch = BULK_BATCH

    def __init__(self, dsn: str, *, reader: bool = False, repair: bool = False, beside: bool = False) -> None:
        self.dsn = dsn
        self.table = sql.STAGING if beside else sql.LIVE
        self.rebuilt: str | None = None
        self.cursor_lost = False
        self._conn = schema.connect(dsn)
        self._second = None  # the bulk loader's second connection
        self._lexemes: dict[tuple[str, str], str] = {}
        self._langs: dict[str, str] | None = None
        self._lock = threading.Lock()
        found = schema.version(self._conn)
        schema.check_version(found, dsn)
        if reader:
            if found is None or not self._conn.execute(sql.TABLE_EXISTS, (self.table,)).fetchone()[0]:
                raise IndexDamagedError(f"the search index in {schema.shown(dsn)} is not built yet; the running "
                                        "veille builds it at its next pass, or run `veille reindex`")
            self._configs = schema.available(self._conn)
            return
        missing, self._configs = schema.set_up(self._conn, dsn, self.table)
        if missing and not beside:
            self.rebuilt = "missing"
        if beside:
            self.clear()

    # -- the connection ---------------------------------------------------------
    def _db(self):
        """The connection, opened again after `close()` (sync closes an index that reindex then publishes)."""
        if self._conn is None or self._conn.closed:
            self._conn = schema.connect(self.dsn)
        return self._conn

    def close(self) -> None:
        for conn in (self._conn, self._second):
            if conn is not None and not conn.closed:
                conn.close()
        self._second = None
        self._langs = None

    # -- writing -----------------------------------------------------------------
    @property
    def cursor(self) -> str:
        row = self._db().execute(sql.GET_STATE, (f"cursor:{self.table}",)).fetchone()
        return row[0] if row else ""

    def save_cursor(self, value: str) -> None:
        self._db().execute(sql.SET_STATE, (f"cursor:{self.table}", value))

    def add(self, articles: Iterable[tuple[Article, str | None, list[str], list[str]]], cursor: str,
            procs: int = 1) -> int:
        """Upsert (article, story id, entity keys, tags) tuples and move the cursor, in one
        transaction. With procs > 1 (a bulk load) half the rows go through a second connection at
        the same time, each half its own transaction, and the cursor moves after both."""
        rows = [self._row(*item) for item in articles]
        count = len(rows)
        langs = sorted({(row["lang"], row["config"]) for row in rows})
        if procs > 1 and count >= 200:
            half = count // 2
            if self._second is None or self._second.closed:
                self._second = schema.connect(self.dsn)
            failed: list[BaseException] = []
            helper = threading.Thread(target=self._write_half, args=(rows[half:], failed))
            helper.start()
            try:
                self._write(self._db(), rows[:half], None, [])
            finally:
                helper.join()
            if failed:
                raise failed[0]
            rows = []
        self._write(self._db(), rows, cursor, langs)
        self._langs = None
        return count

    def _write_half(self, rows: list[dict], failed: list[BaseException]) -> None:
        try:
            self._write(self._second, rows, None, [])
        except BaseException as exc:  # raised again in the calling thread
            failed.append(exc)

    def _write(self, conn, rows: list[dict], cursor: str | None, langs: list[tuple[str, str]]) -> None:
        with conn.transaction():
            if rows:
                with conn.cursor() as cur:
                    cur.executemany(sql.upsert(self.table), rows)
            if langs:
                conn.execute(sql.add_langs(), (self.table, [l for l, _ in langs], [c for _, c in langs]))
            if cursor is not None:
                conn.execute(sql.SET_STATE, (f"cursor:{self.table}", cursor))

    def _row(self, article: Article, story: str | None, keys: list[str], tags: list[str]) -> dict:
        lang = article.lang or "und"
        config = configs.config_of(lang, self._configs)
        title = article.title or ""
        return dict(id=article.id, story=story or f"s{article.id}", lang=lang, config=config,
                    source=(article.source or "").lower(), title=title,
                    published=published_time(article.published or article.fetched),
                    entities=sorted({k.lower() for k in keys}), tags=sorted({t.lower() for t in tags}),
                    text=configs.without_stopwords(config, (article.text or "")[:sql.MAX_TEXT]),
                    words=configs.without_stopwords(config, title))

    def publish(self) -> None:
        """Put the staging table (built beside the live one) in its place, in one transaction."""
        if self.table != sql.STAGING:
            return
        conn = self._db()
        with conn.transaction():
            conn.execute(sql.ADVISORY_LOCK, (sql.LOCK_KEY,))
            for statement in sql.docs_ddl(sql.LIVE):  # a first reindex: nothing live to replace yet
                conn.execute(statement)
            for statement in sql.swap_docs():
                conn.execute(statement)
        self.table = sql.LIVE
        self._langs = None

    def clear(self) -> None:
        conn = self._db()
        with conn.transaction():
            for statement in [*sql.drop_docs(self.table), *sql.docs_ddl(self.table)]:
                conn.execute(statement)
        self._langs = None

    def doc_count(self) -> int:
        return self._db().execute(sql.count_docs(self.table)).fetchone()[0]

    # -- reading -----------------------------------------------------------------
    def languages(self) -> dict[str, str]:
        """Each language the index holds, and its configuration (read once per open index and write)."""
        if self._langs is None:
            self._langs = dict(self._db().execute(sql.LANGS, (self.table,)).fetchall())
        return self._langs

    def parse(self, query: str | Query, lang: str | None = None, filters: str | Filters = NO_FILTERS) -> Plan:
        """Read the query (a tree, or text to parse) with its filters; stem each word in each
        candidate language."""
        tree = _with_filters(parse_query(query) if isinstance(query, str) else query, filters)
        asked = sorted({item.text for item in (tree.items if isinstance(tree, And) else (tree,))
                        if getattr(item, "field", None) == "lang" and hasattr(item, "text")})
        if lang or asked:
            chosen = [configs.config_of(code, self._configs) for code in ([lang] if lang else asked)]
        else:
            chosen = sorted(set(self.languages().values())) or [configs.SIMPLE]
        clause = Translator(list(dict.fromkeys(chosen)), self._lookup).clause(tree)
        return Plan(scored=(clause.rank or clause.where) if clause.scored else None, ignored=clause.ignored,
                    clause=clause)

    def _lookup(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """What the server's parser, unaccent and stemmer make of each (configuration, words)."""
        missing = [pair for pair in pairs if pair not in self._lexemes]
        if missing:
            texts = [configs.without_stopwords(c, w) for c, w in missing]
            rows = self._db().execute(sql.LEXEMES, ([c for c, _ in missing], texts)).fetchall()
            if len(self._lexemes) > LEXEME_CACHE:
                self._lexemes.clear()
            self._lexemes.update(zip(missing, (row[0] for row in rows)))
        return {pair: self._lexemes[pair] for pair in pairs}

    def search(self, query: str | Query, *, lang: str | None = None, filters: str | Filters = NO_FILTERS,
               sort: str = "relevance", limit: int = 10, page: int = 1, by_story: bool = True) -> Results:
        """One page: `limit` stories (articles, without `by_story`) after `page - 1` pages, each
        story's best hit first and its other matching versions after it."""
        clause = self.parse(query, lang, filters).clause
        if clause.where == "FALSE":
            return Results()
        score, score_params = (SCORE, [clause.rank]) if clause.rank else ("0.0::real", [])
        order = RELEVANCE if clause.rank and sort != "date" else NEWEST
        capped = order == RELEVANCE
        statement = sql.ranked(self.table, clause.where, score, order, by_story, capped)
        bound = [clause.rank, max(RANKED, page * limit * 4)] if capped else []
        params = [*score_params, *clause.params, *bound, limit + 1, (page - 1) * limit]
        rows = self._db().execute(statement, params).fetchall()
        more, rows = len(rows) > limit, rows[:limit]
        best = [_hit(row) for row in rows]
        if not by_story or not best:
            return Results(groups=[[hit] for hit in best], more=more)
        others: dict[str, list[Hit]] = {}
        statement = sql.members(self.table, clause.where, score, order)
        for row in self._db().execute(statement, [*score_params, *clause.params, [h.story for h in best]]):
            others.setdefault(row[1], []).append(_hit(row))
        groups = [[hit, *(o for o in others.get(hit.story, []) if o.id != hit.id)] for hit in best]
        return Results(groups=groups, more=more)

    def count(self, query: str | Query, *, lang: str | None = None, filters: str | Filters = NO_FILTERS
              ) -> tuple[list[str], int]:
        """Every matching article id, and the number of stories they make."""
        clause = self.parse(query, lang, filters).clause
        if clause.where == "FALSE":
            return [], 0
        rows = self._db().execute(sql.matching(self.table, clause.where), clause.params).fetchall()
        return [row[0] for row in rows], len({row[1] for row in rows})

    def highlighter(self, query: str | Query, lang: str | None = None, filters: str | Filters = NO_FILTERS):
        """The whoosh backend's highlighter (pure Python: it takes no index), given the query's words
        stemmed as that backend stems them, in each candidate language."""
        from veille.search.whoosh.analysis import language
        from veille.search.whoosh.highlight import Highlighter

        tree = parse_query(query) if isinstance(query, str) else query
        codes = [lang] if lang else list(self.languages()) or [None]
        terms = {language(code).term(word) for word in _words(tree) for code in codes}
        return Highlighter({t for t in terms if t})


def _with_filters(tree: Query, filters: str | Filters) -> Query:
    """The query and its filters as one tree (Filters in the query syntax, read by the same parser)."""
    from veille.search.whoosh.reading import filter_text

    limits = read_query(filter_text(filters), entity_key=lambda key: key) if isinstance(filters, Filters) else \
        read_query(filters)
    if isinstance(limits, Empty):
        return tree
    if isinstance(tree, Empty):
        return limits
    items = [*(tree.items if isinstance(tree, And) and tree.boost == 1.0 else (tree,)),
             *(limits.items if isinstance(limits, And) else (limits,))]
    return And(tuple(items))


def _words(tree: Query) -> list[str]:
    """The words of the query's text and title parts, not under a NOT: what a snippet marks."""
    from veille.search import query as T

    if isinstance(tree, (T.And, T.Or)):
        return [w for item in tree.items for w in _words(item)]
    if isinstance(tree, T.AndNot):
        return _words(tree.positive)
    if isinstance(tree, T.AndMaybe):
        return _words(tree.required) + _words(tree.optional)
    if isinstance(tree, T.Require):
        return _words(tree.scoring) + _words(tree.required)
    if getattr(tree, "field", None) not in ("text", "title"):
        return []
    if isinstance(tree, T.Word):
        return [tree.text]
    return list(tree.words) if isinstance(tree, T.Phrase) else []


def _hit(row) -> Hit:
    article_id, story, lang, title, published, score = row[:6]
    return Hit(article_id, story, lang, round(float(score or 0.0), 4), title, published)
