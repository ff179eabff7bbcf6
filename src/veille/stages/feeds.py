"""A feed body into entries: `parse(body, url, charset) -> ParsedFeed`.

RSS 0.9x/1.0/2.0 (RDF) and Atom go through feedparser, which tolerates the
broken XML real feeds are made of; JSON Feed (which feedparser does not read)
is parsed here. The text is decoded first with the project's rule (HTTP
header, then the document's declaration, then detection), so a Latin-1 feed
that declares nothing still reads right.
"""

from __future__ import annotations

import json
import re
import time
from calendar import timegm
from datetime import datetime, timezone
from html import escape
from urllib.parse import urljoin

import feedparser

from veille.text import times
from veille.text.encoding import decode, drop_xml_encoding
from veille.errors import FeedError
from veille.models import Entry, ParsedFeed


def parse(body: bytes, url: str, http_charset: str | None = None) -> ParsedFeed:
    """Parse a feed; raise FeedError when the body holds no feed at all."""
    if not body.strip():
        raise FeedError("empty body, not a feed")
    text = decode(body, http_charset)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _parse_json_feed(stripped, url)
    return _parse_xml_feed(text, url)


def _parse_xml_feed(text: str, url: str) -> ParsedFeed:
    # Already decoded: hand feedparser UTF-8 and say so, so it does not guess again.
    data = _CHARACTER_REFERENCE.sub(_sound_reference, drop_xml_encoding(text)).encode("utf-8", "replace")
    try:
        parsed = feedparser.parse(
            data,
            response_headers={"content-type": "application/xml; charset=utf-8", "content-location": url},
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except Exception as exc:  # feedparser's lenient parser has its own failures on hostile bytes
        raise FeedError(f"not a feed: unreadable ({type(exc).__name__}: {str(exc)[:120]})") from None
    version = parsed.get("version") or ""
    entries = [_entry_from_feedparser(e, url) for e in parsed.entries]
    problem = _bozo_reason(parsed)
    if not entries and (problem or not version):  # nothing read, and broken: the keeper must hear of it
        raise FeedError(f"not a feed: {problem or 'no RSS, Atom or RDF elements found'}")
    feed = parsed.feed
    return ParsedFeed(
        title=feed.get("title"),
        link=feed.get("link"),
        language=feed.get("language"),
        entries=entries,
        warning=f"feed is not well-formed ({problem}); read what could be read" if problem else None,
    )


_CHARACTER_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def _sound_reference(match: re.Match) -> str:
    """A character reference to a code point no text can hold (a surrogate, past U+10FFFF, NUL)
    becomes U+FFFD, as an HTML parser would make it."""
    value = int(match.group(1), 16) if match.group(1) else int(match.group(2))
    if value == 0 or 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
        return "&#xFFFD;"
    return match.group(0)


def _bozo_reason(parsed) -> str | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    if exc is None or type(exc).__name__ == "CharacterEncodingOverride":
        return None
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def _entry_from_feedparser(item, base: str) -> Entry:
    link = item.get("link")
    if not link:
        for candidate in item.get("links", []):
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    summary = None
    if item.get("content"):
        summary = max((c.get("value", "") for c in item["content"]), key=len) or None
    summary = summary or item.get("summary")
    return Entry(
        url=urljoin(base, link.strip()) if link else None,
        guid=item.get("id") or None,
        title=_one_line(item.get("title")),
        author=_one_line(item.get("author")),
        published=_iso(item.get("published_parsed") or item.get("updated_parsed")),
        summary_html=summary,
        language=(item.get("language") or None),
    )


def _parse_json_feed(text: str, url: str) -> ParsedFeed:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FeedError(f"not a feed: invalid JSON at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith("https://jsonfeed.org/"):
        raise FeedError("not a feed: JSON without a jsonfeed.org version")
    items = data.get("items")
    entries = [e for e in map(lambda i: _json_entry(i, url, data), items if isinstance(items, list) else []) if e]
    return ParsedFeed(title=_text(data.get("title")), link=_text(data.get("home_page_url")),
                      language=_text(data.get("language")), entries=entries)


def _json_entry(item: object, url: str, feed: dict) -> Entry | None:
    """One JSON Feed item; a value of the wrong type is treated as absent, never a crash."""
    if not isinstance(item, dict):
        return None
    link = _text(item.get("url")) or _text(item.get("external_url"))
    authors = item.get("authors") if isinstance(item.get("authors"), list) else [item.get("author")]
    names = [_text(a.get("name")) for a in authors if isinstance(a, dict)]
    try:
        absolute = urljoin(url, link) if link else None
    except ValueError:
        absolute = link
    return Entry(
        url=absolute,
        guid=_text(item.get("id")),
        title=_one_line(_text(item.get("title"))),
        author=_one_line(", ".join(n for n in names if n)),
        published=_iso_text(_text(item.get("date_published")) or _text(item.get("date_modified"))),
        summary_html=_text(item.get("content_html"))
        or _text_as_html(_text(item.get("content_text")) or _text(item.get("summary"))),
        language=_text(item.get("language")) or _text(feed.get("language")),
    )


def _text(value: object) -> str | None:
    """Strings and numbers as text; anything else (null, lists, objects) as absent."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value)


def _text_as_html(text: str | None) -> str | None:
    if not text:
        return None
    return "".join(f"<p>{escape(p)}</p>" for p in str(text).split("\n\n"))


def _one_line(value: str | None) -> str | None:
    if not value:
        return None
    return " ".join(str(value).split()) or None


def _iso(parsed: time.struct_time | None) -> str | None:
    if not parsed:
        return None
    try:
        return times.iso(datetime.fromtimestamp(timegm(parsed), tz=timezone.utc))
    except (OverflowError, ValueError, OSError):
        return None


def _iso_text(value: object) -> str | None:
    if not value:
        return None
    try:
        moment = times.parse(str(value))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return times.iso(moment)
