"""What the read-only commands report, as plain records: the library call behind each of them.

The CLI parses its options, calls one of these, and formats what comes back (a table or lines for
people, JSON for programs); nothing here prints. Records are dicts where a command prints them as
JSON as they are (their keys in that order), dataclasses where they are read field by field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from veille.config.settings import Config, Settings, Source
from veille.errors import FeedError, FetchError
from veille.models import Article, Entity
from veille import pipeline
from veille.stages import health
from veille.storage import Archive

if TYPE_CHECKING:
    from veille.net.http import Fetcher

STORY_FIELDS = ("story_id", "relation", "original_id")
JSON_FIELDS = (
    "id", "url", "canonical_url", "source", "title", "author", "published", "fetched",
    "lang", "lang_confidence", "lang_reason", "site_name", "description", "origin", "note",
    "revision", "text_hash",
)
MEMBER_FIELDS = ("article_id", "relation", "lang", "source", "published", "fetched", "title", "url", "linked_to",
                 "score", "evidence")
RELATION_ORDER = {"original": 0, "duplicate": 1, "copy": 2, "translation": 3}


# -- veille status ---------------------------------------------------------

@dataclass
class StatusReport:
    """Each source (feeds.yaml's first, in its order, then the archive's others) and the totals."""

    folder: str  # where the archive is, for people (its location)
    sources: list[dict]
    total: int
    by_lang: dict[str, int]
    taggers: list[dict]
    recent_failures: list[dict]
    crawl_delays: list[dict]
    digests: list[dict]  # the last send of each digest, recipients and refused decoded
    captures: dict | None = None  # the WARC captures: records, files, bytes, articles (None: none kept)

    def totals(self) -> dict:
        """The last line of `status --json`."""
        return {"total": self.total, "by_lang": self.by_lang, "taggers": self.taggers,
                "recent_failures": self.recent_failures, "crawl_delays": self.crawl_delays,
                "digests": self.digests, "captures": self.captures}


def status_report(archive: Archive, config: Config | None) -> StatusReport:
    """The state of every source and the archive's totals (`config`: None without a feeds.yaml)."""
    return StatusReport(
        folder=archive.location,
        sources=source_states(archive, config),
        total=archive.count_articles(),
        by_lang=archive.counts_by_lang(),
        taggers=archive.tagger_counts(),
        recent_failures=[dict(r) for r in archive.failures(limit=20)],
        crawl_delays=crawl_delays(archive, config.settings if config else Settings()),
        digests=[{**d, "recipients": json.loads(d["recipients"]), "refused": json.loads(d["refused"])}
                 for d in archive.digest_rows()],
        captures=capture_summary(archive),
    )


def capture_summary(archive: Archive) -> dict | None:
    """What the archive keeps as WARC: records, files, their size, the articles they back."""
    from veille.errors import CaptureError
    from veille.storage.warc import CaptureStore, capture_folder

    folder = capture_folder(archive)
    if folder is None or not (folder / "captures.db").exists():
        return None
    try:
        with CaptureStore(folder, readonly=True) as store:
            return {"folder": str(folder), **store.summary()}
    except (CaptureError, OSError) as exc:  # status still answers; verify says more
        return {"folder": str(folder), "error": str(exc)}


def source_states(archive: Archive, config: Config | None) -> list[dict]:
    """One record per source: its articles, failed items, last fetch, health and pause."""
    rows = {row["name"]: dict(row) for row in archive.source_rows()}
    counts = archive.counts_by_source()
    failures = archive.count_failures_by_source()
    names = [s.name for s in config.sources] if config else []
    names += sorted(n for n in set(rows) | set(counts) if n not in names)
    enabled = {s.name: s.enabled for s in config.sources} if config else {}
    records = []
    for name in names:
        row = rows.get(name, {})
        records.append({
            "source": name,
            "enabled": enabled.get(name, name in rows or name in counts),
            "articles": counts.get(name, 0),
            "failed_items": failures.get(name, 0),
            "last_fetch": row.get("last_fetch"),
            "last_success": row.get("last_success"),
            "last_status": row.get("last_status"),
            "last_error": row.get("last_error"),
            "consecutive_failures": row.get("consecutive_failures", 0),
            "health": row.get("health", 0.0),
            "failing_since": row.get("failing_since"),
            "paused_since": row.get("paused_since"),
            "next_attempt": row.get("next_attempt"),
            "error_kind": row.get("error_kind"),
            "advice": health.advice(row.get("error_kind")) if row.get("last_error") else None,
            "moved_to": row.get("moved_to"),
        })
    return records


