"""A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary folder, a free port on
127.0.0.1, run as an unprivileged user (PostgreSQL refuses to run as root).

    cluster = Cluster.start()         # or the `pg_cluster` fixture (one per test session)
    url = cluster.new_database()      # postgresql://veille@127.0.0.1:PORT/test_3, empty
    cluster.stop(); cluster.restart()  # the server going away and coming back
    cluster.destroy()

Where PostgreSQL is not installed, `available()` says why and the fixtures skip with that line.
`make test` installs the Debian package when it runs as root, so CI always runs these tests.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "veille"  # the cluster's superuser role (trust authentication, loopback only)
RUN_AS = "postgres"  # the system user the server runs as, when the tests run as root
READY_WITHIN = 90.0  # seconds: a generous deadline for a loaded machine


def bin_dir() -> Path | None:
    """The folder of initdb/postgres/pg_ctl: Debian's versioned folder, else the PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def available() -> str | None:
    """None when a cluster can be started here, else one line saying why not."""
    if bin_dir() is None:
        return "PostgreSQL is not installed (apt-get install postgresql); PostgreSQL tests skipped"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]'); PostgreSQL tests skipped"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"no '{RUN_AS}' system user to run PostgreSQL as (it refuses root); PostgreSQL tests skipped"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One postgres server on 127.0.0.1, its data in a temporary folder."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.data = folder / "data"
        self.process: subprocess.Popen | None = None
        self._databases = 0

    # -- life cycle ---------------------------------------------------------------
    @classmethod
    def start(cls) -> "Cluster":
        why = available()
        if why:
            raise RuntimeError(why)
        folder = Path(tempfile.mkdtemp(prefix="veille-pg-"))
        cluster = cls(folder, free_port())
        if os.geteuid() == 0:
            os.chmod(folder, 0o755)
            account = pwd.getpwnam(RUN_AS)
            os.chown(folder, account.pw_uid, account.pw_gid)
        cluster._run(["initdb", "-D", str(cluster.data), "-U", USER, "-A", "trust", "-E", "UTF8",
                      "--locale=C.UTF-8", "--no-sync"])
        cluster.restart()
        return cluster

    def restart(self) -> None:
        """Start the server (again, after `stop`), on the same port; wait until it answers."""
        log = self.folder / "server.log"
        command = self._as_user([str(bin_dir() / "postgres"), "-D", str(self.data), "-p", str(self.port),
                                 "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1",
                                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                                 "-c", "full_page_writes=off", "-c", "max_connections=200"])
        with open(log, "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited ({self.process.returncode}): {log.read_text()[-2000:]}")
            if self._ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not answer within {READY_WITHIN:.0f} s: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop the server at once (as if the machine went away); the data stays."""
        if self.process is None:
            return
        pid = self._postmaster_pid()  # the server itself: `runuser` in between does not pass signals on
        if pid:
            try:
                os.kill(pid, signal.SIGINT)  # "fast" shutdown: clients are cut off at once
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            if pid:
                os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait()
        self.process = None

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- databases ---------------------------------------------------------------
    def url(self, database: str = "postgres", user: str = USER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "test") -> str:
        """An empty database of its own (for one test); returns its URL."""
        import psycopg

        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        return self.url(name)

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)

    # -- helpers -----------------------------------------------------------------
    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _as_user(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", RUN_AS, "--", *command] if os.geteuid() == 0 else command

    def _run(self, command: list[str]) -> None:
        command[0] = str(bin_dir() / command[0])
        done = subprocess.run(self._as_user(command), capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
