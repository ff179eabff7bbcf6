"""The PostgreSQL archive's stories: fingerprints, the candidate indexes (LSH bands, anchors,
alternate links) and the stories' members. Each method does what its namesake in
storage/sqlite/stories.py does, in the same order, with the same rows.

What differs from SQLite:
- `lsh.seq` and `anchor_lsh.seq` (identity columns) stand for SQLite's rowid: the order in which
  band entries were written, newest last.
- A band's candidates are read by a LATERAL look-up per band (`unnest` of the bands), each with
  its own LIMIT: the same bound as SQLite's UNION ALL of one limited query per band.
- An article is reached by its id through `seen_url`, which names its month: one partition of
  `articles` is read, not each month's index.
- Band hashes are 63-bit (stages/dedupe.band_hashes masks them for SQLite's signed integers), so
  they fit BIGINT as they are.

Story placement reads candidates and writes the story inside one `transaction()`: the archive's
transaction lock serialises two writers' placements, and `story_members`' primary key keeps an
article in one story whatever happens.
"""

from __future__ import annotations

from veille.models import Article
from veille.storage.postgres.base import Part, converts_errors, row_to_article
from veille.storage.rows import FingerprintRow
from veille.storage.sqlite.base import decode_shares  # the stored form is the same (JSON text)

PER_BAND = 16  # copy candidates read from each LSH band (see copy_candidates; the same as SQLite's)


def _article(id_column: str, alias: str = "a") -> str:
    """A join from `id_column` to its article, through seen_url to its month's partition."""
    return (f"JOIN seen_url {alias}_s ON {alias}_s.article_id = {id_column} "
            f"JOIN articles {alias} ON {alias}.id = {alias}_s.article_id AND {alias}.fetched_month = {alias}_s.fetched_month")


def _placed(id_column: str) -> str:
    """Only articles already in a story."""
    return f"AND EXISTS (SELECT 1 FROM story_members sm WHERE sm.article_id = {id_column})"


