"""The article inside a plain-text file: `clean(text) -> Extracted`.

Plain-text copies of web pages (saved with "select all, copy", or by a
scraper that kept everything) carry the page's furniture as lines of text.
This cleaner removes it by the shapes such lines have on real sites, not by
a list of sites:

- doubled names of a menu or logo ("Menu Menu", "Les Crises Les Crises");
- short navigation and widget lines (menu, accessibility, share counters,
  reading time, category trails, plugin debris like "image_pdfimage_print");
- datelines made of dates and a site name;
- cookie, newsletter and follow prompts;
- everything from the start of the reader comments ("23 réactions et
  commentaires", "4 Responses", "Leave a reply") or of the end matter
  (author blurbs, related articles) to the end of the file, then any short
  prompt lines left dangling at the end. A publisher's own box ("Suivre
  Framasoft: Réseau d'éducation populaire…") is kept: it is often the only
  place the text names who published it;
- ellipsis-cut teasers of other articles.

The title is the first real line when it reads like a heading; otherwise the
first sentence stands in for it. Markdown headings, emphasis and links are
reduced to their text.
"""

from __future__ import annotations

import re
from datetime import date

from veille.text.encoding import looks_binary, repair
from veille.errors import ExtractError
from veille.models import Extracted

EXTRACTOR = "veille plaintext cleaner"

_I = re.IGNORECASE

# Lines that are navigation or widget debris wherever they appear.
_NAV_LINE = re.compile(
    r"^(menu|main menu|navigation|skip to (main )?content|aller au contenu( principal)?|"
    r"accessibilit[ée]|accessibility|search|rechercher|recherche|suche|buscar|"
    r"home|accueil|startseite|inicio|"
    r"share|partager|teilen|compartir|tweet|tweeter|imprimer|print|"
    r"j'envoie|j’envoie|envoyer|email|e-mail|"
    r"image_pdf|image_print|image_pdfimage_print|"
    r"(previous|next|article (pr[ée]c[ée]dent|suivant))( article| post)?|"
    r"close|fermer|ok|log ?in|sign ?in|se connecter|connexion|abonnez-vous|subscribe)$",
    _I,
)
_COUNTER_LINE = re.compile(r"^[\w’'-]{1,20}\s+\d{1,6}$", _I)  # "Merci 151", "Shares 12"
_READING_TIME = re.compile(
    r"^(temps de lecture|reading time|lesezeit|tiempo de lectura)\b.*$|^\d+\s*(min|minutes?)\s*(read|de lecture|lesezeit)$",
    _I,
)
_CATEGORY_LINE = re.compile(
    r"^(class[ée] dans|filed under|posted in|cat[ée]gories?|categor(y|ies)|tags?|mots[- ]cl[ée]s|schlagw[öo]rter|etiquetas)\s*:",
    _I,
)
_COOKIE_LINE = re.compile(
    r"\bcookies?\b.*\b(use|utilis|accept|consent|experience|exp[ée]rience|continu|verwend|usamos|utilizamos)"
    r"|\b(use|utilis|verwend|usamos|utilizamos)\w*\s+(des\s+|les\s+)?cookies?\b",
    _I,
)
_PROMPT_LINE = re.compile(
    r"(sign up (to|for) (our|the) newsletter|subscribe to (our|the) newsletter|"
    r"inscrivez-vous (à|a) (notre|la) (newsletter|lettre)|abonnez-vous (à|a) (notre|la) (newsletter|lettre)|"
    r"newsletter abonnieren|suscr[ií]bete|straight to your inbox|dans votre bo[iî]te (mail|de r[ée]ception)|"
    r"^et recevez nos publications|^recevez nos (publications|articles)|"
    r"^click (right )?here!?$|^cliquez ici!?$|^wait, don'?t go yet!?$|^love our partners\.?$)",
    _I,
)
# The start of reader comments: everything after is not the article.
_COMMENTS_START = re.compile(
    r"^(\d+\s+(r[ée]actions?|commentaires?|comments?|responses?|r[ée]ponses?|replies|kommentare|comentarios|respuestas)"
    r"(\s+(et|and|und|y)\s+(commentaires?|comments?|r[ée]actions?|kommentare|comentarios))?|"
    r"(un|one|ein|una?) (commentaire|comment|response|kommentar|comentario)|"
    r"commentaires?( recommand[ée]s?)?|comments?|kommentare|comentarios|"
    r"leave a (reply|comment)|laisser un commentaire|laissez un commentaire|"
    r"(les )?commentaires sont ferm[ée]s\.?|comments are closed\.?|"
    r"afficher tous les commentaires|show all comments|"
    r"commentaire recommand[ée])\s*:?$",
    _I,
)
# End matter: author blurbs and related-article blocks.
_END_MATTER = re.compile(
    r"^(related( articles| posts| stories)?|read (more|also|next)|you (may|might) also like|"
    r"[àa] lire aussi|lire aussi|sur le m[êe]me (sujet|th[èe]me)|articles? (similaires|li[ée]s)|dans la m[êe]me rubrique|"
    r"mehr zum thema|das k[öo]nnte sie auch interessieren|art[íi]culos relacionados|te puede interesar|"
    r"about the author|[àa] propos de l'auteur|[àa] propos de l’auteur|"
    r"(i’m|i'm|i am) an? (contributing |staff |freelance )?(writer|journalist|editor)\b.*)\s*:?",
    _I,
)
_DATE_TOKEN = re.compile(
    r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|"
    r"\d{1,2}[. ]?(janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[ûu]t|septembre|octobre|novembre|d[ée]cembre|"
    r"january|february|march|april|may|june|july|august|september|october|november|december)[. ]?\d{4}",
    _I,
)
_CREDIT_START = re.compile(r"^(source|sources|quelle|fuente|fonte|via|originally published|publi[ée])\b", _I)
_NUMERIC_DATE = re.compile(r"(\d{1,2})[./-](\d{1,2})[./-](\d{4})\b|\b(\d{4})-(\d{2})-(\d{2})\b")
_ATTRIBUTION = re.compile(
    r"(?:written|authored|reported)(?: originally)? by|originally written by|"
    r"(?:[ée]crit|r[ée]dig[ée])(?: [àa] l['’]origine)? par|geschrieben von|escrito (?:originalmente )?por",
    _I,
)
_NAME = re.compile(r"\s+((?:[A-ZÀ-Ý][\w’'-]+)(?:\s+[A-ZÀ-Ý][\w’'-]+){1,3})")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
# Bounded, and no bracket or marker inside, so that a line of 60,000 "[" or "_a " is read in
# linear time (unbounded, each opening scanned to the end of the line: minutes).
_MD_LINK = re.compile(r"!?\[([^\[\]\n]{0,500})\]\([^()\n]{0,2000}\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?=[^\s*_])([^*_\n]{1,500}?)(?<=\S)\1")
_BULLET = re.compile(r"^\s*(?:[•·▪‣◦*+-]|\d+[.)])\s+")
_ELLIPSIS_END = re.compile(r"(\.\.\.|…)\s*$")


