"""`veille serve`: the archive, read-only, in a browser and in feed readers.

    app.py        the Starlette app: routes, the guard (host, token, safety headers), errors
    searching.py  the search form read from a query string, and its answer (the library's calls)
    pages.py      the HTML pages: search, story, article, entity, tag, entities, saved searches
    api.py        /api/... (the same JSON as the CLI's --json), /feeds/NAME.atom, /feeds.opml
    render.py     the templates' environment: snippets and article text as safe HTML

Imported only by `veille serve` (and tests): no other command loads Starlette.
"""

from veille.app.web.app import create_app

__all__ = ["create_app"]
