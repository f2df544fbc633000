"""The dialect cases (tests/cases/dialect-*) and their kinds, through the command line with a tiny run."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import synthetic_movies, write_csv
from genretag import data, runs
from genretag.errors import DataError
from genretag.cli import app
from genretag.formats import read_table
from genretag.tagging import tag_csv

CASES = Path(__file__).parent / "cases"
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tiny_run):
    return tiny_run


def _case(tmp_path: Path, case: str, name: str) -> Path:
    return Path(shutil.copy(CASES / case / name, tmp_path / name))


def _tag(*args: str):
    return runner.invoke(app, ["tag", *map(str, args)])


def _one_error(result) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def test_tsv_in_gives_tsv_out(run_dir, tmp_path):
    src = _case(tmp_path, "dialect-tsv-output", "movies.tsv")
    result = _tag(src, "--model", run_dir)
    assert result.exit_code == 0, result.output
    out = tmp_path / "movies.tagged.tsv"
    first = out.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("wikipedia_id\tsummary\tpredicted_genres\tscore_")
    ours, theirs = read_table(out), pd.read_csv(out, sep="\t", dtype=str, keep_default_na=False)
    assert list(ours.columns) == list(theirs.columns)
    assert ours.to_dict("records") == theirs.to_dict("records")
    assert ours["wikipedia_id"].tolist() == ["1001", "1002", "1003"]


def test_jsonl_in_gives_jsonl_out_with_its_types(run_dir, tmp_path):
    src = _case(tmp_path, "dialect-headerless-jsonl", "movies.jsonl")
    result = _tag(src, "--model", run_dir)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "movies.tagged.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["movie_id"] for r in rows] == [1, 2]  # numbers stay numbers
    assert [r["title"] for r in rows] == ["Night Shift", "Ten Dates"]
    assert all(isinstance(r["predicted_genres"], str) and r["predicted_genres"] for r in rows)
    assert all(0 <= r[k] <= 1 for r in rows for k in r if k.startswith("score_"))


def test_headerless_tsv_errors_then_reads_with_columns(run_dir, tmp_path):
    src = _case(tmp_path, "dialect-headerless-jsonl", "plot_summaries.txt")
    error = _one_error(_tag(src, "--model", tmp_path / "no-such-run"))  # the file is checked before the model
    assert "first row looks like data" in error and "--no-header --columns id,overview" in error
    result = _tag(src, "--model", run_dir, "--no-header", "--columns", "id,overview")
    assert result.exit_code == 0, result.output
    out = read_table(tmp_path / "plot_summaries.tagged.tsv")  # tab-separated like the input, named so (as train_data.txt)
    assert out["id"].tolist() == ["1001", "1002"] and "predicted_genres" in out.columns


@pytest.mark.parametrize("options", [[], ["--sep", " ::: "], ["--no-header", "--columns", "id,title,genres,overview"],
                                     ["--no-header", "--columns", "id,title,genres,overview", "--sep", " ::: "]])
def test_imdb_separator_file(run_dir, tmp_path, options, caplog):
    """IMDb's header-less layout is read as such (said) without options; with them, as they say."""
    src = _case(tmp_path, "dialect-headerless-jsonl", "train_data.txt")
    result = _tag(src, "--model", run_dir, *options)
    assert result.exit_code == 0, result.output
    guessed = "reading its 4 ' ::: ' fields as IMDb's genre-classification layout: id, title, genres, overview"
    assert (guessed in caplog.text) == ("--no-header" not in options)
    out = read_table(tmp_path / "train_data.tagged.tsv")
    assert out[["id", "title", "genres"]].values.tolist() == [["1", "Night Shift (2001)", "horror"],
                                                               ["2", "Ten Dates (2003)", "comedy"]]


def test_mixed_encoding_keeps_utf8_cells(run_dir, tmp_path, caplog):
    src = _case(tmp_path, "dialect-mixed-encoding", "input.csv")
    result = _tag(src, "--model", run_dir)
    assert result.exit_code == 0, result.output
    assert "1 byte(s) are not valid UTF-8" in caplog.text
    out = read_table(tmp_path / "input.tagged.csv")
    assert out["title"].tolist() == ["Amélie", "Crème Brûlée", "Smart Quote"]
    assert out["overview"].tolist()[2] == "The sheriff\u2019s last ride across the desert."
    assert (tmp_path / "input.tagged.csv").read_bytes().decode("utf-8")  # the output is clean UTF-8


OUT_SUFFIXES = [".csv", ".tsv", ".csv.gz", ".jsonl", ".jsonl.bz2", ".parquet"]


