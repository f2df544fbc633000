"""The genre vocabulary: bundled table, aliases, compounds, placeholders, TMDB ids, genre maps,
matching to a model's genres and output vocabularies."""

from __future__ import annotations

import json
import tomllib

import pytest

from genretag import vocabulary as vocab_mod
from genretag.configfile import load_config_file
from genretag.data import load_labelled, parse_genres
from genretag.errors import DataError
from genretag.vocabulary import (GenreReport, Vocabulary, genre_key, load_run_vocabulary, match_labels, output_names,
                                 save_run_vocabulary)

V = Vocabulary.bundled()


# --------------------------------------------------------------------------- the table


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Sci-Fi", ("Science Fiction",)),
        ("science-fiction", ("Science Fiction",)),
        ("SF", ("Science Fiction",)),
        ("SCI FI", ("Science Fiction",)),
        ("Romantic", ("Romance",)),
        ("Documentaries", ("Documentary",)),
        ("Comedies", ("Comedy",)),
        ("Dramas", ("Drama",)),
        ("Horror Movies", ("Horror",)),
        ("Thrillers", ("Thriller",)),
        ("Kids'", ("Family",)),
        ("Kids' TV", ("Family",)),
        ("Children", ("Family",)),
        ("Anime", ("Animation",)),
        ("Musical", ("Musical",)),  # kept: a genre of its own (scored as Music where a model lacks it)
        ("Sci-Fi & Fantasy", ("Science Fiction", "Fantasy")),  # Netflix: one file genre, two genres
        ("Tv movie", ("TV Movie",)),
        ("Family Film", ("Family",)),  # Freebase
        ("Crime Fiction", ("Crime",)),
        ("Rom-Com", ("Romance", "Comedy")),
        ("Dark Comedy", ("Comedy",)),
        ("family drama", ("Drama",)),  # a drama about a family, not a film for families
    ],
)
def test_aliases_of_the_issue(name, expected):
    assert V.resolve(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("romantic comedy", ("Romance", "Comedy")),
        ("Crime drama", ("Crime", "Drama")),
        ("comedy-drama", ("Comedy", "Drama")),
        ("Science Fiction Horror", ("Science Fiction", "Horror")),  # the longest phrase first
        ("Action and Adventure Film", ("Action", "Adventure")),
        # Adjectives that do not change the genre (Wikipedia, IMDb keywords).
        ("Dark Fantasy", ("Fantasy",)),
        ("Teen Comedy", ("Comedy",)),
        ("Psychological Thriller", ("Thriller",)),
    ],
)
def test_compound_labels_split_into_their_genres(name, expected):
    assert V.resolve(name) == expected


@pytest.mark.parametrize("name", ["World cinema", "Sword and sorcery", "Film", "Coming of age"])
def test_a_label_with_a_word_that_is_no_genre_stays_unknown(name):
    assert V.resolve(name) is None


@pytest.mark.parametrize("name", ["unknown", "Unknown", "(no genres listed)", "No Genres Listed", "\\N", "-", "none",
                                  "\u2014", "\u2013"])
def test_placeholders_mean_no_genre(name):
    assert V.resolve(name) == ()


@pytest.mark.parametrize(("cell", "expected"), [
    ("drama [1]", ["Drama"]),  # a Wikipedia footnote mark
    ("Drama (film), comedy[2]", ["Drama", "Comedy"]),
    ("Comedy [citation needed]|Horror", ["Comedy", "Horror"]),
])
def test_wiki_marks_are_not_part_of_a_genre(cell, expected):
    assert parse_genres(cell) == expected


def test_genre_key_ignores_case_dashes_and_spaces():
    assert genre_key("Sci-Fi") == genre_key("sci fi") == genre_key("SCI_FI") == "sci fi"
    assert genre_key("  Science   FICTION ") == "science fiction"
    assert genre_key("-") == "-"


