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