def test_every_output_format_round_trips_with_the_same_cells(run_dir, tmp_path):
    src = _case(tmp_path, "dialect-mixed-encoding", "input.csv")
    frames = {}
    for suffix in OUT_SUFFIXES:
        out = tmp_path / f"out{suffix}"
        result = _tag(src, "--model", run_dir, "--out", out)
        assert result.exit_code == 0, result.output
        frames[suffix] = read_table(out)
    base = frames[".csv"]
    for suffix, frame in frames.items():
        assert list(frame.columns) == list(base.columns), suffix
        for column in base.columns:
            if column.startswith("score_"):
                assert np.allclose(frame[column].astype(float), base[column].astype(float)), (suffix, column)
            else:
                assert frame[column].astype(str).tolist() == base[column].tolist(), (suffix, column)


def test_formula_prefix_only_in_spreadsheet_formats(run_dir, tmp_path):
    src = _case(tmp_path, "dialect-mixed-encoding", "input.csv")
    run = runs.load_run(run_dir, device="cpu")
    run = dataclasses.replace(run, labels=["=" + label for label in run.labels])
    tag_csv(run, src, tmp_path / "o.csv", thresholds=0.0)
    tag_csv(run, src, tmp_path / "o.jsonl", thresholds=0.0)
    in_csv = read_table(tmp_path / "o.csv")["predicted_genres"].tolist()
    in_jsonl = read_table(tmp_path / "o.jsonl")["predicted_genres"].tolist()
    assert all(cell.startswith("'=") for cell in in_csv)
    assert in_jsonl == [cell[1:] for cell in in_csv]


def _interrupt_after(run, chunks: int):
    """``run`` as a run whose ``predict_proba`` raises KeyboardInterrupt after ``chunks`` calls."""
    calls = {"n": 0}

    class Interrupted(runs.Run):
        def predict_proba(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] > chunks:
                raise KeyboardInterrupt
            return super().predict_proba(*args, **kwargs)

    return Interrupted(**{f.name: getattr(run, f.name) for f in dataclasses.fields(run) if f.init})


@pytest.mark.parametrize("suffix", [".jsonl", ".tsv.gz"])
def test_resume_after_an_interruption_gives_the_uninterrupted_file(run_dir, tmp_path, suffix):
    src = write_csv(tmp_path / "movies.csv", synthetic_movies(25, seed=3))
    whole = tmp_path / f"whole{suffix}"
    tag_csv(runs.load_run(run_dir, device="cpu"), src, whole, chunksize=10)
    out = tmp_path / f"cut{suffix}"
    run = _interrupt_after(runs.load_run(run_dir, device="cpu"), 2)
    with pytest.raises(KeyboardInterrupt):
        tag_csv(run, src, out, chunksize=10)
    assert not out.exists()
    summary = tag_csv(runs.load_run(run_dir, device="cpu"), src, out, chunksize=10, resume=True)
    assert summary.resumed_rows == 20
    pd.testing.assert_frame_equal(read_table(out), read_table(whole))


def test_parquet_resume_is_refused_and_an_interrupted_write_leaves_nothing(run_dir, tmp_path):
    src = write_csv(tmp_path / "movies.csv", synthetic_movies(25, seed=3))
    out = tmp_path / "movies.parquet"
    error = _one_error(_tag(src, "--model", tmp_path / "no-such-run", "--out", out, "--resume"))
    assert "--resume is not available for Parquet output" in error
    run = _interrupt_after(runs.load_run(run_dir, device="cpu"), 1)
    with pytest.raises(KeyboardInterrupt):
        tag_csv(run, src, out, chunksize=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movies.csv"]


def test_train_and_evaluate_a_headerless_imdb_file(tiny_qwen, tmp_path):
    lines = [f"{i} ::: {r['title']} (2001) ::: {r['genres'].replace('|', ', ')} ::: {r['overview']}"
             for i, r in enumerate(synthetic_movies(40, seed=5))]
    data = tmp_path / "train_data.txt"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", str(tiny_qwen), "--epochs", "1",
                                 "--no-header", "--columns", "id,title,genres,overview", "--out", str(run)])
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["no_header"] is True and config["columns"] == ["id", "title", "genres", "overview"]
    # evaluate on the run's own file reads it as training did, without the options again
    result = runner.invoke(app, ["evaluate", "--model", str(run), "--split", "validation", "--no-baseline"])
    assert result.exit_code == 0, result.output
    assert "validation split of train_data.txt" in result.output


