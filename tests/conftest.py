from __future__ import annotations

import json
import os
from pathlib import Path

# Tests run in-process by default: starting worker processes (each loading the spaCy models, some
# seconds) for every small fetch would make the suite far slower. The worker tests ask for them.
# Set here, before anything runs, so that the `veille` subprocesses of the tests inherit it.
os.environ.setdefault("VEILLE_WORKERS", "1")

import pytest
from click.testing import CliRunner

from veille.app.cli.main import main
from veille.dev.devserver import FixtureServer
from veille.storage.sqlite.store import Archive

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEEDS = ROOT / "seeds"


@pytest.fixture
def archive(tmp_path):
    with Archive(tmp_path / "archive") as opened:
        yield opened


@pytest.fixture
def site():
    with FixtureServer(FIXTURES / "site", mounts={"/bad": FIXTURES / "bad"}) as server:
        yield server


class Cli:
    """Runs `veille` in-process against a temporary archive and config."""

    def __init__(self, tmp_path: Path) -> None:
        self.archive = tmp_path / "archive"
        self.config = tmp_path / "feeds.yaml"
        self.runner = CliRunner()

    def write_config(self, text: str) -> Path:
        self.config.write_text(text, encoding="utf-8")
        return self.config

    def __call__(self, *args: str, ok: bool = True):
        result = self.runner.invoke(
            main, ["--archive", str(self.archive), "--config", str(self.config), *args],
            catch_exceptions=False,
        )
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def json_lines(self, *args: str) -> list[dict]:
        return [json.loads(line) for line in self(*args, "--json").stdout.splitlines() if line.strip()]


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


# -- PostgreSQL: one throwaway cluster per test session, when PostgreSQL is installed --------------
def _throwaway(module: str, kind: str, name: str):
    """A server of the tests' own (`module`'s `kind`.start()), or a one-line skip where it cannot run
    here, a failure in CI, which must run them (`make test` installs `name` as root)."""
    found = __import__(module)
    why = found.available()
    if why and os.environ.get("CI"):
        pytest.fail(f"{why}; CI must run them (`make test` installs {name} as root)")
    if why:
        pytest.skip(why)
    server = getattr(found, kind).start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def pg_cluster():
    yield from _throwaway("pgcluster", "Cluster", "PostgreSQL")


@pytest.fixture
def pg_url(pg_cluster):
    """The URL of an empty database of its own, on the session's cluster."""
    return pg_cluster.new_database()


# -- one test, each backend: the tests of what every archive does, whatever keeps it ----------------
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def archive_url(request, tmp_path):
    """The address of an empty archive of each backend: a folder, then a fresh PostgreSQL database
    (skipped in one line where PostgreSQL is not installed, failed in CI)."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return str(tmp_path / "archive")


@pytest.fixture
def any_archive(archive_url):
    """An open empty archive of each backend (the `archive` fixture is SQLite's alone)."""
    from veille.storage import open_archive

    with open_archive(archive_url) as opened:
        yield opened


# -- RabbitMQ: one throwaway node per test session, when RabbitMQ is installed -------------------
@pytest.fixture(scope="session")
def rabbit_cluster():
    yield from _throwaway("rabbitcluster", "Node", "RabbitMQ")


@pytest.fixture
def broker_url(rabbit_cluster):
    """The session node's amqp:// URL, its queues emptied of what an earlier test left."""
    rabbit_cluster.purge()
    return rabbit_cluster.url
