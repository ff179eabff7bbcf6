"""Translations in other scripts, pages that only share boilerplate, and pages left half untranslated.

The documents in fixtures/stories are real: Debian's manual pages in their human translations (see
bench/eval/translations/README.md and bench/eval/pairs/README.md).
"""

import pytest

from conftest import FIXTURES, Cli

STORIES = FIXTURES / "stories"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("translations"))
    cli("import", str(STORIES))
    rows = {row["url"].rsplit("/", 1)[1].removesuffix(".txt"): row for row in cli.json_lines("list", "--limit", "0")}
    return cli, rows


def test_an_english_page_and_its_chinese_translation_are_one_story_as_a_translation(imported):
    # The Chinese page has 2.5 times fewer characters than the English one: a length measured in
    # characters kept them apart.
    cli, rows = imported
    english, chinese = rows["man-mkdir.1-en"], rows["man-mkdir.1-zh"]
    assert chinese["lang"] == "zh"
    assert chinese["story_id"] == english["story_id"]
    assert {chinese["relation"], english["relation"]} == {"original", "translation"}
    story = cli.json_lines("story", english["id"])[0]
    evidence = " ".join(m["evidence"] for m in story["members"])
    assert "shared anchors" in evidence and "--parents" in evidence


def test_pages_sharing_only_boilerplate_anchors_stay_apart(imported):
    # GNU coreutils pages in five languages all carry GNU, GPL, a year, gnu.org, --help and
    # --version: that is no evidence that they are one text.
    _, rows = imported
    pages = ["man-df.1-fr", "man-id.1-de", "man-uname.1-zh", "man-cat.1-ru", "man-ls.1-ja", "man-mkdir.1-en"]
    assert len({rows[page]["story_id"] for page in pages}) == len(pages)
    assert all(rows[page]["relation"] == "original" for page in pages[:-1])


def test_a_spanish_page_left_partly_in_english_is_a_translation_not_a_copy(imported):
    # putenv.3 in Spanish keeps a third of its paragraphs in English, so that English is its main
    # language; the Spanish share makes the two versions translations of each other all the same.
    _, rows = imported
    english, spanish = rows["man-putenv.3-en"], rows["man-putenv.3-es"]
    assert spanish["lang"] == "en" and spanish["lang_shares"]["es"] > 0.2
    assert spanish["story_id"] == english["story_id"]
    assert {spanish["relation"], english["relation"]} == {"original", "translation"}


def test_a_version_that_joins_two_stories_leaves_no_member_outside_a_story(tmp_path, any_archive):
    # Two English pages on one command (not copies of each other) start two stories; a French page
    # naming every option of both joins them. The members of the story it joins that did not change
    # were deleted with the story's old rows and left in no story at all.
    from veille.pipeline import Taggers, import_paths

    options = " ".join(f"--{name}" for name in ("parents", "verbose", "mode", "context", "ignore-fail-on-non-empty",
                                               "dry-run", "preserve-root", "one-file-system"))
    pages = {
        "a-en": ("2026-03-01", f"The command removes each directory given, if it is empty. It accepts {options} and "
                              "reports each directory it removes when asked to, in the order given on the command line."),
        "b-en": ("2026-03-02", f"Options understood by this program are {options}; each changes how it behaves when a "
                              "directory still holds files, or when a parent of it cannot be reached or read."),
        "c-fr": ("2026-03-03", f"La commande supprime chaque répertoire indiqué, s'il est vide. Elle accepte {options} "
                              "et signale chaque répertoire supprimé quand on le lui demande, dans l'ordre donné."),
    }
    for name, (day, text) in pages.items():
        (tmp_path / f"{name}.html").write_text(_dated_page(name, day, text), encoding="utf-8")
    with any_archive as archive:
        import_paths([tmp_path / f"{name}.html" for name in pages], archive, taggers=Taggers())
        rows = {a.url.rsplit("/", 1)[1]: archive.story_membership(a.id) for a in archive.list_articles(limit=None)}
    assert all(row is not None for row in rows.values()), rows
    assert len({row["story_id"] for row in rows.values()}) == 1


def test_a_second_text_in_a_language_the_story_already_has_is_not_a_translation_of_it(tmp_path, any_archive):
    # The chown page in Czech shares nearly all its options with the chgrp page's versions, and
    # once joined their story, which had chgrp in Czech already (bench/eval/translations/dev:
    # 104 false pairs). One text has one version per language: a second Czech text that is no
    # copy of the first is another text.
    from veille.pipeline import Taggers, import_paths

    options = " ".join(f"--{name}" for name in ("changes", "dereference", "no-dereference", "preserve-root",
                                               "recursive", "reference", "silent", "verbose"))
    pages = {
        "chgrp-en": ("2026-03-01", f"The command changes the group of each file to the group given. It accepts {options} "
                                  "and reports each file whose group it changes when asked to."),
        "chgrp-cs": ("2026-03-02", f"Příkaz změní skupinu každého souboru na zadanou skupinu. Přijímá {options} a "
                                  "na požádání vypíše každý soubor, jehož skupinu změnil."),
        "chown-cs": ("2026-03-03", f"Tento program mění vlastníka a skupinu souborů podle zadání uživatele. Volby jsou "
                                  f"{options}; bez nich pracuje potichu a nesleduje symbolické odkazy."),
    }
    for name, (day, text) in pages.items():
        (tmp_path / f"{name}.html").write_text(_dated_page(name, day, text), encoding="utf-8")
    with any_archive as archive:
        import_paths([tmp_path / f"{name}.html" for name in pages], archive, taggers=Taggers())
        rows = {a.url.rsplit("/", 1)[1]: (a.lang, archive.story_membership(a.id)) for a in archive.list_articles(limit=None)}
    assert [rows[f"{name}.html"][0] for name in pages] == ["en", "cs", "cs"]
    assert rows["chgrp-en.html"][1]["story_id"] == rows["chgrp-cs.html"][1]["story_id"]
    assert rows["chown-cs.html"][1]["story_id"] != rows["chgrp-en.html"][1]["story_id"]
    assert rows["chown-cs.html"][1]["relation"] == "original"


def test_a_manual_pages_placeholders_are_words_not_acronyms(imported):
    # "mkdir [OPTION]... DIRECTORY..." and "--mode=MODE": words set in capitals, which every
    # translation translates (OPTION, FICHIER, DIRECTORUL). As anchors they weighed against every
    # translation; the page writes them in lower case too ("directory", "mode").
    from veille.models import Article
    from veille.stages import dedupe

    text = (STORIES / "man-mkdir.1-en.txt").read_text(encoding="utf-8")
    found = dedupe.anchors(Article(id="a", url="file:///a", source="s", text=text, text_hash="h", lang="en"))
    assert {"a:GNU", "a:SMACK", "o:--parents"} <= found
    assert not {"a:DIRECTORY", "a:OPTION", "a:MODE"} & found


def _dated_page(title: str, day: str, text: str) -> str:
    return (f"<html><head><title>{title}</title><meta property='article:published_time' content='{day}'></head>"
            f"<body><article><h1>{title}</h1><p>{text}</p></article></body></html>")
