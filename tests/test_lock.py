"""One writer per archive; readers never wait; a damaged or missing index is rebuilt, never trusted."""

import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from conftest import SEEDS, Cli
from veille.storage.sqlite import lock as lock_module
from veille.storage.sqlite.lock import ArchiveBusyError, WriterLock, try_writer

HOLD = """
import sys, time
from veille.storage.sqlite.lock import WriterLock
lock = WriterLock(sys.argv[1], "run").acquire()
print("held", flush=True)
time.sleep(3600)  # until the fixture kills it: a slow test never outlives the lock it tests
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the archive's writer lock, as `veille run` does."""
    archive = tmp_path / "archive"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(archive)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield archive, process
    process.kill()
    process.wait()


def test_a_second_writer_refuses_and_names_the_first(holder):
    archive, process = holder
    with pytest.raises(ArchiveBusyError) as caught:
        WriterLock(archive, "fetch").acquire(wait=0.3)
    message = str(caught.value)
    assert f"pid {process.pid}" in message and "`veille run`" in message and f"kill {process.pid}" in message


def test_the_cli_says_so_in_one_line_with_exit_status_2(holder, tmp_path):
    archive, process = holder
    cli = Cli(tmp_path)
    cli.archive = archive
    result = cli("import", str(SEEDS), ok=False)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and f"pid {process.pid}" in result.stderr
    assert not (archive / "veille.db").exists() or cli("list", "--json").stdout.strip() == ""


def test_the_lock_dies_with_its_owner_even_on_sigkill(holder):
    archive, process = holder
    process.kill()
    process.wait()
    with WriterLock(archive, "fetch"):  # no stale lock file to remove by hand
        assert (archive / "veille.lock").read_text().split()[:2] == [str(os.getpid()), "fetch"]


def test_a_reader_does_not_wait_for_the_writer_and_leaves_the_index_to_it(holder, monkeypatch):
    archive, _ = holder
    # "does not wait", told apart from "waits a little" without a stopwatch: the lock's only way to wait
    # is to sleep between tries, so every sleep it asks for is recorded (and none is slept)
    slept = []
    monkeypatch.setattr(lock_module, "time", SimpleNamespace(monotonic=time.monotonic, sleep=slept.append))
    with try_writer(archive, "search") as free:
        assert free is False
    assert slept == []


def test_a_deleted_index_is_rebuilt_and_a_damaged_one_is_never_trusted(tmp_path):
    cli = Cli(tmp_path)
    cli("import", str(SEEDS))
    before = cli.json_lines("search", "palantir")
    assert before
    index = cli.archive / "index"
    for path in index.iterdir():
        path.unlink()
    index.rmdir()
    rebuilt = cli("search", "palantir", "--json")
    assert "the search index was missing; building it again from the archive (5 articles)" in rebuilt.stderr
    assert [json for json in cli.json_lines("search", "palantir")] == before

    toc = next(index.glob("_MAIN_*.toc"))
    toc.write_bytes(b"\x00 not an index " * 10)
    with WriterLock(cli.archive, "run"):  # a writer is at work: the reader must not rebuild under it
        damaged = cli("search", "palantir", ok=False)
    assert damaged.exit_code == 1 and damaged.stderr.count("\n") == 1
    assert "search index" in damaged.stderr and "veille reindex" in damaged.stderr
    repaired = cli("search", "palantir", "--json")  # no writer now: the reader repairs it
    assert "the search index was unreadable" in repaired.stderr
    assert cli.json_lines("search", "palantir") == before
