"""veille serve: the archive, read-only, in a browser and in feed readers (the app is app/web/)."""

from __future__ import annotations

import errno
import re
import signal
import socket
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from veille.app.cli.common import _catch_up, err, out
from veille.errors import VeilleError

if TYPE_CHECKING:
    from veille.app.cli.main import State

LOCAL = ("127.0.0.1", "localhost", "::1")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{8,256}")  # what a header, a cookie and an address carry as they are


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; another than this machine's own lets others in (give --token).")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8080, show_default=True,
              help="Port to listen on (0: any free one, said on start).")
@click.option("--token", envvar="VEILLE_TOKEN", show_envvar=True,
              help="Every request must present it (?token=, a cookie, or Authorization: Bearer); else 401.")
@click.pass_obj
def serve(state: State, host: str, port: int, token: str | None) -> None:
    """Serve the archive read-only in a browser: search, stories, articles, entities, tags, Atom feeds.

    Pages at /, JSON at /api/..., each saved search's feed at /feeds/NAME.atom, all of them at
    /feeds.opml. Example: veille serve --port 8080
    """
    if token is not None and not _TOKEN.fullmatch(token):
        raise click.BadParameter("use 8 to 256 letters, digits or . _ ~ + / = -", param_hint="--token")
    archive = state.archive()  # no archive: said now, not at the first request
    _catch_up(archive)  # the index in step with the archive, as `veille search` leaves it
    listener = _listen(host, port)
    import uvicorn

    from veille.app.web import create_app

    local = host in LOCAL
    if not local:
        err.print(f"[yellow]veille: listening on {escape(host)}: anyone who can reach this machine can read the "
                  f"archive{'' if token else '; give --token to require one'}[/yellow]")
    app = create_app(state["archive_path"], token=token, allowed_hosts=frozenset(LOCAL) if local else None,
                     debug=bool(state.get("debug")))
    bound = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    out.print(f"veille: serving {escape(archive.location)} at http://{escape(shown)}:{bound}/ (Ctrl-C stops)")
    config = uvicorn.Config(app, log_level="debug" if state.get("debug") else "warning", access_log=False,
                            server_header=False, proxy_headers=False, lifespan="on")
    # uvicorn stops on SIGINT/SIGTERM after the requests in hand, then raises the signal again for
    # the handlers it found: quiet ones here, so the command ends with its own line and status 0.
    previous = {number: signal.signal(number, lambda *_: None) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    err.print("veille: stopped")


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port in use is one line saying what to do."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except socket.gaierror:
        raise VeilleError(f"cannot listen on {host!r}: not an address of this machine; give another --host") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise VeilleError(f"port {port} is in use on {host}; give another --port (0 picks a free one)") from None
        raise VeilleError(f"cannot listen on {host}:{port} ({exc.strerror}); give another --host or --port") from None
    return listener
