"""The HTTP client of veille, with the project's rules.

Rules, each a defence against a real web: only http and https; at most N redirects, each hop
checked again; a cap on the body size counted on the decoded bytes (so a gzip bomb stops at the
cap, not at the disk); a connect and read timeout plus a deadline for the whole transfer (so a
server that trickles a byte a second is cut off); conditional GET with the validators the archive
stored; a User-Agent naming the project. Which networks a request may reach is the guard's
business (`veille.net.guard`), how often it may ask a host the gate's (`veille.net.politeness`),
what a site allows its robots.txt's (`veille.net.robots`).

`Fetcher.get` returns a `Response` or raises `FetchError` with a short, stable reason ("http
404", "timeout", "too large", ...), which the pipeline records on the item.
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from dataclasses import dataclass, field, fields
from typing import Protocol
from urllib.parse import urljoin

import httpx

from veille import __version__
from veille.errors import BlockedURLError, FetchError
from veille.net.guard import ANY, address_kind, check_url, guarded_transport, narrow_to, request_scope
from veille.net.politeness import Gate, MemoryGate, retry_after
from veille.net.robots import Robots
from veille.models import Exchange
from veille.text.encoding import decode, looks_like_html

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")


class Capture(Protocol):
    """Where the fetcher keeps every exchange as it crossed the wire (storage.warc.CaptureStore)."""

    def record(self, exchange: Exchange) -> str: ...  # the response record's id


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
    captures: list[str] = field(default_factory=list)  # the WARC response records, one per hop
    capture_error: str | None = None  # why the exchange could not be kept, if it could not

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


@dataclass(frozen=True)
class ClientSettings:
    """What the HTTP client needs of the settings, and nothing more (config's `settings:` has these)."""

    user_agent: str
    contact: str
    timeout: float
    max_body: int
    max_redirects: int
    concurrency: int
    per_host: int
    host_delay: float
    max_crawl_delay: float

    @classmethod
    def of(cls, settings: object) -> "ClientSettings":
        """The client's part of a larger settings object: the fields named alike."""
        if isinstance(settings, cls):
            return settings
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


class Fetcher:
    """The HTTP client. One per run (shared by its threads); pass `transport` to test without a network.

    `settings`: a ClientSettings, or any settings object with those fields (config's Settings).
    `gate`: the politeness gate every request passes (default: this process's own MemoryGate)."""

    def __init__(self, settings: ClientSettings | object, transport: httpx.BaseTransport | None = None,
                 gate: Gate | None = None, capture: "Capture | None" = None) -> None:
        self.settings = settings = ClientSettings.of(settings)
        self.capture = capture  # where every response is kept as the server sent it (WARC), if anywhere
        self.capture_failures = 0
        self.gate = gate or MemoryGate(settings.per_host, settings.host_delay)
        self.user_agent = settings.user_agent.format(version=__version__, contact=settings.contact)
        timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0))
        limits = httpx.Limits(max_connections=max(10, settings.concurrency * 2),
                              max_keepalive_connections=max(10, settings.concurrency))
        if transport is None:
            transport = guarded_transport(limits)
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
        self.robots = Robots(self.get, self.gate, self.robots_agent, settings)

    def close(self) -> None:
        self._client.close()

    def robots_allow(self, url: str, allow: frozenset[str] = ANY) -> bool:
        """Whether the site's robots.txt lets our User-Agent fetch `url` (see `Robots.allow`)."""
        return self.robots.allow(url, allow)

    def crawl_delay(self, asks: float | None) -> float:
        """Seconds veille waits between requests to a host whose robots.txt asks for `asks`."""
        return self.robots.crawl_delay(asks)

    def take_crawl_delays(self) -> dict[str, float | None]:
        """The Crawl-delay (None: none) of each host whose robots.txt was read since the last call."""
        return self.robots.take_crawl_delays()

    def remember_crawl_delays(self, asked: dict[str, float]) -> None:
        """Pace hosts by the Crawl-delay an earlier run read, until their robots.txt is read again."""
        self.robots.remember_crawl_delays(asked)

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
        with request_scope(allow, deadline):
            return self._follow(url, headers, accept, deadline, started)

    def _follow(self, url: str, headers: dict[str, str], accept: str, deadline: float, started: float) -> Response:
        hops: list[str] = []
        captured: list[str] = []
        permanent = True
        current = url
        while True:
            response = self._request(current, headers, deadline)
            captured.extend(response.captures)
            response.captures = list(captured)
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
                if len(hops) == 1:  # where it sends us is the server's choice, not the keeper's
                    narrow_to(response.peer_kind)
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
                declared = raw.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.settings.max_body and raw.status_code == 200:
                    raise FetchError(
                        "too large", url,
                        f"{declared} bytes declared, over {self.settings.max_body}; raise settings.max_body if this is expected",
                    )
                # The bytes as sent (for the capture) and as meant (for the pipeline): the size cap is
                # counted on the decoded ones, so a gzip bomb stops at the cap, not at the disk.
                sent, body = bytearray(), bytearray()
                decoder = _Decoder(raw.headers.get("content-encoding", ""), url)
                if raw.status_code not in (204, 304):  # a redirect's body too: the capture keeps it as sent
                    for chunk in raw.iter_raw():
                        sent.extend(chunk)
                        body.extend(decoder.feed(chunk, self.settings.max_body + 1 - len(body)))
                        if len(body) > self.settings.max_body or decoder.over:
                            raise FetchError(
                                "too large", url,
                                f"body over {self.settings.max_body} bytes; raise settings.max_body if this is expected",
                            )
                        if time.monotonic() > deadline:
                            raise FetchError("timeout", url, "transfer too slow")
                    body.extend(decoder.finish())
                response = Response(
                    url=str(raw.url),
                    status=raw.status_code,
                    headers={k.lower(): v for k, v in raw.headers.items()},
                    body=bytes(body),
                    peer=peer,
                )
                if self.capture is not None:
                    self._capture(raw, bytes(sent), response)
                return response
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


    def _capture(self, raw: httpx.Response, sent: bytes, response: Response) -> None:
        """Keep the exchange as WARC records; a capture that fails is said and the fetch goes on
        (the article is worth keeping without its evidence; the next fetch captures it again)."""
        request = raw.request
        target = request.url.raw_path.decode("ascii", "replace")
        exchange = Exchange(
            url=str(request.url), method=request.method, target=target,
            request_headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            http_version=raw.http_version, status=raw.status_code, reason=raw.reason_phrase,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw.headers.raw],
            body=sent, peer=response.peer)
        try:
            response.captures.append(self.capture.record(exchange))
        except Exception as exc:  # a full disk, a removed folder: the fetch itself succeeded
            self.capture_failures += 1
            response.capture_error = f"{type(exc).__name__}: {exc}"
            logger.warning("capture failed", extra={"url": str(request.url), "reason": response.capture_error})


