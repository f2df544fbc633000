"""Synopses that do not look like the model's language: other scripts, other Latin-script languages, no letters."""

import pytest

from genretag import language

ENGLISH = "A family moves into a haunted house where a demon terrorizes their youngest daughter."
OTHERS = {
    "Spanish": "Un sicario retirado vuelve a la guerra contra la mafia rusa después de que unos matones matan a su perro.",
    "French": "Une famille emménage dans une maison hantée où un démon terrorise leur plus jeune fille.",
    "German": "Eine Familie zieht in ein Spukhaus, in dem ein Dämon ihre jüngste Tochter terrorisiert.",
    "Italian": "Una famiglia si trasferisce in una casa infestata dove un demone terrorizza la figlia più piccola.",
    "Portuguese": "Uma família se muda para uma casa assombrada onde um demônio aterroriza a filha mais nova.",
    "Turkish": "Bir aile, bir iblisin en küçük kızlarını korkuttuğu perili bir eve taşınır ve yardım ister.",
    "Vietnamese": "Một gia đình chuyển đến một ngôi nhà ma ám nơi một con quỷ khủng bố cô con gái út của họ.",
    "Indonesian": "Sebuah keluarga pindah ke rumah berhantu di mana iblis meneror putri bungsu mereka.",
    # Languages whose short words ("a", "on", "is", "in") are English words too: a new-user probe
    # found them read as English, and tagged (Czech "Comedy").
    "Finnish": "Nuori velho saa yhdennentoista syntymäpäivänsä kunniaksi tietää, että hänet on hyväksytty "
               "noitakouluun ja hänen on taisteltava pimeää herraa vastaan.",
    "Czech": "Mladý čaroděj se v den svých jedenáctých narozenin dozví, že byl přijat do školy čar a kouzel a musí "
             "bojovat s temným pánem.",
    "Hungarian": "Egy fiatal varázsló a tizenegyedik születésnapján megtudja, hogy felvették egy varázslóiskolába, és "
                 "meg kell küzdenie egy sötét nagyúrral.",
    "Estonian": "Noor võlur saab oma üheteistkümnendal sünnipäeval teada, et ta on vastu võetud nõiakooli ja peab "
                "võitlema pimeda isandaga.",
    "Afrikaans": "'n Jong towenaar ontdek op sy elfde verjaarsdag dat hy in 'n towerskool aanvaar is en teen 'n donker "
                 "heer moet veg.",
    "Slovak": "Mladý čarodejník sa v deň svojich jedenástych narodenín dozvie, že bol prijatý do školy mágie a musí "
              "bojovať s temným pánom.",
    "Slovene": "Mladi čarovnik na svoj enajsti rojstni dan izve, da je bil sprejet v šolo čarovništva in se mora "
               "boriti proti temnemu gospodarju.",
    "Croatian": "Mladi čarobnjak na svoj jedanaesti rođendan otkriva da je primljen u školu čarobnjaštva i mora se "
                "boriti protiv mračnog gospodara.",
    "Latvian": "Jauns burvis savā vienpadsmitajā dzimšanas dienā uzzina, ka ir uzņemts burvju skolā un viņam jācīnās "
               "ar tumšo kungu.",
    "Lithuanian": "Jaunas burtininkas per savo vienuoliktąjį gimtadienį sužino, kad buvo priimtas į burtų mokyklą ir "
                  "turi kovoti su tamsos valdovu.",
    "Danish": "En ung troldmand finder på sin ellevte fødselsdag ud af, at han er optaget på en skole for hekseri og "
              "skal kæmpe mod en mørk herre.",
    "Catalan": "Un jove bruixot descobreix el dia del seu onzè aniversari que ha estat admès a una escola de màgia i "
               "ha de lluitar contra un senyor fosc.",
    "Basque": "Aztia gazte batek bere hamaikagarren urtebetetzean jakiten du magia eskola batean onartu dutela eta "
              "jaun ilun baten aurka borrokatu behar duela.",
    "German, one sentence": "Ein junger Polizist ermittelt in einer Mordserie in einem kleinen Bergdorf.",
    "Icelandic": "Ungur galdramaður kemst að því á ellefta afmælisdegi sínum að hann hefur fengið inngöngu í "
                 "galdraskóla og þarf að berjast við myrkan herra.",
}


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_latin_script_languages_other_than_english_are_told_apart(name):
    assert language.looks_english(OTHERS[name]) is False


