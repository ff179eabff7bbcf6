from veille.language import detect

FR = ("La municipalité a signé un contrat de vidéosurveillance algorithmique avec une entreprise "
      "privée, sans débat au conseil municipal ni étude d'impact sur la vie privée des habitants.")
EN = ("The city council signed a facial recognition contract with a private company without any "
      "public debate or assessment of its impact on the privacy of residents.")
DE = ("Die Stadtverwaltung hat einen Vertrag über biometrische Videoüberwachung mit einer privaten "
      "Firma unterzeichnet, ohne öffentliche Debatte und ohne Datenschutz-Folgenabschätzung.")


def test_clear_text_is_detected_with_high_confidence():
    for text, code in ((FR, "fr"), (EN, "en"), (DE, "de")):
        result = detect(text)
        assert result.code == code
        assert result.confidence > 0.9


def test_detection_is_deterministic():
    sample = "Palantir ICE data contract police"  # short, ambiguous: the worst case for randomness
    answers = {detect(sample * 3).code for _ in range(20)}
    assert len(answers) == 1


def test_too_little_text_is_undetermined_with_a_reason_even_with_a_hint():
    result = detect("Nice, 2019", html_lang="fr")
    assert result.code == "und"
    assert result.confidence == 0.0
    assert "too little text" in result.reason and "hint was fr" in result.reason


def test_a_hint_does_not_overrule_clear_evidence():
    result = detect(EN, html_lang="fr", source_lang="fr")
    assert result.code == "en"


def test_hints_are_normalised():
    assert detect(FR, html_lang="fr-FR").reason.endswith("(agrees with hint)")


def test_detection_from_many_threads_at_once_is_right_from_the_first_call(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from veille import language

    monkeypatch.setattr(language, "_identifier", None)  # as in a fresh process
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda text: detect(text).code, [FR, EN, DE] * 8))
    assert codes == ["fr", "en", "de"] * 8


def test_a_mixture_with_no_clear_winner_is_undetermined_not_a_wild_guess(monkeypatch):
    from veille import language
    from veille.language import Candidate

    # What langdetect said of a page of Chinese lyrics interleaved with pinyin.
    monkeypatch.setattr(language, "_candidates", lambda text: [Candidate("sw", 0.43), Candidate("tl", 0.29),
                                                               Candidate("id", 0.28)])
    result = detect(EN)
    assert result.code == "und" and "no clear language (sw 0.43" in result.reason
    # ... unless a hint names one of the close candidates
    assert detect(EN, html_lang="tl").code == "tl"


def test_a_long_text_is_judged_by_all_of_it_not_its_start():
    text = (EN + " ") * 8 + "\n" + (FR + " ") * 40  # an untranslated English opening, then French
    assert len(text) > 5000
    assert detect(text).code == "fr"


# --------------------------------------------------------------------------
# shares: each language's part of the text, kept on the article
# --------------------------------------------------------------------------

def test_a_text_in_one_language_has_one_share_and_und_has_none():
    assert detect(FR).shares == (("fr", 1.0),)
    assert detect("Nice, 2019").shares == ()


def test_shares_are_stored_on_the_article_and_read_back_in_order(archive):
    from veille.models import Article

    shares = (("es", 0.52), ("en", 0.48))
    archive.save_article(Article(id="a1", url="https://x.example/a", source="s", text=FR, lang="es",
                                 lang_shares=shares), "2026-01-01T00:00:00Z")
    assert archive.get_article("a1").lang_shares == shares
    assert archive.list_articles()[0].lang_shares == shares


def test_an_archive_from_before_shares_upgrades_and_says_it_did_not_measure_them(tmp_path):
    import sqlite3

    from veille.models import Article
    from veille.store import MIGRATIONS, Archive

    folder = tmp_path / "archive"
    with Archive(folder) as archive:
        archive.save_article(Article(id="a1", url="https://x.example/a", source="s", text=FR, lang="fr"), "t1")
    db = sqlite3.connect(folder / "veille.db")
    db.executescript("ALTER TABLE articles DROP COLUMN lang_shares; PRAGMA user_version = 7;")
    db.close()
    with Archive(folder) as archive:
        assert archive.schema_version == len(MIGRATIONS)
        article = archive.get_article("a1")
        assert article.lang == "fr" and article.lang_shares == ()


def test_show_json_gives_the_shares_of_an_imported_file(cli, tmp_path):
    path = tmp_path / "note.txt"
    path.write_text(f"{FR}\n\n{FR}\n", encoding="utf-8")
    cli("import", str(path))
    (row,) = cli.json_lines("list")
    assert row["lang_shares"] == {"fr": 1.0}
    assert cli.json_lines("show", row["id"])[0]["lang_shares"] == {"fr": 1.0}
