"""`veille retag`: the archive already held gets the current models' entities and topics."""

import pytest

from veille.pipeline import Taggers, import_paths, retag
from veille.storage.sqlite.store import MIGRATIONS, Archive

import archive_sql
from conftest import SEEDS

NO_MODELS = "nlp:\n  models: {}\nsources: []\n"


def test_retag_brings_every_article_to_the_current_models_and_resumes_after_an_interruption(cli):
    cli.write_config(NO_MODELS)
    cli("import", str(SEEDS))
    before = cli.json_lines("status")[-1]["taggers"]
    assert all(row["tagger"].startswith("fallback") for row in before)

    cli.config.unlink()  # back to the default models: every article is out of date
    calls = []

    def interrupt_after_two(event, detail):
        if event == "file":
            calls.append(detail)
            if len(calls) == 2:
                raise KeyboardInterrupt

    with Archive(cli.archive) as archive, pytest.raises(KeyboardInterrupt):
        retag(None, archive, progress=interrupt_after_two)
    summary = cli.json_lines("retag")[0]
    assert summary["updated"] == 3  # the two done before the interruption are kept
    assert cli.json_lines("retag")[0]["updated"] == 0
    after = cli.json_lines("status")[-1]["taggers"]
    assert all(row["tagger"].startswith("model") for row in after)
    assert "full model" in cli("status").stdout


def test_an_archive_from_before_tagging_upgrades_and_can_be_tagged(tmp_path):
    folder = tmp_path / "old"
    with Archive(folder) as archive:
        import_paths([SEEDS / "002_cdb768120f0b8caf.txt"], archive, taggers=Taggers())
    # Make it look like a version-1 archive: drop what migrations 2 to 7 added.
    archive_sql.script(folder, "DROP TRIGGER articles_changed_insert; DROP TRIGGER articles_changed_update; "
                               "DROP TRIGGER story_members_changed_insert; DROP TRIGGER story_members_changed_update; "
                               "DROP TRIGGER articles_changed_delete; DROP TRIGGER story_members_changed_delete; "
                               "DROP TABLE article_changes; "
                               "DROP TABLE entities; DROP TABLE tags; ALTER TABLE articles DROP COLUMN tagger; "
                               "ALTER TABLE articles DROP COLUMN tagged_at; ALTER TABLE articles DROP COLUMN lang_shares; "
                               "DROP TABLE fingerprints; DROP TABLE lsh; "
                               "DROP TABLE anchors; DROP TABLE alternate_links; DROP TABLE stories; "
                               "DROP TABLE story_members; DROP TABLE dedupe_state; DROP TABLE saved_searches; DROP TABLE digest_sends; " +
                               "".join(f"ALTER TABLE sources DROP COLUMN {c}; " for c in (
                                   "health", "failing_since", "paused_since", "next_attempt", "error_kind",
                                   "not_modified_streak", "moved_to", "moved_at")) +
                               "PRAGMA user_version = 1;")
    with Archive(folder) as archive:
        assert archive.schema_version == len(MIGRATIONS)
        report = retag(None, archive)
        (article,) = archive.list_articles(limit=None)
        assert report.counts["updated"] == 1
        assert "palantir" in {e.key for e in archive.entities_of(article.id)}


def test_entities_ranks_keys_across_languages(cli):
    cli("import", str(SEEDS))
    rows = cli.json_lines("entities", "--top", "50")
    by_key = {row["key"]: row for row in rows}
    assert by_key["palantir"]["articles"] >= 3 and set(by_key["palantir"]["langs"]) == {"en", "fr"}
    orgs = cli.json_lines("entities", "--label", "ORG", "--lang", "fr")
    assert orgs and all(row["label"] == "ORG" for row in orgs)
    result = cli("entities", "--since", "last week", ok=False)
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_a_missing_model_is_said_once_and_shown_in_status(cli):
    cli.write_config("nlp:\n  models:\n    fr: fr_core_news_lg_not_installed\nsources: []\n")
    result = cli("import", str(SEEDS / "003_bf1c28aafdd60c35.txt"))
    assert result.stderr.count("fr_core_news_lg_not_installed for fr") == 1
    status = cli("status").stdout
    assert "fallback: gazetteer only" in status and "fr_core_news_lg_not_installed is not installed" in status
    article = cli.json_lines("list")[0]
    keys = {e["key"] for e in cli.json_lines("show", article["id"])[0]["entities"]}
    assert {"la-quadrature-du-net", "cnil", "nice"} <= keys  # the gazetteer still finds them
