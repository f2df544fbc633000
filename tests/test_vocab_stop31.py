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
