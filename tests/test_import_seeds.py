"""The five seed documents: the acceptance check of the archive pipeline."""

import pytest

from conftest import SEEDS

EXPECTED = {
    "000": ("fr", "Opinion – Il ne devrait pas y avoir de technologie pour les tyrans"),
    "001": ("en", None),
    "002": ("en", "Opinion – There should be no technology for tyrants"),
    "003": ("fr", "La Quadrature du Net ouvre la bataille contre la technopolice"),
    "004": ("fr", "Comment s’organiser contre la domination assistée par ordinateur ? [forum ouvert]"),
}

FURNITURE = [
    "Menu Menu", "Les Crises Les Crises", "Accessibilité", "We use cookies",
    "Sign up to our newsletter", "23 réactions et commentaires", "4 Responses",
    "Wait, don't go yet", "Commentaire recommandé", "Alerter", "Je me marre",
    "image_pdfimage_print", "Temps de lecture", "Bonjour,",
    "contributing writer", "Click right here", "(what could be better)", "Merci 151",
]


@pytest.fixture
def imported(cli):
    cli("import", str(SEEDS))
    by_file = {}
    for row in cli.json_lines("list", "--limit", "0"):
        number = row["url"].rsplit("/", 1)[1][:3]
        by_file[number] = cli.json_lines("show", row["id"])[0]
    return by_file


def test_seeds_import_as_five_articles_with_their_languages_and_titles(imported):
    assert sorted(imported) == sorted(EXPECTED)
    for number, (lang, title) in EXPECTED.items():
        article = imported[number]
        assert article["lang"] == lang, number
        assert article["lang_confidence"] > 0.9
        if title:
            assert article["title"] == title
    assert imported["001"]["title"].startswith("Technology is a tool")


def test_imported_files_keep_their_location_as_a_file_url(imported):
    for number, article in imported.items():
        assert article["url"].startswith("file:///")
        assert article["url"].endswith(".txt")
        assert article["source"] == "import"


@pytest.mark.parametrize("phrase", FURNITURE)
def test_seed_texts_hold_no_menus_prompts_or_comments(imported, phrase):
    for number, article in imported.items():
        assert phrase not in article["text"], f"{phrase!r} left in seed {number}"


def test_seed_texts_keep_the_article(imported):
    assert "Mijente nous aide à riposter" in imported["000"]["text"]
    assert "Its recent campaign #NoTechForICE" in imported["001"]["text"]
    assert "Source : La Quadrature du Net, 16-09-2019" in imported["003"]["text"]
    assert "La Technopolice ne passera pas !" in imported["003"]["text"]
    assert "ça finit quand c’est fini." in imported["004"]["text"]
    # The author's closing credit is article, not furniture.
    assert "originally written by Julie Luebken" in imported["002"]["text"]


def test_the_lost_quotes_of_seed_001_are_restored(imported):
    text = imported["001"]["text"]
    assert "β" not in text
    assert "In case you’re unaware" in text
    assert "It’s worth noting that ICE is only successful because it’s given access" in text


def test_the_damaged_copy_reads_like_its_original_once_cleaned(imported):
    damaged = imported["001"]["text"].split()
    original = imported["002"]["text"].split()
    assert damaged == original


def test_a_second_import_adds_nothing(cli, imported):
    result = cli("import", str(SEEDS), "--json")
    assert '"new": 0' in result.stdout and '"unchanged": 5' in result.stdout
    assert len(cli.json_lines("list", "--limit", "0")) == 5


def test_the_dateline_of_seed_003_gives_its_date_and_site(imported):
    assert imported["003"]["published"] == "2019-09-24"
    assert imported["003"]["site_name"] == "Les Crises"