def crawl_delays(archive: Archive, settings: Settings) -> list[dict]:
    """The hosts whose robots.txt Crawl-delay makes veille wait longer than host_delay, or
    asks for longer than it waits (capped): what it asks, what veille waits, when it was read."""
    from veille.net.politeness import paced_delay

    paced = []
    for host, known in sorted(archive.crawl_delays().items()):
        asks = float(known["asks"])
        waits = paced_delay(settings, asks)
        if asks > settings.host_delay:
            paced.append({"host": host, "asks": asks, "waits": waits, "capped": waits < asks,
                          "read": known.get("read")})
    return paced


# -- veille list, veille show ------------------------------------------------

def article_record(article: Article, archive: Archive | None = None) -> dict:
    """An article's metadata as `list --json` prints it (with its story, given the archive)."""
    data = {key: getattr(article, key) for key in JSON_FIELDS}
    data["lang_shares"] = dict(article.lang_shares)  # {"es": 0.52, "en": 0.48}, largest first
    if archive is not None:
        membership = archive.story_membership(article.id) or {}
        data.update({key: membership.get(key) for key in STORY_FIELDS})
    return data


@dataclass
class ArticleView:
    """One article with what the archive knows of it: `veille show`."""

    article: Article
    record: dict  # article_record's, with the story
    revisions: list[dict]
    entities: list[Entity]
    tags: list[str]
    membership: dict | None

    def full_record(self) -> dict:
        """`show --json`: the metadata, the text, its revisions, entities and tags."""
        data = dict(self.record)
        data["story_evidence"] = evidence_for(self.membership) if self.membership else None
        data["text"] = self.article.text
        data["alternates"] = self.article.alternates
        data["revisions"] = self.revisions
        data["entities"] = [{"text": e.text, "label": e.label, "start": e.start, "end": e.end,
                             "key": e.key, "origin": e.origin} for e in self.entities]
        data["tags"] = self.tags
        data["tagger"] = self.article.tagger
        return data

    def names_by_label(self) -> dict[str, list[tuple[str, int]]]:
        """Each label's spellings with their mentions, most mentioned first."""
        by_label: dict[str, dict[str, int]] = {}
        for entity in self.entities:
            by_label.setdefault(entity.label, {}).setdefault(entity.text, 0)
            by_label[entity.label][entity.text] += 1
        return {label: sorted(names.items(), key=lambda kv: (-kv[1], kv[0])) for label, names in by_label.items()}


def article_view(archive: Archive, article_id: str) -> ArticleView | None:
    """The article with this id (or unique prefix), or None."""
    article = archive.get_article(article_id)
    if article is None:
        return None
    return ArticleView(article=article, record=article_record(article, archive),
                       revisions=[dict(r) for r in archive.revisions(article.id)],
                       entities=archive.entities_of(article.id), tags=archive.tags_of(article.id),
                       membership=archive.story_membership(article.id))


def names_a_story(archive: Archive, value: str) -> bool:
    """Whether `value` is a story id ("s" and an article id of its story)."""
    article = archive.get_article(value[1:]) if value[:1] in ("s", "S") else None
    return article is not None and archive.story_of(article.id) is not None


# -- veille search -----------------------------------------------------------

