"""A PostgreSQL archive through the command line, as issue 17 checks it: the seeds, two fetches at
once against one database and one site, and the server going away in the middle of a fetch."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, SEEDS, Cli
from test_fetch_site import CONFIG  # the fixture site's sources
from veille.dev.devserver import FixtureServer
from veille.storage import open_archive


def on(url: str, tmp_path: Path) -> Cli:
    cli = Cli(tmp_path)
    cli.archive = url
    return cli


def by_seed(cli: Cli) -> dict[str, dict]:
    return {row["url"].rsplit("/", 1)[1][:3]: row for row in cli.json_lines("list", "--limit", "0")}


def stories(url: str) -> set[frozenset[str]]:
    """The archive's stories, as sets of article URLs (ids of the same pages are the same anyway)."""
    with open_archive(url) as archive:
        found: dict[str, set[str]] = {}
        for article in archive.list_articles(limit=None):
            story = archive.story_of(article.id)
            assert story is not None, f"{article.url} is in no story"
            found.setdefault(story, set()).add(article.url)
    return {frozenset(urls) for urls in found.values()}


def test_the_seeds_in_postgresql_read_as_in_sqlite(pg_url, tmp_path):
    pg, local = on(pg_url, tmp_path / "pg"), Cli(tmp_path / "sqlite")
    (tmp_path / "pg").mkdir()
    (tmp_path / "sqlite").mkdir()
    pg("import", str(SEEDS))
    local("import", str(SEEDS))
    there, here = by_seed(pg), by_seed(local)
    assert sorted(there) == ["000", "001", "002", "003", "004"]
    assert {k: (v["lang"], v["title"]) for k, v in there.items()} == {k: (v["lang"], v["title"]) for k, v in here.items()}
    story = {pg.json_lines("show", there[n]["id"])[0]["story_id"] for n in ("000", "001", "002")}
    assert len(story) == 1 and None not in story
    palantir = pg.json_lines("search", "palantir")
    assert len(palantir) == 1 and palantir[0]["story_id"] in story
    faciale = {hit["id"] for hit in pg.json_lines("search", '"reconnaissance faciale"', "--all-versions")}
    assert {there["003"]["id"], there["004"]["id"]} <= faciale


def fetch_process(url: str, config: Path) -> subprocess.Popen:
    env = {**os.environ, "VEILLE_WORKERS": "1"}
    return subprocess.Popen([sys.executable, "-m", "veille", "--archive", url, "--config", str(config), "fetch",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_two_fetches_at_once_store_every_page_once_and_each_article_in_one_story(pg_url, tmp_path):
    with FixtureServer(FIXTURES / "site") as server:
        config = tmp_path / "feeds.yaml"
        config.write_text(CONFIG.format(base=server.url), encoding="utf-8")
        alone = Cli(tmp_path)
        alone.config = config
        alone("fetch", "--quiet")  # the reference: one local fetch into SQLite
        both = [fetch_process(pg_url, config) for _ in range(2)]
        results = [p.communicate(timeout=600) for p in both]
        for process, (_, err) in zip(both, results):
            assert process.returncode == 0, err
        with open_archive(pg_url) as archive, open_archive(str(alone.archive)) as reference:
            urls = sorted(a.url for a in archive.list_articles(limit=None))
            assert urls == sorted(a.url for a in reference.list_articles(limit=None))
            assert len(urls) == len(set(urls)) == archive.count_articles()
        assert stories(pg_url) == stories(str(alone.archive))


def test_the_server_going_away_mid_fetch_is_one_line_and_the_next_run_completes(tmp_path):
    from pgcluster import Cluster, available

    if available():
        pytest.skip(available())
    cluster = Cluster.start()
    try:
        url = cluster.new_database()
        with FixtureServer(FIXTURES / "site") as server:
            config = tmp_path / "feeds.yaml"
            config.write_text(CONFIG.format(base=server.url), encoding="utf-8")
            process = fetch_process(url, config)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    with open_archive(url, create=False) as archive:
                        if archive.schema_version and archive.count_articles() >= 2:
                            break
                except Exception:
                    pass
                time.sleep(0.2)
            cluster.stop()
            _, err = process.communicate(timeout=300)
            assert process.returncode not in (0, None), err
            lines = [line for line in err.splitlines() if line.startswith("veille:")]
            assert lines and "Traceback" not in err, err
            assert f"127.0.0.1:{cluster.port}" in lines[-1], err
            cluster.restart()
            again = fetch_process(url, config)
            _, err = again.communicate(timeout=600)
            assert again.returncode == 0, err
            reference = Cli(tmp_path / "ref")
            (tmp_path / "ref").mkdir()
            reference.config = config
            reference("fetch", "--quiet")
            with open_archive(url) as archive, open_archive(str(reference.archive)) as local:
                urls = sorted(a.url for a in archive.list_articles(limit=None))
                assert urls == sorted(a.url for a in local.list_articles(limit=None))
                assert len(urls) == archive.count_articles()
            assert stories(url) == stories(str(reference.archive))
    finally:
        cluster.destroy()
