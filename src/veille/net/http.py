"""All network I/O of veille: one HTTP client with the project's rules.

Rules, each a defence against a real web: only http and https; at most N
redirects, each hop checked again; a cap on the body size counted on the
decoded bytes (so a gzip bomb stops at the cap, not at the disk); a connect
and read timeout plus a deadline for the whole transfer (so a server that
trickles a byte a second is cut off); conditional GET with the validators the
archive stored; a User-Agent naming the project.

Network boundaries: feeds are chosen by the archive's keeper, but the links
inside them are written by strangers. Every connection is made by
`GuardedBackend`, which resolves the host itself, refuses loopback, private,
link-local, metadata and reserved addresses unless the request allows that
kind (`Fetcher.get(..., allow=...)`), and checks again the address the socket
actually connected to (so a DNS answer that changes between check and connect
gains nothing); a kept-alive connection checks its address again before it
sends anything for the next request. The same backend enforces each request's deadline on
every read, so a server that trickles its headers or body a byte at a time is
cut off too.

Politeness lives here too: every request, from any thread, passes a
`HostGate` that allows at most `per_host` requests at a time to one host and
spaces their starts by `host_delay`, or by the site's robots.txt Crawl-delay
where that is longer (capped at `max_crawl_delay`); a `Retry-After` on a 429 or
503 holds the whole host back for that long. robots.txt is read as RFC 9309
says (protego: wildcards, `$`, the longest match wins) once per site a day.

`Fetcher.get` returns a `Response` or raises `FetchError` with a short,
stable reason ("http 404", "timeout", "too large", ...), which the pipeline
records on the item.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from protego import Protego

from veille import __version__
from veille.config.settings import Settings
from veille.text.encoding import decode, looks_like_html
from veille.errors import BlockedURLError, DeferredError, FetchError

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
    peer: str | None = None  # the IP address that answered (None with a test transport)

    @property
    def peer_kind(self) -> str:
        """"public", "loopback", "private", "link-local", "metadata" or "reserved"."""
        return address_kind(self.peer) if self.peer else "public"

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


# -- network boundaries -----------------------------------------------------------
ADDRESS_KINDS = ("loopback", "private", "link-local", "metadata", "reserved")
ANY = frozenset(ADDRESS_KINDS)  # what the keeper's own URLs may reach (feeds, pages, robots.txt)
PUBLIC = frozenset()  # what a stranger's link may reach, unless its feed or source says more
METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200",
                                               "fd00:ec2::254")}  # cloud instance metadata services


def address_kind(address: str) -> str:
    """What kind of network an IP address belongs to; anything but "public" is fenced off."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return "reserved"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64:  # an IPv4 address reached through a NAT64 gateway (IPv6-only networks)
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        else:
            ip = ip.ipv4_mapped or ip.sixtofour or ip
    if ip in METADATA:
        return "metadata"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "reserved"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED):
        return "private"
    return "public" if ip.is_global else "reserved"


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not the public internet
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_request = threading.local()  # per request, in the thread making it: .allow (kinds) and .deadline


def _fenced(kind: str, allow: frozenset[str]) -> bool:
    return kind != "public" and kind not in allow


