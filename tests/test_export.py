"""`veille export`: datasets researchers can load, cite and reproduce."""

import csv
import json

import pyarrow.parquet as pq
import pytest

from conftest import FIXTURES, SEEDS, Cli


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("export"))
    cli("import", str(SEEDS), str(FIXTURES / "site" / "observatoire"), str(FIXTURES / "site" / "watchdog"))
    return cli


def jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_entity_offset_points_at_its_text_and_stories_match_veille_story(cli, tmp_path):
    cli("export", "--out", str(tmp_path / "a.jsonl"), "--quiet")
    rows = jsonl(tmp_path / "a.jsonl")
    assert len(rows) == len(cli.json_lines("list", "--limit", "0"))
    assert sum(len(r["entities"]) for r in rows) > 50
    for row in rows:
        for entity in row["entities"]:
            assert row["text"][entity["start"]:entity["end"]] == entity["text"]
    for row in rows[:6]:  # story ids, relations and originals as `veille story` says
        story = json.loads(cli("story", row["id"], "--json").stdout)
        member = next(m for m in story["members"] if m["article_id"] == row["id"])
        assert (row["story_id"], row["original_id"], row["relation"]) == \
            (story["story_id"], story["original_id"], member["relation"])
    assert {r["relation"] for r in rows} >= {"original", "translation"}
    assert all(r["tools"]["veille"] and "trafilatura" in r["tools"] for r in rows)


def test_two_runs_give_identical_data_files(cli, tmp_path):
    for fmt in ("jsonl", "csv", "parquet"):
        first, second = tmp_path / "1" / f"a.{fmt}", tmp_path / "2" / f"a.{fmt}"
        cli("export", "--format", fmt, "--out", str(first), "--quiet")
        cli("export", "--format", fmt, "--out", str(second), "--quiet")
        assert first.read_bytes() == second.read_bytes(), fmt


def test_parquet_keeps_entities_as_a_nested_list_and_opens_in_pyarrow(cli, tmp_path):
    cli("export", "--format", "parquet", "--out", str(tmp_path / "a.parquet"), "--quiet")
    table = pq.read_table(tmp_path / "a.parquet")
    assert str(table.schema.field("entities").type).startswith("list<element: struct<text: string")
    assert str(table.schema.field("tags").type) == "list<element: string>"
    rows = table.to_pylist()
    for row in rows:
        for entity in row["entities"]:
            assert row["text"][entity["start"]:entity["end"]] == entity["text"]


def test_csv_pair_round_trips_through_the_csv_module_with_newlines_intact(cli, tmp_path):
    cli("export", "--format", "csv", "--out", str(tmp_path / "a.csv"), "--quiet")
    with open(tmp_path / "a.csv", newline="", encoding="utf-8") as handle:
        articles = list(csv.DictReader(handle))
    with open(tmp_path / "a.entities.csv", newline="", encoding="utf-8") as handle:
        entities = list(csv.DictReader(handle))
    texts = {a["id"]: a["text"] for a in articles}
    assert any("\n" in t for t in texts.values())
    assert entities and all(texts[e["article_id"]][int(e["start"]):int(e["end"])] == e["text"] for e in entities)
    assert jsonl_ids(cli, tmp_path) == [a["id"] for a in articles]


def jsonl_ids(cli, tmp_path):
    cli("export", "--out", str(tmp_path / "ids.jsonl"), "--quiet")
    return [r["id"] for r in jsonl(tmp_path / "ids.jsonl")]


def test_the_dataset_card_describes_every_field_in_the_file(cli, tmp_path):
    cli("export", "tag:facial-recognition", "--lang", "fr", "--stories", "originals", "--out",
        str(tmp_path / "fr.jsonl"), "--quiet")
    rows = jsonl(tmp_path / "fr.jsonl")
    assert rows and all(r["lang"] == "fr" and r["relation"] == "original" for r in rows)
    assert all("facial-recognition" in r["tags"] for r in rows)
    package = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    described = {f["name"] for f in package["resources"][0]["schema"]["fields"]}
    assert described == set(rows[0])
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "query = 'tag:facial-recognition'" in card and f"{len(rows)} articles" in card and "## Copyright" in card


