"""Stories: duplicates, copies and translations of one text, placed together."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta


from veille.models import Article
from veille.pipeline.reports import Failure, Progress, RunReport, notify
from veille.stages import dedupe
from veille.stages.dedupe import Link
from veille.stages.dedupe import Settings as DedupeSettings
from veille.storage import Archive
from veille.storage.rows import FingerprintRow
from veille.text.keys import fold
from veille.text.urls import canonical_url

logger = logging.getLogger(__name__)

_KIND_ORDER = {"duplicate": 3, "copy": 2, "translation": 1}


def link_story(archive: Archive, article: Article, settings: DedupeSettings | None = None, *,
               placed_only: bool = False, names: dict[str, str] | None = None) -> dict:
    """Fingerprint `article`, find what it is a version of, and place it in a story.

    `placed_only` (a rebuild): link only to articles already placed again, not to later ones whose
    fingerprints an earlier run left, so that the result does not depend on what was there before.
    `names` (a rebuild): article id -> the id its story had before, for a story this article starts.
    Returns its membership (story_id, relation, original_id, evidence).
    """
    settings = settings or DedupeSettings()
    fp = _save_fingerprint(archive, article)
    # One transaction from the candidates read to the story written: another writer placing a
    # related article waits, then sees this one in its story (never two stories for one text).
    with archive.transaction():
        own_urls = sorted({article.url, canonical_url(article.url)} | ({article.canonical_url} if article.canonical_url else set()))
        links = _explicit_links(archive, article, _alternates(article), own_urls)
        links += _copy_links(archive, fp, settings, placed_only)
        if placed_only:
            links = [link for link in links if archive.story_of(link.other_id) is not None]
        if not any(link.kind in ("duplicate", "copy") for link in links):
            links += _translation_links(archive, article, fp, settings, placed_only)
        return _place_in_story(archive, article, fp, links, settings, names or {})


def link_quietly(archive: Archive, article: Article, outcome: str, report: RunReport,
          settings: DedupeSettings | None = None) -> None:
    """Place a new or changed article in its story; a failure here never costs the article.

    An unchanged article is placed too if it has no story: a run killed between storing it and
    linking it left it so, and the rerun finds it "unchanged"."""
    if outcome not in ("new", "updated") and archive.story_of(article.id) is not None:
        return
    try:
        stored = archive.get_article(article.id)
        if stored is not None:
            stored.entities = article.entities
            link_story(archive, stored, settings)
    except Exception as exc:
        logger.debug("dedupe failed", exc_info=True, extra={"url": article.url})
        report.failures.append(Failure(article.source, article.url,
                                       f"not placed in a story ({type(exc).__name__}: {exc}); run `veille dedupe --rebuild`"))


def _save_fingerprint(archive: Archive, article: Article) -> dedupe.Fingerprint:
    fp = dedupe.fingerprint(article)
    archive.save_fingerprint(fp, _alternates(article))
    return fp


def _alternates(article: Article) -> list[str]:
    """The hreflang addresses a page names, as written and canonical."""
    return sorted({canonical_url(u) for u in article.alternates.values()} | set(article.alternates.values()))


def _explicit_links(archive: Archive, article: Article, alternates: list[str], own_urls: list[str]) -> list[Link]:
    links = []
    own = canonical_url(article.url)
    if article.canonical_url and article.canonical_url != own and article.origin != "file":
        for other in archive.articles_at_urls([article.canonical_url]):
            if other != article.id:
                links.append(Link(other, "copy", 1.0, f"copy of {other[:8]}…: its canonical link points there",
                                  explicit=True, other_is_original=True))
    hreflang = set(archive.articles_at_urls(alternates)) | set(archive.articles_linking_to(own_urls))
    for other in sorted(hreflang - {article.id}):
        links.append(Link(other, "translation", 1.0,
                          f"translation of {other[:8]}…: the pages name each other as language versions (hreflang)",
                          explicit=True))
    return links


def _copy_links(archive: Archive, fp: dedupe.Fingerprint, settings: DedupeSettings,
                placed: bool = False) -> list[Link]:
    links = []
    for row in archive.copy_candidates(fp, placed=placed):
        link = dedupe.compare_copy(fp, _fingerprint(row, set()), settings)
        if link is not None:
            links.append(link)
    return links


def _fingerprint(row: FingerprintRow, anchors: set[str]) -> dedupe.Fingerprint:
    """A stored article's fingerprint, as the candidate queries return it."""
    return dedupe.Fingerprint(row.id, row.lang, row.length, row.text_hash, row.minhash, anchors,
                              credit=row.credit, size=row.size, shares=row.shares)


