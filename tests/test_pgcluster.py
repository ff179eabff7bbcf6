"""The throwaway PostgreSQL cluster the PostgreSQL tests run on: it starts, gives each test an empty
database of its own, and can go away and come back (the fault tests stop it mid-run)."""

import psycopg
import pytest


def test_each_test_gets_an_empty_database_of_its_own(pg_cluster):
    first, second = pg_cluster.new_database(), pg_cluster.new_database()
    assert first != second
    with psycopg.connect(first, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
    with psycopg.connect(second) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'").fetchone() == (0,)


def test_the_extensions_veille_needs_are_there(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        assert conn.execute("SELECT unaccent('reconnaissance faciale à Marseille')").fetchone() == (
            "reconnaissance faciale a Marseille",)


def test_the_server_can_go_away_and_come_back(pg_cluster):
    url = pg_cluster.new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (1)")
    pg_cluster.stop()
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=3)
    finally:
        pg_cluster.restart()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(1,)]
