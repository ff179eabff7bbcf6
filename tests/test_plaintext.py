"""The plain-text cleaner, on shapes of furniture beyond the seeds."""

from veille.stages.plaintext import clean

BODY = [
    "Die Stadt Mannheim testet seit 2018 eine Videoüberwachung, die Bewegungsmuster automatisch auswertet.",
    "Datenschützer kritisieren, dass die Software auch Menschen erfasst, die nichts getan haben.",
    "Der Vertrag mit dem Hersteller läuft bis 2027 und wurde nie öffentlich ausgeschrieben.",
]


def page(*parts: str) -> str:
    return "\n\n".join(parts)


def test_title_is_the_first_real_line_after_furniture():
    result = clean(page("Startseite", "Netzwacht Netzwacht", "Mannheim überwacht weiter", *BODY))
    assert result.title == "Mannheim überwacht weiter"
    assert result.site_name == "Netzwacht"
    assert result.text.startswith(BODY[0])
    assert "Startseite" not in result.text


def test_comments_are_cut_whatever_their_count_or_language():
    for marker in ("12 Kommentare", "Leave a Reply", "3 comentarios", "Un commentaire", "1 Response"):
        result = clean(page("Titel", *BODY, marker, "Anna", "Das ist ja unglaublich!", "Reply"))
        assert "unglaublich" not in result.text, marker
        assert result.text.endswith(BODY[-1])


def test_cookie_and_newsletter_prompts_are_dropped_anywhere():
    result = clean(page(
        "Titel", BODY[0],
        "Wir verwenden Cookies, um Ihnen die beste Erfahrung zu bieten. Akzeptieren",
        BODY[1], "Subscribe to our newsletter for weekly updates", BODY[2],
    ))
    assert "Cookies" not in result.text and "newsletter" not in result.text
    assert all(sentence in result.text for sentence in BODY)


def test_related_article_teasers_at_the_end_are_dropped():
    result = clean(page("Titel", *BODY, "Read more", "Police drones over Paris", "The prefecture says..."))
    assert "drones" not in result.text


def test_a_first_line_that_is_prose_gives_a_short_title_and_stays_in_the_text():
    result = clean(page(*BODY))
    assert result.title == BODY[0]
    assert result.text.startswith(BODY[0])


def test_markdown_is_reduced_to_its_text():
    result = clean("# Drones **at** the border\n\nFrontex flies [drones](https://x.org) over the sea, "
                   "reports *Statewatch*, and nobody voted for it in any parliament.", markdown=True)
    assert result.title == "Drones at the border"
    assert "Frontex flies drones over the sea, reports Statewatch" in result.text


def test_an_attribution_line_names_the_author():
    result = clean(page("Titel", *BODY, "This article was written by Maria Gonzalez for Vigilancia."))
    assert result.author == "Maria Gonzalez"