def _kinds(kind: str) -> frozenset[str]:
    """What a request may reach beyond the public internet: the one kind it came from, if not public."""
    return PUBLIC if kind == "public" else frozenset({kind})


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """`timeout`, cut to what is left of the current request's deadline; `error` once it has passed."""
    deadline = getattr(_request, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the whole transfer took too long")
    return left if timeout is None else min(timeout, left)


def _blocked(address: str, kind: str, url: str = "") -> BlockedURLError:
    return BlockedURLError(f"{kind} address refused", url or address,
                           f"{address} is not on the public internet; a link from a stranger's feed may not "
                           "reach it (set allow_private: true on the source if it is yours)")


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads never wait past the current request's deadline, and which sends
    nothing for a request that may not reach its address (a kept-alive connection is reused by
    whichever request comes next for the same host and port)."""

    def __init__(self, inner: httpcore.NetworkStream, peer: str) -> None:
        self._inner = inner
        self.peer, self.kind = peer, address_kind(peer)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if _fenced(self.kind, getattr(_request, "allow", ANY)):
            raise _blocked(self.peer, self.kind)
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout), self.peer)

    def get_extra_info(self, info: str):
        if info == "server_addr":
            return (self.peer, 0)  # as connected; asking the socket again fails once the peer hangs up
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses the current request may reach, and says which one it reached."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None, resolve=socket.getaddrinfo) -> None:
        self._inner = inner or httpcore.SyncBackend()
        self._resolve = resolve

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        allow = getattr(_request, "allow", ANY)
        try:
            answers = self._resolve(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"name not resolved: {host} ({exc})") from None
        refused, failure = None, None
        for *_, sockaddr in answers:
            kind = address_kind(sockaddr[0])
            if _fenced(kind, allow):
                refused = refused or (sockaddr[0], kind)
                continue
            wait = _time_left(timeout, httpcore.ConnectTimeout)
            try:  # one address failing (an IPv6 route that goes nowhere) is no reason not to try the next
                stream = self._inner.connect_tcp(sockaddr[0], port, wait, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            try:
                peer = stream.get_extra_info("server_addr")[0]
            except (OSError, TypeError, IndexError):
                stream.close()
                failure = httpcore.ConnectError(f"{sockaddr[0]} hung up at once")
                continue
            kind = address_kind(peer)
            if _fenced(kind, allow):  # what we reached, not what we were told
                stream.close()
                raise _blocked(peer, kind)
            return _DeadlineStream(stream, peer)
        if refused:
            raise _blocked(*refused)
        raise failure or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


MAX_RETRY_AFTER = 6 * 3600  # a server asking for more is asking for a pause; the feed health handles that
MAX_GATE_WAIT = 30.0  # seconds a request may wait for its host's turn; longer is deferred to the next pass
ROBOTS_TTL = 24 * 3600  # seconds a robots.txt is trusted (RFC 9309 suggests at most 24 hours)
ROBOTS_RETRY = 600  # seconds before a robots.txt the site failed to give is asked for again
ROBOTS_MAX = 500 * 1024  # bytes of a robots.txt read, as RFC 9309 allows (a 5 MB one takes seconds to parse)


class HostGate:
    """At most `per_host` requests at a time to one host, their starts `delay` seconds apart, or
    further apart for a host whose robots.txt asks for it (`pace`); a host that sent a Retry-After
    is held back (`hold`)."""

    def __init__(self, per_host: int = 2, delay: float = 0.5) -> None:
        self.per_host = max(1, per_host)
        self.delay = max(0.0, delay)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._last_start: dict[str, float] = {}
        self._held: dict[str, float] = {}  # host -> monotonic time its Retry-After ends
        self._paces: dict[str, float] = {}  # host -> seconds its robots.txt asks between requests

    @contextmanager
    def slot(self, url: str):
        host = _host(url)
        with self._lock:
            slots = self._slots.setdefault(host, threading.Semaphore(self.per_host))
        slots.acquire()
        try:
            with self._lock:
                now = time.monotonic()
                held = self._held.get(host, now)
                if held - now > MAX_GATE_WAIT:  # held by a Retry-After: do not sleep a worker that long
                    raise DeferredError("the host asked us to wait (Retry-After)", url,
                                        f"{held - now:.0f} s", status=429, retry_after=held - now)
                start = max(now, held, self._next_start.get(host, now))
                self._last_start[host] = start
                self._next_start[host] = start + self.delay_for(host)
            if start > now:
                time.sleep(start - now)
            yield
        finally:
            slots.release()

    def delay_for(self, host: str) -> float:
        """Seconds between the starts of two requests to `host`: the larger of ours and its own."""
        return max(self.delay, self._paces.get(host, 0.0))

    def pace(self, host: str, seconds: float | None) -> None:
        """The host's robots.txt asks for `seconds` between requests (None: it asks nothing)."""
        with self._lock:
            if not seconds:
                self._paces.pop(host, None)
                return
            self._paces[host] = seconds
            if host in self._last_start:  # the request that read it counts as the last one
                self._next_start[host] = self._last_start[host] + self.delay_for(host)

    def ready_in(self, url: str) -> float:
        """Seconds before a request to this URL's host may start (0: now)."""
        host = _host(url)
        with self._lock:
            until = max(self._next_start.get(host, 0.0), self._held.get(host, 0.0))
            return max(0.0, until - time.monotonic())

    def held_for(self, url: str) -> float:
        """Seconds left of the Retry-After this URL's host sent (0: none)."""
        with self._lock:
            return max(0.0, self._held.get(_host(url), 0.0) - time.monotonic())

    def hold(self, url: str, seconds: float) -> None:
        """The host asked us to wait (Retry-After): no request to it starts before then."""
        host = _host(url)
        with self._lock:
            until = time.monotonic() + min(seconds, MAX_RETRY_AFTER)
            self._held[host] = max(self._held.get(host, 0.0), until)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class Fetcher:
    """The HTTP client. One per run (shared by its threads); pass `transport` to test without a network."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None,
                 gate: HostGate | None = None) -> None:
        self.settings = settings
        self.gate = gate or HostGate(settings.per_host, settings.host_delay)
        self.user_agent = settings.user_agent.format(version=__version__, contact=settings.contact)
        timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0))
        limits = httpx.Limits(max_connections=max(10, settings.concurrency * 2),
                              max_keepalive_connections=max(10, settings.concurrency))
        if transport is None:
            transport = _guarded_transport(limits)
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=timeout,
            headers={
                "User-Agent": self.user_agent,
                "Accept-Encoding": "gzip, deflate",
            },
            transport=transport,
            event_hooks={"response": [_check_redirect]},
        )
        # robots.txt groups are matched on the product token ("veille"), never on the rest of the
        # User-Agent: a group for "example" must not apply to us because our contact is example.org.
        token = re.match(r"[A-Za-z_-]+", self.user_agent)
        self.robots_agent = token.group(0) if token else "veille"
        self._robots: dict[str, _Robots] = {}  # origin -> its rules, cached
        self._robots_lock = threading.Lock()
        self._robots_loading: dict[str, threading.Lock] = {}
        self._crawl_delays: dict[str, float | None] = {}  # origin -> the Crawl-delay its robots.txt asks
        self._crawl_delays_new: set[str] = set()  # hosts whose Crawl-delay was read since take_crawl_delays

    def close(self) -> None:
        self._client.close()

    def robots_allow(self, url: str, allow: frozenset[str] = ANY) -> bool:
        """Whether the site's robots.txt lets our User-Agent fetch `url` (cached per site for a day).

        As RFC 9309 says: the group naming our product token applies, else the `*` group; in
        it the longest matching rule wins (Allow on a tie), with `*` and `$` as wildcards. A
        missing robots.txt (4xx) allows everything. One the server fails to give (5xx, network
        error) allows nothing for now: that raises DeferredError, so the page is tried again on
        a later run (robots.txt is asked for again after ten minutes) rather than counted as
        failed. A Crawl-delay in our group paces every request to the host from then on (see
        `crawl_delay`).
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            loading = self._robots_loading.setdefault(origin, threading.Lock())
        with loading:  # one load per site; other sites do not wait for it
            cached = self._robots.get(origin)
            if cached is None or time.monotonic() > cached.until:
                cached = self._robots[origin] = self._load_robots(origin, allow)
        if cached.problem:
            raise DeferredError(f"robots.txt unavailable ({cached.problem})", url)
        return cached.rules is None or cached.rules.can_fetch(url, self.robots_agent)

    def _load_robots(self, origin: str, allow: frozenset[str]) -> _Robots:
        try:
            response = self.get(origin + "/robots.txt", accept="text/plain", allow=allow)
        except BlockedURLError:
            raise  # not the site's answer: nothing to cache, the page is refused for the same reason
        except DeferredError as exc:
            return _Robots(None, time.monotonic() + min(exc.retry_after or ROBOTS_RETRY, ROBOTS_RETRY), exc.reason)
        except FetchError as exc:
            if exc.reason.startswith("http 4") and exc.status != 429:
                self._read_crawl_delay(origin, None)
                return _Robots(None, time.monotonic() + ROBOTS_TTL)  # no robots.txt: everything allowed
            return _Robots(None, time.monotonic() + ROBOTS_RETRY, exc.reason)
        rules = Protego.parse(_robots_text(response))
        self._read_crawl_delay(origin, rules.crawl_delay(self.robots_agent))
        return _Robots(rules, time.monotonic() + ROBOTS_TTL)

    # -- Crawl-delay: a floor under host_delay for the host that asks for it ---------------
    def crawl_delay(self, asks: float | None) -> float:
        """Seconds veille waits between requests to a host whose robots.txt asks for `asks`."""
        return paced_delay(self.settings, asks)

    def _read_crawl_delay(self, origin: str, asks: float | None) -> None:
        host = _host(origin)
        with self._robots_lock:
            self._crawl_delays[origin] = asks
            self._crawl_delays_new.add(host)
            asked = self._asked_by(host)
        self.gate.pace(host, self.crawl_delay(asked) if asked else None)
        if asked and self.crawl_delay(asked) > self.settings.host_delay:
            logger.info("robots.txt asks for a Crawl-delay", extra={"host": host, "asks": asked,
                                                                     "waits": self.crawl_delay(asked)})

    def _asked_by(self, host: str) -> float | None:
        """The longest Crawl-delay this host's robots.txt files ask (http and https may differ)."""
        asks = [d for o, d in self._crawl_delays.items() if d and _host(o) == host]
        return max(asks) if asks else None

    def take_crawl_delays(self) -> dict[str, float | None]:
        """The Crawl-delay (None: none) of each host whose robots.txt was read since the last call."""
        with self._robots_lock:
            hosts, self._crawl_delays_new = self._crawl_delays_new, set()
            return {host: self._asked_by(host) for host in sorted(hosts)}

    def remember_crawl_delays(self, asked: dict[str, float]) -> None:
        """Pace hosts by the Crawl-delay an earlier run read, until their robots.txt is read again
        (so a run's first request to a host, its feed, already keeps to it)."""
        for host, asks in asked.items():
            with self._robots_lock:
                known = any(_host(o) == host for o in self._crawl_delays)
            if not known:
                self.gate.pace(host, self.crawl_delay(asks))

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
        allow: frozenset[str] = ANY,
    ) -> Response:
        """GET `url`, following redirects; `allow` names the non-public address kinds it may reach
        (ANY for the keeper's own URLs, PUBLIC or the feed's own kind for a link from a feed)."""
        check_url(url)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        deadline = started + self.settings.timeout * 3
        saved = getattr(_request, "allow", ANY), getattr(_request, "deadline", None)
        _request.allow, _request.deadline = allow, deadline
        try:
            return self._follow(url, headers, accept, deadline, started)
        finally:
            _request.allow, _request.deadline = saved

    def _follow(self, url: str, headers: dict[str, str], accept: str, deadline: float, started: float) -> Response:
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
                if len(hops) == 1:  # where it sends us is the server's choice, not the keeper's: from
                    # here on, the public internet and the first server's own kind of network only
                    _request.allow = getattr(_request, "allow", ANY) & _kinds(response.peer_kind)
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
                stream = raw.extensions.get("network_stream")  # checked before it sent the request
                address = stream.get_extra_info("server_addr") if stream is not None else None
                peer = address[0] if address else None
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
                    peer=peer,
                )
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", url, type(exc).__name__) from exc
        except httpx.ConnectError as exc:
            raise FetchError("connection failed", url, _short(exc)) from exc
        except httpx.DecodingError as exc:
            raise FetchError("bad encoding", url, _short(exc)) from exc
        except httpx.RemoteProtocolError as exc:
            if "buffer too long" in str(exc).lower() or "header" in str(exc).lower():
                raise FetchError("headers too large", url, "the server's response headers are over the limit "
                                 "(about 64 KiB) or malformed") from exc
            raise FetchError("bad response", url, _short(exc)) from exc
        except httpx.HTTPError as exc:
            raise FetchError("network error", url, _short(exc)) from exc
        except (httpx.InvalidURL, ValueError) as exc:
            raise BlockedURLError("malformed URL", url, _short(exc)) from exc


