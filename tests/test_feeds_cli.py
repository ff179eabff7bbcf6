"""`veille feeds ...` as a user meets it: editing feeds.yaml, checking, fixing and resuming sources.

Every network answer comes from a local `FixtureServer`; nothing here touches the internet.
feeds.yaml is a file people write by hand, so the tests that edit it also check that its
comments and the order of its sources survive the edit.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from veille.config.settings import load_config
from veille.dev.devserver import FixtureServer, Reply

SETTINGS = "settings:\n  host_delay: 0\n"


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def server():
    with FixtureServer() as running:
        yield running


def rss(title: str, *, language: str | None = None, links: tuple[str, ...] = ()) -> bytes:
    """A small RSS 2.0 feed with one item per link."""
    items = "".join(
        f"<item><title>Item {n}</title><link>{link}</link><guid>{link}</guid></item>"
        for n, link in enumerate(links, start=1)
    )
    lang = f"<language>{language}</language>" if language else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.org/</link><description>test</description>{lang}"
        f"{items}</channel></rss>"
    ).encode("utf-8")


def html_page(*feeds: tuple[str, str]) -> bytes:
    """A web page whose <head> announces the given (title, href) RSS feeds."""
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" title="{title}" href="{href}">' for title, href in feeds
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>A site</title>{links}</head>"
        "<body><h1>A site</h1><p>Some text.</p></body></html>"
    ).encode("utf-8")


def commented_config(server: FixtureServer) -> str:
    """A hand-written feeds.yaml: a top comment, comments on sources, two sources."""
    return (
        "# My sources, curated by hand.\n"
        + SETTINGS
        + "\n"
        "sources:\n"
        "  # French watchdog, reliable\n"
        "  - name: Alpha\n"
        f"    url: {server.url}/alpha.xml   # the main feed\n"
        "    language: fr\n"
        "  # Beta is noisy; keep an eye on it\n"
        "  - name: Beta\n"
        f"    url: {server.url}/beta.xml\n"
    )


def comment_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#") or " # " in line]


def source_names(cli) -> list[str]:
    return [source.name for source in load_config(cli.config).sources]


def assert_one_line_error(result) -> None:
    assert result.exit_code != 0, result.output
    message = result.stderr.strip()
    assert message.startswith("veille: "), result.stderr
    assert "\n" not in message, result.stderr
    assert "Traceback" not in result.output


def status_records(cli) -> dict[str, dict]:
    """`veille status --json`: one record per source (by name), then the totals under "total"."""
    lines = cli.json_lines("status")
    records = {line["source"]: line for line in lines if "source" in line}
    records["total"] = lines[-1]
    return records


def check_records(cli) -> tuple[int, dict[str, dict]]:
    result = cli("feeds", "check", "--json", ok=False)
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, {record["name"]: record for record in records}


def serve_two_feeds_site(server: FixtureServer) -> None:
    server.pages["/site/index.html"] = html_page(
        ("Site news", f"{server.url}/site/news.xml"), ("Site comments", f"{server.url}/site/comments.xml"))
    server.pages["/site/news.xml"] = rss("Site news", language="en", links=(f"{server.url}/site/a.html",))
    server.pages["/site/comments.xml"] = rss("Site comments", language="en",
                                             links=(f"{server.url}/site/c1.html", f"{server.url}/site/c2.html"))


# -- feeds add ----------------------------------------------------------------------------


def test_add_on_a_page_with_two_feeds_lists_both_and_asks_for_pick(cli, server):
    serve_two_feeds_site(server)
    cli.write_config(commented_config(server))
    before = cli.config.read_bytes()

    result = cli("feeds", "add", f"{server.url}/site/index.html", ok=False)

    assert "Site news" in result.stdout and f"{server.url}/site/news.xml" in result.stdout
    assert "Site comments" in result.stdout and f"{server.url}/site/comments.xml" in result.stdout
    assert_one_line_error(result)
    assert "--pick" in result.stderr
    assert cli.config.read_bytes() == before


def test_add_with_pick_adds_the_chosen_feed_named_after_its_title(cli, server):
    serve_two_feeds_site(server)
    cli.write_config(commented_config(server))

    cli("feeds", "add", f"{server.url}/site/index.html", "--pick", "2")

    added = load_config(cli.config).source("Site comments")
    assert added.url == f"{server.url}/site/comments.xml"
    assert source_names(cli) == ["Alpha", "Beta", "Site comments"]


def test_add_with_name_lang_and_tags_writes_them(cli, server):
    serve_two_feeds_site(server)
    cli.write_config(commented_config(server))

    cli("feeds", "add", f"{server.url}/site/index.html", "--pick", "2", "--name", "Comments",
        "--lang", "fr", "--tags", "a,b")

    added = load_config(cli.config).source("Comments")
    assert added.url == f"{server.url}/site/comments.xml"
    assert added.language == "fr"
    assert added.tags == ("a", "b")
    assert "Site comments" not in source_names(cli)


def test_add_keeps_comments_and_order_and_puts_the_new_source_last(cli, server):
    serve_two_feeds_site(server)
    original = commented_config(server)
    cli.write_config(original)

    cli("feeds", "add", f"{server.url}/site/index.html", "--pick", "2", "--lang", "fr", "--tags", "a,b")

    edited = cli.config.read_text(encoding="utf-8")
    assert comment_lines(edited)[:len(comment_lines(original))] == comment_lines(original)
    assert edited.startswith(original.rstrip("\n")), "the lines already there should be left as they were"
    assert source_names(cli) == ["Alpha", "Beta", "Site comments"]


def test_add_leaves_a_file_that_load_config_reads(cli, server):
    serve_two_feeds_site(server)
    cli.write_config(commented_config(server))

    cli("feeds", "add", f"{server.url}/site/index.html", "--pick", "1", "--lang", "fr", "--tags", "a,b")

    config = load_config(cli.config)
    assert config.settings.host_delay == 0
    assert [s.url for s in config.sources][-1] == f"{server.url}/site/news.xml"


def test_add_with_the_url_of_a_feed_adds_it_directly(cli, server):
    server.pages["/direct.xml"] = rss("Direct feed", language="en", links=(f"{server.url}/d1.html",))
    cli.write_config(commented_config(server))

    result = cli("feeds", "add", f"{server.url}/direct.xml")

    assert "added" in result.stdout
    added = load_config(cli.config).source("Direct feed")
    assert added.url == f"{server.url}/direct.xml"
    assert added.language == "en"


def test_add_on_a_page_without_feeds_fails_in_one_line_and_leaves_the_file_unchanged(cli, server):
    server.pages["/plain.html"] = html_page()  # no <link rel=alternate>, and nothing at /feed, /rss.xml, ...
    cli.write_config(commented_config(server))
    before = cli.config.read_bytes()

    result = cli("feeds", "add", f"{server.url}/plain.html", ok=False)

    assert_one_line_error(result)
    assert "no feed found" in result.stderr
    assert cli.config.read_bytes() == before


def test_add_of_a_url_already_in_the_file_fails_clearly(cli, server):
    server.pages["/alpha.xml"] = rss("Alpha again")
    cli.write_config(commented_config(server))
    before = cli.config.read_bytes()

    result = cli("feeds", "add", f"{server.url}/alpha.xml", ok=False)

    assert_one_line_error(result)
    assert "already" in result.stderr and f"{server.url}/alpha.xml" in result.stderr
    assert cli.config.read_bytes() == before


# -- feeds remove -------------------------------------------------------------------------


def three_sources_config(server: FixtureServer) -> str:
    """The hand-written file with a third source and its comment."""
    return commented_config(server) + (
        "  # Gamma: the English one\n"
        "  - name: Gamma\n"
        f"    url: {server.url}/gamma.xml\n"
    )


def test_remove_deletes_the_source_and_keeps_the_others_in_order(cli, server):
    cli.write_config(three_sources_config(server))

    result = cli("feeds", "remove", "Beta")

    assert "removed Beta" in result.stdout
    assert source_names(cli) == ["Alpha", "Gamma"]


def test_remove_keeps_the_comments_of_the_other_sources(cli, server):
    cli.write_config(three_sources_config(server))

    cli("feeds", "remove", "Beta")

    edited = cli.config.read_text(encoding="utf-8")
    assert comment_lines(edited) == [
        "# My sources, curated by hand.",
        "  # French watchdog, reliable",
        f"    url: {server.url}/alpha.xml   # the main feed",
        "  # Gamma: the English one",
    ]
    lines = edited.splitlines()
    assert lines[lines.index("  # Gamma: the English one") + 1] == "  - name: Gamma"


@pytest.mark.parametrize("name, gone", [("Alpha", "  # French watchdog, reliable"),
                                        ("Gamma", "  # Gamma: the English one")])
def test_removing_the_first_or_last_source_takes_only_its_own_comment(cli, server, name, gone):
    cli.write_config(three_sources_config(server))
    before = comment_lines(cli.config.read_text(encoding="utf-8"))

    cli("feeds", "remove", name)

    after = comment_lines(cli.config.read_text(encoding="utf-8"))
    assert [line for line in before if line != gone and (name != "Alpha" or "alpha.xml" not in line)] == after


def test_remove_of_an_unknown_name_fails_in_one_line(cli, server):
    cli.write_config(three_sources_config(server))
    before = cli.config.read_bytes()

    result = cli("feeds", "remove", "Nobody", ok=False)

    assert_one_line_error(result)
    assert "Nobody" in result.stderr
    assert cli.config.read_bytes() == before


# -- feeds list ---------------------------------------------------------------------------


def test_list_json_gives_each_source_with_name_url_and_state(cli, server):
    server.pages["/alpha.xml"] = rss("Alpha")  # no items: a fetch reads it and stores nothing
    cli.write_config(
        SETTINGS + "sources:\n"
        f"  - name: Alpha\n    url: {server.url}/alpha.xml\n"
        f"  - name: Beta\n    url: {server.url}/beta.xml\n"
        f"  - name: Retired\n    url: {server.url}/retired.xml\n    enabled: false\n"
    )
    cli("fetch", "--source", "Alpha", "--quiet")

    rows = cli.json_lines("feeds", "list")

    assert [(r["name"], r["url"], r["state"]) for r in rows] == [
        ("Alpha", f"{server.url}/alpha.xml", "ok"),
        ("Beta", f"{server.url}/beta.xml", "new"),
        ("Retired", f"{server.url}/retired.xml", "off"),
    ]


# -- feeds check --------------------------------------------------------------------------


def serve_good_feed_and_html_page(cli, server: FixtureServer) -> None:
    server.pages["/good.xml"] = rss("Good", links=(f"{server.url}/g1.html", f"{server.url}/g2.html"))
    server.pages["/g1.html"] = server.pages["/g2.html"] = html_page()
    server.pages["/home.html"] = html_page(("Good", f"{server.url}/good.xml"))
    cli.write_config(
        SETTINGS + "sources:\n"
        f"  - name: Good\n    url: {server.url}/good.xml\n"
        f"  - name: Homepage\n    url: {server.url}/home.html\n"
    )


def test_check_json_reports_a_good_feed_and_an_html_page_and_exits_1(cli, server):
    serve_good_feed_and_html_page(cli, server)

    status, records = check_records(cli)

    assert status == 1
    assert records["Good"]["ok"] is True and records["Good"]["entries"] == 2
    assert records["Homepage"]["ok"] is False
    assert "HTML page" in records["Homepage"]["error"] and "not a feed" in records["Homepage"]["error"]


def test_check_stores_nothing_in_the_archive(cli, server):
    from veille.storage.sqlite.store import Archive
    Archive(cli.archive).close()  # an empty archive, for status to read (a missing one: "no archive at PATH")
    serve_good_feed_and_html_page(cli, server)

    check_records(cli)

    assert status_records(cli)["total"]["total"] == 0
    assert not any(r.path in ("/g1.html", "/g2.html") for r in server.requests)


# -- permanent redirects: status and feeds fix --------------------------------------------


def moved_config(server: FixtureServer) -> str:
    return (
        "# Sources\n" + SETTINGS + "sources:\n"
        "  # moved house last year\n"
        "  - name: Mover\n"
        f"    url: {server.url}/old-feed   # old address\n"
        "    language: en\n"
    )


def serve_moved_feed(server: FixtureServer) -> str:
    new = f"{server.url}/new-feed.xml"
    server.routes["/old-feed"] = lambda handler: Reply(301, b"", {"Location": new})
    server.pages["/new-feed.xml"] = rss("Mover")  # no items: nothing to fetch but the feed
    return new


def test_status_mentions_a_permanent_move_after_fetch(cli, server):
    new = serve_moved_feed(server)
    cli.write_config(moved_config(server))

    cli("fetch", "--quiet")

    shown = cli("status").stdout
    assert "moved" in shown and "feeds fix" in shown
    assert status_records(cli)["Mover"]["moved_to"] == new


def test_fix_rewrites_the_moved_url_and_keeps_comments(cli, server):
    new = serve_moved_feed(server)
    cli.write_config(moved_config(server))
    cli("fetch", "--quiet")

    cli("feeds", "fix")

    edited = cli.config.read_text(encoding="utf-8")
    assert load_config(cli.config).source("Mover").url == new
    assert "# Sources" in edited and "  # moved house last year" in edited
    url_line = next(line for line in edited.splitlines() if line.lstrip().startswith("url:"))
    assert url_line.startswith(f"    url: {new} ") and url_line.endswith("# old address")


def test_fix_a_second_time_has_nothing_to_do(cli, server):
    serve_moved_feed(server)
    cli.write_config(moved_config(server))
    cli("fetch", "--quiet")
    cli("feeds", "fix")
    after_first_fix = cli.config.read_bytes()

    result = cli("feeds", "fix")

    assert "nothing to do" in result.stdout
    assert cli.config.read_bytes() == after_first_fix


# -- OPML ---------------------------------------------------------------------------------


def write_opml(tmp_path, known_url: str):
    path = tmp_path / "subscriptions.opml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<opml version="2.0">\n'
        "  <head><title>My reader</title></head>\n"
        "  <body>\n"
        '    <outline text="Privacy" title="Privacy">\n'
        f'      <outline type="rss" text="Alpha" title="Alpha" xmlUrl="{known_url}"/>\n'
        '      <outline type="rss" text="Delta News" title="Delta News"'
        ' xmlUrl="https://delta.example.org/feed.xml" htmlUrl="https://delta.example.org/"/>\n'
        "    </outline>\n"
        "  </body>\n"
        "</opml>\n",
        encoding="utf-8",
    )
    return path


def test_import_opml_adds_only_the_new_feed_tagged_with_its_folder(cli, server, tmp_path):
    cli.write_config(commented_config(server))
    opml = write_opml(tmp_path, f"{server.url}/alpha.xml")

    result = cli("feeds", "import-opml", str(opml))

    assert "1 feed added" in result.stdout
    config = load_config(cli.config)
    assert [s.name for s in config.sources] == ["Alpha", "Beta", "Delta News"]
    delta = config.source("Delta News")
    assert delta.url == "https://delta.example.org/feed.xml"
    assert delta.tags == ("privacy",)


def test_export_opml_prints_opml_listing_every_feed(cli, server):
    cli.write_config(commented_config(server))

    result = cli("feeds", "export-opml")

    root = ET.fromstring(result.stdout.encode("utf-8"))
    assert root.tag == "opml"
    urls = [outline.get("xmlUrl") for outline in root.iter("outline")]
    assert urls == [f"{server.url}/alpha.xml", f"{server.url}/beta.xml"]


def test_import_opml_of_a_file_that_is_not_opml_fails_in_one_line(cli, server, tmp_path):
    cli.write_config(commented_config(server))
    before = cli.config.read_bytes()
    not_opml = tmp_path / "notes.opml"
    not_opml.write_text("These are my notes, not an OPML export.\n", encoding="utf-8")

    result = cli("feeds", "import-opml", str(not_opml), ok=False)

    assert_one_line_error(result)
    assert "OPML" in result.stderr
    assert cli.config.read_bytes() == before


# -- pause and resume ---------------------------------------------------------------------


def gone_config(server: FixtureServer) -> str:
    return (
        "settings:\n  host_delay: 0\n  pause_after: 5\n"
        f"sources:\n  - name: Gone\n    url: {server.url}/gone.xml\n"
    )


def fetch_a_gone_feed_three_times(cli, server: FixtureServer) -> None:
    server.routes["/gone.xml"] = lambda handler: Reply(404, b"not found", {"Content-Type": "text/plain"})
    cli.write_config(gone_config(server))
    for _ in range(3):
        cli("fetch", "--quiet", ok=False)


def test_a_feed_that_fails_repeatedly_is_paused_with_advice(cli, server):
    fetch_a_gone_feed_three_times(cli, server)

    gone = status_records(cli)["Gone"]

    assert gone["paused_since"]
    assert "the address is gone" in gone["advice"]


def test_resume_ends_the_pause(cli, server):
    fetch_a_gone_feed_three_times(cli, server)

    result = cli("feeds", "resume", "Gone")

    assert "resumed Gone" in result.stdout
    assert status_records(cli)["Gone"]["paused_since"] is None


def test_import_opml_skips_what_veille_cannot_fetch_and_reads_deep_folders(cli, server, tmp_path):
    cli.write_config(commented_config(server))
    deep = "".join(f'<outline text="level {n}">' for n in range(1500))
    opml = tmp_path / "reader.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
        '<outline text="odd" xmlUrl="feed://odd.example.org/rss" language="x-default"/>'
        f'{deep}<outline text="Deep One" xmlUrl="https://deep.example.org/feed.xml" language="x-default"/>'
        + "</outline>" * 1500 + "</body></opml>", encoding="utf-8")

    result = cli("feeds", "import-opml", str(opml))

    assert "skipped feed://odd.example.org/rss" in result.stderr and "1 feed added" in result.stdout
    deep_one = load_config(cli.config).source("Deep One")
    assert deep_one.language is None and len(deep_one.tags) == 1500


def test_import_opml_reads_a_raw_ampersand_in_a_feed_address(cli, server, tmp_path):
    cli.write_config(commented_config(server))
    opml = tmp_path / "reader.opml"
    opml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>t</title></head><body>'
        '<outline type="rss" text="Query feed" xmlUrl="https://q.example.org/rss?lang=fr&type=news"/>'
        "</body></opml>", encoding="utf-8")

    result = cli("feeds", "import-opml", str(opml))

    assert "1 feed added" in result.stdout
    assert load_config(cli.config).source("Query feed").url == "https://q.example.org/rss?lang=fr&type=news"


def test_tags_survive_an_opml_round_trip(cli, server, tmp_path):
    tagged = "  - name: Tagged\n    url: https://tagged.example.org/feed.xml\n    tags: [france, technopolice]\n"
    cli.write_config(commented_config(server) + tagged)
    exported = tmp_path / "out.opml"
    cli("feeds", "export-opml", "--out", str(exported))
    cli.write_config(commented_config(server))  # the same file without the tagged source

    cli("feeds", "import-opml", str(exported))

    assert load_config(cli.config).source("Tagged").tags == ("france", "technopolice")
