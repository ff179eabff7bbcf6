"""The article inside an HTML page: `extract(html, url) -> Extracted`.

trafilatura finds the main text and the metadata; reader comments are left
out (trafilatura keeps them unless told). What trafilatura does not do, this
module does: it reads `<html lang>`, the canonical link and the hreflang
alternates from the head, takes the title as the article gives it (the `<h1>`,
or the `<title>` without the site name and section trail that pages append),
and repairs broken encodings in every string.

One parse at a time: trafilatura and htmldate parse with module-level lxml
parsers, and two worker threads parsing binary junk at once made libxml2
abort the whole process (about one run in six of the hostile-input test).
`_PARSING` serializes every parse in this module; binary data is refused
before any parser sees it.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from trafilatura.settings import use_config
from lxml import etree

from .encoding import looks_binary, repair
from .errors import ExtractError
from .models import Extracted

EXTRACTOR = f"trafilatura {trafilatura.__version__}"

# Separators pages put between the title and the site name or section.
_TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::|»|«|›|‹|·|•|~|/|:)\s+")
_SLUG = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+){2,}")
_TRAFILATURA_CONFIG = use_config()
# Pages larger than this many elements are not articles (and hostile ones are huge).
_TRAFILATURA_CONFIG.set("DEFAULT", "MAX_TREE_SIZE", "200000")
# trafilatura's timeout uses signals, which only work in the main thread; the
# pipeline extracts in worker threads and bounds the input size instead.
_TRAFILATURA_CONFIG.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")


_PARSING = threading.Lock()


def extract(html: str, url: str | None = None) -> Extracted:
    """Extract the article from `html`; raise ExtractError if there is none."""
    if not html or not html.strip():
        raise ExtractError("empty document")
    if looks_binary(html):
        raise ExtractError("binary data (an image or a file), not a web page")
    with _PARSING:
        return _extract(html, url)


def _extract(html: str, url: str | None) -> Extracted:
    head = _read_head(html, url)
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            include_comments=False,
            include_tables=True,
            with_metadata=True,
            config=_TRAFILATURA_CONFIG,
        )
    except Exception as exc:  # trafilatura raises many kinds on hostile input
        raise ExtractError(f"extraction failed ({type(exc).__name__})") from exc
    if doc is None:
        raise ExtractError("no article text found in the page")
    data = doc if isinstance(doc, dict) else doc.as_dict()
    text = repair((data.get("text") or "").strip())
    if not text:
        raise ExtractError("no article text found in the page")
    site_name = _clean(data.get("sitename"))
    title = best_title(
        h1=head["h1"],
        og_title=head["og_title"],
        html_title=head["title"],
        extracted=_clean(data.get("title")),
        site_name=site_name,
        url=url,
    )
    return Extracted(
        text=_without_leading_title(text, title),
        title=title,
        author=_clean(data.get("author")),
        published=data.get("date") or None,
        site_name=site_name,
        description=_clean(data.get("description")),
        html_lang=head["lang"],
        canonical_url=head["canonical"],
        alternates=head["alternates"],
        extractor=EXTRACTOR,
    )


def best_title(
    *,
    h1: str | None,
    og_title: str | None,
    html_title: str | None,
    extracted: str | None,
    site_name: str | None,
    url: str | None = None,
) -> str | None:
    """The title as the article gives it, without site name or section trail.

    The page's `<h1>` wins when a head title confirms it (they begin alike, or
    it is one of the head title's parts): that is the article's own title.
    Otherwise the head titles are taken in turn, cleaned of the site name.
    Anything that is the site's name (equal to it, or to the domain), or a URL
    slug ("adac-kindersitztest-herbst-2018"), is never a title.
    """

    def usable(title: str | None) -> bool:
        return bool(title) and not _site_like(title, site_name, url) and not _SLUG.fullmatch(title)

    # og:title is what the publisher chose for this article; the <title> often
    # starts with the blog's name ("Blog: Post"), so og:title confirms first.
    judge = og_title if og_title and not _SLUG.fullmatch(og_title) else html_title
    if usable(h1):
        if judge is None:
            return h1
        h1_norm = _norm(h1)
        parts = [_norm(p) for p in _TITLE_SEPARATORS.split(judge)]
        if _norm(judge).startswith(h1_norm) or h1_norm in parts:
            return h1
    for candidate in (og_title, html_title, extracted):
        if candidate and not _SLUG.fullmatch(candidate):
            cleaned = strip_site_name(candidate, site_name, url)
            if usable(cleaned):
                return cleaned
    return h1 if usable(h1) else (extracted or html_title or h1)


def strip_site_name(title: str, site_name: str | None, url: str | None = None) -> str:
    """'Title | Section | Site' -> 'Title' when the trailing parts are site or section."""
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    # Drop trailing parts that are the site name; once one was, the short parts
    # before it are a section trail ("Title - Tech - Le Monde").
    dropped_site = False
    while len(parts) > 1:
        if _site_like(parts[-1], site_name, url):
            parts.pop()
            dropped_site = True
            continue
        if dropped_site and len(parts[-1]) <= 25 and len(parts[0]) > len(parts[-1]) * 2:
            parts.pop()
            continue
        break
    # A leading site name ("Site | Title", "Site » Title") is also common.
    while len(parts) > 1 and _site_like(parts[0], site_name, url):
        parts.pop(0)
    kept = title
    if len(parts) < len(_TITLE_SEPARATORS.split(title)):
        # Rebuild from the original string so the separators inside the title survive.
        kept = _rejoin(title, parts)
    return kept.strip()


def _site_like(text: str, site_name: str | None, url: str | None) -> bool:
    """Is `text` the site's name: equal to (or part of) the site name, or the domain?"""
    norm = _norm(text)
    site = _norm(site_name or "")
    if site and (norm == site or (len(norm) >= 3 and norm in site)):
        return True
    try:
        host = (urlsplit(url).hostname or "") if url else ""
    except ValueError:  # "http://[::1": no host to compare with
        host = ""
    if "." not in host or host.replace(".", "").isdigit():
        return False  # localhost, bare test hosts and IP addresses say nothing about the site
    if re.search(r"(?<![\w.-])" + re.escape(host.removeprefix("www.")) + r"(?![\w-])", norm):
        return True  # "love-hina.ch News"
    label = _alnum(host.removeprefix("www.").rsplit(".", 1)[0])
    return bool(label) and _alnum(text) == label  # "RS Ingenieure" on rs-ingenieure.de


