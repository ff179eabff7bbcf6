"""feedparser 6.0.14's test corpus through `veille fetch`, end to end, in a subprocess.

Every feed of feedparser's own test suite (well-formed, ill-formed, badly
encoded, entities, HTTP status and compression cases; see tests/corpus.py)
is served from a local server with the headers feedparser's harness sends,
one source per file, and read by `python -m veille fetch --json`. Whatever a
feed holds, veille must finish the run (exit 0, as documented for a run in
which items failed), never show a traceback or an "internal error", give a
reason for every source and page that failed, and read the well-formed feeds.

Skipped only if the feedparser sdist cannot be downloaded. The full corpus
(2,248 files) is run when CORPUS_EVERY is 1; the environment variable
VEILLE_CORPUS_EVERY=N overrides it (N=1: all files, N=4: every 4th file plus
all the http/ and compression/ cases). bench/bench_corpus.py prints the figures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

import corpus

# Measured on the 2-core dev machine: the whole corpus (2,248 files) fetches in 8-9 s, 280 MiB peak,
# so the test runs all of it.
CORPUS_EVERY = 1
# Measured: 1,732 of 1,739 wellformed/ files are read; the 7 others are CDF (wellformed/cdf/), a
# format veille does not read ("not a feed: no RSS, Atom or RDF elements found").
WELLFORMED_READ = 0.98  # share of wellformed/ files that must be read without a source failure
TIME_LIMIT = 300.0  # seconds before the fetch is killed (and the test fails)


@dataclass
class Outcome:
    files: list
    run: corpus.Run
    summary: corpus.Summary


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> Outcome:
    files = corpus.load_files()
    if not files:
        pytest.skip(f"feedparser test corpus unavailable: {corpus.last_error}")
    every = int(os.environ.get("VEILLE_CORPUS_EVERY", CORPUS_EVERY))
    files = corpus.sample(files, every)
    work = tmp_path_factory.mktemp("corpus")
    archive = work / "archive"
    with corpus.serve(files) as server:
        config = corpus.write_config(files, server.url, work / "feeds.yaml")
        run = corpus.run_fetch(archive, config, timeout=TIME_LIMIT)
    summary = corpus.summarise(files, archive, run)
    print("\n" + corpus.table(files, summary, run))
    return Outcome(files, run, summary)


def test_the_run_completes(outcome):
    run = outcome.run
    assert not run.timed_out, f"veille fetch still running after {TIME_LIMIT:.0f} s"
    assert run.returncode == 0, f"exit status {run.returncode}; stderr:\n{run.stderr[-3000:]}"
    assert outcome.summary.counts, f"no --json summary on stdout:\n{run.stdout[-2000:]}"


def test_no_internal_error_and_no_traceback(outcome):
    assert "Traceback (most recent call last)" not in outcome.run.stderr + outcome.run.stdout
    assert outcome.summary.internal_errors == [], "\n".join(outcome.summary.internal_errors[:20])


def test_every_failure_is_explained(outcome):
    summary = outcome.summary
    unexplained_sources = sorted(name for name, reason in summary.failed_sources.items() if not reason.strip())
    assert unexplained_sources == [], f"failed (or never recorded) without a reason: {unexplained_sources[:20]}"
    unexplained_rows = [r for r in summary.failure_rows if not (r["reason"] or "").strip()]
    assert unexplained_rows == [], unexplained_rows[:10]
    unexplained_json = [f for f in summary.json_failures if not (f.get("reason") or "").strip()]
    assert unexplained_json == [], unexplained_json[:10]


def test_every_source_is_accounted_for(outcome):
    summary = outcome.summary
    assert summary.sources_ok + len(summary.failed_sources) == len(outcome.files)
    assert "(never recorded)" not in summary.sources_failed


def test_wellformed_feeds_are_read(outcome):
    wellformed = [f.name for f in outcome.files if f.group == "wellformed"]
    failed = sorted(n for n in wellformed if n in outcome.summary.failed_sources)
    read = len(wellformed) - len(failed)
    assert read >= WELLFORMED_READ * len(wellformed), (
        f"only {read}/{len(wellformed)} well-formed feeds read; first failures: "
        + "; ".join(f"{n}: {outcome.summary.failed_sources[n]}" for n in failed[:10])
    )
