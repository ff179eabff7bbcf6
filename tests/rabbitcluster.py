"""A throwaway RabbitMQ node for the tests: its own temporary folder (database, logs, plugins file,
Erlang cookie), free ports on 127.0.0.1 only, its own epmd, run as the `rabbitmq` system user when the
tests run as root.

    node = Node.start()              # or the `rabbit_cluster` fixture (one per test session)
    node.url                         # amqp://guest:guest@127.0.0.1:PORT//
    node.stop(); node.restart()      # the broker going away and coming back (durable queues stay)
    node.destroy()                   # the node and its epmd killed, the folder removed

Where RabbitMQ is not installed, `available()` says why and the fixtures skip with that line.
`make servers` (run by `make test`) installs the Debian package when it runs as root, so CI always runs
these tests.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # the Debian package's own script (not the
# /usr/sbin wrapper, which logs to /var/log/rabbitmq and switches to the rabbitmq user itself)
RUN_AS = "rabbitmq"  # the system user the node runs as, when the tests run as root
# Every queue of the default virtual host deleted, in one call of the node's own Erlang (faster than
# `rabbitmqctl list_queues` + one `delete_queue` each, each of which boots an Erlang VM).
QUEUES_DELETED = ("[rabbit_amqqueue:delete(Q, false, false, <<\"tests\">>) || "
                  "Q <- rabbit_amqqueue:list(<<\"/\">>)], ok.")
READY_WITHIN = 120.0  # seconds: a generous deadline for a loaded machine (a node boots in ~5 s idle)


def epmd_path() -> str | None:
    found = shutil.which("epmd")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/erlang/erts-").parent.glob("erts-*/bin/epmd"))
    return str(candidates[-1]) if candidates else None


def available() -> str | None:
    """None when a node can be started here, else one line saying why not."""
    if not SERVER.exists():
        return "RabbitMQ is not installed (apt-get install rabbitmq-server); RabbitMQ tests skipped"
    if epmd_path() is None:
        return "Erlang's epmd is not installed (apt-get install erlang-base); RabbitMQ tests skipped"
    try:
        import celery  # noqa: F401
        import kombu  # noqa: F401
    except ImportError:
        return "celery is not installed (pip install -e '.[test]'); RabbitMQ tests skipped"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"no '{RUN_AS}' system user to run RabbitMQ as; RabbitMQ tests skipped"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """One RabbitMQ node on 127.0.0.1, its data in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
        self.name = f"veille-test-{os.getpid()}-{self.port}@localhost"
        self.process: subprocess.Popen | None = None
        self.epmd: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    # -- life cycle ---------------------------------------------------------------
    @classmethod
    def start(cls) -> "Node":
        why = available()
        if why:
            raise RuntimeError(why)
        node = cls(Path(tempfile.mkdtemp(prefix="veille-rabbit-")))
        node._prepare_folder()
        node._start_epmd()
        node.restart()
        return node

    def restart(self) -> None:
        """Start the node (again, after `stop`), on the same ports and data; wait until it speaks AMQP."""
        log = self.folder / "server.out"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(self._as_user([str(SERVER)]), stdout=out, stderr=subprocess.STDOUT,
                                            env=self._environment(), cwd=self.folder, start_new_session=True)
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited ({self.process.returncode}): {self._log_tail()}")
            if self._ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"RabbitMQ did not answer within {READY_WITHIN:.0f} s: {self._log_tail()}")

    def stop(self) -> None:
        """Stop the node (the broker going away); its data (durable queues, persistent messages) stays."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        # the script waits for erl; erl's helpers (erl_child_setup, inet_gethost) share its group
        self._signal_group(signal.SIGKILL)
        self.process = None

    def destroy(self) -> None:
        """Kill the node and the epmd started for it; remove the folder."""
        if self.process is not None:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
            self.process = None
        if self.epmd is not None:
            _kill_group(self.epmd.pid, signal.SIGKILL)  # runuser and the epmd under it
            self.epmd.wait()
            self.epmd = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def purge(self) -> None:
        """Delete every queue a test left on the node (each test starts with an empty broker)."""
        done = subprocess.run(self._as_user([str(SERVER.parent / "rabbitmqctl"), "-n", self.name, "eval",
                                             QUEUES_DELETED]), env=self._environment(), capture_output=True,
                              text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"rabbitmqctl failed: {done.stdout[-1000:]} {done.stderr[-1000:]}")

    # -- helpers -----------------------------------------------------------------
    def _prepare_folder(self) -> None:
        for name in ("mnesia", "log"):
            (self.folder / name).mkdir()
        (self.folder / "enabled_plugins").write_text("[].\n")  # no management plugin, nothing else
        (self.folder / "rabbitmq.conf").write_text("loopback_users = none\n")
        (self.folder / ".erlang.cookie").write_text(f"veilletest{os.getpid()}{self.port}")
        os.chmod(self.folder / ".erlang.cookie", 0o400)
        if os.geteuid() == 0:
            account = pwd.getpwnam(RUN_AS)
            for path in [self.folder, *self.folder.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)
            os.chmod(self.folder, 0o755)

    def _start_epmd(self) -> None:
        # An epmd of our own on a free port: nothing shared with another node on this machine, and ours
        # to kill at the end.
        self.epmd = subprocess.Popen(self._as_user([epmd_path(), "-port", str(self.epmd_port)]),
                                     env=self._environment(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

    def _environment(self) -> dict[str, str]:
        folder = str(self.folder)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": folder,  # the Erlang cookie is read from $HOME/.erlang.cookie
            "LANG": "C.UTF-8",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{folder}/mnesia",
            "RABBITMQ_LOG_BASE": f"{folder}/log",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{folder}/enabled_plugins",
            "RABBITMQ_CONFIG_FILE": f"{folder}/rabbitmq.conf",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{folder}/advanced.config",
            "RABBITMQ_CONF_ENV_FILE": f"{folder}/rabbitmq-env.conf",  # not /etc/rabbitmq's
            "RABBITMQ_PID_FILE": f"{folder}/rabbit.pid",
        }

    def _ready(self) -> bool:
        from kombu import Connection

        try:
            with Connection(self.url, connect_timeout=2) as conn:
                conn.connect()
                return True
        except Exception:  # noqa: BLE001 - refused, reset, handshake not ready: not yet
            return False

    def _signal_group(self, signum: int) -> None:
        _kill_group(self.process.pid, signum)

    def _as_user(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", RUN_AS, "--", *command] if os.geteuid() == 0 else command

    def _log_tail(self) -> str:
        logs = [self.folder / "server.out", *sorted((self.folder / "log").glob("*.log"))]
        return " | ".join(path.read_text(errors="replace")[-1500:] for path in logs if path.exists())


def _kill_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