def clean(raw: str, *, markdown: bool = False) -> Extracted:
    """Clean a plain-text (or Markdown) copy of an article; ExtractError for bytes that are not text."""
    if looks_binary(raw):
        raise ExtractError("binary data (an image or a file), not text")
    text = repair(raw.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_strip_markdown(line) if markdown else line for line in text.split("\n")]
    lines = [line.rstrip() for line in lines]
    site_name = _doubled_name(lines)
    published = _find_dateline_date(lines)
    lines = _cut_at(lines, _COMMENTS_START, tail_only=False)
    lines = _cut_at(lines, _END_MATTER, tail_only=True)
    kept = [line for line in lines if not _is_furniture(line, site_name)]
    kept = _drop_teasers(kept)
    kept = _trim_dangling_tail(kept)
    title, body = _split_title(kept)
    body_text = _join_paragraphs(body)
    return Extracted(
        text=body_text,
        title=title,
        author=_find_author(body),
        published=published,
        site_name=site_name,
        extractor=EXTRACTOR,
    )


def _strip_markdown(line: str) -> str:
    line = _MD_HEADING.sub("", line)
    line = _MD_LINK.sub(r"\1", line)
    return _MD_EMPHASIS.sub(r"\2", line)


def _doubled_name(lines: list[str]) -> str | None:
    """'Les Crises Les Crises' at the top is a logo read twice: the site name."""
    for line in lines[:5]:
        name = _halves(line.strip())
        if name and name.lower() not in ("menu",):
            return name
    return None


def _halves(line: str) -> str | None:
    words = line.split()
    if len(words) >= 2 and len(words) % 2 == 0 and len(line) <= 80:
        half = len(words) // 2
        if words[:half] == words[half:]:
            return " ".join(words[:half])
    return None


def _is_furniture(line: str, site_name: str | None) -> bool:
    stripped = _BULLET.sub("", line.strip()).strip()
    if not stripped:
        return False
    words = stripped.split()
    if _halves(stripped):
        return True
    if _NAV_LINE.match(stripped) or _READING_TIME.match(stripped) or _CATEGORY_LINE.match(stripped):
        return True
    if len(words) <= 3 and _COUNTER_LINE.match(stripped):
        return True
    if len(stripped) < 400 and _COOKIE_LINE.search(stripped):
        return True
    if len(stripped) < 200 and _PROMPT_LINE.search(stripped):
        return True
    if _is_dateline(stripped, site_name):
        return True
    return False


def _is_dateline(line: str, site_name: str | None) -> bool:
    """'24.septembre.201924.9.2019 // Les Crises': dates and the site name, nothing else."""
    if len(line) > 80 or not _DATE_TOKEN.search(line) or _CREDIT_START.match(line):
        return False  # "Source : Observatoire, 12-03-2026" is a credit, kept as evidence of syndication
    rest = _DATE_TOKEN.sub(" ", line)
    if site_name:
        rest = rest.replace(site_name, " ")
    rest = re.sub(r"[\W\d_]+", " ", rest).strip()
    return len(rest.split()) <= 2


