"""Who each article names: entities with exact offsets and keys that join spellings."""

import pytest

from veille.stages.entities import EntityTagger, load_gazetteer
from veille.text.keys import Aliases, normalise

from conftest import SEEDS


@pytest.mark.parametrize("name, key", [
    ("l'ICE", "ice"), ("l’ICE", "ice"), ("the ICE", "ice"), ("ICE", "ice"),
    ("La Quadrature du Net", "quadrature-du-net"), ("Sécurité Globale", "securite-globale"),
    ("Palantir's", "palantir"), ("Der Spiegel", "spiegel"), ("  Clearview   AI ", "clearview-ai"),
])
def test_keys_fold_case_accents_articles_and_elisions(name, key):
    assert normalise(name) == key


def test_aliases_join_names_that_share_no_letters():
    aliases = Aliases()
    aliases.add("amazon-web-services", ["Amazon Web Services", "AWS"])
    assert aliases.key("AWS") == aliases.key("Amazon Web Services") == "amazon-web-services"
    assert aliases.key("Microsoft") == "microsoft"


@pytest.fixture(scope="module")
def tagger():
    return EntityTagger()


def test_offsets_are_exact_and_labels_from_one_set(tagger):
    texts = [(p.read_text(encoding="utf-8"), lang) for p, lang in zip(sorted(SEEDS.glob("*.txt")),
                                                                       ["fr", "en", "en", "fr", "fr"])]
    for (text, _), entities in zip(texts, tagger.tag(texts)):
        assert entities
        for entity in entities:
            assert text[entity.start:entity.end] == entity.text
            assert entity.label in ("PERSON", "ORG", "LOC", "MISC")
        spans = [(e.start, e.end) for e in entities]
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "entities overlap"


def test_english_gpe_and_french_loc_are_both_loc(tagger):
    english, french = tagger.tag([("The police in Marseille and in Germany use drones.", "en"),
                                  ("La police de Marseille et celle d'Allemagne utilisent des drones.", "fr")])
    assert {e.key: e.label for e in english}.get("marseille") == "LOC"
    assert {e.key: e.label for e in french}.get("marseille") == "LOC"


def test_acronyms_match_only_as_written(tagger):
    (entities,) = tagger.tag([("Activists slipped on the ice outside the ICE office in Newark.", "en")])
    ice = [e for e in entities if e.key == "ice"]
    assert [e.text for e in ice] == ["ICE"]


def test_a_language_with_no_model_gets_gazetteer_entities_and_nothing_invented():
    tagger = EntityTagger()
    text = ("Frontex y la empresa Palantir firmaron un contrato, según la Comisión Europea. "
            "Ana García, vecina de Ceuta, no sabía nada.")
    (entities,) = tagger.tag([(text, "es")])
    keys = {e.key for e in entities}
    assert {"frontex", "palantir"} <= keys
    assert all(e.origin in ("gazetteer", "archive") for e in entities)
    assert "ana-garcia" not in keys  # no model, no guess
    assert tagger.describe("es").startswith("fallback es")
    assert all(text[e.start:e.end] == e.text for e in entities)


def test_a_configured_model_that_is_missing_falls_back_and_says_why():
    tagger = EntityTagger({"de": "de_core_news_sm_not_installed"})
    (entities,) = tagger.tag([("Die Bundespolizei und Frontex testen Drohnen an der Grenze zu Polen.", "de")])
    assert "frontex" in {e.key for e in entities}
    assert "not installed" in tagger.problems["de"]


def test_the_gazetteer_loads_and_covers_the_field():
    entries = load_gazetteer()
    keys = {e["key"] for e in entries}
    assert len(entries) >= 100
    assert {"palantir", "ice", "frontex", "cnil", "nso-group", "clearview-ai"} <= keys


def test_french_falls_back_to_the_small_model_when_the_medium_one_is_missing(monkeypatch):
    import veille.stages.entities as entities

    real = entities._load_model

    def without_md(name):
        if name == "fr_core_news_md":
            raise OSError("[E050] Can't find model 'fr_core_news_md'")
        return real(name)

    monkeypatch.setattr(entities, "_load_model", without_md)
    tagger = EntityTagger({"fr": "fr_core_news_md"})
    (found,) = tagger.tag([("Le maire de Marseille, Benoît Payan, a rencontré la CNIL à Paris.", "fr")])

    assert "fr_core_news_sm" in tagger.describe("fr")
    assert "using fr_core_news_sm instead" in tagger.problems["fr"]
    assert {"Marseille", "Paris"} <= {e.text for e in found}


def test_a_longer_name_the_model_reads_keeps_the_place_inside_it(tagger):
    (french,) = tagger.tag([("Elle enseigne à l'Université de Paris, pas à Paris même, "
                             "et travaille pour France Stratégie.", "fr")])
    found = [(e.text, e.label) for e in french]
    assert ("Université de Paris", "ORG") in found
    assert ("France Stratégie", "ORG") in found
    assert ("Paris", "LOC") in found, "the city named on its own is still the gazetteer's place"
    assert ("France", "LOC") not in found


def test_the_gazetteer_still_wins_over_a_model_span_that_is_not_one_name(tagger):
    (french,) = tagger.tag([("Selon la France et la Ligue des droits de l'Homme, rien ne change.", "fr")])
    assert [(e.text, e.label) for e in french] == [("France", "LOC"), ("Ligue des droits de l'Homme", "ORG")]


def test_a_leading_the_is_dropped_unless_it_belongs_to_the_name(tagger):
    (english,) = tagger.tag([("The court in The Hague ruled. The University of Cambridge said "
                              "the University of Oxford agreed.", "en")])
    texts = [e.text for e in english]
    assert "The Hague" in texts
    assert "University of Cambridge" in texts and "University of Oxford" in texts


def test_spans_end_at_names_not_at_elisions_or_function_words_and_known_misreadings_are_fixed(tagger):
    (fr, en) = tagger.tag([
        ("Le collectif dénonce les caméras de la promenade des Anglais à Nice, où Azur Vision Systèmes n’a pas "
         "répondu. L’Université d’Été des Mouvements Sociaux aura lieu à Bobigny. Le site Transiscope recense "
         "les alternatives.", "fr"),
        ("As demonstrated by Mijente, a Latinx community hub, tech companies distribute personal data.", "en"),
    ])
    names = {e.text: e.label for e in fr}
    assert all(not e.text.endswith(("’", "'", " des", " de", " du")) for e in fr), names
    assert "Anglais" not in names and names.get("promenade des Anglais") == "LOC"
    assert names.get("Transiscope") == "ORG"
    assert {e.text: e.label for e in en}.get("Latinx") == "MISC"
