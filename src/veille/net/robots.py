"""robots.txt, read as RFC 9309 says (protego: wildcards, `$`, the longest match wins), once per site a day.

A Crawl-delay in our group paces every request to the host from then on: it is passed to the
gate as a floor under host_delay (capped at max_crawl_delay).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

from protego import Protego

from veille.errors import BlockedURLError, DeferredError, FetchError
from veille.net.guard import ANY
from veille.net.politeness import Gate, Pacing, _host, paced_delay
from veille.text.encoding import decode

if TYPE_CHECKING:
    from veille.net.client import Response

logger = logging.getLogger(__name__)

ROBOTS_TTL = 24 * 3600  # seconds a robots.txt is trusted (RFC 9309 suggests at most 24 hours)
ROBOTS_RETRY = 600  # seconds before a robots.txt the site failed to give is asked for again
ROBOTS_MAX = 500 * 1024  # bytes of a robots.txt read, as RFC 9309 allows (a 5 MB one takes seconds to parse)


class Robots:
    """The robots.txt of every site one client asks, each cached for a day, and the Crawl-delay
    each asks for. `get` is the client's GET; `gate` is told each host's pace."""

    def __init__(self, get: Callable[..., Response], gate: Gate, agent: str, pacing: Pacing) -> None:
        self._get, self.gate, self.agent, self.pacing = get, gate, agent, pacing
        self._robots: dict[str, _Robots] = {}  # origin -> its rules, cached
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._crawl_delays: dict[str, float | None] = {}  # origin -> the Crawl-delay its robots.txt asks
        self._crawl_delays_new: set[str] = set()  # hosts whose Crawl-delay was read since take_crawl_delays

    def allow(self, url: str, allow: frozenset[str] = ANY) -> bool:
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
        with self._lock:
            loading = self._loading.setdefault(origin, threading.Lock())
        with loading:  # one load per site; other sites do not wait for it
            cached = self._robots.get(origin)
            if cached is None or time.monotonic() > cached.until:
                cached = self._robots[origin] = self._load(origin, allow)
        if cached.problem:
            raise DeferredError(f"robots.txt unavailable ({cached.problem})", url)
        return cached.rules is None or cached.rules.can_fetch(url, self.agent)

    def _load(self, origin: str, allow: frozenset[str]) -> _Robots:
        try:
            response = self._get(origin + "/robots.txt", accept="text/plain", allow=allow)
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
        self._read_crawl_delay(origin, rules.crawl_delay(self.agent))
        return _Robots(rules, time.monotonic() + ROBOTS_TTL)

    # -- Crawl-delay: a floor under host_delay for the host that asks for it ---------------
    def crawl_delay(self, asks: float | None) -> float:
        """Seconds veille waits between requests to a host whose robots.txt asks for `asks`."""
        return paced_delay(self.pacing, asks)

    def _read_crawl_delay(self, origin: str, asks: float | None) -> None:
        host = _host(origin)
        with self._lock:
            self._crawl_delays[origin] = asks
            self._crawl_delays_new.add(host)
            asked = self._asked_by(host)
        self.gate.pace(host, self.crawl_delay(asked) if asked else None)
        if asked and self.crawl_delay(asked) > self.pacing.host_delay:
            logger.info("robots.txt asks for a Crawl-delay", extra={"host": host, "asks": asked,
                                                                     "waits": self.crawl_delay(asked)})

    def _asked_by(self, host: str) -> float | None:
        """The longest Crawl-delay this host's robots.txt files ask (http and https may differ)."""
        asks = [d for o, d in self._crawl_delays.items() if d and _host(o) == host]
        return max(asks) if asks else None

    def take_crawl_delays(self) -> dict[str, float | None]:
        """The Crawl-delay (None: none) of each host whose robots.txt was read since the last call."""
        with self._lock:
            hosts, self._crawl_delays_new = self._crawl_delays_new, set()
            return {host: self._asked_by(host) for host in sorted(hosts)}

    def remember_crawl_delays(self, asked: dict[str, float]) -> None:
        """Pace hosts by the Crawl-delay an earlier run read, until their robots.txt is read again
        (so a run's first request to a host, its feed, already keeps to it)."""
        for host, asks in asked.items():
            with self._lock:
                known = any(_host(o) == host for o in self._crawl_delays)
            if not known:
                self.gate.pace(host, self.crawl_delay(asks))


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