def _find_dateline_date(lines: list[str]) -> str | None:
    for line in lines[:8]:
        stripped = line.strip()
        if _is_dateline(stripped, _halves(stripped)) or (len(stripped) <= 80 and "//" in stripped):
            match = _NUMERIC_DATE.search(stripped)
            if match:
                if match.group(3):
                    day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
                else:
                    year, month, day = int(match.group(4)), int(match.group(5)), int(match.group(6))
                if 1 <= month <= 12 and 1 <= day <= 31:
                    return f"{year:04d}-{month:02d}-{day:02d}"
    return None


# A written date ("24 septembre 2019", "March 3, 2026", "3 марта 2026 года") in a file's first lines:
# dateparser, in the article's language once it is known. Absolute dates with a day, a month and a
# year only: "il y a 3 ans" or a bare "en 2019" is not a publication date.
_DATEPARSER_SETTINGS = {
    "REQUIRE_PARTS": ["day", "month", "year"], "PARSERS": ["custom-formats", "absolute-time"],
    "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False,
}
_HEAD_LINES = 8
_YEAR = re.compile(r"\d{4}")


def find_written_date(text: str, lang: str, *, markdown: bool = False, today: date | None = None) -> str | None:
    """The first date written out in words in the first lines of a plain-text or Markdown file,
    read in the language `lang` (ISO 639-1), as YYYY-MM-DD; None when there is none."""
    from dateparser.search import search_dates  # 0.3 s to import: only imports that need it pay

    today = today or date.today()
    lines = [line.strip() for line in text.split("\n", 200)[:200] if line.strip()][:_HEAD_LINES]
    for line in lines:
        if len(line) > 160:
            continue
        try:
            found = search_dates(_strip_markdown(line) if markdown else line, languages=[lang],
                                 settings=_DATEPARSER_SETTINGS)
        except (ValueError, OverflowError):  # a language dateparser does not know, or a date out of range
            return None
        for written, when in found or ():
            if _YEAR.search(written) and when.date() <= today:
                return when.date().isoformat()
    return None


def _cut_at(lines: list[str], marker: re.Pattern, *, tail_only: bool) -> list[str]:
    """Drop everything from the first marker line on (in the last 60% when tail_only)."""
    body_lines = [i for i, line in enumerate(lines) if line.strip()]
    if len(body_lines) < 3:
        return lines
    start = body_lines[int(len(body_lines) * 0.4)] if tail_only else body_lines[1]
    for index in range(start, len(lines)):
        stripped = _BULLET.sub("", lines[index].strip())
        if stripped and marker.match(stripped):
            return lines[:index]
    return lines


def _drop_teasers(lines: list[str]) -> list[str]:
    """Ellipsis-cut lines in the second half are teasers of other articles."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if len(filled) < 4:
        return lines
    half = filled[len(filled) // 2]
    return [
        line for i, line in enumerate(lines)
        if not (i >= half and _ELLIPSIS_END.search(line) and len(line.strip()) < 300)
    ]


def _trim_dangling_tail(lines: list[str]) -> list[str]:
    """Short lines with no sentence left at the very end are prompts, not prose."""
    while lines and (not lines[-1].strip() or _is_dangling(lines[-1])):
        lines = lines[:-1]
    return lines


def _is_dangling(line: str) -> bool:
    stripped = line.strip()
    if stripped.startswith("(") and stripped.endswith(")") and len(stripped.split()) <= 8:
        return True  # "(what could be better)"
    return len(stripped.split()) <= 4 and not stripped.endswith((".", "!", "?", "»", "”", '"'))


def _split_title(lines: list[str]) -> tuple[str | None, list[str]]:
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        title = " ".join(stripped.split())  # also turns no-break spaces into spaces
        if _reads_like_heading(title):
            return title, lines[index + 1:]
        return _first_sentence(title), lines
    return None, lines


def _reads_like_heading(line: str) -> bool:
    if len(line) > 200:
        return False
    sentences = re.findall(r"[.!?](\s|$)", line.rstrip(".!?… ")) if line else []
    return not line.endswith(".") and len(sentences) == 0 or (line.endswith(("?", "]")) and len(line) < 160)


def _first_sentence(line: str, limit: int = 120) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", line)
    sentence = match.group(1) if match else line
    if len(sentence) > limit:
        sentence = sentence[:limit].rsplit(" ", 1)[0] + "…"
    return sentence


def _join_paragraphs(lines: list[str]) -> str:
    """Blank-line separated paragraphs, single newlines kept inside them."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped:
            current.append(stripped)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)


def _find_author(lines: list[str]) -> str | None:
    for line in reversed(lines[-12:]):
        match = _ATTRIBUTION.search(line)
        if match:
            name = _NAME.match(line[match.end():])
            if name:
                return name.group(1)
    return None