def test_every_alias_of_the_bundled_table_names_canonical_genres():
    raw = tomllib.loads(vocab_mod.VOCABULARY_TOML.read_text(encoding="utf-8"))
    canonical = {genre_key(n) for group in raw["genres"].values() for n in group}
    assert len(raw["genres"]["tmdb"]) == 19
    for alias, value in raw["aliases"].items():
        for target in [value] if isinstance(value, str) else value:
            assert genre_key(target) in canonical, (alias, target)
    for gid, name in raw["tmdb_ids"].items():
        assert V.resolve(name), (gid, name)  # every TMDB id reads as known genres
    for target in raw["related"].values():
        assert genre_key(target) in canonical


# --------------------------------------------------------------------------- apply


def test_apply_merges_spellings_of_unknown_genres_under_the_majority():
    rows = [["Slice Of Life"], ["Kaiju"], ["KAIJU"], ["kaiju Film"], ["Kaiju"], ["Tokusatsu"], ["tokusatsu"]]
    mapped, report = V.apply(rows)
    # "Slice of Life" is in the table: its spelling wins. Kaiju: 2 of 3 rows write it "Kaiju".
    assert mapped[0] == ["Slice of Life"]
    assert mapped[1:3] == [["Kaiju"], ["Kaiju"]]
    # "Kaiju Film" is Kaiju, as "Horror Film" is Horror (stop 31; it was once kept as another name)
    assert mapped[3] == ["Kaiju"]
    assert mapped[5:] == [["Tokusatsu"], ["Tokusatsu"]]  # a tie: the first seen
    assert report.applied["KAIJU"] == {"to": ["Kaiju"], "kind": "spelling", "rows": 1}
    assert report.applied["Slice Of Life"]["kind"] == "spelling"


def test_apply_reports_every_mapping_with_row_counts():
    rows = [["Sci-Fi", "Action"], ["Sci-Fi"], ["Unknown"], ["Romantic Comedy"], ["28", "878"]]
    mapped, report = V.apply(rows)
    assert mapped == [["Science Fiction", "Action"], ["Science Fiction"], [], ["Romance", "Comedy"],
                      ["Action", "Science Fiction"]]
    assert report.lines() == [
        "TMDB genre ids read as names: 28 → Action (1 row), 878 → Science Fiction (1 row)",
        "genres mapped: Sci-Fi → Science Fiction (2 rows), Romantic Comedy → Romance + Comedy (1 row)",
        "placeholders read as no genre: Unknown (1 row)",
    ]


def test_apply_dedupes_a_row_after_mapping():
    mapped, _ = V.apply([["Sci-Fi", "Science Fiction", "SF"]])
    assert mapped == [["Science Fiction"]]


def test_numeric_genres_that_are_not_all_tmdb_ids_are_refused():
    with pytest.raises(DataError, match=r"numeric ids \(27, 99999\).*99999 is not a TMDB genre id"):
        V.apply([["27"], ["99999"]], where="x.csv column 'genre_ids'")


# --------------------------------------------------------------------------- genre cells


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('{"/m/07s9rl0": "Drama", "/m/01z4y": "Comedy"}', ["Drama", "Comedy"]),  # CMU's Freebase map
        ('[{"genre_id": 28, "genre_name": "Action"}]', ["Action"]),
        ('[{"id": 1, "genre": "Horror"}, {"id": 2, "genre": "Drama"}]', ["Horror", "Drama"]),
        ('[{"label": "Drama film"}]', ["Drama film"]),
        ('{"Action": true, "Drama": false, "Comedy": true}', ["Action", "Comedy"]),
        ('[{"id": 28}]', ["28"]),  # a TMDB id alone: named later by the vocabulary
        ('[{"id": "28", "slug": "action"}]', ["28"]),  # not an id -> name map
    ],
)
def test_genre_cells_of_other_shapes(cell, expected):
    assert parse_genres(cell) == expected


def test_load_labelled_with_a_vocabulary_counts_placeholder_rows_as_without_genres(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "overview,genres\n"
        "one,Sci-Fi\n"
        "two,unknown\n"
        "three,(no genres listed)\n"
        "four,\\N|-\n"
        "five,Comedies|none\n",
        encoding="utf-8",
    )
    plain, plain_report = load_labelled(path)
    assert plain.genres == [["Sci-Fi"], ["Unknown"], ["No Genres Listed"], ["\\N", "-"], ["Comedies"]]
    data, report = load_labelled(path, vocabulary=V)
    assert data.genres == [["Science Fiction"], ["Comedy"]]
    assert (report.no_genres, report.kept) == (3, 2)
    # said as the file writes it
    assert report.genres.applied["Unknown"] == {"to": [], "kind": "placeholder", "rows": 1, "written": "unknown"}
    assert plain_report.genres is None


