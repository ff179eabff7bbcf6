"""veille archive copy SRC DEST: an archive moved between SQLite and PostgreSQL, resumable, counts checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from veille.app.cli.main import main
from veille.storage import open_archive
from veille.storage.copy import copy_archive
from veille.storage.tables import TABLES

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def veille(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


def seeded(folder: Path) -> Path:
    veille("--archive", str(folder), "import", str(SEEDS))
    veille("--archive", str(folder), "searches", "add", "palantir", "palantir")
    return folder


def what_it_holds(url: str) -> dict:
    """What a user sees of an archive: its articles, their languages, stories and search answers."""
    listed = [json.loads(line) for line in veille("--archive", url, "list", "--json", "--limit", "100").stdout.splitlines()]
    with open_archive(url) as archive:
        stories = {a["id"]: archive.story_of(a["id"]) for a in listed}
        counts = {t.name: archive.table_count(t) for t in TABLES}
    found = [json.loads(line)["story_id"]  # the story; which of its versions leads may differ between backends
             for line in veille("--archive", url, "search", "palantir", "--json").stdout.splitlines()]
    return {"articles": sorted((a["id"], a["lang"], a["title"]) for a in listed), "stories": stories,
            "palantir": found, "counts": counts}


def test_a_copy_holds_what_the_original_holds(tmp_path):
    source = seeded(tmp_path / "a")
    said = veille("archive", "copy", str(source), str(tmp_path / "b")).output
    assert "5 articles" in said and "counted on both sides" in said
    assert what_it_holds(str(tmp_path / "b")) == what_it_holds(str(source))
    assert veille("--archive", str(tmp_path / "b"), "searches", "list").output.count("palantir") >= 1


def test_a_copy_cut_short_goes_on_where_it_stopped(tmp_path, monkeypatch):
    source = seeded(tmp_path / "a")
    with open_archive(source) as src, open_archive(tmp_path / "b") as dst:
        real, calls = type(dst).put_rows, []

        def failing(self, table, rows):
            calls.append(table.name)
            if table.name == "entities":
                raise KeyboardInterrupt  # Ctrl-C in the middle
            return real(self, table, rows)

        monkeypatch.setattr(type(dst), "put_rows", failing)
        with pytest.raises(KeyboardInterrupt):
            copy_archive(src, dst, batch=2)
        monkeypatch.setattr(type(dst), "put_rows", real)
        assert dst.count_articles() == 5 and dst.get_state("copy:from") == src.location
    again = veille("archive", "copy", str(source), str(tmp_path / "b")).output
    assert "cut short, finished" in again
    assert what_it_holds(str(tmp_path / "b")) == what_it_holds(str(source))
    with open_archive(tmp_path / "b") as dst:
        assert dst.get_state("copy:from") is None  # done: nothing left of the copy's own bookkeeping


def test_a_copy_into_an_archive_that_holds_articles_is_refused(tmp_path):
    seeded(tmp_path / "a")
    seeded(tmp_path / "b")
    refused = veille("archive", "copy", str(tmp_path / "a"), str(tmp_path / "b"), ok=False)
    assert refused.exit_code == 1 and "already holds 5 articles" in refused.output
    missing = veille("archive", "copy", str(tmp_path / "nothing"), str(tmp_path / "c"), ok=False)
    assert missing.exit_code == 1 and "no archive at" in missing.output and not (tmp_path / "c").exists()
    same = veille("archive", "copy", str(tmp_path / "a"), str(tmp_path / "a"), ok=False)
    assert same.exit_code == 1 and "the same archive" in same.output


def test_sqlite_to_postgresql_and_back(tmp_path, pg_url):
    source = seeded(tmp_path / "a")
    veille("archive", "copy", str(source), pg_url)
    assert what_it_holds(pg_url) == what_it_holds(str(source))
    veille("archive", "copy", pg_url, str(tmp_path / "back"))
    assert what_it_holds(str(tmp_path / "back")) == what_it_holds(str(source))
