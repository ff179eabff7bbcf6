"""Canonical URLs and the article ids derived from them.

An article's id is stable: the same article reached through a URL with
tracking parameters, a different host case, a default port or a fragment gets
the same id. For local files, the id comes from the content, so the same file
imported from two places is one article.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit, urlunsplit

import courlan

ID_LENGTH = 16
# AMP and mobile variants of a page are the page: "m.site.org/x", "site.org/amp/x", "site.org/x/amp".
_MOBILE_HOST = re.compile(r"^(?:m|mobile|amp)\.(?=[^.]+\.[^.]+)")
_AMP_PATH = re.compile(r"/amp(?=/)|/amp/?$")


def canonical_url(url: str) -> str:
    """Normalise `url`: lower-case scheme and host, no default port, no fragment,
    no tracking parameters (utm_*, fbclid, xtor, ...), sorted query."""
    try:
        normal = courlan.normalize_url(url)
    except (ValueError, AttributeError):
        normal = url.strip()
    try:
        parts = urlsplit(normal)
    except ValueError:
        return url.strip()
    host = _MOBILE_HOST.sub("", parts.netloc.lower())
    path = _AMP_PATH.sub("", parts.path or "/") or "/"
    query = "&".join(q for q in parts.query.split("&") if q and q.lower() not in ("amp", "amp=1", "outputtype=amp"))
    return urlunsplit((parts.scheme.lower(), host, path, query, ""))


def article_id_for_url(url: str) -> str:
    return _digest("url\0" + canonical_url(url))


def article_id_for_content(content: bytes) -> str:
    return _digest(b"file\0" + content)


def _digest(value: str | bytes) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:ID_LENGTH]


_UNSAFE_IN_LINK = re.compile(r"[\x00-\x20\x7f<>\"'`\\]")


def web_link(url: str | None) -> str | None:
    """`url` if it is a web address a page may link to (http or https, with a host, nothing a browser
    or a header would read otherwise: no spaces, quotes or control characters), else None.

    Every address in an article is a stranger's: a `javascript:` or `data:` link, or one carrying
    a line break, is shown as text, never followed."""
    if not url or _UNSAFE_IN_LINK.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url
