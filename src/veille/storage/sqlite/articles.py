"""The archive's articles: storing them with their revisions, tagging, reading, counting,
exporting, and what the search index needs to follow them."""

from __future__ import annotations

from typing import Iterator

import json
import re

from veille.models import Article, Entity, text_hash
from veille.storage.rows import RevisionRow
from veille.storage.sqlite.base import Part, chunks, compress, encode_shares, row_to_article
from veille.storage.sqlite.failures import converts_errors
from veille.storage.sqlite.schema import ARTICLE_COLUMNS, LIST_COLUMNS

_ID_PREFIX = re.compile(r"[0-9a-f]{4,64}")  # what a person may type for an article id


@converts_errors
class Articles(Part):
    # -- articles --------------------------------------------------------
    def has_article(self, article_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is not None

    def save_article(self, article: Article, at: str) -> str:
        """Store `article`; return 'new', 'updated' (old text kept as a revision) or 'unchanged'."""
        article.text_hash = article.text_hash or text_hash(article.text)
        with self.transaction():
            old = self.db.execute(
                "SELECT id, text_hash, revision, title, text, raw, fetched, extractor FROM articles WHERE id = ?",
                (article.id,),
            ).fetchone()
            if old is not None and old["text_hash"] == article.text_hash:
                return "unchanged"
            values = self._article_values(article, at)
            if old is None:
                values["revision"] = 1
                values["first_seen"] = at
                self._insert_article(values)
                self._write_tagging(article)
                return "new"
            self.db.execute(
                """
                INSERT INTO revisions (article_id, revision, title, text, text_hash, raw, fetched,
                                       extractor, replaced_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (old["id"], old["revision"], old["title"], old["text"], old["text_hash"], old["raw"],
                 old["fetched"], old["extractor"], at),
            )
            values["revision"] = old["revision"] + 1
            assignments = ", ".join(f"{k} = :{k}" for k in values if k not in ("id", "first_seen"))
            self.db.execute(f"UPDATE articles SET {assignments} WHERE id = :id", values)
            self._write_tagging(article)
            return "updated"

    def _write_tagging(self, article: Article) -> None:
        """Replace the entities and tags of `article` (inside the caller's transaction)."""
        self.db.execute("DELETE FROM entities WHERE article_id = ?", (article.id,))
        self.db.execute("DELETE FROM tags WHERE article_id = ?", (article.id,))
        self.db.executemany(
            "INSERT OR IGNORE INTO entities (article_id, start_char, end_char, label, text, key, origin) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(article.id, e.start, e.end, e.label, e.text, e.key, e.origin) for e in article.entities],
        )
        self.db.executemany("INSERT OR IGNORE INTO tags (article_id, tag) VALUES (?, ?)",
                            [(article.id, t) for t in article.tags])

    def save_tagging(self, article: Article, at: str) -> None:
        """Store new entities and tags for an article already archived (retag)."""
        with self.transaction():
            self._write_tagging(article)
            self.db.execute("UPDATE articles SET tagger = ?, tagged_at = ? WHERE id = ?",
                            (article.tagger, at, article.id))

    def entities_of(self, article_id: str) -> list[Entity]:
        return self.entities_of_many([article_id])[article_id]

    def tags_of(self, article_id: str) -> list[str]:
        return self.tags_of_many([article_id])[article_id]

    def articles_to_tag(self, lang: str, tagger: str, batch: int) -> list[Article]:
        """Up to `batch` articles in `lang` not tagged by `tagger`, in id order."""
        rows = self.db.execute(
            "SELECT id, text, lang FROM articles WHERE lang = ? AND (tagger IS NULL OR tagger != ?) "
            "ORDER BY id LIMIT ?", (lang, tagger, batch)).fetchall()
        return [Article(id=r["id"], url="", source="", text=r["text"], lang=r["lang"]) for r in rows]

    def count_to_tag(self, lang: str, tagger: str) -> int:
        return self.db.execute(
            "SELECT COUNT(*) FROM articles WHERE lang = ? AND (tagger IS NULL OR tagger != ?)", (lang, tagger)
        ).fetchone()[0]

    def entity_ranking(
        self, *, top: int = 20, label: str | None = None, lang: str | None = None, since: str | None = None,
    ) -> list[dict]:
        """Entity keys by the number of articles that mention them, with their commonest spelling."""
        where, params = ["1 = 1"], {"label": label or "%", "top": top}
        if label:
            where.append("e.label = :label")
        if lang:
            where.append("a.lang = :lang")
            params["lang"] = lang
        if since:
            where.append("COALESCE(a.published, a.fetched) >= :since")
            params["since"] = since
        rows = self.db.execute(
            f"""
            SELECT e.key, COUNT(DISTINCT e.article_id) AS articles, COUNT(*) AS mentions,
                   (SELECT e2.text FROM entities e2 WHERE e2.key = e.key AND e2.label LIKE :label
                    GROUP BY e2.text ORDER BY COUNT(*) DESC, e2.text LIMIT 1) AS text,
                   (SELECT e3.label FROM entities e3 WHERE e3.key = e.key AND e3.label LIKE :label
                    GROUP BY e3.label ORDER BY COUNT(*) DESC, e3.label LIMIT 1) AS label,
                   GROUP_CONCAT(DISTINCT a.lang) AS langs
            FROM entities e JOIN articles a ON a.id = e.article_id
            WHERE {' AND '.join(where)}
            GROUP BY e.key ORDER BY articles DESC, mentions DESC, e.key LIMIT :top
            """,
            params,
        ).fetchall()
        return [dict(r) for r in rows]

    def known_names(self, min_articles: int = 2) -> list[tuple[str, str, str]]:
        """(text, label, key) the models found in at least `min_articles` articles."""
        rows = self.db.execute(
            "SELECT text, label, key FROM entities WHERE origin = 'model' AND length(text) >= 3 "
            "GROUP BY text, label, key HAVING COUNT(DISTINCT article_id) >= ?", (min_articles,))
        return [(r["text"], r["label"], r["key"]) for r in rows]

    def tagger_counts(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT lang, COALESCE(tagger, 'not tagged') AS tagger, COUNT(*) AS n FROM articles "
            "GROUP BY lang, tagger ORDER BY lang, n DESC")
        return [dict(r) for r in rows]

    def _article_values(self, article: Article, at: str) -> dict:
        values = {c: getattr(article, c) for c in ARTICLE_COLUMNS if c not in ("raw", "alternates", "lang_shares")}
        values["tagged_at"] = at if article.tagger else None
        values["raw"] = compress(article.raw)
        values["alternates"] = json.dumps(article.alternates, sort_keys=True)
        values["lang_shares"] = encode_shares(article.lang_shares)
        values["fetched"] = article.fetched or at
        values["updated"] = at
        return values

    def _insert_article(self, values: dict) -> None:
        columns = ", ".join(ARTICLE_COLUMNS)
        placeholders = ", ".join(f":{c}" for c in ARTICLE_COLUMNS)
        self.db.execute(f"INSERT INTO articles ({columns}) VALUES ({placeholders})", values)

    def get_article(self, article_id: str) -> Article | None:
        """Find by full id, or by a unique id prefix of at least 4 hex digits, in either case."""
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        prefix = article_id.strip().lower()
        if row is None and _ID_PREFIX.fullmatch(prefix):  # a range on the primary key: no LIKE wildcards
            rows = self.db.execute("SELECT * FROM articles WHERE id >= ? AND id < ? LIMIT 2",
                                   (prefix, prefix + "g")).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return row_to_article(row) if row else None

    def revisions(self, article_id: str) -> list[RevisionRow]:
        rows = self.db.execute(
            "SELECT revision, title, text_hash, fetched, replaced_at FROM revisions "
            "WHERE article_id = ? ORDER BY revision",
            (article_id,),
        )
        return [RevisionRow.of(row) for row in rows]

    def revision_texts(self, batch: int = 500) -> Iterator[tuple[str, int, str, str, str]]:
        """Every earlier revision: (article id, revision, fetched, text, text hash), a batch at a time."""
        after = ("", 0)
        while True:
            rows = self.db.execute(
                "SELECT article_id, revision, fetched, text, text_hash FROM revisions WHERE (article_id, revision) > (?, ?) "
                "ORDER BY article_id, revision LIMIT ?", (*after, batch)).fetchall()
            if not rows:
                return
            yield from (tuple(row) for row in rows)
            after = (rows[-1][0], rows[-1][1])

    def list_articles(
        self, *, source: str | None = None, lang: str | None = None, limit: int | None = 20,
    ) -> list[Article]:
        where, params = [], []
        if source:
            where.append("source = ?")
            params.append(source)
        if lang:
            where.append("lang = ?")
            params.append(lang)
        sql = f"SELECT {', '.join(LIST_COLUMNS)} FROM articles"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY COALESCE(published, fetched) DESC, id"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return [row_to_article(row) for row in self.db.execute(sql, params)]

    def export_batches(self, *, lang: str | None = None, source: str | None = None, since: str | None = None,
                       until: str | None = None, batch: int = 1000, with_raw: bool = False):
        """Lists of (article, story membership or None), in id order, `batch` articles at a time."""
        where, params = ["a.id > ?"], []
        for clause, value in (("a.lang = ?", lang), ("a.source = ?", source),
                              ("substr(COALESCE(a.published, a.fetched), 1, 10) >= ?", since),
                              ("substr(COALESCE(a.published, a.fetched), 1, 10) <= ?", until)):
            if value:
                where.append(clause)
                params.append(value)
        columns = "a.*" if with_raw else ", ".join(f"a.{c}" for c in ARTICLE_COLUMNS if c != "raw")
        sql = (f"SELECT {columns}, m.story_id AS m_story, m.relation AS m_relation, s.original_id AS m_original "
               "FROM articles a LEFT JOIN story_members m ON m.article_id = a.id "
               "LEFT JOIN stories s ON s.id = m.story_id "
               f"WHERE {' AND '.join(where)} ORDER BY a.id LIMIT ?")
        last = ""
        while True:
            found = self.db.execute(sql, (last, *params, batch)).fetchall()
            if not found:
                return
            yield [(row_to_article(row), {"story_id": row["m_story"], "relation": row["m_relation"],
                                           "original_id": row["m_original"]} if row["m_story"] else None)
                   for row in found]
            last = found[-1]["id"]

    def entities_of_many(self, ids: list[str]) -> dict[str, list[Entity]]:
        """Each article's entities in text order, a few hundred articles per query."""
        found: dict[str, list[Entity]] = {i: [] for i in ids}
        for chunk, marks in chunks(ids):
            for r in self.db.execute(
                    f"SELECT article_id, text, label, start_char, end_char, key, origin FROM entities "
                    f"WHERE article_id IN ({marks}) ORDER BY article_id, start_char, end_char", chunk):
                found[r["article_id"]].append(Entity(r["text"], r["label"], r["start_char"], r["end_char"],
                                                     r["key"], r["origin"]))
        return found

    def tags_of_many(self, ids: list[str]) -> dict[str, list[str]]:
        """Each article's topic tags, sorted, a few hundred articles per query."""
        found: dict[str, list[str]] = {i: [] for i in ids}
        for chunk, marks in chunks(ids):
            for r in self.db.execute(f"SELECT article_id, tag FROM tags WHERE article_id IN ({marks}) "
                                     "ORDER BY article_id, tag", chunk):
                found[r["article_id"]].append(r["tag"])
        return found

    def count_articles(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def counts_by_source(self) -> dict[str, int]:
        rows = self.db.execute("SELECT source, COUNT(*) AS n FROM articles GROUP BY source")
        return {row["source"]: row["n"] for row in rows}

    def holds(self, *, source: str | None = None, lang: str | None = None) -> bool:
        """Whether any article has this source (or language): one look-up on an index."""
        column, value = ("source", source) if source is not None else ("lang", lang)
        return self.db.execute(f"SELECT 1 FROM articles WHERE {column} = ? LIMIT 1", (value,)).fetchone() is not None

    def counts_by_lang(self) -> dict[str, int]:
        rows = self.db.execute("SELECT lang, COUNT(*) AS n FROM articles GROUP BY lang ORDER BY n DESC, lang")
        return {row["lang"]: row["n"] for row in rows}

    def count_failures_by_source(self) -> dict[str, int]:
        rows = self.db.execute("SELECT source, COUNT(*) AS n FROM failures GROUP BY source")
        return {row["source"]: row["n"] for row in rows}


    # -- what the search index needs ----------------------------------------
    def change_number(self, cursor: str) -> str:
        """An index cursor as a change number. A cursor saved before change numbers ("time id", the
        last article it indexed) becomes the number that article had when they were introduced."""
        if not cursor or cursor.isdigit():
            return cursor or "0"
        row = self.db.execute(
            "SELECT COALESCE(MAX(c.seq), 0) FROM article_changes c JOIN articles a ON a.id = c.article_id "
            "WHERE MAX(a.updated, COALESCE(a.tagged_at, '')) || ' ' || a.id <= ?", (cursor,)).fetchone()
        return str(row[0])

    def changed_since(self, cursor: str, batch: int = 500) -> list[tuple[Article, str | None, list[str], list[str], str]]:
        """Articles stored or re-tagged after `cursor`, oldest change first, with story, entity keys,
        tags, and each one's change mark (the next cursor)."""
        rows = self.db.execute(
            """
            SELECT a.*, c.seq AS mark, m.story_id
            FROM article_changes c JOIN articles a ON a.id = c.article_id
            LEFT JOIN story_members m ON m.article_id = a.id
            WHERE c.seq > ?
            ORDER BY c.seq LIMIT ?
            """, (int(self.change_number(cursor)), batch)).fetchall()
        ids = [row["id"] for row in rows]
        keys: dict[str, list[str]] = {i: [] for i in ids}
        for chunk, marks in chunks(ids):  # a few queries for the whole batch, not two per article
            for r in self.db.execute(f"SELECT DISTINCT article_id, key FROM entities WHERE article_id IN ({marks})",
                                     chunk):
                keys[r["article_id"]].append(r["key"])
        tags = self.tags_of_many(ids)
        return [(row_to_article(row), row["story_id"], keys[row["id"]], tags[row["id"]], str(row["mark"]))
                for row in rows]

