"""feedparser 6.0.14's own test corpus, served locally and read by `veille fetch`.

The feedparser source distribution on PyPI ships ~2,250 small feeds under
`tests/`: well-formed ones for every RSS/Atom/RDF/CDF feature (`wellformed/`),
broken XML (`illformed/`), feeds in every encoding a server can get wrong
(`encoding/`), HTML entities (`entities/`), HTTP status and compression cases
(`http/`, `compression/`). veille's developers never tuned against them.

Files are served the way feedparser's own harness (`tests/runtests.py`,
`FeedParserTestRequestHandler`) serves them:

- a file's `Header: Name: value` lines (in its leading comment) become HTTP
  headers, `Header: Status: 301` the status; anything else is a 200;
- files under `compression/` are sent with `Content-Encoding: gzip` (`.gz`) or
  `deflate` (otherwise) and `Content-Type: application/xml`;
- without a declared Content-type, `.xml` is `application/xml` (what
  `mimetypes.guess_type` gives, which runtests.py uses);
- `/-/return-304.xml` always answers 304; a request whose If-None-Match /
  If-Modified-Since equals the file's declared ETag / Last-Modified gets 304;
- URLs the fixtures write as `http://localhost:8097` or `http://127.0.0.1:8097`
  (feedparser's fixed test port) in their headers point at our server instead.

Paths are kept: `wellformed/rss/channel_title.xml` is served at
`/tests/wellformed/rss/channel_title.xml`, as runtests.py does.

The sdist is downloaded with pip into `tests/cache/` (git-ignored) and its
`tests/` folder extracted once beside it, like tests/realworld.py does for
trafilatura. `run_fetch` runs `python -m veille fetch --json` in a subprocess
and measures its wall time and peak memory; `summarise` reads the JSON summary
and the archive's database into figures the bench and the test share.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import archive_sql
from realworld import download_sdist

CACHE = Path(__file__).resolve().parent / "cache"
VERSION = "6.0.14"
SDIST_NAME = f"feedparser-{VERSION}.tar.gz"
SDIST = CACHE / SDIST_NAME
EXTRACTED = CACHE / f"feedparser-{VERSION}-tests"  # the sdist's tests/ folder, minus runtests.py
DONE_MARK = EXTRACTED / ".complete"
FEED_SUFFIXES = (".xml", ".rdf", ".rss", ".atom", ".gz", ".z")
GROUPS = ("wellformed", "illformed", "encoding", "entities", "http", "compression")
ROOT = Path(__file__).resolve().parent.parent

# Same pattern as runtests.py's FeedParserTestRequestHandler.headers_re.
HEADERS_RE = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.MULTILINE)
FEEDPARSER_PORT = re.compile(r"https?://(?:localhost|127\.0\.0\.1):8097")

# Why the last load_files() returned [] (for the test's skip message).
last_error: str | None = None


@dataclass
class FeedFile:
    rel: str  # path inside the sdist's tests/ folder: "wellformed/rss/channel_title.xml"
    body: bytes = field(repr=False)

    @property
    def group(self) -> str:
        return self.rel.split("/", 1)[0]

    @property
    def path(self) -> str:
        return "/tests/" + quote(self.rel)

    @property
    def name(self) -> str:
        """The source name in feeds.yaml: the file's path, unique by construction."""
        return self.rel


def load_files() -> list[FeedFile]:
    """Every feed file of the corpus, sorted by path; [] if the sdist cannot be had."""
    global last_error
    last_error = None
    if not DONE_MARK.is_file():
        if not SDIST.is_file():
            problem = download_sdist(f"feedparser=={VERSION}", SDIST)
            if problem:
                last_error = problem
                return []
        try:
            _extract(SDIST)
        except (tarfile.TarError, OSError, EOFError) as exc:
            last_error = f"{SDIST} is unusable ({type(exc).__name__}: {exc}); delete it to download again"
            return []
    files = []
    for path in sorted(EXTRACTED.rglob("*")):
        if path.is_file() and path.suffix.lower() in FEED_SUFFIXES:
            files.append(FeedFile(path.relative_to(EXTRACTED).as_posix(), path.read_bytes()))
    if not files:
        last_error = f"{EXTRACTED} holds no feed files; delete it and {SDIST} to download again"
    return files


def sample(files: list[FeedFile], every: int) -> list[FeedFile]:
    """Every n-th file in path order (deterministic), always with all of http/ and compression/."""
    if every <= 1:
        return list(files)
    return [f for i, f in enumerate(files) if i % every == 0 or f.group in ("http", "compression")]


def _extract(sdist: Path) -> None:
    """The sdist's tests/ folder into EXTRACTED (regular files only, no path tricks)."""
    partial = Path(tempfile.mkdtemp(dir=CACHE, prefix=".extract-"))
    try:
        with tarfile.open(sdist, "r:gz") as tar:
            for member in tar:
                _, _, inner = member.name.partition("/")
                if not (member.isfile() and inner.startswith("tests/")):
                    continue
                rel = inner[len("tests/"):]
                if not rel or rel.startswith("/") or ".." in rel.split("/"):
                    continue
                if not rel.lower().endswith(FEED_SUFFIXES):
                    continue  # runtests.py
                target = partial / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
        (partial / ".complete").write_text(f"feedparser {VERSION} tests\n")
        shutil.rmtree(EXTRACTED, ignore_errors=True)
        partial.rename(EXTRACTED)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


