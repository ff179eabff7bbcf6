"""Choose the story thresholds on a dev set: every combination of a grid, articles arriving one by one.

    .venv/bin/python bench/tune_stories.py --pairs bench/eval/translations/dev --pairs bench/eval/pairs \\
        --grid translation_score=0.40,0.45 --grid length_ratio=1.4,1.6 [--units]

Each combination imports each set into a fresh archive with `veille import`'s own code
(import_paths, the settings given as feeds.yaml's `dedupe:` would give them), so what is scored is
what an archive fed one document at a time would hold. Entity tagging is the slow part and does
not depend on the thresholds: its results are kept in bench/cache/story-tags.pickle (by text and
language) and reused. Prints one line per combination and set: precision and recall over the
same-story pairs, the hard negatives joined, and with --units the labelled units whose versions
fell into more than one story. Tune on dev splits only; report held-out with bench_stories.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import pickle
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from veille.pipeline import Taggers, import_paths
from veille.stages.dedupe import Settings
from veille.storage.sqlite.store import Archive

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "cache" / "story-tags.pickle"


class CachedTaggers(Taggers):
    """Taggers whose results are kept by (text, language): thresholds change, entities do not."""

    def __init__(self, cache: Path = CACHE) -> None:
        self._real: Taggers | None = None
        self.cache_path = cache
        self.cache = pickle.loads(cache.read_bytes()) if cache.exists() else {}
        self.batch_size = 64
        self.dirty = False

    def _key(self, article) -> str:
        return hashlib.sha1(f"{article.lang}\0{article.text}".encode()).hexdigest()

    def tag(self, articles) -> None:
        missing = [a for a in articles if self._key(a) not in self.cache]
        if missing:
            if self._real is None:
                self._real = Taggers()
            self._real.tag(missing)
            for a in missing:
                self.cache[self._key(a)] = (a.entities, a.tags, a.tagger, a.note)
            self.dirty = True
        for a in articles:
            a.entities, a.tags, a.tagger, a.note = self.cache[self._key(a)]

    def report_problems(self, report) -> None:
        if self._real is not None:
            self._real.report_problems(report)

    def save(self) -> None:
        if self.dirty:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            self.cache_path.write_bytes(pickle.dumps(self.cache))
            self.dirty = False


def place(folder: Path, settings: Settings, taggers: Taggers) -> tuple[dict, dict]:
    """Import `folder`/docs; (document -> story id, document -> detected language)."""
    story, lang = {}, {}
    with tempfile.TemporaryDirectory() as tmp, Archive(Path(tmp)) as archive:
        import_paths([folder / "docs"], archive, taggers=taggers, stories=settings)
        for article in archive.list_articles(limit=None):
            name = "docs/" + article.url.rsplit("/", 1)[1]
            membership = archive.story_membership(article.id)
            story[name] = membership["story_id"] if membership else f"unplaced:{name}"
            lang[name] = article.lang
    return story, lang


def evaluate(folder: Path, story: dict) -> dict:
    labelled = [json.loads(line) for line in (folder / "pairs.jsonl").read_text(encoding="utf-8").splitlines() if line]
    truth = {frozenset((p["a"], p["b"])): p["relation"] for p in labelled}
    gold = {p for p, k in truth.items() if k != "different"}
    made = {frozenset(pair) for pair in itertools.combinations(sorted(story), 2) if story[pair[0]] == story[pair[1]]}
    hits = len(gold & made)
    different = {p for p, k in truth.items() if k == "different"}
    # units: connected groups of related documents, and how many stories each fell into
    groups: dict[str, set[str]] = defaultdict(set)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for pair in gold:
        a, b = sorted(pair)
        parent[find(a)] = find(b)
    for doc in story:
        groups[find(doc)].add(doc)
    split = {min(docs): Counter(story[d] for d in docs) for docs in groups.values()
             if len(docs) > 1 and len({story[d] for d in docs}) > 1}
    return {"precision": hits / len(made) if made else 1.0, "recall": hits / len(gold) if gold else 1.0,
            "joined": len(made), "gold": len(gold), "false": sorted(sorted(p) for p in made - gold),
            "negatives": len(different & made), "split": split, "unplaced": sum(s.startswith("unplaced") for s in story.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, action="append", required=True)
    parser.add_argument("--grid", action="append", default=[], help="name=v1,v2,... (a DedupeSettings field)")
    parser.add_argument("--units", action="store_true", help="list the units split over several stories")
    parser.add_argument("--false", action="store_true", help="list the false joins")
    args = parser.parse_args()
    fields = {f.name: f.type for f in dataclasses.fields(Settings)}
    axes = []
    for item in args.grid:
        name, _, values = item.partition("=")
        if name not in fields:
            raise SystemExit(f"unknown setting {name}; one of {', '.join(fields)}")
        kind = int if fields[name] in (int, "int") else float
        axes.append([(name, kind(v)) for v in values.split(",")])
    taggers = CachedTaggers()
    for combo in itertools.product(*axes) if axes else [()]:
        settings = dataclasses.replace(Settings(), **dict(combo))
        label = " ".join(f"{k}={v}" for k, v in combo) or "defaults"
        for folder in args.pairs:
            story, _ = place(folder, settings, taggers)
            taggers.save()
            r = evaluate(folder, story)
            print(f"{label} | {folder.name}: precision {r['precision']:.3f} recall {r['recall']:.3f} "
                  f"({r['joined']} joined, {len(r['false'])} false, {r['negatives']} hard negatives joined, "
                  f"{len(r['split'])} units split, {r['unplaced']} unplaced)", flush=True)
            if args.units:
                for first, counts in sorted(r["split"].items()):
                    print(f"    split: {first}: {sorted(counts.values(), reverse=True)}")
            if args.false:  # by the two units joined: "man-chown.1 ~ man-chgrp.1: 40 pairs"
                units = Counter(tuple(sorted(name.rsplit("-", 1)[0].removeprefix("docs/") for name in pair))
                                for pair in r["false"])
                for (a, b), n in units.most_common():
                    print(f"    false: {a} ~ {b}: {n} pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
