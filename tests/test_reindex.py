"""`veille reindex` killed half-way, and readers while it runs (issue 22, items 1 and 2).

The rebuild loads the index with whoosh's parallel writer (two processes). Killed with SIGKILL,
its processes used to survive with parent pid 1, holding the archive's lock and blocked on a
pipe; every writer then named the dead parent, and `search` failed with an internal TypeError,
as it did while a reindex ran. Now the processes end with their parent, readers search the old
index until the new one takes its place, and the lock message names the process that holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from veille.storage.sqlite.lock import ArchiveBusyError, WriterLock
from veille.models import Article
from veille.storage.sqlite.store import Archive

ARTICLES = 1_100  # the parallel writer starts at 1,000 articles in one batch
WORDS = ("harbour police camera contract council court drone report vendor ministry data city "
         "tender audit budget sensor").split()

PAUSE_IN_COMMIT = """
import sys, time
from whoosh.multiproc import MpWriter


def paused(self, *args, **kwargs):  # both indexing processes are running: stop here until killed
    print("indexing processes", *[task.pid for task in self.tasks], flush=True)
    time.sleep(600)


MpWriter.commit = paused
from veille.app.cli.main import main
main(prog_name="veille")
"""


def veille(archive: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "veille", "--archive", str(archive), *args],
                          capture_output=True, text=True, timeout=timeout)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pids: list[int], deadline: float) -> list[int]:
    end = time.monotonic() + deadline
    while time.monotonic() < end and any(alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if alive(p)]


def read_line(stream, deadline: float) -> str:
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(deadline)
    return found[0] if found else ""


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Path:
    """An archive of 1,100 short articles and its index, made once; each test copies it."""
    import random

    rng = random.Random(22)
    folder = tmp_path_factory.mktemp("filled") / "archive"
    with Archive(folder) as archive:
        for n in range(ARTICLES):
            text = " ".join(rng.choice(WORDS) for _ in range(40)) + (" lighthouse" if n % 10 == 0 else "")
            archive.save_article(Article(id=f"{n:016x}", url=f"http://127.0.0.1/{n}", source="local", text=text,
                                         lang="en", title=f"report {n}", published="2025-01-01",
                                         fetched="2025-01-01T00:00:00Z"), "2025-01-01T00:00:00Z")
    done = veille(folder, "search", "lighthouse", "--count")  # the reader builds the index
    assert done.returncode == 0, done.stderr
    return folder


def copy(filled: Path, tmp_path: Path) -> Path:
    import shutil

    archive = tmp_path / "archive"
    shutil.copytree(filled, archive)
    return archive


def counted(archive: Path) -> dict:
    done = veille(archive, "search", "lighthouse", "--count", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_killed_reindex_leaves_no_process_no_lock_and_the_old_index_answering(filled, tmp_path):
    archive = copy(filled, tmp_path)
    before = counted(archive)
    assert before == {"stories": ARTICLES // 10, "articles": ARTICLES // 10}
    script = tmp_path / "paused_reindex.py"
    script.write_text(PAUSE_IN_COMMIT, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script), "--archive", str(archive), "reindex", "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children: list[int] = []
    try:
        line = read_line(parent.stdout, 600)
        assert line.startswith("indexing processes"), (line, parent.poll())
        children = [int(word) for word in line.split()[2:]]
        assert len(children) == 2 and all(alive(p) for p in children)

        # while it runs: readers answer from the old index (item 2), a writer is refused naming it
        for _ in range(3):
            assert counted(archive) == before
        refused = veille(archive, "reindex", "-q")
        assert refused.returncode == 2 and f"pid {parent.pid}" in refused.stderr, refused.stderr

        parent.kill()
        parent.wait(60)
        left = wait_gone(children, 60)
        assert not left, f"indexing processes {left} outlived their killed parent {parent.pid}"
        # the lock is free: the next writer runs, and nothing was lost
        assert counted(archive) == before
        done = veille(archive, "reindex", "-q")
        assert done.returncode == 0 and f"{ARTICLES} articles indexed" in done.stdout, done.stderr
        assert counted(archive) == before
        assert not (archive / "index.new").exists()
    finally:
        for pid in [parent.pid, *children]:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        parent.wait(60)


def test_search_during_a_whole_reindex_never_fails(filled, tmp_path):
    """Readers run again and again while a real reindex goes from start to end."""
    archive = copy(filled, tmp_path)
    before = counted(archive)
    rebuild = subprocess.Popen([sys.executable, "-m", "veille", "--archive", str(archive), "reindex", "-q"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answers = []
    try:
        while rebuild.poll() is None or not answers:
            done = veille(archive, "search", "lighthouse", "--count", "--json")
            assert done.returncode == 0, done.stderr
            answers.append(json.loads(done.stdout))
    finally:
        rebuild.wait(600)
    assert rebuild.returncode == 0, rebuild.stderr
    assert answers and all(answer == before for answer in answers), answers
    assert counted(archive) == before


HOLD_WITH_A_DEAD_NAME = """
import fcntl, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_EX)
handle.seek(0); handle.truncate(); handle.write(sys.argv[2] + " reindex 2026-01-01T00:00:00Z\\n"); handle.flush()
print("held", flush=True)
time.sleep(600)
"""


def test_the_busy_message_names_the_live_holder_not_a_dead_pid_in_the_file(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WITH_A_DEAD_NAME, str(archive / "veille.lock"),
                               str(ended.pid)], stdout=subprocess.PIPE, text=True)
    try:
        assert read_line(holder.stdout, 60).strip() == "held"
        with pytest.raises(ArchiveBusyError) as caught:
            WriterLock(archive, "fetch").acquire(wait=0.2)
        message = str(caught.value)
        assert f"kill {holder.pid}" in message and f"kill {ended.pid}" not in message, message
        assert "ended" in message
    finally:
        holder.kill()
        holder.wait()


FORK_WHILE_HOLDING = """
import os, sys, time
from veille.storage.sqlite.lock import WriterLock
lock = WriterLock(sys.argv[1], "reindex").acquire()
child = os.fork()
if child == 0:  # keeps what it inherited, as whoosh's indexing processes do
    time.sleep(600)
    os._exit(0)
print(child, flush=True)
time.sleep(600)
"""


def test_a_process_forked_by_the_writer_does_not_keep_the_archive_locked(tmp_path):
    archive = tmp_path / "archive"
    parent = subprocess.Popen([sys.executable, "-c", FORK_WHILE_HOLDING, str(archive)], stdout=subprocess.PIPE,
                              text=True)
    child = None
    try:
        child = int(read_line(parent.stdout, 60))
        parent.kill()
        parent.wait()
        assert alive(child)
        WriterLock(archive, "fetch").acquire(wait=10).release()
    finally:
        parent.kill()
        parent.wait()
        if child:
            os.kill(child, 9)
