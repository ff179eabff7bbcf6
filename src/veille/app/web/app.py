"""The Starlette app of `veille serve`: its routes, the guard in front of them, its errors.

Read-only: every route is GET (HEAD), none writes to the archive. The handlers are `async` and
run on the event loop's one thread, which opens the archive and the index on first use: an SQLite
connection stays in the thread that made it, and one search at a time is what two cores give anyway.

The guard answers before any route: a Host header that is not this machine's (when bound to
127.0.0.1, so a web page elsewhere cannot read the archive through DNS rebinding) is refused, and
with a token every request without it gets 401. Every answer carries headers that keep a
stranger's text inert even if it got through: a Content-Security-Policy with no script at all,
nosniff, no framing, no referrer (the archive's addresses and the token stay here).
"""

from __future__ import annotations

import hmac
import logging
import time
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie

from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from veille.app.web import api, pages
from veille.app.web.render import render
from veille.app.web.searching import Library
from veille.errors import ArchiveError, IndexDamagedError, StorageError, VeilleError

logger = logging.getLogger(__name__)

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TOKEN_COOKIE = "veille_token"
SAFETY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                 b"base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def create_app(archive_url: str, *, token: str | None = None, allowed_hosts: frozenset[str] | None = LOCAL_HOSTS,
               debug: bool = False) -> Starlette:
    """The app over the archive at `archive_url`; `allowed_hosts` None accepts any Host header
    (bound to another address than this machine's own)."""
    routes = [
        _route("/", pages.search_page),
        _route("/story/{story_id}", pages.story_page),
        _route("/article/{article_id}", pages.article_page),
        _route("/article/{article_id}/raw", pages.raw_page),
        _route("/entity/{key:path}", pages.entity_page),
        _route("/tag/{slug:path}", pages.tag_page),
        _route("/entities", pages.entities_page),
        _route("/searches", pages.searches_page),
        _route("/static/style.css", pages.stylesheet),
        _route("/api/search", api.search),
        _route("/api/article/{article_id}", api.article),
        _route("/api/story/{story_id}", api.story),
        _route("/api/entities", api.entities),
        _route("/api/searches", api.searches),
        _route("/feeds/{name}.atom", api.feed),
        _route("/feeds.opml", api.feeds_opml),
    ]
    handlers = {HTTPException: _http_error, VeilleError: _veille_error, Exception: _internal_error}
    library = Library(archive_url)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        library.close()

    app = Starlette(debug=debug, routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.library = library
    app.state.token = token
    app.add_middleware(Guard, token=token, allowed_hosts=allowed_hosts)
    return app


def _route(path: str, handler) -> Route:
    """A GET route whose handler runs on the archive's thread (see searching.Library)."""
    async def endpoint(request: Request) -> Response:
        return await request.app.state.library.run(handler, request)

    endpoint.__name__ = handler.__name__
    return Route(path, endpoint, methods=["GET", "HEAD"])


def _wants_data(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/feeds"))


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_data(request):
        return api.SafeJSON({"error": message}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    messages = {404: "no such page", 405: "this server only reads: GET and HEAD"}
    generic = exc.detail in ("Not Found", "Method Not Allowed") or not isinstance(exc.detail, str)
    return _error(request, exc.status_code, messages.get(exc.status_code, "error") if generic else exc.detail)


async def _veille_error(request: Request, exc: VeilleError) -> Response:
    """What cannot be read in a request: 400 with what to fix; an archive or index that cannot be read: 503."""
    if isinstance(exc, (ArchiveError, IndexDamagedError, StorageError)):
        logger.error("%s: %s", request.url.path, exc)
        return _error(request, 503, f"the archive cannot be read now ({exc})")
    return _error(request, 400, str(exc))


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.exception("internal error at %s", request.url.path)
    return _error(request, 500, f"internal error ({type(exc).__name__}); run `veille --debug serve` for details "
                                "and report it")


class Guard:
    """Refuses requests for another host, and (with a token) requests that do not present it;
    adds the safety headers to every answer. A token given as `?token=` is kept in a cookie, so
    the links of the pages work without it."""

    def __init__(self, app, token: str | None, allowed_hosts: frozenset[str] | None) -> None:
        self.app, self.token, self.allowed_hosts = app, token, allowed_hosts

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        extra = list(SAFETY_HEADERS)
        if self.allowed_hosts is not None and _host_of(headers.get("host", "")) not in self.allowed_hosts:
            return await _refuse(scope, receive, send, 400, "veille serves this machine only: open it as "
                                 "http://127.0.0.1:PORT/ (or start it with --host)", extra)
        if self.token:
            presented, from_query = self._presented(scope, headers)
            if presented is None or not hmac.compare_digest(presented.encode(), self.token.encode()):
                extra.append((b"www-authenticate", b'Bearer realm="veille"'))
                return await _refuse(scope, receive, send, 401, "this veille needs its token: add ?token=TOKEN "
                                     "to the address, or send Authorization: Bearer TOKEN", extra)
            if from_query:
                extra.append((b"set-cookie", f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                              .encode("latin-1")))

        started = time.perf_counter()

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                spent = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()  # what bench_serve.py reads
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in extra if name not in present or name == b"set-cookie"
                ] + [(b"server-timing", spent)]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _presented(self, scope, headers: Headers) -> tuple[str | None, bool]:
        """The token the request presents (a bearer header, ?token=, the cookie) and whether it came in the query."""
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip(), False
        query = QueryParams(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query:
            return query["token"], True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header presents nothing
            return None, False
        return (cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None), False


def _host_of(value: str) -> str:
    """The host of a Host header: "127.0.0.1:8080" -> 127.0.0.1, "[::1]:8080" -> ::1."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def _refuse(scope, receive, send, status: int, message: str, headers: list) -> None:
    response = PlainTextResponse(message + "\n", status_code=status)
    response.raw_headers += headers
    await response(scope, receive, send)