@dataclass
class FoundStory:
    """One search result: the article that matched best for its story, its passage, and the
    story's other versions (`veille search`, the web search page, the Atom feeds)."""

    article: Article
    membership: dict
    members: list[dict]
    passage: str  # the snippet as written
    marks: list[tuple[int, int]]  # where the query's words are in it
    score: float | None  # None when nothing ranks (a search by filters alone)

    def record(self) -> dict:
        """`search --json`: one story (or article) per line."""
        article, membership = self.article, self.membership
        return {
            "story_id": membership.get("story_id"), "id": article.id, "relation": membership.get("relation"),
            "title": article.title, "source": article.source, "published": article.published, "lang": article.lang,
            "score": self.score, "snippet": self.passage, "highlights": self.marks,
            "members": [{"id": m["article_id"], "relation": m["relation"], "lang": m["lang"], "source": m["source"]}
                        for m in self.members],
        }

    def also_in(self) -> list[str]:
        """What the story holds besides this article: ["also in: en, fr", "1 copy"] (empty if nothing)."""
        article = self.article
        others = [m for m in self.members if m["article_id"] != article.id]
        if not others:
            return []
        langs = sorted({m["lang"] for m in others if m["lang"] != article.lang})
        copies = sum(1 for m in self.members if m["relation"] in ("copy", "duplicate"))
        return ([f"also in: {', '.join(langs)}"] if langs else []) + (
            [f"{copies} cop{'y' if copies == 1 else 'ies'}"] if copies else [])


def found_story(archive: Archive, highlighter, hit, scored: bool = True) -> FoundStory | None:
    """A search hit with its article, passage and story; None if the article is gone from the archive."""
    article = archive.get_article(hit.id)
    if article is None:
        return None
    membership = archive.story_membership(article.id) or {}
    members = archive.story_members(membership["story_id"]) if membership else []
    passage, marks = highlighter.passage(article.text, article.lang)
    return FoundStory(article=article, membership=membership, members=members, passage=passage, marks=marks,
                      score=hit.score if scored else None)


def entity_rows(archive: Archive, *, top: int = 20, label: str | None = None, lang: str | None = None,
                since: str | None = None) -> list[dict]:
    """`entities --json`: entity keys by articles, their languages as a sorted list."""
    rows = archive.entity_ranking(top=top, label=label, lang=lang, since=since)
    for row in rows:
        row["langs"] = sorted((row["langs"] or "").split(","))
    return rows


# -- veille story ------------------------------------------------------------

@dataclass
class StoryView:
    """A story: its original, copies and translations, with the evidence for each link."""

    story_id: str
    members: list[dict]

    def record(self) -> dict:
        """`story --json`."""
        return {"story_id": self.story_id, "original_id": self.members[0]["original_id"],
                "members": [{key: m[key] for key in MEMBER_FIELDS} for m in self.members]}

    @property
    def original(self) -> dict:
        return next(m for m in self.members if m["relation"] == "original")

    def in_order(self) -> list[dict]:
        """The original first, then duplicates, copies and translations, by language."""
        return sorted(self.members, key=lambda m: (RELATION_ORDER[m["relation"]], m["lang"], m["article_id"]))


def story_view(archive: Archive, article_or_story: str) -> StoryView | None:
    """The story of an article (or the story of that id, "s..."), or None."""
    article = archive.get_article(article_or_story.removeprefix("s"))
    story_id = archive.story_of(article.id) if article else None
    if story_id is None:
        return None
    members = [{**m, "evidence": evidence_for(m)} for m in archive.story_members(story_id)]
    return StoryView(story_id=story_id, members=members)


_LINK_KINDS = (("same text as ", "duplicate"), ("copy of ", "copy"), ("translation of ", "translation"))
_OTHER_SIDE = {"duplicate": "has the same text", "copy": "is a copy of it", "translation": "is a translation of it"}


