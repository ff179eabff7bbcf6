"""The archive database: the record of truth. All SQL of veille lives here.

SQLite in WAL mode (readers never block the writer), one method per query,
schema versioned with `PRAGMA user_version` and applied by numbered
migrations, so an archive written by any earlier veille opens and upgrades.
Each article is written in its own transaction: a crash loses at most the
article in hand, never one already stored.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from veille.errors import ArchiveError
from veille.stages.health import Health
from veille.models import Article, Entity

DB_NAME = "veille.db"

_PLACED = "AND EXISTS (SELECT 1 FROM story_members sm WHERE sm.article_id = a.id)"  # already in a story
_ID_PREFIX = re.compile(r"[0-9a-f]{4,64}")  # what a person may type for an article id

# Each entry upgrades the schema by one version. Never edit a released entry:
# add a new one.
MIGRATIONS: list[str] = [
    # 1: sources, articles with revisions, feed entries seen, failures, runs
    """
    CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        kind TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        last_fetch TEXT,
        last_success TEXT,
        last_status TEXT,
        last_error TEXT,
        last_error_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        canonical_url TEXT,
        source TEXT NOT NULL,
        title TEXT,
        author TEXT,
        published TEXT,
        fetched TEXT NOT NULL,
        lang TEXT NOT NULL,
        lang_confidence REAL NOT NULL,
        lang_reason TEXT NOT NULL,
        site_name TEXT,
        description TEXT,
        html_lang TEXT,
        origin TEXT NOT NULL,
        note TEXT,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        raw BLOB,
        raw_type TEXT,
        extractor TEXT NOT NULL,
        alternates TEXT NOT NULL DEFAULT '{}',
        revision INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX articles_url ON articles(url);
    CREATE INDEX articles_canonical ON articles(canonical_url);
    CREATE INDEX articles_source ON articles(source, published);
    CREATE INDEX articles_lang ON articles(lang);
    CREATE INDEX articles_text_hash ON articles(text_hash);
    CREATE TABLE revisions (
        article_id TEXT NOT NULL REFERENCES articles(id),
        revision INTEGER NOT NULL,
        title TEXT,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        raw BLOB,
        fetched TEXT NOT NULL,
        extractor TEXT NOT NULL,
        replaced_at TEXT NOT NULL,
        PRIMARY KEY (article_id, revision)
    );
    CREATE TABLE entries (
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        url TEXT,
        article_id TEXT,
        first_seen TEXT NOT NULL,
        PRIMARY KEY (source, key)
    );
    CREATE TABLE failures (
        source TEXT NOT NULL,
        url TEXT NOT NULL,
        stage TEXT NOT NULL,
        reason TEXT NOT NULL,
        first_at TEXT NOT NULL,
        last_at TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (source, url, stage)
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,
        new INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 2: entities with exact offsets, topic tags, and what tagged each article
    """
    CREATE TABLE entities (
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        start_char INTEGER NOT NULL,
        end_char INTEGER NOT NULL,
        label TEXT NOT NULL,
        text TEXT NOT NULL,
        key TEXT NOT NULL,
        origin TEXT NOT NULL,
        PRIMARY KEY (article_id, start_char, end_char)
    );
    CREATE INDEX entities_key ON entities(key);
    CREATE TABLE tags (
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (article_id, tag)
    );
    CREATE INDEX tags_tag ON tags(tag);
    ALTER TABLE articles ADD COLUMN tagger TEXT;
    ALTER TABLE articles ADD COLUMN tagged_at TEXT;
    """,
    # 3: fingerprints, candidate indexes (LSH bands, anchor postings, alternate links) and stories
    """
    CREATE TABLE fingerprints (
        article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        minhash BLOB NOT NULL,
        credit TEXT
    );
    CREATE TABLE lsh (band INTEGER NOT NULL, hash INTEGER NOT NULL, article_id TEXT NOT NULL);
    CREATE INDEX lsh_band ON lsh(band, hash);
    CREATE INDEX lsh_article ON lsh(article_id);
    CREATE TABLE anchors (
        anchor TEXT NOT NULL,
        article_id TEXT NOT NULL,
        PRIMARY KEY (anchor, article_id)
    ) WITHOUT ROWID;
    CREATE INDEX anchors_article ON anchors(article_id);
    CREATE TABLE alternate_links (url TEXT NOT NULL, article_id TEXT NOT NULL);
    CREATE INDEX alternate_links_url ON alternate_links(url);
    CREATE TABLE stories (id TEXT PRIMARY KEY, original_id TEXT NOT NULL);
    CREATE TABLE story_members (
        article_id TEXT PRIMARY KEY,
        story_id TEXT NOT NULL,
        relation TEXT NOT NULL,
        linked_to TEXT,
        score REAL,
        evidence TEXT,
        explicit INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX story_members_story ON story_members(story_id);
    CREATE TABLE dedupe_state (name TEXT PRIMARY KEY, value TEXT);
    """,
    # 4: saved searches, for people and for the weekly digest
    """
    CREATE TABLE saved_searches (
        name TEXT PRIMARY KEY,
        query TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    """,
    # 5: feed health: a failure score, backoff, pauses, moved feeds, runs of 304s
    """
    ALTER TABLE sources ADD COLUMN health REAL NOT NULL DEFAULT 0;
    ALTER TABLE sources ADD COLUMN failing_since TEXT;
    ALTER TABLE sources ADD COLUMN paused_since TEXT;
    ALTER TABLE sources ADD COLUMN next_attempt TEXT;
    ALTER TABLE sources ADD COLUMN error_kind TEXT;
    ALTER TABLE sources ADD COLUMN not_modified_streak INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sources ADD COLUMN moved_to TEXT;
    ALTER TABLE sources ADD COLUMN moved_at TEXT
    """,
    # 6: digests sent, exactly once per window
    """
    CREATE TABLE digest_sends (
        id INTEGER PRIMARY KEY,
        digest TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        message_id TEXT NOT NULL,
        recipients TEXT NOT NULL,
        refused TEXT NOT NULL DEFAULT '{}',
        stories INTEGER NOT NULL
    );
    CREATE INDEX digest_sends_digest ON digest_sends(digest, sent_at)
    """,
    # 7: a change number per article, for the search index to follow the archive exactly. A
    # timestamp cursor (one-second resolution) skipped articles stored in the second of the last
    # sync. Triggers number every insert, re-store, re-tag and change of story, in commit order,
    # in a narrow table of their own (not a column: that would rewrite each article row, raw page
    # and all, a second time).
    """
    CREATE TABLE article_changes (article_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
    INSERT INTO article_changes (article_id, seq)
        SELECT id, ROW_NUMBER() OVER (ORDER BY MAX(updated, COALESCE(tagged_at, '')) || ' ' || id) FROM articles;
    CREATE UNIQUE INDEX article_changes_seq ON article_changes(seq);
    CREATE TRIGGER articles_changed_insert AFTER INSERT ON articles BEGIN
        INSERT OR REPLACE INTO article_changes (article_id, seq)
            VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM article_changes));
    END;
    CREATE TRIGGER articles_changed_update AFTER UPDATE OF updated, tagged_at, text, title, lang, source
        ON articles BEGIN
        INSERT OR REPLACE INTO article_changes (article_id, seq)
            VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM article_changes));
    END;
    CREATE TRIGGER articles_changed_delete AFTER DELETE ON articles BEGIN
        DELETE FROM article_changes WHERE article_id = OLD.id;
    END;
    CREATE TRIGGER story_members_changed_insert AFTER INSERT ON story_members BEGIN
        INSERT OR REPLACE INTO article_changes (article_id, seq)
            VALUES (NEW.article_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM article_changes));
    END;
    CREATE TRIGGER story_members_changed_update AFTER UPDATE OF story_id ON story_members BEGIN
        INSERT OR REPLACE INTO article_changes (article_id, seq)
            VALUES (NEW.article_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM article_changes));
    END;
    CREATE TRIGGER story_members_changed_delete AFTER DELETE ON story_members BEGIN
        INSERT OR REPLACE INTO article_changes (article_id, seq)
            VALUES (OLD.article_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM article_changes));
    END
    """,
    # 8: each language's share of an article's letters (JSON [["es", 0.52], ["en", 0.48]]); "[]" for
    # articles archived before it was measured
    """
    ALTER TABLE articles ADD COLUMN lang_shares TEXT NOT NULL DEFAULT '[]'
    """,
    # 9: a digest send is recorded before the message goes out ('sending'), then completed ('sent'):
    # killed after the server took the message, the next send sees it and does not deliver again
    """
    ALTER TABLE digest_sends ADD COLUMN status TEXT NOT NULL DEFAULT 'sent'
    """,
    # 10: translation candidates whatever their anchors' frequency (LSH bands over each article's
    # anchor set) and a length measure alike in every script (dedupe.text_size); missing for
    # fingerprints made before (`veille dedupe --rebuild` fills both in)
    """
    CREATE TABLE IF NOT EXISTS anchor_lsh (band INTEGER NOT NULL, hash INTEGER NOT NULL, article_id TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS anchor_lsh_band ON anchor_lsh(band, hash);
    CREATE INDEX IF NOT EXISTS anchor_lsh_article ON anchor_lsh(article_id);
    CREATE TABLE IF NOT EXISTS text_sizes (article_id TEXT PRIMARY KEY, size REAL NOT NULL) WITHOUT ROWID
    """,
]

