"""The coordinator: the only package that wires stages together.

    runner    `veille fetch`: sources and their pages in a thread pool, stored on the calling thread
    steps     one feed or one page: fetch, parse, extract, detect (no archive)
    workers   extraction, detection and tagging in worker processes (settings.workers, --workers)
    imports   `veille import`: local files
    tagging   the tagging stages of a run, `veille retag`
    stories   duplicates, copies and translations placed in stories, `veille dedupe --rebuild`
    indexing  the search index kept in step with the archive, `veille reindex`
    reports   what a pass says when it is done
"""

import importlib
from typing import TYPE_CHECKING

# What each name is in: imported when first used, so a command that reads the archive (search,
# status, show) never loads the models and extractors a fetch needs (issue 16).
_WHERE = {
    "IMPORT_SOURCE": "imports", "MAX_IMPORT_BYTES": "imports", "collect_paths": "imports",
    "import_paths": "imports", "read_file": "imports",
    "reindex": "indexing", "sync_index": "indexing",
    "Failure": "reports", "Progress": "reports", "RunReport": "reports",
    "fetch_sources": "runner", "FeedJob": "jobs",
    "parse_feed": "steps", "read_listing": "steps", "read_sitemap": "steps",
    "link_story": "stories", "rebuild_stories": "stories",
    "Taggers": "tagging", "retag": "tagging", "Workers": "workers",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'veille.pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"veille.pipeline.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from veille.pipeline.imports import IMPORT_SOURCE, MAX_IMPORT_BYTES, collect_paths, import_paths, read_file
    from veille.pipeline.indexing import reindex, sync_index
    from veille.pipeline.jobs import FeedJob
    from veille.pipeline.reports import Failure, Progress, RunReport
    from veille.pipeline.runner import fetch_sources
    from veille.pipeline.steps import parse_feed, read_listing, read_sitemap
    from veille.pipeline.stories import link_story, rebuild_stories
    from veille.pipeline.tagging import Taggers, retag
    from veille.pipeline.workers import Workers
