"""The SQL of the PostgreSQL search index (search/postgres/ runs it): its tables, made and
versioned by the index itself in the archive's database, and the statements it asks.

    search_state   name -> value: 'version', 'cursor:<table>' (how far each docs table got)
    search_langs   the languages each docs table holds (the candidates a query is stemmed for)
    search_docs    one row per article: its filters as columns, one tsvector `doc` built with
                   the text search configuration of its language (title weight A, text D), and
                   the title's alone (`title_doc`: small, kept in the row, see `ranked`)

`veille reindex` builds `search_docs_new` beside the live table and swaps it in one transaction.
All SQL lives in storage/ (the house rule, tests/test_layout.py); the search backend composes only
the WHERE clause of a query, from fragments that name no table.
"""

from __future__ import annotations

SCHEMA_VERSION = 1
LIVE = "search_docs"
STAGING = "search_docs_new"
TABLES = (LIVE, STAGING)  # the only names `docs_ddl` and friends take: they are put into SQL text
LOCK_KEY = 7_311_402  # pg_advisory_xact_lock: one process at a time sets the tables up
# A very long text makes a tsvector past PostgreSQL's 1 MB bound: the words past this are not indexed.
MAX_TEXT = 400_000

STATE_DDL = (
    "CREATE TABLE IF NOT EXISTS search_state (name text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS search_langs (docs text NOT NULL, lang text NOT NULL, config text NOT NULL, "
    "PRIMARY KEY (docs, lang))",
)
UNACCENT = "CREATE EXTENSION IF NOT EXISTS unaccent"
CONFIGS = "SELECT cfgname FROM pg_ts_config WHERE cfgname = ANY(%s)"
COPY_CONFIG = "CREATE TEXT SEARCH CONFIGURATION {name} (COPY = {base})"
# Words of any script are folded (unaccent) before their language's stemmer (or `simple`) reads them.
MAP_CONFIG = ("ALTER TEXT SEARCH CONFIGURATION {name} ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, "
              "word, hword, hword_part WITH unaccent, {dictionary}")
DICTIONARIES = "SELECT dictname FROM pg_ts_dict WHERE dictname = ANY(%s)"
TABLE_EXISTS = "SELECT to_regclass(%s) IS NOT NULL"
VERSION = "SELECT value FROM search_state WHERE name = 'version'"
SET_STATE = ("INSERT INTO search_state (name, value) VALUES (%s, %s) "
             "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value")
GET_STATE = "SELECT value FROM search_state WHERE name = %s"
DROP_STATE = "DELETE FROM search_state WHERE name = %s"
ADVISORY_LOCK = "SELECT pg_advisory_xact_lock(%s)"


