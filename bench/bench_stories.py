"""Story quality: precision and recall of copies and translations on labelled pairs.

    .venv/bin/python bench/bench_stories.py [--pairs DIR ...] [--show 10]

Scores each pairs set on its own (default: bench/eval/pairs, then the dev and
held-out splits of bench/eval/translations; see their READMEs). For each set,
imports every document (DIR/docs) into a fresh archive with `veille import`,
then reads the stories it formed. A pair counts as found when both documents
are in one story; a same-story pair is a predicted translation when the two
are in different languages (detected, or a substantial share of one text in a
language the other hardly has: veille's own rule, dedupe.differ) and a
predicted copy when not.
Precision is over every same-story pair the archive made among the set's
documents (a pair it joined that the labels call different, or do not list,
is a false merge); recall is over the labelled pairs. "same story" scores the
joins whatever the relation. Language accuracy compares the detected language
with the one each document claims (docs.json; zh-cn and zh-tw count as zh, and
pt-br as pt), by script. Prints Markdown tables and the failure cases.
A measurement, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from datetime import date
from pathlib import Path

from veille.stages.dedupe import Settings, differ
from veille.pipeline import Taggers, import_paths
from veille.storage.sqlite.store import Archive

ROOT = Path(__file__).resolve().parent.parent
SETS = [ROOT / "bench/eval/pairs", ROOT / "bench/eval/translations/dev", ROOT / "bench/eval/translations/heldout"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, action="append", help="a pairs folder (repeatable); default: all three")
    parser.add_argument("--show", type=int, default=10, help="failure cases to list per kind")
    args = parser.parse_args()
    print(f"veille story benchmark, {date.today()}\n")
    for folder in args.pairs or SETS:
        score(folder, args.show)
    return 0


def score(folder: Path, show: int) -> None:
    labelled = [json.loads(line) for line in (folder / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
                if line.strip()]
    claimed = {k: v["lang"] for k, v in json.loads((folder / "docs.json").read_text(encoding="utf-8")).items()}
    truth = {}
    for pair in labelled:
        kind = {"duplicate": "copy"}.get(pair["relation"], pair["relation"])
        truth[frozenset((pair["a"], pair["b"]))] = kind
    with tempfile.TemporaryDirectory() as tmp, Archive(Path(tmp)) as archive:
        started = time.perf_counter()
        import_paths([folder / "docs"], archive, taggers=Taggers())
        seconds = time.perf_counter() - started
        story, lang, shares = {}, {}, {}
        for article in archive.list_articles(limit=None):
            name = "docs/" + article.url.rsplit("/", 1)[1]
            membership = archive.story_membership(article.id)
            story[name], lang[name], shares[name] = membership["story_id"], article.lang, article.lang_shares
    predicted = {}
    for a, b in itertools.combinations(sorted(story), 2):
        if story[a] == story[b]:
            translated = differ(lang[a], shares[a], lang[b], shares[b], Settings().second_language)
            predicted[frozenset((a, b))] = "translation" if translated else "copy"
    name = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    print(f"## {name}: {len(story)} documents imported in {seconds:.0f} s, {len(labelled)} labelled pairs "
          f"({dict(Counter(p['relation'] for p in labelled))})\n")
    print("| relation | labelled pairs | pairs joined | precision | recall |")
    print("|---|---:|---:|---:|---:|")
    failures = []
    related = {p for p, k in truth.items() if k != "different"}
    rows = [(kind, {p for p, k in truth.items() if k == kind}, {p for p, k in predicted.items() if k == kind})
            for kind in ("copy", "translation") if any(k == kind for k in truth.values())]
    rows.append(("same story (any relation)", related, set(predicted)))
    for kind, gold, made in rows:
        true_positive = len(gold & made)
        precision = true_positive / len(made) if made else 1.0
        recall = true_positive / len(gold) if gold else 1.0
        print(f"| {kind} | {len(gold)} | {len(made)} | {precision:.3f} | {recall:.3f} |")
        if kind.startswith("same story"):
            continue
        failures += [(kind, "missed", sorted(p)) for p in sorted(gold - made, key=sorted)]
        failures += [(kind, f"false merge (labelled {truth.get(p, 'unlisted')})", sorted(p))
                     for p in sorted(made - gold, key=sorted)]
    different = {p for p, k in truth.items() if k == "different"}
    merged = different & set(predicted)
    print(f"\nHard negatives (labelled different) kept apart: {len(different) - len(merged)} / {len(different)}")
    scripts = {"docs/" + p.name: script_of(p) for p in (folder / "docs").glob("*.txt")}
    language_accuracy(claimed, lang, scripts)
    shown = Counter()
    if failures:
        print("\nFailure cases:")
    for kind, what, (a, b) in failures:
        if shown[(kind, what)] < show:
            print(f"- {kind}, {what}: {a} ~ {b} ({lang.get(a)}/{lang.get(b)})")
        shown[(kind, what)] += 1
    for (kind, what), n in shown.items():
        if n > show:
            print(f"- … and {n - show} more {kind} {what}")
    print()


def _primary(code: str) -> str:
    return code.split("-")[0].split("_")[0].lower()


def script_of(path: Path) -> str:
    """The script most letters of a document are in: Latin, Cyrillic, Han, Kana, Hangul, ..."""
    counts: Counter = Counter()
    for char in path.read_text(encoding="utf-8"):
        if char.isalpha():
            name = unicodedata.name(char, "")
            word = name.split()[0] if name else "?"
            counts["Han" if word == "CJK" else "Kana" if word in ("HIRAGANA", "KATAKANA") else
                   word.title()] += 1
    letters = sum(counts.values())
    if counts["Kana"] >= 0.05 * letters:  # Japanese pages carry many Latin command names: by Kana
        return "Japanese (Kana+Han)"
    other = [(n, script) for script, n in counts.items() if script != "Latin" and n >= 0.2 * letters]
    return max(other)[1] if other else "Latin" if counts else "?"


def language_accuracy(claimed: dict[str, str], detected: dict[str, str], scripts: dict[str, str]) -> None:
    by_script: dict[str, list[int]] = {}
    wrong = Counter()
    for doc, lang in claimed.items():
        if doc not in detected:
            continue
        right = _primary(detected[doc]) == _primary(lang)
        script = scripts.get(doc, "?")
        by_script.setdefault(script, [0, 0])
        by_script[script][0] += right
        by_script[script][1] += 1
        if not right:
            wrong[(lang, detected[doc])] += 1
    total = sum(n for _, n in by_script.values())
    correct = sum(r for r, _ in by_script.values())
    detail = ", ".join(f"{s} {r}/{n} ({r / n:.2f})" for s, (r, n) in sorted(by_script.items()))
    print(f"Language detected as claimed: {correct}/{total} ({correct / max(1, total):.3f}); by script: {detail}")
    if wrong:
        print("Misdetected (claimed → detected): " + ", ".join(f"{a}→{b} {n}" for (a, b), n in wrong.most_common(12)))


if __name__ == "__main__":
    sys.exit(main())
