"""Which columns `tag` and `evaluate` read for a run trained on title + overview."""

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.data import choose_text_columns
from genretag.errors import DataError

RUN_COLS = ["title", "overview"]


def test_given_columns_win():
    chosen = choose_text_columns(["Title", "Plot", "Notes"], ["Notes"], RUN_COLS)
    assert (chosen.columns, chosen.how, chosen.missing_title) == (["Notes"], "given", False)


def test_the_runs_own_columns_when_all_present():
    chosen = choose_text_columns(["id", "Title", "Overview", "genres"], None, RUN_COLS)
    assert (chosen.columns, chosen.how) == (["Title", "Overview"], "the model's")


def test_title_and_synopsis_matched_under_other_names():
    chosen = choose_text_columns(["Plot", "year", "Movie Name"], None, RUN_COLS)
    assert chosen.columns == ["Movie Name", "Plot"]  # the run's order: title first
    assert chosen.how == "matched to the model's title, overview" and not chosen.missing_title
    assert choose_text_columns(["Plot", "Movie Name"], None, ["overview", "title"]).columns == ["Plot", "Movie Name"]


def test_no_title_column_reads_the_synopsis_alone_and_says_so():
    chosen = choose_text_columns(["Plot", "Genre"], None, RUN_COLS)
    assert (chosen.columns, chosen.missing_title) == (["Plot"], True)
    [warning] = chosen.warnings()
    assert "no title column" in warning and "'Plot'" in warning


def test_given_columns_with_the_title_last_are_said():
    # The model read "title. overview": "overview. title" is another text, so its scores move.
    chosen = choose_text_columns(["Name", "Plot", "Genre"], ["Plot", "Name"], RUN_COLS)
    assert (chosen.columns, chosen.title_moved) == (["Plot", "Name"], "Name")
    [warning] = chosen.warnings()
    assert "after the synopsis" in warning and "--text-col Name,Plot" in warning
    assert choose_text_columns(["Name", "Plot"], ["Name", "Plot"], RUN_COLS).warnings() == []
    assert choose_text_columns(["Name", "Plot"], ["Plot", "Name"], ["overview"]).warnings() == []  # a run without title


def test_a_run_without_title_gets_the_detected_synopsis():
    chosen = choose_text_columns(["Title", "Plot"], None, ["overview"])
    assert (chosen.columns, chosen.how, chosen.missing_title) == (["Plot"], "detected", False)
    assert choose_text_columns(["Title", "Plot"], None, None).columns == ["Plot"]


def test_no_synopsis_column_is_an_error():
    with pytest.raises(DataError):
        choose_text_columns(["Title", "year"], None, RUN_COLS)


@pytest.fixture(scope="module")
def title_run(tiny_run, tmp_path_factory):
    """The shared tiny run, as if it had been trained on title + overview."""
    run = tmp_path_factory.mktemp("title-run") / "run"
    shutil.copytree(tiny_run, run)
    config = json.loads((run / "config.json").read_text())
    config["text_cols"] = RUN_COLS
    (run / "config.json").write_text(json.dumps(config))
    return run


MOVIES = [("Dark House", "A ghost haunts a family in an old house."), ("Big Race", "Two friends race cars across the desert.")]


def _tag(run, tmp_path, name, frame):
    src = tmp_path / f"{name}.csv"
    frame.to_csv(src, index=False)
    out = tmp_path / f"{name}-tagged.csv"
    result = CliRunner().invoke(app, ["tag", str(src), "--model", str(run), "--out", str(out), "--runtime", "torch"])
    assert result.exit_code == 0, result.output
    return result.output, pd.read_csv(out)


def test_tag_reads_title_and_synopsis_under_other_names(title_run, tmp_path, caplog):
    own_out, own = _tag(title_run, tmp_path, "own", pd.DataFrame(MOVIES, columns=["title", "overview"]))
    assert "'title', 'overview' (the model's)" in " ".join(own_out.split())
    other_out, other = _tag(title_run, tmp_path, "other", pd.DataFrame(MOVIES, columns=["Movie Name", "Plot"]))
    assert "'Movie Name', 'Plot' (matched to the model's title, overview)" in " ".join(other_out.split())
    scores = [c for c in own.columns if c.startswith("score_")]
    assert scores and (own[scores].to_numpy() == other[scores].to_numpy()).all()
    # The synopsis alone is another input: other scores, and a warning saying why.
    alone_out, alone = _tag(title_run, tmp_path, "alone", pd.DataFrame([m[1] for m in MOVIES], columns=["Plot"]))
    assert "'Plot' (detected)" in " ".join(alone_out.split())
    assert any("no title column" in r.getMessage() for r in caplog.records)
    assert (alone[scores].to_numpy() != own[scores].to_numpy()).any()


