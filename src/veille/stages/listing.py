"""Listing pages: a press-release or news page that lists articles, for sites without a feed.

    links(html, url, chosen) -> Listing     the article links, in page order, with their titles

`chosen` is the source's `links:`, a CSS selector (of the links, or of the blocks that hold
them: `.press-list a`, `article h2`) or a URL pattern (starting with `/` or `http`, `*` for any
characters: `/communiques/*`). Without it, the links that look like articles are found: on the
page's own site, outside its navigation, header, footer and asides, with a path that reads as
an article (a slug, a date, an id, a `.html` page) rather than a section, tag, author, page
number, feed or file; of those, the largest group sharing one folder shape (`/press/#/#/`)
wins. The choice is said in the warning, which `veille feeds check` shows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree

from veille.errors import FeedError
from veille.models import Entry

MAX_LINKS = 1000  # article links taken from one listing page
NOISE = ("nav", "header", "footer", "aside", "form", "script", "style", "noscript", "template")
# A class or id that names a menu, a footer or a sidebar: the whole token ("nav", "site-footer"),
# or its first word ("menu-main"); never a state of the page ("has-sidebar", "with-social-share").
_NOISE_NAME = re.compile(r"^(site-|main-|page-|primary-|secondary-|global-)?(nav|navbar|navigation|menu|footer|"
                         r"breadcrumbs?|pagination|pager|sidebar|cookies?|share|sharing|social)([-_].*)?$", re.I)
NOISE_DEPTH = 6  # how many containers above a link are asked whether they are a menu, a footer...
_NOT_ARTICLE = re.compile(
    r"/(tags?|category|categories|categorie|rubrique|themes?|author|auteur|autor|users?|login|logout|"
    r"register|search|recherche|suche|feed|rss|atom|contact|about|a-propos|impressum|mentions-legales|"
    r"privacy|cookies?|newsletter|archives?|page|seite|wp-admin|wp-login)(/|$)", re.I)
_FILE = re.compile(r"\.(pdf|jpe?g|png|gif|svg|webp|mp[34]|zip|docx?|xlsx?|pptx?|odt|ods|xml|rss|json|css|js)$", re.I)
_PAGE_NUMBER = re.compile(r"([?&](page|p|paged|start|offset)=\d+|/\d{1,3}/?$)", re.I)


@dataclass
class Listing:
    entries: list[Entry] = field(default_factory=list)
    title: str | None = None
    warning: str | None = None  # how the links were chosen, and what was left out


def links(html: str, url: str, chosen: str | None = None) -> Listing:
    """The article links of a listing page; FeedError when it has none (with what to do)."""
    try:
        tree = lxml.html.document_fromstring(html or "<html></html>")
    except (etree.ParserError, ValueError) as exc:
        raise FeedError(f"the listing page cannot be read as HTML ({exc})") from None
    title = " ".join((tree.findtext(".//title") or "").split()) or None
    anchors = _anchors(tree, url)
    shape = None
    if chosen:
        picked = _chosen(tree, anchors, url, chosen)
        if not picked:
            raise FeedError(f"the listing page has no link that `links: {chosen}` selects (of {len(anchors)} links); "
                            "check it against the page, or remove it to let veille find the articles")
    else:
        picked, shape = _found(tree, anchors, url)
    first: dict[str, str] = {}  # each link once, in page order, with its first text
    for link, text in picked:
        first.setdefault(link, text)
    entries = [Entry(url=link, guid=link, title=text or None) for link, text in first.items()]
    n = min(len(entries), MAX_LINKS)
    if chosen:
        said = f"links chosen by `links: {chosen}`: {n}"
    elif shape:
        said = (f"links found by their shape: {n} under {shape} (of {len(anchors)} links on the page; "
                "set `links:` to choose others)")
    else:
        said = f"links found: {n} that look like articles (of {len(anchors)}; set `links:` to choose)"
    if len(entries) > MAX_LINKS:
        said += f"; the first {MAX_LINKS} taken"
    return Listing(entries=entries[:MAX_LINKS], title=title, warning=said)


def _anchors(tree, base: str) -> list[tuple[str, str, object]]:
    """Every http(s) link of the page: (absolute URL without its fragment, its text, the element)."""
    found = []
    for a in tree.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
            continue
        absolute = urljoin(base, href)
        parts = urlsplit(absolute)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        clean = urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))
        found.append((clean, " ".join(a.text_content().split())[:300], a))
    return found


def _chosen(tree, anchors, base: str, chosen: str) -> list[tuple[str, str]]:
    if chosen.startswith(("/", "http://", "https://")):  # a URL pattern
        whole = chosen.startswith("http")
        return [(link, text) for link, text, _ in anchors
                if fnmatchcase(link if whole else _path(link), chosen)]
    from lxml.cssselect import CSSSelector

    selected = set()
    for element in CSSSelector(chosen)(tree):
        selected.update([element] if element.tag == "a" else element.iter("a"))
    return [(link, text) for link, text, a in anchors if a in selected]


def _found(tree, anchors, base: str) -> tuple[list[tuple[str, str]], str | None]:
    """The links that look like articles, and the folder shape they share (None: no shape won)."""
    home = _site(urlsplit(base).netloc)
    own = [(link, text, a) for link, text, a in anchors if _site(urlsplit(link).netloc) == home]
    if anchors and not own:
        raise FeedError(f"the listing page's {len(anchors)} links all point to other sites; set `links:` to "
                        "a CSS selector or URL pattern if those are the articles")
    listing = _path(base).rstrip("/")
    candidates = [(link, text) for link, text, a in own
                  if not _in_noise(a) and _path(link).rstrip("/") != listing and _looks_like_article(link, text)]
    if not candidates:
        raise FeedError(f"no link on the listing page looks like an article (of {len(anchors)} links); set "
                        "`links:` to a CSS selector or URL pattern for them")
    shapes = Counter(_shape(link) for link, _ in candidates)
    shape, count = shapes.most_common(1)[0]
    if count >= 2:
        return [(link, text) for link, text in candidates if _shape(link) == shape], shape
    return candidates, None  # each article in a folder of its own: take every candidate


def _in_noise(element) -> bool:
    for depth, parent in enumerate(element.iterancestors()):
        if parent.tag in ("body", "html", "main", "article"):
            return False  # above the page's content: its classes describe the page, not a menu
        teaser = parent.tag in ("header", "footer") and any(a.tag == "article" for a in parent.iterancestors())
        if not teaser and (parent.tag in NOISE or
                           parent.get("role") in ("navigation", "banner", "contentinfo", "complementary")):
            return True  # (a header inside an <article> is a teaser's, with its title link)
        if depth < NOISE_DEPTH:
            names = f"{parent.get('class') or ''} {parent.get('id') or ''}".split()
            if any(_NOISE_NAME.match(name) for name in names):
                return True
    return False


def _looks_like_article(link: str, text: str) -> bool:
    parts = urlsplit(link)
    path = parts.path
    segments = [s for s in path.split("/") if s]
    if not segments or _NOT_ARTICLE.search(path) or _FILE.search(path) or _PAGE_NUMBER.search(link):
        return False
    last = segments[-1].rsplit(".", 1)[0] if segments[-1].endswith((".html", ".htm", ".php", ".aspx")) else segments[-1]
    slug = last.count("-") + last.count("_") >= 2 or len(last) >= 24
    dated = bool(re.search(r"(19|20)\d{2}", path)) and len(segments) >= 2
    numbered = bool(re.search(r"\d{3,}", last)) or bool(re.search(r"[?&](id|p|article|art)=\d+", parts.query))
    page = segments[-1].endswith((".html", ".htm")) and len(segments) >= 2
    return (slug or dated or numbered or page) and len(text.split()) >= 2


def _shape(link: str) -> str:
    """The folder a link is in, its numbers as #: /press/2026/03/x.html -> /press/#/#/."""
    folder = urlsplit(link).path.rstrip("/").rsplit("/", 1)[0] + "/"
    return re.sub(r"\d+", "#", folder)


def _path(link: str) -> str:
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _site(netloc: str) -> str:
    host = netloc.lower().rsplit("@", 1)[-1]
    return host[4:] if host.startswith("www.") else host
