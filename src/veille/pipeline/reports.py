"""What a pass says when it is done: counts, failures in words, per-source outcomes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

Progress = Callable[[str, str], None]  # (event, detail)


@dataclass
class Failure:
    source: str
    url: str
    reason: str


@dataclass
class RunReport:
    counts: Counter = field(default_factory=Counter)  # new, updated, unchanged, failed, skipped
    failures: list[Failure] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # source -> outcome in words
    articles: list[str] = field(default_factory=list)  # ids stored new or updated, in order

    def count(self, outcome: str, article_id: str | None = None) -> None:
        self.counts[outcome] += 1
        if article_id and outcome in ("new", "updated"):
            self.articles.append(article_id)

    def fail(self, source: str, url: str, reason: str) -> None:
        self.counts["failed"] += 1
        self.failures.append(Failure(source, url, reason))


def notify(progress: Progress | None, event: str, detail: str) -> None:
    if progress is not None:
        progress(event, detail)

