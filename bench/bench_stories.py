"""Story quality: precision and recall of copies and translations on labelled pairs.

    .venv/bin/python bench/bench_stories.py [--pairs bench/eval/pairs] [--show 10]

Imports every document of the pairs set (bench/eval/pairs/docs, see its
README) into a fresh archive with `veille import`, then reads the stories
it formed. A pair counts as found when both documents are in one story; a
same-story pair is a predicted copy when the two are in the same language and
a predicted translation when they are not. Precision is over every
same-story pair the archive made among the set's documents (a pair it joined
that the labels call different, or do not list, is a false merge); recall is
over the labelled pairs. Prints a Markdown table and the failure cases.
A measurement, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from veille.pipeline import Taggers, import_paths
from veille.store import Archive

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=ROOT / "bench" / "eval" / "pairs")
    parser.add_argument("--show", type=int, default=10, help="failure cases to list per kind")
    args = parser.parse_args()
    labelled = [json.loads(line) for line in (args.pairs / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
                if line.strip()]
    truth = {}
    for pair in labelled:
        kind = {"duplicate": "copy"}.get(pair["relation"], pair["relation"])
        truth[frozenset((pair["a"], pair["b"]))] = kind
    with tempfile.TemporaryDirectory() as tmp, Archive(Path(tmp)) as archive:
        started = time.perf_counter()
        import_paths([args.pairs / "docs"], archive, taggers=Taggers())
        seconds = time.perf_counter() - started
        story, lang = {}, {}
        for article in archive.list_articles(limit=None):
            name = "docs/" + article.url.rsplit("/", 1)[1]
            membership = archive.story_membership(article.id)
            story[name], lang[name] = membership["story_id"], article.lang
    predicted = {}
    for a, b in itertools.combinations(sorted(story), 2):
        if story[a] == story[b]:
            predicted[frozenset((a, b))] = "copy" if lang[a] == lang[b] else "translation"
    print(f"veille story benchmark, {date.today()}: {len(story)} documents imported in {seconds:.0f} s, "
          f"{len(labelled)} labelled pairs ({dict(Counter(p['relation'] for p in labelled))})\n")
    print("| relation | labelled | found | precision | recall |")
    print("|---|---:|---:|---:|---:|")
    failures = []
    for kind in ("copy", "translation"):
        gold = {p for p, k in truth.items() if k == kind}
        made = {p for p, k in predicted.items() if k == kind}
        true_positive = len(gold & made)
        precision = true_positive / len(made) if made else 1.0
        recall = true_positive / len(gold) if gold else 1.0
        print(f"| {kind} | {len(gold)} | {len(made)} | {precision:.3f} | {recall:.3f} |")
        failures += [(kind, "missed", sorted(p)) for p in sorted(gold - made, key=sorted)]
        failures += [(kind, f"false merge (labelled {truth.get(p, 'unlisted')})", sorted(p))
                     for p in sorted(made - gold, key=sorted)]
    different = {p for p, k in truth.items() if k == "different"}
    merged = different & set(predicted)
    print(f"\nHard negatives (labelled different) kept apart: {len(different) - len(merged)} / {len(different)}")
    shown = Counter()
    if failures:
        print("\nFailure cases:")
    for kind, what, (a, b) in failures:
        if shown[(kind, what)] < args.show:
            print(f"- {kind}, {what}: {a} ~ {b} ({lang.get(a)}/{lang.get(b)})")
        shown[(kind, what)] += 1
    for (kind, what), n in shown.items():
        if n > args.show:
            print(f"- … and {n - args.show} more {kind} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
