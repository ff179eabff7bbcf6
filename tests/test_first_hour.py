"""What a new user trips over in the first hour (issue 21): each as the user meets it."""

from __future__ import annotations

import pytest

from conftest import SEEDS


def _one_line(result) -> str:
    text = result.stderr.strip()
    assert text.count("\n") == 0, text
    return text


@pytest.mark.parametrize("args, says", [
    (["frobnicate"], "No such command 'frobnicate'; the commands are listed by `veille --help`"),
    (["search", "palantir", "--sort", "best"], "'best' is not one of 'relevance', 'date'; see `veille search --help`"),
    (["list", "--limit", "many"], "see `veille list --help`"),
    (["--bogus", "status"], "No such option '--bogus'"),
])
def test_usage_errors_are_one_line_with_where_to_look(cli, args, says):
    result = cli(*args, ok=False)
    assert result.exit_code == 2
    assert says in _one_line(result) and _one_line(result).startswith("veille: ")


def test_a_digest_with_neither_flag_is_one_line(cli):
    cli.write_config("sources: []\ndigests:\n  - name: weekly\n    to: [a@example.org]\n")
    result = cli("digest", "weekly", ok=False)
    assert result.exit_code == 2 and "say --dry-run (render only) or --send" in _one_line(result)


def test_dedupe_alone_recomputes_the_stories(cli):
    cli("import", str(SEEDS))
    result = cli("dedupe", "--json")
    assert '"command": "dedupe"' in result.stdout


def test_search_on_an_empty_archive_says_there_is_nothing_yet(cli):
    cli("import", str(SEEDS / "nonexistent"), ok=False)  # a writer that stored nothing: the archive is empty
    cli.archive.mkdir(exist_ok=True)
    result = cli("search", "palantir", ok=False)
    assert result.exit_code == 1 and "no articles yet" in _one_line(result)


@pytest.mark.parametrize("flag", ["--since", "--until"])
def test_an_impossible_date_names_the_flag_not_the_query(cli, flag):
    cli("import", str(SEEDS))
    result = cli("search", "palantir", flag, "2026-99-01", ok=False)
    assert result.exit_code == 2 and f"--{flag.strip('-')}" in _one_line(result) and "YYYY-MM-DD" in result.stderr
    assert "query" not in result.stderr.lower()


def test_short_upper_case_ids_and_story_ids_get_an_answer_that_helps(cli):
    cli("import", str(SEEDS))
    rows = cli.json_lines("list")
    ids = [row["id"] for row in rows]
    unique = next(i for i in ids if sum(other.startswith(i[:4]) for other in ids) == 1)

    assert cli.json_lines("show", unique[:4])[0]["id"] == unique
    assert cli.json_lines("show", unique[:7].upper())[0]["id"] == unique
    story_id = cli.json_lines("show", unique)[0]["story_id"]
    wrong = cli("show", story_id, ok=False)
    assert wrong.exit_code == 1 and f"`veille story {story_id}`" in _one_line(wrong)
    nothing = cli("show", "zz%_", ok=False)
    assert nothing.exit_code == 1 and "4 or more of their first characters" in _one_line(nothing)


def test_search_exits_like_grep_and_filters_name_what_the_archive_holds(cli):
    cli("import", str(SEEDS))

    assert cli("search", "zzzqqqxxx", ok=False).exit_code == 1  # no match
    assert cli("search", "zzzqqqxxx", "--count", ok=False).exit_code == 1
    assert cli("search", "palantir", "--source", "IMPORT", "--count").stdout.startswith("1 story, ")
    unknown = cli("search", "palantir", "--source", "netzwacht", ok=False)
    assert unknown.exit_code == 2 and "its sources: import" in _one_line(unknown)
    no_lang = cli("search", "palantir", "--lang", "xx", ok=False)
    assert no_lang.exit_code == 2 and "unknown language 'xx'" in _one_line(no_lang) and "fr 3" in no_lang.stderr
    assert "unknown language" in cli("list", "--lang", "x-y", ok=False).stderr
    assert cli("search", "palantir", "--lang", "de", ok=False).exit_code == 1  # a language, with no articles yet


def test_import_imports_what_exists_and_reports_the_rest(cli, tmp_path):
    result = cli("import", str(SEEDS), str(tmp_path / "saved-page.html"), ok=False)

    assert result.exit_code == 1
    assert "5 new" in result.stdout and "saved-page.html: does not exist; check the path" in result.stderr
    assert len(cli.json_lines("list")) == 5


