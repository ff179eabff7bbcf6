"""Rebuild bench/eval/ner_gold.jsonl from the hand annotations below.

The annotations are written as surface strings with a label, per paragraph; this
script finds every occurrence of each surface in the paragraph (whole words,
case-sensitive, longest surface first, no overlaps) and turns them into
character offsets. Where a surface occurs in a place that must not be annotated,
the occurrence is listed in `skip` (0-based index among that surface's raw
occurrences in the paragraph). Where one surface takes two labels in one
paragraph ("le projet Debian" ORG, "installer Debian" MISC), `At(label, surface,
i, ...)` gives the label to its i-th free occurrences (0-based, counting only the
occurrences not inside a longer name); every free occurrence must then get one.

Texts come from (see README.md; `fetch_sources.sh` downloads and unpacks them):
  * the seed articles as veille stores them: `veille --archive A import seeds/`
    then `veille --archive A show ID --json`  (--archive)
  * trafilatura 1.0.0 sdist tests/cache/*.html (--trafilatura-cache)
  * htmldate 1.4.0 sdist tests/cache/*.html (--htmldate-cache)
  extracted with `trafilatura.extract(html, include_comments=False)` (dev set);
  * Debian's debian-history 2.28 package, usr/share/doc/debian-history
    (--debian-history), and charset-normalizer 3.3.2's sdist data/ folder
    (--charset-normalizer): the French held-out set, as `veille import` stores
    each file (veille.text.encoding.decode, then veille.stages.extract.extract for .html,
    veille.stages.plaintext.clean for .txt).

    bash bench/eval/fetch_sources.sh /tmp/gold_src
    PYTHONPATH=src .venv/bin/python bench/eval/build_gold.py --sources /tmp/gold_src [--review]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "ner_gold.jsonl"
LABELS = ("PERSON", "ORG", "LOC", "MISC")


def _mk(label):
    return lambda *surfaces: [(s, label) for s in surfaces]


PER, ORG, LOC, MISC = _mk("PERSON"), _mk("ORG"), _mk("LOC"), _mk("MISC")


def At(label: str, surface: str, *free: int) -> list[tuple]:
    """`surface` as `label` at its free occurrences number `free` (see the docstring)."""
    return [(surface, label, free)]

# ---------------------------------------------------------------------------
# (a) seeds: paragraph = text.split("\n")[i]; id seed-NNN-pII with II = i.
#     Paragraphs not listed have no entities (all non-empty ones are emitted).
# ---------------------------------------------------------------------------
SEED_FILES = {
    "000": "seeds/000_ae36fcfe6f8373c6.txt",
    "002": "seeds/002_cdb768120f0b8caf.txt",
    "003": "seeds/003_bf1c28aafdd60c35.txt",
    "004": "seeds/004_489bb3f04310a64e.txt",
}
# Footer lines that veille's plain-text cleaner keeps today but did not when the set was
# built (2026-11): left out, so that the dev split stays the one the figures were measured on.
SEED_LEFT_OUT = {"004": {38, 40}}
SEEDS = {
    "000": {  # French translation of 002
        0: ORG("Mijente"),
        4: ORG("Mijente") + MISC("Latinx"),
        6: ORG("Mijente"),
        8: MISC("#NoTechForICE") + ORG("Immigration and Customs Enforcement") + LOC("États-Unis"),
        10: ORG("ICE", "Palantir") + LOC("États-Unis"),
        12: ORG("ICE", "Amazon Web Services", "Microsoft"),
        14: ORG("ICE"),
        16: MISC("#NoTechForICE"),
        18: ORG("Mijente"),
        20: ORG("Mijente"),
        24: ORG("Mijente"),
        30: PER("Julie Luebken") + ORG("Université de Cambridge", "LinkedIn"),
    },
    "002": {  # English original
        0: ORG("Mijente"),
        4: ORG("Mijente") + MISC("Latinx"),
        6: ORG("Mijente"),
        8: MISC("#NoTechForICE") + ORG("Immigration and Customs Enforcement") + LOC("United States"),
        10: ORG("ICE", "Palantir") + LOC("US"),
        12: ORG("ICE", "Amazon Web Services", "Microsoft"),
        14: ORG("ICE"),
        16: MISC("#NoTechForICE"),
        18: ORG("Mijente"),
        20: ORG("Mijente"),
        24: ORG("Mijente"),
        30: PER("Julie Luebken") + ORG("University of Cambridge", "LinkedIn"),
    },
    "003": {  # La Quadrature du Net, Technopolice, republished by Les Crises
        0: ORG("La Quadrature du Net"),
        2: MISC("Technopolice"),
        4: LOC("Nice") + ORG("Ligue des Droits de l’Homme", "FCPE", "CGT-Educ", "La Quadrature du Net")
        + MISC("Technopolice"),
        6: LOC("Nice", "Valenciennes", "Toulouse", "Saint-Étienne", "Strasbourg", "Paris"),
        8: ORG("La Quadrature", "CNIL", "Ligue des Droits de l’Homme", "CGT-Educ", "FCPE")
        + LOC("Nice", "Marseille", "Sud"),
        10: MISC("Technopolice"),
        12: MISC("Technopolice"),
        14: ORG("La Quadrature du Net"),
        16: MISC("Technopolice"),
        18: MISC("Technopolice"),
        22: MISC("Technopolice") + LOC("France"),
        26: MISC("Technopolice"),
        28: ORG("La Quadrature du Net"),
    },
    "004": {  # Framasoft forum
        0: MISC("Université d’Été des Mouvements Sociaux et de la Solidarité", "UEMSS") + LOC("Bobigny")
        + ORG("Attac", "Ritimo", "Globenet", "Convergence Services Publics", "Transiscope", "April",
              "L’Établi numérique", "La Dérivation"),
        2: MISC("UEMSS"),
        6: ORG("Amazon", "Facebook") + MISC("ParcoursSup"),
        16: PER("Rȯse") + MISC("Mobilizon"),
        17: PER("David Revoy") + MISC("CC-By"),
    },
}

# ---------------------------------------------------------------------------
# (b) English and (c) French pages: (file, anchor, cut, annotations[, skip])
#     anchor: the extracted line that starts with this string;
#     cut: None (whole line) or (first words, last words) of a run of sentences.
# ---------------------------------------------------------------------------
T, H = "trafilatura", "htmldate"
EN = [
    (T, "reuters.com.parasite.html", "Brad Pitt picked up", None,
     PER("Brad Pitt", "Laura Dern") + MISC("Once Upon A Time in Hollywood", "Marriage Story") + ORG("Netflix")),
    (T, "reuters.com.parasite.html", "Martin Scorsese’s", None,
     PER("Martin Scorsese", "Robert De Niro", "Al Pacino", "Joe Pesci") + ORG("Netflix") + MISC("The Irishman")),
    (T, "reuters.com.parasite.html", "In television, Jennifer Aniston", None,
     PER("Jennifer Aniston", "Billy Crudup") + MISC("The Morning Show", "Apple TV+", "Critics Choice")),
    (T, "reuters.com.parasite.html", "Additional reporting by", None,
     PER("Steve Gorman", "Marguerita Choy", "Nick Zieminski", "Simon Cameron-Moore")),
    (T, "dw.com.colonial.html", "The most notorious of the three", ("The most notorious", "Rwanda and Burundi."),
     PER("Carl Peters") + LOC("East Africa", "Tanzania", "Rwanda", "Burundi") + ORG("German East Africa Company")),
    (T, "dw.com.colonial.html", "Lüderitzstrasse will become", None,
     LOC("Lüderitzstrasse", "Cornelius-Fredericks-Strasse", "Nachtigalplatz", "Manga-Bell-Platz")
     + MISC("African", "Cameroonian")),
    (T, "dw.com.colonial.html", "The move has been met with resistance", None,
     LOC("Germany", "US", "Berlin", "German Reich", "East Africa") + ORG("Alternative for Germany", "AfD")
     + PER("Bruce Gilley", "Gilley") + MISC("German", "The Case for Colonialism")),
    (T, "dw.com.colonial.html", "The city of Berlin itself", None,
     LOC("Berlin", "Europe", "Africa") + MISC("African", "Berlin Conference") + PER("Otto von Bismarck")),
    (T, "vice.com.amazon.html", "Last week, NASA released", None,
     ORG("NASA") + LOC("Brazil", "Amazonas", "Rondônia") + MISC("Global Fire Emissions Database")),
    (T, "vice.com.amazon.html", "“The state of Amazonas", None,
     LOC("Amazonas") + PER("Mark Parrington") + ORG("European Center for Medium-Range Weather Forecasts")),
    (T, "vice.com.amazon.html", "Satellite imagery has tracked", None,
     LOC("São Paulo") + PER("Gustavo Faleiros") + ORG("InfoAmazonia")),
    (T, "vice.com.amazon.html", "In the middle of the day on Monday", None, LOC("São Paulo", "Brazil")),
    (T, "wikimediafoundation.org.turkey.html", "Today, on Wikipedia’s 19th birthday", None,
     ORG("Wikipedia", "Wikimedia Foundation", "Constitutional Court of Turkey", "Turkish Constitutional Court")
     + LOC("Turkey") + MISC("Turkish")),
    (T, "wikimediafoundation.org.turkey.html", "“We are thrilled to be reunited", None,
     LOC("Turkey") + PER("Katherine Maher") + ORG("Wikimedia Foundation", "Wikimedia") + MISC("Turkish")),
    (T, "wikimediafoundation.org.turkey.html", "We are actively reviewing", None,
     ORG("Constitutional Court of Turkey", "European Court of Human Rights") + LOC("Turkey")),
    (T, "wikimediafoundation.org.turkey.html", "More than 85 percent", None,
     ORG("Wikipedia", "Turkish Wikipedia") + MISC("English", "Turkish")),
    (T, "theguardian.com.academics.html", "The report by the University and College Union", None,
     ORG("University and College Union")),
    (T, "theguardian.com.academics.html", "Chi Onwurah, the Labour MP", None,
     PER("Chi Onwurah", "Onwurah") + ORG("Labour") + LOC("Newcastle Central", "UK")),
    (T, "theguardian.com.academics.html", "One academic told the authors", None, []),
    (T, "theguardian.com.academics.html", "Jo Grady, the UCU general secretary", None, PER("Jo Grady") + ORG("UCU")),
    (T, "vancouversun.com.microsoft.html", "Speaking from a stage", None,
     ORG("Microsoft") + LOC("Redmond", "Washington") + PER("Satya Nadella")),
    (T, "vancouversun.com.microsoft.html", "Co-founder Bill Gates", None,
     PER("Bill Gates") + LOC("British Columbia") + ORG("Carbon Engineering")),
    (T, "vancouversun.com.microsoft.html", "Amazon.com Inc., the world’s", None, ORG("Amazon.com Inc.")),
    (T, "vancouversun.com.microsoft.html", "Both Microsoft and Amazon", None,
     ORG("Microsoft", "Amazon", "Chevron Corp") + LOC("U.S.")),
    (T, "nature.com.telescope.html", "The Five-hundred-meter Aperture", None,
     LOC("Five-hundred-meter Aperture Spherical Radio Telescope", "FAST", "China") + MISC("Chinese")
     + PER("Di Li")),
    (T, "nature.com.telescope.html", "Since testing began in 2016", None,
     MISC("Chinese") + PER("Zhiqiang Shen") + LOC("FAST")
     + ORG("Shanghai Astronomical Observatory", "Chinese Academy of Sciences")),
    (T, "nature.com.telescope.html", "“I’m super excited", None,
     PER("Maura McLaughlin") + ORG("West Virginia University") + LOC("Morgantown", "FAST", "Milky Way")),
    (T, "nature.com.telescope.html", "The complex project has not been", None,
     LOC("FAST", "Arecibo Observatory", "Puerto Rico")),
    (T, "threatpost.com.android.html", "The Android ransomware, dubbed", None,
     MISC("Android", "Android/Filecoder.C") + ORG("Reddit", "XDA Developers")),
    (T, "threatpost.com.android.html", "“Using victims’ contact lists", None,
     PER("Lukas Stefanko") + ORG("ESET") + MISC("Android/Filecoder.C")),
    (T, "threatpost.com.android.html", "Researchers urged Android victims", None,
     MISC("Android", "Google Play", "Agent Smith", "Monokle")),
    (T, "theverge.com.ios13.html", "iOS 13’s third developer beta", None,
     MISC("iOS 13", "FaceTime", "iPhone XS", "XS Max") + PER("Mike Rundle") + ORG("Twitter")),
    (T, "theverge.com.ios13.html", "On Twitter, Dave Schukin", None,
     ORG("Twitter") + PER("Dave Schukin", "Schukin") + MISC("ARKit")),
    (T, "github.blog.spiceland.html", "Every March we recognize", ("Erin Spiceland is", "attends powwows."),
     MISC("Choctaw", "Chickasaw", "Native American") + PER("Erin Spiceland", "Erin")
     + ORG("SpaceX") + LOC("Georgia", "Los Angeles")),
    (T, "github.blog.spiceland.html", "When faced with the choice", ("I did a lot of", "later successes."),
     MISC("Java", "JSP", "Python", "JavaScript", "CSS", "Node.js", "MySQL", "PostgreSQL")),
    (T, "github.blog.spiceland.html", "- Kathy Pham", None, PER("Kathy Pham") + ORG("Mozilla", "Harvard")),
    (T, "nationalgeographic.co.uk.goats.html", "It wasn’t always this way.", None, LOC("Redonda", "Antigua")),
    (T, "nationalgeographic.co.uk.goats.html", "“By and large, conservation in Antigua", None,
     LOC("Antigua", "Redonda") + PER("Natalya Lawrence") + ORG("Environmental Awareness Group")),
    (T, "nationalgeographic.co.uk.goats.html", "“Those goats were so smart,”", None,
     PER("Shanna Challenger") + MISC("Redonda Restoration Programme")),
    (T, "nationalgeographic.co.uk.goats.html", "At the same time, that larger group", None,
     ORG("Fauna and Flora International", "Wildlife Management International", "EAG",
         "British Mountaineering Council") + LOC("Redonda")),
    (T, "salon.com.emissions.html", "Perhaps surprisingly, total emissions", ("Perhaps", "burning less coal."), ORG("Rhodium Group") + LOC("U.S.")),
    (T, "salon.com.emissions.html", "“It’s a good-news bad-news story,”", None,
     PER("Trevor Houser") + ORG("Rhodium")),
    (T, "dw.com.uncork.html", "The pinot noir of the Ahr Valley", None,
     LOC("Ahr Valley", "Burgundy") + ORG("Meyer-Näkel", "Deutzerhof", "Jean Stodden")),
    (T, "dw.com.uncork.html", "Following the death of his respected", None, PER("Gerhard", "Alexander Stodden")),
    (T, "boingboing.net.millenials.html", "The latest podcast from the Canadaland", None,
     ORG("Canadaland") + MISC("Dynasties") + PER("Arshy Mann") + LOC("Canada")),
    (T, "knowtechie.com.rally.html", "Rocket League is gearing up", None,
     MISC("Rocket League", "Rocket Pass", "Fortnite")),
    (T, "phys.org.tool.html", "The tool was found on Zandmotor",
     ("The tool was found", "icy tundra with very few trees."),
     LOC("Zandmotor", "The Hague", "North Sea", "Doggerland")),
]

FR = [
    (T, "franceculture.fr.idees.html", "Serions-nous entrés", ("Serions-nous entrés", "disait Esope."),
     PER("Paul Valadier", "Esope") + MISC("Le débat permanent")),
    (T, "franceculture.fr.idees.html", "Serions-nous entrés",
     ("Le site d’information Les Jours", "se dit “calme et déterminé” »."),
     ORG("Les Jours", "Élysée") + LOC("France") + PER("Emmanuel Macron")),
    (T, "franceculture.fr.idees.html", "Les éditions Allia", None,
     ORG("Allia") + PER("Éric Chauvier") + MISC("La crise commence où finit le langage")),
    (T, "franceculture.fr.idees.html", "La dernière livraison de la revue Effeuillage",
     ("La dernière livraison", "selon Kriss Graffiti."),
     ORG("Effeuillage", "CELSA", "Fip") + PER("Laura Frémy", "Kriss Graffiti")),
    (T, "franceculture.fr.idees.html", "Revue Esprit", None,
     ORG("Esprit") + MISC("Quand le langage travaille") + PER("Anne Dujin")),
    (T, "blog.mondediplo.net.turpitude.html", "Sung Il-kwon", None,
     PER("Sung Il-kwon") + MISC("En Corée, la politique du rayon de soleil") + ORG("Le Monde diplomatique")),
    (T, "blog.mondediplo.net.turpitude.html", "Deux vies évoluant", ("Deux vies évoluant", "urbain de Séoul."),
     PER("Hwank Sok-yong", "Park Minwoo") + MISC("Au soleil couchant") + LOC("Séoul")),
    (T, "blog.mondediplo.net.turpitude.html", "C’est Jeong Uhee", ("Son ami, Kim Minwoo", "de ses écrits."),
     PER("Kim Minwoo", "Cha Soona", "Uhee")),
    (T, "blog.mondediplo.net.turpitude.html", "À travers ces vies", ("D’une plume alerte", "juguler, le suicide."),
     PER("Hwang sok-yong") + MISC("Hwang Sok-yong, un romancier hors norme")
     + ORG("Organisation de coopération économique", "OCDE")),
    (T, "psl.eu.luniversite.html", "Située au cœur de Paris", None, LOC("Paris") + ORG("Université PSL", "PSL")),
    (T, "psl.eu.luniversite.html", "Original en France", None,
     LOC("France") + ORG("PSL", "Times Higher Education", "Quacquarelli Symonds", "US News", "UCL", "ANU",
                         "Columbia", "Peking University")),
    (T, "psl.eu.luniversite.html", "Au nom de toute la communauté PSL",
     ("Au nom de toute la communauté PSL", "structurant le paysage francilien."),
     ORG("PSL", "Université PSL", "Sorbonne Université", "Université de Paris", "Université Paris-Saclay")
     + PER("Alain Fuchs")),
    (T, "sauvonsluniversite.com.spip.html", "Les discussions et réunions entre collègues", None,
     PER("Blanquer") + ORG("Coordination nationale de la Chaîne des Bahuts")),
    (T, "sauvonsluniversite.com.spip.html", "* De plus, un responsable syndical", None,
     ORG("Conseil Interacadémique de l’Éducation Nationale", "CIEN") + LOC("Île-de-France") + PER("Blanquer")),
    (T, "sauvonsluniversite.com.spip.html", "L’AG Éducation IDF organise", None,
     ORG("AG Éducation IDF") + LOC("Bourse du Travail", "Paris", "salle Louise Michel", "rue du Château d’Eau",
                                  "République")),
    (T, "sauvonsluniversite.com.spip.html", "Elle soutient la mobilisation lycéenne", None,
     ORG("UNL", "MNL", "FIDL", "Youth For Climate")),
    (T, "soundofscience.fr.1927.html", "En réaction à la candidature", None,
     PER("Emmanuel Macron", "Thierry Coulhon")
     + ORG("Haut Conseil de l’évaluation de la recherche et de l’enseignement supérieur", "HCERES")),
    (T, "soundofscience.fr.1927.html", "Si la candidature a peu de chance", None, MISC("LRU")),
    (T, "soundofscience.fr.1927.html", "C’est peu dire que les réformes", ("Ambitionnant de renforcer", "est… négatif."),
     LOC("France") + MISC("Crédit d’Impôt Recherche") + ORG("France Stratégie")),
    (T, "laviedesidees.fr.evaluation.html", "Ce système est à présent en œuvre", None,
     ORG("AERES", "Agence d’évaluation de la recherche et de l’enseignement supérieur")),
    (H, "la-bas.org.porte.html", "Laurence Bloch, directrice", None,
     PER("Laurence Bloch") + ORG("France Inter", "Télérama")),
    (H, "la-bas.org.porte.html", "Comme tu le sais, ami abonné", None,
     ORG("Là-bas si j’y suis") + PER("Patrick Balkany", "Pascal Praud", "Dillah Teibi")),
    (H, "la-bas.org.porte.html", "Haute tension, hauts risques", ("Réponses de nos invités", "comédien, réalisateur."),
     MISC("Fête de l’Huma") + PER("Franciella PATUROT", "Jérôme RODRIGUES", "Olivier BESANCENOT",
                                  "Yvan LE BOLLOC’H")
     + LOC("Île-de-France") + ORG("Nouveau parti anticapitaliste")),
    (H, "la-bas.org.porte.html", "Que faire pour l’école publique", None,
     PER("Blanquer", "Daniel Mermet", "Véronique Decker") + MISC("fête de l’Humanité") + ORG("Bloquons Blanquer")),
    (H, "la-bas.org.porte.html", "Ami abonné, tu as sûrement vu", None,
     PER("Cédric Villani") + ORG("La République en marche", "RPR") + LOC("Paris")),
    (H, "la-bas.org.porte.html", "Pour Éric Zemmour", None,
     PER("Éric Zemmour", "Édouard Drumont", "Gérard Noiriel", "Daniel Mermet") + LOC("France") + MISC("Juif")),
    (H, "la-bas.org.porte.html", "L’histoire de la vente de la branche énergie", None,
     ORG("Alstom", "Général Electric", "FBI") + PER("James Bond", "Emmanuel Macron")),
    (H, "la-bas.org.porte.html", "Les urgences hospitalières sont en grève",
     ("Plus de 150 établissements", "de l’hôpital de Chinon."),
     LOC("France", "Chinon") + PER("Dillah Teibi")),
    (H, "paris-luttes.info.html", "Rémi Fraisse reçoit la grenade", None, PER("Rémi Fraisse")),
    (H, "paris-luttes.info.html", "Le meurtrier de Rémi", None,
     PER("Rémi", "Fraisse") + LOC("Toulouse") + ORG("Cour de cassation")),
    (H, "revolutionpermanente.fr.antonin.html", "Le 15 avril dernier", ("Le 15 avril dernier", "le 26 janvier à Paris."),
     ORG("Zouaves Paris", "Milice Paris", "Génération Identitaire", "NPA") + LOC("Paris")),
    (H, "revolutionpermanente.fr.antonin.html", "Le 15 avril dernier",
     ("En revanche, plusieurs militants", "maintien en détention d’Antonin."),
     PER("Antonin Bernanos", "Charles Pratz", "Antonin") + LOC("Fresnes")),
    (H, "revolutionpermanente.fr.antonin.html", "La vérité pour Adama", None,
     ORG("La vérité pour Adama", "Nouveau Parti Anticapitaliste", "Collectif urgence notre police assassine",
         "Union Syndicale Solidaires", "Madri Per Roma Citta’ Aperta", "Grupo Apoyo Alfon",
         "Madres Contra la Represión") + PER("Yannis Youlountas")),
    (H, "wara-enforcement.org.guinee.html", "La Justice de paix de Macenta", None,
     ORG("Justice de paix de Macenta", "WARA") + LOC("Guinée") + PER("Pokpa Soropogui")),
    (H, "wara-enforcement.org.guinee.html", "Ziama est l’une des dernières", None,
     LOC("Ziama") + ORG("WCF", "Wild Chimpanzés Fundation", "WARA")),
    (H, "wara-enforcement.org.guinee.html", "L’ONG Faune et Flore Internationale", None,
     ORG("Faune et Flore Internationale", "FFI") + PER("Toupou Goéguai") + LOC("Macenta")),
    (H, "wara-enforcement.org.guinee.html", "Charlotte Houpline, fondatrice", None,
     PER("Charlotte Houpline") + ORG("WARA")),
    (H, "cric-grenoble.info.radio.html", "Qui aurait cru que radio", ("La volonté d’indépendance", "être diffusée le lendemain."),
     ORG("Radio Kaléidoscope", "Kaléidoscope")),
    (H, "cric-grenoble.info.radio.html", "- Parloirs libres", ("Les émissions avaient lieu", "semi-liberté de Grenoble."),
     ORG("Kaléidoscope") + LOC("Maison d’arrêt de Varces", "Grenoble")),
    (H, "loldf.org.html", "En début de semaine", ("Les propositions du rapport Théry", "dans nos familles ?"),
     PER("Théry", "Marie Mesnil", "Laurence Brunet")),
    (H, "mediapart.fr.violences.html", "Le cri du cœur de David Dufresne", None,
     PER("David Dufresne") + MISC("Assises internationales du journalisme de Tours", "Grand Prix du journalisme",
                                 "Allo Place Beauvau")),
    (H, "mediapart.fr.violences.html", "Des difficultés techniques", None,
     PER("Ivan Du Roy", "Ludo Symbille") + ORG("Bastamag")),
    (H, "mediapart.fr.violences.html", "Ainsi dans les cortèges", None, PER("Rémy Buisine") + ORG("Brut")),
    (H, "mediapart.fr.violences.html", "Guillaume Goubert, Directeur", None,
     PER("Guillaume Goubert") + ORG("La Croix")),
]


# ---------------------------------------------------------------------------
# (d) French held-out set: (origin, file, anchor, cut, annotations). Paragraphs as
#     `veille import` stores the file: a line of the extracted text for .html, a
#     block between blank lines for .txt (hard-wrapped text keeps its "\n").
#     Annotated from the text alone, before any model had been run on it.
# ---------------------------------------------------------------------------
D, C = "debian-history", "charset-normalizer"
DH, DR, DM, DI, DL = ("docs/detailed.fr.html", "docs/releases.fr.html", "docs/manifesto.fr.html",
                      "docs/intro.fr.html", "docs/leaders.fr.html")
FR_HELDOUT = [
    (D, DH, "Debian a été créée en août 1993", None,
     ORG("Debian", "Purdue", "GNU", "The Free Software Foundation") + PER("Ian Murdock", "Richard Stallman")
     + MISC("General Public Licence", "GPL")),
    (D, DH, "Les versions 0.01 jusqu'à 0.90", None, MISC("Debian") + PER("Ian Murdock")),
    (D, DH, "« La version 0.91 de Debian", None, MISC("Debian")),
    (D, DH, "« Une grande partie de l'année 1994", None, ORG("Debian") + PER("Ian Jackson")),
    (D, DH, "Ian Murdock fait aussi remarquer", None,
     PER("Ian Murdock") + MISC("Debian 0.93R6", "Debian", "Debian 1.0")),
    (D, DH, "Durant le mois d'août 1995", None,
     MISC("Debian", "Motorola m68k", "Atari Medusa 68040", "PowerPC")
     + PER("Hartmut Koptein", "Vincent Renardias", "Martin Schulze")),
    (D, DH, "À partir de ce moment, le projet Debian", None, ORG("Debian") + MISC("Linux", "GNU Hurd", "BSD")),
    (D, DH, "Un des tout premiers membres du projet", None, PER("Bill Mitchell") + MISC("Linux")),
    (D, DH, "« [...] On devait être entre", None, MISC("Debian")),
    (D, DH, "« [...] Je me souviens que l'équipe initiale", None,
     PER("Ian Murdock", "Ian Jackson", "Ian", "Dan Quinlan", "Matt Welsh")),
    (D, DH, "Aux tout premiers pas du projet", ("Chaque paquet serait composé", "les fichiers d'un paquet."),
     MISC("Debian") + PER("Ian Murdock")),
    (D, DH, "Ian Jackson a ensuite rapidement repris", None, PER("Ian Jackson") + MISC("Debian")),
    (D, DH, "C'est à ce moment qu'un débat", ("Après de nombreuses versions", "pour en examiner le contenu."),
     MISC("Debian", "Unix")),
    (D, DH, "Lorsque Ian Murdock quitta Debian", None,
     PER("Ian Murdock", "Bruce Perens", "Bruce") + At("ORG", "Debian", 0) + At("MISC", "Debian", 1, 2, 3, 4)
     + MISC("Linux for Hams", "Linux")),
    (D, DH, "« Bruce fut le candidat naturel", None, PER("Bruce") + ORG("Debian")),
    (D, DH, "Il lança un certain nombre d'éléments importants", None,
     At("ORG", "Debian", 0) + At("MISC", "Debian", 1)
     + MISC("Contrat Social de Debian", "Open Hardware Project", "Linux")),
    (D, DH, "Bruce Perens aussi mena l'effort", None,
     PER("Bruce Perens") + ORG("Software in the Public Interest", "Debian")),
    (D, DH, "Bruce Perens a été remplacé par Ian Jackson", None,
     PER("Bruce Perens", "Ian Jackson") + ORG("Projet Debian")),
    (D, DH, "Ian Jackson est devenu le responsable", None,
     PER("Ian Jackson", "Tim Sailer", "Bruce Perens", "Ian Murdock", "Martin Schulze", "Dale Scheetz", "Nils Lohner")
     + ORG("Projet Debian", "Software in the Public Interest")),
    (D, DH, "La version 2.0 de Debian (Hamm)", None,
     At("MISC", "Debian", 0) + At("ORG", "Debian", 1) + MISC("Hamm", "Intel i386", "Motorola 68000", "C")),
    (D, DH, "Wichert Akkerman succéda à Ian Jackson", None,
     PER("Wichert Akkerman", "Ian Jackson") + ORG("Projet Debian") + MISC("Debian 2.1")),
    (D, DH, "Dans la version 2.1 de Debian (Slink)", None, MISC("Debian", "Slink", "Alpha", "Sparc", "X-Windows")),
    (D, DH, "Le 21 avril 1999, l'entreprise Corel", ("Le 21 avril 1999", "l'environnement de bureau KDE."),
     ORG("Corel") + At("ORG", "KDE", 0) + At("MISC", "KDE", 1) + At("ORG", "Debian", 0) + At("MISC", "Debian", 1)
     + MISC("Linux")),
    (D, DH, "Un nouveau et unique portage de Debian", None, MISC("Debian", "Hurd")),
    (D, DH, "Les développeurs de Debian se sont retrouvés", None,
     ORG("Debian") + MISC("DebConf", "Debconf0") + LOC("France", "Bordeaux")),
    (D, DH, "Debian 2.2 (Potato) est sortie", None,
     MISC("Debian 2.2", "Potato", "Intel i386", "Motorola 68000", "Alpha", "SUN Sparc", "PowerPC", "ARM")
     + ORG("Debian")),
    (D, DH, "« [...] nous avons utilisé le système sloccount", ("nous avons utilisé", "de Debian 2.2 (Potato)."),
     PER("David A. Wheeler") + MISC("Debian 2.2", "Potato")),
    (D, DH, "« [...] nous avons utilisé le système sloccount", ("Nous avons également montré", "XFree86, etc.)."),
     MISC("Debian", "Debian 2.2", "COCOMO", "C", "C++", "LISP", "Shell", "Mozilla", "Linux", "PM3", "XFree86")),
    (D, DH, "À cette époque, certaines des sociétés", None,
     MISC("Debian", "Linux") + ORG("Corel", "Stormix", "Progeny")),
    (D, DH, "Le gel de la prochaine version a débuté", ("Toutefois, pendant cette durée", "ces tâches spécifiques."),
     MISC("Debian 2.2", "Woody") + PER("Ben Collins", "Bdale Garbee") + ORG("Debian Junior", "Debian Med", "Debian")),
    (D, DH, "La version Sarge a connu", None, MISC("Sarge", "OpenOffice", "Firefox", "Thunderbird")),
    (D, DH, "Cette version incluait les efforts des sous-projets", None,
     ORG("Debian-Edu", "Skolelinux", "Debian-Med", "Debian-Accessibility")),
    (D, DH, "Debian 4.0 Etch a été publiée", None, MISC("Debian 4.0 Etch", "Sarge", "AMD64") + ORG("Debian")),
    (D, DH, "Debian 5.0 Lenny a été publiée", None, MISC("Debian 5.0 Lenny", "Etch", "ARM") + ORG("Debian")),
    (D, DH, "Avec la publication de Debian Lenny", None, MISC("Debian Lenny", "Lenny")),
    (D, DH, "Toutefois et bien que le gel était attendu", None, MISC("Squeeze", "DebConf") + LOC("New York")),
    (D, DH, "Debian 7.0 Wheezy a été publiée", None, MISC("Debian 7.0 Wheezy", "Debian")),
    (D, DH, "James Troup a rapporté", None, PER("James Troup")),
    (D, DH, "Ce concept de gérer les archives de Debian", None, MISC("Debian") + PER("Bdale Garbee")),
    (D, DH, "Le 1er mars 2001, Christopher Matthew Rutter", None,
     PER("Christopher Matthew Rutter", "Christopher") + ORG("Debian") + MISC("ARM")),
    (D, DH, "Le 28 mars 2001, Fabrizio Polacco", None, PER("Fabrizio Polacco", "Fabrizio") + ORG("Debian")),
    (D, DH, "Le 21 juillet 2002, Martin Butterweck", None, PER("Martin Butterweck", "Martin") + ORG("Debian")),
    (D, DH, "Le 20 novembre 2002 aux environs", ("Le 20 novembre 2002", "a pris feu."), ORG("Université de Twente")),
    (D, DH, "Le 20 novembre 2002 aux environs", ("Le NOC hébergeait", "vers les Pays-Bas."),
     ORG("Debian") + LOC("US", "États-Unis", "Pays-Bas")),
    (D, DH, "Le 19 novembre 2003 à 17:00 UTC", None, []),
    (D, DH, "Le 9 mai, Manuel Estrada Sainz", None,
     PER("Manuel Estrada Sainz", "Andrés García Solier") + LOC("Valence", "Espagne")),
    (D, DH, "Manuel Estrada Sainz et Andrés García seront regrettés.", None,
     PER("Manuel Estrada Sainz", "Andrés García")),
    (D, DH, "Le 30 juillet, Jens Schmalzing", None,
     PER("Jens Schmalzing") + LOC("Munich", "Allemagne") + ORG("Debian") + MISC("PowerPC", "Mac-on-Linux")),
    (D, DH, "Thiemo Seufer (alias ths)", None,
     PER("Thiemo Seufer") + MISC("MIPS", "MIPSEL") + At("MISC", "Debian", 0) + At("ORG", "Debian", 1) + ORG("QEMU")),
    (D, DH, "Frans Pop (alias fjp)", None,
     PER("Frans Pop", "Frans") + At("ORG", "Debian", 0, 2) + At("MISC", "Debian", 1)
     + MISC("S/390", "Guide de l'installation")),
    (D, DH, "Adrian von Bidder (alias cmot)", None,
     PER("Adrian von Bidder", "Adrian") + ORG("debian.ch", "Debian Suisse") + MISC("Debian")),
    (D, DH, "Ray Dassen (alias jdassen)", ("Ray Dassen (alias jdassen)", "avec l'équipe GNOME."),
     PER("Ray Dassen", "Ray") + ORG("Debian", "Debian GNOME", "GNOME")),
    (D, DH, "Peter Miller est décédé", None,
     PER("Peter Miller", "Peter") + ORG("Debian") + MISC("GNU gettext", "Recursive Make Considered Harmful")),
    (D, DH, "Clytie Siddall est décédée", ("Clytie contribuait depuis longtemps", "entre 2005 et 2007."),
     PER("Clytie") + At("MISC", "Debian", 0) + At("ORG", "Debian", 1) + ORG("GNOME")),
    (D, DH, "Ian Murdock, le fondateur du projet Debian", ("Ian Murdock, le fondateur", "en août 1993."),
     PER("Ian Murdock", "Ian") + ORG("Debian")),
    (D, DH, "Ian Murdock, le fondateur du projet Debian", ("Inspiré selon ses mots", "la croissance et l'admiration."),
     MISC("Linux", "GNU") + PER("Linus Torvalds", "Ian") + At("MISC", "Debian", 0) + At("ORG", "Debian", 1)),
    (D, DH, "Le projet Debian continue son travail", None, ORG("Debian") + MISC("Sid", "Toy Story 1")),
    (D, DR, "Debian 0.93R6 (novembre 1995)", ("Le premier serveur", "de la version 0.93R6."),
     PER("Bdale Garbee") + ORG("HP")),
    (D, DR, "Debian 1.0 n'est jamais parue", ("Debian 1.0 n'est jamais parue", "déclarée radiée."),
     MISC("Debian 1.0") + ORG("InfoMagic") + At("MISC", "Debian", 0) + At("ORG", "Debian", 1)),
    (D, DR, "L'hébergement de master.debian.org", None,
     ORG("HP", "i-Connect.Net") + PER("Michael Neuffer", "Shimon Shapiro") + At("ORG", "Debian", 0)
     + At("MISC", "Debian", 1)),
    (D, DR, "Debian 1.1 Buzz (17 juin 1996)", ("Debian 1.1 Buzz", "qui produisait ces films."),
     MISC("Debian 1.1 Buzz", "Toy Story") + At("MISC", "Debian", 0) + At("ORG", "Debian", 1)
     + PER("Buzz Lightyear", "Buzz l'éclair", "Bruce Perens", "Ian Murdock") + ORG("Pixar")),
    (D, DR, "Debian 1.3 Bo (5 juin 1997)", None, MISC("Debian 1.3 Bo") + PER("Bo Beep")),
    (D, DR, "Debian 2.0 Hamm (24 juillet 1998)", None,
     MISC("Debian 2.0 Hamm", "Debian") + ORG("Motorola") + PER("Ian Jackson")),
    (D, DR, "Debian 2.1 Slink (sortie le 9 mars 1999)", ("Debian 2.1 Slink", "de la suite officielle."),
     MISC("Debian 2.1 Slink", "Alpha", "SPARC") + PER("Wichert Akkerman")),
    (D, DR, "Debian 2.2 Potato (parue le 15 août 2000)", None,
     MISC("Debian 2.2 Potato", "Toy Story", "PowerPC", "ARM") + PER("Potato Head", "Wichert") + ORG("Debian")),
    (D, DR, "Debian 3.0 Woody (parue le 19 juillet 2002)", None,
     MISC("Debian 3.0 Woody", "Toy Story", "IA-64", "HP PA-RISC", "MIPS", "S/390", "KDE", "QT") + LOC("USA")
     + PER("Bdale Garbee") + ORG("Debian")),
    (D, DR, "Debian 4.0 Etch publiée", ("Sam Hocevar fût élu", "de celui par défaut."),
     PER("Sam Hocevar") + ORG("Debian")),
    (D, DR, "Debian 5.0 Lenny fut publiée", ("Debian 5.0 Lenny fut publiée", "portage ARM (arm)."),
     MISC("Debian 5.0 Lenny", "ARM EABI", "ARM")),
    (D, DR, "La gestion des périphériques de petite taille", None,
     MISC("Orion", "Debian", "ARM") + ORG("Marvell")),
    (D, DR, "C'était également la première version qui fournissait", None, MISC("Java") + ORG("Sun")),
    (D, DR, "Cette version a été gelée le 6 août 2010", None, MISC("DebConf") + LOC("New York") + ORG("Debian")),
    (D, DR, "Alors que deux architecture furent abandonnées", None, MISC("FreeBSD", "Linux")),
    (D, DR, "Cette version a été gelée le 30", None, MISC("DebConf", "DebConf12") + LOC("Managua", "Nicaragua")),
    (D, DR, "Debian 8.0 Jessie (avril 2015)", None, MISC("Debian 8.0 Jessie", "Toy Story 2")),
    (D, DR, "Debian 9 Stretch (juin 2017)", None, MISC("Debian 9 Stretch", "Toy Story 3")),
    (D, DR, "Avec cette version, Debian a pour la première fois", None,
     MISC("Debian", "AppArmor", "Rust", "Firefox")),
    (D, DM, "Écrit par Ian A. Murdock", None, PER("Ian A. Murdock", "Christophe Le Bars")),
    (D, DM, "Debian Linux est une toute nouvelle sorte", None,
     MISC("Debian Linux", "Linux", "GNU") + At("MISC", "Debian", 0, 2) + At("ORG", "Debian", 1)),
    (D, DM, "C'est aussi une tentative pour créer", None,
     ORG("Free Software Foundation", "Debian Linux") + MISC("Linux")),
    (D, DM, "Beaucoup de distributions ont commencé", None, MISC("Softlanding Linux System", "SLS", "Linux")),
    (D, DM, "Debian Linux sera aussi distribuée", None,
     At("MISC", "Debian Linux", 0) + At("ORG", "Debian Linux", 1) + ORG("Free Software Foundation")
     + MISC("Debian")),
    (D, DM, "La « Free Software Foundation » joue", ("Par le simple fait", "le marché commercial."),
     MISC("Linux", "GNU Emacs", "GCC")),
    (D, DI, "Le projet Debian est un groupe mondial", None,
     ORG("Debian") + MISC("Debian GNU/Linux", "Linux", "ARM", "MIPS", "PowerPC", "IBM S/390")),
    (D, DI, "Debian a encouragé la formation", None,
     ORG("Debian", "Software in the Public Interest, Inc.", "SPI", "Projet Debian")
     + LOC("New York", "États-Unis d'Amérique")),
    (D, DI, "À ses débuts, Debian était la seule", None, MISC("Debian", "Linux")),
    (D, DL, "Ian Murdock a fondé Debian", None, PER("Ian Murdock") + ORG("Debian")),
    (D, DL, "Martin Michlmayr a dirigé Debian", None, PER("Martin Michlmayr") + ORG("Debian")),
    (D, DL, "Stefano Zacchiroli a dirigé Debian", None, PER("Stefano Zacchiroli") + ORG("Debian")),
    (D, "dedication/dedication-5.0.fr.txt", "Le projet Debian a perdu", None, ORG("Debian") + PER("Thiemo Seufer")),
    (D, "dedication/dedication-5.0.fr.txt", "Thiemo contribuait à Debian", None,
     PER("Thiemo") + At("ORG", "Debian", 0, 2) + At("MISC", "Debian", 1) + MISC("MIPS", "Linux")),
    (D, "dedication/dedication-5.0.fr.txt", "Pour rendre hommage à ses contributions", None,
     ORG("Debian") + MISC("Debian GNU/Linux 5.0", "Lenny") + PER("Thiemo")),
    (D, "dedication/dedication-2.2.fr.txt", "Il était connu par la plupart", None, PER("Espy") + MISC("Debian")),
    (D, "dedication/dedication-2.2.fr.txt", "La plupart d'entre nous n'avions pas idée", None,
     PER("Joel") + MISC("Debian")),
    (C, "sample-french.txt", "«Quel est le plus grand", None, PER("Louis XIV", "Boileau", "Molière")),
    (C, "sample-french.txt", "Non-seulement Despréaux", None,
     PER("Despréaux", "Voltaire", "Molière", "Poquelin") + LOC("France", "Londres")),
    (C, "sample-french.txt", "En raison de cette identité", ("A-t-il, comme", "devise de Molière:"),
     PER("Swift", "Lucrèce", "Louis XIV", "Molière") + MISC("Tartuffe")),
    (C, "sample-french.txt", "La puissance de Molière", None, PER("Molière", "Jules\nCésar", "Apollon")),
    (C, "sample-french.txt", "Dates, événements, réalités", ("Les pamphlets pour et contre lui", "plus scrupuleux."),
     PER("Grimarest", "Molière", "Lagrange") + LOC("Hollande")),
]


# ---------------------------------------------------------------------------

def is_word(ch: str) -> bool:
    return ch.isalnum()  # "_Tartuffe_": underscores are plain-text italics, not part of a word


def occurrences(text: str, surface: str) -> list[int]:
    out, i = [], text.find(surface)
    while i >= 0:
        before = text[i - 1] if i > 0 else " "
        after = text[i + len(surface)] if i + len(surface) < len(text) else " "
        if not (is_word(before) and is_word(surface[0])) and not (is_word(after) and is_word(surface[-1])):
            out.append(i)
        i = text.find(surface, i + 1)
    return out


def annotate(text: str, ann: list[tuple], skip=(), where="") -> list[list]:
    skip = set(skip)
    groups: dict[str, list[tuple[str, tuple | None]]] = {}
    for entry in ann:
        surface, label, free = entry[0], entry[1], (entry[2] if len(entry) > 2 else None)
        assert label in LABELS, (where, surface, label)
        if (label, free) not in groups.setdefault(surface, []):
            groups[surface].append((label, free))
    taken: list[list] = []
    for surface in sorted(groups, key=lambda s: -len(s)):
        found = occurrences(text, surface)
        if not found:
            raise SystemExit(f"{where}: {surface!r} not found")
        # occurrences not skipped and not part of a longer name already annotated
        free = [start for n, start in enumerate(found) if (surface, n) not in skip
                and not any(s < start + len(surface) and start < e for s, e, _ in taken)]
        labels = groups[surface]
        if len(labels) == 1 and labels[0][1] is None:
            chosen = {i: labels[0][0] for i in range(len(free))}
        else:
            chosen = {}
            for label, indexes in labels:
                if indexes is None:
                    raise SystemExit(f"{where}: {surface!r} has two labels: give each its At() occurrences")
                for i in indexes:
                    if i >= len(free) or i in chosen:
                        raise SystemExit(f"{where}: {surface!r} occurrence {i} is not free or given twice")
                    chosen[i] = label
            if len(chosen) != len(free):
                raise SystemExit(f"{where}: {surface!r} has {len(free)} free occurrences, {len(chosen)} labelled")
        if not chosen:
            raise SystemExit(f"{where}: {surface!r} only inside longer names")
        taken.extend([free[i], free[i] + len(surface), label] for i, label in chosen.items())
    return sorted(taken)


def seed_texts(archive: str) -> dict[str, str]:
    veille = [sys.executable, "-m", "veille"]
    listing = subprocess.run([*veille, "--archive", archive, "list", "--json", "--limit", "0"],
                             capture_output=True, text=True, check=True).stdout
    texts = {}
    for line in listing.splitlines():
        meta = json.loads(line)
        number = meta["url"].rsplit("/", 1)[-1][:3]
        if number in SEEDS:
            shown = subprocess.run([*veille, "--archive", archive, "show", meta["id"], "--json"],
                                   capture_output=True, text=True, check=True).stdout
            texts[number] = json.loads(shown)["text"]
    return texts


def page_lines(cache: Path, name: str, memo: dict) -> list[str]:
    if name not in memo:
        import trafilatura
        html = (cache / name).read_text(encoding="utf-8", errors="replace")
        memo[name] = (trafilatura.extract(html, include_comments=False) or "").split("\n")
    return memo[name]


def imported_paragraphs(path: Path) -> list[str]:
    """The file's text as `veille import` stores it: lines of an .html page, blank-line blocks of a .txt."""
    from veille.stages import extract
    from veille.stages import plaintext
    from veille.text.encoding import decode

    text = decode(path.read_bytes())
    if path.suffix.lower() in (".html", ".htm"):
        return extract.extract(text, path.resolve().as_uri()).text.split("\n")
    return plaintext.clean(text).text.split("\n\n")


