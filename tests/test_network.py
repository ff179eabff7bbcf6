"""Network boundaries: a stranger's link reaches the public internet only, checked on the address connected to."""

import socket
import threading
import time

import httpcore
import pytest

from veille.net import guard as fetch
from veille.config.settings import Settings, parse_config
from veille.dev.devserver import FixtureServer, Reply
from veille.errors import BlockedURLError, FetchError
from veille.net.client import Fetcher, Response
from veille.net.guard import ANY, PUBLIC, GuardedBackend, address_kind, allowance
from veille.pipeline import fetch_sources

PAGE = ("<html lang='en'><head><title>Cameras</title></head><body><article><h1>Cameras</h1>"
        + "<p>The council approved new cameras with face matching in the old town, and residents object.</p>" * 4
        + "</article></body></html>").encode()


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd12::1", "private"),
    ("100.64.0.1", "private"), ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
    ("169.254.7.7", "link-local"), ("fe80::1", "link-local"), ("0.0.0.0", "reserved"), ("224.0.0.1", "reserved"),
    ("240.0.0.1", "reserved"), ("8.8.8.8", "public"), ("2001:4860:4860::8888", "public"), ("not an ip", "reserved"),
    ("64:ff9b::808:808", "public"), ("64:ff9b::a9fe:a9fe", "metadata"), ("64:ff9b::7f00:1", "loopback"),
    ("2002:7f00:1::", "loopback"),
])
def test_every_address_has_a_kind_and_only_the_public_internet_is_public(address, kind):
    assert address_kind(address) == kind


def test_a_link_may_reach_the_public_internet_and_its_own_feeds_kind_of_network():
    assert allowance(Response("u", 200, {}, peer="93.184.216.34"), allow_private=False) == PUBLIC
    assert allowance(Response("u", 200, {}, peer="127.0.0.1"), allow_private=False) == {"loopback"}
    assert allowance(Response("u", 200, {}, peer="10.0.0.7"), allow_private=False) == {"private"}
    assert allowance(Response("u", 200, {}, peer="93.184.216.34"), allow_private=True) == ANY


def test_a_loopback_address_is_refused_unless_allowed():
    with FixtureServer(routes={"/p": lambda h: Reply(200, PAGE, {"Content-Type": "text/html"})}) as server, \
            Fetcher(Settings(timeout=2)) as fetcher:
        with pytest.raises(BlockedURLError) as caught:
            fetcher.get(server.url + "/p", allow=PUBLIC)
        assert caught.value.reason == "loopback address refused" and "allow_private" in caught.value.detail
        assert server.requests_for("/p") == []  # refused before a byte was sent
        assert fetcher.get(server.url + "/p", allow=frozenset({"loopback"})).status == 200
        assert fetcher.get(server.url + "/p").peer == "127.0.0.1"


def test_a_kept_alive_connection_is_not_a_way_around_the_check():
    with FixtureServer(routes={"/p": lambda h: Reply(200, PAGE, {"Content-Type": "text/html"})}) as server, \
            Fetcher(Settings(timeout=2)) as fetcher:
        assert fetcher.get(server.url + "/p").status == 200  # the keeper's URL opens a connection
        with pytest.raises(BlockedURLError):
            fetcher.get(server.url + "/p", allow=PUBLIC)  # a stranger's link to the same place may not use it
        assert len(server.requests_for("/p")) == 1  # refused before the request was sent on it


def test_a_redirect_is_the_servers_choice_and_may_not_leave_its_kind_of_network():
    routes = {"/to-metadata": lambda h: Reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}),
              "/to-private": lambda h: Reply(302, b"", {"Location": "http://10.0.0.1/admin"}),
              "/to-self": lambda h: Reply(302, b"", {"Location": "/p"}),
              "/p": lambda h: Reply(200, PAGE, {"Content-Type": "text/html"})}
    with FixtureServer(routes=routes) as server, Fetcher(Settings(timeout=2)) as fetcher:
        for path, kind in (("/to-metadata", "metadata"), ("/to-private", "private")):
            with pytest.raises(BlockedURLError) as caught:
                fetcher.get(server.url + path)  # even the keeper's own URL
            assert caught.value.reason == f"{kind} address refused"
        assert fetcher.get(server.url + "/to-self").status == 200  # a loopback server to itself is fine


