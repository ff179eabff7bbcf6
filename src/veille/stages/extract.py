"""The article inside an HTML page: `extract(html, url) -> Extracted`.

trafilatura finds the main text and the metadata; reader comments are left
out (trafilatura keeps them unless told). What trafilatura does not do, this
module does: it reads `<html lang>`, the canonical link and the hreflang
alternates from the head, takes the title as a reader sees it above the
article (the page heading that og:title or `<title>` confirms, logos left
out; else the head title without the site name and section trail that pages
append), and repairs broken encodings in every string.

One parse at a time: trafilatura and htmldate parse with module-level lxml
parsers, and two worker threads parsing binary junk at once made libxml2
abort the whole process (about one run in six of the hostile-input test).
`_PARSING` serializes every parse in this module; binary data is refused
before any parser sees it.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from trafilatura.settings import use_config
from lxml import etree

from veille.text.encoding import looks_binary, repair
from veille.errors import ExtractError
from veille.models import Extracted

EXTRACTOR = f"trafilatura {trafilatura.__version__}"

# Separators pages put between the title and the site name or section.
_TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::|»|«|›|‹|·|•|~|/|:)\s+")
_SLUG = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+){2,}")
# Headings and head titles are compared with quotes, dashes, case and spacing folded:
# the <h1> has ‘curly’ quotes where og:title has 'straight' ones.
_QUOTES = re.compile(r"\s*['\"‘’‚‛“”„‟«»‹›´`]\s*")
_DASHES = re.compile(r"[‐‑‒–—―−]")
# Words, and one character each in scripts written without spaces (CJK, Thai, Burmese).
_NO_SPACES = "\u0e00-\u0e7f\u1000-\u109f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORDS = re.compile(rf"[{_NO_SPACES}]|[^\W{_NO_SPACES}]+")
# Share of words two wordings of one headline have in common, at least (of the longer one).
_SAME_WORDS = 0.6
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
    if site_name and not head["site_declared"] and _fold(site_name) == _fold(head["twitter_title"] or ""):
        # trafilatura falls back on the page's last twitter:* tag for the site name, often twitter:title
        site_name = None
    title = best_title(
        h1=head["h1"],
        og_title=head["og_title"],
        html_title=head["title"],
        extracted=_clean(data.get("title")),
        site_name=site_name,
        url=url,
        headings=head["headings"],
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
    headings: Sequence[str] = (),
) -> str | None:
    """The title as the article gives it, without site name or section trail.

    The article's headline is a heading of the page: `h1` (the `<h1>` inside
    `<article>` or `<main>`, or the page's only one), then the other
    `headings` in page order (other `<h1>`s, then headings that link to the
    page itself, as blogs write their post titles). The first one a head title
    confirms wins: the same words as og:title or `<title>`, the start of one of
    them, one of their parts, or nearly the same words (the head title worded
    for search engines, or with a kicker such as "Analysis:"). A lone `h1` with
    no head title to check it against is taken as it is. Otherwise the head
    titles are taken in turn, cleaned of the site name. Anything that is the
    site's name (equal to it, or to the domain), or a URL slug
    ("adac-kindersitztest-herbst-2018"), is never a title.
    """

    def usable(title: str | None) -> bool:
        return bool(title) and not _site_like(title, site_name, url) and not _SLUG.fullmatch(title)

    og = og_title if og_title and not _SLUG.fullmatch(og_title) else None
    if usable(h1) and og is None and html_title is None:
        return h1

    def site_part(part: str) -> bool:
        return _site_like(part, site_name, url) or _site_section(part, site_name, url)

    candidates = [h for h in dict.fromkeys((h1, *headings)) if usable(h)]
    for loose in (False, True):  # the exact wording first, anywhere on the page; then nearly the same words
        for heading in candidates:
            if _confirmed(heading, og, html_title, loose, site_part):
                return heading
    for candidate in (og_title, html_title, extracted):
        if candidate and not _SLUG.fullmatch(candidate):
            cleaned = strip_site_name(candidate, site_name, url)
            if usable(cleaned):
                return cleaned
    return h1 if usable(h1) else (extracted or html_title or h1)


def _confirmed(heading: str, og_title: str | None, html_title: str | None, loose: bool,
               site_part: Callable[[str], bool]) -> bool:
    """Does og:title or the <title> say this heading is the article's headline?"""
    if og_title and _echoes(og_title, heading, loose, site_part):
        return True
    if not html_title or not _echoes(html_title, heading, loose, site_part):
        return False
    # "Blog: Post" in <title> with "Post" in og:title: the heading is the blog's name.
    rest = _fold(html_title).removeprefix(_fold(heading))
    return not (og_title and rest != _fold(html_title) and _fold(og_title) in rest)


def _echoes(head_title: str, heading: str, loose: bool, site_part: Callable[[str], bool]) -> bool:
    """The heading is the head title, its start, or one of its parts; `loose`: or nearly its words.

    The parts that are the site's name confirm nothing: a logo <h1> "ประชาไท" is not the
    headline of "ผล DNA … | ประชาไท Prachatai.com".
    """
    whole, mine = _fold(head_title), _fold(heading)
    if whole == mine or (whole.startswith(mine) and not whole[len(mine)].isalnum()):
        return True
    parts = [_fold(p) for p in _TITLE_SEPARATORS.split(head_title) if not site_part(p)]
    if mine in parts:
        return True
    return loose and any(_same_words(mine, p) for p in (*parts, " ".join(parts)))


