"""The PostgreSQL archive's articles: storing them with their revisions, tagging, reading, counting,
exporting, and what the search index needs to follow them (what each does: storage/sqlite/articles.py).

An article is stored in the partition of `articles` for the month it was first fetched; `seen_url`
says which, and keeps its id unique across the partitions: saving an article inserts its `seen_url`
row first, `ON CONFLICT DO NOTHING` telling a new article from one already stored, whoever stored it.
`raw` is kept compressed with zlib, as in the SQLite archive (so `archive copy` moves it as it is).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Iterator

from veille.models import Article, Entity, text_hash
from veille.storage.postgres.base import Part, converts_errors, row_to_article
from veille.storage.postgres.schema import ARTICLE_COLUMNS, LIST_COLUMNS, partition_ddl
from veille.storage.rows import RevisionRow
from veille.storage.sqlite.base import compress, encode_shares

_ID_PREFIX = re.compile(r"[0-9a-f]{4,64}")  # what a person may type for an article id
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def fetched_month(when: str | None) -> dt.date:
    """The first day of the month of an ISO time ('2026-12-04T10:00:00Z' -> 2026-12-01); this month
    for a time that is not ISO (what some callers pass as `at`)."""
    found = _MONTH.match(when or "")
    if found and 1 <= int(found.group(2)) <= 12:
        return dt.date(int(found.group(1)), int(found.group(2)), 1)
    today = dt.datetime.now(dt.timezone.utc).date()
    return today.replace(day=1)


_CASTS = {"lang_confidence": "float8", "revision": "int", "raw": "bytea", "fetched_month": "date"}
_NEW_COLUMNS = (*ARTICLE_COLUMNS, "fetched_month")
# A new article in one round trip: its seen_url row claims the id (ON CONFLICT DO NOTHING: nothing else
# is written when the id was already taken), then the article, its entities and its tags; the number
# of articles inserted (0: the article was already stored).
_INSERT_NEW = f"""
    WITH claimed AS (
        INSERT INTO seen_url (article_id, url, fetched_month) VALUES (%(id)s, %(url)s, %(fetched_month)s::date)
        ON CONFLICT (article_id) DO NOTHING RETURNING article_id
    ), stored AS (
        INSERT INTO articles ({", ".join(_NEW_COLUMNS)})
        SELECT {", ".join(f"%({c})s::{_CASTS.get(c, 'text')}" for c in _NEW_COLUMNS)} FROM claimed
        RETURNING id
    ), named AS (
        INSERT INTO entities (article_id, start_char, end_char, label, text, key, origin)
        SELECT stored.id, e.* FROM stored, unnest(%(e_start)s::int[], %(e_end)s::int[], %(e_label)s::text[],
                                                  %(e_text)s::text[], %(e_key)s::text[], %(e_origin)s::text[]) AS e
        ON CONFLICT DO NOTHING
    ), tagged AS (
        INSERT INTO tags (article_id, tag) SELECT stored.id, t.tag FROM stored, unnest(%(t_tag)s::text[]) AS t(tag)
        ON CONFLICT DO NOTHING
    )
    SELECT COUNT(*) AS n FROM stored
"""


def _tagging_arrays(article: Article) -> dict:
    """An article's entities and tags as arrays, one per column (for unnest)."""
    entities = article.entities
    return {"e_start": [e.start for e in entities], "e_end": [e.end for e in entities],
            "e_label": [e.label for e in entities], "e_text": [e.text for e in entities],
            "e_key": [e.key for e in entities], "e_origin": [e.origin for e in entities],
            "t_tag": list(article.tags)}


