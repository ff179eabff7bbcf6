"""How long a command takes before it answers: process start to exit, and what it loaded.

    .venv/bin/python bench/bench_startup.py [--repeat 7]

Imports the seeds into a temporary archive, then runs each read command in a fresh process
`--repeat` times and prints the median wall time and peak RSS beside two references run in
the same way in the same run: `python -c "import click"` (the floor any click CLI pays) and
`python -c "import spacy"` (what every command paid when the CLI imported the whole
pipeline). A measurement, not a test (tests/test_light_commands.py checks what is imported).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], repeat: int) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(args, capture_output=True, check=False, cwd=ROOT)
        times.append(time.perf_counter() - started)
        peaks.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return statistics.median(times) * 1000, max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    folder = Path(tempfile.mkdtemp(prefix="veille-startup-"))
    archive, config = folder / "archive", folder / "feeds.yaml"
    config.write_text("sources: []\n")
    veille = [sys.executable, "-m", "veille", "--archive", str(archive), "--config", str(config)]
    subprocess.run(veille + ["import", str(ROOT / "seeds"), "--quiet"], check=True, capture_output=True)
    first = json.loads(subprocess.run(veille + ["list", "--json"], capture_output=True, text=True).stdout.splitlines()[0])
    rows = [
        ("reference: import click", [sys.executable, "-c", "import click"]),
        ("reference: import spacy", [sys.executable, "-c", "import spacy"]),
        ("veille --help", veille + ["--help"]),
        ("veille search palantir", veille + ["search", "palantir"]),
        ("veille list", veille + ["list"]),
        ("veille show ID", veille + ["show", first["id"]]),
        ("veille status", veille + ["status"]),
        ("veille entities", veille + ["entities"]),
    ]
    print(f"{'command':<28} {'median ms':>10} {'x click':>8}")
    floor = None
    for name, args in rows:
        ms, _ = run(args, repeat)
        floor = floor or ms
        print(f"{name:<28} {ms:>10.0f} {ms / floor:>8.2f}")


if __name__ == "__main__":
    main()
