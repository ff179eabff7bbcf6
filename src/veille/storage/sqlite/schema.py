"""The archive's schema, and opening an archive: the numbered migrations, the folder and its
`veille.db`, a read-only archive, a lost database.

SQLite in WAL mode (readers never block the writer), schema versioned with `PRAGMA user_version`
and applied by numbered migrations, so an archive written by any earlier veille opens and upgrades.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from veille.errors import ArchiveError

DB_NAME = "veille.db"
INDEX_NAME = "index"  # the search index's folder, beside the database


# Each entry upgrades the schema by one version. Never edit a released entry:
# add a new one.
# The `runs` table of version 1 is no longer written (nothing ever read it); it stays, empty or
# with old rows, so that archives keep one format whichever veille wrote them.
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


def open_database(folder: Path) -> tuple[sqlite3.Connection, bool]:
    """The archive's database, migrated to this veille's schema, and whether it is read-only."""
    db, readonly = _connect(folder)
    db.row_factory = sqlite3.Row
    _prepare(db, folder, readonly)
    return db, readonly


def _connect(folder: Path) -> tuple[sqlite3.Connection, bool]:
    path = folder / DB_NAME
    _refuse_a_lost_database(folder)
    try:
        # Collected pages and members' addresses: private to the owner by default (700/600).
        # An existing folder keeps the permissions its owner gave it. SQLite gives its -wal
        # and -shm files the database file's permissions.
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        return sqlite3.connect(path, timeout=30, isolation_level=None), False
    except OSError as exc:
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            file = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
            raise ArchiveError(f"archive: {file} is a file, not a folder; pass another --archive") from None
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or not path.is_file():
            raise ArchiveError(f"archive: cannot open {path} ({exc}); check the path and its permissions") from None
        # An archive this user may read but not write (or on a read-only disk): readers read it;
        # a write fails with SQLite's "readonly database", which the command line explains.
        return _open_read_only(path, exc), True
    except sqlite3.Error as exc:
        raise ArchiveError(f"archive: cannot open {path} ({exc}); check the path and its permissions") from None


def _prepare(db: sqlite3.Connection, folder: Path, readonly: bool) -> None:
    """WAL, foreign keys, the schema brought up to date (or, read-only, checked)."""
    path = folder / DB_NAME
    try:
        if not readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        if readonly and schema_version(db) < len(MIGRATIONS):
            raise ArchiveError(f"archive: {folder} is read-only and was made by an older veille; make it "
                               "writable once, so that this veille can bring it up to date")
        if not readonly:
            migrate(db, folder)
        else:
            db.execute("SELECT 1 FROM articles LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        db.close()
        problem = str(exc).lower()
        if "malformed" in problem or "not a database" in problem or "corrupt" in problem:
            what = "is damaged" if "not a database" not in problem else "is not a veille archive, or a damaged one"
            raise ArchiveError(
                f"archive: {path} {what} ({exc}); to save what can be read, copy the archive folder first, "
                f"then `sqlite3 {path} .recover | sqlite3 recovered.db` and use the new file as veille.db; "
                "or pass another --archive") from None
        raise ArchiveError(f"archive: {path} is not a veille archive ({exc}); pass another --archive") from None
    except BaseException:
        db.close()
        raise


def schema_version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite3.Connection, folder: Path) -> None:
    version = schema_version(db)
    if version > len(MIGRATIONS):
        raise ArchiveError(
            f"archive: {folder} has schema version {version}, newer than this veille "
            f"knows ({len(MIGRATIONS)}); upgrade veille"
        )
    for number in range(version + 1, len(MIGRATIONS) + 1):
        # executescript commits first; the version bump is inside the script's transaction.
        db.executescript(
            f"BEGIN; {MIGRATIONS[number - 1]}; PRAGMA user_version = {number}; COMMIT;"
        )

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
    index = folder / INDEX_NAME
    if any(index.glob("*.seg")) or any(index.glob("*.trm")):  # segments: the index holds articles
        raise ArchiveError(f"archive: {path} is empty (0 bytes), yet {index} holds a search index: the database was "
                           "lost or truncated; put back a copy of veille.db from a backup, or, to start a new "
                           "archive here, delete veille.db and the index folder")

