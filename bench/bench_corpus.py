"""feedparser's own test corpus through `veille fetch`: robustness, time and memory.

    .venv/bin/python bench/bench_corpus.py [--every N] [--robots] [--keep DIR]

Downloads the feedparser 6.0.14 sdist once (pip, into tests/cache/), serves
its ~2,250 test feeds (well-formed, ill-formed, badly encoded, entities, HTTP
status and compression cases) from a local server with the headers
feedparser's own harness sends (see tests/corpus.py), writes a feeds.yaml
with one source per file, and runs `python -m veille fetch --json` on a fresh
archive in a subprocess. Entry links point at internet hosts (example.com,
...), which do not resolve offline: those pages fail fast and are recorded
with a reason; the feed's own text is kept when it has some.

Prints: files served, sources read OK (by folder), sources failed by reason,
entries seen, pages failed by reason, internal errors (must be 0), exit
status, wall time and peak memory (the child's max RSS from wait4).
Exits 1 if there were internal errors, a traceback, a failed source without
a reason or an exit status other than 0. A measurement, not a test; the test
is tests/test_corpus.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import corpus  # noqa: E402  (tests/corpus.py)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, help="Serve every N-th file only (default: all).")
    parser.add_argument("--robots", action="store_true",
                        help="Keep robots.txt checks on (unreachable hosts then defer pages instead of failing them).")
    parser.add_argument("--keep", type=Path, help="Put the archive and feeds.yaml here and keep them.")
    parser.add_argument("--timeout", type=float, default=1800.0, help="Kill the fetch after this many seconds.")
    args = parser.parse_args()

    files = corpus.load_files()
    if not files:
        print(f"corpus unavailable: {corpus.last_error}", file=sys.stderr)
        return 2
    files = corpus.sample(files, args.every)
    with tempfile.TemporaryDirectory(prefix="veille-corpus-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        archive = work / "archive"
        with corpus.serve(files) as server:
            config = corpus.write_config(files, server.url, work / "feeds.yaml", robots=args.robots)
            run = corpus.run_fetch(archive, config, timeout=args.timeout)
        summary = corpus.summarise(files, archive, run)
        print(f"feedparser {corpus.VERSION} test corpus through `veille fetch`"
              + (f" (every {args.every}th file)" if args.every > 1 else ""))
        print(corpus.table(files, summary, run))
        unexplained = [name for name, reason in summary.failed_sources.items() if not reason.strip()]
        unexplained += [f"{r['source']}: {r['url']}" for r in summary.failure_rows if not (r["reason"] or "").strip()]
        if unexplained:
            print(f"failures without a reason: {len(unexplained)}: {unexplained[:5]}")
        if run.returncode != 0:
            print("stderr (last lines):\n  " + "\n  ".join(run.stderr.strip().splitlines()[-10:]))
        if args.keep:
            print(f"kept: {archive} and {work / 'feeds.yaml'}")
        bad = summary.internal_errors or unexplained or run.returncode != 0
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
