"""The command line as a user meets it."""

import re
from pathlib import Path

import pytest

from veille.app.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help_with_an_example_and_is_in_the_readme(name):
    command = main.commands[name]
    assert command.help and "Example: veille " + name in command.help
    assert f"veille {name}" in README


def test_the_readme_opens_with_the_two_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    assert first_block.splitlines()[0].startswith("make demo")
    assert first_block.splitlines()[1].startswith("make test")


def test_an_unknown_article_is_one_line_not_a_traceback(cli):
    from veille.storage.sqlite.store import Archive
    Archive(cli.archive).close()  # an archive that exists (a missing one is another error: no archive at PATH)
    result = cli("show", "deadbeef", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "veille list" in result.stderr


def test_import_of_a_missing_path_says_so_and_stores_nothing(cli, tmp_path):
    result = cli("import", str(tmp_path / "nowhere"), ok=False)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_archive_and_config_come_from_the_environment(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from conftest import SEEDS

    monkeypatch.setenv("VEILLE_ARCHIVE", str(tmp_path / "env-archive"))
    result = CliRunner().invoke(main, ["import", str(SEEDS / "002_cdb768120f0b8caf.txt")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env-archive" / "veille.db").exists()


def test_list_and_show_json_carry_the_documented_fields(cli):
    from conftest import SEEDS

    cli("import", str(SEEDS))
    rows = cli.json_lines("list")
    assert len(rows) == 5
    for key in ("id", "url", "source", "title", "author", "published", "fetched", "lang", "lang_confidence"):
        assert key in rows[0]
    shown = cli.json_lines("show", rows[0]["id"][:8])[0]
    assert shown["id"] == rows[0]["id"] and len(shown["text"]) > 1000
    assert cli.json_lines("list", "--lang", "en", "--limit", "0") and all(
        r["lang"] == "en" for r in cli.json_lines("list", "--lang", "en"))


def test_status_shows_totals_by_language(cli):
    from conftest import SEEDS

    cli("import", str(SEEDS))
    result = cli("status")
    assert "5 articles" in result.stdout
    assert "fr 3" in result.stdout and "en 2" in result.stdout


def test_titles_with_brackets_are_shown_as_written(cli):
    from conftest import SEEDS

    cli("import", str(SEEDS / "004_489bb3f04310a64e.txt"))
    assert "[forum ouvert]" in cli("list").stdout
    article_id = cli.json_lines("list")[0]["id"]
    assert "[forum ouvert]" in cli("show", article_id).stdout


@pytest.mark.parametrize("name", sorted(main.commands))
def test_the_command_list_says_what_each_command_says_of_itself(name):
    """`veille --help` lists the commands without importing them, from main.COMMANDS."""
    import inspect

    from veille.app.cli.main import COMMANDS

    assert COMMANDS[name][2] == " ".join(inspect.cleandoc(main.commands[name].help).split("\n\n")[0].split())
