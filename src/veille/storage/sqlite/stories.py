"""The archive's stories: fingerprints, the candidate indexes (LSH bands, anchors, alternate
links) and the stories' members."""

from __future__ import annotations

import sqlite3


from veille.models import Article
from veille.storage.rows import FingerprintRow
from veille.storage.sqlite.base import Part, decode_shares, row_to_article
from veille.storage.sqlite.failures import converts_errors

_PLACED = "AND EXISTS (SELECT 1 FROM story_members sm WHERE sm.article_id = a.id)"  # already in a story
PER_BAND = 16  # copy candidates read from each LSH band (see copy_candidates)


@converts_errors
class Stories(Part):
    # -- fingerprints and stories ------------------------------------------
    def save_fingerprint(self, fp, alternates: list[str]) -> None:
        with self.transaction():
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

    def copy_candidates(self, fp, limit: int = 50, placed: bool = False) -> list[FingerprintRow]:
        """Articles sharing an LSH band with `fp`, most bands first, then by id (`placed`: only those
        in a story already, as a rebuild places them again one by one).

        Each band gives at most `PER_BAND` articles, the last fingerprinted: the members of a big
        story fill every band of its text, and reading them all made placing an article cost its
        story's size. A rebuild fingerprints each article again as it places it, so the articles
        placed again are the last fingerprinted of each band, whatever came before. The same text
        has the same bands (its shingles are the same), so duplicates come first: no look-up by
        text hash is needed."""
        bands = list(enumerate(fp.bands))
        if not bands:
            return []
        per_band = " UNION ALL ".join(
            "SELECT * FROM (SELECT article_id FROM lsh WHERE band = ? AND hash = ? AND article_id != ? "
            "ORDER BY rowid DESC LIMIT ?)" for _ in bands)
        params = [v for band, value in bands for v in (band, value, fp.article_id, PER_BAND)]
        # The candidates first, then their rows: length(a.text) reads the whole text.
        rows = self.db.execute(
            f"""
            WITH picked AS (
                SELECT h.article_id AS id, COUNT(*) AS shared FROM ({per_band}) h
                WHERE EXISTS (SELECT 1 FROM fingerprints f WHERE f.article_id = h.article_id)
                  {_PLACED.replace("a.id", "h.article_id") if placed else ""}
                GROUP BY h.article_id ORDER BY shared DESC, h.article_id LIMIT ?)
            SELECT a.id, a.lang, a.text_hash, length(a.text) AS length, f.minhash, t.size, a.lang_shares
            FROM picked p JOIN articles a ON a.id = p.id
            JOIN fingerprints f ON f.article_id = a.id LEFT JOIN text_sizes t ON t.article_id = a.id
            ORDER BY p.shared DESC, a.id
            """,
            [*params, limit],
        ).fetchall()
        return [_fingerprint(row) for row in rows]

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
        however common the anchors are. Each band gives at most `limit` articles, the last
        fingerprinted that qualify (the versions of a big story fill the bands of its anchors)."""
        bands = list(enumerate(fp.anchor_bands))
        if not bands:
            return []
        per_band = " UNION ALL ".join(
            f"""SELECT * FROM (SELECT l.article_id FROM anchor_lsh l JOIN articles a ON a.id = l.article_id
                WHERE l.band = ? AND l.hash = ? AND l.article_id != ? AND a.lang != 'und' AND a.lang != ?
                  AND COALESCE(a.published, a.fetched) BETWEEN ? AND ? {_PLACED if placed else ""}
                ORDER BY l.rowid DESC LIMIT ?)""" for _ in bands)
        params = [v for band, value in bands
                  for v in (band, value, fp.article_id, lang or "", since, until, limit)]
        rows = self.db.execute(
            f"SELECT article_id, COUNT(*) AS shared FROM ({per_band}) GROUP BY article_id "
            "ORDER BY shared DESC, article_id LIMIT ?", [*params, limit]).fetchall()
        return [r["article_id"] for r in rows]

    def fingerprint_rows(self, ids: list[str]) -> list[FingerprintRow]:
        if not ids:
            return []
        rows = self.db.execute(
            f"SELECT a.id, a.lang, a.text_hash, length(a.text) AS length, f.minhash, f.credit, t.size, a.lang_shares "
            f"FROM articles a JOIN fingerprints f ON f.article_id = a.id LEFT JOIN text_sizes t ON t.article_id = a.id "
            f"WHERE a.id IN ({', '.join('?' * len(ids))})",
            ids).fetchall()
        return [_fingerprint(row) for row in rows]

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

    def story_members_in_language(self, ids: list[str], lang: str) -> dict[str, list[tuple[str, tuple]]]:
        """For each of `ids` in a story: the members of its story in `lang`, as (article id, shares)."""
        if not ids:
            return {}
        rows = self.db.execute(
            f"""
            SELECT o.article_id AS asked, m.article_id, a.lang_shares FROM story_members o
            JOIN story_members m ON m.story_id = o.story_id JOIN articles a ON a.id = m.article_id
            WHERE o.article_id IN ({', '.join('?' * len(ids))}) AND a.lang = ?
            """, [*ids, lang]).fetchall()
        found: dict[str, list[tuple[str, tuple]]] = {}
        for r in rows:
            found.setdefault(r["asked"], []).append((r["article_id"], decode_shares(r["lang_shares"])))
        return found

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
        return [{**dict(r), "lang_shares": decode_shares(r["lang_shares"])} for r in rows]

    def story_exists(self, story_id: str) -> bool:
        """Has the story a member (one index look-up, whatever its size)?"""
        return self.db.execute("SELECT 1 FROM story_members WHERE story_id = ? LIMIT 1", (story_id,)).fetchone() is not None

    def write_story(self, story_id: str, original_id: str, members: list[dict], merged: list[str] = (), *,
                    replace: bool = True) -> None:
        """Set a story's original and write its members in one transaction: all of them (`replace`),
        or only those given, the others kept as they are. The stories in `merged`, whose members are
        now this story's, are deleted in it."""
        with self.transaction():
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
        with self.transaction():
            self.db.execute("DELETE FROM stories")
            self.db.execute("DELETE FROM story_members")

    def articles_in_order(self, after: tuple[str, str] | None, batch: int) -> list[Article]:
        """Articles by (COALESCE(published, fetched), id), after the given position."""
        when, last = after or ("", "")
        rows = self.db.execute(
            "SELECT * FROM articles WHERE (COALESCE(published, fetched), id) > (?, ?) "
            "ORDER BY COALESCE(published, fetched), id LIMIT ?", (when, last, batch)).fetchall()
        return [row_to_article(r) for r in rows]



def _fingerprint(row: sqlite3.Row) -> FingerprintRow:
    import numpy as np  # here, not at the top: `veille list` and `show` open the archive without it

    return FingerprintRow(row["id"], row["lang"], row["length"], row["text_hash"],
                          np.frombuffer(row["minhash"], dtype=np.uint32), row["size"] or 0.0,
                          decode_shares(row["lang_shares"]), row["credit"] if "credit" in row.keys() else None)