def paragraph(lines: list[str], anchor: str, cut, where: str) -> str:
    hits = [line for line in lines if line.startswith(anchor)]
    if len(hits) != 1:
        raise SystemExit(f"{where}: anchor {anchor!r} matches {len(hits)} lines")
    line = hits[0]
    if cut is None:
        return line.strip()
    first, last = cut
    a = line.index(first)
    b = line.index(last, a) + len(last)
    return line[a:b]


def build(args) -> list[dict]:
    items = []
    texts = seed_texts(args.archive)
    for number, paragraphs in SEEDS.items():
        lang = "en" if number == "002" else "fr"
        parts = texts[number].split("\n")
        for i, part in enumerate(parts):
            if not part.strip() or i in SEED_LEFT_OUT.get(number, ()):
                continue
            where = f"seed-{number}-p{i:02d}"
            items.append({"id": where, "lang": lang, "source": SEED_FILES[number], "text": part,
                          "entities": annotate(part, paragraphs.get(i, []), where=where), "split": "dev"})
        unknown = set(paragraphs) - {i for i, p in enumerate(parts) if p.strip()}
        assert not unknown, (number, unknown)
    caches = {T: Path(args.trafilatura_cache), H: Path(args.htmldate_cache)}
    memo: dict = {}
    for lang, spec in (("en", EN), ("fr", FR)):
        for n, entry in enumerate(spec):
            origin, name, anchor, cut, ann = entry[:5]
            skip = entry[5] if len(entry) > 5 else ()
            where = f"{lang}-{n:03d} {name}"
            text = paragraph(page_lines(caches[origin], name, memo), anchor, cut, where)
            split = "heldout" if lang == "en" and n % 5 == 4 else "dev"
            items.append({"id": f"{lang}-{n:03d}", "lang": lang, "source": name, "text": text,
                          "entities": annotate(text, ann, skip, where), "split": split})
    roots = {D: Path(args.debian_history), C: Path(args.charset_normalizer)}
    texts: dict[str, list[str]] = {}
    for n, (origin, name, anchor, cut, ann) in enumerate(FR_HELDOUT):
        where = f"frh-{n:03d} {name}"
        key = f"{origin}/{name}"
        if key not in texts:
            texts[key] = imported_paragraphs(roots[origin] / name)
        text = paragraph(texts[key], anchor, cut, where)
        items.append({"id": f"frh-{n:03d}", "lang": "fr", "source": key, "text": text,
                      "entities": annotate(text, ann, where=where), "split": "heldout"})
    return items


