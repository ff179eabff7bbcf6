"""Feed health: how failing a source is, when to try it next, and when to stop trying.

Every failure adds to a source's score by what it says about the source: a
404, a 410, a host name that no longer resolves or a page that is not a feed
say the URL is wrong (heavy); a server error or a refusal may pass (medium);
a timeout or a 429 is weather (light). Retries back off exponentially from
the source's interval (or as long as a Retry-After asks). Past
`settings.pause_after` the source is paused: tried only once a day, and
`veille status` says why, since when and what to do. Each success halves the
score and ends a pause, so a source that recovers heals by itself, and one
that flaps keeps a memory of it.

Pure functions over `Health` values: the pipeline applies them, the archive
stores the result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from veille.errors import FetchError
from veille.text.times import iso
from veille.models import Health  # noqa: F401 - the value these functions work on

MAX_BACKOFF = timedelta(hours=24)
MAX_RETRY_AFTER = timedelta(days=7)  # a server asking for longer is treated as asking for a week
PAUSED_PROBE = timedelta(hours=24)  # a paused source is still tried this often, so that it can heal
UNCONDITIONAL_AFTER = 24  # this many 304s in a row: fetch once without validators (stuck ETags)

# kind -> (weight, what to do)
KINDS: dict[str, tuple[float, str]] = {
    "gone": (4.0, "the address is gone (404/410): find the feed's new URL (`veille feeds add SITE-URL` lists a "
                  "site's feeds), fix it in feeds.yaml, or remove the source"),
    "dns": (4.0, "the host name does not resolve: check the URL's spelling; the site may be gone"),
    "not-a-feed": (4.0, "the URL answers with an HTML page, not a feed: `veille feeds add URL` finds the site's "
                        "feeds; then fix the URL in feeds.yaml"),
    "blocked": (12.0, "the URL is not one veille fetches (scheme or host): fix it in feeds.yaml"),
    "refused": (3.0, "the site refuses us (401/403): check the URL, or ask the site to allow veille's User-Agent"),
    "bad-feed": (2.0, "the feed cannot be read: open it in a browser; if it is broken, tell the site"),
    "server": (2.0, "the server is failing (5xx): usually temporary; veille retries with backoff"),
    "rate-limited": (1.0, "the site rate-limits us (429): veille waits as asked; consider a longer interval"),
    "timeout": (1.0, "the site is slow or unreachable: veille retries with backoff"),
    "network": (1.0, "the site is unreachable: veille retries with backoff; check the network if all sources fail"),
    "other": (2.0, "see the last error; `veille feeds check NAME` fetches it once and reports"),
}


def kind_of(error: Exception) -> str:
    """The kind of a failure, from the exception the fetch or the parse raised."""
    if isinstance(error, FetchError):
        status = error.status
        reason = error.reason
        detail = (error.detail or "").lower()
        if status in (404, 410):
            return "gone"
        if status in (401, 403):
            return "refused"
        if status == 429:
            return "rate-limited"
        if status is not None and status >= 500:
            return "server"
        if reason == "connection failed" and any(
                word in detail for word in ("name or service", "nodename", "getaddrinfo", "name resolution",
                                            "no address associated")):
            return "dns"
        if reason == "timeout":
            return "timeout"
        if reason in ("connection failed", "network error"):
            return "network"
        if reason.startswith(("scheme", "no host", "malformed URL")):
            return "blocked"
        return "other"
    if getattr(error, "not_a_feed", False):
        return "not-a-feed"
    return "bad-feed" if type(error).__name__ == "FeedError" else "other"


def advice(kind: str | None) -> str:
    return KINDS.get(kind or "other", KINDS["other"])[1]


def after_failure(health: Health, kind: str, now: datetime, interval: int, *, pause_after: float,
                  retry_after: float | None = None) -> Health:
    weight = KINDS.get(kind, KINDS["other"])[0]
    failures = health.consecutive_failures + 1
    score = health.score + weight
    seconds = interval * 2 ** min(failures - 1, 40)  # capped before it becomes a timedelta: no overflow
    delay = min(timedelta(seconds=min(seconds, MAX_BACKOFF.total_seconds())), MAX_BACKOFF)
    if retry_after:
        delay = max(delay, timedelta(seconds=min(retry_after, MAX_RETRY_AFTER.total_seconds())))
    paused_since = health.paused_since
    if score >= pause_after:
        paused_since = paused_since or iso(now)
        delay = max(delay, PAUSED_PROBE)
    return replace(health, score=score, consecutive_failures=failures, failing_since=health.failing_since or iso(now),
                   paused_since=paused_since, next_attempt=iso(now + delay), error_kind=kind, not_modified_streak=0)


def after_success(health: Health, *, not_modified: bool) -> Health:
    score = health.score / 2 if health.score >= 1 else 0.0
    return Health(score=score, not_modified_streak=health.not_modified_streak + 1 if not_modified else 0)


def conditional(health: Health) -> bool:
    """Whether to send the stored validators: not after a long run of 304s (a server that
    answers 304 wrongly, or never changes its ETag, must not freeze the feed)."""
    return health.not_modified_streak < UNCONDITIONAL_AFTER
