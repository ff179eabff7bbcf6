import pytest

from veille.errors import ArchiveError
from veille.models import Article
from veille.storage.sqlite.store import MIGRATIONS, Archive

import archive_sql


def article(text="First version of the text.", **kw):
    values = dict(id="a1", url="https://x.example/a", source="s", text=text, lang="en",
                  lang_confidence=0.99, lang_reason="test", extractor="test", raw=b"<html>raw</html>")
    values.update(kw)
    return Article(**values)


def test_the_archive_is_sqlite_in_wal_mode_at_the_latest_schema(archive):
    assert archive_sql.execute(archive, "PRAGMA journal_mode")[0][0] == "wal"
    assert archive.schema_version == len(MIGRATIONS)


def test_a_changed_text_is_stored_and_the_old_one_kept_as_a_revision(any_archive):
    archive = any_archive  # each backend
    assert archive.save_article(article(), "2026-01-01T00:00:00Z") == "new"
    assert archive.save_article(article(), "2026-01-02T00:00:00Z") == "unchanged"
    assert archive.save_article(article("Second,   version of the text."), "2026-01-03T00:00:00Z") == "updated"
    stored = archive.get_article("a1")
    assert stored.text == "Second,   version of the text." and stored.revision == 2
    assert stored.first_seen == "2026-01-01T00:00:00Z"
    (old,) = archive.revisions("a1")
    assert old["revision"] == 1
    assert archive_sql.execute(archive, "SELECT text FROM revisions")[0][0] == "First version of the text."


def test_whitespace_changes_are_not_a_new_version(any_archive):
    archive = any_archive  # each backend
    archive.save_article(article("A  text\nwith spacing."), "t1")
    assert archive.save_article(article("A text with spacing."), "t2") == "unchanged"


def test_raw_html_is_kept_compressed_and_comes_back_intact(any_archive):
    archive = any_archive  # each backend
    raw = ("<html>" + "répété " * 2000 + "</html>").encode("utf-8")
    archive.save_article(article(raw=raw), "t")
    stored_size = archive_sql.execute(archive, "SELECT length(raw) FROM articles")[0][0]
    assert stored_size < len(raw) / 10
    assert archive.get_article("a1").raw == raw


def test_ids_can_be_shortened_when_unique(any_archive):
    archive = any_archive  # each backend
    archive.save_article(article(id="abcdef0123456789"), "t")
    assert archive.get_article("abcdef01").id == "abcdef0123456789"
    assert archive.get_article("abc") is None


def test_an_archive_from_a_newer_veille_is_refused_not_damaged(tmp_path):
    with Archive(tmp_path) as opened:
        archive_sql.execute(opened, f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(ArchiveError, match="upgrade veille"):
        Archive(tmp_path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    (tmp_path / "veille.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ArchiveError, match="not a veille archive"):
        Archive(tmp_path)


def test_a_failed_write_leaves_earlier_articles_intact(archive):
    archive.save_article(article(), "t")
    with pytest.raises(archive_sql.IntegrityError):
        archive.save_article(article(id="a2", lang=None), "t")  # lang is NOT NULL
    assert archive.count_articles() == 1
    assert archive.get_article("a1").text == "First version of the text."


def test_every_change_gets_a_higher_number_even_within_one_second(any_archive):
    archive = any_archive  # each backend
    """The search index follows these numbers: a timestamp cursor lost articles stored in the second of a sync."""
    for n in range(5):
        archive.save_article(Article(id=f"a{n}", url=f"https://e.org/{n}", source="s", text=f"text {n}"),
                             "2026-01-01T00:00:00Z")
    first = archive.changed_since("", batch=100)
    assert [a.id for a, *_ in first] == ["a0", "a1", "a2", "a3", "a4"]
    cursor = first[-1][4]
    # an index synced before change numbers kept "time id" marks: read as the number they stand for
    assert [a.id for a, *_ in archive.changed_since("2026-01-01T00:00:00Z a2", batch=100)] == ["a3", "a4"]
    archive.save_article(Article(id="a5", url="https://e.org/5", source="s", text="text 5"), "2026-01-01T00:00:00Z")
    archive.save_article(Article(id="a1", url="https://e.org/1", source="s", text="text 1, corrected"),
                         "2026-01-01T00:00:00Z")
    assert [a.id for a, *_ in archive.changed_since(cursor, batch=100)] == ["a5", "a1"]
