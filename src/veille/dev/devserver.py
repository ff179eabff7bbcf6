"""A local static web server for the demo, the tests and the benchmark.

It serves a folder of fixture files on 127.0.0.1 as a small website would:
content types by extension, ETag and Last-Modified with real 304 answers, and
`{BASE_URL}` in files replaced by the server's own address so that feeds link
to pages on the same server. Extra routes (a path -> a function) add the
misbehaviours tests need: errors, loops, slow or huge answers.

Not for production: it exists so that nothing in veille's tests or demo
needs the internet.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/rss+xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/feed+json",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
}
PLACEHOLDER = b"{BASE_URL}"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[["BaseHTTPRequestHandler"], Reply | None]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float = 0.0  # time.monotonic() when it arrived


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # clients that hang up early (timeouts, size caps) are what tests do on purpose


class FixtureServer:
    """`with FixtureServer(folder) as server: server.url + "/feeds/x.xml"`"""

    def __init__(self, root: str | Path | None = None, routes: dict[str, Route] | None = None,
                 last_modified: float = 1_767_225_600.0,
                 mounts: dict[str, str | Path] | None = None, host: str = "127.0.0.1") -> None:
        self.root = Path(root) if root else None
        # Extra folders served under a path prefix, e.g. {"/bad": "tests/fixtures/bad"}.
        self.mounts = {prefix.rstrip("/"): Path(folder) for prefix, folder in (mounts or {}).items()}
        self.routes = dict(routes or {})
        self.last_modified = formatdate(last_modified, usegmt=True)
        self.requests: list[Request] = []
        self.pages: dict[str, bytes] = {}  # path -> body, served before files (for generated sites)
        self._httpd = _QuietServer((host, 0), self._handler_class())  # any 127.x.y.z: another "host", same machine
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FixtureServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fixture-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FixtureServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests_for(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def _body_for(self, path: str) -> tuple[bytes, str] | None:
        if path in self.pages:
            body = self.pages[path]
        else:
            root, rest = self.root, path
            for prefix, folder in self.mounts.items():
                if path.startswith(prefix + "/"):
                    root, rest = folder, path[len(prefix):]
            if root is None:
                return None
            file = (root / rest.lstrip("/")).resolve()
            if root.resolve() not in file.parents or not file.is_file():
                return None
            body = file.read_bytes()
        body = body.replace(PLACEHOLDER, self.url.encode("ascii"))
        suffix = Path(path).suffix.lower()
        return body, CONTENT_TYPES.get(suffix, "application/octet-stream")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Without this, Nagle's algorithm and delayed ACKs add 40 ms to every reply.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                server.requests.append(Request(path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()))
                route = server.routes.get(path)
                if route is not None:
                    reply = route(self)
                    if reply is not None:
                        self._send(reply)
                    return
                found = server._body_for(path)
                if found is None:
                    self._send(Reply(404, b"not found", {"Content-Type": "text/plain"}))
                    return
                body, content_type = found
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                headers = {"Content-Type": content_type, "ETag": etag, "Last-Modified": server.last_modified}
                if self.headers.get("If-None-Match") == etag or (
                    "If-None-Match" not in self.headers
                    and self.headers.get("If-Modified-Since") == server.last_modified
                ):
                    self._send(Reply(304, b"", headers))
                    return
                self._send(Reply(200, body, headers))

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if reply.status != 304:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if reply.status != 304:
                    try:
                        self.wfile.write(reply.body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass

        return Handler
