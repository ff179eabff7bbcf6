"""The PostgreSQL archive's small records: state values, facets, digests sent, saved searches
(what each does: storage/sqlite/records.py)."""

from __future__ import annotations

import json

from veille.storage.postgres.base import Part, converts_errors


@converts_errors
class Records(Part):
    def get_state(self, name: str) -> str | None:
        return self._value("SELECT value FROM dedupe_state WHERE name = %s", (name,))

    def set_state(self, name: str, value: str | None) -> None:
        if value is None:
            self._write("DELETE FROM dedupe_state WHERE name = %s", (name,))
        else:
            self._write("INSERT INTO dedupe_state (name, value) VALUES (%s, %s) "
                      "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))

    def facets(self, ids: list[str], top: int = 10) -> dict[str, dict[str, int]]:
        """Counts by language, source, tag and entity over the given articles."""
        if not ids:
            return {"language": {}, "source": {}, "tag": {}, "entity": {}}
        ids = list(ids)

        def counted(column: str, table: str, count: str = "COUNT(*)") -> dict[str, int]:
            id_column = "id" if table == "articles" else "article_id"
            rows = self._rows(f"SELECT {column} AS name, {count} AS n FROM {table} WHERE {id_column} = ANY(%s) "
                              f'GROUP BY {column} ORDER BY n DESC, {column} COLLATE "C" LIMIT %s', (ids, top))
            return {r["name"]: r["n"] for r in rows}
        return {
            "language": counted("lang", "articles"),
            "source": counted("source", "articles"),
            "tag": counted("tag", "tags"),
            "entity": counted("key", "entities", "COUNT(DISTINCT article_id)"),
        }

    # -- digests -----------------------------------------------------------
    def stories_first_seen_between(self, start: str, end: str) -> list[str]:
        """Stories whose first member reached the archive in (start, end], oldest first: the stories
        with a member first seen in the window (an index range on first_seen), then those of them
        with none seen before it, rather than the first member of every story in the archive."""
        rows = self._rows(
            """
            WITH touched AS (
                SELECT DISTINCT m.story_id FROM articles a JOIN story_members m ON m.article_id = a.id
                WHERE a.first_seen > %(start)s AND a.first_seen <= %(end)s)
            SELECT m.story_id, MIN(a.first_seen) AS first_at
            FROM touched t JOIN story_members m ON m.story_id = t.story_id JOIN articles a ON a.id = m.article_id
            GROUP BY m.story_id HAVING MIN(a.first_seen) > %(start)s AND MIN(a.first_seen) <= %(end)s
            ORDER BY first_at, m.story_id COLLATE "C"
            """, {"start": start, "end": end})
        return [r["story_id"] for r in rows]

    def last_digest(self, name: str) -> dict | None:
        row = self._one("SELECT * FROM digest_sends WHERE digest = %s ORDER BY sent_at DESC, id DESC LIMIT 1",
                        (name,))
        return dict(row) if row else None

    def claim_digest(self, name: str, seen: int | None, start: str, end: str, sent_at: str, message_id: str,
                     stories: int) -> int | None:
        """Record a send about to happen ('sending'), unless another send of `name` was recorded since
        the one the caller saw (`seen`, its id or None): then None, and the caller sends nothing.
        One transaction under the archive's transaction lock, so two senders cannot both claim."""
        with self.transaction():
            found = self._value("SELECT id FROM digest_sends WHERE digest = %s ORDER BY sent_at DESC, id DESC "
                                "LIMIT 1", (name,))
            if found != seen:
                return None
            return self._value(
                "INSERT INTO digest_sends (digest, window_start, window_end, sent_at, message_id, recipients, "
                "refused, stories, status) VALUES (%s, %s, %s, %s, %s, '[]', '{}', %s, 'sending') RETURNING id",
                (name, start, end, sent_at, message_id, stories))

    def complete_digest(self, claim: int, accepted: list[str], refused: dict[str, str]) -> None:
        self._write("UPDATE digest_sends SET status = 'sent', recipients = %s, refused = %s WHERE id = %s",
                  (json.dumps(accepted), json.dumps(refused, sort_keys=True), claim))

    def release_digest(self, claim: int) -> None:
        """The server took nothing: forget the claim, the next attempt covers the same stories."""
        self._write("DELETE FROM digest_sends WHERE id = %s AND status = 'sending'", (claim,))

    def digest_rows(self) -> list[dict]:
        """The last send of each digest."""
        rows = self._rows(
            "SELECT * FROM digest_sends d WHERE id = (SELECT MAX(id) FROM digest_sends WHERE digest = d.digest) "
            'ORDER BY digest COLLATE "C"')
        return [dict(r) for r in rows]

    # -- saved searches ------------------------------------------------------
    def save_search(self, name: str, query: str, options: dict, at: str) -> bool:
        """Store or replace a saved search; True if it replaced one."""
        existed = self._value(
            "WITH old AS (SELECT name FROM saved_searches WHERE name = %(name)s) "
            "INSERT INTO saved_searches (name, query, options, created) VALUES (%(name)s, %(query)s, %(options)s, %(at)s) "
            "ON CONFLICT (name) DO UPDATE SET query = excluded.query, options = excluded.options, "
            "created = excluded.created RETURNING EXISTS (SELECT 1 FROM old) AS existed",
            {"name": name, "query": query, "options": json.dumps(options, sort_keys=True), "at": at})
        return bool(existed)

    def saved_search(self, name: str) -> dict | None:
        row = self._one("SELECT * FROM saved_searches WHERE name = %s", (name,))
        return {**row, "options": json.loads(row["options"])} if row else None

    def saved_searches(self) -> list[dict]:
        return [{**r, "options": json.loads(r["options"])}
                for r in self._rows('SELECT * FROM saved_searches ORDER BY name COLLATE "C"')]

    def remove_search(self, name: str) -> bool:
        return self._run("DELETE FROM saved_searches WHERE name = %s", (name,)) > 0
