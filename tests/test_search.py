"""`veille search`: the acceptance checks of the search issue, on the seeds."""

import json
import shutil

import pytest

from conftest import SEEDS, Cli


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("search"))
    cli("import", str(SEEDS))
    ids = {row["url"].rsplit("/", 1)[1][:3]: row["id"] for row in cli.json_lines("list", "--limit", "0")}
    return cli, ids


def found(cli, *args):
    result = cli("search", *args, "--json", ok=False)
    assert result.exit_code in (0, 1), result.output  # 1: no match, like grep
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_a_french_phrase_finds_the_two_french_articles_about_it(seeds):
    cli, ids = seeds
    assert {r["id"] for r in found(cli, '"reconnaissance faciale"')} == {ids["003"], ids["004"]}


def test_a_name_returns_one_story_holding_the_article_its_copy_and_its_translation(seeds):
    cli, ids = seeds
    (story,) = found(cli, "palantir")
    assert {m["id"] for m in story["members"]} >= {ids["000"], ids["001"], ids["002"]}
    assert "also in: en" in cli("search", "palantir").stdout


def test_all_versions_in_one_language(seeds):
    cli, ids = seeds
    rows = found(cli, "tyrans", "--lang", "fr", "--all-versions")
    assert ids["000"] in {r["id"] for r in rows} and ids["002"] not in {r["id"] for r in rows}


def test_accents_and_inflections_do_not_matter(seeds):
    cli, ids = seeds
    assert ids["003"] in {r["id"] for r in found(cli, "securite")}
    assert ids["003"] in {r["id"] for r in found(cli, "reconnaissances")}


@pytest.mark.parametrize("query, words", [
    ('"unclosed', "unclosed quote"), ("(palantir OR ice", "unclosed '('"), ("palantir)", "unmatched ')'"),
    ("colour:red", "unknown field 'colour'"),
])
def test_a_broken_query_is_one_line_and_a_non_zero_exit(seeds, query, words):
    cli, _ = seeds
    result = cli("search", query, ok=False)
    assert result.exit_code != 0 and words in result.stderr and result.stderr.strip().count("\n") == 0


def test_filters_on_entities_tags_and_language(seeds):
    cli, ids = seeds
    assert {r["id"] for r in found(cli, "entity:AWS", "--all-versions")} == {ids["000"], ids["001"], ids["002"]}
    assert ids["003"] in {r["id"] for r in found(cli, "tag:facial-recognition AND lang:fr")}
    assert found(cli, "palantir", "--lang", "de") == []
    assert found(cli, '"10:30" OR palantir')  # a time is not a field


def test_the_index_rebuilds_to_the_same_answers_and_catches_up_after_a_crash(seeds):
    cli, _ = seeds
    queries = ['"reconnaissance faciale"', "palantir", "securite", "tag:video-surveillance"]

    def answers(query):  # the stories and articles found, in order (scores may move by a hair)
        return [(r["story_id"], r["id"], r["snippet"]) for r in found(cli, query)]

    before = {q: answers(q) for q in queries}
    shutil.rmtree(cli.archive / "index")
    assert "5 articles indexed" in cli("reindex").stdout
    assert {q: answers(q) for q in queries} == before
    (cli.archive / "index" / "cursor.json").unlink()  # as if the process died before recording its progress
    assert {q: answers(q) for q in queries} == before


def test_cross_lingual_search_finds_the_french_articles_from_english_words_and_says_how(seeds):
    cli, ids = seeds
    assert not {r["id"] for r in found(cli, '"facial recognition"', "--all-versions")} & {ids["003"], ids["004"]}
    result = cli("search", '"facial recognition"', "--cross-lingual", "--all-versions", "--json")
    hits = {json.loads(line)["id"] for line in result.stdout.splitlines()}
    assert {ids["003"], ids["004"]} <= hits
    assert "expanded: facial recognition → tag:facial-recognition" in " ".join(result.stderr.split())


def test_saved_searches_can_be_added_run_listed_and_removed(seeds):
    cli, ids = seeds
    cli("searches", "add", "ice-tech", "palantir OR technopolice", "--lang", "fr")
    assert [s["name"] for s in cli.json_lines("searches", "list")] == ["ice-tech"]
    assert {r["id"] for r in found(cli, "--saved", "ice-tech", "--all-versions")} == {ids["000"], ids["003"]}
    cli("searches", "remove", "ice-tech")
    result = cli("search", "--saved", "ice-tech", ok=False)
    assert result.exit_code == 1 and "no saved search" in result.stderr
    bad = cli("searches", "add", "broken", '"unclosed', ok=False)
    assert bad.exit_code == 2 and "unclosed quote" in bad.stderr


def test_facets_count_languages_sources_tags_and_entities(seeds):
    cli, _ = seeds
    (counts,) = [json.loads(line) for line in cli("search", "palantir", "--facets", "--json").stdout.splitlines()]
    assert counts["language"] == {"en": 2, "fr": 1}
    assert counts["entity"]["palantir"] == 3 and "immigration-enforcement" in counts["tag"]
