"""The address guard: which URLs and which networks a request may reach.

Only http and https URLs with a host are fetched (`check_url`). Feeds are chosen by the archive's
keeper, but the links inside them are written by strangers. Every connection is made by
`GuardedBackend`, which resolves the host itself, refuses loopback, private, link-local,
metadata and reserved addresses unless the request allows that kind (`Fetcher.get(...,
allow=...)`, `allowance`), and checks again the address the socket actually connected to (so a
DNS answer that changes between check and connect gains nothing); a kept-alive connection
checks its address again before it sends anything for the next request. The same backend
enforces each request's deadline on every read, so a server that trickles its headers or body a
byte at a time is cut off too.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator
from urllib.parse import urlsplit

import httpcore
import httpx

from veille.errors import BlockedURLError

if TYPE_CHECKING:
    from veille.net.client import Response

ALLOWED_SCHEMES = ("http", "https")
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


def guarded_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
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


@contextmanager
def request_scope(allow: frozenset[str], deadline: float) -> Iterator[None]:
    """For the request this thread makes now: the non-public kinds it may reach, and its deadline."""
    saved = getattr(_request, "allow", ANY), getattr(_request, "deadline", None)
    _request.allow, _request.deadline = allow, deadline
    try:
        yield
    finally:
        _request.allow, _request.deadline = saved


def narrow_to(kind: str) -> None:
    """Where a redirect sends us is the server's choice, not the keeper's: from here on, the
    current request reaches the public internet and the first server's own kind of network only."""
    _request.allow = getattr(_request, "allow", ANY) & _kinds(kind)
