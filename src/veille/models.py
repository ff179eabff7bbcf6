"""The records that travel between stages."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone


IMPORT_SOURCE = "import"  # the source name of articles imported from files


def text_hash(text: str) -> str:
    """An article's content hash: of its text with whitespace normalised (the same words give the
    same hash). The archive stores it; `veille verify` recomputes it."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entity:
    """A name in an article: `article.text[start:end] == text`, always."""

    text: str
    label: str  # PERSON | ORG | LOC | MISC
    start: int
    end: int
    key: str  # joins spellings: case, accents, articles folded; aliases joined
    origin: str = "model"  # model | gazetteer | archive


@dataclass
class Extracted:
    """What a document says about itself, from `extract` or `plaintext.clean`."""

    text: str
    title: str | None = None
    author: str | None = None
    published: str | None = None  # ISO 8601 date or datetime
    site_name: str | None = None
    description: str | None = None
    html_lang: str | None = None  # the page's own <html lang>, a hint only
    canonical_url: str | None = None  # <link rel=canonical>, absolute
    alternates: dict[str, str] = field(default_factory=dict)  # hreflang -> url
    extractor: str = ""  # which tool produced it, for provenance


@dataclass
class Entry:
    """One item of a feed."""

    url: str | None
    guid: str | None
    title: str | None = None
    author: str | None = None
    published: str | None = None
    summary_html: str | None = None  # the feed's own content, used when the page cannot be had
    language: str | None = None


@dataclass
class ParsedFeed:
    title: str | None
    link: str | None
    language: str | None
    entries: list[Entry]
    warning: str | None = None  # the feed parsed, but was not well-formed


@dataclass
class Article:
    """One archived article, as stored."""

    id: str
    url: str
    source: str
    text: str
    canonical_url: str | None = None
    title: str | None = None
    author: str | None = None
    published: str | None = None
    fetched: str | None = None
    lang: str = "und"
    lang_confidence: float = 0.0
    lang_reason: str = ""
    # Each language's fraction of the text's letters (a Han, kana or Hangul character counting as
    # three), largest first (language.Language.shares):
    # (("es", 0.52), ("en", 0.48)) is a Spanish page left half in English. Empty when the text
    # is "und", or when the article was archived before veille measured shares (schema 8).
    lang_shares: tuple[tuple[str, float], ...] = ()
    site_name: str | None = None
    description: str | None = None
    html_lang: str | None = None
    origin: str = "page"  # page | feed | file
    note: str | None = None  # why the article is not what it would normally be (e.g. feed text only)
    text_hash: str = ""
    raw: bytes | None = None  # the document as received, before extraction
    raw_type: str = "text/html"
    extractor: str = ""
    alternates: dict[str, str] = field(default_factory=dict)
    revision: int = 1
    first_seen: str | None = None
    updated: str | None = None
    entities: list[Entity] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    tagger: str | None = None  # what found the entities and tags ("model fr_core_news_sm 3.8.0; ...")
    tagged_at: str | None = None


@dataclass(frozen=True)
class DedupeSettings:
    """How stories are joined (feeds.yaml's `dedupe:`): the thresholds of `stages.dedupe`.

    Precision first. copy_jaccard was chosen on bench/eval/pairs; the translation thresholds on
    the dev split of bench/eval/translations (a grid, articles arriving one by one, keeping the
    highest recall with no false join there and none new on bench/eval/pairs), never on its
    held-out split (see README).
    """

    copy_jaccard: float = 0.70  # estimated Jaccard of 5-shingles for a near copy
    # Lowered from 0.45 / 0.30 / 3 once a story holding a version in an article's language stopped
    # taking it as a translation (the false joins those values kept out); the grid's false joins
    # on dev began at 0.25 / 0.16.
    translation_score: float = 0.30  # weighted share of the poorer side's anchors that the other has too
    translation_cover: float = 0.20  # ... and of the richer side's: both must share much, not one
    min_shared_anchors: int = 2  # anchors that weigh something (see common_anchor)
    length_ratio: float = 1.4  # longest / shortest text_size, beyond which no translation
    window_days: int = 400  # candidates published this far apart are not compared
    # A language holding this share of one text, and at most a quarter as much of the other: a translation.
    # Just above the largest second-language share measured on a wholly translated page of
    # bench/eval/translations/dev (0.148: command names, code): below it, a share is noise.
    second_language: float = 0.15
    common_anchor: float = 0.20  # an anchor held by more than this share of the archive is no evidence
    merge_overlap: float = 0.7  # a second link joins two stories only if its weaker overlap is this strong


@dataclass(frozen=True)
class Health:
    """A source's feed health, as the archive keeps it; stages.health computes the next one."""

    score: float = 0.0
    consecutive_failures: int = 0
    failing_since: str | None = None
    paused_since: str | None = None
    next_attempt: str | None = None  # ISO time before which the scheduler leaves the source alone
    error_kind: str | None = None
    not_modified_streak: int = 0

    @property
    def paused(self) -> bool:
        return self.paused_since is not None


@dataclass
class Exchange:
    """One HTTP request and its response, as they crossed the wire.

    `body` is the payload as received: its Content-Encoding (gzip...) kept, its chunking (which
    the HTTP library removes) not; such a response's Transfer-Encoding header is kept under
    X-Archive-Orig-Transfer-Encoding, as pywb does, so a replay does not de-chunk it again."""

    url: str
    method: str
    target: str  # the request line's target: path and query
    request_headers: list[tuple[str, str]]
    http_version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    peer: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