def test_the_spacy_docbin_holds_the_entities(cli, tmp_path):
    import spacy
    from spacy.tokens import DocBin

    cli("export", "--format", "spacy", "--lang", "en", "--out", str(tmp_path / "en.spacy"), "--quiet")
    docs = list(DocBin().from_disk(tmp_path / "en.spacy").get_docs(spacy.blank("en").vocab))
    assert docs and sum(len(d.ents) for d in docs) > 10


def test_an_export_never_overwrites_a_readme_that_is_not_its_own(cli, tmp_path):
    (tmp_path / "README.md").write_text("# my project\n", encoding="utf-8")
    result = cli("export", "--out", str(tmp_path / "a.jsonl"), "--quiet", ok=False)
    assert result.exit_code == 2 and "folder of its own" in result.stderr
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "# my project\n"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_each_format_opens_in_pandas_with_offsets_intact(cli, tmp_path, fmt):
    import pandas as pd

    out = tmp_path / f"a.{fmt}"
    cli("export", "--format", fmt, "--out", str(out), "--quiet")
    if fmt == "jsonl":
        frame = pd.read_json(out, lines=True, dtype={"id": str, "story_id": str, "original_id": str})
        pairs = [(t, e) for t, es in zip(frame["text"], frame["entities"]) for e in es]
    elif fmt == "parquet":
        frame = pd.read_parquet(out)
        pairs = [(t, e) for t, es in zip(frame["text"], frame["entities"]) for e in es]
    else:
        frame = pd.read_csv(out, dtype=str, keep_default_na=False)
        entities = pd.read_csv(out.with_name("a.entities.csv"), dtype={"article_id": str})
        texts = dict(zip(frame["id"], frame["text"]))
        pairs = [(texts[a], {"start": s, "end": e, "text": t})
                 for a, s, e, t in zip(entities["article_id"], entities["start"], entities["end"], entities["text"])]
    assert list(frame["id"]) == jsonl_ids(cli, tmp_path)
    assert len(pairs) > 50
    assert all(text[e["start"]:e["end"]] == e["text"] for text, e in pairs)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_dataset_card_validates_as_a_data_package_with_its_data(cli, tmp_path, fmt):
    import frictionless

    cli("export", "--format", fmt, "--out", str(tmp_path / f"a.{fmt}"), "--quiet")
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    assert sum(task.stats["rows"] for task in report.tasks) > 9  # the data was read, not only the descriptor


def test_the_parquet_card_is_a_valid_data_package_naming_every_column(cli, tmp_path):
    # frictionless reads Parquet through fastparquet, which cannot read nested columns:
    # the descriptor is validated by frictionless, the columns are checked against pyarrow's schema.
    import frictionless

    cli("export", "--format", "parquet", "--out", str(tmp_path / "a.parquet"), "--quiet")
    report = frictionless.Package.validate_descriptor(str(tmp_path / "datapackage.json"))
    assert report.valid, report.flatten(["type", "note"])[:5]
    fields = frictionless.Package(str(tmp_path / "datapackage.json")).get_resource("articles").schema.field_names
    assert fields == pq.read_schema(tmp_path / "a.parquet").names


def test_a_terminal_sees_a_progress_bar_counting_every_row(cli, tmp_path):
    import os
    import re
    import subprocess
    import sys

    leader, follower = os.openpty()  # stderr is a terminal, as when a researcher types the command
    process = subprocess.Popen([sys.executable, "-m", "veille", "--archive", str(cli.archive), "export",
                                "--out", str(tmp_path / "a.jsonl")],
                               stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                               env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    rows = len(jsonl(tmp_path / "a.jsonl"))
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", screen).decode("utf-8", "replace")
    assert "exporting" in text and f"{rows}/{rows}" in text


def test_an_export_writes_nothing_outside_its_folder_even_through_planted_symlinks(cli, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "export"
    folder.mkdir()
    victims = {}
    for name in ("a.jsonl.tmp", "datapackage.json", "datapackage.json.tmp", "README.md.tmp", "a.jsonl"):
        victim = outside / f"{name}.victim"  # the card looks like an earlier export's, so it may be replaced
        victim.write_text('{"name": "veille-export"}\n' if name == "datapackage.json" else "precious\n",
                          encoding="utf-8")
        (folder / name).symlink_to(victim)
        victims[name] = victim
    before = {name: victim.read_text(encoding="utf-8") for name, victim in victims.items()}
    cli("export", "--out", str(folder / "a.jsonl"), "--quiet")
    assert {name: victim.read_text(encoding="utf-8") for name, victim in victims.items()} == before
    assert sorted(p.name for p in outside.iterdir()) == sorted(v.name for v in victims.values())
    assert not (folder / "a.jsonl").is_symlink() and jsonl(folder / "a.jsonl")
    assert json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))["name"] == "veille-export"


