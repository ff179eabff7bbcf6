"""Errors that were internal (exit 70) or misleading, each now one line that says what to do
(issue 22, item 9), and archives that readers can read but not write, or that were damaged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import archive_sql
from conftest import SEEDS

TWENTY_DIGITS = "9" * 20


def veille(archive: Path, *args: str, config: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "veille", "--archive", str(archive), "--config",
                           str(config or archive.parent / "none.yaml"), *args],
                          capture_output=True, text=True, timeout=timeout)


def plain(done: subprocess.CompletedProcess) -> str:
    """The error output of a command that failed as a user's mistake or the disk's, never as a bug."""
    assert done.returncode not in (0, 70), (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr[-2000:]
    return done.stderr


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text[-2000:]
    return lines[0]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    archive = tmp_path_factory.mktemp("errors") / "archive"
    done = veille(archive, "import", str(SEEDS), "--quiet")
    assert done.returncode == 0, done.stderr
    return archive


def copied(seeded: Path, tmp_path: Path) -> Path:
    archive = tmp_path / "archive"
    shutil.copytree(seeded, archive)
    return archive


def search_ids(archive: Path, query: str = "palantir") -> list[str]:
    done = veille(archive, "search", query, "--json", "--all-versions")
    assert done.returncode == 0, done.stderr
    return sorted(json.loads(line)["id"] for line in done.stdout.splitlines())


# -- numbers and ids ---------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [("list", "--limit", TWENTY_DIGITS), ("entities", "--top", TWENTY_DIGITS),
                                  ("search", "palantir", "--limit", TWENTY_DIGITS),
                                  ("search", "palantir", "--page", TWENTY_DIGITS)])
def test_a_twenty_digit_count_is_a_usage_error_not_an_overflow(seeded, args):
    done = veille(seeded, *args)
    assert done.returncode == 2 and "range" in plain(done), done.stderr


@pytest.mark.parametrize("command", ["show", "story"])
def test_a_100000_character_id_is_not_found_without_blaming_the_disk(seeded, command):
    done = veille(seeded, command, "a" * 100_000)
    line = one_line(plain(done))
    assert "no article" in line or "no story" in line, line
    assert "disk" not in line and len(line) < 300, line[:300]


# -- the index's cursor ---------------------------------------------------------------------------

def test_a_garbled_cursor_is_healed_by_the_next_search(seeded, tmp_path):
    archive = copied(seeded, tmp_path)
    before = search_ids(archive)
    (archive / "index" / "cursor.json").write_text('{"cursor": garbled', encoding="utf-8")
    done = veille(archive, "search", "palantir", "--json", "--all-versions")
    assert done.returncode == 0, done.stderr
    assert "cursor.json" in done.stderr  # said once, as it heals
    assert sorted(json.loads(line)["id"] for line in done.stdout.splitlines()) == before
    assert json.loads((archive / "index" / "cursor.json").read_text())["cursor"].isdigit()
    assert search_ids(archive) == before


# -- the archive's paths -----------------------------------------------------------------------------

def test_a_lock_file_that_is_a_folder_is_one_line_for_writers_and_no_matter_for_readers(seeded, tmp_path):
    archive = copied(seeded, tmp_path)
    (archive / "veille.lock").unlink()
    (archive / "veille.lock").mkdir()
    line = one_line(plain(veille(archive, "import", str(SEEDS))))
    assert "veille.lock" in line and "folder" in line and "remove it" in line, line
    assert search_ids(archive)  # a reader does not need the lock


def test_an_archive_path_that_is_a_file_is_one_line(tmp_path):
    archive = tmp_path / "archive"
    archive.write_text("not a folder\n", encoding="utf-8")
    for args in (("import", str(SEEDS)), ("reindex",), ("list",)):
        line = one_line(plain(veille(archive, *args)))
        assert str(archive) in line and ("file" in line or "folder" in line), line
    assert archive.read_text(encoding="utf-8") == "not a folder\n"


# -- feeds and settings --------------------------------------------------------------------------------

def test_an_opml_feed_address_that_does_not_parse_is_skipped_with_its_reason(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("sources: []\n", encoding="utf-8")
    opml = tmp_path / "subscriptions.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><head/><body>'
                    '<outline text="Broken" xmlUrl="http://[::1/feed"/>'
                    '<outline text="Good" xmlUrl="https://good.example.org/feed.xml"/>'
                    '</body></opml>', encoding="utf-8")
    done = veille(tmp_path / "archive", "feeds", "import-opml", str(opml), config=config)
    assert done.returncode == 0, done.stderr
    assert "skipped http://[::1/feed" in done.stderr and "1 feed added" in done.stdout
    assert "good.example.org" in config.read_text(encoding="utf-8")
    assert "[::1" not in config.read_text(encoding="utf-8")


@pytest.mark.parametrize("settings, says", [
    ('settings:\n  user_agent: "veille {x}"\n', "user_agent"),
    ("settings:\n  timeout: 99999999999d\n", "timeout"),
    ("settings:\n  default_interval: 99999999999d\n", "default_interval"),
    ("", "interval"),  # the source's own interval, below
])
def test_settings_that_would_crash_later_are_refused_when_read(tmp_path, settings, says):
    config = tmp_path / "feeds.yaml"
    interval = "    interval: 99999999999d\n" if not settings else ""
    config.write_text(settings + "sources:\n  - name: Local\n    url: http://127.0.0.1:9/feed.xml\n" + interval,
                      encoding="utf-8")
    for args in (("feeds", "list"), ("fetch",)):
        done = veille(tmp_path / "archive", *args, config=config)
        assert done.returncode == 2, done.stderr
        line = one_line(plain(done))
        assert says in line and "feeds.yaml" in line, line


def test_a_user_agent_with_its_two_fields_is_still_accepted(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text('settings:\n  user_agent: "watch/{version} ({contact})"\n  timeout: 1h\nsources:\n'
                      "  - name: Local\n    url: http://127.0.0.1:9/feed.xml\n    interval: 366d\n", encoding="utf-8")
    done = veille(tmp_path / "archive", "feeds", "list", config=config)
    assert done.returncode == 0, done.stderr


# -- archives readers can read but not write, and damaged ones --------------------------------------------

def _make_read_only(archive: Path) -> bool:
    for path in [*archive.rglob("*"), archive]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() != 0:
        return True
    chattr = shutil.which("chattr")  # root ignores permissions; an immutable file binds root too
    return bool(chattr) and subprocess.run([chattr, "-R", "+i", str(archive)], capture_output=True).returncode == 0


def _make_writable(archive: Path) -> None:
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run([shutil.which("chattr"), "-R", "-i", str(archive)], capture_output=True)
    for path in [archive, *archive.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_readers_read_an_archive_they_cannot_write(seeded, tmp_path):
    archive = copied(seeded, tmp_path)
    before = search_ids(archive)
    listed = veille(archive, "list", "--json").stdout
    if not _make_read_only(archive):
        _make_writable(archive)
        pytest.skip("running as root, which ignores file permissions, and chattr +i is not available")
    try:
        assert search_ids(archive) == before
        done = veille(archive, "list", "--json")
        assert done.returncode == 0 and done.stdout == listed, done.stderr
        first = json.loads(listed.splitlines()[0])["id"]
        assert veille(archive, "show", first).returncode == 0
        assert veille(archive, "status").returncode == 0
        line = one_line(plain(veille(archive, "import", str(SEEDS))))  # a writer is told why it cannot
        assert "writable" in line or "read-only" in line or "permitted" in line, line
    finally:
        _make_writable(archive)


def test_a_damaged_database_gets_a_way_to_save_what_can_be_read(seeded, tmp_path):
    archive = copied(seeded, tmp_path)
    database = archive / "veille.db"
    archive_sql.checkpoint(archive)
    data = bytearray(database.read_bytes())
    data[:100] = b"\x00garbage" * 12 + b"\x00" * 4  # the header: SQLite no longer knows the file
    database.write_bytes(bytes(data))
    for args in (("list",), ("search", "palantir"), ("import", str(SEEDS))):
        line = one_line(plain(veille(archive, *args)))
        assert ".recover" in line and "copy" in line, line


def test_an_empty_database_beside_an_index_is_not_taken_for_a_new_archive(seeded, tmp_path):
    archive = copied(seeded, tmp_path)
    (archive / "veille.db").write_bytes(b"")
    for name in ("veille.db-wal", "veille.db-shm"):
        (archive / name).unlink(missing_ok=True)
    index = sorted(p.name for p in (archive / "index").iterdir())
    for args in (("list",), ("search", "palantir"), ("import", str(SEEDS)), ("reindex",)):
        line = one_line(plain(veille(archive, *args)))
        assert "0 bytes" in line and "backup" in line, line
    assert (archive / "veille.db").stat().st_size == 0  # nothing written over what may be restored
    assert sorted(p.name for p in (archive / "index").iterdir()) == index
