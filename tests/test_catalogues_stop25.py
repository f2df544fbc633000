"""Real-catalogue faults found by a new user's tries in stop 25, one test per kind, each asserting the right value."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.data import detect_columns, load_labelled
from genretag.data.genres import canonical_genre, parse_genres
from genretag.errors import DataError
from genretag.vocabulary import Vocabulary, current_vocabulary, output_names
from test_catalogues_stop24 import SYNOPSES as STOP24_SYNOPSES

runner = CliRunner()

SYNOPSES = STOP24_SYNOPSES[:10]


def _mapped(cell: str) -> tuple[list[str], list[str]]:
    rows, report = current_vocabulary().apply([parse_genres(cell)])
    return rows[0], report.lines()


# --------------------------------------------------------------------------- genre cells


@pytest.mark.parametrize(("cell", "genres"), [
    ("['Horror' 'Action']", ["Horror", "Action"]),  # was one genre, "HorrorAction"
    ("['Drama']", ["Drama"]),
    ("['Science Fiction' 'Drama'\n 'Romance']", ["Science Fiction", "Drama", "Romance"]),  # numpy wraps long arrays
    ('["It\'s Magic" "Drama"]', ["It's Magic", "Drama"]),
    ("['\\N' 'Drama']", ["\\N", "Drama"]),  # an escape Python does not know: the text as written
    ("[878  53]", ["878", "53"]),  # TMDB genre_ids from Parquet: was one genre, "878 53"
])
def test_a_numpy_array_repr_is_a_list_of_genres(cell, genres):
    """pandas writes a list column of a Parquet/Hugging Face table to CSV as numpy reprs, without commas."""
    assert parse_genres(cell) == genres


def test_a_csv_of_numpy_array_cells_trains_on_the_genres(tmp_path):
    frame = pd.DataFrame({"title": [f"Movie {i}" for i in range(len(SYNOPSES))], "overview": SYNOPSES,
                          "genres": [["Horror", "Thriller"], ["Romance", "Comedy"]] * 5})
    frame["genres"] = frame["genres"].map(lambda g: __import__("numpy").array(g))
    path = tmp_path / "from_parquet.csv"
    frame.to_csv(path, index=False)
    assert "['Horror' 'Thriller']" in path.read_text()
    data, _ = load_labelled(path, vocabulary=Vocabulary.bundled())
    assert data.genres[:2] == [["Horror", "Thriller"], ["Romance", "Comedy"]]


@pytest.mark.parametrize(("cell", "genres", "said"), [
    ("Drama/Lgbt", ["Drama", "Lgbt"], "Drama/Lgbt → Drama + Lgbt"),  # wiki_movie_plots: Drama was thrown away
    ("剧情 / 爱情 / 同性", ["Drama", "Romance", "同性"], "剧情 / 爱情 / 同性 → 剧情 + 爱情 + 同性"),  # Douban
    ("Sci-Fi/Disaster", ["Science Fiction", "Disaster"], "Sci-Fi/Disaster → Sci-Fi + Disaster"),
    # "&" joins one category's parts: one that is no genre is left out, and said (stop 31)
    ("Drama & LGBTQ", ["Drama"], "Drama & LGBTQ → Drama, LGBTQ left out (no genre of the vocabulary)"),
    ("Drama. Romance. Cine negro", ["Drama", "Romance", "Film Noir"], "→ Drama + Romance + Cine negro"),  # Filmaffinity
])
def test_a_name_listing_genres_is_read_as_its_parts(cell, genres, said):
    mapped, lines = _mapped(cell)
    assert mapped == genres
    assert any(line.startswith("names listing genres read as their parts: ") and said in line for line in lines)


@pytest.mark.parametrize("cell", ["Sword & Sorcery", "Rock & Roll", "Cloak/Dagger"])
def test_a_name_of_no_known_genre_stays_whole(cell):
    assert _mapped(cell) == ([cell], [])


def test_html_in_a_real_list_of_genres_is_markup_not_names():
    """JSON Lines / Parquet lists of scraped links were learnt as genres named '<a href=...>Drama</a>'."""
    assert parse_genres(['<a href="/genre/drama">Drama</a>', '<span class="genre">Action</span>']) == [
        "Drama", "Action"]


def test_html_in_genre_cells_is_markup_not_names():
    scraped = '<a href="/search/title/?genres=horror">Horror</a>, <a href="/search/title/?genres=action">Action</a>'
    assert parse_genres(scraped) == ["Horror", "Action"]
    assert parse_genres("<ul><li>Drama</li><li>Romance</li></ul>") == ["Drama", "Romance"]
    assert parse_genres("<3 Romance") == ["<3 Romance"]  # no tag: text


@pytest.mark.parametrize("cell", ["nil", "missing", "N/D", "S/D", "Sin datos", "Otros", "Outros", "Sonstige",
                                  "Autre", "Другое", "Прочее", "その他", "其他", "未知", "暂无", "不明", "기타"])
def test_other_languages_placeholders_are_no_genre(cell):
    mapped, lines = _mapped(cell)
    assert mapped == [] and lines[0].startswith("placeholders read as no genre: ")


@pytest.mark.parametrize(("cell", "genres"), [
    ("Policier", ["Crime"]), ("Famille", ["Family"]), ("Epouvante-horreur", ["Horror"]),  # Allociné
    ("Comédie dramatique", ["Comedy", "Drama"]), ("Historique", ["History"]),
    ("Intriga", ["Thriller"]), ("Aventuras", ["Adventure"]), ("Bélico", ["War"]),  # Filmaffinity
    ("Fantástico", ["Fantasy"]), ("Infantil", ["Family"]),
    ("纪录片", ["Documentary"]), ("传记", ["Biography"]), ("歌舞", ["Musical"]), ("儿童", ["Family"]),  # Douban
    ("Stand-up", ["Comedy"]),  # Rotten Tomatoes
])
def test_more_sites_genre_names(cell, genres):
    assert _mapped(cell)[0] == genres


def test_names_keep_their_brackets_and_acronyms():
    assert parse_genres("Comedy (romantic)|Animation (Adult)") == ["Comedy (romantic)", "Animation (Adult)"]
    assert parse_genres("Horror (film)") == ["Horror"]  # a qualifier, dropped as before
    assert [canonical_genre(n) for n in ("IMAX", "LGBTQ+", "lgbt", "3D")] == ["IMAX", "LGBTQ+", "LGBT", "3D"]


def test_an_output_vocabulary_giving_two_genres_one_name_in_other_cases_is_refused(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('"Thriller" = "mystery"\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"gives Mystery and Thriller the same name 'Mystery / mystery' \(case"):
        output_names(["Drama", "Mystery", "Thriller"], path)


# --------------------------------------------------------------------------- one row per genre


def _long_file(path):
    rows = [("Night Shift", "Horror", 0), ("Night Shift", "Thriller", 0), ("Summer Kites", "Comedy", 5),
            ("Summer Kites", "Family", 5), ("Summer Kites", "Drama", 5), ("Red Docks", "Crime", 7),
            ("Red Docks", "Thriller", 7), ("Star Run", "Science Fiction", 3), ("Star Run", "Action", 3)]
    pd.DataFrame([{"name": t, "genre": g, "description": SYNOPSES[s]} for t, g, s in rows]).to_csv(path, index=False)


def test_a_file_of_one_row_per_genre_gives_each_movie_all_its_genres(tmp_path):
    """Each film kept only its first row's genre, and evaluate then called the others unused (micro-F1 1.0)."""
    path = tmp_path / "long.csv"
    _long_file(path)
    data, report = load_labelled(path, vocabulary=Vocabulary.bundled())
    assert data.genres == [["Horror", "Thriller"], ["Comedy", "Family", "Drama"], ["Crime", "Thriller"],
                           ["Science Fiction", "Action"]]
    assert (report.duplicate_text, report.other_genres, report.merged_genres) == (5, 5, True)
    assert ("dropped 5 rows repeating an earlier synopsis; the genres of 5 of them added to the first row's "
            "(the file lists a movie's genres on rows of their own)") in report.lines()