def test_english_synopses_of_the_real_file_stay_english():
    """The words added for other languages do not flag English: of the TMDB file's synopses, only
    its two in French and Italian are flagged."""
    import pandas as pd

    from conftest import real_csv_or_skip
    from genretag.data.cells import clean_cell

    texts = [clean_cell(t) for t in pd.read_csv(real_csv_or_skip())["overview"].fillna("")]
    flagged = [t for t in texts if language.looks_english(t) is False]
    assert len(texts) > 9000 and len(flagged) == 2
    assert flagged[0].startswith("Famille : Groupe de personnes") and flagged[1].startswith("Gilberto, 50enne")


def test_english_and_too_short_texts():
    assert language.looks_english(ENGLISH) is True
    # A list of names has no language to tell: not flagged (both were "not English").
    assert language.looks_english("Mario, Luigi, Peach, Toad, Bowser, Yoshi, Wario, Daisy.") is None
    assert language.looks_english("Las Vegas, Los Angeles, San Francisco, Santa Fe, El Paso, La Jolla.") is None
    assert language.looks_english("Sebuah keluarga pindah") is None  # a title, not judged


def test_a_run_trained_on_english_flags_other_languages_and_texts_without_letters():
    texts = [ENGLISH, OTHERS["Spanish"], "👻🏠😱👧", "家族が幽霊屋敷に引っ越す。", ""]
    flags = language.script_warnings(texts, ("Latin",), english=True)
    assert flags == ["", "not English (model: English)", "no letters (model: Latin)", "Kana script (model: Latin)", ""]
    assert language.count_by_script(flags) == {"Kana": 1, "no letters": 1, "not English": 1}  # Japanese
    message = language.describe(language.count_by_script(flags), 5, ("Latin",))
    assert message.startswith("3 of 5 synopses do not look like the model's language (")
    # A run not known to be English is judged by script only.
    assert language.script_warnings(texts, ("Latin",)) == ["", "", "", "Kana script (model: Latin)", ""]


def test_runs_record_how_english_their_training_text_is():
    profile = language.text_profile([ENGLISH] * 9 + [OTHERS["French"]])
    assert profile["english"] == 0.9 and language.trained_on_english({"text_profile": profile})
    spanish = language.text_profile(list(OTHERS.values()))
    assert spanish["english"] == 0.0 and not language.trained_on_english({"text_profile": spanish})
    assert language.trained_on_english({})  # older runs and the bundled model: English
    assert not language.trained_on_english({"text_profile": {**profile, "english": None}})


@pytest.mark.parametrize("text", [
    "Juan Carlos de la Fuente, Maria del Carmen and Jose Luis Garcia rob a bank in Buenos Aires.",
    "Jan de Vries and Pieter van den Berg sail to Amsterdam.",
    "Maria Clara de los Santos falls for Jose Rizal Jr. in Manila.",
])
def test_english_with_names_from_other_languages_is_english(text):
    assert language.looks_english(text) is True  # "de", "van den", "del" begin names here


def test_the_bundled_model_is_known_to_be_english():
    import json

    from genretag.rundir import bundled_model

    meta = json.loads((bundled_model() / "meta.json").read_text())
    assert language.trained_on_english(meta) and meta["text_profile"]["english"] >= 0.99


def test_japanese_with_more_kanji_than_kana_is_japanese_not_han():
    """A Japanese synopsis (kanji and kana) was labelled "Han script", as Chinese is: a run trained on
    Chinese took it for its own language."""
    japanese = "東京に住む若い女性が、突然現れた謎の男と恋に落ちる。"
    chinese = "一个年轻女子在北京爱上了一个神秘的男人。"
    assert language.row_scripts([japanese, chinese, "東京大学"]) == ["Kana", "Han", "Han"]
    assert language.script_warnings([japanese, chinese], ("Han",)) == ["Kana script (model: Han)", ""]


def test_a_german_noun_after_an_article_is_no_name():
    """German capitalises nouns, so "in der Nachtschicht" read as a name ("van der Berg") and a one-sentence
    German synopsis as English; a particle between capitalised words is still a name's."""
    assert language.looks_english("Ein Geist spukt in der Nachtschicht eines alten Krankenhauses.") is False
    assert language.looks_english("Pieter van den Berg is a detective who hunts a killer in Amsterdam.") is True
    assert language.looks_english("Maria de los Santos falls for him in Manila and they marry.") is True
