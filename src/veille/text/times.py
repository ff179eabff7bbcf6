"""Moments as veille writes them: UTC, to the second, ISO 8601 with a Z ("2024-05-01T08:30:00Z")."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]  # what a pass asks for the time (tests pass a fixed one)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
