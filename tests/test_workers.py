"""NLP in worker processes (settings.workers, --workers): the same archive as a serial run, and a
worker that dies is replaced, its page recorded as failed with the reason, the run going on.

The fixture site is fetched once in this process (workers 1) and once with 2 worker processes,
into two archives compared article by article. Starting the workers loads the spaCy models in
each (some seconds); the module's runs are shared by its tests."""

from __future__ import annotations

import os
import signal

import pytest

from conftest import FIXTURES
from test_fetch_site import CONFIG, MANIFEST
from veille.config.settings import parse_config, worker_count
from veille.dev.devserver import FixtureServer
from veille.pipeline import fetch_sources
from veille.pipeline.workers import Workers
from veille.storage.sqlite.store import Archive

KILLER = "veille-test-kill-this-worker"  # a page holding this takes down the worker reading it


def _kill_on_marker() -> None:
    """Worker initializer extra: the extractor kills its own process on a page holding KILLER,
    as an out-of-memory kill or a segfault in libxml2 would."""
    from veille.stages import extract as extract_stage

    real = extract_stage.extract

    def extract(html: str, url: str | None = None):
        if KILLER in html:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(html, url)

    extract_stage.extract = extract


def snapshot(archive: Archive, base: str) -> dict[str, dict]:
    """What a reader of the archive sees of each article, by path; stories as the set of their members."""
    paths = {a.id: a.url.replace(base + "/", "") for a in archive.list_articles(limit=None)}
    seen = {}
    for article_id, path in paths.items():
        article = archive.get_article(article_id)
        story = archive.story_of(article_id)
        members = sorted(paths[m["article_id"]] for m in archive.story_members(story)) if story else []
        seen[path] = {
            "text": article.text, "title": article.title, "lang": article.lang,
            "lang_confidence": article.lang_confidence, "tagger": article.tagger,
            "entities": [(e.text, e.label, e.start, e.end, e.key, e.origin) for e in archive.entities_of(article_id)],
            "tags": archive.tags_of(article_id), "story": members, "note": article.note,
        }
    return seen


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
    with FixtureServer(FIXTURES / "site") as server:
        config = parse_config(CONFIG.format(base=server.url), folder / "feeds.yaml")
        results = {}
        for count in (1, 2):
            with Archive(folder / f"archive-{count}") as archive:
                report = fetch_sources(config, archive, workers=count)
                results[count] = (report, snapshot(archive, server.url))
        yield results


def test_two_workers_archive_what_one_process_archives(runs):
    (serial, one), (parallel, two) = runs[1], runs[2]
    assert serial.counts["new"] == parallel.counts["new"] == len(MANIFEST), (serial.failures, parallel.failures)
    assert parallel.counts["failed"] == 0, parallel.failures
    assert sorted(one) == sorted(two)
    for path in one:
        assert two[path] == one[path], path
    assert any(article["entities"] for article in one.values())  # the comparison compared something
    assert any(len(article["story"]) > 1 for article in one.values())


def test_a_worker_that_dies_is_replaced_and_its_page_is_recorded_as_failed(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    good = "".join(f"<p>Paragraph {n} about facial recognition cameras installed in Nice by the city.</p>"
                   for n in range(12))
    pages = {f"p{n}.html": f"<html><head><title>Page {n}</title></head><body><article><h1>Page {n}</h1>"
                           f"{good}</article></body></html>" for n in range(6)}
    pages["p3.html"] = pages["p3.html"].replace("</article>", f"<p>{KILLER}</p></article>")
    for name, html in pages.items():
        (site / name).write_text(html, encoding="utf-8")
    with FixtureServer(site) as server:
        items = "".join(f"<item><title>Page {n}</title><link>{server.url}/p{n}.html</link><guid>p{n}</guid></item>"
                        for n in range(6))
        (site / "feed.xml").write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                                       f"{items}</channel></rss>", encoding="utf-8")
        # No spaCy models (the gazetteer's blank pipelines): each replaced pool starts in a moment.
        config = parse_config(f"settings:\n  host_delay: 0\nnlp:\n  models: {{}}\n"
                              f"sources:\n  - name: s\n    url: {server.url}/feed.xml\n", tmp_path / "feeds.yaml")
        with Archive(tmp_path / "archive") as archive:
            with Workers(2, config.nlp, also=_kill_on_marker) as workers:
                report = fetch_sources(config, archive, workers=workers)
                again = fetch_sources(config, archive, workers=workers)  # the replaced pool still works
            stored = sorted(a.url.rsplit("/", 1)[1] for a in archive.list_articles(limit=None))
    assert stored == ["p0.html", "p1.html", "p2.html", "p4.html", "p5.html"]
    [failure] = [f for f in report.failures if f.url.endswith("/p3.html")]
    assert failure.reason.startswith("worker died (signal 9"), failure.reason
    assert report.counts["new"] == 5 and report.counts["failed"] == 1
    assert [f.url for f in again.failures] == [server.url + "/p3.html"]  # tried again, refused again


def test_the_worker_count_comes_from_the_option_then_the_settings_then_the_cores(tmp_path, monkeypatch):
    config = parse_config("settings:\n  workers: 3\nsources: []\n", tmp_path / "feeds.yaml")
    assert worker_count(config.settings, 1) == 1
    assert worker_count(config.settings) == 3
    bare = parse_config("sources: []\n", tmp_path / "feeds.yaml").settings
    monkeypatch.delenv("VEILLE_WORKERS", raising=False)
    assert worker_count(bare) == len(os.sched_getaffinity(0))
    with pytest.raises(Exception, match="settings.workers: write a whole number from 1 to 64"):
        parse_config("settings:\n  workers: 0\nsources: []\n", tmp_path / "feeds.yaml")


def test_import_with_two_workers_archives_what_one_process_archives_and_retag_finds_it_current(tmp_path):
    from conftest import SEEDS
    from veille.pipeline import import_paths, retag

    seen = {}
    for count in (1, 2):
        with Archive(tmp_path / f"archive-{count}") as archive:
            report = import_paths([SEEDS], archive, workers=count)
            assert report.counts["failed"] == 0, report.failures
            seen[count] = snapshot(archive, SEEDS.resolve().as_uri())
            if count == 2:  # the workers describe the models as this process would: nothing to tag again
                assert retag(None, archive, workers=2).counts.get("updated", 0) == 0
    assert seen[1] and seen[2] == seen[1]


@pytest.mark.parametrize("command", ["fetch", "import", "retag"])
def test_a_worker_count_below_one_is_refused_in_one_line(cli, command):
    cli.write_config("sources: []\n")
    args = [command, "--workers", "0"] + (["seeds"] if command == "import" else [])
    result = cli(*args, ok=False)
    assert result.exit_code == 2
    assert "--workers" in result.output and "Traceback" not in result.output


def test_a_few_files_are_imported_without_starting_workers(monkeypatch, tmp_path):
    """Loading the models in worker processes costs more than it saves on a handful of files."""
    from veille.app.cli.ingest import SMALL_IMPORT, _import_workers
    from veille.config.settings import Settings

    monkeypatch.delenv("VEILLE_WORKERS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    from conftest import SEEDS

    assert _import_workers(Settings(), None, (SEEDS,)) == 1
    assert _import_workers(Settings(), 2, (SEEDS,)) == 2  # asked for: as asked
    assert _import_workers(Settings(workers=3), None, (SEEDS,)) == 3
    for n in range(SMALL_IMPORT):
        (tmp_path / f"{n}.txt").write_text("x")
    assert _import_workers(Settings(), None, (tmp_path,)) == 4