ARTICLE_COLUMNS = (
    "id", "url", "canonical_url", "source", "title", "author", "published", "fetched",
    "lang", "lang_confidence", "lang_reason", "site_name", "description", "html_lang",
    "origin", "note", "text", "text_hash", "raw", "raw_type", "extractor", "alternates",
    "revision", "first_seen", "updated", "tagger", "tagged_at", "lang_shares",
)
LIST_COLUMNS = tuple(c for c in ARTICLE_COLUMNS if c not in ("text", "raw"))


def text_hash(text: str) -> str:
    """Hash of the text with whitespace normalised: the same words give the same hash."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def encode_shares(shares) -> str:
    """(("es", 0.52), ("en", 0.48)) -> '[["es", 0.52], ["en", 0.48]]', the stored form."""
    return json.dumps([[code, share] for code, share in shares])


def decode_shares(stored: str | None) -> tuple[tuple[str, float], ...]:
    return tuple((code, float(share)) for code, share in json.loads(stored or "[]"))


def compress(raw: bytes | None) -> bytes | None:
    return zlib.compress(raw, 6) if raw else None


def decompress(blob: bytes | None) -> bytes | None:
    return zlib.decompress(blob) if blob else None


@dataclass
class SourceState:
    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_fetch: str | None = None
    last_success: str | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    consecutive_failures: int = 0
    health: float = 0.0
    failing_since: str | None = None
    paused_since: str | None = None
    next_attempt: str | None = None
    error_kind: str | None = None
    not_modified_streak: int = 0
    moved_to: str | None = None
    moved_at: str | None = None

    def as_health(self) -> Health:
        return Health(score=self.health, consecutive_failures=self.consecutive_failures,
                      failing_since=self.failing_since, paused_since=self.paused_since,
                      next_attempt=self.next_attempt, error_kind=self.error_kind,
                      not_modified_streak=self.not_modified_streak)


class Archive:
    """The archive folder: `veille.db` and, later, the derived search index."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.readonly = False
        path = self.folder / DB_NAME
        _refuse_a_lost_database(self.folder)
        try:
            # Collected pages and members' addresses: private to the owner by default (700/600).
            # An existing folder keeps the permissions its owner gave it. SQLite gives its -wal
            # and -shm files the database file's permissions.
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        except OSError as exc:
            if isinstance(exc, (FileExistsError, NotADirectoryError)):
                file = next((p for p in (self.folder, *self.folder.parents) if p.exists() and not p.is_dir()),
                            self.folder)
                raise ArchiveError(f"archive: {file} is a file, not a folder; pass another --archive") from None
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or not path.is_file():
                raise ArchiveError(f"archive: cannot open {path} ({exc}); check the path and its permissions") from None
            # An archive this user may read but not write (or on a read-only disk): readers read it;
            # a write fails with SQLite's "readonly database", which the command line explains.
            self.db = _open_read_only(path, exc)
            self.readonly = True
        except sqlite3.Error as exc:
            raise ArchiveError(f"archive: cannot open {path} ({exc}); check the path and its permissions") from None
        self.db.row_factory = sqlite3.Row
        try:
            if not self.readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            if self.readonly and self.schema_version < len(MIGRATIONS):
                raise ArchiveError(f"archive: {self.folder} is read-only and was made by an older veille; make it "
                                   "writable once, so that this veille can bring it up to date")
            if not self.readonly:
                self._migrate()
            else:
                self.db.execute("SELECT 1 FROM articles LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            problem = str(exc).lower()
            if "malformed" in problem or "not a database" in problem or "corrupt" in problem:
                what = "is damaged" if "not a database" not in problem else "is not a veille archive, or a damaged one"
                raise ArchiveError(
                    f"archive: {path} {what} ({exc}); to save what can be read, copy the archive folder first, "
                    f"then `sqlite3 {path} .recover | sqlite3 recovered.db` and use the new file as veille.db; "
                    "or pass another --archive") from None
            raise ArchiveError(f"archive: {path} is not a veille archive ({exc}); pass another --archive") from None

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise ArchiveError(
                f"archive: {self.folder} has schema version {version}, newer than this veille "
                f"knows ({len(MIGRATIONS)}); upgrade veille"
            )
        for number in range(version + 1, len(MIGRATIONS) + 1):
            # executescript commits first; the version bump is inside the script's transaction.
            self.db.executescript(
                f"BEGIN; {MIGRATIONS[number - 1]}; PRAGMA user_version = {number}; COMMIT;"
            )

    # -- sources ---------------------------------------------------------
    def source_state(self, name: str) -> SourceState:
        row = self.db.execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
        if row is None:
            return SourceState(name=name)
        return SourceState(**{k: row[k] for k in SourceState.__dataclass_fields__})

    def record_source_success(
        self, name: str, url: str, kind: str, *, at: str, status: str,
        etag: str | None, last_modified: str | None, keep_validators: bool = True,
        health: Health | None = None, moved_to: str | None = None,
    ) -> None:
        """A fetch that worked. Without `keep_validators`, the stored ETag and
        Last-Modified are dropped so that the next fetch is unconditional."""
        health = health or Health()
        if not keep_validators:
            etag = last_modified = None
            self.db.execute("UPDATE sources SET etag = NULL, last_modified = NULL WHERE name = ?", (name,))
        self.db.execute(
            """
            INSERT INTO sources (name, url, kind, etag, last_modified, last_fetch, last_success,
                                 last_status, last_error, last_error_at, consecutive_failures,
                                 health, not_modified_streak, moved_to, moved_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, ?, ?, ?, CASE WHEN ? IS NULL THEN NULL ELSE ? END)
            ON CONFLICT(name) DO UPDATE SET
                url = excluded.url, kind = excluded.kind,
                etag = COALESCE(excluded.etag, sources.etag),
                last_modified = COALESCE(excluded.last_modified, sources.last_modified),
                last_fetch = excluded.last_fetch, last_success = excluded.last_success,
                last_status = excluded.last_status, last_error = NULL,
                consecutive_failures = 0, health = excluded.health, failing_since = NULL,
                paused_since = NULL, next_attempt = NULL, error_kind = NULL,
                not_modified_streak = excluded.not_modified_streak,
                moved_to = excluded.moved_to,
                moved_at = CASE WHEN excluded.moved_to IS NULL THEN NULL
                                ELSE COALESCE(sources.moved_at, excluded.moved_at) END
            """,
            (name, url, kind, etag, last_modified, at, at, status, health.score, health.not_modified_streak,
             moved_to, moved_to, at),
        )

    def record_source_failure(self, name: str, url: str, kind: str, *, at: str, reason: str,
                              health: Health | None = None) -> None:
        health = health or Health(consecutive_failures=1)
        self.db.execute(
            """
            INSERT INTO sources (name, url, kind, last_fetch, last_status, last_error,
                                 last_error_at, consecutive_failures, health, failing_since, paused_since,
                                 next_attempt, error_kind, not_modified_streak)
            VALUES (?, ?, ?, ?, 'failed', ?, ?, ?, ?, ?, ?, ?, ?, 0)
            ON CONFLICT(name) DO UPDATE SET
                url = excluded.url, kind = excluded.kind, last_fetch = excluded.last_fetch,
                last_status = 'failed', last_error = excluded.last_error,
                last_error_at = excluded.last_error_at,
                consecutive_failures = excluded.consecutive_failures, health = excluded.health,
                failing_since = excluded.failing_since, paused_since = excluded.paused_since,
                next_attempt = excluded.next_attempt, error_kind = excluded.error_kind,
                not_modified_streak = 0
            """,
            (name, url, kind, at, reason, at, health.consecutive_failures, health.score, health.failing_since,
             health.paused_since, health.next_attempt, health.error_kind),
        )

    def resume_source(self, name: str) -> bool:
        """End a pause by hand: the score starts again from zero and the next run tries the source."""
        cursor = self.db.execute(
            "UPDATE sources SET paused_since = NULL, health = 0, next_attempt = NULL, consecutive_failures = 0 "
            "WHERE name = ?", (name,))
        return cursor.rowcount > 0

    def source_rows(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM sources ORDER BY name").fetchall()

    # -- feed entries ----------------------------------------------------
    def entry_seen(self, source: str, key: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM entries WHERE source = ? AND key = ? AND article_id IS NOT NULL", (source, key)
        ).fetchone()
        return row is not None

    def mark_entry(self, source: str, key: str, url: str | None, article_id: str, at: str) -> None:
        self.db.execute(
            """
            INSERT INTO entries (source, key, url, article_id, first_seen) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(source, key) DO UPDATE SET article_id = excluded.article_id, url = excluded.url
            """,
            (source, key, url, article_id, at),
        )

    # -- failures --------------------------------------------------------
    def record_failure(self, source: str, url: str, stage: str, reason: str, at: str) -> None:
        self.db.execute(
            """
            INSERT INTO failures (source, url, stage, reason, first_at, last_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(source, url, stage) DO UPDATE SET
                reason = excluded.reason, last_at = excluded.last_at, count = failures.count + 1
            """,
            (source, url, stage, reason, at, at),
        )

    def failure_count(self, source: str, url: str, stage: str) -> int:
        row = self.db.execute(
            "SELECT count FROM failures WHERE source = ? AND url = ? AND stage = ?", (source, url, stage)
        ).fetchone()
        return row["count"] if row else 0

    def clear_failures(self, source: str, url: str) -> None:
        self.db.execute("DELETE FROM failures WHERE source = ? AND url = ?", (source, url))

    def failures(self, source: str | None = None, limit: int = 50) -> list[sqlite3.Row]:
        if source:
            return self.db.execute(
                "SELECT * FROM failures WHERE source = ? ORDER BY last_at DESC LIMIT ?", (source, limit)
            ).fetchall()
        return self.db.execute("SELECT * FROM failures ORDER BY last_at DESC LIMIT ?", (limit,)).fetchall()

    # -- articles --------------------------------------------------------
    def has_article(self, article_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is not None

    def save_article(self, article: Article, at: str) -> str:
        """Store `article`; return 'new', 'updated' (old text kept as a revision) or 'unchanged'."""
        article.text_hash = article.text_hash or text_hash(article.text)
        with self._transaction():
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
        with self._transaction():
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
        return _row_to_article(row) if row else None

    def revisions(self, article_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT revision, title, text_hash, fetched, replaced_at FROM revisions "
            "WHERE article_id = ? ORDER BY revision",
            (article_id,),
        ).fetchall()

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
        return [_row_to_article(row) for row in self.db.execute(sql, params)]

    def iter_articles(self, batch: int = 500) -> Iterator[Article]:
        """Every article with its text, in id order, in bounded memory."""
        last = ""
        while True:
            rows = self.db.execute(
                "SELECT * FROM articles WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _row_to_article(row)
            last = rows[-1]["id"]

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
            yield [(_row_to_article(row), {"story_id": row["m_story"], "relation": row["m_relation"],
                                           "original_id": row["m_original"]} if row["m_story"] else None)
                   for row in found]
            last = found[-1]["id"]

    def entities_of_many(self, ids: list[str]) -> dict[str, list[Entity]]:
        """Each article's entities in text order, a few hundred articles per query."""
        found: dict[str, list[Entity]] = {i: [] for i in ids}
        for chunk, marks in _chunks(ids):
            for r in self.db.execute(
                    f"SELECT article_id, text, label, start_char, end_char, key, origin FROM entities "
                    f"WHERE article_id IN ({marks}) ORDER BY article_id, start_char, end_char", chunk):
                found[r["article_id"]].append(Entity(r["text"], r["label"], r["start_char"], r["end_char"],
                                                     r["key"], r["origin"]))
        return found

    def tags_of_many(self, ids: list[str]) -> dict[str, list[str]]:
        """Each article's topic tags, sorted, a few hundred articles per query."""
        found: dict[str, list[str]] = {i: [] for i in ids}
        for chunk, marks in _chunks(ids):
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

    # -- fingerprints and stories ------------------------------------------
    def save_fingerprint(self, fp, alternates: list[str]) -> None:
        with self._transaction():
            self.db.execute("DELETE FROM lsh WHERE article_id = ?", (fp.article_id,))
            self.db.execute("DELETE FROM anchors WHERE article_id = ?", (fp.article_id,))
            self.db.execute("DELETE FROM alternate_links WHERE article_id = ?", (fp.article_id,))
            self.db.execute("DELETE FROM anchor_lsh WHERE article_id = ?", (fp.article_id,))
            self.db.execute("INSERT OR REPLACE INTO fingerprints (article_id, minhash, credit) VALUES (?, ?, ?)",
                            (fp.article_id, fp.minhash.tobytes(), fp.credit))
            self.db.execute("INSERT OR REPLACE INTO text_sizes (article_id, size) VALUES (?, ?)",
                            (fp.article_id, fp.size))
            self.db.executemany("INSERT INTO lsh (band, hash, article_id) VALUES (?, ?, ?)",
                                [(band, value, fp.article_id) for band, value in enumerate(fp.bands)])
            self.db.executemany("INSERT INTO anchor_lsh (band, hash, article_id) VALUES (?, ?, ?)",
                                [(band, value, fp.article_id) for band, value in enumerate(fp.anchor_bands)])
            self.db.executemany("INSERT OR IGNORE INTO anchors (anchor, article_id) VALUES (?, ?)",
                                [(anchor, fp.article_id) for anchor in fp.anchors])
            self.db.executemany("INSERT INTO alternate_links (url, article_id) VALUES (?, ?)",
                                [(url, fp.article_id) for url in alternates])

    def copy_candidates(self, fp, limit: int = 50, placed: bool = False) -> list[sqlite3.Row]:
        """Articles with the same text hash or sharing an LSH band with `fp` (`placed`: only those in a
        story already, as a rebuild places them again one by one)."""
        bands = list(enumerate(fp.bands))
        placeholders = " OR ".join("(band = ? AND hash = ?)" for _ in bands)
        params = [v for pair in bands for v in pair]
        return self.db.execute(
            f"""
            SELECT a.id, a.lang, a.text_hash, length(a.text) AS length, f.minhash, t.size, a.lang_shares
            FROM articles a JOIN fingerprints f ON f.article_id = a.id LEFT JOIN text_sizes t ON t.article_id = a.id
            WHERE a.id != ? AND (a.text_hash = ? OR a.id IN (SELECT article_id FROM lsh WHERE {placeholders}))
              {_PLACED if placed else ""}
            LIMIT ?
            """,
            [fp.article_id, fp.text_hash, *params, limit],
        ).fetchall()

    def anchor_frequencies(self, anchors: set[str], cap: int = 2000) -> dict[str, int]:
        """How many articles hold each anchor, counted up to `cap` (beyond it an anchor is no evidence
        anyway, and counting a very common one would read a long stretch of the index)."""
        found: dict[str, int] = {}
        for anchor in sorted(anchors):
            found[anchor] = self.db.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM anchors WHERE anchor = ? LIMIT ?)", (anchor, cap)
            ).fetchone()[0]
        return found

    def approximate_count(self) -> int:
        """Articles ever stored (the largest rowid): instant, unlike COUNT(*), and exact while nothing is deleted."""
        return self.db.execute("SELECT COALESCE(MAX(rowid), 0) FROM articles").fetchone()[0]

    def translation_candidates(self, fp, anchors: list[str], lang: str, since: str, until: str,
                               min_shared: int, limit: int = 30, placed: bool = False) -> list[str]:
        """Articles in other languages, in the date window, sharing at least `min_shared` of `anchors`."""
        if not anchors:
            return []
        rows = self.db.execute(
            f"""
            SELECT p.article_id, COUNT(*) AS shared FROM anchors p JOIN articles a ON a.id = p.article_id
            WHERE p.anchor IN ({', '.join('?' * len(anchors))}) AND p.article_id != ? AND a.lang != ?
              AND a.lang != 'und' AND COALESCE(a.published, a.fetched) BETWEEN ? AND ? {_PLACED if placed else ""}
            GROUP BY p.article_id HAVING COUNT(*) >= ? ORDER BY shared DESC, p.article_id LIMIT ?
            """,
            [*anchors, fp.article_id, lang, since, until, min_shared, limit],
        ).fetchall()
        return [r["article_id"] for r in rows]

    def translation_candidates_by_bands(self, fp, lang: str | None, since: str, until: str,
                                        limit: int = 30, placed: bool = False) -> list[str]:
        """Articles in other languages than `lang` (any language if None), in the date window, whose
        anchor set shares an LSH band with `fp`'s, most bands first: one index look-up per band,
        however common the anchors are."""
        bands = list(enumerate(fp.anchor_bands))
        if not bands:
            return []
        placeholders = " OR ".join("(l.band = ? AND l.hash = ?)" for _ in bands)
        rows = self.db.execute(
            f"""
            SELECT l.article_id, COUNT(*) AS shared FROM anchor_lsh l JOIN articles a ON a.id = l.article_id
            WHERE ({placeholders}) AND l.article_id != ? AND a.lang != 'und' AND a.lang != ?
              AND COALESCE(a.published, a.fetched) BETWEEN ? AND ? {_PLACED if placed else ""}
            GROUP BY l.article_id ORDER BY shared DESC, l.article_id LIMIT ?
            """,
            [*(v for pair in bands for v in pair), fp.article_id, lang or "", since, until, limit],
        ).fetchall()
        return [r["article_id"] for r in rows]

    def fingerprint_rows(self, ids: list[str]) -> list[sqlite3.Row]:
        if not ids:
            return []
        return self.db.execute(
            f"SELECT a.id, a.lang, a.text_hash, length(a.text) AS length, f.minhash, f.credit, t.size, a.lang_shares "
            f"FROM articles a JOIN fingerprints f ON f.article_id = a.id LEFT JOIN text_sizes t ON t.article_id = a.id "
            f"WHERE a.id IN ({', '.join('?' * len(ids))})",
            ids).fetchall()

    def anchors_of(self, ids: list[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {i: set() for i in ids}
        if ids:
            for row in self.db.execute(
                f"SELECT article_id, anchor FROM anchors WHERE article_id IN ({', '.join('?' * len(ids))})", ids
            ):
                found[row["article_id"]].add(row["anchor"])
        return found

    def entity_names(self, keys: list[str]) -> dict[str, str]:
        """The commonest spelling of each entity key."""
        if not keys:
            return {}
        rows = self.db.execute(
            f"SELECT key, text, COUNT(*) AS n FROM entities WHERE key IN ({', '.join('?' * len(keys))}) "
            "GROUP BY key, text ORDER BY n DESC", keys)
        names: dict[str, str] = {}
        for row in rows:
            names.setdefault(row["key"], row["text"])
        return names

    def articles_at_urls(self, urls: list[str]) -> list[str]:
        if not urls:
            return []
        marks = ", ".join("?" * len(urls))
        rows = self.db.execute(
            f"SELECT id FROM articles WHERE url IN ({marks}) OR canonical_url IN ({marks}) ORDER BY id", urls + urls)
        return [r["id"] for r in rows]

    def articles_linking_to(self, urls: list[str]) -> list[str]:
        """Articles whose hreflang alternates name one of `urls`."""
        if not urls:
            return []
        rows = self.db.execute(
            f"SELECT DISTINCT article_id FROM alternate_links WHERE url IN ({', '.join('?' * len(urls))}) "
            "ORDER BY article_id", urls)
        return [r["article_id"] for r in rows]

    def story_of(self, article_id: str) -> str | None:
        row = self.db.execute("SELECT story_id FROM story_members WHERE article_id = ?", (article_id,)).fetchone()
        return row["story_id"] if row else None

    def story_membership(self, article_id: str) -> dict | None:
        row = self.db.execute(
            "SELECT m.*, s.original_id FROM story_members m JOIN stories s ON s.id = m.story_id "
            "WHERE m.article_id = ?", (article_id,)).fetchone()
        return dict(row) if row else None

    def story_members(self, story_id: str) -> list[dict]:
        rows = self.db.execute(
            """
            SELECT m.*, a.lang, a.lang_shares, a.text_hash, a.published, a.fetched, a.first_seen,
                   length(a.text) AS length, a.title,
                   substr(a.text, 1, 200) AS opening, a.source, a.url, a.site_name, s.original_id, f.credit
            FROM story_members m JOIN articles a ON a.id = m.article_id JOIN stories s ON s.id = m.story_id
            LEFT JOIN fingerprints f ON f.article_id = m.article_id
            WHERE m.story_id = ? ORDER BY COALESCE(a.published, a.fetched), a.id
            """, (story_id,)).fetchall()
        return [dict(r) for r in rows]

    def write_story(self, story_id: str, original_id: str, members: list[dict], merged: list[str] = (), *,
                    replace: bool = True) -> None:
        """Set a story's original and write its members in one transaction: all of them (`replace`),
        or only those given, the others kept as they are. The stories in `merged`, whose members are
        now this story's, are deleted in it."""
        with self._transaction():
            for other in merged:
                self.db.execute("DELETE FROM stories WHERE id = ?", (other,))
            self.db.execute("INSERT OR REPLACE INTO stories (id, original_id) VALUES (?, ?)", (story_id, original_id))
            if replace:
                self.db.execute("DELETE FROM story_members WHERE story_id = ?", (story_id,))
            self.db.executemany(
                "INSERT OR REPLACE INTO story_members (article_id, story_id, relation, linked_to, score, evidence, explicit) "
                "VALUES (:article_id, :story_id, :relation, :linked_to, :score, :evidence, :explicit)",
                [{**m, "story_id": story_id} for m in members])

    def clear_stories(self) -> None:
        with self._transaction():
            self.db.execute("DELETE FROM stories")
            self.db.execute("DELETE FROM story_members")

    def articles_in_order(self, after: tuple[str, str] | None, batch: int) -> list[Article]:
        """Articles by (COALESCE(published, fetched), id), after the given position."""
        when, last = after or ("", "")
        rows = self.db.execute(
            "SELECT * FROM articles WHERE (COALESCE(published, fetched), id) > (?, ?) "
            "ORDER BY COALESCE(published, fetched), id LIMIT ?", (when, last, batch)).fetchall()
        return [_row_to_article(r) for r in rows]

    def get_state(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM dedupe_state WHERE name = ?", (name,)).fetchone()
        return row["value"] if row else None

    def set_state(self, name: str, value: str | None) -> None:
        if value is None:
            self.db.execute("DELETE FROM dedupe_state WHERE name = ?", (name,))
        else:
            self.db.execute("INSERT OR REPLACE INTO dedupe_state (name, value) VALUES (?, ?)", (name, value))

    def facets(self, ids: list[str], top: int = 10) -> dict[str, dict[str, int]]:
        """Counts by language, source, tag and entity over the given articles."""
        if not ids:
            return {"language": {}, "source": {}, "tag": {}, "entity": {}}
        marks = ", ".join("?" * len(ids))
        def counted(sql: str) -> dict[str, int]:
            return {r[0]: r[1] for r in self.db.execute(sql + f" ORDER BY 2 DESC, 1 LIMIT {top}", ids)}
        return {
            "language": counted(f"SELECT lang, COUNT(*) FROM articles WHERE id IN ({marks}) GROUP BY lang"),
            "source": counted(f"SELECT source, COUNT(*) FROM articles WHERE id IN ({marks}) GROUP BY source"),
            "tag": counted(f"SELECT tag, COUNT(*) FROM tags WHERE article_id IN ({marks}) GROUP BY tag"),
            "entity": counted(f"SELECT key, COUNT(DISTINCT article_id) FROM entities WHERE article_id IN ({marks}) GROUP BY key"),
        }

    # -- digests -----------------------------------------------------------
    def stories_first_seen_between(self, start: str, end: str) -> list[str]:
        """Stories whose first member reached the archive in (start, end], oldest first."""
        rows = self.db.execute(
            """
            SELECT m.story_id, MIN(a.first_seen) AS first FROM story_members m JOIN articles a ON a.id = m.article_id
            GROUP BY m.story_id HAVING first > ? AND first <= ? ORDER BY first, m.story_id
            """, (start, end)).fetchall()
        return [r["story_id"] for r in rows]

    def last_digest(self, name: str) -> dict | None:
        row = self.db.execute("SELECT * FROM digest_sends WHERE digest = ? ORDER BY sent_at DESC, id DESC LIMIT 1",
                              (name,)).fetchone()
        return dict(row) if row else None

    def claim_digest(self, name: str, seen: int | None, start: str, end: str, sent_at: str, message_id: str,
                     stories: int) -> int | None:
        """Record a send about to happen ('sending'), unless another send of `name` was recorded since
        the one the caller saw (`seen`, its id or None): then None, and the caller sends nothing.
        One transaction holding SQLite's write lock, so two senders cannot both claim."""
        with self._transaction():
            row = self.db.execute("SELECT id FROM digest_sends WHERE digest = ? ORDER BY sent_at DESC, id DESC "
                                  "LIMIT 1", (name,)).fetchone()
            if (row["id"] if row else None) != seen:
                return None
            cursor = self.db.execute(
                "INSERT INTO digest_sends (digest, window_start, window_end, sent_at, message_id, recipients, "
                "refused, stories, status) VALUES (?, ?, ?, ?, ?, '[]', '{}', ?, 'sending')",
                (name, start, end, sent_at, message_id, stories))
            return cursor.lastrowid

    def complete_digest(self, claim: int, accepted: list[str], refused: dict[str, str]) -> None:
        self.db.execute("UPDATE digest_sends SET status = 'sent', recipients = ?, refused = ? WHERE id = ?",
                        (json.dumps(accepted), json.dumps(refused, sort_keys=True), claim))

    def release_digest(self, claim: int) -> None:
        """The server took nothing: forget the claim, the next attempt covers the same stories."""
        self.db.execute("DELETE FROM digest_sends WHERE id = ? AND status = 'sending'", (claim,))

    def digest_rows(self) -> list[dict]:
        """The last send of each digest."""
        rows = self.db.execute(
            "SELECT * FROM digest_sends d WHERE id = (SELECT MAX(id) FROM digest_sends WHERE digest = d.digest) "
            "ORDER BY digest").fetchall()
        return [dict(r) for r in rows]

    # -- saved searches ------------------------------------------------------
    def save_search(self, name: str, query: str, options: dict, at: str) -> bool:
        """Store or replace a saved search; True if it replaced one."""
        existed = self.saved_search(name) is not None
        self.db.execute("INSERT OR REPLACE INTO saved_searches (name, query, options, created) VALUES (?, ?, ?, ?)",
                        (name, query, json.dumps(options, sort_keys=True), at))
        return existed

    def saved_search(self, name: str) -> dict | None:
        row = self.db.execute("SELECT * FROM saved_searches WHERE name = ?", (name,)).fetchone()
        return {**dict(row), "options": json.loads(row["options"])} if row else None

    def saved_searches(self) -> list[dict]:
        return [{**dict(r), "options": json.loads(r["options"])}
                for r in self.db.execute("SELECT * FROM saved_searches ORDER BY name")]

    def remove_search(self, name: str) -> bool:
        return self.db.execute("DELETE FROM saved_searches WHERE name = ?", (name,)).rowcount > 0

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
        for chunk, marks in _chunks(ids):  # a few queries for the whole batch, not two per article
            for r in self.db.execute(f"SELECT DISTINCT article_id, key FROM entities WHERE article_id IN ({marks})",
                                     chunk):
                keys[r["article_id"]].append(r["key"])
        tags = self.tags_of_many(ids)
        return [(_row_to_article(row), row["story_id"], keys[row["id"]], tags[row["id"]], str(row["mark"]))
                for row in rows]

    # -- politeness: what hosts' robots.txt asked for ------------------------
    # Kept as one value in the state table, not a table of its own: a few hosts at most, read by
    # `veille status` and at the start of a pass, written once at its end (no migration needed).
    def crawl_delays(self) -> dict[str, dict]:
        """host -> {"asks": seconds its robots.txt Crawl-delay asks, "read": when it was read}."""
        try:
            known = json.loads(self.get_state("crawl_delays") or "{}")
        except ValueError:
            return {}
        if not isinstance(known, dict):
            return {}
        return {host: value for host, value in known.items()
                if isinstance(value, dict) and isinstance(value.get("asks"), (int, float))}

    def record_crawl_delays(self, read: dict[str, float | None], at: str) -> None:
        """What robots.txt files just read ask for (None: no Crawl-delay, so it is forgotten)."""
        known = self.crawl_delays()
        for host, asks in read.items():
            if asks:
                known[host] = {"asks": asks, "read": at}
            else:
                known.pop(host, None)
        self.set_state("crawl_delays", json.dumps(known, sort_keys=True) if known else None)

    # -- runs ------------------------------------------------------------
    def start_run(self, command: str, at: str) -> int:
        cursor = self.db.execute("INSERT INTO runs (command, started) VALUES (?, ?)", (command, at))
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, at: str, counts: dict[str, int]) -> None:
        self.db.execute(
            "UPDATE runs SET finished = ?, new = ?, updated = ?, unchanged = ?, failed = ? WHERE id = ?",
            (at, counts.get("new", 0), counts.get("updated", 0), counts.get("unchanged", 0),
             counts.get("failed", 0), run_id),
        )

    def last_run(self) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()

    # -- helpers ---------------------------------------------------------
    def _transaction(self):
        return _Transaction(self.db)


def _open_read_only(path: Path, cause: OSError) -> sqlite3.Connection:
    """The database, for reading only. A WAL database in a folder this user cannot write has no
    -shm file to share: then SQLite reads it as immutable (nobody can change it from here either)."""
    for options in ("mode=ro", "mode=ro&immutable=1"):
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?{options}", uri=True, timeout=30, isolation_level=None)
            db.execute("PRAGMA user_version").fetchone()
            return db
        except sqlite3.Error:
            continue
    raise ArchiveError(f"archive: cannot open {path} ({cause.strerror}); check the path and its permissions") from None


def _refuse_a_lost_database(folder: Path) -> None:
    """An empty veille.db beside a search index that holds articles: the database was lost (a full
    disk, a bad copy), not a new archive. Opening it would start an empty archive under the index."""
    path = folder / DB_NAME
    try:
        if path.stat().st_size:
            return
    except OSError:
        return
    index = folder / "index"
    if any(index.glob("*.seg")) or any(index.glob("*.trm")):  # segments: the index holds articles
        raise ArchiveError(f"archive: {path} is empty (0 bytes), yet {index} holds a search index: the database was "
                           "lost or truncated; put back a copy of veille.db from a backup, or, to start a new "
                           "archive here, delete veille.db and the index folder")


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _chunks(ids: list[str], size: int = 900):
    """(ids, "?, ?, ...") pieces small enough for SQLite's limit on bound parameters."""
    for start in range(0, len(ids), size):
        chunk = ids[start:start + size]
        yield chunk, ", ".join("?" * len(chunk))


def _row_to_article(row: sqlite3.Row) -> Article:
    keys = row.keys()
    values = {k: row[k] for k in keys if k in Article.__dataclass_fields__}
    if "raw" in values:
        values["raw"] = decompress(values["raw"])
    if "alternates" in values:
        values["alternates"] = json.loads(values["alternates"] or "{}")
    if "lang_shares" in values:
        values["lang_shares"] = decode_shares(values["lang_shares"])
    values.setdefault("text", "")
    return Article(**values)
