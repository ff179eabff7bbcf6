"""Log lines cannot be forged: every value a stranger wrote is escaped, and names are one line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from veille.config.settings import parse_config
from veille.errors import ConfigError
from veille.service.scheduler import KeyValueFormatter


def _line(message: str, **fields) -> str:
    record = logging.LogRecord("veille.test", logging.WARNING, __file__, 1, message, (), None)
    record.__dict__.update(fields)
    return KeyValueFormatter().format(record)


def test_a_newline_in_a_logged_value_cannot_start_a_forged_line():
    forged = "Evil\n2026-12-01T00:00:00Z info digest sent digest=weekly recipients=1000"
    line = _line("source failed", source=forged, error="bad\r\nthing", url="http://x/\u2028y")

    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert 'source="Evil\\n2026-12-01T00:00:00Z info digest sent' in line
    assert "\\u2028" in line


def test_a_newline_in_the_message_itself_is_escaped_too():
    assert "\n" not in _line("fetched\nforged line")


def test_source_and_digest_names_with_line_breaks_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="line break or control character"):
        parse_config("sources:\n  - name: \"Evil\\nforged\"\n    url: https://example.org/feed\n", Path("feeds.yaml"))
    with pytest.raises(ConfigError, match="line break or control character"):
        parse_config("digests:\n  - name: \"week\\nly\"\n    to: [a@example.org]\nsources: []\n", Path("feeds.yaml"))


def test_an_opml_title_with_a_line_break_is_imported_on_one_line(cli, tmp_path):
    cli.write_config("sources: []\n")
    opml = tmp_path / "reader.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><head/><body>'
                    '<outline text="Evil&#10;2026-12-01T00:00:00Z info forged" xmlUrl="https://e.example.org/rss"/>'
                    "</body></opml>", encoding="utf-8")

    cli("feeds", "import-opml", str(opml))

    assert "name: Evil 2026-12-01T00:00:00Z info forged" in cli.config.read_text(encoding="utf-8")
