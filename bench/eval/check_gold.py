"""Check bench/eval/ner_gold.jsonl and print its counts.

    .venv/bin/python bench/eval/check_gold.py [path]

Fails (exit 1) when a line is not a JSON object with the expected keys, an id
repeats, a language or label is unknown, a span is out of range, empty, has
surrounding whitespace or punctuation, spans overlap, or (when the span text is
given as a fourth element) text[start:end] differs from it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

GOLD = Path(__file__).resolve().parent / "ner_gold.jsonl"
LABELS = ("PERSON", "ORG", "LOC", "MISC")
KEYS = {"id", "lang", "source", "text", "entities", "split"}


def check(path: Path) -> int:
    errors: list[str] = []
    ids: set[str] = set()
    paragraphs: Counter = Counter()
    with_entities: Counter = Counter()
    labels: Counter = Counter()
    by_split: Counter = Counter()
    sources: dict[str, set[str]] = {"en": set(), "fr": set()}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        where = f"line {number} ({item.get('id')})"
        if not isinstance(item, dict) or not KEYS <= set(item):
            errors.append(f"{where}: keys {sorted(item)}")
            continue
        if item["id"] in ids:
            errors.append(f"{where}: duplicate id")
        ids.add(item["id"])
        if item["lang"] not in ("en", "fr"):
            errors.append(f"{where}: lang {item['lang']!r}")
        if item["split"] not in ("dev", "heldout"):
            errors.append(f"{where}: split {item['split']!r}")
        text = item["text"]
        if not text.strip():
            errors.append(f"{where}: empty text")
        spans = sorted(item["entities"])
        for span in spans:
            start, end, label = span[:3]
            surface = text[start:end]
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
                errors.append(f"{where}: bad offsets {span}")
            elif label not in LABELS:
                errors.append(f"{where}: label {label!r}")
            elif surface != surface.strip() or surface[0] in ",.;:!?«»“”\"'’(" or surface[-1] in ",;:!?«»“”\"'’)":
                errors.append(f"{where}: untrimmed span {surface!r}")
            elif len(span) > 3 and span[3] != surface:
                errors.append(f"{where}: {span} but text has {surface!r}")
            labels[(item["lang"], label)] += 1
            by_split[(item["lang"], item["split"], label)] += 1
        for (s1, e1, *_), (s2, e2, *_) in zip(spans, spans[1:]):
            if s2 < e1:
                errors.append(f"{where}: overlapping spans {text[s1:e1]!r} / {text[s2:e2]!r}")
        key = (item["lang"], "seed" if item["id"].startswith("seed-") else "page", item["split"])
        paragraphs[key] += 1
        with_entities[key] += bool(spans)
        if not item["id"].startswith("seed-"):
            sources[item["lang"]].add(item["source"])
    for error in errors:
        print("ERROR", error)
    print("| lang | origin | split | paragraphs | with entities |")
    print("|---|---|---|---:|---:|")
    for key in sorted(paragraphs):
        print(f"| {' | '.join(key)} | {paragraphs[key]} | {with_entities[key]} |")
    print("\n| lang | " + " | ".join(LABELS) + " | all |")
    print("|---|" + "---:|" * (len(LABELS) + 1))
    for lang in ("en", "fr"):
        row = [labels[(lang, label)] for label in LABELS]
        print(f"| {lang} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    row = [labels[("en", label)] + labels[("fr", label)] for label in LABELS]
    print("| all | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    print("\n| lang | split | " + " | ".join(LABELS) + " | all |")
    print("|---|---|" + "---:|" * (len(LABELS) + 1))
    for lang, split in sorted({(lang, split) for lang, split, _ in by_split}):
        row = [by_split[(lang, split, label)] for label in LABELS]
        print(f"| {lang} | {split} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    print(f"\n{len(ids)} paragraphs; non-seed pages: en {len(sources['en'])}, fr {len(sources['fr'])}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(check(Path(sys.argv[1]) if len(sys.argv) > 1 else GOLD))
