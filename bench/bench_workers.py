"""Benchmark of NLP worker processes (settings.workers): `veille fetch` with 1 and 2 workers.

Serves N generated article pages (bench_pipeline's: seed paragraphs, French and English, in
menus, banners and comments) on 127.0.0.1 with one feed, and in the same run measures:

- bare spaCy NER in this process on the same texts (veille's models, NER only, nlp.pipe):
  the issue 16 yardstick (target: `veille fetch` >= 1.2x it, moonshot 1.6x);
- `fetch_sources` end to end into a fresh archive, workers=1 and workers=2, each cold (models
  or worker processes started inside the timing, as `veille fetch` does) and warm (taggers or
  pool started before: the steady state of a long fetch, or of `veille run`);
- the CPU seconds of all its processes (a process's CPU is
  read while it runs, every 50 ms: a loaded machine slows the wall clock, not this);
- the peak total RSS of each row's process tree (each row runs in a fresh process, as a
  `veille fetch` would; it and its workers summed from /proc, sampled every 50 ms), and the
  same as PSS (shared pages counted once).

    .venv/bin/python bench/bench_workers.py [--pages 192]

A measurement, not a test: figures vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import make_site  # noqa: E402

from veille import pipeline  # noqa: E402
from veille.config.settings import Settings, parse_config  # noqa: E402
from veille.dev.devserver import FixtureServer  # noqa: E402
from veille.net.client import Fetcher  # noqa: E402
from veille.pipeline import workers as nlp_workers  # noqa: E402
from veille.stages.extract import extract  # noqa: E402
from veille.stages.language import detect  # noqa: E402
from veille.storage.sqlite.store import Archive  # noqa: E402


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rpartition(")")[2].split()[1])
            tree.setdefault(parent, []).append(int(entry))
    return tree


TICK = os.sysconf("SC_CLK_TCK")


def tree_memory(root: int, cpu: dict[int, float] | None = None) -> tuple[int, int]:
    """(RSS, PSS) in bytes, summed over a process and all its descendants; each one's CPU
    seconds so far into `cpu`."""
    tree, todo, rss, pss = _children(), [root], 0, 0
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            if cpu is not None:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                cpu[pid] = max(cpu.get(pid, 0.0), (int(fields[11]) + int(fields[12])) / TICK)
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, pss


class Peak:
    """Samples the memory of a process tree in a thread while a block runs; keeps the peaks."""

    def __init__(self, root: int) -> None:
        self.root = root

    def __enter__(self) -> "Peak":
        self.rss = self.pss = 0
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds (user + system), as last seen
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while True:
            rss, pss = tree_memory(self.root, self.cpu)
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            if self.done.wait(0.05):
                return

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def bare_ner(texts: list[tuple[str, str]], models: dict[str, str]) -> float:
    """Seconds for spaCy NER alone over the texts, one nlp.pipe per language (models loaded before)."""
    from veille.stages.entities import _load_model

    nlps = {lang: _load_model(name) for lang, name in models.items()}
    for nlp in nlps.values():
        list(nlp.pipe(["Warm up, Paris."]))
    started = time.perf_counter()
    for lang, nlp in nlps.items():
        for _ in nlp.pipe([t for t, code in texts if code == lang], batch_size=32):
            pass
    return time.perf_counter() - started


def tree_cpu() -> tuple[float, float]:
    """CPU seconds so far of this process, and of it and its descendants (the workers)."""
    cpu: dict[int, float] = {}
    tree_memory(os.getpid(), cpu)
    return cpu[os.getpid()], sum(cpu.values())


def one_row(row: str, feed: str, folder: Path) -> tuple[float, float, float]:
    """In a fresh process, as `veille fetch` would be: one row's seconds, and the CPU seconds
    spent meanwhile by this process and by all (workers that were running before and after)."""
    config = parse_config(f"settings:\n  host_delay: 0\nsources:\n  - name: bench\n    url: {feed}\n",
                          folder / "bench.yaml")
    if row == "ner":
        with Fetcher(Settings(timeout=20, host_delay=0)) as fetcher:
            feed_urls = [e.url for e in pipeline.parse_feed(fetcher.get(feed)).entries]
            responses = [fetcher.get(u) for u in feed_urls]
        texts = [(e.text, detect(e.text).code) for e in (extract(r.text(), r.url) for r in responses)]
        before = tree_cpu()
        seconds = bare_ner(texts, dict(config.nlp.models))
        after = tree_cpu()
        return seconds, after[0] - before[0], after[1] - before[1]
    count, warmth = int(row[0]), row[2:]
    pool, kwargs = None, {"workers": count}
    if warmth == "warm" and count == 1:
        taggers = pipeline.Taggers(config)
        for lang, _ in config.nlp.models:
            taggers.describe(lang)
        kwargs["taggers"] = taggers
    elif warmth == "warm":
        pool = nlp_workers.Workers(count, config.nlp)
        pool.start()
        kwargs["workers"] = pool
    with Archive(folder / "archive") as archive:
        before = tree_cpu()
        started = time.perf_counter()
        report = pipeline.fetch_sources(config, archive, **kwargs)
        seconds = time.perf_counter() - started
        after = tree_cpu()  # (cold: the workers have gone; their CPU is not counted)
    if pool is not None:
        pool.close()
    assert report.counts["failed"] == 0 and report.counts["new"] > 0, (report.counts, report.failures[:3])
    return seconds, after[0] - before[0], after[1] - before[1]


ROWS = {
    "ner": "bare spaCy NER, 1 process (the yardstick)",
    "1-cold": "veille fetch, workers=1, cold (models loaded inside)",
    "2-cold": "veille fetch, workers=2, cold (worker processes started inside)",
    "1-warm": "veille fetch, workers=1, warm (models loaded before)",
    "2-warm": "veille fetch, workers=2, warm (workers started before)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=192)
    parser.add_argument("--row", help=argparse.SUPPRESS)  # run by the benchmark itself, in a fresh process
    parser.add_argument("--feed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        with tempfile.TemporaryDirectory() as tmp:
            print(*one_row(args.row, args.feed, Path(tmp)))
        return 0
    rows: list = []
    with FixtureServer() as server:
        urls = make_site(server, args.pages)
        for row in ROWS:  # each in its own process, the memory of its whole tree sampled from here
            command = [sys.executable, __file__, "--row", row, "--feed", server.url + "/feed.xml"]
            child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            with Peak(child.pid) as peak:
                output, _ = child.communicate()
            if child.returncode:
                raise SystemExit(f"row {row} failed ({child.returncode})")
            seconds, main_cpu, all_cpu = map(float, output.split()[-3:])
            rows.append((ROWS[row], seconds, peak, main_cpu, all_cpu))
    print(f"veille worker benchmark, {len(urls)} pages, {date.today()}, {platform.machine()} "
          f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f} (1 min) at the end\n")
    print("| run | seconds | articles/s | x bare NER | CPU s in the run: main, all | whole process: CPU s, "
          "peak RSS (MiB), peak PSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    rates = {}
    ner_rate = len(urls) / rows[0][1]
    for label, seconds, peak, main_cpu, all_cpu in rows:
        rates[label] = rate = len(urls) / seconds
        print(f"| {label} | {seconds:.2f} | {rate:.1f} | {rate / ner_rate:.2f} | {main_cpu:.1f}, {all_cpu:.1f} | "
              f"{sum(peak.cpu.values()):.1f}, {peak.rss / 2**20:.0f}, {peak.pss / 2**20:.0f} |")
    r = list(rates.values())
    print(f"\nworkers=2 / workers=1: {r[4] / r[3]:.2f}x warm, {r[2] / r[1]:.2f}x cold")
    # Warm, on 2 idle cores: at best the main process's CPU, and the CPU of all over the 2 cores.
    one, two, ner = rows[3], rows[4], len(urls) / rows[0][4]
    w1, w2 = len(urls) / one[4], len(urls) / max(two[3], two[4] / 2)
    print(f"warm, CPU-bound bound on 2 idle cores: workers=1 {w1:.1f} articles/s ({w1 / ner:.2f}x bare NER), "
          f"workers=2 {w2:.1f} articles/s ({w2 / ner:.2f}x; {w2 / w1:.2f}x workers=1); bare NER "
          f"{ner:.1f} articles per CPU s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