def test_tag_and_evaluate_say_a_title_given_after_the_synopsis(title_run, tmp_path, caplog):
    frame = pd.DataFrame({"Name": [f"Film {i}" for i in range(3)], "Plot": [m[1] for m in MOVIES] + [MOVIES[0][1] + " Again."],
                          "Genre": ["Horror", "Action", "Horror"]})
    src = tmp_path / "reversed.csv"
    frame.to_csv(src, index=False)
    for args in (["tag", str(src), "--out", str(tmp_path / "t.csv")], ["evaluate", "--data", str(src)]):
        result = CliRunner().invoke(app, [*args, "--model", str(title_run), "--text-col", "Plot,Name"])
        assert result.exit_code == 0, result.output
        said = " ".join([result.output, *(r.getMessage() for r in caplog.records)])
        assert "--text-col Name,Plot" in " ".join(said.split()), args
        caplog.clear()


def test_evaluate_reads_another_file_as_tag_does(title_run, tmp_path):
    src = tmp_path / "other.csv"
    pd.DataFrame({"Movie Name": [f"Film {i}" for i in range(12)],
                  "Plot": [f"A ghost haunts house number {i}." for i in range(12)],
                  "Genre": ["Horror"] * 12}).to_csv(src, index=False)
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["evaluate", "--model", str(title_run), "--data", str(src), "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())["data"]
    assert data["text_columns"] == ["Movie Name", "Plot"]
    assert data["text_columns_how"] == "matched to the model's title, overview"


def test_a_title_alone_or_a_placeholder_is_not_a_synopsis(title_run, tmp_path):
    rows = [("Dark House", "A ghost haunts a family in an old house."), ("Empty", ""), ("Imdb Null", "\\N"),
            ("Dash", "-"), ("Stock", "No overview found."),
            ("Tmdb", "We don't have an overview translated in English. Help us expand our database by adding one.")]
    out, tagged = _tag(title_run, tmp_path, "gaps", pd.DataFrame(rows, columns=["title", "overview"]))
    assert "6 rows, 1 tagged, 5 with an empty synopsis" in " ".join(out.split())
    assert tagged["predicted_genres"].notna().tolist() == [True, False, False, False, False, False]


def test_placeholders_are_empty_synopses_in_training_data_too(tmp_path):
    from genretag.data import load_labelled

    path = tmp_path / "gaps.csv"
    path.write_text("title,overview,genres\nA,A real plot about a ghost.,Horror\nB,\\N,Drama\nC,TBA,Comedy\n"
                    "D,-,Action\nNA,Another real plot.,Drama\n", encoding="utf-8")
    data, report = load_labelled(path)
    assert report.empty_text == 3 and data.texts == ["A real plot about a ghost.", "Another real plot."]
    assert load_labelled(path, text_cols=["title", "overview"])[0].texts == ["A. A real plot about a ghost.",
                                                                             "NA. Another real plot."]


@pytest.mark.parametrize("text", [
    "It looks like we don't have a Synopsis for this title yet. Be the first to contribute!", "Add a Plot »",
    "See full summary »", "(no plot)", "N.A.", "To be announced", "Synopsis coming soon.", "No plot summary available.",
    "...more", "[No description]", "Overview", "Plot: unknown",
])
def test_more_placeholders_people_write(text):
    from genretag.data.cells import clean_cell

    assert clean_cell(text) == ""
    assert clean_cell("More than a game: " + text) != ""  # a sentence that holds one is a synopsis


def test_an_empty_title_column_is_said(title_run, tmp_path, caplog):
    frame = pd.DataFrame({"title": ["", ""], "overview": [m[1] for m in MOVIES]})
    _tag(title_run, tmp_path, "notitles", frame)
    assert any("title column 'title' is empty in the first 2 rows" in r.getMessage() for r in caplog.records)


def test_public_files_title_and_genre_columns_are_found():
    from genretag.data import detect_columns, detect_title_column

    assert detect_columns(["show_id", "type", "title", "director", "listed_in", "description"]) == \
        (["description"], "listed_in")  # Netflix titles
    assert detect_columns(["Wikipedia movie ID", "Movie name", "Movie genres (Freebase ID:name tuples)", "Plot"])[1] == \
        "Movie genres (Freebase ID:name tuples)"  # CMU, with its README's column names
    assert detect_title_column(["title_romaji", "title_english", "description", "genres"]) == "title_english"  # AniList


def test_evaluate_judges_the_language_of_the_synopsis_not_the_title(title_run, tmp_path):
    src = tmp_path / "titled.csv"
    pd.DataFrame({"title": ["Amélie", "Heat"],
                  "overview": ["Un joven ladrón se enamora de la hija de un poderoso mafioso y debe huir de la ciudad.",
                               "A thief and a detective face each other in Los Angeles as one last heist goes wrong."],
                  "genres": ["Romance", "Crime"]}).to_csv(src, index=False)
    from genretag.evaluation import evaluate
    from genretag.runs import load_run

    run = load_run(title_run)
    meta = dict(run.meta, text_profile={"method": "scripts-v1", "rows": 1, "scripts": {"Latin": 1.0}, "english": 1.0})
    object.__setattr__(run, "meta", meta)  # a run known to be English, as the bundled model is
    results = evaluate(run, data=src, baseline=False)
    assert results["data"]["other_script"] == {"not English": 1}


def test_a_title_column_of_objects_reads_their_english_title_and_says_so(title_run, tmp_path, caplog):
    # AniList's API shape: "title" holds {"romaji", "english"}; a Parquet struct reads the same.
    rows = [{"title": {"romaji": "Kurai Ie", "english": MOVIES[0][0]}, "description": MOVIES[0][1]},
            {"title": {"romaji": MOVIES[1][0], "english": None}, "description": MOVIES[1][1]}]
    src = tmp_path / "anilist.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "anilist.tagged.jsonl"
    result = CliRunner().invoke(app, ["tag", str(src), "--model", str(title_run), "--out", str(out), "--runtime", "torch"])
    assert result.exit_code == 0, result.output
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "title column 'title' holds objects (fields: romaji, english); read each one's 'english' (1), 'romaji' (1)" in said
    _, flat = _tag(title_run, tmp_path, "flat", pd.DataFrame(MOVIES, columns=["title", "overview"]))
    tagged = pd.read_json(out, lines=True, precise_float=True)  # a row may keep exact probabilities (17 digits)
    scores = [c for c in flat.columns if c.startswith("score_")]
    assert (tagged[scores].to_numpy() == flat[scores].to_numpy()).all()  # the same input text as plain titles
    assert tagged["title"].tolist() == [r["title"] for r in rows]  # the file's own cells written back unchanged


def test_evaluate_names_movies_by_the_title_read_from_an_object(tmp_path):
    """evaluate's movies showed AniList titles as Python's repr ("{'romaji': ...}"), not the title read."""
    from genretag.data import load_labelled

    rows = [{"title": {"romaji": "Kurai Ie", "english": MOVIES[0][0]}, "description": MOVIES[0][1], "genres": ["Horror"]},
            {"title": {"romaji": MOVIES[1][0], "english": None}, "description": MOVIES[1][1], "genres": ["Drama"]}]
    src = tmp_path / "anilist.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data, _ = load_labelled(src)
    assert data.titles == [MOVIES[0][0], MOVIES[1][0]]


def test_a_synopsis_column_of_objects_is_refused_and_nested_json_lines_are_not_a_document(title_run, tmp_path):
    src = tmp_path / "nested.jsonl"
    src.write_text("".join(json.dumps({"movie": {"title": t, "overview": o}, "genres": ["Drama"]}) + "\n"
                           for t, o in MOVIES), encoding="utf-8")
    result = CliRunner().invoke(app, ["tag", str(src), "--model", str(title_run), "--text-col", "movie"])
    assert result.exit_code == 2
    assert ("column 'movie' holds objects (fields: title, overview), not text" in " ".join(result.output.split()))
    # Stop 28: the object's fields are read as dotted columns (tests/test_nested_records_stop28.py)
    result = CliRunner().invoke(app, ["tag", str(src), "--model", str(title_run)])
    assert result.exit_code == 0 and "one JSON object of columns" not in result.output
    assert "'movie.title', 'movie.overview'" in " ".join(result.output.split())


@pytest.mark.parametrize("raw, text", [
    ("<p>A ghost&#x27;s tale.<br>Then <i>more</i>.</p>", "A ghost's tale. Then more."),  # scraped HTML, as the model read plain text
    ("Two friends &amp; a dog.", "Two friends & a dog."),
    ("a <3 story where x < y", "a <3 story where x < y"),  # not markup
    ("R&B singers; AT&T", "R&B singers; AT&T"),  # not entities
    ("https://www.themoviedb.org/movie/238-the-godfather", ""),  # a link alone is no synopsis
    ("\u00a0\u200b ", ""),  # invisible characters only
    ("Zero\u200bwidth", "Zerowidth"),
])
def test_synopsis_cells_are_read_as_plain_text(raw, text):
    from genretag.data.cells import clean_cell

    assert clean_cell(raw) == text


def test_a_title_read_as_a_float_keeps_its_digits():
    # pandas turns a column of titles "1917", "2012" and a blank into floats; JSON Lines and
    # Parquet written from it hold 1917.0: the model reads "1917", as from the CSV.
    from genretag.data.cells import clean_cell

    assert clean_cell(1917.0, title=True) == "1917" and clean_cell(2.5, title=True) == "2.5"


def test_a_column_name_almost_right_gets_a_suggestion():
    from genretag.data import detect_columns

    with pytest.raises(DataError, match=r"column 'Genre' given by --genres-col not found .*; did you mean 'Genres'\?"):
        detect_columns(["Title", "Synopsis", "Genres"], genres_col="Genre")
    with pytest.raises(DataError, match=r"did you mean 'Synopsis'\?"):
        detect_columns(["Title", "Synopsis", "Genres"], text_cols=["Synopis"])
    with pytest.raises(DataError, match=r"not found .*; check the name"):
        detect_columns(["Title", "Synopsis", "Genres"], text_cols=["Budget"])
