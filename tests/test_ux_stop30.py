"""What a new user met at stop 30: each message says what is true and what to do."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.errors import OutputExistsError

runner = CliRunner()


def _one_line(result) -> str:
    return " ".join(result.output.split())


def test_tag_resume_of_a_complete_output_says_it_is_complete(tiny_run, movies_csv, tmp_path):
    """It said "already exists; pass --force to overwrite it": a hint that throws the output away."""
    from genretag import runs
    from genretag.tagging import tag_csv

    out = tmp_path / "t.csv"
    first = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(out),
                                "--runtime", "torch"])
    assert first.exit_code == 0, first.output
    before = out.read_bytes()
    again = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(out), "--resume"])
    assert again.exit_code == 4, again.output
    said = _one_line(again)
    assert f"{out} exists with nothing unfinished to resume (an interrupted run leaves " in said
    assert "beside it); to redo it from the start, pass --force without --resume" in said
    assert "model:" not in again.output  # refused before the model loads
    assert out.read_bytes() == before
    # From Python too
    with pytest.raises(OutputExistsError, match="exists with nothing unfinished to resume"):
        tag_csv(runs.load_run(tiny_run, device="cpu"), movies_csv, out, resume=True)
    assert out.read_bytes() == before


# --------------------------------------------------------------------------- per-row flags of odd synopses

ODD_SYNOPSES = {
    "🎬🔥💥": "no letters (not tagged)",
    "12345 678": "no letters (not tagged)",
    "★★★★★ 10/10": "no letters (not tagged)",
    "https://example.com/movie/123": "a link only (not tagged)",
    "www.imdb.com/title/tt0111161": "a link only (not tagged)",
    "john.doe@example.com": "an e-mail address only (not tagged)",
    "A cop.": "short (2 words)",
    "Love.": "short (1 word)",
    "N/A": "",  # a placeholder: an empty synopsis, as before
    "-": "",
}


@pytest.mark.parametrize("text", ["🎬🔥💥", "12345 678", "★★★★★ 10/10", "https://example.com/x", "www.imdb.com/title/tt1",
                                  "john.doe@example.com", "mailto:a@b.org, https://x.y"])
def test_a_cell_of_no_letters_or_only_an_address_is_an_empty_synopsis_with_a_reason(text):
    from genretag.data.cells import clean_cell, no_synopsis_note

    assert clean_cell(text) == ""
    assert no_synopsis_note(text) in ("no letters", "a link only", "an e-mail address only")


@pytest.mark.parametrize("text", ["Contact john@x.com for the plot of a heist in Rome.", "A cop.", "1917"])
def test_a_synopsis_holding_an_address_or_a_title_of_digits_is_kept(text):
    from genretag.data.cells import clean_cell, no_synopsis_note

    assert clean_cell(text, title=text == "1917") == text and no_synopsis_note(text) in ("", "no letters")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_tag_flags_odd_synopses_per_row_in_every_format(tiny_run, tmp_path, suffix, caplog):
    """Short synopses got genres without a flag unless most rows were short; emoji and links were counted as
    empty without a flag (the README promised 'no letters'); an e-mail address alone was tagged."""
    import pandas as pd
    from conftest import synthetic_movies, write_csv

    rows = synthetic_movies(6, seed=3) + [{"title": f"Odd {i}", "overview": text, "genres": ""}
                                          for i, text in enumerate(ODD_SYNOPSES)]
    source = write_csv(tmp_path / "odd.csv", rows)
    out = tmp_path / f"odd.tagged{suffix}"
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out), "--runtime", "torch"])
    assert result.exit_code == 0, result.output
    assert ("6 rows with no synopsis to read (3 no letters, 2 a link only, 1 an e-mail address only) left untagged "
            "and counted as empty; flagged in column language_warning") in caplog.text
    assert "8 tagged" in result.output and "8 with an empty synopsis left untagged" in result.output
    tagged = (pd.read_csv(out, keep_default_na=False) if suffix == ".csv" else pd.read_json(out, lines=True)
              if suffix == ".jsonl" else pd.read_parquet(out).fillna(""))
    odd = tagged[tagged["title"].str.startswith("Odd")]
    assert odd["language_warning"].tolist() == list(ODD_SYNOPSES.values())
    untagged = odd[odd["language_warning"].str.endswith("(not tagged)")]
    assert (untagged["predicted_genres"].fillna("") == "").all()
    assert tagged[~tagged["title"].str.startswith("Odd")]["language_warning"].eq("").all()


def test_the_python_tagger_flags_rows_as_tag_does(tiny_run):
    """`GenreTagger` (what Ray Data, Spark and Dask call) writes the same flags."""
    import pandas as pd

    from genretag import GenreTagger

    frame = pd.DataFrame({"title": [f"Odd {i}" for i in range(len(ODD_SYNOPSES))], "overview": list(ODD_SYNOPSES)})
    tagged = GenreTagger(str(tiny_run), precision="fp32", runtime="torch")(frame)
    assert tagged["language_warning"].tolist() == list(ODD_SYNOPSES.values())


# --------------------------------------------------------------------------- --backbone: a file, a broken config.json

def test_a_backbone_that_is_a_file_is_named_a_file(tiny_run, movies_csv, tmp_path):
    """It said "backbone folder movies.csv has no config.json"."""
    for args in (["train", "--data", str(movies_csv), "--out", str(tmp_path / "run")],
                 ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(tmp_path / "t.csv")]):
        result = runner.invoke(app, [*args, "--backbone", str(movies_csv)])
        assert result.exit_code == 3, result.output
        assert (f"backbone {movies_csv} is a file, not a model folder or a Hugging Face model id; point --backbone at "
                "the folder that holds the model's config.json and weights") in _one_line(result)
    assert not (tmp_path / "run").exists() and not (tmp_path / "t.csv").exists()


def test_a_broken_config_json_of_a_backbone_is_named_broken(tiny_qwen, tiny_run, movies_csv, tmp_path):
    """It was reported as a tokenizer failure ("cannot load the tokenizer of backbone ...")."""
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_qwen, broken)
    (broken / "config.json").write_text('{"model_type": "qwen3",\n', encoding="utf-8")
    for args in (["train", "--data", str(movies_csv), "--out", str(tmp_path / "run")],
                 ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(tmp_path / "t.csv")]):
        result = runner.invoke(app, [*args, "--backbone", str(broken)])
        assert result.exit_code == 3, result.output
        said = _one_line(result)
        assert (f"backbone {broken / 'config.json'} is broken: not valid JSON (Expecting property name enclosed in "
                "double quotes at line 2, column 1); restore it from the model's source") in said
        assert "tokenizer" not in said


# --------------------------------------------------------------------------- global flags after the command

def test_global_flags_after_the_command_also_follow_a_global_flag_before_it(tiny_run):
    """``genretag --verbose info RUN --quiet`` said "No such option: --quiet" (moved only without a flag before)."""
    result = runner.invoke(app, ["--verbose", "info", str(tiny_run), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "No such option" not in result.output
    import typer

    for name in typer.main.get_command(app).commands:  # every command takes them, in either place
        for args in (["--verbose", name, "--quiet", "--help"], ["-q", name, "-v", "--help"], [name, "-q", "--help"]):
            result = runner.invoke(app, args)
            assert result.exit_code == 0 and "No such option" not in result.output, (args, result.output)


# --------------------------------------------------------------------------- refused --lora-targets: exit 2

@pytest.mark.parametrize("targets, said", [
    ("LayerNorm", "--lora-targets LayerNorm: 'embeddings.LayerNorm' is a LayerNorm, not a linear layer; linear layers "
                  "of this backbone: "),
    ("ry", "--lora-targets names no layer of this backbone: ry; its linear layers: "),
    ("pooler.dense", "--lora-targets pooler.dense: 'pooler.dense' does not feed the last hidden states"),
])
def test_every_refused_lora_target_is_bad_input_exit_2(movies_csv, tiny_bert, tmp_path, targets, said):
    """A layer that is no linear layer or no layer at all exited 3 ("a model cannot be loaded"), one off the
    pooled path 2: each is a bad option value (exit 2, as the README's table says)."""
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--epochs", "1",
                                 "--out", str(out), "--lora-targets", targets])
    assert result.exit_code == 2, result.output
    assert said in _one_line(result) and "internal error" not in result.output
    assert not out.exists()


