"""A story's members as placement sees them: what they say of each other, which is the original,
and (in a rebuild) a book of the stories placed so far, so that placing one more article costs the
same in a story of 3 members as in one of 300."""

from __future__ import annotations

from veille.stages import dedupe
from veille.storage import Archive
from veille.text.keys import fold

FIRST = "first of its story"
FIELDS = ("article_id", "relation", "linked_to", "score", "evidence", "explicit")  # what a membership stores


def credits(credit: str | None, row: dict) -> bool:
    """Does a "Source: X" credit name this member's site or source?"""
    if not credit:
        return False
    wanted = fold(credit)
    return any(name and (fold(name) == wanted or wanted in fold(name)) for name in (row.get("site_name"), row.get("source")))


class StoryFacts:
    """What members say of each other, gathered once per placement: asked of every member for every
    member, it made placing an article cost the square of its story's size (a rebuild, the cube)."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.named_original = {r.get("linked_to") for r in rows if r.get("explicit") == 2}
        self.credits = [(r["article_id"], r["credit"]) for r in rows if r.get("credit")]

    def credited(self, row: dict) -> bool:
        """Does another member's "Source: X" name this member?"""
        return any(other != row["article_id"] and credits(credit, row) for other, credit in self.credits)

    def credits_another(self, row: dict) -> bool:
        return bool(row.get("credit")) and any(credits(row["credit"], r) for r in self.rows
                                               if r["article_id"] != row["article_id"])

    def flags(self, row: dict) -> tuple[bool, bool]:
        """(named as the original by explicit evidence, an explicit copy of another member)"""
        return (row["article_id"] in self.named_original or self.credited(row),
                row.get("explicit") == 2 or self.credits_another(row))


def member(row: dict, flags: tuple[bool, bool]) -> dedupe.Member:
    title = (row.get("title") or "").rstrip("…").strip()
    return dedupe.Member(
        article_id=row["article_id"], lang=row["lang"], text_hash=row["text_hash"], published=row["published"],
        fetched=row["fetched"] or "", length=row["length"], shares=tuple(row.get("lang_shares") or ()),
        explicit_original=flags[0], explicit_copy=flags[1],
        titled=bool(title) and not (row.get("opening") or "").startswith(title[:60]),
    )


def original_of(rows: list[dict], facts: StoryFacts) -> dict:
    chosen = dedupe.choose_original([member(r, facts.flags(r)) for r in rows])
    return next(r for r in rows if r["article_id"] == chosen)


def tie_evidence(tie: dict) -> str:
    """The evidence of a first member that became a copy or translation, said from the member tied to it."""
    return (f"joined through {tie['article_id'][:8]}…, which is a "
            f"{tie['evidence'].split(' of ', 1)[0]} of it: {tie['evidence'].split(': ', 1)[-1]}")


def _in_order(row: dict) -> tuple:
    """The order of `story_members`: COALESCE(published, fetched), then id (NULL first)."""
    when = row["published"] if row.get("published") is not None else row.get("fetched")
    return (when is not None, when or "", row["article_id"])


class _Story:
    """One story's members and what choosing its original needs, kept up to date one member at a time."""

    def __init__(self, original_id: str, rows: list[dict]) -> None:
        self.original_id = original_id
        self.rows = {r["article_id"]: r for r in rows}
        facts = StoryFacts(rows)
        self.named_original = set(facts.named_original)
        self.credits = list(facts.credits)
        self.flags = {r["article_id"]: facts.flags(r) for r in rows}
        self.members = {r["article_id"]: member(r, self.flags[r["article_id"]]) for r in rows}
        self.languages: dict[str, int] = {}
        self.best: dict[str, dedupe.Member] = {}  # each language's best member to be the original
        for m in self.members.values():
            self.languages[m.lang] = self.languages.get(m.lang, 0) + 1
            if m.lang not in self.best or dedupe.original_rank(m, 0) < dedupe.original_rank(self.best[m.lang], 0):
                self.best[m.lang] = m
        # first members that are not the original and that no member is tied to yet
        self.pending = {i for i, r in self.rows.items() if (r.get("evidence") or "").startswith(FIRST) and i != original_id}

    def add(self, row: dict, second: float) -> tuple[str, list[dict]] | None:
        """Add one new member: (the original, the memberships that changed), or None when it changes
        what members say of each other or which one is the original (the caller recomputes the story)."""
        new_id = row["article_id"]
        if new_id in self.rows or row.get("explicit") == 2 or new_id in self.named_original:
            return None
        named = [i for i, r in self.rows.items() if credits(row.get("credit"), r)]
        if any(not self.flags[i][0] for i in named):
            return None  # its credit names a member that was not named before
        crediting = [other for other, credit in self.credits if credits(credit, row)]
        if any(not self.flags[other][1] for other in crediting):
            return None  # a member's credit names it: that member becomes an explicit copy
        flags = (bool(crediting), bool(named))
        new = member(row, flags)
        count = self.languages.get(new.lang, 0) + 1
        best = dict(self.best)
        if new.lang not in best or dedupe.original_rank(new, 0) < dedupe.original_rank(best[new.lang], 0):
            best[new.lang] = new
        original = min(best.values(), key=lambda m: dedupe.original_rank(
            m, count if m.lang == new.lang else self.languages[m.lang]))
        if original.article_id != self.original_id:
            return None
        stored = {key: row.get(key) for key in FIELDS} | {
            "relation": dedupe.relation(new, self.members[self.original_id], second)}
        changed = [stored]
        for tied in sorted(self.pending & {row.get("linked_to")}):
            self.rows[tied] = {**self.rows[tied], "evidence": tie_evidence(row)}
            changed.append({key: self.rows[tied].get(key) for key in FIELDS})
            self.pending.discard(tied)
        self.rows[new_id] = {**row, **stored}
        self.flags[new_id], self.members[new_id], self.best = flags, new, best
        self.languages[new.lang] = count
        if row.get("credit"):
            self.credits.append((new_id, row["credit"]))
        return self.original_id, changed


class StoryBook:
    """The stories a rebuild has placed, kept in memory while it runs (it holds the writer lock, so no
    one else changes them): a story is read from the archive once, not at every member placed in it,
    and a member that changes neither the original nor what the others say of each other is placed
    by comparing it with the original alone."""

    def __init__(self, archive: Archive, names: dict[str, str]) -> None:
        self.archive = archive
        self.names = names  # article id -> the id its story had before the rebuild
        self.claimable = set(names.values())
        self._stories: dict[str, _Story] = {}

    def _story(self, story_id: str) -> _Story:
        if story_id not in self._stories:
            rows = self.archive.story_members(story_id)
            self._stories[story_id] = _Story(rows[0]["original_id"] if rows else "", rows)
        return self._stories[story_id]

    def members(self, story_id: str) -> dict[str, dict]:
        """The story's members, as `archive.story_members` gives them (copies, in its order)."""
        return {r["article_id"]: dict(r) for r in sorted(self._story(story_id).rows.values(), key=_in_order)}

    def add(self, story_id: str, row: dict, second: float) -> tuple[str, list[dict]] | None:
        story = self._story(story_id)
        return story.add(row, second) if story.rows else None

    def remember(self, story_id: str, original_id: str, rows: list[dict], merged: list[str]) -> None:
        """The story as it was just written in full (the stories in `merged` are gone)."""
        for other in merged:
            self._stories.pop(other, None)
        self._stories[story_id] = _Story(original_id, rows)

    def forget(self, story_id: str) -> None:
        self._stories.pop(story_id, None)