# --------------------------------------------------------------------------
# Serving: runtests.py's rules on veille's FixtureServer
# --------------------------------------------------------------------------


def declared_headers(file: FeedFile) -> dict[str, str]:
    """The headers runtests.py would send for this file, before host rewriting (Status included)."""
    if file.group == "compression":
        encoding = "gzip" if file.rel.endswith("gz") else "deflate"
        return {"Content-Encoding": encoding, "Content-type": "application/xml"}
    headers = {}
    for key, value in HEADERS_RE.findall(file.body):
        try:
            headers[key.decode("utf-8")] = value.decode("utf-8").strip()
        except UnicodeDecodeError:
            continue  # runtests.py would crash on these; there are none in 6.0.14
    return headers


def serve(files: list[FeedFile]):
    """A started FixtureServer serving `files` as feedparser's harness does; use it as a context manager."""
    from veille.dev.devserver import FixtureServer, Reply

    server = FixtureServer()

    def route_for(file: FeedFile):
        declared = declared_headers(file)

        def route(handler) -> Reply:
            headers = {k: FEEDPARSER_PORT.sub(server.url, v) for k, v in declared.items()}
            status = int(headers.pop("Status", "200") or 200)
            if (handler.headers.get("If-Modified-Since") == headers.get("Last-Modified", "nom")
                    or handler.headers.get("If-None-Match") == headers.get("ETag", "nomatch")):
                status = 304
            declared_type = [v for k, v in headers.items() if k.lower() == "content-type"]
            out = {"Content-Type": declared_type[-1] if declared_type else _guess_type(file.rel)}
            out.update((k, v) for k, v in headers.items() if k.lower() not in ("content-length", "content-type"))
            return Reply(status, file.body, out)

        return route

    for file in files:
        server.routes[file.path] = route_for(file)
    server.routes["/-/return-304.xml"] = lambda handler: Reply(304, b"", {"Content-Type": "text/xml"})
    return server


def _guess_type(rel: str) -> str:
    if rel.lower().endswith(".xml"):
        return "application/xml"
    return mimetypes.guess_type(rel)[0] or "application/octet-stream"


def write_config(files: list[FeedFile], base_url: str, path: Path, *, robots: bool = False) -> Path:
    """feeds.yaml with one source per file. `robots: false` by default: every entry links to an
    internet host that does not resolve here, and a robots.txt that cannot be had defers the page
    (not a failure) instead of trying it."""
    lines = [
        "settings:",
        "  host_delay: 0",
        "  timeout: 5s",
        "  per_host: 4",  # the most config.py accepts
        "  concurrency: 32",
        "sources:",
    ]
    for file in files:
        lines.append(f"  - name: {json.dumps(file.name)}")
        lines.append(f"    url: {json.dumps(base_url + file.path)}")
        if not robots:
            lines.append("    robots: false")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------
# Running `veille fetch` and reading what it did
# --------------------------------------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float
    timed_out: bool = False


