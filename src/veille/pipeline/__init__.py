"""The coordinator: the only package that wires stages together.

    runner    `veille fetch`: sources and their pages in a thread pool, stored on the calling thread
    steps     one feed or one page: fetch, parse, extract, detect (no archive)
    imports   `veille import`: local files
    tagging   the tagging stages of a run, `veille retag`
    stories   duplicates, copies and translations placed in stories, `veille dedupe --rebuild`
    indexing  the search index kept in step with the archive, `veille reindex`
    reports   what a pass says when it is done
"""

from veille.pipeline.imports import IMPORT_SOURCE, MAX_IMPORT_BYTES, collect_paths, import_paths, read_file
from veille.pipeline.indexing import reindex, sync_index
from veille.pipeline.reports import Failure, Progress, RunReport
from veille.pipeline.runner import fetch_sources
from veille.pipeline.jobs import FeedJob
from veille.pipeline.steps import parse_feed, read_listing, read_sitemap
from veille.pipeline.stories import link_story, rebuild_stories
from veille.pipeline.tagging import Taggers, retag

__all__ = ["IMPORT_SOURCE", "MAX_IMPORT_BYTES", "Failure", "FeedJob", "Progress", "RunReport", "Taggers", "collect_paths",
           "fetch_sources", "import_paths", "link_story", "parse_feed", "read_file", "read_listing",
           "read_sitemap", "rebuild_stories", "reindex", "retag", "sync_index"]
