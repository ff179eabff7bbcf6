"""The acceptance check of tagging: the seeds, as `veille import seeds/` stores them."""

import pytest

from conftest import SEEDS, Cli


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("tagging"))
    cli("import", str(SEEDS))
    articles = {}
    for row in cli.json_lines("list", "--limit", "0"):
        articles[row["url"].rsplit("/", 1)[1][:3]] = cli.json_lines("show", row["id"])[0]
    return articles


def keys(article):
    return {e["key"] for e in article["entities"]}


def key_of(article, *names):
    found = {e["key"] for e in article["entities"] if e["text"] in names}
    assert len(found) == 1, (names, found)
    return found.pop()


def test_the_original_and_its_translation_carry_the_same_entities_under_the_same_keys(seeds):
    french, english = seeds["000"], seeds["002"]
    for names in (("Mijente",), ("Palantir",), ("ICE",), ("Microsoft",), ("Amazon Web Services",)):
        assert key_of(french, *names) == key_of(english, *names)
    assert key_of(english, "Immigration and Customs Enforcement") == key_of(english, "ICE")


def test_seed_003_names_the_campaigners_the_regulator_and_the_cities(seeds):
    found = keys(seeds["003"])
    for names in (("La Quadrature du Net",), ("CNIL",), ("Nice",), ("Marseille",)):
        assert key_of(seeds["003"], *names) in found


def test_seed_004_names_its_organisers_and_place(seeds):
    for names in (("Attac",), ("Framasoft",), ("Bobigny",)):
        key_of(seeds["004"], *names)


def test_topics_tag_seed_003_and_the_translation_pair_alike(seeds):
    assert {"facial-recognition", "predictive-policing", "video-surveillance"} <= set(seeds["003"]["tags"])
    assert seeds["000"]["tags"] == seeds["002"]["tags"]
    assert "immigration-enforcement" in seeds["002"]["tags"]


def test_offsets_are_exact_for_every_entity_in_the_archive(seeds):
    for article in seeds.values():
        for entity in article["entities"]:
            assert article["text"][entity["start"]:entity["end"]] == entity["text"]
