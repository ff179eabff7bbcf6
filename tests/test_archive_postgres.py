"""The PostgreSQL archive's own behaviour: many writers at once, partitions by month, a server that
goes away and comes back, roles that may only read, databases that are not archives (yet)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from veille.errors import ArchiveConnectError, ArchiveError, ServerGoneError, StorageError
from veille.models import Article, Entity
from veille.storage import archive_exists, open_archive

import archive_sql


def article(number: int, text: str = "A text about the harbour and its new cranes. ", **kw) -> Article:
    values = dict(id=f"{number:032x}", url=f"https://site.example/news/{number}.html", source="s", text=text * 5,
                  lang="en", lang_confidence=0.99, lang_reason="test", extractor="test", raw=b"<html>page</html>",
                  fetched="2026-03-04T10:00:00Z", entities=[Entity("Harbour", "LOC", 13, 20, "harbour", "model")],
                  tags=["port"])
    values.update(kw)
    return Article(**values)


def scalar(url: str, sql: str, *params):
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def at_once(url: str, work, writers: int = 2) -> list[Exception]:
    """`work(archive, writer)` run by `writers` threads at once, each with an archive (a pool, sessions)
    of its own, as separate processes would; the exceptions they raised."""
    barrier, failures = threading.Barrier(writers), []

    def run(writer: int) -> None:
        try:
            with open_archive(url) as mine:
                barrier.wait(timeout=60)
                work(mine, writer)
        except Exception as exc:  # shown by the caller's assertion
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return failures


def test_two_writers_saving_the_same_articles_at_once_store_each_once(pg_url):
    open_archive(pg_url).close()  # the schema, made once
    results: dict[int, list[str]] = {0: [], 1: []}

    def save(archive, writer):
        for n in range(30):
            results[writer].append(archive.save_article(article(n), "2026-03-04T10:00:00Z"))

    assert at_once(pg_url, save) == []
    assert sorted(results[0] + results[1]) == ["new"] * 30 + ["unchanged"] * 30
    with open_archive(pg_url) as archive:
        assert archive.count_articles() == archive.approximate_count() == 30
        assert archive.get_article(article(7).id).text == article(7).text
        assert archive.entities_of(article(7).id)[0].key == "harbour" and archive.tags_of(article(7).id) == ["port"]
        assert len(archive.changed_since("", batch=100)) == 30
    assert scalar(pg_url, "SELECT COUNT(*) - COUNT(DISTINCT url) FROM articles") == 0


def test_two_writers_opening_new_months_at_once_both_store_their_articles(pg_url):
    """The first article of a month makes the month's partition: two writers doing it at once both succeed."""
    open_archive(pg_url).close()

    def save(archive, writer):
        for month in range(1, 13):
            number = 1000 * writer + month
            assert archive.save_article(article(number, fetched=f"2025-{month:02d}-15T08:00:00Z"), "t") == "new"

    assert at_once(pg_url, save) == []
    with open_archive(pg_url) as archive:
        assert archive.count_articles() == 24
        assert archive.get_article(f"{1005:032x}").fetched == "2025-05-15T08:00:00Z"
    assert scalar(pg_url, "SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'articles'::regclass") == 12


def test_an_article_is_read_from_its_months_partition_and_a_revision_does_not_move_it(pg_url):
    with open_archive(pg_url) as archive:
        first = "c0ffee" + "1" * 26
        archive.save_article(article(1, id=first, fetched="2026-01-31T23:00:00Z"), "2026-01-31T23:00:00Z")
        archive.save_article(article(2, fetched="2026-02-01T01:00:00Z"), "2026-02-01T01:00:00Z")
        assert archive.save_article(article(1, id=first, text="The cranes were sold again. ",
                                            fetched="2026-04-02T00:00:00Z"), "2026-04-02T00:00:00Z") == "updated"
        stored = archive.get_article("C0FFEE")  # a prefix finds it too, in either case
        assert stored.revision == 2 and stored.fetched == "2026-04-02T00:00:00Z"
        assert stored.first_seen == "2026-01-31T23:00:00Z" and stored.raw == b"<html>page</html>"
        assert [r.revision for r in archive.revisions(stored.id)] == [1]
        plan = "\n".join(row[0] for row in archive_sql.execute(
            archive, "EXPLAIN SELECT * FROM articles WHERE id = %s AND fetched_month = %s", stored.id, "2026-01-01"))
    assert "articles_2026_01" in plan and "articles_2026_02" not in plan
    assert scalar(pg_url, "SELECT fetched_month::text FROM articles WHERE id = %s", first) == "2026-01-01"


