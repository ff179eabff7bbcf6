"""All network I/O of veille: one HTTP client with the project's rules.

Rules, each a defence against a real web: only http and https; at most N
redirects, each hop checked again; a cap on the body size counted on the
decoded bytes (so a gzip bomb stops at the cap, not at the disk); a connect
and read timeout plus a deadline for the whole transfer (so a server that
trickles a byte a second is cut off); conditional GET with the validators the
archive stored; a User-Agent naming the project.

Politeness lives here too: every request, from any thread, passes a
`HostGate` that allows at most `per_host` requests at a time to one host and
spaces their starts by `host_delay`; a `Retry-After` on a 429 or 503 holds the
whole host back for that long. robots.txt is read once per site and cached.

`Fetcher.get` returns a `Response` or raises `FetchError` with a short,
stable reason ("http 404", "timeout", "too large", ...), which the pipeline
records on the item.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from . import __version__
from .config import Settings
from .encoding import decode, looks_like_html
from .errors import BlockedURLError, DeferredError, FetchError

logger = logging.getLogger(__name__)

ALLOWED_SCHEMES = ("http", "https")
HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml", "application/atom+xml", "application/rdf+xml",
    "application/xml", "text/xml", "application/feed+json", "application/json",
    "text/plain",
)

@dataclass
class Response:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes = b""
    elapsed: float = 0.0
    redirects: list[str] = field(default_factory=list)
    permanent: bool = False  # every redirect on the way was permanent (301, 308): the URL has moved

    @property
    def moved_to(self) -> str | None:
        """Where a permanently redirected URL now lives."""
        return self.url if self.redirects and self.permanent else None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", self.headers.get("content-type", ""), re.I)
        return match.group(1).lower() if match else None

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    def text(self) -> str:
        return decode(self.body, self.charset)

    def is_html(self) -> bool:
        if self.content_type in HTML_TYPES:
            return True
        if self.content_type in ("", "application/octet-stream"):
            return looks_like_html(self.body)
        return False


MAX_RETRY_AFTER = 6 * 3600  # a server asking for more is asking for a pause; the feed health handles that
MAX_GATE_WAIT = 30.0  # seconds a request may wait for its host's turn; longer is deferred to the next pass
ROBOTS_TTL = 24 * 3600  # seconds a robots.txt is trusted (RFC 9309 suggests at most 24 hours)
ROBOTS_RETRY = 600  # seconds before a robots.txt the site failed to give is asked for again


class HostGate:
    """At most `per_host` requests at a time to one host, their starts `delay` seconds apart."""

    def __init__(self, per_host: int = 2, delay: float = 0.5) -> None:
        self.per_host = max(1, per_host)
        self.delay = max(0.0, delay)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, url: str):
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            slots = self._slots.setdefault(host, threading.Semaphore(self.per_host))
        slots.acquire()
        try:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                if start - now > MAX_GATE_WAIT:  # held by a Retry-After: do not sleep a worker that long
                    raise DeferredError("the host asked us to wait (Retry-After)", url,
                                        f"{start - now:.0f} s", status=429, retry_after=start - now)
                self._next_start[host] = start + self.delay
            if start > now:
                time.sleep(start - now)
            yield
        finally:
            slots.release()

    def ready_in(self, url: str) -> float:
        """Seconds before a request to this URL's host may start (0: now)."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            return max(0.0, self._next_start.get(host, 0.0) - time.monotonic())

    def hold(self, url: str, seconds: float) -> None:
        """The host asked us to wait (Retry-After): no request to it starts before then."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            until = time.monotonic() + min(seconds, MAX_RETRY_AFTER)
            self._next_start[host] = max(self._next_start.get(host, 0.0), until)


class Fetcher:
    """The HTTP client. One per run (shared by its threads); pass `transport` to test without a network."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None,
                 gate: HostGate | None = None) -> None:
        self.settings = settings
        self.gate = gate or HostGate(settings.per_host, settings.host_delay)
        self.user_agent = settings.user_agent.format(version=__version__, contact=settings.contact)
        timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0))
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=timeout,
            headers={
                "User-Agent": self.user_agent,
                "Accept-Encoding": "gzip, deflate",
            },
            transport=transport,
            limits=httpx.Limits(max_connections=max(10, settings.concurrency * 2),
                                max_keepalive_connections=max(10, settings.concurrency)),
        )
        self._robots: dict[str, tuple[RobotFileParser, float, str | None]] = {}  # origin -> (parser, until, problem)
        self._robots_lock = threading.Lock()
        self._robots_loading: dict[str, threading.Lock] = {}

    def close(self) -> None:
        self._client.close()

    def robots_allow(self, url: str) -> bool:
        """Whether the site's robots.txt lets our User-Agent fetch `url` (cached per site for a day).

        As RFC 9309 says: a missing robots.txt (4xx) allows everything. One the server fails
        to give (5xx, network error) allows nothing for now: that raises DeferredError, so the
        page is tried again on a later run (robots.txt is asked for again after ten minutes)
        rather than counted as failed.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            loading = self._robots_loading.setdefault(origin, threading.Lock())
        with loading:  # one load per site; other sites do not wait for it
            cached = self._robots.get(origin)
            if cached is None or time.monotonic() > cached[1]:
                cached = self._robots[origin] = self._load_robots(origin)
        parser, _, problem = cached
        if problem:
            raise DeferredError(f"robots.txt unavailable ({problem})", url)
        return parser.can_fetch(self.user_agent, url)

    def _load_robots(self, origin: str) -> tuple[RobotFileParser, float, str | None]:
        parser = RobotFileParser()
        try:
            response = self.get(origin + "/robots.txt", accept="text/plain")
        except DeferredError as exc:
            return parser, time.monotonic() + min(exc.retry_after or ROBOTS_RETRY, ROBOTS_RETRY), exc.reason
        except FetchError as exc:
            if exc.reason.startswith("http 4") and exc.status != 429:
                parser.allow_all = True
                return parser, time.monotonic() + ROBOTS_TTL, None
            parser.disallow_all = True
            return parser, time.monotonic() + ROBOTS_RETRY, exc.reason
        parser.parse(response.text().splitlines())
        return parser, time.monotonic() + ROBOTS_TTL, None

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
    ) -> Response:
        check_url(url)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        deadline = started + self.settings.timeout * 3
        hops: list[str] = []
        permanent = True
        current = url
        while True:
            response = self._request(current, headers, deadline)
            if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                hops.append(current)
                permanent = permanent and response.status in (301, 308)
                try:
                    target = urljoin(current, response.headers["location"])
                except ValueError:
                    raise FetchError("bad redirect", url, "malformed Location header") from None
                if len(hops) > self.settings.max_redirects:
                    raise FetchError("too many redirects", url, f"more than {self.settings.max_redirects}")
                if target in hops:
                    raise FetchError("redirect loop", url, f"back to {target}")
                check_url(target)
                current = target
                # The validators belong to the URL they came from, not to the target.
                headers = {"Accept": accept}
                continue
            response.redirects = hops
            response.permanent = bool(hops) and permanent
            response.elapsed = time.monotonic() - started
            if response.status == 304 or 200 <= response.status < 300:
                return response
            wait = retry_after(response.headers.get("retry-after")) if response.status in (429, 503) else None
            if wait:
                self.gate.hold(current, wait)
            raise FetchError(f"http {response.status}", url, _status_hint(response.status),
                             status=response.status, retry_after=wait)

    def _request(self, url: str, headers: dict[str, str], deadline: float) -> Response:
        with self.gate.slot(url):
            return self._request_now(url, headers, deadline)

    def _request_now(self, url: str, headers: dict[str, str], deadline: float) -> Response:
        try:
            with self._client.stream("GET", url, headers=headers) as raw:
                body = bytearray()
                declared = raw.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.settings.max_body and raw.status_code == 200:
                    raise FetchError(
                        "too large", url,
                        f"{declared} bytes declared, over {self.settings.max_body}; raise settings.max_body if this is expected",
                    )
                if raw.status_code not in (204, 304) and not raw.is_redirect:
                    for chunk in raw.iter_bytes():
                        body.extend(chunk)
                        if len(body) > self.settings.max_body:
                            raise FetchError(
                                "too large", url,
                                f"body over {self.settings.max_body} bytes; raise settings.max_body if this is expected",
                            )
                        if time.monotonic() > deadline:
                            raise FetchError("timeout", url, "transfer too slow")
                return Response(
                    url=str(raw.url),
                    status=raw.status_code,
                    headers={k.lower(): v for k, v in raw.headers.items()},
                    body=bytes(body),
                )
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", url, type(exc).__name__) from exc
        except httpx.ConnectError as exc:
            raise FetchError("connection failed", url, _short(exc)) from exc
        except httpx.DecodingError as exc:
            raise FetchError("bad encoding", url, _short(exc)) from exc
        except httpx.HTTPError as exc:
            raise FetchError("network error", url, _short(exc)) from exc
        except (httpx.InvalidURL, ValueError) as exc:
            raise BlockedURLError("malformed URL", url, _short(exc)) from exc


def check_url(url: str) -> None:
    """Refuse anything but http(s) URLs with a host, before any request is made."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise BlockedURLError("malformed URL", url, str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURLError(f"scheme {scheme or 'missing'} not allowed", url, "only http and https are fetched")
    if not parts.hostname:
        raise BlockedURLError("no host", url)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - time.time())


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "the site refuses us; check the URL or ask the site"
    if status in (404, 410):
        return "the page is gone; fix or remove the URL"
    if status == 429:
        return "rate limited; fetch less often"
    if status >= 500:
        return "server error; it may heal on the next run"
    return ""


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
