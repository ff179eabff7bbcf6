"""Jobs a queue can carry: a FeedJob and a PageJob pickle, and the steps run from the unpickled values."""

import json
import pickle

from veille.config.settings import Settings
from veille.net.client import ClientSettings, Fetcher
from veille.net.guard import allowance
from veille.pipeline.jobs import FeedJob, PageJob
from veille.pipeline.steps import fetch_feed, fetch_page, process
from veille.pipeline.tagging import Taggers

from conftest import FIXTURES

MANIFEST = {item["path"]: item for item in json.loads((FIXTURES / "site" / "MANIFEST.json").read_text("utf-8"))}


def carried(value):
    """What a worker in another process would be handed: the value, pickled and read back."""
    again = pickle.loads(pickle.dumps(value))
    assert again == value and again is not value
    return again


def test_a_feed_job_and_a_page_job_pickle_and_their_steps_run_from_the_unpickled_values(site):
    feed_job = carried(FeedJob("observatoire", site.url + "/feeds/observatoire.xml"))
    settings = carried(ClientSettings.of(Settings(host_delay=0, timeout=5)))  # what a worker is given
    with Fetcher(settings) as client:
        assert client.settings is settings
        fetched = fetch_feed(feed_job, client)
        assert fetched.response.status == 200 and fetched.page is None
        entry = fetched.feed.entries[0]
        path = entry.url.removeprefix(site.url + "/")
        page_job = carried(PageJob("observatoire", entry.url, entry, fetched.feed.language,
                                   allow=allowance(fetched.response, False)))
        step, job = carried((fetch_page, page_job))  # the pair the runner queues: a step by name, a value
        page = step(job, client)
    assert page.error is None, page.error
    article = page.article
    assert article.source == "observatoire" and article.url == entry.url and article.origin == "page"
    assert article.lang == MANIFEST[path]["lang"]
    assert all(phrase in article.text for phrase in MANIFEST[path]["must_contain"])
    assert pickle.loads(pickle.dumps(page)).article.text == article.text  # what comes back travels too
    assert process([page], Taggers()) == [article] and article.tagger


def test_a_page_source_and_a_conditional_get_run_from_unpickled_jobs(site):
    url = site.url + "/page/rapport-annuel.html"
    with Fetcher(ClientSettings.of(Settings(host_delay=0, timeout=5))) as client:
        first = fetch_feed(carried(FeedJob("rapport", url, kind="page")), client)
        assert first.feed is None and first.page.article is not None and first.page.entry is None
        assert first.page.article.source == "rapport"
        again = fetch_feed(carried(FeedJob("rapport", url, kind="page", etag=first.response.etag,
                                           last_modified=first.response.last_modified)), client)
    assert again.response.not_modified and again.page is None and again.feed is None
