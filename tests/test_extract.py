import pytest

from veille.errors import ExtractError
from veille.extract import extract, extract_fragment, strip_site_name

PARAGRAPHS = "".join(
    f"<p>Paragraph {i}: the prefecture deployed cameras with automated analysis in the old town, "
    f"and the city council was never consulted about the contract or its renewal.</p>"
    for i in range(6)
)


def page(title_tag, h1="Cameras everywhere in the old town", extra_head="", comments=""):
    return f"""<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>{title_tag}</title>
    <meta property="og:site_name" content="Surveillance Watchdog">{extra_head}</head><body>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li></ul></nav>
    <article><h1>{h1}</h1>{PARAGRAPHS}</article>
    <div id="comments" class="comments-area"><ol class="comment-list">{comments}</ol></div>
    <footer>We use cookies to improve your experience. Accept all cookies.</footer></body></html>"""


def test_title_without_the_site_name_the_page_appends():
    result = extract(page("Cameras everywhere in the old town | Surveillance Watchdog"), "https://w.example/a")
    assert result.title == "Cameras everywhere in the old town"
    assert result.site_name == "Surveillance Watchdog"
    assert result.html_lang == "en-GB"


def test_reader_comments_are_left_out():
    comments = "<li class='comment'><p>FIRST COMMENT this is outrageous and everyone should know it now.</p></li>"
    result = extract(page("x", comments=comments), "https://w.example/a")
    assert "FIRST COMMENT" not in result.text
    assert "Paragraph 5" in result.text


def test_canonical_and_alternates_are_read_from_the_head():
    head = ('<link rel="canonical" href="/a?x=1"><link rel="alternate" hreflang="fr" href="https://w.example/fr/a">')
    result = extract(page("x", extra_head=head), "https://w.example/a?utm_source=rss")
    assert result.canonical_url == "https://w.example/a?x=1"
    assert result.alternates == {"fr": "https://w.example/fr/a"}


@pytest.mark.parametrize("raw, site, expected", [
    ("Cameras in Nice – Le Monde", "Le Monde", "Cameras in Nice"),
    ("Le Monde | Cameras in Nice", "Le Monde", "Cameras in Nice"),
    ("Cameras in Nice - Tech - Le Monde", "Le Monde", "Cameras in Nice"),
    ("Police: the new cameras - what changes", None, "Police: the new cameras - what changes"),
    ("Nice - Marseille: two cities, one camera network", None, "Nice - Marseille: two cities, one camera network"),
])
def test_site_names_and_section_trails_are_stripped(raw, site, expected):
    assert strip_site_name(raw, site) == expected


@pytest.mark.parametrize("html", ["", "   ", "<html><head><title>Empty</title></head><body></body></html>"])
def test_an_empty_page_is_an_extract_error(html):
    with pytest.raises(ExtractError):
        extract(html, "https://w.example/empty")


def test_feed_content_gives_text_paragraph_by_paragraph():
    result = extract_fragment("<p>One <b>bold</b> claim.</p><p>Second&nbsp;point.</p><script>x()</script>")
    assert result.text == "One bold claim.\nSecond point."


@pytest.mark.parametrize("kw, expected", [
    # a logo <h1> that is the domain, with the article in the <title>
    (dict(h1="Internet-Law", html_title="Internet-Law » Verstößt der Ausschluss von Pseudonymen gegen Recht?",
          url="http://www.internet-law.de/2011/07/x.html"), "Verstößt der Ausschluss von Pseudonymen gegen Recht?"),
    # a candidate equal to the site name is never the title
    (dict(extracted="BMJV", html_title="BMJV | Transparenz bei Preisanpassungen", site_name="BMJV"),
     "Transparenz bei Preisanpassungen"),
    # the blog's name as <h1>, the post in og:title
    (dict(h1="Chinese Pinyin Lyrics", og_title="Zhi Neng Xiang Nian Ni - Jam Hsiao",
          html_title="Chinese Pinyin Lyrics: Zhi Neng Xiang Nian Ni - Jam Hsiao"), "Zhi Neng Xiang Nian Ni - Jam Hsiao"),
    # a slug in og:title loses to the real headline
    (dict(h1="18 Kindersitze im Test: Vier Modelle fallen durch", og_title="adac-kindersitztest-herbst-2018",
          html_title="18 Kindersitze im Test: Vier Modelle fallen durch | ADAC"), "18 Kindersitze im Test: Vier Modelle fallen durch"),
    # separators beyond the usual ones
    (dict(html_title="Aus! Aus! Alles vorbei! « SPREEBLICK", site_name="Spreeblick"), "Aus! Aus! Alles vorbei!"),
])
def test_the_title_is_never_the_site_name(kw, expected):
    from veille.extract import best_title

    values = dict(h1=None, og_title=None, html_title=None, extracted=None, site_name=None, url=None)
    values.update(kw)
    assert best_title(**values) == expected


def test_a_malformed_canonical_link_is_ignored_not_fatal():
    result = extract(page("x", extra_head='<link rel="canonical" href="http://[x/a">'), "https://w.example/a")
    assert result.canonical_url is None and "Paragraph 5" in result.text


def test_a_short_host_name_does_not_eat_title_parts():
    from veille.extract import best_title

    title = "Méditerranée : Frontex étend sa flotte de drones"
    assert best_title(h1=None, og_title=None, html_title=f"{title} | Observatoire", extracted=None,
                      site_name="Observatoire", url="http://x/observatoire/frontex.html") == title


def test_binary_data_is_refused_before_any_parser_sees_it():
    import random

    from veille.encoding import decode

    for junk in (random.Random(3).randbytes(50_000), b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40):
        with pytest.raises(ExtractError, match="binary data"):
            extract(decode(junk, "utf-8"), "https://example.org/image.html")
    page = "<html><body><article><p>" + "Caméras à Nice, données personnelles. " * 40 + "</p></article></body></html>"
    assert "Caméras" in extract(page, "https://example.org/a").text  # accents are text, not junk
