"""Who and what an article names: `EntityTagger.tag(items) -> list[list[Entity]]`.

A spaCy pipeline per language (from the config: `nlp.models`), loaded once,
lazily, with every component but NER left out, run with `nlp.pipe` in
batches. A domain gazetteer (`data/gazetteer.yaml`) is matched in every
language on the same tokens, so that the names this field talks about are
found where a small model misses them, and it wins where the two disagree.
Languages with no model get a blank pipeline (spaCy's tokenizer for that
language when it has one, the multilingual one otherwise) and the gazetteer
plus the names the archive has already seen: nothing is invented.

Each model's labels are mapped onto one set, so English GPE and French LOC
compare: PERSON, ORG, LOC, MISC. Dates, numbers and money are not entities
here. Offsets are exact character offsets into the text given.
"""

from __future__ import annotations

import hashlib
import re
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import spacy
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.util import get_lang_class

from veille.text.keys import DATA, KEYS_VERSION, Aliases, load_aliases, load_gazetteer
from veille.models import Entity
from veille.text.scripts import CJK, has_cjk
from veille.text.spacymodels import BATCH_SIZE, DEFAULT_MODELS

logger = logging.getLogger(__name__)

# Model label -> our label; labels not listed (DATE, MONEY, CARDINAL, ...) are dropped.
LABEL_MAP = {
    "PERSON": "PERSON", "PER": "PERSON",
    "ORG": "ORG", "NORP": "MISC",
    "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
    "MISC": "MISC", "EVENT": "MISC", "PRODUCT": "MISC", "LAW": "MISC", "WORK_OF_ART": "MISC",
    "LANGUAGE": "MISC",
}
# A pipeline to use when the one named is not installed, before falling back to the gazetteer alone:
# the medium French model tags better (F1 0.60 -> 0.70 on the gold set), the small one still works.
SMALLER_MODEL = {"fr_core_news_lg": "fr_core_news_md", "fr_core_news_md": "fr_core_news_sm"}
CHUNK = 100_000  # characters: longer texts go through the model in pieces
# The model reads at most this much of one article: a 5 MB text took minutes and 2.7 GB (59,157
# entities); the rest of a text that long is rarely an article's own prose. Said on the article.
NER_MAX = 200_000


@dataclass(frozen=True)
class KnownName:
    """A name the archive has already seen, for languages with no model."""

    text: str
    label: str
    key: str


def data_fingerprint(*paths: Path, salt: str = "") -> str:
    digest = hashlib.sha256(salt.encode("utf-8"))
    for path in paths:
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


