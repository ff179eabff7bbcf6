"""/api/...: the same JSON as the CLI's --json (the same library calls build it); the Atom feeds of
saved searches and their OPML, with ETags so a feed reader polling gets 304 when nothing changed.

    /api/search?q=palantir&lang=fr&page=2   [ one object per story, as `search --json` prints ]
    /api/search?q=palantir&count=1          {"stories": 1, "articles": 3}, as `search --count --json`
    /api/search?q=palantir&facets=1         as `search --facets --json`
    /api/article/ID  /api/story/ID          as `show --json`, `story --json`
    /api/entities?label=ORG&top=10          [ as `entities --json` ]
    /api/searches                           [ as `searches list --json` ]

The JSON writes <, > and & as \\u escapes: the same values, inert if a page ever embeds them.
"""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from veille.app.reports import article_view, entity_rows, names_a_story, story_view
from veille.app.syndication import saved_search_feed, saved_searches_opml
from veille.app.web.searching import SearchForm, run_search
from veille.outputs.atom import entity_tag

_NAME = re.compile(r"[\w.-]{1,64}")


class SafeJSON(JSONResponse):
    def render(self, content) -> bytes:
        text = json.dumps(content, ensure_ascii=False)
        for char, written in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                              ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
            text = text.replace(char, written)
        return text.encode("utf-8")


def _library(request: Request):
    return request.app.state.library


def search(request: Request) -> Response:
    form = SearchForm.read(request.query_params)  # VeilleError: 400 with what to fix
    counting = request.query_params.get("count") == "1"
    facets = request.query_params.get("facets") == "1"
    answer = run_search(_library(request), form, facets=counting or facets, exact=True)
    if counting:
        return SafeJSON({"stories": answer.stories, "articles": answer.articles})
    if facets:
        return SafeJSON({"stories": answer.stories, "articles": answer.articles, **answer.facets})
    headers = {}
    if answer.more:  # the next page, as RFC 8288 says (the query string is encoded: nothing breaks the header)
        headers["link"] = f'<{form.link("/api/search", page=form.page + 1)}>; rel="next"'
    return SafeJSON([found.record() for found in answer.found], headers=headers)


def article(request: Request) -> Response:
    archive = _library(request).archive
    view = article_view(archive, request.path_params["article_id"])
    if view is None:
        story = " (it is a story id: /api/story/ takes it)" if names_a_story(archive, request.path_params["article_id"]) else ""
        raise HTTPException(404, f"no article with this id{story}")
    return SafeJSON(view.full_record())


def story(request: Request) -> Response:
    view = story_view(_library(request).archive, request.path_params["story_id"])
    if view is None:
        raise HTTPException(404, "no story for this id")
    return SafeJSON(view.record())


def entities(request: Request) -> Response:
    params = request.query_params
    label = (params.get("label") or "").upper() or None
    top = params.get("top") or "20"
    if label not in (None, "PERSON", "ORG", "LOC", "MISC") or not top.isdigit() or not 1 <= int(top) <= 1_000_000:
        raise HTTPException(400, "label: PERSON, ORG, LOC or MISC; top: a whole number from 1")
    since = params.get("since") or None
    if since and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
        raise HTTPException(400, "since: write the date as YYYY-MM-DD")
    rows = entity_rows(_library(request).archive, top=int(top), label=label,
                       lang=(params.get("lang") or "").lower() or None, since=since)
    return SafeJSON(rows)


def searches(request: Request) -> Response:
    return SafeJSON(_library(request).archive.saved_searches())


def _conditional(request: Request, body: bytes, media_type: str) -> Response:
    """The body, or 304 when the reader already holds it (If-None-Match names its ETag)."""
    etag = entity_tag(body)
    headers = {"etag": etag, "cache-control": "no-cache"}
    held = {tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")}
    if etag in held or "*" in held:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def feed(request: Request) -> Response:
    name = request.path_params["name"]
    if not _NAME.fullmatch(name):
        raise HTTPException(404, "no saved search of this name")
    library = _library(request)
    if library.archive.saved_search(name) is None:
        raise HTTPException(404, "no saved search of this name; /searches lists them")
    body = saved_search_feed(library.archive, library.index, name, str(request.base_url),
                             token=request.app.state.token)
    return _conditional(request, body, "application/atom+xml; charset=utf-8")


def feeds_opml(request: Request) -> Response:
    body = saved_searches_opml(_library(request).archive, str(request.base_url), token=request.app.state.token)
    return _conditional(request, body, "text/x-opml; charset=utf-8")