@dataclass
class _Robots:
    """A site's robots.txt as read: its rules (None: everything allowed), until when it is trusted,
    and why it could not be had (then nothing is allowed for now)."""

    rules: Protego | None
    until: float
    problem: str | None = None


def _robots_text(response: Response) -> str:
    """The first ROBOTS_MAX bytes of a robots.txt, cut after a whole line (half a rule is another rule)."""
    body = response.body
    if len(body) > ROBOTS_MAX:
        body = body[:body.rfind(b"\n", 0, ROBOTS_MAX) + 1]
    return decode(body, response.charset)


def paced_delay(settings: Settings, asks: float | None) -> float:
    """Seconds between two requests to a host whose robots.txt asks for `asks` (None: nothing):
    the larger of host_delay and Crawl-delay, the Crawl-delay capped at max_crawl_delay."""
    return max(settings.host_delay, min(asks or 0.0, settings.max_crawl_delay))


def _check_redirect(response: httpx.Response) -> None:
    """Refuse a redirect to another scheme with its own reason, before httpx reads the Location
    as a URL of its own (which fails on "javascript:..." with a less telling error)."""
    location = response.headers.get("location") if response.is_redirect else None
    if location:
        try:
            target = urljoin(str(response.request.url), location)
        except ValueError:
            raise BlockedURLError("bad redirect", str(response.request.url), "malformed Location header") from None
        check_url(target)


def _guarded_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's own transport, its connection pool connecting through GuardedBackend."""
    transport = httpx.HTTPTransport(limits=limits)
    pool = transport._pool  # httpx builds an httpcore pool; ours is the same with another backend
    transport._pool = httpcore.ConnectionPool(
        ssl_context=pool._ssl_context, max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(),
    )
    return transport


def allowance(feed: Response | None, allow_private: bool) -> frozenset[str]:
    """What a link found in a feed may reach: the public internet, plus the kind of network the feed
    itself came from (a local test or intranet feed links to its own pages), or anything if the
    source says so."""
    if allow_private:
        return ANY
    return _kinds(feed.peer_kind if feed is not None else "public")


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
    if _BAD_HOST.search(parts.hostname):
        raise BlockedURLError("malformed URL", url, f"the host name {parts.hostname!r} cannot exist")


_BAD_HOST = re.compile(r"[\s\x00-\x1f\x7f<>\"{}|\\^`'%/?#@]")


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