def test_a_failed_write_stores_nothing_of_the_article_and_keeps_the_others(pg_url):
    with open_archive(pg_url) as archive:
        archive.save_article(article(1), "t")
        with pytest.raises(StorageError, match="null value"):
            archive.save_article(article(2, lang=None), "t")  # lang is NOT NULL
        assert archive.count_articles() == 1 and not archive.has_article(article(2).id)
        assert archive.save_article(article(2), "t") == "new"  # the id was not left taken


def test_a_rolled_back_transaction_takes_the_partition_it_made_along(pg_url):
    with open_archive(pg_url) as archive:
        with pytest.raises(RuntimeError):
            with archive.transaction():
                archive.save_article(article(1, fetched="2024-06-01T00:00:00Z"), "t")
                raise RuntimeError("the placement failed")
        assert archive.save_article(article(1, fetched="2024-06-01T00:00:00Z"), "t") == "new"
        assert archive.count_articles() == 1


def test_two_senders_never_both_claim_a_digest(pg_url):
    open_archive(pg_url).close()
    claims: list[int | None] = []
    read = threading.Barrier(2)

    def claim(archive, writer):
        last = {n: archive.last_digest(f"daily{n}") for n in range(10)}  # both saw no send
        read.wait(timeout=60)
        for round_ in range(10):
            seen = last[round_]
            claims.append(archive.claim_digest(f"daily{round_}", seen and seen["id"], "s", "e",
                                               f"2026-03-04T0{writer}:00:00Z", f"<m{writer}>", 3))

    assert at_once(pg_url, claim) == []
    assert len([c for c in claims if c is not None]) == 10
    with open_archive(pg_url) as archive:
        assert len(archive.digest_rows()) == 10


def test_the_server_going_away_is_one_error_nothing_is_half_stored_and_the_archive_works_again():
    from pgcluster import Cluster, available

    if available():
        pytest.skip(available())
    cluster = Cluster.start()  # its own: stopping it leaves the other tests' cluster alone
    try:
        url = cluster.new_database()
        with open_archive(url) as archive:
            archive.save_article(article(1), "t")
            held = [archive._pool.getconn() for _ in range(4)]  # a pool of several connections, as `serve` has
            for conn in held:
                archive._pool.putconn(conn)
            with pytest.raises(ServerGoneError) as raised:
                with archive.transaction():
                    archive.save_article(article(2), "t")
                    cluster.stop()
                    archive.set_state("after", "1")
            assert "127.0.0.1" in str(raised.value) and "\n" not in str(raised.value)
            assert raised.value.exit_code == 74
            cluster.restart()
            # not one failure per dead connection left in the pool: the next statements all work
            assert [archive.count_articles() for _ in range(6)] == [1] * 6
            assert not archive.has_article(article(2).id)
            assert archive.get_state("after") is None
            assert archive.save_article(article(2), "t") == "new"
            assert archive.count_articles() == 2
    finally:
        cluster.destroy()


def test_an_empty_database_opened_to_read_stays_empty(pg_url):
    assert not archive_exists(pg_url)
    with open_archive(pg_url, create=False) as archive:
        assert archive.schema_version == 0 and not archive.readonly
    assert scalar(pg_url, "SELECT to_regclass('articles') IS NULL AND to_regclass('veille_schema') IS NULL")
    open_archive(pg_url).close()
    assert archive_exists(pg_url)