def test_out_must_be_a_regular_file_or_a_new_path(cli, tmp_path):
    import os
    import stat
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    device = tmp_path / "null.jsonl"
    device.symlink_to("/dev/null")  # `--out /dev/null` once replaced the device and wrote the card into /dev
    for out in (fifo, device):
        result = cli("export", "--out", str(out), "--quiet", ok=False)
        assert result.exit_code == 2 and "is not a regular file" in result.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null.jsonl", "pipe.jsonl"]  # no card, no data
    under_a_file = cli("export", "--out", str(fifo / "x.jsonl"), "--quiet", ok=False)
    assert under_a_file.exit_code == 2 and "is a file, not a folder" in under_a_file.stderr


@pytest.mark.parametrize("name", ["README.md", "datapackage.json"])
def test_the_card_never_overwrites_the_data_it_describes(cli, tmp_path, name):
    result = cli("export", "--out", str(tmp_path / name), "--quiet", ok=False)
    assert result.exit_code == 2 and "name of the dataset card" in result.stderr
    assert not (tmp_path / name).exists()


def test_a_csv_export_never_clobbers_another_exports_entity_file(cli, tmp_path):
    cli("export", "--format", "csv", "--out", str(tmp_path / "a.csv"), "--quiet")
    entities = (tmp_path / "a.entities.csv").read_bytes()
    result = cli("export", "--format", "csv", "--out", str(tmp_path / "a.entities.csv"), "--quiet", ok=False)
    assert result.exit_code == 2 and "is the entity file of the export a.csv" in result.stderr
    assert (tmp_path / "a.entities.csv").read_bytes() == entities


def test_a_spacy_export_never_leaves_shards_of_an_older_export_beside_it(cli, tmp_path, monkeypatch):
    from veille.outputs import export
    monkeypatch.setattr(export, "SPACY_SHARD", 2)
    cli("export", "--format", "spacy", "--out", str(tmp_path / "docs.spacy"), "--quiet")
    older = sorted(p.name for p in tmp_path.glob("docs*.spacy"))
    assert len(older) >= 3

    cli("export", "--format", "spacy", "--lang", "en", "--out", str(tmp_path / "docs.spacy"), "--quiet")

    newer = sorted(p.name for p in tmp_path.glob("docs*.spacy"))
    assert len(newer) < len(older)
    card = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in newer)
    paths = card["resources"][0]["path"]
    assert sorted(paths if isinstance(paths, list) else [paths]) == newer


def test_an_export_killed_before_its_card_leaves_the_previous_export_whole(cli, tmp_path, monkeypatch):
    from veille.outputs import export
    cli("export", "--lang", "fr", "--out", str(tmp_path / "a.jsonl"), "--quiet")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the moment between the data and its card

    monkeypatch.setattr(export, "_card", killed)
    interrupted = cli("export", "--lang", "en", "--out", str(tmp_path / "a.jsonl"), "--quiet", ok=False)

    assert interrupted.exit_code != 0  # click reports Ctrl-C as "Aborted!"

    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # old data, old card, no leftovers


def test_spacy_docs_carry_their_article_id_and_the_card_describes_the_file_as_it_is(cli, tmp_path):
    import spacy
    from spacy.tokens import DocBin

    cli("export", "--format", "spacy", "--out", str(tmp_path / "all.spacy"), "--quiet")
    cli("export", "--out", str(tmp_path / "rows" / "all.jsonl"), "--quiet")
    rows = {r["id"]: r for r in jsonl(tmp_path / "rows" / "all.jsonl")}
    docs = list(DocBin().from_disk(tmp_path / "all.spacy").get_docs(spacy.blank("xx").vocab))

    assert sorted(d.user_data["id"] for d in docs) == sorted(rows)
    for doc in docs:
        row = rows[doc.user_data["id"]]
        assert doc.text == row["text"] and doc.user_data["story_id"] == row["story_id"]
        assert doc.user_data["lang"] == row["lang"] and doc.user_data["url"] == row["url"]
    package = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    described = {f["name"] for f in package["resources"][0]["schema"]["fields"]}
    assert described == {"text", "ents"} | {f"user_data.{k}" for k in docs[0].user_data}
