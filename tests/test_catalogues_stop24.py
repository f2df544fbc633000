"""Real-catalogue faults found by a new user's tries in stop 24, one test per kind, each asserting the right value."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.data import load_labelled
from genretag.data.cells import clean_cell
from genretag.data.genres import parse_genres
from genretag.errors import DataError
from genretag.formats import ReadOptions, read_table, sniff
from genretag.vocabulary import current_vocabulary, genre_key

runner = CliRunner()

SYNOPSES = [
    "A young nurse on the night shift at an old hospital hears voices from the closed wing.",
    "Two rival wedding planners keep running into each other until they fall in love one summer.",
    "A retired marshal rides back into a lawless town to settle an old debt with a cattle baron.",
    "An astronaut stranded on a dying station fights a hostile organism hiding in its vents.",
    "A detective hunts a killer who leaves riddles at the scene of each crime in a rainy city.",
    "Three siblings build kites to win a seaside contest and save their grandmother's bakery.",
    "A soldier walks home across a ruined country after the war, carrying a letter for a widow.",
    "A con artist and a rookie cop team up to rob the casino that ruined both their fathers.",
    "A girl finds a door in her garden that leads to a kingdom of talking foxes and lost toys.",
    "A jazz pianist loses her hearing weeks before the concert that could make her career.",
    "A family moves into a farmhouse where the previous owners vanished without a trace.",
    "A small-town baker enters a national contest and falls for the judge's grumpy son.",
]


def test_zero_width_characters_in_genre_names_are_dropped():
    """Copied from the web, "Western,\\u200bAction" held an unknown "\\u200bAction" ("did you mean Action?")."""
    assert parse_genres("Western,\u200bAction") == ["Western", "Action"]
    assert parse_genres("Crime, Thriller\u200b") == ["Crime", "Thriller"]
    assert parse_genres("Sci\u00ad-Fi") == ["Sci-Fi"]
    assert genre_key("Thriller\u200b") == genre_key("Thriller")


@pytest.mark.parametrize("text", [
    "No synopsis information has been added to this title. Help improve our database by adding a synopsis here.",
    "No description available for this anime.",
    "Synopsis to come",
    "The plot is unknown at this time.",
    "We don\u2019t have an overview translated in English. Help us expand our database by adding one.",
    "No synopsis information has been added to this title. Help improve our database by adding a synopsis here. "
    "[Written by MAL Rewrite]",
    "This entry currently doesn't have a synopsis. Check back soon!",
    "Synopsis: N/A",
    "There is currently no synopsis for this title.",
])
def test_stock_no_synopsis_sentences_are_empty_synopses(text):
    assert clean_cell(text) == ""
    assert clean_cell(text + " Then a real plot follows, with a ghost in the hospital.") != ""


@pytest.mark.parametrize(("name", "genres"), [
    ("spaghetti western", ["Western"]), ("screwball comedy", ["Comedy"]), ("slasher", ["Horror"]),
    ("whodunit", ["Mystery"]), ("spy", ["Thriller"]), ("Stand-Up Comedy & Talk Shows", ["Comedy", "Talk Show"]),
    # TMDB's own names in other languages (genre/movie/list?language=ru|pl|tr|ja|zh|ko)
    ("Ужасы", ["Horror"]), ("Мелодрама", ["Romance"]), ("Kryminał", ["Crime"]), ("Bilim-Kurgu", ["Science Fiction"]),
    ("ホラー", ["Horror"]), ("科幻", ["Science Fiction"]), ("로맨스", ["Romance"]),
])
def test_more_genre_names_are_read_as_the_genre_they_stand_for(name, genres):
    assert current_vocabulary().apply([parse_genres(name)])[0] == [genres]


def test_movielens_double_colon_files_are_split_on_it(tmp_path):
    path = tmp_path / "movies.dat"
    path.write_text("".join(f"{i}::Movie {i} (199{i})::Comedy|Romance::{s}\n" for i, s in enumerate(SYNOPSES[:5])),
                    encoding="utf-8")
    fmt = sniff(path)
    assert fmt.sep == "::"
    with pytest.raises(DataError, match=r"one name per field \(4\), e.g. --no-header --columns id,title,genres,overview"):
        load_labelled(path)
    with pytest.raises(DataError, match=r"--columns gives 3 names but the first row of .* has 4 fields \(separator '::'\)"):
        read_table(path, ReadOptions(header=False, columns=("id", "title", "genres")))  # the synopsis was glued on
    frame = read_table(path, ReadOptions(header=False, columns=("id", "title", "genres", "overview")))
    assert frame["genres"].tolist()[0] == "Comedy|Romance" and frame["overview"].tolist()[4] == SYNOPSES[4]


def test_a_named_genre_column_in_another_language_is_read(tmp_path, caplog):
    names = ["Жуть", "Страшилка, Хохма", "Ковбои", "Космос", "Сыщик", "Детское", "Война, Жуть", "Афера", "Сказка",
             "Джаз, Хохма", "Мистика", "Выпечка"]
    path = tmp_path / "ru.csv"
    path.write_text("title,genres,overview\n" + "".join(f'Film {i},"{g}","{s}"\n' for i, (g, s) in
                                                        enumerate(zip(names, SYNOPSES))), encoding="utf-8")
    with pytest.raises(DataError, match="--genres-col 'genres' reads these as genres"):
        load_labelled(path, vocabulary=current_vocabulary())
    data, _ = load_labelled(path, genres_col="genres", vocabulary=current_vocabulary())
    assert len(data.texts) == 12 and ["Страшилка", "Хохма"] in data.genres
    assert "read as genres, as --genres-col says" in caplog.text
    titles = tmp_path / "titles.csv"  # a named column of titles (several words each) is still refused
    titles.write_text("title,overview\n" + "".join(f'"The Long Night of Number {w}","{s}"\n'
                                                   for w, s in zip("ABCDEFGHIJKL", SYNOPSES)), encoding="utf-8")
    with pytest.raises(DataError, match="does not hold genres"):
        load_labelled(titles, genres_col="title", vocabulary=current_vocabulary())


def test_api_response_pages_say_where_the_movies_are(tmp_path):
    """Pages one per line are refused, saying where the movies are; a file of one page is read from its
    'results' (stop 28: one JSON object holding its records under a key, tests/test_catalogues_stop28.py)."""
    page = {"page": 1, "results": [{"id": 1, "title": "A", "overview": SYNOPSES[0], "genre_ids": [27]}],
            "total_pages": 1, "total_results": 1}
    path = tmp_path / "pages.jsonl"
    path.write_text(json.dumps(page) + "\n" + json.dumps({**page, "page": 2}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"movies are in each page's 'results' list.*jq -c '.results\[\]' pages.jsonl"):
        sniff(path)


def test_header_options_on_named_fields_are_refused(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"title": "A", "overview": SYNOPSES[0]}) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", str(path), "--no-header", "--columns", "a,b"])
    assert result.exit_code != 0 and "--no-header/--columns is for delimited text" in result.output
    assert "JSON Lines" in result.output and "Traceback" not in result.output


def test_a_dos_end_of_file_mark_is_no_row(tmp_path):
    path = tmp_path / "dos.csv"
    path.write_bytes(b"title,overview,genres\r\nA,A ghost haunts a house.,Horror\r\nB,Two friends fall in love.,Romance"
                     b"\r\n\x1a")
    assert read_table(path)["title"].tolist() == ["A", "B"]


def test_tune_refuses_a_bad_value_of_a_list_before_any_trial(movies_csv, tiny_bert, tmp_path):
    base = ["tune", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--lr", "1e-3", "--batch", "16",
            "--epochs", "1"]
    for extra, message in ((["--lora-r", "8,0"], "--lora-r must be at least 1, got 0"),
                           (["--max-length", "64,-5"], "--max-length must be at least 8 tokens, got -5"),
                           (["--max-length", "32,600,700"], "--max-length 600,700: backbone"),
                           (["--distill-alpha", "0.5,2", "--teacher", str(tmp_path)], "--distill-alpha must be in")):
        for dry in ([], ["--dry-run"]):
            out = tmp_path / f"t{len(extra)}{len(dry)}"
            result = runner.invoke(app, [*base, *extra, *dry, "--out", str(out)])
            assert result.exit_code != 0 and message in result.output, (extra, result.output)
            assert not (out / "trials").exists()  # nothing trained


def test_a_file_of_one_genre_everywhere_is_refused_for_training(tiny_bert, tmp_path):
    path = tmp_path / "horror.csv"
    path.write_text("title,overview,genres\n" + "".join(f'Film {i},"{s}",Horror\n' for i, s in enumerate(SYNOPSES * 3)),
                    encoding="utf-8")
    result = runner.invoke(app, ["train", "--data", str(path), "--backbone", str(tiny_bert), "--epochs", "1",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "has the genre Horror and no other: there is nothing to learn" in result.output
    assert not (tmp_path / "run").exists()


def test_a_student_tested_on_its_teacher_s_training_rows_is_warned(movies_csv, tiny_bert, tmp_path, caplog):
    from genretag.config import TrainConfig
    from genretag.training import train

    base = TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=1, batch_size=16, eval_batch_size=32)
    teacher = train(base, tmp_path / "teacher").path
    with caplog.at_level("WARNING", logger="genretag"):
        train(TrainConfig.from_dict({**base.to_dict(), "teacher": str(teacher), "seed": 7}), tmp_path / "student")
    assert "test rows were training rows of the teacher teacher" in caplog.text
    assert "--test-from" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="genretag"):  # the teacher's own test rows: no warning about them
        train(TrainConfig.from_dict({**base.to_dict(), "teacher": str(teacher), "seed": 7,
                                     "test_rows": json.loads((teacher / "split.json").read_text())["test"],
                                     "split": (0.8, 0.2, 0.0)}), tmp_path / "student2")
    assert "test rows were training rows" not in caplog.text


def test_options_that_do_nothing_are_said_and_an_empty_layer_list_refused(movies_csv, tiny_bert, tmp_path, caplog):
    base = ["train", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--epochs", "1"]
    result = runner.invoke(app, [*base, "--lora-targets", "", "--out", str(tmp_path / "a")])
    assert result.exit_code == 2 and "--lora-targets is empty" in result.output
    with caplog.at_level("WARNING"):
        result = runner.invoke(app, [*base, "--pos-weight-cap", "3", "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "--pos-weight-cap 3 is not used: it weighs positives for --loss weighted-bce, and the loss is bce" in (
        caplog.text)


def test_a_training_synopsis_with_its_first_sentence_dropped_is_found():
    from genretag.data import SynopsisKeys

    long = ("A young nurse takes the night shift at an old hospital. On her first night she hears voices from the "
            "closed wing, and the patient records she finds there name people who died fifty years ago.")
    short = "A ghost haunts the night shift."  # 25 letters: keyed whole
    keys = SynopsisKeys.from_json(SynopsisKeys.of([long, short]).to_json())  # as split.json stores them
    assert keys.holds(long.split(". ", 1)[1])  # first sentence dropped
    assert keys.holds("Night Shift: " + short)  # a short synopsis after its title
    assert keys.holds("Night Shift: " + short + " (Source: TMDB)")  # ... and before a source line
    assert keys.holds(long.split(". ", 1)[1] + " Based on a true story.")  # first sentence dropped, one added
    assert not keys.holds("On her first night she hears voices from the closed wing of a school.")
    assert not keys.holds("Three siblings build kites to win a seaside contest, and a ghost haunts the night shift"
                          " of their grandmother's bakery.")
