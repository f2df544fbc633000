"""Faults found by a new user in stop 28: catalogue categories that are no genre (Netflix's "International
Movies", MovieLens's "IMAX") were learnt as genres; breadcrumbs ("Comedy › Romantic") and a modifier after a
comma ("Comedy, Dark") were kept as names of their own."""

from __future__ import annotations

import pytest
from conftest import synthetic_movies, write_csv

from genretag import training
from genretag.config import TrainConfig
from genretag.data.genres import parse_genres
from genretag.evaluation import evaluate
from genretag.runs import load_run
from genretag.vocabulary import FORMAT, Vocabulary, current_vocabulary, output_names

V = Vocabulary.bundled()

NETFLIX_CATEGORIES = [
    "International Movies", "International TV Shows", "Independent Movies", "Cult Movies", "Classic Movies",
    "LGBTQ Movies", "Spanish-Language TV Shows", "British TV Shows", "Korean TV Shows", "TV Shows", "Movies",
    "Classic & Cult TV", "Teen TV Shows", "IMAX",
    # the kind generalised: any "<Language>-Language ..." and "<Nationality> ..." category
    "Hindi-Language Movies", "Japanese TV Shows", "Indian Movies", "Bollywood Movies", "French Films", "LGBTQ+ Movies",
]


def _apply(cell: str):
    return V.apply([parse_genres(cell)])


# --------------------------------------------------------------------------- categories that are no genre


@pytest.mark.parametrize("name", NETFLIX_CATEGORIES)
def test_a_category_that_is_no_genre_is_read_as_none(name):
    assert V.resolve(name) == ()
    rows, report = _apply(name)
    assert rows == [[]]
    assert report.applied[name] == {"to": [], "kind": "category", "rows": 1}
    assert report.lines() == [f"categories that are no genre, read as none: {name} (1 row)"]


@pytest.mark.parametrize(("name", "genres"), [
    # Netflix's categories that name a genre keep it
    ("Anime Features", ["Animation"]), ("Stand-Up Comedy", ["Comedy"]), ("Documentaries", ["Documentary"]),
    ("Children & Family Movies", ["Family"]), ("Kids' TV", ["Family"]), ("Horror Movies", ["Horror"]),
    ("Romantic TV Shows", ["Romance"]), ("Reality TV", ["Reality"]), ("Western Movies", ["Western"]),
    ("Foreign Movies", ["Foreign"]),  # TMDB's retired genre, kept
    ("Drama & LGBTQ", ["Drama"]),  # "&" joins one category: its part that is no genre is left out (stop 31)
    ("Drama/LGBTQ", ["Drama", "LGBTQ"]),  # a list: its unknown part stays a name, as before
])
def test_categories_naming_a_genre_keep_it(name, genres):
    assert _apply(name)[0] == [genres]


@pytest.mark.parametrize("name", ["Faith Movies", "Cute Movies", "World cinema", "Film", "Korean", "Language Movies"])
def test_other_names_are_not_taken_for_categories(name):
    assert V.resolve(name) is None


def test_the_report_lists_categories_apart_from_placeholders():
    rows = [["International Movies", "Dramas"], ["International Movies"], ["Unknown"], ["British TV Shows"]]
    mapped, report = V.apply(rows)
    assert mapped == [["Drama"], [], [], []]
    assert report.lines() == [
        "genres mapped: Dramas → Drama (1 row)",
        "placeholders read as no genre: Unknown (1 row)",
        "categories that are no genre, read as none: International Movies (2 rows), British TV Shows (1 row)"]


def test_training_drops_rows_with_only_categories(tmp_path):
    movies = synthetic_movies(60, seed=28)
    cells = ["Dramas, International Movies", "Comedies|Cult Movies", "International TV Shows, Korean TV Shows",
             "IMAX", "Horror Movies"]
    rows = [{"title": m["title"], "overview": m["overview"], "genres": cells[i % 5]} for i, m in enumerate(movies)]
    prep = training.prepare(TrainConfig(data=str(write_csv(tmp_path / "netflix.csv", rows))))
    assert prep.labels == ["Comedy", "Drama", "Horror"]
    assert "dropped 24 rows with no genres" in prep.dropped
    line = next(x for x in prep.genre_report.lines() if x.startswith("categories"))
    assert line == ("categories that are no genre, read as none: Cult Movies (12 rows), IMAX (12 rows), "
                    "International Movies (12 rows), International TV Shows (12 rows), Korean TV Shows (12 rows)")


