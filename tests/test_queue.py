"""Fetching through the broker: `veille worker` subprocesses on a real RabbitMQ node (the
`broker_url` fixture), the fixture site, a SQLite archive with one worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from veille.dev.devserver import FixtureServer, Reply
from veille.storage import open_archive

from conftest import FIXTURES, ROOT
from test_fetch_site import CONFIG

DEADLINE = 300.0  # seconds: generous, for a loaded machine


def veille(config: Path, archive: Path, broker: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "veille", "--config", str(config), "--archive", str(archive),
                           *args], env=environment(broker), capture_output=True, text=True, timeout=DEADLINE,
                          **kwargs)


def environment(broker: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT / "src"), VEILLE_BROKER=broker, VEILLE_WORKERS="1")


def start_worker(config: Path, broker: str, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "veille", "--config", str(config), "worker"],
                                env=environment(broker), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(worker: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
    try:
        os.killpg(worker.pid, signum)
    except ProcessLookupError:
        pass
    worker.wait(timeout=DEADLINE)


def articles_of(archive: Path) -> dict[str, tuple[str, str | None]]:
    with open_archive(archive) as opened:
        found = {}
        for row in opened.list_articles(limit=None):
            article = opened.get_article(row.id)
            found[article.url.split("/", 3)[3]] = (article.lang, opened.story_of(article.id))
        return found


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {DEADLINE:.0f} s: {what}")


def test_a_fetch_through_the_queue_gives_the_archive_a_local_fetch_gives(broker_url, site, tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text(CONFIG.format(base=site.url), encoding="utf-8")
    local = veille(config, tmp_path / "local", broker_url, "fetch", "--quiet")
    assert local.returncode == 0, local.stderr
    worker = start_worker(config, broker_url, tmp_path / "worker.log")
    try:
        queued = veille(config, tmp_path / "queued", broker_url, "fetch", "--via-queue", "--quiet")
    finally:
        stop(worker)
    assert queued.returncode == 0, queued.stderr + (tmp_path / "worker.log").read_text()
    # the same summary line (the time aside)
    assert queued.stdout.rsplit("(", 1)[0] == local.stdout.rsplit("(", 1)[0]
    assert "13 new" in queued.stdout and "5 sources (5 read)" in queued.stdout
    assert articles_of(tmp_path / "queued").keys() == articles_of(tmp_path / "local").keys()
    assert {k: v[0] for k, v in articles_of(tmp_path / "queued").items()} == \
        {k: v[0] for k, v in articles_of(tmp_path / "local").items()}
    assert stories(articles_of(tmp_path / "queued")) == stories(articles_of(tmp_path / "local"))


def stories(articles: dict[str, tuple[str, str | None]]) -> set[frozenset[str]]:
    """The articles grouped by story (the story ids aside)."""
    groups: dict[str | None, set[str]] = {}
    for path, (_, story) in articles.items():
        groups.setdefault(story, set()).add(path)
    return {frozenset(group) for group in groups.values()}


def test_a_broker_that_does_not_answer_is_one_line(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("sources:\n  - name: a\n    url: http://127.0.0.1:9/feed.xml\n", encoding="utf-8")
    done = veille(config, tmp_path / "archive", "amqp://guest:guest@127.0.0.1:9//", "jobs")
    assert done.returncode == 2
    assert done.stderr.startswith("veille: the broker amqp://guest:***@127.0.0.1:9// does not answer")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_job_that_keeps_failing_is_quarantined_with_its_reason_and_retried(broker_url, tmp_path):
    server = FixtureServer(routes={"/feed.xml": lambda _: Reply(500, b"boom", {"Content-Type": "text/plain"})})
    with server:
        config = tmp_path / "feeds.yaml"
        config.write_text("settings:\n  host_delay: 0\n  job_retries: 2\n  job_retry_delay: 0\n"
                          f"sources:\n  - name: broken\n    url: {server.url}/feed.xml\n", encoding="utf-8")
        worker = start_worker(config, broker_url, tmp_path / "worker.log")
        try:
            fetched = veille(config, tmp_path / "archive", broker_url, "fetch", "--via-queue", "--quiet")
            assert fetched.returncode == 0, fetched.stderr
            assert "1 failed" in fetched.stdout and "quarantined" in fetched.stderr + fetched.stdout
            assert len(server.requests_for("/feed.xml")) == 3  # the first try and two retries
            stop(worker)
            shown = veille(config, tmp_path / "archive", broker_url, "jobs", "--json")
            jobs = json.loads(shown.stdout)
            [job] = jobs["quarantined"]
            assert job["source"] == "broken" and job["attempts"] == 3 and "500" in job["reason"]
            listed = veille(config, tmp_path / "archive", broker_url, "jobs")
            assert "quarantined" in listed.stdout and "broken" in listed.stdout and "500" in listed.stdout
            retried = veille(config, tmp_path / "archive", broker_url, "jobs", "retry")
            assert retried.returncode == 0 and "1 job queued again" in retried.stdout
            after = json.loads(veille(config, tmp_path / "archive", broker_url, "jobs", "--json").stdout)
            assert after["quarantined"] == []
            assert {q["name"]: q["ready"] for q in after["queues"]} == {"fetch": 1, "quarantine": 0}
        finally:
            stop(worker)


def test_a_worker_killed_mid_job_loses_nothing_and_stores_nothing_twice(broker_url, tmp_path):
    held = "/observatoire/nice-contrat-reconnaissance-faciale.html"
    release, asked = threading.Event(), threading.Event()
    site = FixtureServer(FIXTURES / "site")

    def hold(handler):
        asked.set()
        if not release.wait(DEADLINE):
            return Reply(503, b"", {})
        body, kind = site._body_for(held)
        return Reply(200, body, {"Content-Type": kind})

    site.routes[held] = hold
    with site:
        config = tmp_path / "feeds.yaml"
        config.write_text(CONFIG.format(base=site.url).replace("host_delay: 0", "host_delay: 0\n  per_host: 1"),
                          encoding="utf-8")
        archive = tmp_path / "archive"
        first = start_worker(config, broker_url, tmp_path / "first.log")
        fetch = subprocess.Popen([sys.executable, "-m", "veille", "--config", str(config), "--archive", str(archive),
                                  "fetch", "--via-queue", "--quiet"], env=environment(broker_url),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(asked.is_set, "the worker asks for the held page")
            stop(first, signal.SIGKILL)  # in the middle of the observatoire job
            release.set()
            second = start_worker(config, broker_url, tmp_path / "second.log")
            out, errors = fetch.communicate(timeout=DEADLINE)
        finally:
            stop(first, signal.SIGKILL)
            if "second" in locals():
                stop(second)
    assert fetch.returncode == 0, errors
    manifest = json.loads((FIXTURES / "site" / "MANIFEST.json").read_text(encoding="utf-8"))
    stored = articles_of(archive)
    assert sorted(stored) == sorted(page["path"] for page in manifest)  # nothing lost
    with open_archive(archive) as opened:  # nothing stored twice: one row, one story per page
        rows = opened.list_articles(limit=None)
        assert len(rows) == len(manifest) and all(opened.story_of(row.id) for row in rows)
    assert len(site.requests_for(held)) == 2  # asked again by the second worker


def test_two_workers_on_a_postgresql_archive_store_each_page_once(broker_url, pg_url, site, tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text(CONFIG.format(base=site.url), encoding="utf-8")
    workers = [start_worker(config, broker_url, tmp_path / f"worker{n}.log") for n in (1, 2)]
    try:
        queued = veille(config, Path("unused"), broker_url, "--archive", pg_url, "fetch", "--via-queue", "--quiet")
    finally:
        for worker in workers:
            stop(worker)
    assert queued.returncode == 0, queued.stderr
    assert "13 new" in queued.stdout and "0 failed" in queued.stdout
    manifest = json.loads((FIXTURES / "site" / "MANIFEST.json").read_text(encoding="utf-8"))
    with open_archive(pg_url) as opened:
        rows = opened.list_articles(limit=None)
        assert sorted(opened.get_article(r.id).url.split("/", 3)[3] for r in rows) == \
            sorted(page["path"] for page in manifest)
        assert all(opened.story_of(row.id) for row in rows)
