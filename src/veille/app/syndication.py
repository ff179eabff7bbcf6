"""Saved searches as Atom feeds, and the OPML list of them: for `veille serve` (/feeds/NAME.atom,
/feeds.opml) and `veille searches feed NAME --out FILE`.

One entry per story, newest first (as `search --sort date`), its copies and translations folded
into it ("also in: fr · 1 copy"); its link is the story page of the `veille serve` at `base_url`.

    body = saved_search_feed(archive, index, "palantir", "http://127.0.0.1:8080/")
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from veille.app.queries import filters_of, parse_query, resolve_saved
from veille.app.reports import FoundStory, found_story
from veille.outputs.atom import FeedEntry, FeedHead, atom_feed, opml
from veille.text.urls import web_link

if TYPE_CHECKING:
    from veille.search import SearchIndex
    from veille.storage import Archive

FEED_ENTRIES = 50  # stories per feed: a reader polling every hour keeps up with a busy search


def link(base_url: str, path: str, token: str | None = None, **query: str) -> str:
    """An absolute address on the server at `base_url`, with the access token when it has one
    (a feed reader or a browser following a feed's link has no other way to present it)."""
    params = {k: v for k, v in query.items() if v}
    if token:
        params["token"] = token
    return base_url.rstrip("/") + path + (f"?{urlencode(params)}" if params else "")


def saved_search_feed(archive: Archive, index: SearchIndex, name: str, base_url: str, *,
                      token: str | None = None, limit: int = FEED_ENTRIES) -> bytes:
    """The Atom feed of the saved search `name` (VeilleError if there is none)."""
    query, lang, source = resolve_saved(archive, name)
    stored = archive.saved_search(name) or {}
    tree = parse_query(query)
    results = index.search(tree, lang=lang, filters=filters_of(lang, source), sort="date", limit=limit)
    highlighter = index.highlighter(tree, lang)
    entries = []
    for hits in results.groups:
        found = found_story(archive, highlighter, hits[0], scored=False)
        if found is not None:
            entries.append(_entry(archive, found, base_url, token))
    options = " ".join(f"--{k} {v}" for k, v in sorted(stored.get("options", {}).items()))
    head = FeedHead(
        name=name, title=f"veille: {name}", subtitle=f"{query} {options}".strip(),
        self_link=link(base_url, f"/feeds/{quote(name, safe='')}.atom", token),
        html_link=link(base_url, "/", token, saved=name, sort="date"),
        fallback_updated=stored.get("created") or "",
    )
    return atom_feed(head, entries)


def _entry(archive: Archive, found: FoundStory, base_url: str, token: str | None) -> FeedEntry:
    members = found.members or [{"article_id": found.article.id, "first_seen": found.article.first_seen,
                                 "fetched": found.article.fetched, "published": found.article.published,
                                 "relation": "original", "title": found.article.title}]
    original = next((m for m in members if m["relation"] == "original"), members[0])
    story_id = found.membership.get("story_id") or f"s{found.article.id}"
    joined = [m.get("first_seen") or m.get("fetched") for m in members]
    published = [m["published"] for m in members if m.get("published")]
    also = found.also_in()
    summary = found.passage + (f"\n\n{' · '.join(also)}" if also else "")
    return FeedEntry(
        story_id=story_id, title=original.get("title") or found.article.title or "",
        link=link(base_url, f"/story/{quote(story_id, safe='')}", token),
        updated=max(filter(None, joined), default=found.article.fetched or ""),
        published=min(published) if published else None,
        summary=summary, source=found.article.source,
        original_url=web_link(found.article.canonical_url) or web_link(found.article.url),
        tags=archive.tags_of(found.article.id),
    )


def saved_searches_opml(archive: Archive, base_url: str, *, token: str | None = None) -> bytes:
    """OPML of every saved search's feed."""
    feeds = [(item["name"], link(base_url, f"/feeds/{quote(item['name'], safe='')}.atom", token),
              link(base_url, "/", token, saved=item["name"], sort="date"))
             for item in archive.saved_searches()]
    return opml("veille saved searches", feeds)