def test_evaluate_reads_categories_as_none(tiny_run, tmp_path):
    rows = [dict(m, genres=m["genres"] + "|International Movies") for m in synthetic_movies(20, seed=62)]
    rows += [dict(m, genres="Cult Movies") for m in synthetic_movies(3, seed=63)]
    results = evaluate(load_run(tiny_run, device="cpu"), data=write_csv(tmp_path / "c.csv", rows), baseline=False)
    assert results["unknown_genres"]["genres"] == {}
    # the rows of only a category have no genres: dropped when read, as rows of only a placeholder are
    assert results["data"]["rows"] == 20 and results["data"]["rows_without_known_genres"] == 0
    assert "dropped 3 rows with no genres" in str(results["data"]["read"])
    assert ("categories that are no genre, read as none: International Movies (20 rows), Cult Movies (3 rows)"
            in results["genre_mappings"]["lines"])


def test_imax_stays_a_movielens_output_name():
    # `tag --vocabulary movielens` still writes IMAX for a model trained on it before (a run of format 2)
    assert output_names(["IMAX", "Science Fiction", "Family"], "movielens") == (["IMAX", "Sci-Fi", "Children"], [])


def test_a_genre_map_overrides_a_category(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('"Cult Movies" = "Drama"\n"IMAX" = []\n', encoding="utf-8")
    v = V.with_genre_map(path)
    assert v.resolve("Cult Movies") == ("Drama",)
    assert v.apply([["IMAX"]])[1].applied["IMAX"]["kind"] == "placeholder"  # the user's own: no category
    assert v.resolve("British TV Shows") == ()  # the rules stay


# --------------------------------------------------------------------------- breadcrumbs and modifiers


@pytest.mark.parametrize(("cell", "genres"), [
    ("Comedy › Romantic", ["Comedy", "Romance"]), ("Comedy > Romantic", ["Comedy", "Romance"]),
    ("Comedy » Romance", ["Comedy", "Romance"]), ("Comedy > Dark", ["Comedy"]), ("Drama › Gritty", ["Drama"]),
    ("Movies > Comedy > Romantic", ["Comedy", "Romance"]),
])
def test_a_breadcrumb_is_the_genres_of_its_parts(cell, genres):
    rows, report = _apply(cell)
    assert rows == [genres]
    assert report.lines() == [f"breadcrumbs read as the genres of their parts: {cell} → {' + '.join(genres)} (1 row)"]


def test_a_breadcrumb_of_no_genre_stays_a_name():
    assert _apply("Gritty › Gags")[0] == [["Gritty › Gags"]]


def test_a_modifier_after_a_comma_is_no_genre():
    rows, report = _apply("Comedy, Dark")
    assert rows == [["Comedy"]]
    assert report.lines() == ["modifiers alone read as no genre: Dark (1 row)"]
    assert _apply("Drama, Teen")[0] == [["Drama"]]
    # lists stay lists; a modifier that is a genre of its own stays one
    assert _apply("Comedy, Drama") == ([["Comedy", "Drama"]], _apply("Comedy, Drama")[1])
    assert _apply("Comedy, Drama")[1].lines() == []
    assert _apply("Comedy, Romantic")[0] == [["Comedy", "Romance"]]
    assert _apply("Thriller, Psychological")[0] == [["Thriller", "Psychological"]]


# --------------------------------------------------------------------------- runs of format 2


def test_a_run_vocabulary_of_format_2_reads_its_data_as_it_was_trained():
    assert FORMAT >= 3
    saved = {**current_vocabulary().to_dict(), "format": 2}
    for key in ("categories", "category_words", "category_kinds"):
        saved.pop(key)
    old = Vocabulary.from_dict(saved)
    for name in ("International Movies", "British TV Shows", "Comedy › Romantic", "Dark", "IMAX"):
        assert old.resolve(name) is None, name
    assert old.resolve("Erotic Thriller") == ("Thriller",)  # format 2's rules kept
    # another file is read by today's rules, the run's own names kept
    assert old.with_rules_of(current_vocabulary()).resolve("British TV Shows") == ()
    again = Vocabulary.from_dict(current_vocabulary().to_dict())
    assert again.resolve("Korean TV Shows") == () and again.resolve("Comedy > Romantic") == ("Comedy", "Romance")
