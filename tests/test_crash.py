"""Nothing already archived is lost: not to a bug in one item, not to a killed process."""

import signal
import subprocess
import sys
import time

import pytest

from veille.stages import extract as extract_module
from veille.config.settings import parse_config
from veille.dev.devserver import FixtureServer, Reply
from veille.pipeline import fetch_sources

import archive_sql

ARTICLE = ("<html lang='en'><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
           + "<p>Police in the harbour district installed new cameras with automatic number plate "
             "readers, story {n}, and residents were not told what happens to the data.</p>" * 5
           + "</article></body></html>")


def site(server: FixtureServer, count: int, delay: float = 0.0) -> str:
    items = "".join(f"<item><title>Story {n}</title><link>{server.url}/story/{n}.html</link></item>"
                    for n in range(count))
    server.pages["/feed.xml"] = f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()

    def story(handler):
        time.sleep(delay)
        n = handler.path.rsplit("/", 1)[1].split(".")[0]
        return Reply(200, ARTICLE.format(n=n).encode(), {"Content-Type": "text/html; charset=utf-8"})

    for n in range(count):
        server.routes[f"/story/{n}.html"] = story
    return f"settings:\n  host_delay: 0\nsources:\n  - name: harbour\n    url: {server.url}/feed.xml\n"


def test_a_bug_on_one_article_is_recorded_and_the_run_goes_on(archive, tmp_path, monkeypatch):
    real_extract = extract_module.extract

    def flaky(html, url=None):
        if url and url.endswith("/story/2.html"):
            raise RuntimeError("boom")
        return real_extract(html, url)

    monkeypatch.setattr(extract_module, "extract", flaky)
    with FixtureServer() as server:
        config = parse_config(site(server, 5), tmp_path / "f.yaml")
        report = fetch_sources(config, archive)
    assert report.counts["new"] == 4 and report.counts["failed"] == 1
    assert "internal error (RuntimeError: boom)" in report.failures[0].reason
    assert archive.count_articles() == 4


def test_a_killed_fetch_keeps_every_stored_article_and_the_next_run_completes(tmp_path):
    with FixtureServer() as server:
        config = tmp_path / "feeds.yaml"
        config.write_text(site(server, 40, delay=0.1), encoding="utf-8")
        archive = tmp_path / "archive"
        command = [sys.executable, "-m", "veille", "--archive", str(archive), "--config", str(config)]
        process = subprocess.Popen(command + ["fetch", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # kill it once a few articles are in: waits for that event, with a deadline no busy machine reaches
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
            try:
                if archive_sql.count_articles(archive) >= 5:
                    break
            except archive_sql.Error:
                continue
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=180)

        assert archive_sql.integrity(archive) == "ok"
        kept = archive_sql.count_articles(archive)
        assert 5 <= kept < 40

        finished = subprocess.run(command + ["fetch", "--json"], capture_output=True, text=True, timeout=240)
        assert finished.returncode == 0, finished.stderr
        assert archive_sql.count_articles(archive) == 40


@pytest.mark.parametrize("problem, advice", [
    ("database or disk is full", "free some disk space"),
    ("attempt to write a readonly database", "make the archive folder and its files writable"),
])
def test_a_full_or_read_only_disk_stops_the_run_with_one_line_and_keeps_what_was_stored(tmp_path, monkeypatch,
                                                                                      problem, advice):
    from conftest import Cli
    from veille.storage.sqlite.store import Archive

    real_save = Archive.save_article
    saved = []

    def failing(self, article, at):
        if len(saved) >= 3:
            raise archive_sql.OperationalError(problem)
        saved.append(article.id)
        return real_save(self, article, at)

    cli = Cli(tmp_path)
    with FixtureServer() as server:
        cli.write_config(site(server, 12))
        monkeypatch.setattr(Archive, "save_article", failing)
        result = cli("fetch", "--quiet", ok=False)
        assert result.exit_code == 74
        assert result.stderr.count("\n") == 1 and problem in result.stderr and advice in result.stderr
        assert "what was stored before is kept" in result.stderr and "Traceback" not in result.output
        monkeypatch.setattr(Archive, "save_article", real_save)
        assert sorted(a["id"] for a in cli.json_lines("list", "--limit", "0")) == sorted(saved)
        cli("fetch", "--quiet")  # once the disk is fixed, the run completes
    assert len(cli.json_lines("list", "--limit", "0")) == 12


def test_a_huge_feed_is_read_a_bounded_slice_per_run_and_says_how_much_is_left(archive, tmp_path, monkeypatch):
    from veille.pipeline import runner as pipeline

    monkeypatch.setattr(pipeline, "MAX_NEW_PER_PASS", 3)
    with FixtureServer() as server:
        config = parse_config(site(server, 8), tmp_path / "f.yaml")
        outcomes = []
        for _ in range(3):
            report = fetch_sources(config, archive)
            outcomes.append((report.counts.get("new", 0), report.sources["harbour"]))
        feed_requests = len(server.requests_for("/feed.xml"))
    assert [new for new, _ in outcomes] == [3, 3, 2]
    assert "5 more left for the next run" in outcomes[0][1] and "2 more left" in outcomes[1][1]
    assert "left" not in outcomes[2][1]
    assert archive.count_articles() == 8 and feed_requests == 3