def test_the_readme_digest_example_works_with_the_shipped_feeds_file(cli, tmp_path):
    from conftest import ROOT
    cli.config.write_text((ROOT / "feeds.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    cli("import", str(SEEDS))

    written = cli("digest", "weekly", "--dry-run", "--out", str(tmp_path / "w.eml"))
    assert "(dry run, nothing sent)" in written.stdout and (tmp_path / "w.eml").stat().st_size > 1000

    preview = cli("digest", "weekly", "--dry-run")  # without --out: the message on screen
    assert "new stories from 5 articles" in preview.stdout and "== " in preview.stdout


def test_every_option_of_every_command_says_what_it_does():
    import click
    from veille.app.cli.main import main

    def commands(group, path):
        for name, command in group.commands.items():
            yield f"{path} {name}", command
            if isinstance(command, click.Group):
                yield from commands(command, f"{path} {name}")

    silent = [f"{path} {param.opts[0]}" for path, command in commands(main, "veille") for param in command.params
              if isinstance(param, click.Option) and not param.help]
    assert not silent


@pytest.mark.parametrize("args", [["status"], ["list"], ["search", "palantir"], ["entities"], ["searches", "list"],
                                  ["story", "abcd"], ["reindex"], ["dedupe"]])
def test_a_mistyped_archive_is_said_and_never_created(cli, tmp_path, args):
    missing = tmp_path / "nonexistent" / "x"
    result = cli.runner.invoke(__import__("veille.app.cli.main", fromlist=["main"]).main,
                               ["--archive", str(missing), "--config", str(cli.config), *args])
    assert result.exit_code == 2 and f"no archive at {missing}" in _one_line(result)
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize("query", ["the palantir", "palantir the ice", "les palantir", "palantir and ice"])
def test_common_words_never_empty_a_search_and_the_user_is_told(cli, query):
    cli("import", str(SEEDS))
    plain = cli("search", "palantir", "--count").stdout

    result = cli("search", query, "--count")

    assert result.stdout == plain  # the same stories: the common word was left out, in every language
    assert "common words left out of the query" in result.stderr
    if " and " in query:
        assert "write AND, OR, NOT for operators" in result.stderr


def test_search_highlights_in_colour_on_a_terminal_brackets_in_pipes_offsets_in_json(cli):
    import json as _json
    from rich.console import Console

    import veille.app.cli.search as veille_cli

    cli("import", str(SEEDS))
    piped = cli("search", "palantir").stdout
    assert "[Palantir]" in piped

    hit = _json.loads(cli("search", "palantir", "--json").stdout.splitlines()[0])
    assert "[" not in hit["snippet"] and hit["highlights"]
    assert all(hit["snippet"][a:b].lower() == "palantir" for a, b in hit["highlights"])

    terminal = Console(force_terminal=True, color_system="standard", soft_wrap=True, highlight=False)
    with terminal.capture() as captured:
        original, veille_cli.out = veille_cli.out, terminal
        try:
            cli("search", "palantir")
        finally:
            veille_cli.out = original
    shown = captured.get()
    assert "\x1b[" in shown and "[Palantir]" not in shown and "Palantir" in shown


def test_a_search_by_filters_alone_shows_no_score(cli):
    import json as _json
    cli("import", str(SEEDS))
    assert " · 0.00" not in cli("search", "lang:fr").stdout
    assert _json.loads(cli("search", "lang:fr", "--json").stdout.splitlines()[0])["score"] is None


def test_retag_reports_in_its_own_terms(cli):
    cli("import", str(SEEDS))
    assert "retag: nothing to tag again" in cli("retag").stdout
    assert "new" not in cli("retag").stdout


def test_status_never_breaks_a_source_name_mid_word_at_80_columns(cli):
    import os
    import subprocess
    import sys
    long, short = "la-quadrature-du-net-technopolice-marseille", "eff-deeplinks"
    cli.write_config(f"sources:\n  - name: {long}\n    url: http://127.0.0.1:9/feed.xml\n"
                     f"  - name: {short}\n    url: http://127.0.0.1:9/eff.xml\n")
    cli("import", str(SEEDS))
    cli("fetch", ok=False)  # both refused: their errors fill the table's other columns
    shown = subprocess.run([sys.executable, "-m", "veille", "--archive", str(cli.archive), "--config",
                            str(cli.config), "status"], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "COLUMNS": "80", "TERM": "dumb"})
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines if line[:1] in "┏┃┡│└")  # the table fits
    cells = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert short in cells  # a name that fits is whole
    cut = [c for c in cells if c and long.startswith(c.rstrip("…"))]
    assert len(cut) == 1 and (cut[0] == long or cut[0].endswith("…"))  # one line: whole, or cut and said
    assert not any(c and c not in (short, "import") and c not in cut for c in cells)  # no fragment below
    if cut[0] != long:
        assert "names cut to fit the terminal: `veille feeds list` shows them whole" in shown.stdout