def test_a_role_that_may_only_read_opens_the_archive_read_only(pg_cluster, pg_url):
    with open_archive(pg_url) as archive:
        archive.save_article(article(1), "t")
    database = pg_url.rsplit("/", 1)[1]
    role = f"reader_{database}"
    pg_cluster.execute(f"CREATE ROLE {role} LOGIN")
    pg_cluster.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}", database)
    with open_archive(pg_cluster.url(database, user=role)) as reader:
        assert reader.readonly and reader.count_articles() == 1
        assert reader.get_article(article(1).id).title is None
        with pytest.raises(StorageError, match="permission denied"):
            reader.save_article(article(2), "t")


def test_a_database_of_a_newer_veille_is_refused_in_one_line(pg_url):
    from veille.storage.postgres.schema import MIGRATIONS

    open_archive(pg_url).close()
    import psycopg

    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO veille_schema (version) VALUES (%s)", (len(MIGRATIONS) + 1,))
    with pytest.raises(ArchiveConnectError, match="upgrade veille") as raised:
        open_archive(pg_url)
    assert raised.value.exit_code == 2


def test_a_database_that_does_not_exist_is_one_line_saying_to_create_it(pg_cluster):
    with pytest.raises(ArchiveError, match="createdb") as raised:
        open_archive(pg_cluster.url("no_such_archive").replace("veille@", "veille:secret@"))
    assert "\n" not in str(raised.value) and "secret" not in str(raised.value) and raised.value.exit_code == 2


def test_a_refused_password_is_one_line_that_hides_it(pg_cluster):
    """A role that must give a password (scram), given a wrong one: said, exit 2, the password never shown."""
    hba = pg_cluster.data / "pg_hba.conf"
    kept = hba.read_text()
    pg_cluster.execute("DO $$ BEGIN CREATE ROLE guarded LOGIN PASSWORD 'right-one'; "
                       "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    hba.write_text("host all guarded 127.0.0.1/32 scram-sha-256\n" + kept)
    pg_cluster.execute("SELECT pg_reload_conf()")
    try:
        url = pg_cluster.url().replace("veille@", "guarded:wrong-one@")
        deadline = time.monotonic() + 30
        while True:  # the reload is asynchronous: until it is read, the role still gets in by trust
            try:
                open_archive(url, create=False).close()
            except ArchiveConnectError as exc:
                refused = exc
                break
            assert time.monotonic() < deadline, "the server never asked guarded for a password"
            time.sleep(0.2)
        line = str(refused)
        assert "password was refused" in line and "\n" not in line and refused.exit_code == 2
        assert "wrong-one" not in line
    finally:
        hba.write_text(kept)
        pg_cluster.execute("SELECT pg_reload_conf()")


def test_the_seeds_imported_into_postgresql_are_listed_as_from_sqlite(pg_url, tmp_path):
    """The issue's check: 5 articles, their languages, titles and stories as with SQLite."""
    import json

    from click.testing import CliRunner

    from veille.app.cli.main import main

    seeds = Path(__file__).resolve().parents[1] / "seeds"
    runner = CliRunner()

    def listed(address: str) -> list[dict]:
        made = runner.invoke(main, ["--archive", address, "import", str(seeds)])
        assert made.exit_code == 0, made.output
        shown = runner.invoke(main, ["--archive", address, "list", "--json"])
        assert shown.exit_code == 0, shown.output
        rows = [json.loads(line) for line in shown.stdout.splitlines()]
        for row in rows:  # when it was stored differs from one import to the other
            for key in ("fetched", "first_seen", "updated", "tagged_at"):
                row.pop(key, None)
        return sorted(rows, key=lambda row: row["id"])

    on_server, in_folder = listed(pg_url), listed(str(tmp_path / "archive"))
    assert len(on_server) == 5 and on_server == in_folder
    assert len({row["story_id"] for row in on_server}) == 3