def docs_ddl(table: str) -> list[str]:
    """The docs table and its indexes: GIN on the words, entity keys and tags; b-trees for the
    filters and the date order."""
    assert table in TABLES
    return [
        f"""CREATE TABLE IF NOT EXISTS {table} (
            article_id text PRIMARY KEY,
            story_id text NOT NULL,
            lang text NOT NULL,
            config regconfig NOT NULL,
            source text NOT NULL,
            title text,
            published timestamp,
            entities text[] NOT NULL DEFAULT '{{}}',
            tags text[] NOT NULL DEFAULT '{{}}',
            title_doc tsvector NOT NULL,
            doc tsvector NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {table}_doc ON {table} USING gin (doc)",
        f"CREATE INDEX IF NOT EXISTS {table}_entities ON {table} USING gin (entities)",
        f"CREATE INDEX IF NOT EXISTS {table}_tags ON {table} USING gin (tags)",
        f"CREATE INDEX IF NOT EXISTS {table}_published ON {table} (published DESC NULLS LAST, article_id)",
        f"CREATE INDEX IF NOT EXISTS {table}_lang ON {table} (lang, published)",
        f"CREATE INDEX IF NOT EXISTS {table}_source ON {table} (source, published)",
        f"CREATE INDEX IF NOT EXISTS {table}_story ON {table} (story_id)",
    ]


INDEX_SUFFIXES = ("pkey", "doc", "entities", "tags", "published", "lang", "source", "story")


def drop_docs(table: str) -> list[str]:
    assert table in TABLES
    return [f"DROP TABLE IF EXISTS {table}", f"DELETE FROM search_langs WHERE docs = '{table}'",
            f"DELETE FROM search_state WHERE name = 'cursor:{table}'"]


def swap_docs() -> list[str]:
    """The staging table in place of the live one, its indexes renamed to the live names, its
    cursor and languages moved over: run in one transaction, readers see one or the other."""
    statements = [f"LOCK TABLE {LIVE} IN ACCESS EXCLUSIVE MODE", f"DROP TABLE {LIVE}",
                  f"ALTER TABLE {STAGING} RENAME TO {LIVE}"]
    statements += [f"ALTER INDEX {STAGING}_{suffix} RENAME TO {LIVE}_{suffix}" for suffix in INDEX_SUFFIXES]
    statements += [f"DELETE FROM search_langs WHERE docs = '{LIVE}'",
                   f"UPDATE search_langs SET docs = '{LIVE}' WHERE docs = '{STAGING}'",
                   f"DELETE FROM search_state WHERE name = 'cursor:{LIVE}'",
                   f"UPDATE search_state SET name = 'cursor:{LIVE}' WHERE name = 'cursor:{STAGING}'"]
    return statements


def upsert(table: str) -> str:
    """One article in: its tsvector made by the server, in the configuration of its language
    (`words`: the title as the index reads it, `title`: as it is shown)."""
    assert table in TABLES
    return (f"INSERT INTO {table} AS d (article_id, story_id, lang, config, source, title, published, entities, "
            "tags, title_doc, doc) VALUES (%(id)s, %(story)s, %(lang)s, %(config)s::regconfig, %(source)s, "
            "%(title)s, %(published)s, %(entities)s, %(tags)s, "
            "setweight(to_tsvector(%(config)s::regconfig, %(words)s), 'A'), "
            "setweight(to_tsvector(%(config)s::regconfig, %(words)s), 'A') "
            "|| setweight(to_tsvector(%(config)s::regconfig, %(text)s), 'D')) "
            "ON CONFLICT (article_id) DO UPDATE SET story_id = EXCLUDED.story_id, lang = EXCLUDED.lang, "
            "config = EXCLUDED.config, source = EXCLUDED.source, title = EXCLUDED.title, "
            "published = EXCLUDED.published, entities = EXCLUDED.entities, tags = EXCLUDED.tags, "
            "title_doc = EXCLUDED.title_doc, doc = EXCLUDED.doc")


def add_langs() -> str:
    return ("INSERT INTO search_langs (docs, lang, config) SELECT %s, l, c FROM unnest(%s::text[], %s::text[]) "
            "AS t(l, c) ON CONFLICT DO NOTHING")


LANGS = "SELECT lang, config FROM search_langs WHERE docs = %s ORDER BY lang"
# Each (configuration, text) pair as a tsquery, in order: what the server's parser, unaccent and
# stemmer make of a query's words (empty for a stop word).
LEXEMES = ("SELECT phraseto_tsquery(c::regconfig, w)::text FROM unnest(%s::text[], %s::text[]) "
           "WITH ORDINALITY AS t(c, w, n) ORDER BY n")


def count_docs(table: str) -> str:
    assert table in TABLES
    return f"SELECT count(*) FROM {table}"


def matching(table: str, where: str) -> str:
    """Every matching article with its story (`veille search --count`, facets)."""
    assert table in TABLES
    return f"SELECT article_id, story_id FROM {table} WHERE {where}"


def ranked(table: str, where: str, score: str, order: str, by_story: bool, capped: bool) -> str:
    """One page of hits; with `by_story` the best hit of each story (DISTINCT ON), in `order`.

    Ranking reads each candidate's whole tsvector (out of line, in the TOAST table): a few
    microseconds an article, too slow when a common word matches a third of a large archive. So
    when `capped`, only a bounded set of candidates is ranked: those with the words in their
    title first (`title_doc`, small and in the row, is cheap to test), then the newest.
    Parameters: those of `score`, of `where`, then (`capped`) the title tsquery and the bound,
    then LIMIT and OFFSET."""
    assert table in TABLES
    candidates = f"SELECT article_id, story_id, lang, title, published, doc FROM {table} WHERE {where}"
    if capped:
        candidates += " ORDER BY title_doc @@ %s::tsquery DESC, published DESC NULLS LAST LIMIT %s"
    inner = f"SELECT article_id, story_id, lang, title, published, {score} AS score FROM ({candidates}) c"
    if by_story:
        inner = f"SELECT DISTINCT ON (story_id) * FROM ({inner}) m ORDER BY story_id, {order}"
    return f"SELECT * FROM ({inner}) best ORDER BY {order} LIMIT %s OFFSET %s"


def members(table: str, where: str, score: str, order: str) -> str:
    """The other matching hits of some stories (the versions shown under a story's best hit).
    Parameters: those of `score`, of `where`, then the story ids."""
    assert table in TABLES
    return (f"SELECT * FROM (SELECT article_id, story_id, lang, title, published, {score} AS score FROM {table} "
            f"WHERE ({where}) AND story_id = ANY(%s)) m ORDER BY {order}")
