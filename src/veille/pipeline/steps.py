"""The steps of one source or one page that touch no archive: fetch, parse, extract, detect.

They run in worker threads; what they bring back is written to the archive by the caller."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from veille.config.settings import Source
from veille.errors import BlockedURLError, DeferredError, ExtractError, FeedError, FetchError
from veille.models import Article, Entry, Extracted, ParsedFeed
from veille.net.http import ANY, Fetcher, Response, check_url
from veille.stages import extract as extract_stage
from veille.stages import feeds as feed_stage
from veille.stages import language as language_stage
from veille.text.encoding import looks_like_html
from veille.text.times import Clock, iso
from veille.text.urls import article_id_for_url, canonical_url

logger = logging.getLogger(__name__)

PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
FEED_ACCEPT = (
    "application/rss+xml,application/atom+xml,application/rdf+xml,application/feed+json,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"
)


@dataclass
class Page:
    """What a worker thread brings back for one entry or page."""

    entry: Entry | None
    url: str
    article: Article | None = None
    error: str | None = None  # why the page itself could not be had
    deferred: bool = False  # not tried now (the host asked to wait, robots.txt unavailable): not a failure


def parse_feed(response: Response) -> ParsedFeed:
    """The feed in a response; FeedError says so plainly (`not_a_feed`) when it is a web page instead."""
    try:
        return feed_stage.parse(response.body, response.url, response.charset)
    except FeedError:
        if response.is_html() or looks_like_html(response.body):
            error = FeedError(f"the URL gives an HTML page, not a feed ({response.content_type or 'no type'})")
            error.not_a_feed = True
            raise error from None
        raise


def fetch_entry(source: Source, feed: ParsedFeed, entry: Entry, fetcher: Fetcher, clock: Clock,
                 allow: frozenset[str] = ANY) -> Page:
    """Worker thread: fetch, extract and detect one entry. No archive access here.

    `allow`: the non-public networks the entry's link may reach (see fetch.allowance)."""
    assert entry.url
    try:
        return _fetch_entry_page(source, feed, entry, fetcher, clock, allow)
    except Exception as exc:  # a bug or a library failing on strange input: data, not a crash
        logger.debug("entry failed", exc_info=True, extra={"source": source.name, "url": entry.url})
        return Page(entry, entry.url, error=f"internal error ({type(exc).__name__}: {exc}); please report it")


def _fetch_entry_page(source: Source, feed: ParsedFeed, entry: Entry, fetcher: Fetcher, clock: Clock,
                      allow: frozenset[str]) -> Page:
    assert entry.url
    try:
        check_url(entry.url)
        if source.robots and not fetcher.robots_allow(entry.url, allow):
            return _feed_fallback(source, feed, entry, clock, "page not fetched: disallowed by robots.txt")
        response = fetcher.get(entry.url, accept=PAGE_ACCEPT, allow=allow)
    except DeferredError as exc:
        return Page(entry, entry.url, error=f"page not fetched now: {exc.reason}; tried again next run", deferred=True)
    except BlockedURLError as exc:
        return Page(entry, entry.url, error=f"link not followed: {exc.reason}")
    except FetchError as exc:
        return _feed_fallback(source, feed, entry, clock, f"page not fetched: {exc.summary}")
    return page_from_response(source, entry, entry.url, response, clock, feed)


def page_from_response(
    source: Source, entry: Entry | None, url: str, response: Response, clock: Clock,
    feed: ParsedFeed | None = None,
) -> Page:
    if not response.is_html():
        reason = f"page not fetched: not HTML ({response.content_type or 'no content type'})"
        return _feed_fallback(source, feed, entry, clock, reason) if entry else Page(entry, url, error=reason)
    try:
        extracted = extract_stage.extract(response.text(), response.url)
    except ExtractError as exc:
        reason = f"no article in page: {exc}"
        return _feed_fallback(source, feed, entry, clock, reason) if entry else Page(entry, url, error=reason)
    article = assemble(source, feed, entry, url, extracted, clock, origin="page")
    article.raw = response.body
    article.raw_type = response.content_type or "text/html"
    if response.url != url:
        article.note = f"redirected to {response.url}"
    return Page(entry, url, article=article)


def _feed_fallback(
    source: Source, feed: ParsedFeed | None, entry: Entry | None, clock: Clock, reason: str,
) -> Page:
    """Keep the entry with the feed's own content when its page cannot be had."""
    assert entry and entry.url
    if not entry.summary_html:
        return Page(entry, entry.url, error=reason + "; the feed has no text for it either")
    try:
        extracted = extract_stage.extract_fragment(entry.summary_html)
    except ExtractError:
        return Page(entry, entry.url, error=reason + "; the feed's text for it is empty")
    article = assemble(source, feed, entry, entry.url, extracted, clock, origin="feed")
    article.note = f"{reason}; kept the feed's own text"
    article.raw = entry.summary_html.encode("utf-8")
    return Page(entry, entry.url, article=article, error=reason)


def assemble(
    source: Source, feed: ParsedFeed | None, entry: Entry | None, url: str,
    extracted: Extracted, clock: Clock, *, origin: str,
) -> Article:
    source_lang = (entry.language if entry else None) or source.language or (feed.language if feed else None)
    lang = language_stage.detect(extracted.text, html_lang=extracted.html_lang, source_lang=source_lang)
    return Article(
        id=article_id_for_url(url),
        url=url,
        canonical_url=canonical_url(extracted.canonical_url if _web(extracted.canonical_url) else url),
        source=source.name,
        text=extracted.text,
        title=extracted.title or (entry.title if entry else None),
        author=extracted.author or (entry.author if entry else None),
        published=(entry.published if entry else None) or extracted.published,
        fetched=iso(clock()),
        lang=lang.code,
        lang_confidence=lang.confidence,
        lang_reason=lang.reason,
        lang_shares=lang.shares,
        site_name=extracted.site_name,
        description=extracted.description,
        html_lang=extracted.html_lang,
        origin=origin,
        extractor=extracted.extractor,
        alternates=extracted.alternates,
    )


def _web(url: str | None) -> bool:
    """An http(s) address: a page's canonical link is written by strangers (`javascript:`, `data:`...)."""
    return bool(url) and url.split(":", 1)[0].lower() in ("http", "https")

