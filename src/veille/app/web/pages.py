"""The HTML pages: search, story, article (and its archived copy), entity, tag, entities, saved searches.

Each reads its parameters, calls the library as the CLI does (run_search, story_view,
article_view, entity_rows) and renders a template. Links are plain links and forms are plain
GET forms: everything works without JavaScript, from the keyboard.
"""

from __future__ import annotations

from dataclasses import replace
from importlib.resources import files

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from markupsafe import Markup

from veille.app.queries import parse_query
from veille.app.reports import article_view, entity_rows, names_a_story, story_view
from veille.app.web.render import path_part, render
from veille.app.web.searching import PAGE_SIZES, SearchForm, run_search
from veille.outputs.trends import trend_of
from veille.errors import IndexDamagedError, VeilleError
from veille.outputs.charts import bars_svg
from veille.text.urls import web_link


def _library(request: Request):
    return request.app.state.library


def search_page(request: Request) -> Response:
    """The search form and one page of stories, with facets."""
    library = _library(request)
    archive = library.archive
    context = {"langs": archive.counts_by_lang(), "sources": archive.counts_by_source(),
               "saved": archive.saved_searches(), "sizes": PAGE_SIZES, "answer": None, "error": None,
               "total": archive.count_articles()}
    try:
        form = SearchForm.read(request.query_params)
    except VeilleError as exc:
        return render(request, "search.html", {**context, "form": SearchForm(q=request.query_params.get("q", "")),
                                               "error": str(exc)}, status_code=400)
    context["form"] = form
    if not context["total"]:
        return render(request, "search.html", context)
    if form.empty:  # the front page: the newest stories
        form = context["form"] = replace(form, sort="date") if "sort" not in request.query_params else form
    try:
        context["answer"] = run_search(library, form, facets=True)
    except IndexDamagedError:
        raise
    except VeilleError as exc:
        context["error"] = str(exc)  # a query that cannot be read, a saved search not there: said beside the form
        return render(request, "search.html", context, status_code=400)
    return render(request, "search.html", context)


def story_page(request: Request) -> Response:
    view = story_view(_library(request).archive, request.path_params["story_id"])
    if view is None:
        raise HTTPException(404, "no story with this id; search for it from the front page")
    return render(request, "story.html", {"view": view, "members": view.in_order()})


def article_page(request: Request) -> Response:
    archive = _library(request).archive
    article_id = request.path_params["article_id"]
    view = article_view(archive, article_id)
    if view is None:
        if names_a_story(archive, article_id):
            return RedirectResponse(f"/story/{path_part(article_id)}", status_code=303)
        raise HTTPException(404, "no article with this id")
    article = view.article
    return render(request, "article.html", {
        "view": view, "article": article, "membership": view.membership, "by_label": view.names_by_label(),
        "original": web_link(article.canonical_url) or web_link(article.url),
        "has_raw": article.raw is not None,
    })


def raw_page(request: Request) -> Response:
    """The page as it was received, as text: shown, never run (a sandbox, no scripts, no sniffing)."""
    article = _library(request).archive.get_article(request.path_params["article_id"])
    if article is None or article.raw is None:
        raise HTTPException(404, "no archived copy of this article")
    return Response(article.raw, media_type="text/plain", headers={
        "content-security-policy": "sandbox; default-src 'none'", "content-disposition": "inline"})


def entity_page(request: Request) -> Response:
    key = request.path_params["key"]
    names = _library(request).archive.entity_names([key])
    return _listing(request, f"/entity/{path_part(key)}", {"key": key}, heading=names.get(key) or key,
                          kind="entity", value=key)


def tag_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    return _listing(request, f"/tag/{path_part(slug)}", {"tag": slug}, heading=slug, kind="tag", value=slug)


def _listing(request: Request, path: str, fixed: dict, *, heading: str, kind: str, value: str) -> Response:
    """An entity's or a tag's page: its stories, newest first, with the facets of what they mention."""
    try:
        form = SearchForm.read(request.query_params)
    except VeilleError as exc:
        raise HTTPException(400, str(exc)) from None
    if "sort" not in request.query_params:
        form = replace(form, sort="date")
    form = replace(form, **fixed)
    library = _library(request)
    answer = run_search(library, form, facets=True)
    if not answer.articles:
        raise HTTPException(404, f"no article mentions this {kind}")
    trend = trend_of(library.archive, library.index, parse_query(""), filters=form.filters(), interval="month")
    chart = Markup(bars_svg([trend.label(n) for n in range(len(trend.buckets))], trend.articles["all"],
                            unit="articles per month"))
    return render(request, "listing.html", {"form": form, "answer": answer, "heading": heading, "kind": kind,
                                            "value": value, "path": path, "chart": chart,
                                            "trend_total": sum(trend.articles["all"])})


def entities_page(request: Request) -> Response:
    label = (request.query_params.get("label") or "").upper() or None
    if label not in (None, "PERSON", "ORG", "LOC", "MISC"):
        raise HTTPException(400, "label: choose PERSON, ORG, LOC or MISC")
    lang = (request.query_params.get("lang") or "").lower() or None
    rows = entity_rows(_library(request).archive, top=100, label=label, lang=lang)
    return render(request, "entities.html", {"rows": rows, "label": label, "lang": lang,
                                             "langs": _library(request).archive.counts_by_lang()})


def searches_page(request: Request) -> Response:
    return render(request, "searches.html", {"saved": _library(request).archive.saved_searches()})


_CSS: bytes | None = None


def stylesheet(request: Request) -> Response:
    global _CSS
    if _CSS is None:
        _CSS = files("veille.app.web").joinpath("static/style.css").read_bytes()
    return Response(_CSS, media_type="text/css", headers={"cache-control": "max-age=3600"})
