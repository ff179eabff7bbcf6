"""The PostgreSQL archive's schema: numbered migrations, applied under an advisory lock.

The tables and columns have the names and meanings of the SQLite archive's (storage/sqlite/schema.py),
so that `veille archive copy` moves an archive table by table, with what PostgreSQL adds for many
writers and for growth:

- `articles` is partitioned by month (`fetched_month`, the month the article was first fetched: a
  revision never moves a row); `seen_url` is the narrow table that keeps an article id unique across
  the partitions, and tells in which partition an article is (`get_article` reads one partition).
- Change numbers for the search index come from a sequence, given by triggers that first take the
  archive's transaction lock (`pg_advisory_xact_lock`): numbers are then handed out in commit order,
  so an index that read change N never misses a change below N committed later.
- Timestamps stay ISO-8601 text, as in SQLite: they compare and sort the same way in both.
"""

from __future__ import annotations

# The key of the archive's transaction lock (pg_advisory_xact_lock): every unit of work that reads
# then writes (story placement, a digest claim) and every article change holds it until its commit.
TRANSACTION_LOCK = 0x7665696C  # "veil"
# The key of the archive-wide lock (session level): shared by fetches, exclusive for a rebuild.
ARCHIVE_LOCK = 0x7665696D

# Each entry upgrades the schema by one version. Never edit a released entry: add a new one.
MIGRATIONS: list[str] = [
    # 1: everything the SQLite archive holds at its version 10, for many writers and for growth
    f"""
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
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        health DOUBLE PRECISION NOT NULL DEFAULT 0,
        failing_since TEXT,
        paused_since TEXT,
        next_attempt TEXT,
        error_kind TEXT,
        not_modified_streak INTEGER NOT NULL DEFAULT 0,
        moved_to TEXT,
        moved_at TEXT
    );

    CREATE TABLE seen_url (
        article_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        fetched_month DATE NOT NULL
    );

    CREATE TABLE articles (
        id TEXT NOT NULL,
        fetched_month DATE NOT NULL,
        url TEXT NOT NULL,
        canonical_url TEXT,
        source TEXT NOT NULL,
        title TEXT,
        author TEXT,
        published TEXT,
        fetched TEXT NOT NULL,
        lang TEXT NOT NULL,
        lang_confidence DOUBLE PRECISION NOT NULL,
        lang_reason TEXT NOT NULL,
        site_name TEXT,
        description TEXT,
        html_lang TEXT,
        origin TEXT NOT NULL,
        note TEXT,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        raw BYTEA,
        raw_type TEXT,
        extractor TEXT NOT NULL,
        alternates TEXT NOT NULL DEFAULT '{{}}',
        revision INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        updated TEXT NOT NULL,
        tagger TEXT,
        tagged_at TEXT,
        lang_shares TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (id, fetched_month)
    ) PARTITION BY RANGE (fetched_month);
    CREATE INDEX articles_url ON articles(url);
    CREATE INDEX articles_canonical ON articles(canonical_url);
    CREATE INDEX articles_source ON articles(source, published);
    CREATE INDEX articles_lang ON articles(lang, tagger);
    CREATE INDEX articles_text_hash ON articles(text_hash);
    CREATE INDEX articles_when ON articles((COALESCE(published, fetched)), id);
    CREATE INDEX articles_first_seen ON articles(first_seen);
    CREATE INDEX articles_id ON articles(id);

    CREATE TABLE revisions (
        article_id TEXT NOT NULL REFERENCES seen_url(article_id) ON DELETE CASCADE,
        revision INTEGER NOT NULL,
        title TEXT,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        raw BYTEA,
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
    CREATE INDEX failures_last_at ON failures(last_at);

    CREATE TABLE entities (
        article_id TEXT NOT NULL REFERENCES seen_url(article_id) ON DELETE CASCADE,
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
        article_id TEXT NOT NULL REFERENCES seen_url(article_id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (article_id, tag)
    );
    CREATE INDEX tags_tag ON tags(tag);

    CREATE TABLE fingerprints (
        article_id TEXT PRIMARY KEY REFERENCES seen_url(article_id) ON DELETE CASCADE,
        minhash BYTEA NOT NULL,
        credit TEXT
    );
    CREATE TABLE lsh (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        band INTEGER NOT NULL, hash BIGINT NOT NULL, article_id TEXT NOT NULL
    );
    CREATE INDEX lsh_band ON lsh(band, hash, seq);
    CREATE INDEX lsh_article ON lsh(article_id);
    CREATE TABLE anchor_lsh (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        band INTEGER NOT NULL, hash BIGINT NOT NULL, article_id TEXT NOT NULL
    );
    CREATE INDEX anchor_lsh_band ON anchor_lsh(band, hash, seq);
    CREATE INDEX anchor_lsh_article ON anchor_lsh(article_id);
    CREATE TABLE anchors (
        anchor TEXT NOT NULL,
        article_id TEXT NOT NULL,
        PRIMARY KEY (anchor, article_id)
    );
    CREATE INDEX anchors_article ON anchors(article_id);
    CREATE TABLE alternate_links (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        url TEXT NOT NULL, article_id TEXT NOT NULL
    );
    CREATE INDEX alternate_links_url ON alternate_links(url);
    CREATE INDEX alternate_links_article ON alternate_links(article_id);
    CREATE TABLE text_sizes (article_id TEXT PRIMARY KEY, size DOUBLE PRECISION NOT NULL);
    CREATE TABLE stories (id TEXT PRIMARY KEY, original_id TEXT NOT NULL);
    CREATE TABLE story_members (
        article_id TEXT PRIMARY KEY,
        story_id TEXT NOT NULL,
        relation TEXT NOT NULL,
        linked_to TEXT,
        score DOUBLE PRECISION,
        evidence TEXT,
        explicit INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX story_members_story ON story_members(story_id);
    CREATE TABLE dedupe_state (name TEXT PRIMARY KEY, value TEXT);

    CREATE TABLE saved_searches (
        name TEXT PRIMARY KEY,
        query TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{{}}',
        created TEXT NOT NULL
    );
    CREATE TABLE digest_sends (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        digest TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        message_id TEXT NOT NULL,
        recipients TEXT NOT NULL,
        refused TEXT NOT NULL DEFAULT '{{}}',
        stories INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'sent'
    );
    CREATE INDEX digest_sends_digest ON digest_sends(digest, sent_at);

    -- change numbers for the search index, in commit order (see the module's note)
    CREATE SEQUENCE article_change_seq;
    CREATE TABLE article_changes (article_id TEXT PRIMARY KEY, seq BIGINT NOT NULL);
    CREATE UNIQUE INDEX article_changes_seq ON article_changes(seq);
    CREATE FUNCTION veille_article_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    -- TG_ARGV[0]: the table the trigger is on ('articles' or 'story_members'); not TG_TABLE_NAME,
    -- which names the partition (articles_2026_12) for a row of `articles`
    DECLARE changed TEXT;
    BEGIN
        PERFORM pg_advisory_xact_lock({TRANSACTION_LOCK});
        IF TG_ARGV[0] = 'articles' THEN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM article_changes WHERE article_id = OLD.id;
                RETURN OLD;
            END IF;
            changed := NEW.id;
        ELSIF TG_OP = 'DELETE' THEN
            changed := OLD.article_id;
        ELSE
            changed := NEW.article_id;
        END IF;
        INSERT INTO article_changes (article_id, seq) VALUES (changed, nextval('article_change_seq'))
            ON CONFLICT (article_id) DO UPDATE SET seq = EXCLUDED.seq;
        RETURN NULL;
    END $$;
    CREATE TRIGGER articles_changed AFTER INSERT OR DELETE OR UPDATE OF updated, tagged_at, text, title, lang, source
        ON articles FOR EACH ROW EXECUTE FUNCTION veille_article_changed('articles');
    CREATE TRIGGER story_members_changed AFTER INSERT OR DELETE OR UPDATE OF story_id
        ON story_members FOR EACH ROW EXECUTE FUNCTION veille_article_changed('story_members');
    """,
]

ARTICLE_COLUMNS = (
    "id", "url", "canonical_url", "source", "title", "author", "published", "fetched",
    "lang", "lang_confidence", "lang_reason", "site_name", "description", "html_lang",
    "origin", "note", "text", "text_hash", "raw", "raw_type", "extractor", "alternates",
    "revision", "first_seen", "updated", "tagger", "tagged_at", "lang_shares",
)
LIST_COLUMNS = tuple(c for c in ARTICLE_COLUMNS if c not in ("text", "raw"))

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS veille_schema (version INTEGER NOT NULL)"


def partition_ddl(month: str) -> str:
    """The partition of `articles` for one month ('2026-12'), made when its first article comes."""
    year, number = int(month[:4]), int(month[5:7])
    following = f"{year + number // 12:04d}-{number % 12 + 1:02d}"
    return (f"CREATE TABLE IF NOT EXISTS articles_{year:04d}_{number:02d} PARTITION OF articles "
            f"FOR VALUES FROM ('{month}-01') TO ('{following}-01')")
