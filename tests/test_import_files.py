"""`veille import` on HTML, Markdown and awkward files."""

import json

from conftest import FIXTURES

MANIFEST = {p["path"]: p for p in json.loads((FIXTURES / "site" / "MANIFEST.json").read_text(encoding="utf-8"))}


def test_a_saved_html_page_goes_through_the_same_extractor_as_fetched_ones(cli):
    path = "vigilancia/madrid-metro-reconocimiento-facial.html"
    cli("import", str(FIXTURES / "site" / path))
    (row,) = cli.json_lines("list")
    article = cli.json_lines("show", row["id"])[0]
    expected = MANIFEST[path]
    assert article["title"] == expected["title"] and article["lang"] == "es"
    assert all(p in article["text"] for p in expected["must_contain"])
    assert not any(p in article["text"] for p in expected["must_not_contain"])


def test_folders_are_walked_and_other_files_left_alone(cli, tmp_path):
    folder = tmp_path / "saved"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "note.md").write_text(
        "# Frontex et les drones\n\nL’agence **Frontex** a signé un contrat pour des drones de surveillance "
        "au-dessus de la Méditerranée, selon des documents consultés par la rédaction.\n", encoding="utf-8")
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n")
    result = cli("import", str(folder), "--json")
    summary = json.loads(result.stdout)
    assert summary["new"] == 1 and summary["failed"] == 0
    article = cli.json_lines("show", summary["articles"][0])[0]
    assert article["title"] == "Frontex et les drones" and article["lang"] == "fr"
    assert "L’agence Frontex a signé" in article["text"]


def test_an_empty_file_is_a_recorded_failure_and_the_others_import(cli, tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    (tmp_path / "real.txt").write_text(
        "Surveillance in Nice\n\nThe city of Nice has extended its network of cameras with automated "
        "analysis to the whole old town, the council confirmed on Monday.\n", encoding="utf-8")
    result = cli("import", str(tmp_path / "empty.txt"), str(tmp_path / "real.txt"), "--json")
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["failed"]) == (1, 1)
    assert "no text" in summary["failures"][0]["reason"]
    assert "empty.txt" in cli("status").stdout


def test_a_file_of_an_unknown_type_named_on_the_command_line_is_refused(cli, tmp_path):
    (tmp_path / "report.pdf").write_bytes(b"%PDF")
    result = cli("import", str(tmp_path / "report.pdf"), ok=False)
    assert result.exit_code == 2 and ".html, .htm, .txt or .md" in result.stderr


def test_dates_written_in_words_are_read_in_the_articles_language(cli, tmp_path):
    (tmp_path / "fr.txt").write_text(
        "Vidéosurveillance algorithmique à Marseille\n\nPublié le 24 septembre 2019 par la rédaction\n\n"
        "La mairie de Marseille a confirmé l’installation de caméras dotées d’un logiciel d’analyse "
        "automatique des comportements dans plusieurs quartiers, malgré les critiques des associations.\n",
        encoding="utf-8")
    (tmp_path / "en.md").write_text(
        "# Palantir wins another ICE contract\n\n*March 3, 2026*\n\nThe immigration agency extended its "
        "contract with the data-mining company, according to documents obtained by campaigners.\n",
        encoding="utf-8")
    (tmp_path / "none.txt").write_text(
        "Les drones de la préfecture\n\nIl y a trois ans, la préfecture promettait de ne jamais utiliser de "
        "drones au-dessus des manifestations ; elle en a pourtant fait voler deux samedi dernier.\n",
        encoding="utf-8")

    cli("import", str(tmp_path))

    published = {row["title"]: row["published"] for row in cli.json_lines("list")}
    assert published["Vidéosurveillance algorithmique à Marseille"].startswith("2019-09-24")
    assert published["Palantir wins another ICE contract"].startswith("2026-03-03")
    assert published["Les drones de la préfecture"] is None  # "il y a trois ans" is no publication date


def _import_one(cli, path):
    """`veille import PATH --json`, which must end (a FIFO or /dev/zero once made it hang or eat memory)."""
    import json as _json
    result = cli("import", str(path), "--json", ok=False)
    return result, _json.loads(result.stdout)


def test_a_fifo_or_a_link_to_a_device_is_refused_without_reading_it(cli, tmp_path):
    import os
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.txt"
    zero.symlink_to("/dev/zero")

    for path, kind in ((fifo, "a FIFO"), (zero, "a device")):
        result, summary = _import_one(cli, path)
        assert summary["new"] == 0 and summary["failed"] == 1
        assert f"not a regular file ({kind}" in result.output


def test_a_file_over_the_size_limit_is_refused_with_the_setting_to_change(cli, tmp_path):
    cli.write_config("settings:\n  max_body: 1KB\nsources: []\n")
    big = tmp_path / "big.txt"
    big.write_text("Surveillance in Nice\n\n" + "The cameras watch the old town. " * 100, encoding="utf-8")

    result, summary = _import_one(cli, big)

    assert summary["failed"] == 1 and "file too large" in result.output and "settings.max_body" in result.output


def test_random_bytes_in_a_text_file_are_refused_as_binary(cli, tmp_path):
    import random
    noise = tmp_path / "noise.txt"
    noise.write_bytes(random.Random(7).randbytes(20_000))

    result, summary = _import_one(cli, noise)

    assert summary["new"] == 0 and summary["failed"] == 1 and "binary data" in result.output


def test_markdown_that_would_take_the_cleaner_minutes_is_read_in_linear_time(cli, tmp_path):
    # One 60 KB line of "[" once ran over 400 s, 20,000 "_a " 11 s; each now takes a fraction of a second,
    # so the import finishes, whatever the machine's speed, well inside pytest's patience.
    (tmp_path / "brackets.md").write_text("# Brackets\n\n" + "[" * 60_000 + "\n", encoding="utf-8")
    (tmp_path / "underscores.md").write_text("# Underscores\n\n" + "_a " * 20_000 + "\n", encoding="utf-8")
    (tmp_path / "normal.md").write_text(
        "# Frontex et les drones\n\nL’agence **Frontex** a signé un [contrat](https://example.org/c) pour des "
        "drones de surveillance au-dessus de la _Méditerranée_, selon des documents consultés.\n", encoding="utf-8")

    result, summary = _import_one(cli, tmp_path)

    assert summary["new"] + summary["failed"] == 3, result.output  # every file read to its end
    assert summary["new"] >= 2  # the line of "[" holds no words and may be refused as empty
    texts = [cli.json_lines("show", row["id"])[0]["text"] for row in cli.json_lines("list")]
    assert any("L’agence Frontex a signé un contrat pour des drones" in t and "Méditerranée," in t for t in texts)
