import json

import pytest

from veille.stages import feeds
from veille.errors import FeedError


def test_a_json_feed_with_odd_values_keeps_its_good_entries():
    body = json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "J", "language": ["fr"],
        "items": [
            {"id": 1, "url": "/a", "title": "Cameras", "authors": [{"name": None}, {"name": "Ana"}],
             "content_text": "Text", "date_published": "2026-03-01T10:00:00+01:00"},
            {"id": 2, "url": "https://x.example/b", "title": ["not", "a", "string"], "content_html": {"html": "x"}},
            "not an item",
        ],
    }).encode()
    parsed = feeds.parse(body, "https://x.example/feed.json")
    first, second = parsed.entries
    assert (first.url, first.guid, first.author, first.published) == (
        "https://x.example/a", "1", "Ana", "2026-03-01T09:00:00Z")
    assert second.title is None and second.summary_html is None
    assert parsed.language is None


@pytest.mark.parametrize("body, words", [
    (b"", "empty body"),
    (b"<html><body>Just a page</body></html>", "not a feed"),
    (b'{"version": "1"}', "jsonfeed.org"),
    (b"{broken", "invalid JSON"),
])
def test_what_is_not_a_feed_says_so(body, words):
    with pytest.raises(FeedError, match=words):
        feeds.parse(body, "https://x.example/feed")


@pytest.mark.parametrize("reference", ["&#xD800;", "&#55296;", "&#00000055296;", "&#x00000000D800;", "&#0;",
                                       "&#x110000;"])
def test_a_reference_to_a_character_no_text_can_hold_costs_nothing_but_that_character(reference):
    body = (f"<rss version='2.0'><channel><title>t</title><item><title>Caméras {reference} à Nice</title>"
            "<link>https://example.org/a</link></item></channel></rss>").encode()
    feed = feeds.parse(body, "https://example.org/feed")
    assert [e.url for e in feed.entries] == ["https://example.org/a"]
    assert feed.entries[0].title.startswith("Caméras") and feed.entries[0].title.endswith("à Nice")
