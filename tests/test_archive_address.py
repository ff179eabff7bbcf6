"""Where the archive is: --archive, else VEILLE_ARCHIVE, else settings.archive in feeds.yaml, else ./archive."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from veille.app.cli.main import main

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env={"VEILLE_ARCHIVE": None, **(env or {})})


def test_settings_archive_names_the_archive_relative_to_the_sources_file(tmp_path, monkeypatch):
    home = tmp_path / "project"
    home.mkdir()
    (home / "feeds.yaml").write_text("settings:\n  archive: kept/here\nsources: []\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # elsewhere: the path is read from the file's folder, not from here
    made = run("--config", str(home / "feeds.yaml"), "import", str(SEEDS))
    assert made.exit_code == 0, made.output
    assert (home / "kept" / "here" / "veille.db").is_file() and not (tmp_path / "archive").exists()
    listed = run("--config", str(home / "feeds.yaml"), "list", "--json")
    assert listed.exit_code == 0 and len(listed.stdout.splitlines()) == 5


def test_the_command_line_and_the_environment_come_before_the_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "feeds.yaml").write_text("settings:\n  archive: from-settings\nsources: []\n", encoding="utf-8")
    assert run("--archive", str(tmp_path / "from-flag"), "import", str(SEEDS)).exit_code == 0
    assert run("import", str(SEEDS), env={"VEILLE_ARCHIVE": str(tmp_path / "from-env")}).exit_code == 0
    assert (tmp_path / "from-flag" / "veille.db").is_file() and (tmp_path / "from-env" / "veille.db").is_file()
    assert not (tmp_path / "from-settings").exists()
    status = run("status", "--json")
    assert status.exit_code == 2 and "from-settings" in status.output  # no archive there yet: said


def test_an_unknown_kind_of_archive_in_the_settings_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "feeds.yaml").write_text("settings:\n  archive: mysql://db/veille\nsources: []\n", encoding="utf-8")
    result = run("fetch")
    line = result.output.strip()
    assert result.exit_code != 0 and "\n" not in line
    assert "feeds.yaml:2" in line and "settings.archive" in line and "mysql://" in line


def test_a_broken_sources_file_does_not_stop_the_commands_that_do_not_read_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("import", str(SEEDS)).exit_code == 0  # ./archive
    (tmp_path / "feeds.yaml").write_text("settings: [\n", encoding="utf-8")
    listed = run("list", "--json")
    assert listed.exit_code == 0 and len([json.loads(x) for x in listed.stdout.splitlines()]) == 5
