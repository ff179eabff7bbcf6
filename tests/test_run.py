"""`veille run` as a campaign's server runs it: in the background, for a while, then stopped and started again."""

import signal
import subprocess
import sys
import time

from veille.dev.devserver import FixtureServer, Reply

import archive_sql

ARTICLE = ("<html lang='en'><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
           + "<p>Police in the harbour district installed new cameras with automatic number plate "
             "readers, story {n}, and residents were not told what happens to the data.</p>" * 4
           + "</article></body></html>")


def feed(server: FixtureServer, path: str, stories: list[str]) -> None:
    items = "".join(f"<item><title>Story {n}</title><link>{server.url}/story/{n}.html</link><guid>{n}</guid></item>"
                    for n in stories)
    server.pages[path] = f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()
    for n in stories:
        server.routes[f"/story/{n}.html"] = lambda h, n=n: Reply(200, ARTICLE.format(n=n).encode(),
                                                                 {"Content-Type": "text/html; charset=utf-8"})


def articles(archive) -> set[str]:
    try:
        return {url.rsplit("/", 1)[1][:-5] for url in archive_sql.article_urls(archive)}
    except archive_sql.Error:
        return set()


# Each wait is for an event (an article stored, a log line, a request), with a deadline far beyond what it
# takes even on 2 busy cores: a hang still fails, a slow machine does not.
DEADLINE = 180.0


def wait_for(condition, seconds: float = DEADLINE) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def config(server: FixtureServer, extra: str = "") -> str:
    return ("# sources for the test\nsettings:\n  host_delay: 0\nsources:\n"
            f"  - name: fast\n    url: {server.url}/fast.xml\n    interval: 2s\n"
            f"  - name: slow\n    url: {server.url}/slow.xml\n    interval: 1h\n" + extra)


def test_run_fetches_on_schedule_reloads_its_config_stops_cleanly_and_restarts_without_refetching(tmp_path):
    archive, feeds_file, log = tmp_path / "archive", tmp_path / "feeds.yaml", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "veille", "--archive", str(archive), "--config", str(feeds_file), "run"]
    with FixtureServer() as server:
        feed(server, "/fast.xml", ["a1", "a2"])
        feed(server, "/slow.xml", ["s1"])
        feed(server, "/late.xml", ["l1"])
        feeds_file.write_text(config(server), encoding="utf-8")
        with log.open("w") as errors:
            process = subprocess.Popen(command, stderr=errors)
            try:
                assert wait_for(lambda: articles(archive) == {"a1", "a2", "s1"}), log.read_text()
                feed(server, "/fast.xml", ["a1", "a2", "a3"])  # a new entry: picked up on the next run
                assert wait_for(lambda: "a3" in articles(archive)), log.read_text()

                # a new source in the file is picked up without a restart; a broken edit is ignored
                feeds_file.write_text(config(server, f"  - name: late\n    url: {server.url}/late.xml\n"
                                                     "    interval: 1h\n"), encoding="utf-8")
                assert wait_for(lambda: "l1" in articles(archive)), log.read_text()
                feeds_file.write_text(config(server) + "  - name: [broken\n", encoding="utf-8")
                assert wait_for(lambda: "config not reloaded" in log.read_text()), log.read_text()
                fetched = len(server.requests_for("/fast.xml"))
                assert wait_for(lambda: len(server.requests_for("/fast.xml")) > fetched)  # still running
            finally:
                process.send_signal(signal.SIGTERM)
                code = process.wait(timeout=DEADLINE)
        assert code == 0, log.read_text()
        text = log.read_text()
        assert "veille run stopped" in text and "Traceback" not in text
        assert (archive / "logs" / "veille.log").read_text().count("veille run started") == 1

        # a restart fetches what is due, not everything: "slow" (hourly) was fetched minutes ago
        slow_before = len(server.requests_for("/slow.xml"))
        fast_before = len(server.requests_for("/fast.xml"))
        feeds_file.write_text(config(server), encoding="utf-8")
        with log.open("w") as errors:
            process = subprocess.Popen(command, stderr=errors)
            try:
                # two passes done since the restart (the second one "fast"'s interval after the first): a
                # "slow" wrongly due would have been put in one of them, since an overdue source is started
                # within a fraction of a second (SPREAD_PER_SOURCE per source)
                assert wait_for(lambda: len(server.requests_for("/fast.xml")) > fast_before), log.read_text()
                assert wait_for(lambda: log.read_text().count("pass done") >= 2), log.read_text()
            finally:
                process.send_signal(signal.SIGINT)
                assert process.wait(timeout=DEADLINE) == 0
        assert len(server.requests_for("/slow.xml")) == slow_before
    assert archive_sql.integrity(archive) == "ok"
    assert archive_sql.count_articles(archive) == 5  # a1-a3, s1, l1: nothing twice


def test_run_logs_a_failing_source_once_per_pass(tmp_path):
    archive, feeds_file, log = tmp_path / "archive", tmp_path / "feeds.yaml", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "veille", "--archive", str(archive), "--config", str(feeds_file), "run"]
    with FixtureServer() as server:
        feed(server, "/fast.xml", ["a1"])
        feeds_file.write_text("settings:\n  host_delay: 0\nsources:\n"
                              f"  - name: fast\n    url: {server.url}/fast.xml\n    interval: 1h\n"
                              f"  - name: gone\n    url: {server.url}/gone.xml\n    interval: 1h\n",
                              encoding="utf-8")
        with log.open("w") as errors:
            process = subprocess.Popen(command, stderr=errors)
            try:
                # The two sources may start in one pass or two (overdue sources are spread out).
                assert wait_for(lambda: "pass done" in log.read_text().partition("gone")[2]), log.read_text()
            finally:
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=DEADLINE) == 0
    first_pass = next(part for part in log.read_text().split("pass done") if "gone" in part)
    about_gone = [line for line in first_pass.splitlines() if "gone" in line]
    assert len(about_gone) == 1, "\n".join(about_gone)  # one line a failure, with its reason
    assert "404" in about_gone[0]