def test_a_few_twins_with_other_genres_keep_their_own_and_are_said(tmp_path):
    """Two films with one blurb (the shared TMDB file's two Charlotte's Webs) are not one movie of both genres."""
    path = tmp_path / "twins.csv"
    genres = ["Horror", "Romance", "Western", "Science Fiction", "Crime", "Family", "War", "Crime", "Fantasy", "Music"]
    rows = [{"title": f"Movie {i}", "overview": s, "genres": g} for i, (s, g) in enumerate(zip(SYNOPSES, genres))]
    rows.append({"title": "Movie 5 (remake)", "overview": SYNOPSES[5], "genres": "Comedy|Family"})
    pd.DataFrame(rows).to_csv(path, index=False)
    data, report = load_labelled(path, vocabulary=Vocabulary.bundled())
    assert data.genres[5] == ["Family"] and len(data.genres) == 10
    assert (report.other_genres, report.merged_genres) == (1, False)
    assert ("dropped 1 row repeating an earlier synopsis (1 with other genres than the row kept, which keeps its own)"
            in report.lines())


def test_evaluate_scores_a_one_row_per_genre_file_on_every_genre(tiny_run, tmp_path):
    path = tmp_path / "long.csv"
    _long_file(path)
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(path), "--no-baseline",
                                 "--json", str(tmp_path / "ev.json")])
    assert result.exit_code == 0, result.output
    assert "the genres of 5 of them added to the first row's" in " ".join(result.output.split())
    report = json.loads((tmp_path / "ev.json").read_text())
    # The tiny run knows Action, Comedy, Drama, Horror, Romance and Western: Star Run is scored on its Action
    # (its first row's Science Fiction was all it had), Red Docks (Crime, Thriller) cannot be.
    assert report["data"]["rows"] == 3


def test_myanimelist_s_misspelled_synopsis_column_is_found():
    assert detect_columns(["MAL_ID", "Name", "Score", "Genres", "sypnopsis"])[0] == ["sypnopsis"]


def test_numpy_reprs_are_no_broken_lists():
    from genretag.data import is_malformed_list

    assert not is_malformed_list("[878  53]") and not is_malformed_list("['Horror' 'Action']")
    assert is_malformed_list("[878, 5")
