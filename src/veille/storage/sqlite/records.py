"""The archive's small records: state values, facets, digests sent, saved searches."""

from __future__ import annotations

import json

from veille.storage.sqlite.base import Part
from veille.storage.sqlite.failures import converts_errors


@converts_errors
class Records(Part):
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
        with self.transaction():
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