class _Decoder:
    """Content-Encoding undone as the body arrives, never beyond `room` bytes of output at once."""

    def __init__(self, encoding: str, url: str) -> None:
        self.url = url
        names = [e.strip().lower() for e in encoding.split(",") if e.strip() and e.strip().lower() != "identity"]
        self.over = False
        self.inflater = None  # identity, and labels nobody decodes ("none", "utf-8"): taken as sent
        if names in (["gzip"], ["x-gzip"]):
            self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif names == ["deflate"]:
            self.inflater = zlib.decompressobj()  # zlib-wrapped, as the RFC says; raw deflate seen too
        self.raw_deflate = names == ["deflate"]

    def feed(self, chunk: bytes, room: int) -> bytes:
        if self.inflater is None:
            return chunk
        try:
            out = self.inflater.decompress(chunk, max(room, 1))
        except zlib.error as exc:
            if self.raw_deflate:  # "deflate" without its zlib wrapper: start again as raw deflate
                self.raw_deflate = False
                self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.feed(chunk, room)
            raise FetchError("bad encoding", self.url, f"the body does not decode ({exc})") from None
        self.raw_deflate = False  # the wrapper was right: no second guess later
        if self.inflater.unconsumed_tail:
            self.over = True  # more output than room: over the cap
        return out

    def finish(self) -> bytes:
        if self.inflater is None:
            return b""
        try:
            return self.inflater.flush()
        except zlib.error as exc:
            raise FetchError("bad encoding", self.url, str(exc)) from None


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