@converts_errors
class Stories(Part):
    # -- fingerprints and stories ------------------------------------------
    def save_fingerprint(self, fp, alternates: list[str]) -> None:
        article_id = fp.article_id
        # Its statements sent together (psycopg's pipeline mode): one round trip, not ten.
        with self.transaction(), self._connection() as conn, conn.pipeline():
            for table in ("lsh", "anchors", "alternate_links", "anchor_lsh"):
                self._write(f"DELETE FROM {table} WHERE article_id = %s", (article_id,))
            self._write("INSERT INTO fingerprints (article_id, minhash, credit) VALUES (%s, %s, %s) "
                      "ON CONFLICT (article_id) DO UPDATE SET minhash = EXCLUDED.minhash, credit = EXCLUDED.credit",
                      (article_id, fp.minhash.tobytes(), fp.credit))
            self._write("INSERT INTO text_sizes (article_id, size) VALUES (%s, %s) "
                      "ON CONFLICT (article_id) DO UPDATE SET size = EXCLUDED.size", (article_id, float(fp.size)))
            # One statement per table, the rows as arrays (in their order: seq follows the bands').
            for table, hashes in (("lsh", fp.bands), ("anchor_lsh", fp.anchor_bands)):
                hashes = [int(h) for h in hashes]
                if hashes:
                    self._write(f"INSERT INTO {table} (band, hash, article_id) "
                              "SELECT b.n - 1, b.hash, %s FROM unnest(%s::bigint[]) WITH ORDINALITY AS b(hash, n) "
                              "ORDER BY b.n", (article_id, hashes))
            if fp.anchors:
                self._write("INSERT INTO anchors (anchor, article_id) SELECT DISTINCT u, %s FROM unnest(%s::text[]) u "
                          "ON CONFLICT DO NOTHING", (article_id, list(fp.anchors)))
            if alternates:
                self._write("INSERT INTO alternate_links (url, article_id) SELECT u, %s FROM unnest(%s::text[]) u",
                          (article_id, list(alternates)))

    def copy_candidates(self, fp, limit: int = 50, placed: bool = False) -> list[FingerprintRow]:
        """Articles sharing an LSH band with `fp`, most bands first, then by id (`placed`: only those
        in a story already, as a rebuild places them again one by one).

        Each band gives at most `PER_BAND` articles, the last fingerprinted (highest seq): the
        members of a big story fill every band of its text, and reading them all made placing an
        article cost its story's size (see storage/sqlite/stories.py)."""
        hashes = [int(h) for h in fp.bands]
        if not hashes:
            return []
        rows = self._rows(
            f"""
            WITH picked AS (
                SELECT h.article_id AS id, COUNT(*) AS shared
                FROM unnest(%(hashes)s::bigint[]) WITH ORDINALITY AS b(hash, n)
                CROSS JOIN LATERAL (
                    SELECT l.article_id FROM lsh l
                    WHERE l.band = b.n - 1 AND l.hash = b.hash AND l.article_id != %(id)s
                    ORDER BY l.seq DESC LIMIT %(per_band)s) h
                WHERE EXISTS (SELECT 1 FROM fingerprints f WHERE f.article_id = h.article_id)
                  {_placed("h.article_id") if placed else ""}
                GROUP BY h.article_id ORDER BY shared DESC, h.article_id LIMIT %(limit)s)
            SELECT a.id, a.lang, a.text_hash, length(a.text) AS length, f.minhash, t.size, a.lang_shares
            FROM picked p {_article("p.id")}
            JOIN fingerprints f ON f.article_id = a.id LEFT JOIN text_sizes t ON t.article_id = a.id
            ORDER BY p.shared DESC, a.id
            """,
            {"hashes": hashes, "id": fp.article_id, "per_band": PER_BAND, "limit": limit})
        return [_fingerprint(row) for row in rows]

    def anchor_frequencies(self, anchors: set[str], cap: int = 2000) -> dict[str, int]:
        """How many articles hold each anchor, counted up to `cap` (beyond it an anchor is no evidence
        anyway, and counting a very common one would read a long stretch of the index)."""
        if not anchors:
            return {}
        ordered = sorted(anchors)
        rows = self._rows(
            "SELECT u.anchor, (SELECT COUNT(*) FROM (SELECT 1 FROM anchors p WHERE p.anchor = u.anchor LIMIT %s) x) AS n "
            "FROM unnest(%s::text[]) AS u(anchor)", (cap, ordered))
        counted = {r["anchor"]: r["n"] for r in rows}
        return {anchor: counted.get(anchor, 0) for anchor in ordered}

    def translation_candidates(self, fp, anchors: list[str], lang: str, since: str, until: str,
                               min_shared: int, limit: int = 30, placed: bool = False) -> list[str]:
        """Articles in other languages, in the date window, sharing at least `min_shared` of `anchors`."""
        if not anchors:
            return []
        rows = self._rows(
            f"""
            SELECT p.article_id, COUNT(*) AS shared FROM anchors p {_article("p.article_id")}
            WHERE p.anchor = ANY(%s) AND p.article_id != %s AND a.lang != %s
              AND a.lang != 'und' AND COALESCE(a.published, a.fetched) BETWEEN %s AND %s
              {_placed("a.id") if placed else ""}
            GROUP BY p.article_id HAVING COUNT(*) >= %s ORDER BY shared DESC, p.article_id LIMIT %s
            """,
            (list(anchors), fp.article_id, lang, since, until, min_shared, limit))
        return [r["article_id"] for r in rows]

    def translation_candidates_by_bands(self, fp, lang: str | None, since: str, until: str,
                                        limit: int = 30, placed: bool = False) -> list[str]:
        """Articles in other languages than `lang` (any language if None), in the date window, whose
        anchor set shares an LSH band with `fp`'s, most bands first: one index look-up per band,
        however common the anchors are. Each band gives at most `limit` articles, the last
        fingerprinted that qualify (the versions of a big story fill the bands of its anchors)."""
        hashes = [int(h) for h in fp.anchor_bands]
        if not hashes:
            return []
        rows = self._rows(
            f"""
            SELECT h.article_id, COUNT(*) AS shared
            FROM unnest(%(hashes)s::bigint[]) WITH ORDINALITY AS b(hash, n)
            CROSS JOIN LATERAL (
                SELECT l.article_id FROM anchor_lsh l {_article("l.article_id")}
                WHERE l.band = b.n - 1 AND l.hash = b.hash AND l.article_id != %(id)s
                  AND a.lang != 'und' AND a.lang != %(lang)s
                  AND COALESCE(a.published, a.fetched) BETWEEN %(since)s AND %(until)s
                  {_placed("a.id") if placed else ""}
                ORDER BY l.seq DESC LIMIT %(limit)s) h
            GROUP BY h.article_id ORDER BY shared DESC, h.article_id LIMIT %(limit)s
            """,
            {"hashes": hashes, "id": fp.article_id, "lang": lang or "", "since": since, "until": until,
             "limit": limit})
        return [r["article_id"] for r in rows]

    def fingerprint_rows(self, ids: list[str]) -> list[FingerprintRow]:
        if not ids:
            return []
        rows = self._rows(
            "SELECT a.id, a.lang, a.text_hash, length(a.text) AS length, f.minhash, f.credit, t.size, a.lang_shares "
            "FROM seen_url s JOIN articles a ON a.id = s.article_id AND a.fetched_month = s.fetched_month "
            "JOIN fingerprints f ON f.article_id = a.id LEFT JOIN text_sizes t ON t.article_id = a.id "
            "WHERE s.article_id = ANY(%s) ORDER BY a.id", (list(ids),))
        return [_fingerprint(row) for row in rows]

    def anchors_of(self, ids: list[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {i: set() for i in ids}
        if ids:
            for row in self._rows("SELECT article_id, anchor FROM anchors WHERE article_id = ANY(%s)", (list(ids),)):
                found[row["article_id"]].add(row["anchor"])
        return found

    def entity_names(self, keys: list[str]) -> dict[str, str]:
        """The commonest spelling of each entity key (of equally common ones, the first in order)."""
        if not keys:
            return {}
        rows = self._rows("SELECT key, text, COUNT(*) AS n FROM entities WHERE key = ANY(%s) "
                          "GROUP BY key, text ORDER BY n DESC, key, text", (list(keys),))
        names: dict[str, str] = {}
        for row in rows:
            names.setdefault(row["key"], row["text"])
        return names

    def articles_at_urls(self, urls: list[str]) -> list[str]:
        if not urls:
            return []
        rows = self._rows("SELECT id FROM articles WHERE url = ANY(%s) OR canonical_url = ANY(%s) ORDER BY id",
                          (list(urls), list(urls)))
        return [r["id"] for r in rows]

    def articles_linking_to(self, urls: list[str]) -> list[str]:
        """Articles whose hreflang alternates name one of `urls`."""
        if not urls:
            return []
        rows = self._rows("SELECT DISTINCT article_id FROM alternate_links WHERE url = ANY(%s) ORDER BY article_id",
                          (list(urls),))
        return [r["article_id"] for r in rows]

    def story_of(self, article_id: str) -> str | None:
        return self._value("SELECT story_id FROM story_members WHERE article_id = %s", (article_id,))

    def story_membership(self, article_id: str) -> dict | None:
        row = self._one("SELECT m.*, s.original_id FROM story_members m JOIN stories s ON s.id = m.story_id "
                        "WHERE m.article_id = %s", (article_id,))
        return dict(row) if row else None

    def story_members_in_language(self, ids: list[str], lang: str) -> dict[str, list[tuple[str, tuple]]]:
        """For each of `ids` in a story: the members of its story in `lang`, as (article id, shares)."""
        if not ids:
            return {}
        rows = self._rows(
            f"""
            SELECT o.article_id AS asked, m.article_id, a.lang_shares FROM story_members o
            JOIN story_members m ON m.story_id = o.story_id {_article("m.article_id")}
            WHERE o.article_id = ANY(%s) AND a.lang = %s ORDER BY o.article_id, m.article_id
            """, (list(ids), lang))
        found: dict[str, list[tuple[str, tuple]]] = {}
        for r in rows:
            found.setdefault(r["asked"], []).append((r["article_id"], decode_shares(r["lang_shares"])))
        return found

    def story_members(self, story_id: str) -> list[dict]:
        rows = self._rows(
            f"""
            SELECT m.*, a.lang, a.lang_shares, a.text_hash, a.published, a.fetched, a.first_seen,
                   length(a.text) AS length, a.title,
                   substr(a.text, 1, 200) AS opening, a.source, a.url, a.site_name, s.original_id, f.credit
            FROM story_members m {_article("m.article_id")} JOIN stories s ON s.id = m.story_id
            LEFT JOIN fingerprints f ON f.article_id = m.article_id
            WHERE m.story_id = %s ORDER BY COALESCE(a.published, a.fetched), a.id
            """, (story_id,))
        return [{**r, "lang_shares": decode_shares(r["lang_shares"])} for r in rows]

    def story_exists(self, story_id: str) -> bool:
        """Has the story a member (one index look-up, whatever its size)?"""
        return self._one("SELECT 1 AS found FROM story_members WHERE story_id = %s LIMIT 1", (story_id,)) is not None

    def write_story(self, story_id: str, original_id: str, members: list[dict], merged: list[str] = (), *,
                    replace: bool = True) -> None:
        """Set a story's original and write its members in one transaction: all of them (`replace`),
        or only those given, the others kept as they are. The stories in `merged`, whose members are
        now this story's, are deleted in it."""
        with self.transaction():
            if merged:
                self._write("DELETE FROM stories WHERE id = ANY(%s)", (list(merged),))
            self._write("INSERT INTO stories (id, original_id) VALUES (%s, %s) "
                      "ON CONFLICT (id) DO UPDATE SET original_id = EXCLUDED.original_id", (story_id, original_id))
            if replace:
                self._write("DELETE FROM story_members WHERE story_id = %s", (story_id,))
            self._many(
                "INSERT INTO story_members (article_id, story_id, relation, linked_to, score, evidence, explicit) "
                "VALUES (%(article_id)s, %(story_id)s, %(relation)s, %(linked_to)s, %(score)s, %(evidence)s, %(explicit)s) "
                "ON CONFLICT (article_id) DO UPDATE SET story_id = EXCLUDED.story_id, relation = EXCLUDED.relation, "
                "linked_to = EXCLUDED.linked_to, score = EXCLUDED.score, evidence = EXCLUDED.evidence, "
                "explicit = EXCLUDED.explicit",
                [_member_row(m, story_id) for m in members])

    def clear_stories(self) -> None:
        with self.transaction():
            self._write("DELETE FROM stories")
            self._write("DELETE FROM story_members")  # row by row: each member's change reaches the search index

    def articles_in_order(self, after: tuple[str, str] | None, batch: int) -> list[Article]:
        """Articles by (COALESCE(published, fetched), id), after the given position."""
        when, last = after or ("", "")
        rows = self._rows(
            "SELECT * FROM articles WHERE (COALESCE(published, fetched), id) > (%s, %s) "
            "ORDER BY COALESCE(published, fetched), id LIMIT %s", (when, last, batch))
        return [row_to_article(r) for r in rows]


def _member_row(member: dict, story_id: str) -> dict:
    """A member's stored columns, as plain values PostgreSQL takes (a flag as 0/1/2, a score as float)."""
    score = member.get("score")
    return {"article_id": member["article_id"], "story_id": story_id, "relation": member["relation"],
            "linked_to": member.get("linked_to"), "score": None if score is None else float(score),
            "evidence": member.get("evidence"), "explicit": int(member.get("explicit") or 0)}


def _fingerprint(row: dict) -> FingerprintRow:
    import numpy as np  # here, not at the top: `veille list` and `show` open the archive without it

    return FingerprintRow(row["id"], row["lang"], row["length"], row["text_hash"],
                          np.frombuffer(bytes(row["minhash"]), dtype=np.uint32), row["size"] or 0.0,
                          decode_shares(row["lang_shares"]), row.get("credit"))
