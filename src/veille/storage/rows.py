"""The rows an archive returns: frozen dataclasses of plain values, the same from every backend.

Each also reads as a mapping (`row["reason"]`, `dict(row)`), the shape callers and `--json` output
had when these were database rows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from veille.models import Health

if TYPE_CHECKING:
    import numpy as np


class _Readable:
    """`row[name]`, `row.get(name)`, `row.keys()` and `dict(row)` over a dataclass's fields."""

    def keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self))  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:  # type: ignore[attr-defined]
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.__dataclass_fields__ else default  # type: ignore[attr-defined]

    @classmethod
    def of(cls, values):
        """From a mapping holding (at least) every field."""
        return cls(**{name: values[name] for name in cls.__dataclass_fields__})  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SourceRow(_Readable):
    """A source's fetch record and feed health: what a pass reads of it (`source_state`), and what
    `veille status` and `veille feeds` show (`source_rows`). A source never fetched has only its name."""

    name: str
    url: str | None = None
    kind: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_fetch: str | None = None
    last_success: str | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    consecutive_failures: int = 0
    health: float = 0.0
    failing_since: str | None = None
    paused_since: str | None = None
    next_attempt: str | None = None
    error_kind: str | None = None
    not_modified_streak: int = 0
    moved_to: str | None = None
    moved_at: str | None = None

    def as_health(self) -> Health:
        return Health(score=self.health, consecutive_failures=self.consecutive_failures,
                      failing_since=self.failing_since, paused_since=self.paused_since,
                      next_attempt=self.next_attempt, error_kind=self.error_kind,
                      not_modified_streak=self.not_modified_streak)


SourceState = SourceRow  # the name the pipeline reads it by


@dataclass(frozen=True)
class FailureRow(_Readable):
    """An item that failed at a stage, and how often."""

    source: str
    url: str
    stage: str
    reason: str
    first_at: str
    last_at: str
    count: int


@dataclass(frozen=True)
class RevisionRow(_Readable):
    """An earlier version of an article's text (the text itself stays in the archive)."""

    revision: int
    title: str | None
    text_hash: str
    fetched: str
    replaced_at: str


@dataclass(frozen=True, eq=False)
class FingerprintRow(_Readable):
    """A stored article's fingerprint, decoded: what story placement compares a new article with."""

    id: str
    lang: str
    length: int
    text_hash: str
    minhash: np.ndarray  # uint32 values, read-only
    size: float  # dedupe.text_size; 0.0 for fingerprints made before it was measured
    shares: tuple[tuple[str, float], ...]  # each language's share of the letters
    credit: str | None = None  # the "Source: X" credit it gives (only where the query reads it)
