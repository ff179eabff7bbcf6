"""The pages' templates (Jinja2, autoescaped) and the two pieces of HTML built in code: a snippet
with the query's words marked, and an article's text with its entities linked. Both escape every
piece of the article's text themselves and join only markup of their own.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from veille.models import Entity
from veille.text.urls import web_link

LABELS = {"PERSON": "person", "ORG": "organisation", "LOC": "place", "MISC": "other"}


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("veille.app.web", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(marked=marked, article_text=article_text, web_link=web_link, day=day, path=path_part,
                       label=lambda value: LABELS.get(value or "", (value or "").lower()))
    return env


def render(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    html = environment().get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code)


def path_part(value: str) -> str:
    """A value as one segment of an address ("/entity/" + key)."""
    return quote(value or "", safe="")


def day(value: str | None) -> str:
    """"2025-03-01T10:00:00Z" -> "2025-03-01"."""
    return (value or "")[:10]


def marked(passage: str, marks: list[tuple[int, int]]) -> Markup:
    """The snippet with the query's words in <mark>."""
    pieces, cursor = [], 0
    for begin, finish in sorted(marks):
        if begin < cursor or finish > len(passage):
            continue
        pieces += [escape(passage[cursor:begin]), Markup("<mark>"), escape(passage[begin:finish]), Markup("</mark>")]
        cursor = finish
    pieces.append(escape(passage[cursor:]))
    return Markup("").join(pieces)


_BREAK = re.compile(r"\n\s*")


def _paragraphs(text: str) -> Markup:
    return Markup("</p>\n<p>").join(escape(part) for part in _BREAK.split(text))


def article_text(text: str, entities: list[Entity]) -> Markup:
    """The clean text as paragraphs, each entity a link to its page (classed by its label). An entity
    whose offsets do not hold its text, that overlaps another or spans a paragraph is left as text."""
    pieces, cursor = [Markup("<p>")], 0
    for entity in sorted(entities, key=lambda e: (e.start, -e.end)):
        begin, finish = entity.start, entity.end
        if begin < cursor or text[begin:finish] != entity.text or "\n" in entity.text or not entity.key:
            continue
        pieces.append(_paragraphs(text[cursor:begin]))
        css = LABELS.get(entity.label, "other")
        pieces.append(Markup('<a class="ent ent-{}" href="/entity/{}" title="{}">{}</a>').format(
            css, path_part(entity.key), LABELS.get(entity.label, entity.label), entity.text))
        cursor = finish
    pieces += [_paragraphs(text[cursor:]), Markup("</p>")]
    return Markup(str(Markup("").join(pieces)).replace("<p></p>\n", "").replace("\n<p></p>", ""))