def _translation_links(
    archive: Archive, article: Article, fp: dedupe.Fingerprint, settings: DedupeSettings, placed: bool = False,
) -> list[Link]:
    if article.lang == "und" or len(fp.anchors) < settings.min_shared_anchors:
        return []
    frequency = archive.anchor_frequencies(fp.anchors)
    total = archive.approximate_count()
    when = (article.published or article.fetched or "")[:10] or "2000-01-01"
    since, until = _window(when, settings.window_days)
    # Candidates: articles sharing enough rare anchors (the postings of a rare anchor are short),
    # and articles whose anchor set is much like this one's (LSH bands: bounded, and blind to how
    # common each anchor is, so two versions sharing only GNU, GPL and a year are compared too).
    rare = sorted(a for a in fp.anchors if frequency.get(a, 1) <= max(20, total // 50))
    candidates = archive.translation_candidates(fp, rare, article.lang, since, until, settings.min_shared_anchors,
                                                placed=placed)
    # A text largely in a second language may be a translation of one in its main language.
    mixed = any(code != article.lang and share >= settings.second_language for code, share in fp.shares)
    for other in archive.translation_candidates_by_bands(fp, None if mixed else article.lang, since, until,
                                                         placed=placed):
        if other not in candidates:
            candidates.append(other)
    anchors = archive.anchors_of(candidates)
    names = archive.entity_names(sorted(a[2:] for a in fp.anchors if a.startswith("e:")))
    links = []
    for row in archive.fingerprint_rows(candidates):
        link = dedupe.compare_translation(fp, _fingerprint(row, anchors[row.id]), settings, frequency, total, names)
        if link is not None:
            links.append(link)
    # A text has one version in each language. A story that already holds one in this article's
    # language, which this article is no copy of (it would have been found as one), is another
    # text: the chown page in Czech is not a translation of the chgrp page, though it shares
    # nearly all its options.
    same = archive.story_members_in_language([link.other_id for link in links], article.lang)
    return [link for link in links if not any(
        member != article.id and not dedupe.differ(article.lang, fp.shares, article.lang, shares, settings.second_language)
        for member, shares in same.get(link.other_id, ()))]


def _window(day: str, days: int) -> tuple[str, str]:
    try:
        moment = datetime.fromisoformat(day)
    except ValueError:
        return "0000", "9999"
    return (moment - timedelta(days=days)).strftime("%Y-%m-%d"), (moment + timedelta(days=days + 1)).strftime("%Y-%m-%d")


def _best_link(archive: Archive, links: list[Link]) -> Link | None:
    """The link that places an article: explicit evidence first, then the strongest kind; among
    translations, one into the story most versions point to (ten language versions of a page are
    one story, not one per version that happened to be compared first), then the best score."""
    if not links:
        return None
    top = max((l.explicit, _KIND_ORDER[l.kind]) for l in links)
    chosen = [l for l in links if (l.explicit, _KIND_ORDER[l.kind]) == top]
    votes: dict[str | None, float] = {}
    story_of = {l.other_id: archive.story_of(l.other_id) for l in chosen}
    for link in chosen:
        key = story_of[link.other_id] or link.other_id
        votes[key] = votes.get(key, 0.0) + link.score
    return max(chosen, key=lambda l: (votes[story_of[l.other_id] or l.other_id], l.score, l.other_id))


def _place_in_story(archive: Archive, article: Article, fp: dedupe.Fingerprint, links: list[Link],
                    settings: DedupeSettings, names: dict[str, str]) -> dict:
    best = _best_link(archive, links)
    current = archive.story_of(article.id)
    story_id = current or (archive.story_of(best.other_id) if best else None)
    if story_id is None and best is not None:  # the other article predates stories: give it its own first
        story_id = f"s{best.other_id}"
        archive.write_story(story_id, best.other_id, [_membership(best.other_id, None)])
    if story_id is None:
        story_id = _new_story_id(archive, article.id, names)
    members = {m["article_id"]: m for m in archive.story_members(story_id)}
    # The article is a version of texts in other stories too: they were one story all along (the
    # English page and its Chinese translation were placed before the Japanese one that links
    # both), so those stories join this one.
    # A link that is only just enough to place an article is not enough to join two stories: the
    # pages of one family (chown and chgrp) share most of their options.
    merged = sorted({other for other in (archive.story_of(l.other_id) for l in links
                                         if l is not best and l.strength >= settings.merge_overlap)
                     if other and other != story_id})
    for other in merged:
        members.update({m["article_id"]: m for m in archive.story_members(other)})
    evidence = best.evidence if best else "first of its story"
    if fp.credit:
        evidence += f"; credits “{fp.credit}” as its source"
    explicit = 2 if best and best.other_is_original else 1 if best and best.explicit else 0
    mine = _membership(article.id, best.other_id if best else None, best.score if best else None, evidence, explicit)
    rows = [m for key, m in members.items() if key != article.id] + [
        {**mine, "lang": article.lang, "lang_shares": tuple(article.lang_shares), "text_hash": article.text_hash, "published": article.published,
         "fetched": article.fetched or "", "length": len(article.text), "title": article.title,
         "opening": article.text[:200], "credit": fp.credit, "site_name": article.site_name,
         "source": article.source}]
    facts = _StoryFacts(rows)
    original = _original_of(rows, facts)
    first = _member(original, facts)
    relations = {r["article_id"]: dedupe.relation(_member(r, facts), first, settings.second_language) for r in rows}
    for row in rows:  # a first member that became a copy or translation: say which link tied it
        if row["evidence"].startswith("first of its story") and row["article_id"] != original["article_id"]:
            tie = next((r for r in rows if r.get("linked_to") == row["article_id"]), None)
            if tie is not None:
                row.update(evidence=f"joined through {tie['article_id'][:8]}…, which is a "
                                 f"{tie['evidence'].split(' of ', 1)[0]} of it: {tie['evidence'].split(': ', 1)[-1]}")
    fields = ("article_id", "relation", "linked_to", "score", "evidence", "explicit")
    stored = [{key: r.get(key) for key in fields} | {"relation": relations[r["article_id"]]} for r in rows]
    # Only what changed is written: usually the one new member. Rewriting every member at every
    # arrival made a story's placements cost the square of its size.
    before = {key: {f: m.get(f) for f in fields} for key, m in members.items()}
    # Joining stories rewrites the whole story (its old rows go): every member then, changed or not.
    replace = bool(merged) or not before
    changed = stored if replace else [row for row in stored if before.get(row["article_id"]) != row]
    archive.write_story(story_id, original["article_id"], changed, merged, replace=replace)
    return {"story_id": story_id, "relation": relations[article.id], "original_id": original["article_id"],
            "evidence": evidence}


def _new_story_id(archive: Archive, article_id: str, names: dict[str, str]) -> str:
    """The id of a story `article_id` starts: in a rebuild, the id its story had before, so that ids
    quoted in exports and notes stay right while a story keeps its members; else `s` + its id.

    An id another story of this rebuild already took (an old story that split) is not reused."""
    claimable = set(names.values())
    for wanted in (names.get(article_id), f"s{article_id}"):
        if wanted and (wanted not in claimable or not archive.story_members(wanted)):
            return wanted
    number = 2
    while archive.story_members(f"s{article_id}.{number}"):
        number += 1
    return f"s{article_id}.{number}"


def _membership(article_id: str, linked_to: str | None, score: float | None = None,
                evidence: str = "first of its story", explicit: int = 0) -> dict:
    return {"article_id": article_id, "relation": "original", "linked_to": linked_to, "score": score,
            "evidence": evidence, "explicit": explicit}


def _credits(credit: str | None, row: dict) -> bool:
    """Does a "Source: X" credit name this member's site or source?"""
    if not credit:
        return False
    wanted = fold(credit)
    return any(name and (fold(name) == wanted or wanted in fold(name)) for name in (row.get("site_name"), row.get("source")))


class _StoryFacts:
    """What members say of each other, gathered once per placement: asked of every member for every
    member, it made placing an article cost the square of its story's size (a rebuild, the cube)."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.named_original = {r.get("linked_to") for r in rows if r.get("explicit") == 2}
        self.credits = [(r["article_id"], r["credit"]) for r in rows if r.get("credit")]

    def credited(self, row: dict) -> bool:
        """Does another member's "Source: X" name this member?"""
        return any(other != row["article_id"] and _credits(credit, row) for other, credit in self.credits)

    def credits_another(self, row: dict) -> bool:
        return bool(row.get("credit")) and any(_credits(row["credit"], r) for r in self.rows
                                               if r["article_id"] != row["article_id"])


def _member(row: dict, facts: _StoryFacts) -> dedupe.Member:
    title = (row.get("title") or "").rstrip("…").strip()
    return dedupe.Member(
        article_id=row["article_id"], lang=row["lang"], text_hash=row["text_hash"], published=row["published"],
        fetched=row["fetched"] or "", length=row["length"], shares=_shares(row.get("lang_shares")),
        explicit_original=row["article_id"] in facts.named_original or facts.credited(row),
        explicit_copy=row.get("explicit") == 2 or facts.credits_another(row),
        titled=bool(title) and not (row.get("opening") or "").startswith(title[:60]),
    )


def _shares(stored) -> tuple[tuple[str, float], ...]:
    return tuple(stored or ())  # decoded by the store (story_members), or the article's own


def _original_of(rows: list[dict], facts: _StoryFacts) -> dict:
    chosen = dedupe.choose_original([_member(r, facts) for r in rows])
    return next(r for r in rows if r["article_id"] == chosen)


def _in_order(archive: Archive, after: tuple[str, str] | None, batch: int):
    """Batches of articles, oldest first, with their entities, and the position after each batch."""
    while articles := archive.articles_in_order(after, batch):
        for article in articles:
            article.entities = archive.entities_of(article.id)
        after = (articles[-1].published or articles[-1].fetched or "", articles[-1].id)
        yield articles, after


def rebuild_stories(
    archive: Archive, settings: DedupeSettings | None = None, *, progress: Progress | None = None, batch: int = 200,
) -> RunReport:
    """Recompute every story, oldest article first; resumable after an interruption.

    A story that comes out with the members it had keeps its id (its first member, placed first
    again, takes the id its old story had)."""
    settings = settings or DedupeSettings()
    report = RunReport()
    marker = repr(settings)
    state = archive.get_state("rebuild")
    after = None
    if state and state.startswith(marker + "\t"):
        when, _, last = state[len(marker) + 1:].partition("\t")
        after = (when, last) if when or last else None
        names = json.loads(archive.get_state("rebuild-names") or "{}")
    else:
        names = _start_rebuild(archive, batch)
        archive.set_state("rebuild", f"{marker}\t\t")  # from here on, an interrupted rebuild resumes
    notify(progress, "total", str(archive.count_articles()))
    for articles, after in _in_order(archive, after, batch):
        for article in articles:
            membership = link_story(archive, article, settings, placed_only=True, names=names)
            report.count("updated" if membership["relation"] != "original" else "unchanged", article.id)
            notify(progress, "file", article.id)
        archive.set_state("rebuild", f"{marker}\t{after[0]}\t{after[1]}")
    archive.set_state("rebuild", None)
    archive.set_state("rebuild-names", None)
    return report


def _start_rebuild(archive: Archive, batch: int) -> dict[str, str]:
    """Fingerprint every article, note the story ids that are not `s` + the member's own id, and
    clear the stories. Returns those names (kept in the archive, for a rebuild that resumes)."""
    names: dict[str, str] = {}
    # Every fingerprint first: anchor weights count the whole archive, as they will on the
    # next rebuild, so two rebuilds give the same stories whatever fingerprints were there before.
    for articles, _ in _in_order(archive, None, batch):
        for article in articles:
            _save_fingerprint(archive, article)
            story = archive.story_of(article.id)
            if story and story != f"s{article.id}":
                names[article.id] = story
    with archive.transaction():
        archive.set_state("rebuild-names", json.dumps(names, sort_keys=True))
        archive.clear_stories()
    return names