# --------------------------------------------------------------------------- tune: repeated grid values

def test_tune_says_which_grid_values_were_given_more_than_once(movies_csv, tiny_bert, tmp_path, caplog):
    """``--lr 1e-4 --lr 1e-4`` was one trial without a word."""
    from genretag.tuning import parse_grid

    result = runner.invoke(app, ["tune", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--lr", "1e-4",
                                 "--lr", "1e-4,2e-4", "--batch-size", "8,8,8", "--epochs", "1",
                                 "--text-col", "overview", "--text-col", "title,overview", "--text-col", "overview",
                                 "--out", str(tmp_path / "tune"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert ("values given more than once are tried once: --lr 1e-4 (2 times), --batch 8 (3 times), "
            "--text-col overview (2 times)") in caplog.text
    assert result.output.count("lr1e-4_b8_e1") == 2 and "lr2e-4_b8_e1" in result.output  # 2 inputs × 2 lr, once each
    grid = parse_grid(["1e-4", "2e-4"], ["8"], ["1"])
    assert grid.repeated == {} and grid.lr == [1e-4, 2e-4]


# --------------------------------------------------------------------------- default output names

def test_the_default_output_of_text_files_is_named_by_what_is_written_and_said(tiny_run, tmp_path, caplog):
    """IMDb's train_data.txt (' ::: ') became .tagged.tsv without a word, a tab-separated plot_summaries.txt
    .tagged.txt with a warning that .txt is unknown: one rule now, said."""
    import logging

    imdb = tmp_path / "train_data.txt"
    imdb.write_text("1 ::: Heat (1995) ::: crime ::: A thief and a detective circle each other across Los Angeles.\n"
                    "2 ::: Love Story (1970) ::: romance ::: Two students fall in love against a rich father.\n",
                    encoding="utf-8")
    cmu = tmp_path / "plot_summaries.txt"
    cmu.write_text("123\tA thief and a detective circle each other across Los Angeles.\n"
                   "456\tTwo students fall in love against the wishes of a rich father.\n", encoding="utf-8")
    cases = [(imdb, "id,title,genre,overview", "train_data.tagged.tsv: tab-separated, named .tsv rather than the "
                                               "input's .txt; its ' ::: ' separator written as a tab"),
             (cmu, "id,overview", "plot_summaries.tagged.tsv: tab-separated, named .tsv rather than the input's .txt")]
    for source, columns, said in cases:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--no-header", "--columns",
                                         columns, "--runtime", "torch"])
        assert result.exit_code == 0, result.output
        assert said in caplog.text and "not a suffix genretag knows" not in caplog.text
        written = source.with_name(source.stem + ".tagged.tsv")
        assert written.is_file() and "\t" in written.read_text(encoding="utf-8").splitlines()[0]


def test_default_output_names():
    from pathlib import Path

    from genretag import formats

    tab = formats.FileFormat(kind=formats.CSV, columns=["a"], sep="\t", inner_suffix=".txt")
    assert formats.default_output(Path("plot_summaries.txt"), tab).name == "plot_summaries.tagged.tsv"
    assert formats.default_output(Path("movies.2020")).name == "movies.2020.tagged.csv"
    assert formats.default_output_note(Path("movies.2020")) == (
        "movies.2020.tagged.csv: comma-separated, named .csv, the input's .2020 kept in the name (not a suffix "
        "genretag knows)")
    assert formats.default_output_note(Path("movies")) == ("movies.tagged.csv: comma-separated, named .csv: the "
                                                           "input's name has no suffix")
    assert formats.default_output_note(Path("movies.csv.zip")) == ("movies.tagged.csv.gz: comma-separated, "
                                                                   "gzip-compressed, as genretag does not write .zip")
    assert formats.default_output_note(Path("movies.tsv.gz")) is None


# --------------------------------------------------------------------------- placeholder genres as written

def test_placeholder_genre_names_are_said_as_the_file_writes_them(tiny_run, tmp_path):
    """MovieLens' "(no genres listed)" was said as "No Genres Listed", "not available" as "Not Available"."""
    from conftest import synthetic_movies, write_csv

    from genretag.data import load_labelled
    from genretag.data.genres import parse_genres
    from genretag.vocabulary import current_vocabulary

    rows = synthetic_movies(40, seed=30)
    rows[0]["genres"], rows[1]["genres"], rows[2]["genres"] = "(no genres listed)", "Comedy|not available", "UNKNOWN"
    source = write_csv(tmp_path / "ml.csv", rows)
    said = "placeholders read as no genre: (no genres listed) (1 row), not available (1 row), UNKNOWN (1 row)"
    _, report = load_labelled(source, vocabulary=current_vocabulary())
    assert said in report.genres.lines()
    assert report.genres.applied["No Genres Listed"]["written"] == "(no genres listed)"
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(source), "--no-baseline"])
    assert result.exit_code == 0, result.output
    assert said in _one_line(result) and "No Genres Listed" not in result.output
    written: dict = {}
    assert parse_genres("(no genres listed)", written) == ["No Genres Listed"]
    assert written == {"No Genres Listed": "(no genres listed)"}
