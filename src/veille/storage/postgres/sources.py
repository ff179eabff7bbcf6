"""The PostgreSQL archive's sources: feed state and health, feed entries seen, failures, and what
hosts' robots.txt asked for. The same statements as the SQLite archive's (storage/sqlite/sources.py):
each an `INSERT … ON CONFLICT` of one row, safe with many writers at once."""

from __future__ import annotations

import json

from veille.models import Health
from veille.storage.postgres.base import Part, converts_errors
from veille.storage.rows import FailureRow, SourceRow, SourceState


@converts_errors
class Sources(Part):
    # -- sources ---------------------------------------------------------
    def source_state(self, name: str) -> SourceState:
        row = self._one("SELECT * FROM sources WHERE name = %s", (name,))
        if row is None:
            return SourceState(name=name)
        return SourceState.of(row)

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
        self._write(
            """
            INSERT INTO sources (name, url, kind, etag, last_modified, last_fetch, last_success,
                                 last_status, last_error, last_error_at, consecutive_failures,
                                 health, not_modified_streak, moved_to, moved_at)
            VALUES (%(name)s, %(url)s, %(kind)s, %(etag)s, %(last_modified)s, %(at)s, %(at)s, %(status)s, NULL, NULL,
                    0, %(health)s, %(streak)s, %(moved_to)s,
                    CASE WHEN %(moved_to)s::text IS NULL THEN NULL ELSE %(at)s END)
            ON CONFLICT (name) DO UPDATE SET
                url = excluded.url, kind = excluded.kind,
                etag = CASE WHEN %(keep)s THEN COALESCE(excluded.etag, sources.etag) ELSE NULL END,
                last_modified = CASE WHEN %(keep)s THEN COALESCE(excluded.last_modified, sources.last_modified)
                                     ELSE NULL END,
                last_fetch = excluded.last_fetch, last_success = excluded.last_success,
                last_status = excluded.last_status, last_error = NULL,
                consecutive_failures = 0, health = excluded.health, failing_since = NULL,
                paused_since = NULL, next_attempt = NULL, error_kind = NULL,
                not_modified_streak = excluded.not_modified_streak,
                moved_to = excluded.moved_to,
                moved_at = CASE WHEN excluded.moved_to IS NULL THEN NULL
                                ELSE COALESCE(sources.moved_at, excluded.moved_at) END
            """,
            {"name": name, "url": url, "kind": kind, "etag": etag, "last_modified": last_modified, "at": at,
             "status": status, "health": health.score, "streak": health.not_modified_streak,
             "moved_to": moved_to, "keep": keep_validators},
        )

    def record_source_failure(self, name: str, url: str, kind: str, *, at: str, reason: str,
                              health: Health | None = None) -> None:
        health = health or Health(consecutive_failures=1)
        self._write(
            """
            INSERT INTO sources (name, url, kind, last_fetch, last_status, last_error,
                                 last_error_at, consecutive_failures, health, failing_since, paused_since,
                                 next_attempt, error_kind, not_modified_streak)
            VALUES (%s, %s, %s, %s, 'failed', %s, %s, %s, %s, %s, %s, %s, %s, 0)
            ON CONFLICT (name) DO UPDATE SET
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
        return self._run(
            "UPDATE sources SET paused_since = NULL, health = 0, next_attempt = NULL, consecutive_failures = 0 "
            "WHERE name = %s", (name,)) > 0

    def forget_move(self, name: str) -> bool:
        """Drop what a source's feed said about moving (once feeds.yaml has the new address)."""
        return self._run("UPDATE sources SET moved_to = NULL, moved_at = NULL WHERE name = %s", (name,)) > 0

    def source_rows(self) -> list[SourceRow]:
        return [SourceRow.of(row) for row in self._rows('SELECT * FROM sources ORDER BY name COLLATE "C"')]

    # -- feed entries ----------------------------------------------------
    def entry_seen(self, source: str, key: str) -> bool:
        return self._one("SELECT 1 AS found FROM entries WHERE source = %s AND key = %s AND article_id IS NOT NULL",
                         (source, key)) is not None

    def mark_entry(self, source: str, key: str, url: str | None, article_id: str, at: str) -> None:
        self._write(
            """
            INSERT INTO entries (source, key, url, article_id, first_seen) VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (source, key) DO UPDATE SET article_id = excluded.article_id, url = excluded.url
            """,
            (source, key, url, article_id, at),
        )

    # -- failures --------------------------------------------------------
    def record_failure(self, source: str, url: str, stage: str, reason: str, at: str) -> None:
        self._write(
            """
            INSERT INTO failures (source, url, stage, reason, first_at, last_at) VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (source, url, stage) DO UPDATE SET
                reason = excluded.reason, last_at = excluded.last_at, count = failures.count + 1
            """,
            (source, url, stage, reason, at, at),
        )

    def failure_count(self, source: str, url: str, stage: str) -> int:
        return self._value("SELECT count FROM failures WHERE source = %s AND url = %s AND stage = %s",
                           (source, url, stage)) or 0

    def clear_failures(self, source: str, url: str) -> None:
        self._write("DELETE FROM failures WHERE source = %s AND url = %s", (source, url))

    def failures(self, source: str | None = None, limit: int = 50) -> list[FailureRow]:
        if source:
            rows = self._rows("SELECT * FROM failures WHERE source = %s ORDER BY last_at DESC LIMIT %s",
                              (source, limit))
        else:
            rows = self._rows("SELECT * FROM failures ORDER BY last_at DESC LIMIT %s", (limit,))
        return [FailureRow.of(row) for row in rows]

    def count_failures_by_source(self) -> dict[str, int]:
        return {row["source"]: row["n"] for row in self._rows("SELECT source, COUNT(*) AS n FROM failures GROUP BY source")}

    # -- politeness: what hosts' robots.txt asked for ------------------------
    # One value in the state table (dedupe_state), as in the SQLite archive.
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
        """What robots.txt files just read ask for (None: no Crawl-delay, so it is forgotten). Read and
        written in one transaction: two passes ending at once each keep the other's hosts."""
        with self.transaction():
            known = self.crawl_delays()
            for host, asks in read.items():
                if asks:
                    known[host] = {"asks": asks, "read": at}
                else:
                    known.pop(host, None)
            self.set_state("crawl_delays", json.dumps(known, sort_keys=True) if known else None)