@converts_errors
class Articles(Part):
    _months: set[str]

    # -- articles --------------------------------------------------------
    def has_article(self, article_id: str) -> bool:
        return self._one("SELECT 1 AS found FROM seen_url WHERE article_id = %s", (article_id,)) is not None

    def save_article(self, article: Article, at: str) -> str:
        """Store `article`; return 'new', 'updated' (old text kept as a revision) or 'unchanged'."""
        if "\x00" in article.text:  # (veille's cleaning drops them already; PostgreSQL text cannot hold one)
            article.text, article.text_hash = article.text.replace("\x00", ""), None
        article.text_hash = article.text_hash or text_hash(article.text)
        values = self._article_values(article, at)
        with self.transaction():
            month = fetched_month(values["fetched"])
            self._ensure_partition(month)  # before the insert: known months cost nothing
            values.update(revision=1, first_seen=at, fetched_month=month, **_tagging_arrays(article))
            if self._value(_INSERT_NEW, values):  # one statement: seen_url, the article, its entities and tags
                return "new"
            old = self._one(
                "SELECT a.id, a.fetched_month, a.text_hash, a.revision, a.title, a.text, a.raw, a.fetched, "
                "a.extractor FROM seen_url s JOIN articles a ON a.id = s.article_id AND a.fetched_month = s.fetched_month "
                "WHERE s.article_id = %s", (article.id,))
            if old["text_hash"] == article.text_hash:
                return "unchanged"
            self._write(
                """
                INSERT INTO revisions (article_id, revision, title, text, text_hash, raw, fetched,
                                       extractor, replaced_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                """,
                (old["id"], old["revision"], old["title"], old["text"], old["text_hash"], old["raw"],
                 old["fetched"], old["extractor"], at),
            )
            values["revision"] = old["revision"] + 1
            values["fetched_month"] = old["fetched_month"]  # a revision never moves the row
            assignments = ", ".join(f"{k} = %({k})s" for k in ARTICLE_COLUMNS if k not in ("id", "first_seen"))
            self._write(f"UPDATE articles SET {assignments} WHERE id = %(id)s AND fetched_month = %(fetched_month)s",
                      values)
            self._write_tagging(article)
            return "updated"

    def _ensure_partition(self, month: dt.date) -> None:
        """The partition of `articles` for `month`, made if missing (inside the caller's transaction,
        under the transaction lock: two writers never make it at once; a savepoint still catches a
        partition made by a session that did not take the lock)."""
        name = f"{month:%Y-%m}"
        made = getattr(self._local, "made", None)
        if name in self._months or (made is not None and name in made):
            return
        import psycopg

        with self._connection() as conn:
            try:
                with conn.transaction():  # a savepoint: a failure here leaves the outer one usable
                    conn.execute(partition_ddl(name))
            except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
                pass  # made by another session meanwhile: it is there
        # remembered once the transaction that made it commits: a rolled-back one takes the partition along
        (made if made is not None else self._months).add(name)

    def _write_tagging(self, article: Article) -> None:
        """Replace the entities and tags of `article` (inside the caller's transaction)."""
        self._write("DELETE FROM entities WHERE article_id = %s", (article.id,))
        self._write("DELETE FROM tags WHERE article_id = %s", (article.id,))
        self._many(
            "INSERT INTO entities (article_id, start_char, end_char, label, text, key, origin) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(article.id, e.start, e.end, e.label, e.text, e.key, e.origin) for e in article.entities],
        )
        self._many("INSERT INTO tags (article_id, tag) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                   [(article.id, t) for t in article.tags])

    def save_tagging(self, article: Article, at: str) -> None:
        """Store new entities and tags for an article already archived (retag)."""
        with self.transaction():
            self._write_tagging(article)
            self._write("UPDATE articles SET tagger = %s, tagged_at = %s WHERE id = %s",
                      (article.tagger, at, article.id))

    def _article_values(self, article: Article, at: str) -> dict:
        values = {c: getattr(article, c) for c in ARTICLE_COLUMNS if c not in ("raw", "alternates", "lang_shares")}
        values["tagged_at"] = at if article.tagger else None
        values["raw"] = compress(article.raw)
        values["alternates"] = json.dumps(article.alternates, sort_keys=True)
        values["lang_shares"] = encode_shares(article.lang_shares)
        values["fetched"] = article.fetched or at
        values["updated"] = at
        for name, value in values.items():  # PostgreSQL text holds no NUL (SQLite's does): dropped, not refused
            if isinstance(value, str) and "\x00" in value:
                values[name] = value.replace("\x00", "")
        return values

    def get_article(self, article_id: str) -> Article | None:
        """Find by full id, or by a unique id prefix of at least 4 hex digits, in either case. The id
        is looked up in `seen_url`, then the article read from its month's partition alone."""
        found = self._rows("SELECT article_id, fetched_month FROM seen_url WHERE article_id = %s", (article_id,))
        prefix = article_id.strip().lower()
        if not found and _ID_PREFIX.fullmatch(prefix):  # a range on the primary key: no LIKE wildcards
            found = self._rows("SELECT article_id, fetched_month FROM seen_url WHERE article_id >= %s "
                               "AND article_id < %s ORDER BY article_id LIMIT 2", (prefix, prefix + "g"))
        if len(found) != 1:
            return None
        row = self._one("SELECT * FROM articles WHERE id = %s AND fetched_month = %s",
                        (found[0]["article_id"], found[0]["fetched_month"]))
        return row_to_article(row) if row else None

    def revisions(self, article_id: str) -> list[RevisionRow]:
        rows = self._rows("SELECT revision, title, text_hash, fetched, replaced_at FROM revisions "
                          "WHERE article_id = %s ORDER BY revision", (article_id,))
        return [RevisionRow.of(row) for row in rows]

    def revision_texts(self, batch: int = 500) -> Iterator[tuple[str, int, str, str, str]]:
        """Every earlier revision: (article id, revision, fetched, text, text hash), a batch at a time."""
        after = ("", 0)
        while True:
            rows = self._rows(
                "SELECT article_id, revision, fetched, text, text_hash FROM revisions "
                "WHERE (article_id, revision) > (%s, %s) ORDER BY article_id, revision LIMIT %s", (*after, batch))
            if not rows:
                return
            yield from (tuple(row.values()) for row in rows)
            after = (rows[-1]["article_id"], rows[-1]["revision"])

    def list_articles(
        self, *, source: str | None = None, lang: str | None = None, limit: int | None = 20,
    ) -> list[Article]:
        where, params = [], []
        if source:
            where.append("source = %s")
            params.append(source)
        if lang:
            where.append("lang = %s")
            params.append(lang)
        sql = f"SELECT {', '.join(LIST_COLUMNS)} FROM articles"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY COALESCE(published, fetched) DESC, id"
        if limit:
            sql += " LIMIT %s"
            params.append(limit)
        return [row_to_article(row) for row in self._rows(sql, params)]

    def export_batches(self, *, lang: str | None = None, source: str | None = None, since: str | None = None,
                       until: str | None = None, batch: int = 1000, with_raw: bool = False):
        """Lists of (article, story membership or None), in id order, `batch` articles at a time."""
        where, params = ["a.id > %s"], []
        for clause, value in (("a.lang = %s", lang), ("a.source = %s", source),
                              ("substr(COALESCE(a.published, a.fetched), 1, 10) >= %s", since),
                              ("substr(COALESCE(a.published, a.fetched), 1, 10) <= %s", until)):
            if value:
                where.append(clause)
                params.append(value)
        columns = ", ".join(f"a.{c}" for c in ARTICLE_COLUMNS if with_raw or c != "raw")
        sql = (f"SELECT {columns}, m.story_id AS m_story, m.relation AS m_relation, s.original_id AS m_original "
               "FROM articles a LEFT JOIN story_members m ON m.article_id = a.id "
               "LEFT JOIN stories s ON s.id = m.story_id "
               f"WHERE {' AND '.join(where)} ORDER BY a.id LIMIT %s")
        last = ""
        while True:
            found = self._rows(sql, (last, *params, batch))
            if not found:
                return
            yield [(row_to_article(row), {"story_id": row["m_story"], "relation": row["m_relation"],
                                           "original_id": row["m_original"]} if row["m_story"] else None)
                   for row in found]
            last = found[-1]["id"]

    # -- tagging ---------------------------------------------------------
    def entities_of(self, article_id: str) -> list[Entity]:
        return self.entities_of_many([article_id])[article_id]

    def tags_of(self, article_id: str) -> list[str]:
        return self.tags_of_many([article_id])[article_id]

    def entities_of_many(self, ids: list[str]) -> dict[str, list[Entity]]:
        """Each article's entities in text order, in one query."""
        found: dict[str, list[Entity]] = {i: [] for i in ids}
        if ids:
            for r in self._rows("SELECT article_id, text, label, start_char, end_char, key, origin FROM entities "
                                "WHERE article_id = ANY(%s) ORDER BY article_id, start_char, end_char", (list(ids),)):
                found[r["article_id"]].append(Entity(r["text"], r["label"], r["start_char"], r["end_char"],
                                                     r["key"], r["origin"]))
        return found

    def tags_of_many(self, ids: list[str]) -> dict[str, list[str]]:
        """Each article's topic tags, sorted, in one query."""
        found: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            for r in self._rows('SELECT article_id, tag FROM tags WHERE article_id = ANY(%s) '
                                'ORDER BY article_id, tag COLLATE "C"', (list(ids),)):
                found[r["article_id"]].append(r["tag"])
        return found

    def articles_to_tag(self, lang: str, tagger: str, batch: int) -> list[Article]:
        """Up to `batch` articles in `lang` not tagged by `tagger`, in id order."""
        rows = self._rows(
            "SELECT id, text, lang FROM articles WHERE lang = %s AND (tagger IS NULL OR tagger != %s) "
            "ORDER BY id LIMIT %s", (lang, tagger, batch))
        return [Article(id=r["id"], url="", source="", text=r["text"], lang=r["lang"]) for r in rows]

    def count_to_tag(self, lang: str, tagger: str) -> int:
        return self._value("SELECT COUNT(*) AS n FROM articles WHERE lang = %s AND (tagger IS NULL OR tagger != %s)",
                           (lang, tagger))

    def entity_ranking(
        self, *, top: int = 20, label: str | None = None, lang: str | None = None, since: str | None = None,
    ) -> list[dict]:
        """Entity keys by the number of articles that mention them, with their commonest spelling."""
        where, params = ["1 = 1"], {"label": label or "%", "top": top}
        if label:
            where.append("e.label = %(label)s")
        if lang:
            where.append("a.lang = %(lang)s")
            params["lang"] = lang
        if since:
            where.append("COALESCE(a.published, a.fetched) >= %(since)s")
            params["since"] = since
        rows = self._rows(
            f"""
            SELECT e.key, COUNT(DISTINCT e.article_id) AS articles, COUNT(*) AS mentions,
                   (SELECT e2.text FROM entities e2 WHERE e2.key = e.key AND e2.label LIKE %(label)s
                    GROUP BY e2.text ORDER BY COUNT(*) DESC, e2.text COLLATE "C" LIMIT 1) AS text,
                   (SELECT e3.label FROM entities e3 WHERE e3.key = e.key AND e3.label LIKE %(label)s
                    GROUP BY e3.label ORDER BY COUNT(*) DESC, e3.label COLLATE "C" LIMIT 1) AS label,
                   string_agg(DISTINCT a.lang, ',') AS langs
            FROM entities e JOIN articles a ON a.id = e.article_id
            WHERE {' AND '.join(where)}
            GROUP BY e.key ORDER BY articles DESC, mentions DESC, e.key COLLATE "C" LIMIT %(top)s
            """,
            params,
        )
        return [dict(r) for r in rows]

    def known_names(self, min_articles: int = 2) -> list[tuple[str, str, str]]:
        """(text, label, key) the models found in at least `min_articles` articles."""
        rows = self._rows(
            "SELECT text, label, key FROM entities WHERE origin = 'model' AND length(text) >= 3 "
            "GROUP BY text, label, key HAVING COUNT(DISTINCT article_id) >= %s", (min_articles,))
        return [(r["text"], r["label"], r["key"]) for r in rows]

    def tagger_counts(self) -> list[dict]:
        rows = self._rows(
            "SELECT lang, COALESCE(tagger, 'not tagged') AS tagger, COUNT(*) AS n FROM articles "
            'GROUP BY lang, articles.tagger ORDER BY lang COLLATE "C", n DESC')
        return [dict(r) for r in rows]

    # -- counts ----------------------------------------------------------
    def count_articles(self) -> int:
        return self._value("SELECT COUNT(*) AS n FROM seen_url")  # one row per article, and narrow

    def approximate_count(self) -> int:
        """Articles stored: COUNT on the narrow `seen_url` (an index-only scan; pg_class.reltuples
        would be instant but stale until the next ANALYZE, wrong on a fresh archive)."""
        return self._value("SELECT COUNT(*) AS n FROM seen_url")

    def counts_by_source(self) -> dict[str, int]:
        return {row["source"]: row["n"]
                for row in self._rows("SELECT source, COUNT(*) AS n FROM articles GROUP BY source")}

    def holds(self, *, source: str | None = None, lang: str | None = None) -> bool:
        """Whether any article has this source (or language): one look-up on an index."""
        column, value = ("source", source) if source is not None else ("lang", lang)
        return self._one(f"SELECT 1 AS found FROM articles WHERE {column} = %s LIMIT 1", (value,)) is not None

    def counts_by_lang(self) -> dict[str, int]:
        rows = self._rows('SELECT lang, COUNT(*) AS n FROM articles GROUP BY lang ORDER BY n DESC, lang COLLATE "C"')
        return {row["lang"]: row["n"] for row in rows}

    # -- what the search index needs ----------------------------------------
    def change_number(self, cursor: str) -> str:
        """An index cursor as a change number. A cursor of the old form ("time id", the last article
        an index synced before change numbers indexed) becomes the number of the last change at or
        before it, as on SQLite (no such cursor was ever kept for a PostgreSQL archive; an archive
        copied from SQLite may bring its index along)."""
        if not cursor or cursor.isdigit():
            return cursor or "0"
        value = self._value(
            "SELECT COALESCE(MAX(c.seq), 0) AS n FROM article_changes c JOIN articles a ON a.id = c.article_id "
            "WHERE (GREATEST(a.updated, COALESCE(a.tagged_at, '')) || ' ' || a.id) COLLATE \"C\" <= %s",
            (cursor,))
        return str(value)

    def changed_since(self, cursor: str, batch: int = 500) -> list[tuple[Article, str | None, list[str], list[str], str]]:
        """Articles stored or re-tagged after `cursor`, oldest change first, with story, entity keys,
        tags, and each one's change mark (the next cursor)."""
        # The changes first, then their articles by id: one index probe per partition for the whole
        # batch (a join would hash every partition, the planner not counting on run-time pruning).
        after = int(self.change_number(cursor))
        while True:
            changes = self._rows("SELECT article_id, seq FROM article_changes WHERE seq > %s ORDER BY seq LIMIT %s",
                                 (after, batch))
            if not changes:
                return []
            found = {row["id"]: row for row in self._rows("SELECT * FROM articles WHERE id = ANY(%s)",
                                                           ([c["article_id"] for c in changes],))}
            if found:
                break
            after = changes[-1]["seq"]  # changes of articles deleted since: on to the next ones
        stories = {r["article_id"]: r["story_id"] for r in self._rows(
            "SELECT article_id, story_id FROM story_members WHERE article_id = ANY(%s)", (list(found),))}
        rows = [{**found[c["article_id"]], "mark": c["seq"], "story_id": stories.get(c["article_id"])}
                for c in changes if c["article_id"] in found]
        ids = [row["id"] for row in rows]
        keys: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            for r in self._rows("SELECT DISTINCT article_id, key FROM entities WHERE article_id = ANY(%s)", (ids,)):
                keys[r["article_id"]].append(r["key"])
        tags = self.tags_of_many(ids)
        return [(row_to_article(row), row["story_id"], keys[row["id"]], tags[row["id"]], str(row["mark"]))
                for row in rows]
