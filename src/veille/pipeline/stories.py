"""Stories: duplicates, copies and translations of one text, placed together."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta


from veille.models import Article
from veille.pipeline.reports import Failure, Progress, RunReport, notify
from veille.pipeline.story_book import (FIELDS, FIRST, StoryBook, StoryFacts, member, original_of,
                                        tie_evidence)
from veille.stages import dedupe
from veille.stages.dedupe import Link
from veille.stages.dedupe import Settings as DedupeSettings
from veille.storage import Archive, batches_in_order
from veille.storage.rows import FingerprintRow
from veille.text.urls import canonical_url

logger = logging.getLogger(__name__)

_KIND_ORDER = {"duplicate": 3, "copy": 2, "translation": 1}


def link_story(archive: Archive, article: Article, settings: DedupeSettings | None = None, *,
               placed_only: bool = False, names: dict[str, str] | None = None,
               book: StoryBook | None = None, fingerprint: dedupe.Fingerprint | None = None) -> dict:
    """Fingerprint `article`, find what it is a version of, and place it in a story.

    `placed_only` (a rebuild): link only to articles already placed again, not to later ones whose
    fingerprints an earlier run left, so that the result does not depend on what was there before.
    `names` (a rebuild): article id -> the id its story had before, for a story this article starts.
    `book` (a rebuild): the stories placed so far, kept in memory (see StoryBook); its names serve.
    `fingerprint` (a rebuild): the article's fingerprint as the rebuild saved it (not computed again).
    Returns its membership (story_id, relation, original_id, evidence).
    """
    settings = settings or DedupeSettings()
    fp = _save_fingerprint(archive, article, fingerprint)
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
        return _place_in_story(archive, article, fp, links, settings, names or {}, book)


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


def _save_fingerprint(archive: Archive, article: Article, fp: dedupe.Fingerprint | None = None) -> dedupe.Fingerprint:
    fp = fp or dedupe.fingerprint(article)
    archive.save_fingerprint(fp, _alternates(article))
    return fp


def _saved_fingerprints(archive: Archive, articles: list[Article]) -> dict[str, dedupe.Fingerprint]:
    """The fingerprints a rebuild saved for these articles, read back (computing them again cost
    half of a rebuild's time)."""
    ids = [a.id for a in articles]
    anchors = archive.anchors_of(ids)
    return {row.id: _fingerprint(row, anchors[row.id]) for row in archive.fingerprint_rows(ids)}


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
                    settings: DedupeSettings, names: dict[str, str], book: StoryBook | None = None) -> dict:
    best = _best_link(archive, links)
    current = archive.story_of(article.id)
    story_id = current or (archive.story_of(best.other_id) if best else None)
    if story_id is None and best is not None:  # the other article predates stories: give it its own first
        story_id = f"s{best.other_id}"
        archive.write_story(story_id, best.other_id, [_membership(best.other_id, None)])
        if book:
            book.forget(story_id)
    if story_id is None:
        story_id = _new_story_id(archive, article.id, book.names if book else names,
                                 book.claimable if book else set(names.values()))
    # The article is a version of texts in other stories too: they were one story all along (the
    # English page and its Chinese translation were placed before the Japanese one that links
    # both), so those stories join this one.
    # A link that is only just enough to place an article is not enough to join two stories: the
    # pages of one family (chown and chgrp) share most of their options.
    merged = sorted({other for other in (archive.story_of(l.other_id) for l in links
                                         if l is not best and l.strength >= settings.merge_overlap)
                     if other and other != story_id})
    mine = _new_member(article, fp, best)
    # In a rebuild, most members change nothing but themselves: placed against the original alone.
    placed = book.add(story_id, mine, settings.second_language) if book and not current and not merged else None
    if placed is not None:
        original_id, changed = placed
        archive.write_story(story_id, original_id, changed, replace=False)
        relation = changed[0]["relation"]
    else:
        original_id, relation = _write_whole_story(archive, story_id, mine, merged, settings, book)
    return {"story_id": story_id, "relation": relation, "original_id": original_id, "evidence": mine["evidence"]}