def evidence_for(member: dict) -> str:
    """What ties a member to its story, said from the original's side: "translation of <original>: …"
    for a version, "the original; …" for the original, whichever member it was linked through.

    What the store keeps is the link found when the article was placed ("translation of X: 12 shared
    anchors"), to whichever member it was compared with; said as is, a duplicate read "translation
    of …" and the original "same text as …"."""
    raw = member.get("evidence") or ""
    raw, _, credit = raw.partition("; credits ")
    credit = f"; credits {credit}" if credit else ""
    original, linked = member.get("original_id") or "", member.get("linked_to")
    relation = member.get("relation") or "original"
    kind, detail = _read_link(raw)
    if raw.startswith("joined through "):  # a first member another version tied to the story
        through, _, rest = raw.removeprefix("joined through ").partition(", which is a ")
        linked, kind = through.rstrip("…").strip(), rest.split(" of it", 1)[0]
        detail = rest.split(": ", 1)[1] if ": " in rest else ""
        kind = {"copy": "copy", "translation": "translation"}.get(kind, "duplicate")
    if relation == "original":
        if not linked:
            return "the original" + credit
        side = f"{linked[:8]}… {_OTHER_SIDE[kind or 'copy']}"
        return f"the original; {side}" + (f": {detail}" if detail else "") + credit
    said = f"{relation} of {original[:8]}…"
    if linked and not original.startswith(linked.rstrip("…")):
        said += f", linked through {linked[:8]}…" + (f" ({kind}" + (f": {detail})" if detail else ")") if kind else "")
    elif detail:
        said += f": {detail}"
    return said + credit


def _read_link(raw: str) -> tuple[str | None, str]:
    """The kind of a stored link's evidence and its detail ("12 shared anchors …")."""
    for prefix, kind in _LINK_KINDS:
        if raw.startswith(prefix):
            return kind, raw.split(": ", 1)[1] if ": " in raw else ""
    return None, ""


# -- veille feeds list, veille feeds check ---------------------------------------

def feed_records(config: Config, archive: Archive | None) -> list[dict]:
    """feeds.yaml's sources, with what the archive knows of them (`archive`: None before there is one)."""
    rows = {row["name"]: dict(row) for row in archive.source_rows()} if archive is not None else {}
    records = []
    for source in config.sources:
        row = rows.get(source.name, {})
        condition = ("off" if not source.enabled else "paused" if row.get("paused_since") else
                     "failing" if row.get("consecutive_failures") else "ok" if row.get("last_success") else "new")
        records.append({"name": source.name, "url": source.url, "kind": source.kind, "language": source.language,
                        "tags": list(source.tags), "interval": source.interval, "enabled": source.enabled,
                        "state": condition, "last_fetch": row.get("last_fetch"), "moved_to": row.get("moved_to")})
    return records


def check_sources(config: Config, names: tuple[str, ...]) -> Iterator[tuple[Source, dict]]:
    """Fetch each source (or the named ones) once, storing nothing: what it answered, as it comes."""
    from veille.net import Fetcher

    sources = [config.source(n) for n in names] if names else list(config.sources)
    with Fetcher(config.settings) as fetcher:
        for source in sources:
            yield source, check_source(fetcher, source)


def check_source(fetcher: Fetcher, source: Source) -> dict:
    """One source's answer: ok or not, its status, entries (a feed) or content type (a page), the advice."""
    record: dict = {"name": source.name, "url": source.url}
    try:
        response = fetcher.get(source.url)
        record.update(status=response.status, seconds=round(response.elapsed, 2))
        if response.moved_to:
            record["moved_to"] = response.moved_to
        if source.kind in ("feed", "sitemap", "listing"):
            try:
                if source.kind == "feed":
                    parsed = pipeline.parse_feed(response)
                else:  # the pages a sitemap or a listing names, and (a listing) how they were chosen
                    job = pipeline.FeedJob(source.name, source.url, source.kind, source.language, links=source.links)
                    parsed = (pipeline.read_sitemap(job, fetcher, response) if source.kind == "sitemap"
                              else pipeline.read_listing(job, response))
                record.update(ok=True, entries=len(parsed.entries), title=parsed.title, warning=parsed.warning)
            except FeedError as exc:
                advice = {"sitemap": "open the sitemap in a browser; a site's robots.txt names its sitemaps "
                                     "(`veille feeds add SITE` reads them)",
                          "listing": "open the page in a browser; `links:` (a CSS selector or URL pattern) "
                                     "chooses the article links"}.get(source.kind) or health.advice(health.kind_of(exc))
                record.update(ok=False, error=str(exc), advice=advice)
        else:
            record.update(ok=response.is_html(), content_type=response.content_type)
    except FetchError as exc:
        kind = health.kind_of(exc)
        record.update(ok=False, error=exc.summary, advice=health.advice(kind))
    return record
