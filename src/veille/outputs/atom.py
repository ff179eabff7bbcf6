"""Atom 1.0 feeds (RFC 4287) of saved searches, and the OPML list of them: pure rendering.

The app gathers the stories (app/syndication.py); this module only writes them. Every value is a
stranger's text: XML escaping is the serializer's, characters XML 1.0 cannot hold are dropped,
titles are one line, and links are http(s) only (a `javascript:` address is left out).

    body = atom_feed(FeedHead(...), [FeedEntry(...), ...])
    etag = entity_tag(body)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from xml.etree import ElementTree as ET

from veille.text.urls import web_link

ATOM = "http://www.w3.org/2005/Atom"
# Tag URIs (RFC 4151) for ids that never change: a story keeps its id (dedupe --rebuild included),
# so a feed reader never shows the same story twice as new.
ID_PREFIX = "tag:veille,2025:"
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class FeedEntry:
    """One story in a feed: its original's title, the best passage, where to read it."""

    story_id: str
    title: str
    link: str  # the story page
    updated: str  # when the story last changed (a version joined it), ISO 8601
    published: str | None = None
    summary: str = ""
    source: str = ""
    original_url: str | None = None  # linked as rel="related" when it is http(s)
    tags: list[str] = field(default_factory=list)


@dataclass
class FeedHead:
    name: str  # the saved search's name
    title: str
    subtitle: str
    self_link: str
    html_link: str
    fallback_updated: str  # when no entry says: the saved search's creation


def clean(value: str | None, *, one_line: bool = False) -> str:
    """Text XML 1.0 can hold; on one line for titles and names (a CRLF in a title stays out of headers and lines)."""
    value = _NOT_XML.sub("", value or "")
    return " ".join(value.split()) if one_line else value


def rfc3339(value: str | None) -> str | None:
    """An archive time ("2025-03-01", "2025-03-01T10:00:00Z", with an offset) as Atom writes it, in UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: v for k, v in attributes.items() if v is not None})
    if text is not None:
        child.text = text
    return child


def atom_feed(head: FeedHead, entries: list[FeedEntry]) -> bytes:
    """The feed as UTF-8 bytes, entries in the order given (newest first)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", f"{ID_PREFIX}search:{head.name}")
    _add(feed, "title", clean(head.title, one_line=True))
    _add(feed, "subtitle", clean(head.subtitle, one_line=True))
    times = [t for e in entries for t in (rfc3339(e.updated), rfc3339(e.published)) if t]
    _add(feed, "updated", max(times) if times else rfc3339(head.fallback_updated) or "1970-01-01T00:00:00Z")
    _add(feed, "link", rel="self", type="application/atom+xml", href=head.self_link)
    _add(feed, "link", rel="alternate", type="text/html", href=head.html_link)
    author = _add(feed, "author")
    _add(author, "name", "veille")
    _add(feed, "generator", "veille")
    for entry in entries:
        _entry(feed, entry)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8", xml_declaration=False)


def _entry(feed: ET.Element, entry: FeedEntry) -> None:
    node = _add(feed, "entry")
    _add(node, "id", f"{ID_PREFIX}story:{entry.story_id}")
    _add(node, "title", clean(entry.title, one_line=True) or "(no title)")
    _add(node, "link", rel="alternate", type="text/html", href=entry.link)
    related = web_link(entry.original_url)
    if related:
        _add(node, "link", rel="related", href=related)
    published = rfc3339(entry.published)
    updated = max(filter(None, (rfc3339(entry.updated), published)), default="1970-01-01T00:00:00Z")
    if published:
        _add(node, "published", published)
    _add(node, "updated", updated)
    if entry.source:
        _add(_add(node, "author"), "name", clean(entry.source, one_line=True))
    for tag in entry.tags:
        _add(node, "category", term=clean(tag, one_line=True))
    _add(node, "summary", clean(entry.summary), type="text")


def entity_tag(body: bytes) -> str:
    """A strong ETag of the body: the same stories give the same tag, so a reader polling gets 304."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def opml(title: str, feeds: list[tuple[str, str, str]]) -> bytes:
    """OPML 2.0 listing (name, feed URL, page URL) of each feed, for a feed reader to import at once."""
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = clean(title, one_line=True)
    body = ET.SubElement(root, "body")
    for name, xml_url, html_url in feeds:
        ET.SubElement(body, "outline", type="rss", text=clean(name, one_line=True), title=clean(name, one_line=True),
                      xmlUrl=xml_url, htmlUrl=html_url)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")
