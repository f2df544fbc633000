"""Faults found by a new user in stop 31 (genre vocabularies and metrics): TV catalogues' "<genre> Series" /
"<genre> TV Shows" names, more spellings of other sources and placeholders written as phrases or punctuation
were learnt (and scored) as genres of their own."""

from __future__ import annotations

import pytest

from genretag.data.genres import parse_genres
from genretag.vocabulary import Vocabulary

V = Vocabulary.bundled()


def _apply(*cells: str):
    return V.apply([parse_genres(c) for c in cells])


# --------------------------------------------------------------------------- "<genre> Series", "<genre> TV Shows"


@pytest.mark.parametrize(("name", "genres"), [
    ("Comedy Series", ["Comedy"]), ("Drama Series", ["Drama"]), ("Documentary Series", ["Documentary"]),
    ("Sci-Fi Series", ["Science Fiction"]), ("Animated TV Series", ["Animation"]), ("Comedy TV Shows", ["Comedy"]),
    ("Crime Shows", ["Crime"]), ("Drama TV", ["Drama"]), ("Kids TV Shows", ["Family"]),
    ("Reality Shows", ["Reality"]), ("Talk Shows", ["Talk Show"]), ("Game Shows", ["Game Show"]),
    ("Horror Films", ["Horror"]),  # as before
])
def test_a_genre_named_with_a_kind_of_title_is_the_genre(name, genres):
    rows, report = _apply(name)
    assert rows == [genres]
    assert report.applied[name]["to"] == genres


@pytest.mark.parametrize(("name", "genres"), [
    ("TV Movie", ["TV Movie"]), ("Talk Show", ["Talk Show"]), ("Game Show", ["Game Show"]),
    ("TV Shows", []), ("Teen TV Shows", []), ("British TV Shows", []),  # categories that are no genre, as before
    ("Web Series", ["Web Series"]), ("TV", ["TV"]),  # no genre in them: kept whole, as before
])
def test_names_holding_a_kind_of_title_keep_their_reading(name, genres):
    assert _apply(name)[0] == [genres]


def test_a_tv_catalogue_trains_one_label_per_genre():
    rows, report = _apply("Drama Series|Comedy Series", "Drama|Crime TV Shows", "Comedy")
    assert rows == [["Drama", "Comedy"], ["Drama", "Crime"], ["Comedy"]]
    assert "genres mapped: " in report.lines()[0] and "Drama Series → Drama (1 row)" in report.lines()[0]


# --------------------------------------------------------------------------- more spellings of other sources


@pytest.mark.parametrize(("name", "genres"), [
    ("Docu", ["Documentary"]), ("Docs", ["Documentary"]), ("Docu-Series", ["Documentary"]),
    ("Bio", ["Biography"]), ("Standup", ["Comedy"]), ("Sitcom", ["Comedy"]), ("Sitcoms", ["Comedy"]),
    ("Super Hero", ["Superhero"]), ("Super-Hero", ["Superhero"]), ("Superheroes", ["Superhero"]),
    ("Kid's", ["Family"]),
])
def test_more_spellings_are_mapped_and_said(name, genres):
    rows, report = _apply(name)
    assert rows == [genres]
    assert report.lines() == [f"genres mapped: {name} → {' + '.join(genres)} (1 row)"]


# --------------------------------------------------------------------------- placeholders


@pytest.mark.parametrize("cell", [
    "Not Applicable", "None listed", "(none listed)", "Genre not available", "No genres given", "Genres: N/A",
    "not specified", "#NA", "blank", "EMPTY", ".", "...", "*", "#", "~", "👻",
])
def test_placeholders_written_as_phrases_or_punctuation_are_no_genre(cell):
    rows, report = _apply(cell, "Horror")
    assert rows == [[], ["Horror"]]
    assert report.lines()[-1].startswith("placeholders read as no genre: ")


@pytest.mark.parametrize("name", ["No Country for Old Men", "Nonesuch", "Notable", "Genre Bending", "Noir"])
def test_names_near_a_placeholder_phrase_are_not_one(name):
    assert V.resolve(name) != ()


# --------------------------------------------------------------------------- "&" joins one category's parts


@pytest.mark.parametrize(("name", "genres", "said"), [
    ("Sports & Fitness", ["Sport"], "Sports & Fitness → Sports, Fitness left out (no genre of the vocabulary) (1 row)"),
    ("Music & Concerts", ["Music"], "Music & Concerts → Music, Concerts left out (no genre of the vocabulary) (1 row)"),
    ("Kids & Teens", ["Family"], "Kids & Teens → Kids, Teens left out (no genre of the vocabulary) (1 row)"),
    ("Drama/Sword & Sorcery", ["Drama", "Sword & Sorcery"], "Drama/Sword & Sorcery → Drama + Sword & Sorcery (1 row)"),
])
def test_a_part_of_an_ampersand_name_that_is_no_genre_is_left_out_and_said(name, genres, said):
    rows, report = _apply(name)
    assert rows == [genres]
    assert report.lines()[0] == f"names listing genres read as their parts: {said}"
    assert "Fitness" not in rows[0] and "Concerts" not in rows[0]


