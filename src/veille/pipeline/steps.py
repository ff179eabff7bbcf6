"""The steps of one source or one page, which touch no archive: fetch, parse, extract, detect, tag.

    fetch_feed(FeedJob, client) -> Fetched      the response, its feed (or, a page source, its page)
    fetch_page(PageJob, client) -> Page         the entry's page, extracted, its language detected
    read_page(RawPage) -> Page                  the extracting and detecting half, for a worker process
    process(pages, taggers) -> articles         entities and topics, a batch at once

The local runner calls them in its thread pool; a queue worker can call them with the jobs it
is handed. What they bring back is written to the archive by the caller."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from veille.errors import BlockedURLError, DeferredError, ExtractError, FeedError, FetchError
from veille.models import Article, Entry, Extracted, ParsedFeed
from veille.net.client import Fetcher, Response
from veille.net.guard import allowance, check_url
from veille.pipeline.jobs import FeedJob, Fetched, Page, PageJob, RawPage
from veille.pipeline.tagging import Taggers
from veille.stages import extract as extract_stage
from veille.stages import feeds as feed_stage
from veille.stages import language as language_stage
from veille.stages import listing as listing_stage
from veille.stages import sitemaps as sitemap_stage
from veille.text.encoding import looks_like_html
from veille.text.times import Clock, iso, utcnow
from veille.text.urls import article_id_for_url, canonical_url

logger = logging.getLogger(__name__)

PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
FEED_ACCEPT = (
    "application/rss+xml,application/atom+xml,application/rdf+xml,application/feed+json,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"
)


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


def fetch_feed(job: FeedJob, client: Fetcher, clock: Clock = utcnow, *, read: bool = True) -> Fetched:
    """Worker: fetch one source and parse its feed (or, a page source, extract its page; with
    `read` False, its page comes back raw, to be read by an NLP worker process)."""
    accept = {"feed": FEED_ACCEPT, "sitemap": SITEMAP_ACCEPT}.get(job.kind, PAGE_ACCEPT)
    response = client.get(job.url, etag=job.etag, last_modified=job.last_modified, accept=accept)
    if response.not_modified:
        return Fetched(response)
    if job.kind == "page":
        raw = RawPage(job, None, job.url, clock(), response)
        return Fetched(response, page=read_page(raw) if read else raw)
    if job.kind == "sitemap":
        return Fetched(response, feed=read_sitemap(job, client, response))
    if job.kind == "listing":
        return Fetched(response, feed=read_listing(job, response))
    return Fetched(response, feed=parse_feed(response))


SITEMAP_ACCEPT = "application/xml,text/xml;q=0.9,application/gzip;q=0.8,*/*;q=0.5"
MAX_SITEMAPS = 200  # child sitemaps read per pass: newest first by their lastmod, else the last listed first
MAX_SITEMAP_DEPTH = 2  # an index of indexes at most; the protocol allows no nesting at all


def read_sitemap(job: FeedJob, client: Fetcher, response: Response) -> ParsedFeed:
    """A sitemap source's pages as a feed's entries: a urlset's, or those of an index's sitemaps
    (MAX_SITEMAPS a pass, MAX_SITEMAP_DEPTH deep). A child that fails is a warning. The sitemaps
    an index names are written by the site: they may reach what its feed's links may (the public
    internet, or the index's own kind of network), as a feed's links."""
    top = sitemap_stage.parse(response.body, response.url)
    allow = allowance(response, job.allow_private)
    entries, problems = list(top.entries), [top.warning] if top.warning else []
    queue = [(url, 1) for url in _newest_first(top.children)]
    read = 0
    seen = {response.url}
    while queue and read < MAX_SITEMAPS:
        url, depth = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        if depth > MAX_SITEMAP_DEPTH:
            problems.append(f"{url}: sitemap index nested over {MAX_SITEMAP_DEPTH} deep, not read")
            continue
        read += 1
        try:
            check_url(url)
            child = sitemap_stage.parse(client.get(url, accept=SITEMAP_ACCEPT, allow=allow).body, url)
        except (FetchError, FeedError) as exc:
            problems.append(f"{url}: {getattr(exc, 'summary', None) or exc}")
            continue
        entries.extend(child.entries)
        queue.extend((u, depth + 1) for u in _newest_first(child.children))
        if child.warning:
            problems.append(f"{url}: {child.warning}")
    left = len([u for u, _ in queue if u not in seen])
    if left:
        problems.append(f"{left} older sitemaps not read (at most {MAX_SITEMAPS} a pass, the newest by lastmod, "
                        "else the last listed)")
    sitemap_stage.newest_first(entries)  # the sitemaps' entries together
    warning = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
    return ParsedFeed(title=None, link=response.url, language=None, entries=entries, warning=warning or None)


def _newest_first(children: list[tuple[str, str | None]]) -> list[str]:
    """An index's sitemaps, newest first: by lastmod, then the undated ones last listed first
    (a CMS lists its monthly sitemaps oldest first)."""
    dated = sorted((c for c in children if c[1]), key=lambda c: c[1], reverse=True)
    return [url for url, _ in dated] + [url for url, lastmod in reversed(children) if not lastmod]


def read_listing(job: FeedJob, response: Response) -> ParsedFeed:
    """A listing page's article links as a feed's entries."""
    if not response.is_html() and not looks_like_html(response.body):
        raise FeedError(f"the listing page is not HTML ({response.content_type or 'no content type'})")
    found = listing_stage.links(response.text(), response.url, job.links)
    return ParsedFeed(title=found.title, link=response.url, language=None, entries=found.entries,
                      warning=found.warning)


def fetch_page(job: PageJob, client: Fetcher, clock: Clock = utcnow, *, read: bool = True) -> Page | RawPage:
    """Worker: fetch, extract and detect the page of one entry. No archive access here. With
    `read` False, only fetch: the page comes back raw, for an NLP worker process to read.

    An error comes back as a page that says why: the entry is data, never a crash."""
    try:
        raw = _fetch_page(job, client, clock)
        return read_page(raw) if read and isinstance(raw, RawPage) else raw
    except Exception as exc:  # a bug or a library failing on strange input: data, not a crash
        logger.debug("entry failed", exc_info=True, extra={"source": job.source, "url": job.url})
        return Page(job.entry, job.url, error=f"internal error ({type(exc).__name__}: {exc}); please report it")


def _fetch_page(job: PageJob, client: Fetcher, clock: Clock) -> Page | RawPage:
    entry = job.entry
    try:
        check_url(job.url)
        if job.robots and not client.robots_allow(job.url, job.allow):
            return RawPage(job, entry, job.url, clock(), reason="page not fetched: disallowed by robots.txt")
        response = client.get(job.url, accept=PAGE_ACCEPT, allow=job.allow)
    except DeferredError as exc:
        return Page(entry, job.url, error=f"page not fetched now: {exc.reason}; tried again next run", deferred=True)
    except BlockedURLError as exc:
        return Page(entry, job.url, error=f"link not followed: {exc.reason}")
    except FetchError as exc:
        return RawPage(job, entry, job.url, clock(), reason=f"page not fetched: {exc.summary}")
    return RawPage(job, entry, job.url, clock(), response)


def read_page(raw: RawPage) -> Page:
    """Extract and detect a fetched page (or keep the feed's text for it): CPU work, no network.

    Run by the fetch thread, or by an NLP worker process; an error comes back as a page that says why."""
    clock = StoppedClock(raw.at)
    try:
        if raw.response is None:
            assert raw.reason is not None
            return _feed_fallback(raw.job, raw.entry, clock, raw.reason)
        return page_from_response(raw.job, raw.entry, raw.url, raw.response, clock)
    except Exception as exc:  # a bug or a library failing on strange input: data, not a crash
        logger.debug("entry failed", exc_info=True, extra={"source": raw.job.source, "url": raw.url})
        return Page(raw.entry, raw.url, error=f"internal error ({type(exc).__name__}: {exc}); please report it")


@dataclass(frozen=True)
class StoppedClock:
    """A clock stopped at the moment a page was fetched (it pickles, unlike most clocks)."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


def process(pages: Sequence[Page], taggers: Taggers) -> list[Article]:
    """Tag the articles of fetched pages, together (the models read a batch at once); returns them."""
    articles = [page.article for page in pages if page.article is not None]
    taggers.tag(articles)
    return articles


def page_from_response(job: FeedJob | PageJob, entry: Entry | None, url: str, response: Response,
                       clock: Clock) -> Page:
    page = _page_from_response(job, entry, url, response, clock)
    page.captures = list(response.captures)  # what the server sent, kept whatever became of it
    page.capture_error = response.capture_error
    return page


def _page_from_response(job: FeedJob | PageJob, entry: Entry | None, url: str, response: Response,
                        clock: Clock) -> Page:
    if not response.is_html():
        reason = f"page not fetched: not HTML ({response.content_type or 'no content type'})"
        return _feed_fallback(job, entry, clock, reason) if entry else Page(entry, url, error=reason)
    try:
        extracted = extract_stage.extract(response.text(), response.url)
    except ExtractError as exc:
        reason = f"no article in page: {exc}"
        return _feed_fallback(job, entry, clock, reason) if entry else Page(entry, url, error=reason)
    article = assemble(job.source, job.language, entry, url, extracted, clock, origin="page")
    article.raw = response.body
    article.raw_type = response.content_type or "text/html"
    if response.url != url:
        article.note = f"redirected to {response.url}"
    return Page(entry, url, article=article)


def _feed_fallback(job: FeedJob | PageJob, entry: Entry | None, clock: Clock, reason: str) -> Page:
    """Keep the entry with the feed's own content when its page cannot be had."""
    assert entry and entry.url
    if not entry.summary_html:
        return Page(entry, entry.url, error=reason + "; the feed has no text for it either")
    try:
        extracted = extract_stage.extract_fragment(entry.summary_html)
    except ExtractError:
        return Page(entry, entry.url, error=reason + "; the feed's text for it is empty")
    article = assemble(job.source, job.language, entry, entry.url, extracted, clock, origin="feed")
    article.note = f"{reason}; kept the feed's own text"
    article.raw = entry.summary_html.encode("utf-8")
    return Page(entry, entry.url, article=article, error=reason)


def assemble(
    source: str, language: str | None, entry: Entry | None, url: str,
    extracted: Extracted, clock: Clock, *, origin: str,
) -> Article:
    """An article from extracted text; `language` is what the source (or its feed) says it writes in."""
    source_lang = (entry.language if entry else None) or language
    title = extracted.title or (entry.title if entry else None)
    lang = language_stage.detect(extracted.text, html_lang=extracted.html_lang, source_lang=source_lang, title=title)
    return Article(
        id=article_id_for_url(url),
        url=url,
        canonical_url=canonical_url(extracted.canonical_url if _web(extracted.canonical_url) else url),
        source=source,
        text=extracted.text,
        title=title,
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

