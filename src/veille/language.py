"""Which language an article is written in, and how sure we are.

langdetect does the work, seeded so that the same text always gets the same
answer. Hints weigh in but never overrule clear evidence: the page's
`<html lang>` and the source's configured language settle a close call
between candidates, and stand alone only when the text says nothing
(and then the result says so in its reason). Too little text gives `und`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import threading

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

# langdetect samples n-grams at random; a fixed seed makes it deterministic.
DetectorFactory.seed = 0

# Our own factory, loaded once under a lock: langdetect's module-level one is
# published before its profiles are loaded, so a second thread can see it
# empty and fail ("no language features") while the first is still loading.
_factory: DetectorFactory | None = None
_factory_lock = threading.Lock()


def _detector_factory() -> DetectorFactory:
    global _factory
    with _factory_lock:
        if _factory is None:
            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            _factory = factory
    return _factory


def _candidates(text: str) -> list:
    detector = _detector_factory().create()
    detector.append(text)
    return detector.get_probabilities()

UNDETERMINED = "und"
MIN_LETTERS = 40  # below this, langdetect's answers are noise
CONFIDENT = 0.90  # a top candidate at or above this needs no hint
CLOSE_CALL = 0.20  # a hinted candidate within this of the top wins
UNSURE = 0.50  # a top candidate below this, with no hint to back it, is no answer
MAX_CHARS = 5_000  # plenty for a decision; langdetect time grows with length

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_URL_OR_HANDLE = re.compile(r"(https?://\S+|www\.\S+|[@#]\w+)")


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 where one exists (langdetect's "zh-cn" style kept), or "und"
    confidence: float  # 0..1, as reported by the detector (after hints)
    reason: str  # a short sentence a person can read
    # Each language's fraction of the text's letters, judged paragraph by paragraph, largest
    # first: (("es", 0.52), ("en", 0.48)) is a Spanish page left half in English. One entry
    # for a text in one language; empty when the code is "und".
    shares: tuple[tuple[str, float], ...] = ()


def normalise_hint(hint: str | None) -> str | None:
    """'fr-FR', 'en_US', 'FR' -> 'fr'; '', 'x-default', None -> None."""
    if not hint:
        return None
    code = re.split(r"[-_]", hint.strip().lower())[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def detect(text: str, *, html_lang: str | None = None, source_lang: str | None = None) -> Language:
    """Detect the language of `text`, letting hints settle close calls."""
    sample = _URL_OR_HANDLE.sub(" ", _spread_sample(text))
    letters = len(_LETTER.findall(sample))
    hints = [h for h in (normalise_hint(html_lang), normalise_hint(source_lang)) if h]
    if letters < MIN_LETTERS:
        hinted = f"; hint was {hints[0]}" if hints else ""
        return Language(UNDETERMINED, 0.0, f"too little text to tell ({letters} letters){hinted}")
    try:
        candidates = _candidates(sample)
    except LangDetectException as exc:
        return Language(UNDETERMINED, 0.0, f"no language features found ({exc})")
    top = candidates[0]
    top_code = _short_code(top.lang)
    if top.prob >= CONFIDENT:
        agree = " (agrees with hint)" if top_code in hints else ""
        return Language(top_code, round(top.prob, 3), f"detected from {letters} letters{agree}", ((top_code, 1.0),))
    for hint in hints:
        for candidate in candidates:
            if _short_code(candidate.lang) == hint and top.prob - candidate.prob <= CLOSE_CALL:
                confidence = round(min(1.0, candidate.prob + (1 - top.prob) / 2), 3)
                return Language(hint, confidence, f"close call settled by hint {hint} ({_describe(candidates)})",
                                ((hint, 1.0),))
    if top.prob < UNSURE:
        return Language(UNDETERMINED, round(top.prob, 3), f"no clear language ({_describe(candidates)})")
    return Language(top_code, round(top.prob, 3), f"best guess from {letters} letters ({_describe(candidates)})",
                    ((top_code, 1.0),))


def _spread_sample(text: str, pieces: int = 5) -> str:
    """Up to MAX_CHARS taken from across the text, not just its start: a page whose
    first sections were left untranslated is still judged by all of it."""
    if len(text) <= MAX_CHARS:
        return text
    size = MAX_CHARS // pieces
    step = (len(text) - size) // (pieces - 1)
    return "\n".join(text[i * step:i * step + size] for i in range(pieces))


def _short_code(code: str) -> str:
    return code if code.startswith("zh") else code.split("-")[0]


def _describe(candidates: list) -> str:
    return ", ".join(f"{c.lang} {c.prob:.2f}" for c in candidates[:3])