def _alnum(value: str) -> str:
    return re.sub(r"[\W_]+", "", value.lower())


def _rejoin(title: str, parts: list[str]) -> str:
    start = title.find(parts[0])
    end = title.rfind(parts[-1]) + len(parts[-1])
    return title[start:end] if start >= 0 and end > start else " ".join(parts)


def _without_leading_title(text: str, title: str | None) -> str:
    """trafilatura often repeats the <h1> as the first line; the title is kept apart."""
    first, _, rest = text.partition("\n")
    if title and rest.strip() and _norm(first) == _norm(title):
        return rest.lstrip("\n")
    return text


def _read_head(html: str, url: str | None) -> dict:
    found: dict = {"lang": None, "canonical": None, "alternates": {}, "title": None, "og_title": None, "h1": None}
    try:
        tree = lxml.html.document_fromstring(html.encode("utf-8", errors="replace"))
    except (etree.ParserError, ValueError):
        return found
    root_lang = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    found["lang"] = root_lang.strip() if root_lang and root_lang.strip() else None
    for link in tree.iterfind(".//link"):
        rel = (link.get("rel") or "").lower().split()
        href = (link.get("href") or "").strip()
        if not href:
            continue
        try:
            absolute = urljoin(url or "", href)
        except ValueError:  # a malformed href is the page's problem, not the article's
            continue
        if "canonical" in rel and found["canonical"] is None:
            found["canonical"] = absolute
        elif "alternate" in rel and link.get("hreflang"):
            found["alternates"][link.get("hreflang").strip().lower()] = absolute
    title = tree.find(".//title")
    if title is not None:
        found["title"] = _clean(title.text_content())
    for meta in tree.iterfind(".//meta"):
        if (meta.get("property") or meta.get("name") or "").lower() in ("og:title", "twitter:title"):
            found["og_title"] = _clean(meta.get("content"))
            break
    h1s = [h for h in tree.iterfind(".//h1")]
    article_h1 = [h for h in h1s if any(a.tag in ("article", "main") for a in h.iterancestors())]
    chosen = article_h1 or h1s
    if len(chosen) >= 1 and (article_h1 or len(h1s) == 1):
        found["h1"] = _clean(chosen[0].text_content())
    return found


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = repair(" ".join(value.split()))
    return value or None


def _norm(value: str) -> str:
    return " ".join(value.lower().split())


_BLOCKS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "br")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def extract_fragment(html: str) -> Extracted:
    """Text of an HTML fragment, such as a feed entry's content, paragraph by paragraph."""
    if not html or not html.strip():
        raise ExtractError("empty fragment")
    try:  # characters XML cannot hold (a JSON feed's "\u0001") make lxml refuse the whole fragment
        with _PARSING:
            root = lxml.html.fragment_fromstring(_CONTROL.sub(" ", html), create_parent="div")
    except (etree.LxmlError, ValueError, AssertionError) as exc:  # lxml asserts on "<html><head><c"
        raise ExtractError(f"unreadable HTML fragment ({type(exc).__name__}: {exc})") from None
    for bad in root.xpath(".//script|.//style|.//noscript"):
        bad.drop_tree()
    for block in root.iter(*_BLOCKS):
        block.tail = "\n\n" + (block.tail or "")
        if block.tag == "br":
            block.tail = "\n" + block.tail.lstrip("\n")
    lines = [" ".join(p.split()) for p in root.text_content().split("\n\n")]
    text = repair("\n".join(p for p in lines if p))
    if not text:
        raise ExtractError("no text in the fragment")
    return Extracted(text=text, extractor="veille feed content")
