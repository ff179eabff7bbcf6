"""The units of work, as values a queue can carry: what to fetch, and what comes back.

A job holds plain values only (strings, a frozenset, the feed's `Entry`): it pickles, so a
worker in another process can run the step it names. What the archive knows of a source (its
validators) is read into the job before it leaves; nothing in a job reaches back into the archive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from veille.models import Article, Entry, ParsedFeed
from veille.net.client import Response


@dataclass(frozen=True)
class FeedJob:
    """Read one source: a feed, a single page watched for changes ("page"), a site's sitemap
    ("sitemap") or a page listing its articles ("listing")."""

    source: str  # the source's name
    url: str
    kind: str = "feed"  # feed, page, sitemap or listing
    language: str | None = None  # the language the source is said to write in, if any
    etag: str | None = None  # validators for a conditional GET (None: fetch in full)
    last_modified: str | None = None
    links: str | None = None  # a listing's article links: a CSS selector or a URL pattern (None: found)
    allow_private: bool = False  # the source's allow_private: where a sitemap index's sitemaps may be


@dataclass(frozen=True)
class PageJob:
    """Fetch, extract and detect the page one feed entry links to."""

    source: str  # the source's name
    url: str  # the entry's link
    entry: Entry
    language: str | None = None  # the source's language, else the feed's (the entry's own comes first)
    robots: bool = True  # ask the site's robots.txt first
    allow: frozenset[str] = frozenset()  # the non-public networks the link may reach (see net allowance)


@dataclass
class Page:
    """What a worker brings back for one entry or page."""

    entry: Entry | None
    url: str
    article: Article | None = None
    error: str | None = None  # why the page itself could not be had
    deferred: bool = False  # not tried now (the host asked to wait, robots.txt unavailable): not a failure
    captures: list[str] = field(default_factory=list)  # the WARC response records of its fetch, hop by hop
    capture_error: str | None = None  # why the page's response could not be kept as WARC (the article is)


@dataclass
class RawPage:
    """A page fetched and not read yet: what the fetch threads hand an NLP worker process.

    With a response, the page is read from it; without, the entry is kept with the feed's own
    text, `reason` saying why the page could not be had."""

    job: FeedJob | PageJob
    entry: Entry | None
    url: str
    at: datetime  # when it was fetched: the article's `fetched`
    response: Response | None = None
    reason: str | None = None


@dataclass
class Fetched:
    """What a worker brings back for one source: the response, and its feed or (a page source) its page."""

    response: Response
    feed: ParsedFeed | None = None
    page: Page | RawPage | None = None
