"""Moments as veille writes them: ISO 8601 in UTC to the second, `2026-03-02T08:00:00Z`.

The archive, the logs and the digests' records all hold this one form, which sorts as text.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]  # what a pass asks for the time (tests pass a fixed one)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """`moment` in UTC as `YYYY-MM-DDTHH:MM:SSZ`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str) -> datetime:
    """A moment written by `iso` (or any ISO 8601 text with an offset) back as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
