"""Feed health: failures weigh by kind, retries back off, a failing feed is paused and says why, and heals."""

from datetime import datetime, timedelta, timezone

from veille.stages import health
from veille.config.settings import parse_config
from veille.dev.devserver import FixtureServer, Reply
from veille.errors import FetchError
from veille.pipeline import fetch_sources

import archive_sql

FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


def test_a_gone_feed_weighs_more_than_a_server_error_which_weighs_more_than_a_timeout():
    weight = {kind: health.KINDS[kind][0] for kind in health.KINDS}
    gone = health.kind_of(FetchError("http 404", "u", status=404))
    server = health.kind_of(FetchError("http 503", "u", status=503))
    slow = health.kind_of(FetchError("timeout", "u"))
    dns = health.kind_of(FetchError("connection failed", "u", "[Errno -2] Name or service not known"))
    assert (gone, server, slow, dns) == ("gone", "server", "timeout", "dns")
    assert weight[gone] == weight[dns] > weight[server] > weight[slow]


def test_retries_back_off_exponentially_up_to_a_day_and_retry_after_wins_when_longer():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    state, waits = health.Health(), []
    for _ in range(10):
        state = health.after_failure(state, "timeout", now, 600, pause_after=1000)
        waits.append(datetime.fromisoformat(state.next_attempt.replace("Z", "+00:00")) - now)
    assert waits[:4] == [timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40), timedelta(minutes=80)]
    assert waits[-1] == timedelta(hours=24)
    slow = health.after_failure(health.Health(), "rate-limited", now, 60, pause_after=1000, retry_after=3600)
    assert slow.next_attempt == "2026-01-01T01:00:00Z"


def test_successes_heal_a_flapping_feed_gradually():
    state = health.Health(score=8.0, consecutive_failures=3, paused_since="2026-01-01T00:00:00Z")
    healed = health.after_success(state, not_modified=False)
    assert healed.score == 4.0 and not healed.paused and healed.consecutive_failures == 0
    assert health.after_success(health.after_success(healed, not_modified=True), not_modified=True).score == 1.0


def test_a_feed_that_breaks_is_backed_off_then_paused_with_the_reason_then_heals(archive, tmp_path):
    answers = {"status": 500}

    def flaky(handler):
        if answers["status"] == 200:
            return Reply(200, FEED, {"Content-Type": "application/rss+xml"})
        return Reply(answers["status"], b"no", {"Content-Type": "text/plain"})

    clock = Clock()
    with FixtureServer(routes={"/feed.xml": flaky}) as server:
        config = parse_config("settings:\n  host_delay: 0\n  pause_after: 10\nsources:\n"
                              f"  - name: flaky\n    url: {server.url}/feed.xml\n    interval: 1h\n", tmp_path / "f.yaml")
        fetch_sources(config, archive, clock=clock)
        state = archive.source_state("flaky")
        assert state.consecutive_failures == 1 and state.error_kind == "server"
        assert state.next_attempt == "2026-03-02T09:00:00Z"

        # the scheduler leaves it alone while it backs off
        clock.advance(minutes=30)
        fetch_sources(config, archive, clock=clock, due_only=True)
        assert len(server.requests_for("/feed.xml")) == 1

        answers["status"] = 404  # now it is gone: heavier
        outcomes = []
        for _ in range(3):
            clock.advance(hours=25)
            outcomes.append(fetch_sources(config, archive, clock=clock, due_only=True).sources["flaky"])
        state = archive.source_state("flaky")
        assert state.paused_since is not None and state.error_kind == "gone" and state.health >= 10
        assert sum("paused now" in o for o in outcomes) == 1  # said once, when it happens

        # a plain `veille fetch` skips it and says why; the daily probe still tries it
        skipped = fetch_sources(config, archive, clock=clock)
        assert skipped.sources["flaky"].startswith("paused since 2026-03-")
        assert "address is gone" in skipped.sources["flaky"]
        requests = len(server.requests_for("/feed.xml"))
        answers["status"] = 200
        clock.advance(hours=25)
        fetch_sources(config, archive, clock=clock, due_only=True)
        assert len(server.requests_for("/feed.xml")) == requests + 1
        state = archive.source_state("flaky")
        assert state.paused_since is None and state.consecutive_failures == 0 and state.last_error is None
        assert 0 < state.health < 10  # healed, with a memory of the bad week


def test_status_says_which_source_is_paused_since_when_and_what_to_do(cli, tmp_path):
    with FixtureServer(routes={"/gone.xml": lambda h: Reply(410, b"gone", {"Content-Type": "text/plain"})}) as server:
        cli.write_config("settings:\n  host_delay: 0\n  pause_after: 4\nsources:\n"
                         f"  - name: gone\n    url: {server.url}/gone.xml\n")
        cli("fetch", "--quiet", ok=False)
        text = cli("status").stdout
    (line,) = [line for line in text.splitlines() if line.startswith("gone is paused since")]
    assert "after 1 failure (last: http 410" in line and "address is gone" in line
    assert line.endswith("then `veille feeds resume gone`")


def test_a_stuck_etag_does_not_freeze_a_feed_forever(archive, tmp_path):
    with FixtureServer() as server:
        server.pages["/feed.xml"] = FEED
        config = parse_config(f"settings:\n  host_delay: 0\nsources:\n  - name: s\n    url: {server.url}/feed.xml\n",
                              tmp_path / "f.yaml")
        fetch_sources(config, archive)
        fetch_sources(config, archive)
        assert "if-none-match" in server.requests_for("/feed.xml")[-1].headers  # sent back as received
        assert server.requests_for("/feed.xml")[-1].headers["if-none-match"] == \
            server.requests_for("/feed.xml")[0].headers.get("if-none-match", archive.source_state("s").etag)
        archive_sql.execute(archive, "UPDATE sources SET not_modified_streak = ?", health.UNCONDITIONAL_AFTER)
        fetch_sources(config, archive)
        assert "if-none-match" not in server.requests_for("/feed.xml")[-1].headers
        assert archive.source_state("s").not_modified_streak == 0


def test_months_of_failures_or_an_absurd_retry_after_never_break_the_backoff():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    state = health.Health(consecutive_failures=400, score=5000.0)
    later = health.after_failure(state, "gone", now, 86400, pause_after=12, retry_after=1e20)
    waited = datetime.fromisoformat(later.next_attempt.replace("Z", "+00:00")) - now
    assert timedelta(days=1) <= waited <= health.MAX_RETRY_AFTER and later.paused