@pytest.mark.parametrize(("name", "genres"), [
    ("Sci-Fi & Fantasy", ["Science Fiction", "Fantasy"]), ("Mystery & Thriller", ["Mystery", "Thriller"]),
    ("Faith & Spirituality", ["Faith & Spirituality"]),  # no part a genre: kept whole, as before
    ("Drama/Lgbt", ["Drama", "Lgbt"]),  # "/" lists the file's own names: kept, as before
])
def test_ampersand_names_of_known_or_unknown_parts_read_as_before(name, genres):
    assert _apply(name)[0] == [genres]


def test_a_run_vocabulary_of_format_3_reads_its_data_as_it_was_trained():
    from genretag.vocabulary import FORMAT

    assert FORMAT == 4
    old = Vocabulary.from_dict({**V.to_dict(), "format": 3})
    assert old.apply([["Sports & Fitness"], ["None listed"], ["."]])[0] == [["Sport", "Fitness"], ["None listed"], ["."]]
    # another file is read by today's rules
    today = old.with_rules_of(V)
    assert today.apply([["Sports & Fitness"], ["None listed"], ["."]])[0] == [["Sport"], [], []]


# --------------------------------------------------------------------------- genre cells as maps and objects


@pytest.mark.parametrize(("cell", "genres"), [
    ('{"Action": 1, "Drama": 0, "Comedy": 1}', ["Action", "Comedy"]),  # one-hot as a map: was no genre at all
    ("{'Action': 1, 'Drama': 0}", ["Action"]),
    ('{"Action": 1.0, "Drama": 0.0}', ["Action"]),  # a float column's flags
    ('{"Action": "1", "Drama": "0"}', ["Action"]),  # was read as the numbers 1 and 0
    ('{"Action": "yes", "Drama": "no", "Horror": "x", "Comedy": ""}', ["Action", "Horror"]),
    ('{"Action": true, "Drama": false}', ["Action"]),  # as before
    ('{"genres": ["Action", "Drama"]}', ["Action", "Drama"]),
    ('{"Genres": "Action|Drama"}', ["Action", "Drama"]),  # was one genre "Action|Drama"
    ('["Action, Adventure", "Drama"]', ["Action", "Adventure", "Drama"]),
    ('{"genre_ids": [18, 35]}', ["18", "35"]),  # TMDB ids, named by the vocabulary
    ('[{"slug": "science-fiction"}, {"slug": "drama"}]', ["Science-Fiction", "Drama"]),
    ('[{"id": 28, "name": "Action"}]', ["Action"]),  # as before
    ('{"id": 1}', ["1"]),  # an id, not a flag named "id"
    ('{"Action": 0.9, "Drama": 0.1}', []),  # scores, not flags: no genre, as before
])
def test_genre_maps_and_objects_give_their_genres(cell, genres):
    assert parse_genres(cell) == genres


def test_a_file_of_flag_maps_trains_on_its_genres(tmp_path):
    import json

    from genretag.data import load_labelled

    path = tmp_path / "flags.jsonl"
    rows = [{"title": "A", "overview": "A haunted house terrifies a family.", "genres": {"Horror": 1, "Comedy": 0}},
            {"title": "B", "overview": "Two friends crash a wedding.", "genres": {"Horror": 0, "Comedy": 1}},
            {"title": "C", "overview": "A sheriff faces an outlaw gang.", "genres": {"genre_ids": [37, 28]}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data, report = load_labelled(path, vocabulary=V)
    assert data.genres == [["Horror"], ["Comedy"], ["Western", "Action"]]
    assert report.kept == 3 and report.no_genres == 0
    assert report.genres.lines() == ["TMDB genre ids read as names: 28 → Action (1 row), 37 → Western (1 row)"]


# --------------------------------------------------------------------------- one unknown genre, with and without "Film"


def test_an_unknown_genre_written_with_and_without_a_kind_of_title_is_one_genre():
    rows, report = _apply("Silent Film", "Silent", "Silent|Drama", "Kaiju Movies|Kaiju", "Concert Film")
    assert rows == [["Silent"], ["Silent"], ["Silent", "Drama"], ["Kaiju"], ["Concert Film"]]
    assert report.lines() == ["spellings merged: Kaiju Movies → Kaiju (1 row), Silent Film → Silent (1 row)"]


def test_case_spellings_of_an_unknown_genre_still_merge_under_the_most_frequent():
    rows, report = _apply("Ecchi", "ECCHI", "ecchi|Comedy", "Ecchi")
    assert rows == [["Ecchi"], ["Ecchi"], ["Ecchi", "Comedy"], ["Ecchi"]]


def test_a_format_3_run_with_a_genre_map_reads_another_file_by_todays_rules():
    old = Vocabulary.from_dict({**V.to_dict(), "format": 3, "ignore": ["and", "film", "films", "movie", "movies"],
                                "sources": ["bundled vocabulary.toml", "/tmp/map.toml"]})
    assert old.resolve("Comedy Series") is None  # its own data: as trained
    assert old.with_rules_of(V).resolve("Comedy Series") == ("Comedy",)
