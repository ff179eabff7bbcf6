"""Fetching at scale: 1,000 feeds on 50 hosts, each answer 100 to 300 ms late.

    .venv/bin/python bench/bench_fetch.py [--feeds 1000] [--hosts 50] [--entries 20]

Starts one local HTTP server per host on 127.0.0.10, 127.0.0.11, ... (every
127.x.y.z address is this machine, and each is a host of its own for the
politeness rules), each serving its share of the feeds (RSS, `--entries`
items each, with ETag and Last-Modified) after a random delay of 100 to
300 ms. Then runs `pipeline.fetch_sources` over all of them twice with the
default politeness settings (2 requests at a time per host, starts 0.5 s
apart, 32 in flight in all): the first pass downloads and parses every
feed, the second sends the validators back and gets 304s. The entries are
marked as archived beforehand, as on an installation already running: page
downloads, extraction and tagging are measured by bench_pipeline.py, and at
these politeness settings they, not the feeds, set the pace of a first
import. Prints wall time per pass, the largest number of requests a host saw
at once, and peak memory. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from veille.stages import feeds as feed_stage
from veille.config.settings import parse_config
from veille.pipeline import Taggers, fetch_sources
from veille.text.times import iso, utcnow
from veille.storage.sqlite.store import Archive

LAST_MODIFIED = "Mon, 02 Mar 2026 08:00:00 GMT"


class Host:
    def __init__(self, address: str, feeds: list[int], entries: int, seed: int) -> None:
        self.address = address
        self.bodies = {f"/feed{f}.xml": self.feed(f, entries) for f in feeds}
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.httpd = ThreadingHTTPServer((address, 0), self.handler())
        self.httpd.daemon_threads = True
        self.url = f"http://{address}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def feed(self, f: int, entries: int) -> bytes:
        items = "".join(f"<item><title>Story {f}-{e}</title><link>http://{self.address}/s/{f}-{e}.html</link>"
                        f"<guid>{f}-{e}</guid><description>Teaser of story {f}-{e}, about cameras and "
                        f"data retention in the city.</description></item>" for e in range(entries))
        return f"<rss version='2.0'><channel><title>feed {f}</title>{items}</channel></rss>".encode()

    def handler(self):
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                with host.lock:
                    host.active += 1
                    host.peak = max(host.peak, host.active)
                    delay = host.rng.uniform(0.1, 0.3)
                try:
                    time.sleep(delay)
                    body = host.bodies.get(self.path.split("?")[0])
                    if body is None:
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                    if self.headers.get("If-None-Match") == etag:
                        self.send_response(304)
                        self.send_header("ETag", etag)
                        self.end_headers()
                        return
                    self.send_response(200)
                    for key, value in (("Content-Type", "application/rss+xml"), ("ETag", etag),
                                       ("Last-Modified", LAST_MODIFIED), ("Content-Length", str(len(body)))):
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with host.lock:
                        host.active -= 1

        return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--entries", type=int, default=20)
    args = parser.parse_args()
    hosts = [Host(f"127.0.0.{10 + h}", list(range(h, args.feeds, args.hosts)), args.entries, h)
             for h in range(args.hosts)]
    tmp = Path(tempfile.mkdtemp())
    try:
        lines = ["settings:", "  contact: https://example.org/bench", "sources:"]
        for host in hosts:
            for path in host.bodies:
                lines += [f"  - name: {host.address}{path}", f"    url: {host.url}{path}"]
        config = parse_config("\n".join(lines) + "\n", tmp / "feeds.yaml")
        with Archive(tmp / "archive") as archive:
            now = iso(utcnow())
            for host in hosts:  # entries already archived: this measures the feeds, not the pages
                for path, body in host.bodies.items():
                    for entry in feed_stage.parse(body, host.url + path).entries:
                        archive.mark_entry(f"{host.address}{path}", entry.guid or entry.url, entry.url,
                                           "archived-before", now)
            taggers = Taggers(config, archive)
            rows = []
            for label in ("first pass (200, full feeds)", "second pass (304)"):
                started = time.perf_counter()
                report = fetch_sources(config, archive, taggers=taggers)
                seconds = time.perf_counter() - started
                outcomes = report.sources.values()
                rows.append((label, seconds, sum(o.startswith("not modified") for o in outcomes),
                             sum(o.startswith("failed") for o in outcomes)))
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        s = config.settings
        print(f"veille fetch benchmark, {date.today()}, {args.feeds:,} feeds of {args.entries} entries on "
              f"{args.hosts} hosts, answers 100-300 ms late; per_host {s.per_host}, host_delay {s.host_delay} s, "
              f"concurrency {s.concurrency}\n")
        print("| pass | wall s | feeds/s | 304s | failed |")
        print("|---|---:|---:|---:|---:|")
        for label, seconds, not_modified, failed in rows:
            print(f"| {label} | {seconds:.1f} | {args.feeds / seconds:.0f} | {not_modified} | {failed} |")
        print(f"\nMost requests one host saw at once: {max(h.peak for h in hosts)} (limit {s.per_host}); "
              f"peak memory {peak_mib:.0f} MiB (with the spaCy pipelines loaded)")
    finally:
        for host in hosts:
            host.httpd.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