def test_train_fails_on_a_bad_file_before_importing_torch(tmp_path):
    data = tmp_path / "m.csv"
    data.write_text("overview,genres\nA film.,[]\n", encoding="utf-8")
    code = ("import sys\nfrom genretag.cli import app\n"
            f"try:\n    app(['train', '--data', {str(data)!r}], standalone_mode=False)\n"
            "except SystemExit as e:\n    print('exit', e.code)\n"
            "except BaseException as e:\n    print('exit', getattr(e, 'exit_code', e))\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "readable genre" in done.stderr, done.stderr
    assert done.stdout.split()[-1] == "False", done.stdout


def test_evaluate_checks_the_file_before_the_model(tmp_path):
    data = tmp_path / "m.csv"
    data.write_text("overview,kind\nA film.,Drama\n", encoding="utf-8")
    error = _one_error(runner.invoke(app, ["evaluate", "--model", str(tmp_path / "no-such-run"), "--data", str(data)]))
    assert "no genre column found" in error


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl"])
def test_shards_of_tsv_and_jsonl_merge_into_the_unsharded_file(run_dir, tmp_path, suffix):
    src = write_csv(tmp_path / "movies.csv", synthetic_movies(9, seed=4))
    whole, out = tmp_path / f"whole{suffix}", tmp_path / f"out{suffix}"
    assert _tag(src, "--model", run_dir, "--out", whole).exit_code == 0
    for shard in ("0/2", "1/2"):
        result = _tag(src, "--model", run_dir, "--out", out, "--shard", shard)
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["merge-shards", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == whole.read_bytes()


# --------------------------------------------------------------------------- what tag assumed


def test_a_headerless_row_without_prose_is_not_offered_as_a_synopsis():
    from genretag.formats import example_columns

    # CMU's movie.metadata.tsv: ids, a title, a date and Freebase dicts, no synopsis.
    row = ["975900", "/m/03vyhn", "Ghosts of Mars", "2001-08-24", "14010832", "98",
           '{"/m/02h40lc": "English Language"}', '{"/m/09c7w0": "United States of America"}',
           '{"/m/01jfsb": "Thriller", "/m/06n90": "Science Fiction", "/m/03npn": "Horror"}']
    assert "overview" not in example_columns(row)
    # Named by what the fields hold: the id, the title after the Freebase id, the genre dict.
    assert example_columns(row) == ["id", "col2", "title", "col4", "col5", "col6", "col7", "col8", "genres"]
    imdb = ["tt0111161", "The Shawshank Redemption", "1994", "Drama", "Two imprisoned men bond over a number of years."]
    assert example_columns(imdb) == ["id", "title", "col3", "genres", "overview"]
    # A genre written as an alias ("sci-fi") is a genre too: the suggestion was col3 for it.
    assert example_columns(["1", "Alien (1979)", "sci-fi", "A crew aboard a spaceship answers a distress call "
                            "and meets a deadly creature in the dark."]) == ["id", "title", "genres", "overview"]
    with pytest.raises(DataError, match="none of its 9 fields reads like a synopsis"):
        data.detect_columns(row, need_genres=False)
    prose = ["23890098", "Shlykov, a hard-working taxi driver and Lyosha, a saxophonist, develop a bizarre love"]
    assert example_columns(prose) == ["id", "overview"]


def test_tag_names_its_text_column_and_warns_about_titles(run_dir, tmp_path, caplog):
    src = tmp_path / "titles.csv"
    src.write_text("movieId,title\n" + "".join(f"{i},Heat {i} (1995)\n" for i in range(8)), encoding="utf-8")
    result = runner.invoke(app, ["tag", str(src), "--model", str(run_dir), "--text-col", "title"])
    assert result.exit_code == 0, result.output
    assert "synopsis from column(s) 'title' (given)" in result.output
    assert "8 of 8 texts in title have fewer than 6 words" in caplog.text


def test_a_mac_roman_export_is_read_as_mac_roman_and_written_back_so(run_dir, tmp_path, caplog):
    """Excel's "CSV (Macintosh)" (Mac Roman) was read as Windows-1252: "Amélie" became "AmŽlie" in
    JSON Lines and Parquet outputs and in the text the model read."""
    rows = ("title,overview\nAmélie,A shy waitress in Paris decides to change the lives of those around her.\n"
            "Señor Ghost,A ghost haunts a café in Madrid and the señora who runs it.\n")
    src = tmp_path / "mac.csv"
    src.write_bytes(rows.encode("mac_roman"))
    result = _tag(src, "--model", run_dir, "--out", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 0, result.output
    assert "Mac Roman's accented letters" in caplog.text
    got = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [g["title"] for g in got] == ["Amélie", "Señor Ghost"] and "café" in got[1]["overview"]
    result = _tag(src, "--model", run_dir, "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 0 and "Mac Roman (as the input)" in " ".join(result.output.split())
    assert (tmp_path / "o.csv").read_bytes().split(b"\n")[1].startswith("Amélie,".encode("mac_roman"))
    # A Windows-1252 file with its curly apostrophes and dashes stays Windows-1252.
    win = tmp_path / "win.csv"
    win.write_bytes((rows + "Smart,The sheriff’s last ride – across the desert.\n").encode("cp1252"))
    caplog.clear()
    result = _tag(win, "--model", run_dir, "--out", str(tmp_path / "w.jsonl"))
    assert result.exit_code == 0 and "reading it as Windows-1252" in caplog.text
    assert json.loads((tmp_path / "w.jsonl").read_text(encoding="utf-8").splitlines()[2])["overview"] == \
        "The sheriff’s last ride – across the desert."