class EntityTagger:
    """Loads each language's pipeline on first use; safe to share between threads."""

    def __init__(
        self,
        models: dict[str, str] | None = None,
        *,
        gazetteer: list[dict] | None = None,
        aliases: Aliases | None = None,
        known_names: Iterable[KnownName] = (),
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.models = dict(DEFAULT_MODELS if models is None else models)
        self.gazetteer = load_gazetteer() if gazetteer is None else gazetteer
        self.aliases = aliases or load_aliases(self.gazetteer)
        self.known_names = list(known_names)
        self.batch_size = batch_size
        # The key rules count as data: when they change, `veille retag` redoes every article's keys.
        self.fingerprint = data_fingerprint(DATA / "gazetteer.yaml", DATA / "aliases.yaml",
                                            salt=f"keys {KEYS_VERSION}")
        self._pipelines: dict[str, tuple[spacy.Language, str]] = {}
        self._fallbacks: set[int] = set()  # ids of the blank pipelines, which also match archive names
        self._matchers: dict[int, tuple[PhraseMatcher, PhraseMatcher, dict[str, tuple[str, str, str]]]] = {}
        self._problems: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- what runs for a language ------------------------------------------
    def pipeline_for(self, lang: str) -> tuple[spacy.Language, str]:
        """(nlp, description): the full model for `lang`, or the fallback."""
        with self._lock:
            if lang not in self._pipelines:
                self._pipelines[lang] = self._load(lang)
            return self._pipelines[lang]

    def describe(self, lang: str) -> str:
        """What tagged an article in `lang`, for provenance and `retag`."""
        return f"{self.pipeline_for(lang)[1]}; gazetteer {self.fingerprint}"

    @property
    def problems(self) -> dict[str, str]:
        """Languages whose configured model could not be loaded, and why."""
        return dict(self._problems)

    def _load(self, lang: str) -> tuple[spacy.Language, str]:
        name = self.models.get(lang)
        candidate, failure = name, None
        while candidate:
            try:
                nlp = _load_model(candidate)
            except (OSError, ImportError, ValueError) as exc:
                failure = failure or type(exc).__name__
                candidate = SMALLER_MODEL.get(candidate)
                continue
            if failure:
                self._missing(lang, name, failure, f"using {candidate} instead")
            return nlp, f"model {candidate} {nlp.meta.get('version', '?')}"
        if name:
            self._missing(lang, name, failure, "using the gazetteer fallback")
        try:
            # Chinese: spaCy's "zh" cuts Latin names into letters too; the wrapper below cuts only Han.
            nlp = spacy.blank(lang if _has_language(lang) and lang != "zh" else "xx")
        except Exception:  # spaCy may know a code but miss its optional dependencies (ja, ko, th...)
            nlp = spacy.blank("xx")
        nlp.tokenizer = CJKTokenizer(nlp.tokenizer, nlp.vocab)
        missing = f", {name} is not installed" if name else ""
        self._fallbacks.add(id(nlp))
        return nlp, f"fallback {nlp.lang} (gazetteer only{missing})"

    def _missing(self, lang: str, name: str, failure: str | None, instead: str) -> None:
        self._problems[lang] = (f"spaCy pipeline {name} for {lang} is not installed ({failure}); "
                                f"`pip install` it or remove it from nlp.models; {instead}")
        logger.warning("model missing", extra={"lang": lang, "model": name})

    # -- tagging -------------------------------------------------------------
    def tag(self, items: list[tuple[str, str]]) -> list[list[Entity]]:
        """Entities of each (text, lang), in order; one nlp.pipe batch per language."""
        results: list[list[Entity]] = [[] for _ in items]
        by_lang: dict[str, list[int]] = {}
        for index, (_, lang) in enumerate(items):
            by_lang.setdefault(lang or "und", []).append(index)
        for lang, indexes in by_lang.items():
            nlp, _ = self.pipeline_for(lang)
            pieces = [(i, offset, chunk) for i in indexes for offset, chunk in _chunks(_capped(items[i][0]))]
            docs = nlp.pipe((chunk for _, _, chunk in pieces), batch_size=self.batch_size)
            for (index, offset, _), doc in zip(pieces, docs):
                results[index].extend(self._entities(doc, nlp, offset))
        return results

    def _entities(self, doc, nlp: spacy.Language, offset: int) -> list[Entity]:
        found = self._gazetteer_entities(doc, nlp, offset)
        doc_text = doc.text  # a property that rebuilds the string each time: read it once
        stop_words = nlp.Defaults.stop_words
        for ent in doc.ents:
            label = LABEL_MAP.get(ent.label_)
            text = ent.text
            if label is None or not _looks_like_a_name(text):
                continue
            if len(ent) == 1 and text.lower() != text and _appears_in_lower_case(text, doc_text):
                # "Rejoignez" at the start of a sentence: a word that also appears in
                # lower case in the same text is a common word, not a name.
                continue
            if len(ent) > 1 and _leading_article(ent):  # "the University of Cambridge": the name starts after
                ent = ent[1:]
            ent = _without_dangling_words(ent, stop_words)  # "Université d’Été des", "Azur Vision Systèmes n’"
            if ent is None or not _looks_like_a_name(ent.text):
                continue
            text, start, end = ent.text, ent.start_char + offset, ent.end_char + offset
            clashes = [e for e in found if e.start < end and start < e.end]
            if clashes:
                # The gazetteer's reading of these characters wins, unless the model read a
                # longer name around it: "Université de Paris", "France Stratégie", "US News".
                inside = all(start <= e.start and e.end <= end and (e.start, e.end) != (start, end) for e in clashes)
                if not (inside and _reads_as_one_name(ent, stop_words)):
                    continue
                found = [e for e in found if e not in clashes]
            found.append(Entity(text, label, start, end, self.aliases.key(text), "model"))
        return sorted(found, key=lambda e: (e.start, e.end))

    def _gazetteer_entities(self, doc, nlp: spacy.Language, offset: int) -> list[Entity]:
        exact, folded, meta = self._matchers_for(nlp)
        spans = [doc[s:e] for _, s, e in exact(doc)] + [doc[s:e] for _, s, e in folded(doc)]
        spans = spacy.util.filter_spans(spans)  # longest first, no overlaps
        entities = []
        for span in spans:
            label, key, origin = meta.get(span.text) or meta.get(span.text.lower()) or (None, None, None)
            if label is None:
                continue
            entities.append(Entity(span.text, label, span.start_char + offset, span.end_char + offset, key, origin))
        return entities

    def _matchers_for(self, nlp: spacy.Language):
        with self._lock:
            cached = self._matchers.get(id(nlp))
            if cached is not None:
                return cached
            exact = PhraseMatcher(nlp.vocab, attr="ORTH")
            folded = PhraseMatcher(nlp.vocab, attr="LOWER")
            meta: dict[str, tuple[str, str, str]] = {}
            names = [(n, e["label"], e["key"], "gazetteer") for e in self.gazetteer for n in e["names"]]
            if id(nlp) in self._fallbacks:
                names += [(k.text, k.label, k.key, "archive") for k in self.known_names]
            exact_names, folded_names = [], []
            for name, label, key, origin in names:
                # Acronyms and short names only as written: "ICE" is not "ice".
                if _case_sensitive(name):
                    meta.setdefault(name, (label, key, origin))
                    exact_names.append(name)
                else:
                    meta.setdefault(name.lower(), (label, key, origin))
                    folded_names.append(name)
            exact.add("NAME", list(nlp.tokenizer.pipe(exact_names)))
            folded.add("NAME", list(nlp.tokenizer.pipe(folded_names)))
            self._matchers[id(nlp)] = (exact, folded, meta)
            return self._matchers[id(nlp)]


class CJKTokenizer:
    """A fallback pipeline's tokenizer, with every Chinese, Japanese or Korean character a token.

    Text without spaces between words comes out of spaCy's multilingual tokenizer as one token
    per sentence, in which no gazetteer name can be found; cut into characters (and the names
    too, by the same tokenizer), "ファーウェイ" is found inside "ファーウェイとPalantirの製品".
    Text without those characters is tokenized as before.
    """

    def __init__(self, inner, vocab) -> None:
        self.inner, self.vocab = inner, vocab

    def __call__(self, text: str) -> Doc:
        doc = self.inner(text)
        if not has_cjk(text):
            return doc
        words, spaces = [], []
        for token in doc:
            pieces = _CJK_PIECES.findall(token.text) if has_cjk(token.text) else [token.text]
            words += pieces
            spaces += [False] * (len(pieces) - 1) + [bool(token.whitespace_)]
        return Doc(self.vocab, words=words, spaces=spaces)

    def pipe(self, texts: Iterable[str], batch_size: int = 1000):
        for text in texts:
            yield self(text)


_CJK_PIECES = re.compile(f"[{CJK}]|[^{CJK}]+")
_MODEL_CACHE: dict[str, spacy.Language] = {}
_MODEL_LOCK = threading.Lock()


def _load_model(name: str) -> spacy.Language:
    """Each installed pipeline is loaded once per process, NER only, on first use."""
    with _MODEL_LOCK:
        if name not in _MODEL_CACHE:
            _MODEL_CACHE[name] = spacy.load(name, exclude=_not_ner(name))
        return _MODEL_CACHE[name]


def _appears_in_lower_case(word: str, text: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(word.lower()) + r"(?!\w)", text) is not None


def _leading_article(ent) -> bool:
    """"the" before a name, or "The" opening a sentence; "The Hague" and “The Irishman” keep theirs."""
    first = ent[0]
    if first.text == "the":
        return True
    if first.text != "The":
        return False
    before = ent.doc[ent.start - 1] if ent.start > 0 else None
    return before is None or before.is_space or before.text in {".", "!", "?", "…", ":", "—"}


_ELISION = re.compile(r"^(?:[cdjlmnst]|qu)[’']$")


def _connector(token, stop_words) -> bool:
    """A function word or an elided article ("des", "of", "n’", "l’"), as written in lower case."""
    return token.text.islower() and (token.lower_ in stop_words or _ELISION.match(token.lower_) is not None)


def _without_dangling_words(span, stop_words):
    """The span without the function words, elisions and punctuation a model leaves at its ends:
    "Université d’Été des" -> "Université d’Été", "Azur Vision Systèmes n’" -> "Azur Vision Systèmes".
    None when nothing is left. The stop words are those of the article's language in spaCy."""
    start, end = span.start, span.end
    doc = span.doc
    while start < end and (_connector(doc[start], stop_words) or doc[start].is_punct):
        start += 1
    while end > start and (_connector(doc[end - 1], stop_words) or doc[end - 1].is_punct and doc[end - 1].text != "."):
        end -= 1
    return doc[start:end] if end > start else None


def _reads_as_one_name(span, stop_words) -> bool:
    """A model span that may replace the gazetteer names inside it: 2 to 6 words, each capitalised or a
    connector ("de", "of", "l’"), neither end a connector, no comma. "la France", "procureur de Toulouse",
    "Paris 10ème", "Ligue des Droits de l’Homme, la FCPE" and "Selon Amnesty International" do not."""
    words = [t for t in span if not (t.is_punct and t.text in "-.’'")]
    if not 2 <= len(words) <= 6:
        return False
    connector = [t.lower_ in stop_words or _ELISION.match(t.lower_) is not None for t in words]
    if connector[0] or connector[-1]:
        return False
    return all(c or (t.text[:1].isupper() and not t.is_punct) for t, c in zip(words, connector))


def _looks_like_a_name(text: str) -> bool:
    """Models also mark fragments ("C'", "qu'") and lower-case words; names have a capital or a digit."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 2:
        return False
    return any(c.isupper() for c in letters) or not any(c.islower() for c in letters) or text.startswith("#")


def _case_sensitive(name: str) -> bool:
    letters = [c for c in name if c.isalpha()]
    return len(letters) <= 4 or not any(c.islower() for c in letters) or name.startswith("#")


def _has_language(lang: str) -> bool:
    try:
        get_lang_class(lang)
        return True
    except Exception:
        return False


def _not_ner(name: str) -> list[str]:
    """Every component of the installed pipeline except NER (its tok2vec is inside it)."""
    try:
        meta = spacy.util.get_package_path(name) / "meta.json"
        components = __import__("json").loads(meta.read_text(encoding="utf-8")).get("components", [])
    except Exception:
        return []
    return [c for c in components if c != "ner"]


def _capped(text: str) -> str:
    """The part of a text the model reads: NER_MAX characters at most, cut at a space."""
    if len(text) <= NER_MAX:
        return text
    cut = text.rfind(" ", NER_MAX - 1000, NER_MAX)
    return text[:cut if cut > 0 else NER_MAX]


def capped_note(text: str) -> str | None:
    """What an article says when its text is longer than the model reads."""
    if len(text) <= NER_MAX:
        return None
    return f"entities found in the first {NER_MAX:,} of {len(text):,} characters"


def _chunks(text: str) -> list[tuple[int, str]]:
    """(offset, piece) pieces of at most CHUNK characters, cut at paragraph ends."""
    if len(text) <= CHUNK:
        return [(0, text)]
    pieces, start = [], 0
    while start < len(text):
        end = min(len(text), start + CHUNK)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            end = cut + 1 if cut > start else end
        pieces.append((start, text[start:end]))
        start = end
    return pieces
