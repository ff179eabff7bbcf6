"""The records that travel between stages."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    # Each language's fraction of the text's letters, largest first (language.Language.shares):
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