# --------------------------------------------------------------------------- --genre-map


def test_genre_map_adds_and_overrides(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text(
        '"Sci-Fi & Fantasy" = ["Sci-Fi", "Fantasy"]\n'
        'Musical = "Music"\n'
        '"Space Opera" = "Science Fiction"\n'
        'Kaiju = []\n'
        'SF = "SF"\n',
        encoding="utf-8",
    )
    v = V.with_genre_map(path)
    assert v.resolve("Sci-Fi & Fantasy") == ("Science Fiction", "Fantasy")  # values are read through the table
    assert v.resolve("Musical") == ("Music",)
    assert v.resolve("space opera") == ("Science Fiction",)
    assert v.resolve("Kaiju") == ()
    assert v.resolve("SF") == ("SF",)  # mapped to itself: kept as a genre of its own
    assert v.sources[-1] == str(path.resolve())
    assert V.resolve("Musical") == ("Musical",)  # the bundled table is unchanged


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Sci-Fi = 3\n", r"'Sci-Fi' must be a genre name or a list of names"),
        ("Sci-Fi = [\"\"]\n", r"must be a genre name"),
        ("Sci-Fi: Science Fiction\n", r"is not valid TOML"),
        ("[table]\nx = \"y\"\n", r"'table' must be a genre name"),
    ],
)
def test_bad_genre_maps_are_refused(tmp_path, text, message):
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        V.with_genre_map(path)


def test_missing_genre_map(tmp_path):
    with pytest.raises(DataError, match="not found"):
        V.with_genre_map(tmp_path / "nope.toml")


def test_config_file_resolves_genre_map_against_its_folder(tmp_path):
    (tmp_path / "run.toml").write_text('data = "m.csv"\ngenre_map = "maps/netflix.toml"\n', encoding="utf-8")
    values = load_config_file(tmp_path / "run.toml")
    assert values["genre_map"] == str(tmp_path.resolve() / "maps" / "netflix.toml")


# --------------------------------------------------------------------------- runs


def test_run_vocabulary_round_trips_and_old_runs_have_none(tmp_path):
    assert load_run_vocabulary(tmp_path) is None  # a run written before vocabularies
    report = GenreReport({"Sci-Fi": {"to": ["Science Fiction"], "kind": "alias", "rows": 3}})
    save_run_vocabulary(tmp_path, V, report)
    assert load_run_vocabulary(tmp_path) == V
    saved = json.loads((tmp_path / "vocabulary.json").read_text(encoding="utf-8"))
    assert saved["applied"] == report.to_dict()
    assert saved["tmdb_ids"]["878"] == "Science Fiction"


# --------------------------------------------------------------------------- model genres


def test_match_labels_by_canonical_name_on_either_side():
    # A run trained before vocabularies on IMDb names has the label "Sci-Fi".
    match = match_labels(["Science Fiction", "Sci-Fi", "Action"], ["Action", "Sci-Fi"], V)
    assert match.scored_as == {"Science Fiction": ["Sci-Fi"], "Sci-Fi": ["Sci-Fi"], "Action": ["Action"]}
    assert match.notes == {"Science Fiction": "scored as Sci-Fi"}


def test_match_labels_uses_a_related_genre_only_where_the_model_lacks_one_and_says_so():
    match = match_labels(["Musical", "Documentary", "World cinema"], ["Music", "Drama"], V)
    assert match.scored_as == {"Musical": ["Music"], "Documentary": [], "World cinema": []}
    assert match.notes["Musical"] == "Musical as Music (the model has no Musical)"
    assert match_labels(["Musical"], ["Music", "Musical"], V).scored_as["Musical"] == ["Musical"]


def test_match_labels_without_a_vocabulary_is_exact():
    match = match_labels(["Sci-Fi", "Action"], ["Action", "Science Fiction"], None)
    assert match.scored_as == {"Sci-Fi": [], "Action": ["Action"]}