def test_an_address_that_does_not_answer_is_followed_by_the_next():
    with FixtureServer(routes={"/p": lambda h: Reply(200, PAGE, {"Content-Type": "text/html"})}) as server:
        port = int(server.url.rsplit(":", 1)[1])
        answers = lambda host, port, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port)),
                                            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        backend = GuardedBackend(resolve=answers)  # nothing listens on the first address; the second serves
        stream = backend.connect_tcp("dual.example", port, timeout=2)
        assert stream.get_extra_info("server_addr")[0] == "127.0.0.1"
        stream.close()


class _Liar:
    """A resolver's answer changed between check and connect: told a public address, reached loopback."""

    def __init__(self, port):
        self.port, self.real = port, httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return self.real.connect_tcp("127.0.0.1", self.port, timeout, local_address, socket_options)


def test_the_check_is_made_on_the_address_actually_connected_to():
    with FixtureServer(routes={"/p": lambda h: Reply(200, PAGE, {"Content-Type": "text/html"})}) as server:
        port = int(server.url.rsplit(":", 1)[1])
        public = lambda host, port, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
        backend = GuardedBackend(_Liar(port), resolve=public)
        fetch._request.allow = PUBLIC
        try:
            with pytest.raises(BlockedURLError) as caught:
                backend.connect_tcp("news.example", 80, timeout=2)
        finally:
            del fetch._request.allow
        assert "127.0.0.1" in caught.value.detail


def test_links_into_private_and_metadata_networks_are_not_followed(archive, tmp_path):
    items = "".join(f"<item><title>t{n}</title><link>{link}</link></item>" for n, link in enumerate([
        "http://169.254.169.254/latest/meta-data/iam/", "http://10.0.0.1/admin", "http://[fe80::1]/",
        "http://0.0.0.0:{port}/story.html", "{base}/story.html"]))
    with FixtureServer(routes={"/story.html": lambda h: Reply(200, PAGE, {"Content-Type": "text/html"})}) as server:
        port = server.url.rsplit(":", 1)[1]
        feed = f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>"
        server.pages["/feed.xml"] = feed.format(port=port, base=server.url).encode()
        config = parse_config(f"settings:\n  host_delay: 0\n  timeout: 2s\nsources:\n  - name: s\n"
                              f"    url: {server.url}/feed.xml\n", tmp_path / "f.yaml")
        started = time.monotonic()
        report = fetch_sources(config, archive)
        # refused before connecting, not left to time out: a generous bound that only a hang reaches
        assert time.monotonic() - started < 120
    reasons = {f.url: f.reason for f in report.failures}
    assert reasons["http://169.254.169.254/latest/meta-data/iam/"] == "link not followed: metadata address refused"
    assert reasons["http://10.0.0.1/admin"] == "link not followed: private address refused"
    assert reasons["http://[fe80::1]/"] == "link not followed: link-local address refused"
    assert reasons[f"http://0.0.0.0:{port}/story.html"] == "link not followed: reserved address refused"
    assert report.counts["new"] == 1  # the feed is on loopback, so its link to loopback is its own site


def _trickler(stop: threading.Event, body: bool):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n" if body \
                    else b"HTTP/1.1 200 OK\r\n"
                conn.sendall(head)
                while not stop.is_set():
                    try:
                        conn.sendall(b"x" if body else b"X-Slow: a\r\n"[:1])
                    except OSError:
                        break
                    time.sleep(0.5)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/"


@pytest.mark.parametrize("body", [False, True], ids=["headers", "body"])
def test_a_server_trickling_a_byte_at_a_time_is_cut_off_at_the_deadline(body):
    stop = threading.Event()
    url = _trickler(stop, body)
    try:
        with Fetcher(Settings(timeout=1.0)) as fetcher:
            started = time.monotonic()
            with pytest.raises(FetchError) as caught:
                fetcher.get(url)
            # the deadline is three timeouts (3 s) for the whole transfer; without it the fetch would last as
            # long as the server trickles (until the test stops it). The bound is ten deadlines: the fetch waits
            # on a socket, a busy machine can delay its wake-up by moments, not by 27 s.
            assert time.monotonic() - started < 30
        assert caught.value.reason == "timeout"
    finally:
        stop.set()