def review(items: list[dict]) -> None:
    """Print each paragraph with its spans marked, then capitalised words left unannotated."""
    import re
    for item in items:
        text, marked, last = item["text"], [], 0
        for s, e, label in item["entities"]:
            marked.append(text[last:s] + f"[[{text[s:e]}|{label}]]")
            last = e
        marked.append(text[last:])
        print(f"--- {item['id']} ({item['source']}, {item['split']})\n{''.join(marked)}")
        covered = [(s, e) for s, e, _ in item["entities"]]
        loose = [m.group() for m in re.finditer(r"(?<![\w’'])[A-ZÀ-ÖØ-Þ#][\w’'\-.]*", text)
                 if not any(s <= m.start() < e for s, e in covered)]
        if loose:
            print("    unannotated capitalised:", " ".join(loose))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", default="/tmp/gold_src", help="where fetch_sources.sh put everything")
    parser.add_argument("--archive", help="default: SOURCES/gold_arch")
    parser.add_argument("--trafilatura-cache", help="default: SOURCES/trafilatura-1.0.0/tests/cache")
    parser.add_argument("--htmldate-cache", help="default: SOURCES/htmldate-1.4.0/tests/cache")
    parser.add_argument("--debian-history", help="default: SOURCES/debian-history/usr/share/doc/debian-history")
    parser.add_argument("--charset-normalizer", help="default: SOURCES/charset-normalizer-3.3.2/data")
    parser.add_argument("--review", action="store_true")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    defaults = {"archive": "gold_arch", "trafilatura_cache": "trafilatura-1.0.0/tests/cache",
                "htmldate_cache": "htmldate-1.4.0/tests/cache",
                "debian_history": "debian-history/usr/share/doc/debian-history",
                "charset_normalizer": "charset-normalizer-3.3.2/data"}
    for option, relative in defaults.items():
        if getattr(args, option) is None:
            setattr(args, option, str(Path(args.sources) / relative))
    items = build(args)
    if args.review:
        review(items)
    with open(args.out, "w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} paragraphs to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