def test_did_you_mean():
    labels = ["Action", "Science Fiction", "Thriller"]
    assert V.suggest("Sci-Fy", labels) == "Science Fiction"
    assert V.suggest("Thriler", labels) == "Thriller"
    assert V.suggest("World cinema", labels) is None
    assert V.suggest("Documentary", labels) is None  # a known genre the model lacks: no misspelling


# --------------------------------------------------------------------------- output vocabularies


TMDB_18 = ["Action", "Adventure", "Animation", "Comedy", "Crime", "Drama", "Family", "Fantasy", "History", "Horror",
           "Music", "Mystery", "Romance", "Science Fiction", "TV Movie", "Thriller", "War", "Western"]


def test_output_names_imdb_and_movielens():
    names, unnamed = output_names(TMDB_18, "imdb")
    assert dict(zip(TMDB_18, names))["Science Fiction"] == "Sci-Fi"
    assert [n for label, n in zip(TMDB_18, names) if label != n] == ["Sci-Fi"]
    assert unnamed == ["TV Movie"]
    names, unnamed = output_names(TMDB_18, "MovieLens")
    renamed = {label: n for label, n in zip(TMDB_18, names) if label != n}
    assert renamed == {"Family": "Children", "Music": "Musical", "Science Fiction": "Sci-Fi"}
    assert unnamed == ["History", "TV Movie"]
    assert output_names(["Sci-Fi", "Musical"], "tmdb") == (["Science Fiction", "Music"], [])


def test_output_names_from_a_file_and_clashes(tmp_path):
    path = tmp_path / "names.toml"
    path.write_text('"Science Fiction" = "SciFi"\nfamily = "Kids"\n', encoding="utf-8")
    assert output_names(["Action", "Science Fiction", "Family"], path) == (["Action", "SciFi", "Kids"], [])
    path.write_text('"Science Fiction" = "Action"\n', encoding="utf-8")
    with pytest.raises(DataError, match="Action and Science Fiction the same name 'Action'"):
        output_names(["Action", "Science Fiction"], path)
    with pytest.raises(DataError, match="unknown --vocabulary 'letterboxd'"):
        output_names(["Action"], "letterboxd")


@pytest.mark.parametrize("name", ["Comedy – Drama", "Comedy — Drama", "Comedy - Drama", "Comedy–Drama"])
def test_dashes_between_genres_split_like_a_hyphen(name):
    assert V.resolve(name) == ("Comedy", "Drama")
    assert V.resolve("\u2014") == ()  # a dash alone is still a placeholder


def test_a_compound_keeps_a_genre_whose_name_holds_an_ignored_word():
    """"Comedy / TV Movie" was no compound: "movie" is a word compounds skip ("crime drama film"), so
    "TV" was left alone and the row was dropped as an unknown genre."""
    from genretag.vocabulary import Vocabulary

    vocabulary = Vocabulary.bundled()
    assert vocabulary.resolve("Comedy / TV Movie") == ("Comedy", "TV Movie")
    assert vocabulary.resolve("Comedy and TV Movie") == ("Comedy", "TV Movie")
    assert vocabulary.resolve("crime drama film") == ("Crime", "Drama")
    assert vocabulary.resolve("film and movie") is None


def test_a_tag_vocabulary_file_names_genres_by_alias_refuses_separators_and_says_unused_names(tmp_path, caplog):
    """``"Horror" = "Horror|Scary"`` wrote a cell that reads back as two genres; ``"Sci-Fi" = "SF"`` was
    silently unused (the model's genre is Science Fiction); a name the model lacks was ignored without a word."""
    import logging

    from genretag.errors import DataError
    from genretag.vocabulary import output_names

    labels = ["Action", "Horror", "Science Fiction"]
    path = tmp_path / "v.toml"
    path.write_text('"Sci-Fi" = "SF"\n"Musical" = "Song"\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert output_names(labels, path) == (["Action", "Horror", "SF"], [])
    assert "'Musical' is no genre of the model; not used" in caplog.text
    path.write_text('"Horror" = "Horror|Scary"\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"'Horror\|Scary' holds '\|', which separates the genres tag writes"):
        output_names(labels, path)