def run_fetch(archive: Path, config: Path, *, timeout: float = 1800.0) -> Run:
    """`python -m veille --archive A --config F fetch --json` in a child; wall time and peak RSS via wait4."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("VEILLE_ARCHIVE", None)
    env.pop("VEILLE_CONFIG", None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-m", "veille", "--archive", str(archive), "--config", str(config), "fetch", "--json"],
            stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT, env=env,
        )
        timed_out = False
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                timed_out = True
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.05)
        child.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Run(child.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                   seconds, usage.ru_maxrss / 1024, timed_out)


@dataclass
class Summary:
    served: int
    sources_ok: int
    sources_failed: Counter  # reason -> sources
    failed_sources: dict[str, str]  # name -> reason
    entries: int  # entries seen (fresh ones fetched or failed, across all feeds)
    pages_failed: Counter  # reason (URL-free) -> pages
    failure_rows: list[dict]  # the archive's failures table
    json_failures: list[dict]  # the --json summary's failures
    counts: dict
    internal_errors: list[str]  # every place an "internal error" or a traceback shows up
    not_modified: int = 0


_ENTRIES = re.compile(r"^(\d+) entries")
INTERNAL = re.compile(r"internal error|Traceback \(most recent call last\)", re.I)


def summarise(files: list[FeedFile], archive: Path, run: Run) -> Summary:
    """Figures from the run's --json summary and its archive (tables sources, entries, failures)."""
    from veille.storage.sqlite.store import DB_NAME

    summary_json: dict = {}
    other_lines = [("stderr", line) for line in run.stderr.splitlines()]
    for line in run.stdout.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            summary_json = parsed  # its failures are checked one by one below
        else:
            other_lines.append(("stdout", line))
    internal = [f"{where}: {line.strip()[:300]}" for where, line in other_lines if INTERNAL.search(line)]
    json_failures = list(summary_json.get("failures", []))
    counts = {k: v for k, v in summary_json.items() if isinstance(v, int)}
    names = {f.name for f in files}
    sources_failed: Counter = Counter()
    failed_sources: dict[str, str] = {}
    ok = not_modified = entries = 0
    failure_rows: list[dict] = []
    recorded: set[str] = set()
    db_path = archive / DB_NAME
    if db_path.is_file():
        with archive_sql.reader(archive) as rows:
            for row in rows("SELECT name, last_status, last_error FROM sources"):
                if row["name"] not in names:
                    continue
                recorded.add(row["name"])
                if row["last_error"] is None and row["last_status"] != "failed":
                    ok += 1
                    status = row["last_status"] or ""
                    not_modified += status.startswith("not modified")
                    counted = _ENTRIES.match(status)
                    entries += int(counted.group(1)) if counted else 0
                else:
                    reason = row["last_error"] or ""
                    failed_sources[row["name"]] = reason
                    sources_failed[_reason_kind(reason)] += 1
            failure_rows = [dict(r) for r in rows("SELECT source, url, stage, reason FROM failures")]
    for name in sorted(names - recorded):  # neither a success nor a failure: the run lost the source
        failed_sources[name] = ""
        sources_failed["(never recorded)"] += 1
    for where, rows in (("failures table", failure_rows), ("--json failures", json_failures)):
        internal += [f"{where}: {r.get('source')}: {r.get('reason')}" for r in rows
                     if INTERNAL.search(r.get("reason") or "")]
    pages_failed = Counter(_reason_kind(r["reason"]) for r in failure_rows if r["stage"] == "page")
    no_link = sum(1 for f in json_failures if f.get("reason") == "entry has no link")
    if no_link:
        pages_failed["entry has no link (run summary only)"] += no_link
    return Summary(
        served=len(files), sources_ok=ok, sources_failed=sources_failed, failed_sources=failed_sources,
        entries=entries, pages_failed=pages_failed, failure_rows=failure_rows, json_failures=json_failures,
        counts=counts, internal_errors=internal, not_modified=not_modified,
    )


_URLISH = re.compile(r"\b(?:https?|file|ftp)://\S+|\b127\.0\.0\.1:\d+")
_XML_POSITION = re.compile(r"<unknown>:\d+:\d+:")
_ERRNO = re.compile(r"\s*\(\[Errno [^\]]*\][^)]*\)")
_HOST = re.compile(r"(name not resolved: |no address for )[^\s);]+")
_NUMBERS = re.compile(r"\b(?:line|column|col|position|char|at) \d+(?::\d+)?|\d+(?:\.\d+)? ?s\b|\d+ bytes?")


def _reason_kind(reason: str) -> str:
    """A reason without the URLs, positions and sizes that make every message unique, for counting."""
    reason = _URLISH.sub("URL", reason or "(empty reason)")
    reason = _HOST.sub(r"\1HOST", _ERRNO.sub("", reason))
    reason = _XML_POSITION.sub("<unknown>:L:C:", reason)
    reason = _NUMBERS.sub("N", reason)
    reason = " ".join(reason.split())
    return reason[:110]


def table(files: list[FeedFile], summary: Summary, run: Run) -> str:
    """The bench's report, as text."""
    served = Counter(f.group for f in files)
    failed = Counter(_group(n) for n in summary.failed_sources)
    lines = [
        f"files served            {summary.served}  ("
        + ", ".join(f"{g} {served[g]}" for g in GROUPS if served[g]) + ")",
        f"sources read OK         {summary.sources_ok}"
        + (f"  (of which 304 not modified: {summary.not_modified})" if summary.not_modified else ""),
        "  by folder             " + ", ".join(f"{g} {served[g] - failed[g]}/{served[g]}" for g in GROUPS if served[g]),
        f"sources failed          {sum(summary.sources_failed.values())}",
    ]
    for reason, n in summary.sources_failed.most_common(12):
        lines.append(f"  {n:5d}  {reason}")
    lines.append(f"entries seen            {summary.entries}  (in the feeds read)")
    lines.append(f"pages failed            {sum(summary.pages_failed.values())}")
    for reason, n in summary.pages_failed.most_common(8):
        lines.append(f"  {n:5d}  {reason}")
    lines += [
        f"articles new/updated    {summary.counts.get('new', 0)}/{summary.counts.get('updated', 0)}",
        f"internal errors         {len(summary.internal_errors)}",
        f"exit status             {run.returncode}" + ("  (killed: time limit)" if run.timed_out else ""),
        f"wall time               {run.seconds:.1f} s",
        f"peak memory             {run.peak_mib:.0f} MiB",
    ]
    for problem in summary.internal_errors[:10]:
        lines.append(f"  ! {problem}")
    return "\n".join(lines)


def _group(name: str) -> str:
    return name.split("/", 1)[0]