def _new_member(article: Article, fp: dedupe.Fingerprint, best: Link | None) -> dict:
    """The article's membership and what choosing the original needs to know of it."""
    evidence = best.evidence if best else FIRST
    if fp.credit:
        evidence += f"; credits “{fp.credit}” as its source"
    explicit = 2 if best and best.other_is_original else 1 if best and best.explicit else 0
    return {**_membership(article.id, best.other_id if best else None, best.score if best else None, evidence, explicit),
            "lang": article.lang, "lang_shares": tuple(article.lang_shares), "text_hash": article.text_hash,
            "published": article.published, "fetched": article.fetched or "", "length": len(article.text),
            "title": article.title, "opening": article.text[:200], "credit": fp.credit,
            "site_name": article.site_name, "source": article.source}


def _write_whole_story(archive: Archive, story_id: str, mine: dict, merged: list[str], settings: DedupeSettings,
                       book: StoryBook | None) -> tuple[str, str]:
    """Choose the story's original among all its members (and those of `merged`), relate each
    member to it and write what changed. Returns the original's id and the new member's relation."""
    read = book.members if book else lambda story: {m["article_id"]: m for m in archive.story_members(story)}
    members = read(story_id)
    for other in merged:
        members.update(read(other))
    rows = [m for key, m in members.items() if key != mine["article_id"]] + [mine]
    facts = StoryFacts(rows)
    original = original_of(rows, facts)
    first = member(original, facts.flags(original))
    relations = {r["article_id"]: dedupe.relation(member(r, facts.flags(r)), first, settings.second_language)
                 for r in rows}
    # Only what changed is written: usually the one new member. Rewriting every member at every
    # arrival made a story's placements cost the square of its size.
    before = {key: {f: m.get(f) for f in FIELDS} for key, m in members.items()}
    for row in rows:  # a first member that became a copy or translation: say which link tied it
        if row["evidence"].startswith(FIRST) and row["article_id"] != original["article_id"]:
            tie = next((r for r in rows if r.get("linked_to") == row["article_id"]), None)
            if tie is not None:
                row.update(evidence=tie_evidence(tie))
    stored = [{key: r.get(key) for key in FIELDS} | {"relation": relations[r["article_id"]]} for r in rows]
    # Stories that join are written whole: their members change story even where nothing else changes.
    changed = stored if merged else [row for row in stored if before.get(row["article_id"]) != row]
    archive.write_story(story_id, original["article_id"], changed, merged, replace=bool(merged) or not before)
    if book:
        book.remember(story_id, original["article_id"],
                      [{**r, "relation": relations[r["article_id"]]} for r in rows], merged)
    return original["article_id"], relations[mine["article_id"]]


def _new_story_id(archive: Archive, article_id: str, names: dict[str, str], claimable: set[str]) -> str:
    """The id of a story `article_id` starts: in a rebuild, the id its story had before, so that ids
    quoted in exports and notes stay right while a story keeps its members; else `s` + its id.

    An id another story of this rebuild already took (an old story that split) is not reused."""
    for wanted in (names.get(article_id), f"s{article_id}"):
        if wanted and (wanted not in claimable or not archive.story_exists(wanted)):
            return wanted
    number = 2
    while archive.story_exists(f"s{article_id}.{number}"):
        number += 1
    return f"s{article_id}.{number}"


def _membership(article_id: str, linked_to: str | None, score: float | None = None,
                evidence: str = FIRST, explicit: int = 0) -> dict:
    return {"article_id": article_id, "relation": "original", "linked_to": linked_to, "score": score,
            "evidence": evidence, "explicit": explicit}


def _in_order(archive: Archive, after: tuple[str, str] | None, batch: int):
    """Batches of articles, oldest first, with their entities, and the position after each batch."""
    for articles, position in batches_in_order(archive, after, batch):
        for article in articles:
            article.entities = archive.entities_of(article.id)
        yield articles, position


def rebuild_stories(
    archive: Archive, settings: DedupeSettings | None = None, *, progress: Progress | None = None, batch: int = 200,
) -> RunReport:
    """Recompute every story, oldest article first; resumable after an interruption.

    A story that comes out with the members it had keeps its id (its first member, placed first
    again, takes the id its old story had). The caller holds the writer lock: the stories placed so
    far are kept in memory while it runs (StoryBook), so that its time grows with the articles, not
    with the size of their stories."""
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
    book = StoryBook(archive, names)
    for articles, after in _in_order(archive, after, batch):
        saved = _saved_fingerprints(archive, articles)
        for article in articles:
            membership = link_story(archive, article, settings, placed_only=True, book=book,
                                    fingerprint=saved.get(article.id))
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
