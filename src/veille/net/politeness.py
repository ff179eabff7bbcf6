"""Politeness: how often and how many at a time veille asks one host.

Every request, from any thread, passes a `Gate` that allows at most `per_host` requests at a
time to one host and spaces their starts by `host_delay`, or by the site's robots.txt
Crawl-delay where that is longer (capped at `max_crawl_delay`); a `Retry-After` on a 429 or 503
holds the whole host back for that long. `MemoryGate` keeps that in one process's memory; a
gate shared by several workers (Redis, PostgreSQL) implements the same protocol.
"""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager, contextmanager
from email.utils import parsedate_to_datetime
from typing import Iterator, Protocol, runtime_checkable
from urllib.parse import urlsplit

from veille.errors import DeferredError

MAX_RETRY_AFTER = 6 * 3600  # a server asking for more is asking for a pause; the feed health handles that
MAX_GATE_WAIT = 30.0  # seconds a request may wait for its host's turn; longer is deferred to the next pass


@runtime_checkable
class Gate(Protocol):
    """What every request to a host passes, from any thread (and, shared, from any worker)."""

    def slot(self, url: str) -> AbstractContextManager[None]:
        """Wait for this host's turn and hold one of its `per_host` places while the request runs:
        its starts spaced by the host delay (or its Crawl-delay), none before a Retry-After ends.
        Raises DeferredError rather than wait longer than MAX_GATE_WAIT for a Retry-After."""
        ...

    def ready_in(self, url: str) -> float:
        """Seconds before a request to this URL's host may start (0: now)."""
        ...

    def held_for(self, url: str) -> float:
        """Seconds left of the Retry-After this URL's host sent (0: none)."""
        ...

    def hold(self, url: str, seconds: float) -> None:
        """The host asked us to wait (Retry-After): no request to it starts before then."""
        ...

    def pace(self, host: str, seconds: float | None) -> None:
        """The host's robots.txt asks for `seconds` between requests (None: it asks nothing)."""
        ...


class Pacing(Protocol):
    """The settings that pace a host: config's `settings:` or the client's own."""

    host_delay: float
    max_crawl_delay: float


class MemoryGate:
    """The gate of one process: at most `per_host` requests at a time to one host, their starts
    `delay` seconds apart, or further apart for a host whose robots.txt asks for it (`pace`); a
    host that sent a Retry-After is held back (`hold`)."""

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
    def slot(self, url: str) -> Iterator[None]:
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


def paced_delay(settings: Pacing, asks: float | None) -> float:
    """Seconds between two requests to a host whose robots.txt asks for `asks` (None: nothing):
    the larger of host_delay and Crawl-delay, the Crawl-delay capped at max_crawl_delay."""
    return max(settings.host_delay, min(asks or 0.0, settings.max_crawl_delay))


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