def _same_words(a: str, b: str) -> bool:
    """Most words in common: 'X, Warns Scientist Y' and 'X Says Y', or 'Analysis: X' and 'X'.

    Three words at least: two short titles one word apart ("Ear Candy allert", "Ear Candy!") differ.
    """
    wa, wb = set(_WORDS.findall(a)), set(_WORDS.findall(b))
    common = len(wa & wb)
    return common >= 3 and common >= _SAME_WORDS * max(len(wa), len(wb))


def strip_site_name(title: str, site_name: str | None, url: str | None = None) -> str:
    """'Title | Section | Site' -> 'Title' when the trailing parts are site or section."""
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    # Drop trailing parts that are the site name; once one was, the short parts
    # before it are a section trail ("Title - Tech - Le Monde").
    dropped_site = False
    while len(parts) > 1:
        if _site_like(parts[-1], site_name, url) or _site_section(parts[-1], site_name, url):
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


def _site_section(text: str, site_name: str | None, url: str | None) -> bool:
    """A section of the site named after it: 'CNN Politics' on cnn.com, 'TIME NewsFeed' on time.com."""
    words = _fold(text).split()
    names = [_fold(site_name).split()] if site_name else []
    label = _domain_label(url)
    if label:
        names.append(re.split(r"[-_]", label))
    return any(name and 0 < len(words) - len(name) <= 2 and words[: len(name)] == name for name in names)


def _domain_label(url: str | None) -> str | None:
    """The registrable domain without its suffix: 'cnn' for edition.cnn.com, 'telegraph' for telegraph.co.uk."""
    try:
        host = (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return None
    labels = host.split(".")
    if len(labels) < 2 or host.replace(".", "").isdigit():
        return None
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in ("co", "com", "org", "net", "gov", "ac", "ne", "or"):
        return labels[-3]
    return labels[-2]


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
    found: dict = {"lang": None, "canonical": None, "alternates": {}, "title": None, "og_title": None, "h1": None,
                   "headings": [], "twitter_title": None, "site_declared": False}
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
        key = (meta.get("property") or meta.get("name") or "").lower()
        if key in ("og:title", "twitter:title") and found["og_title"] is None:
            found["og_title"] = _clean(meta.get("content"))
        if key == "twitter:title" and found["twitter_title"] is None:
            found["twitter_title"] = _clean(meta.get("content"))
        found["site_declared"] |= key in ("og:site_name", "application-name", "article:publisher", "publisher")
    # The page's addresses: where it was fetched from and where it says it lives.
    pages = [u for u in (url, found["canonical"]) if u] or [""]
    h1s = []  # (text, inside <article> or <main>), logos left out
    for h1 in tree.iterfind(".//h1"):
        text = _heading_text(h1, pages)
        if text and not _links_home(h1, text, pages):
            h1s.append((text, any(a.tag in ("article", "main") for a in h1.iterancestors())))
    in_article = [text for text, inside in h1s if inside]
    if in_article or len(h1s) == 1:
        found["h1"] = (in_article or [h1s[0][0]])[0]
    found["headings"] = [text for text, _ in h1s] + _self_linked_headings(tree, pages)
    return found


def _heading_text(heading, pages: list[str]) -> str | None:
    """A heading's text, without a link to another page that ends it (the site's or section's name).

    "<h1><span>Anticorrupción decidirá …</span><a href="/mallorca.html">Ultima Hora Mallorca</a></h1>"
    is the headline "Anticorrupción decidirá …", not "…InfantaUltima Hora Mallorca".
    """
    text = _clean(heading.text_content())
    children = list(heading)
    last = children[-1] if children else None
    if text and last is not None and last.tag == "a" and not (last.tail or "").strip():
        link_text = _clean(last.text_content()) or ""
        href = (last.get("href") or "").strip()
        if link_text and text.endswith(link_text) and href and not href.startswith("#") and not _is_self(href, pages):
            return _clean(text[: -len(link_text)]) or text
    return text


def _links_home(heading, text: str, pages: list[str]) -> bool:
    """A logo: a heading that is only a link to the site's home page, or to the section above the page."""
    for link in heading.iterfind(".//a"):
        if _clean(link.text_content()) != text:
            continue
        for page in pages:
            try:
                target = urlsplit(urljoin(page, (link.get("href") or "").strip()))
                here = urlsplit(page)
            except ValueError:
                continue
            if target.hostname and here.hostname and target.hostname != here.hostname:
                continue
            path = target.path or "/"
            if path == "/" or (path.endswith("/") and here.path.startswith(path) and here.path != path):
                return True
    return False


def _self_linked_headings(tree, pages: list[str]) -> list[str]:
    """Headings that link to the page itself: how blogs write the title of the post on its own page."""
    pages = [p for p in pages if _host(p)]
    found = []
    if not pages:
        return found
    for heading in tree.xpath("//h1|//h2|//h3"):
        text = _clean(heading.text_content())
        for link in heading.iterfind(".//a"):
            if text and _clean(link.text_content()) == text and _is_self(link.get("href") or "", pages):
                found.append(text)
                break
    return found


def _is_self(href: str, pages: list[str]) -> bool:
    """Does `href` lead to this page (scheme, query, fragment and a final slash aside)?"""
    for page in pages:
        try:
            if _address(urljoin(page, href.strip())) == _address(page):
                return True
        except ValueError:
            continue
    return False


def _address(url: str) -> str:
    parts = urlsplit(url)
    return (parts.hostname or "").removeprefix("www.") + (parts.path.rstrip("/") or "/")


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = repair(" ".join(value.split()))
    return value or None


def _norm(value: str) -> str:
    return " ".join(value.lower().split())


def _fold(value: str) -> str:
    value = unicodedata.normalize("NFKC", value)
    return " ".join(_DASHES.sub("-", _QUOTES.sub("'", value)).casefold().split())


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
