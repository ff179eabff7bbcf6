"""Sitemaps: a site's own list of its pages, for sites without a feed.

    parse(body, url) -> Sitemap     a urlset's entries (newest first) or an index's child sitemaps

Reads the three kinds a news or municipal site publishes: a `<urlset>` (sitemaps.org), a
`<sitemapindex>` of further sitemaps, and a Google News sitemap (`news:publication_date`,
`news:title`, `news:language` on each URL). Gzipped sitemaps (`sitemap.xml.gz`) are unpacked.

Each entry's key is its URL and its `lastmod`, so a page the site says has changed is fetched
again (a new revision) and one it has not is never fetched twice.

Bounded as the protocol bounds a sitemap: 50,000 URLs and 50 MB unpacked per file, read as a
stream and stopped there; a document that declares entities (the "billion laughs" bomb) or
that is not a sitemap is refused with its reason (FeedError), never expanded.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import timezone
from io import BytesIO

from lxml import etree

from veille.errors import FeedError
from veille.models import Entry
from veille.text import times

MAX_URLS = 50_000  # per sitemap file: the protocol's own limit
MAX_BYTES = 50 * 1000**2  # per sitemap file once unpacked: the protocol's own limit
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS = "http://www.google.com/schemas/sitemap-news/0.9"
_ENTITY = re.compile(rb"<!ENTITY", re.I)
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass
class Sitemap:
    entries: list[Entry] = field(default_factory=list)  # a urlset's pages, newest first
    children: list[tuple[str, str | None]] = field(default_factory=list)  # an index's (sitemap URL, lastmod)
    warning: str | None = None

    @property
    def is_index(self) -> bool:
        return bool(self.children)


def looks_like_sitemap(body: bytes) -> bool:
    head = unpack(body, max_bytes=64_000, partial=True)[:4000]
    return b"<urlset" in head or b"<sitemapindex" in head


def unpack(body: bytes, *, max_bytes: int = MAX_BYTES, partial: bool = False) -> bytes:
    """A gzipped sitemap's XML (anything else as it is), refused past `max_bytes` unpacked."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        if partial:
            return b""
        raise FeedError(f"not a sitemap: gzip that does not unpack ({exc})") from None
    if len(data) > max_bytes and not partial:
        raise FeedError(f"sitemap refused: over {max_bytes // 1000**2} MB unpacked (the protocol's limit; "
                        "a sitemap bomb?)")
    return data[:max_bytes]


def parse(body: bytes, url: str) -> Sitemap:
    """The sitemap in `body` (plain or gzipped); FeedError says why when there is none."""
    data = unpack(body)
    if not data.strip():
        raise FeedError("empty body, not a sitemap")
    if _ENTITY.search(data):
        raise FeedError("sitemap refused: it declares XML entities (a sitemap never needs them; an XML bomb?)")
    found = Sitemap()
    urls = 0
    root_seen = False
    try:
        for event, element in etree.iterparse(BytesIO(data), events=("start", "end"), resolve_entities=False,
                                              no_network=True, load_dtd=False, huge_tree=False, recover=False):
            name = etree.QName(element).localname if isinstance(element.tag, str) else ""
            if event == "start":
                if not root_seen:
                    root_seen = True
                    if name not in ("urlset", "sitemapindex"):
                        raise FeedError(f"not a sitemap: its root element is <{name}>, not <urlset> or <sitemapindex>")
                continue
            if name == "url":
                entry = _entry(element)
                if entry is not None:
                    found.entries.append(entry)
                    urls += 1
            elif name == "sitemap":
                loc = _text(element, "loc")
                if loc and loc.startswith(("http://", "https://")):
                    found.children.append((loc, _date(_text(element, "lastmod"))))
                    urls += 1
            else:
                continue
            element.clear(keep_tail=False)
            while element.getprevious() is not None:  # free what was read: a stream, not a tree
                del element.getparent()[0]
            if urls >= MAX_URLS:
                found.warning = f"the sitemap lists over {MAX_URLS:,} URLs (the protocol's limit): read the first {MAX_URLS:,}"
                break
    except etree.XMLSyntaxError as exc:
        if not (found.entries or found.children):
            raise FeedError(f"not a sitemap: unreadable XML ({str(exc)[:120]})") from None
        found.warning = f"the sitemap is not well-formed ({str(exc)[:80]}); read what came before"
    if not root_seen:
        raise FeedError("not a sitemap: no XML elements")
    newest_first(found.entries)
    return found


def _entry(element) -> Entry | None:
    loc = _text(element, "loc")
    if not loc or not loc.startswith(("http://", "https://")):
        return None
    lastmod = _date(_text(element, "lastmod"))
    news = _child(element, "news", NEWS)
    published = title = language = None
    if news is not None:
        published = _date(_text(news, "publication_date", NEWS))
        title = _text(news, "title", NEWS)
        publication = _child(news, "publication", NEWS)
        if publication is not None:
            language = (_text(publication, "language", NEWS) or "").lower() or None
    # The key: a page whose lastmod changes is a new entry, fetched again; the same lastmod, never.
    guid = f"{loc} {lastmod}" if lastmod else loc
    return Entry(url=loc, guid=guid, title=title, published=published, language=language)


def newest_first(entries: list[Entry]) -> None:
    """Sort entries in place by publication date, else lastmod, newest first; undated ones last,
    in the order they were listed (the sort is stable)."""
    entries.sort(key=lambda e: e.published or _lastmod(e) or "", reverse=True)


def _lastmod(entry: Entry) -> str | None:
    return entry.guid.rsplit(" ", 1)[1] if entry.guid and " " in entry.guid else None


def _child(element, name: str, namespace: str = SITEMAP):
    found = element.find(f"{{{namespace}}}{name}")
    if found is None and namespace == SITEMAP:
        found = element.find(name)  # sitemaps written without their namespace
    return found


def _text(element, name: str, namespace: str = SITEMAP) -> str | None:
    child = _child(element, name, namespace)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _date(value: str | None) -> str | None:
    """A W3C datetime (2026-03, 2026-03-01, 2026-03-01T08:00+01:00) in UTC as veille writes
    times (2026-03-01T07:00:00Z), or None if it is none."""
    value = (value or "").strip()
    if not _DATE.match(value):
        return None
    if re.fullmatch(r"\d{4}(-\d{2})?", value):
        value = (value + "-01-01")[:10]
    try:
        moment = times.parse(value.replace(" ", "T"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return times.iso(moment)
