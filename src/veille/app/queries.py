"""The library's questions to the archive and its index, for the command line and whatever comes next
(a web page, a worker): they parse, resolve and ask, and leave formatting to their callers."""

from __future__ import annotations

from datetime import date

from veille.search.protocol import Filters


def filters_of(lang: str | None = None, source: str | None = None, since: str | None = None,
               until: str | None = None) -> Filters:
    """The filters of command-line options (dates already checked as YYYY-MM-DD)."""
    return Filters(lang=lang, source=source, since=date.fromisoformat(since) if since else None,
                   until=date.fromisoformat(until) if until else None)
