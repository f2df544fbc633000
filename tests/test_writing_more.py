"""Outputs written as the input was (line ends, byte-order mark, encoding under any delimited
suffix, nested cells as JSON), and the messages of `info`, `evaluate` and the newest-run search."""

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genretag import formats
from genretag.cli import app
from genretag.data import parse_genres
from genretag.errors import ModelError
from genretag.formats import OutputFormat, TableWriter, output_format, read_table, sniff
from genretag.rundir import check_run_dir, locate_data, newest_run, own_data_file

runner = CliRunner()

# Cells that must come back as they were: a bare CR, a CRLF and an LF inside a cell, quotes.
ODD_CELLS = ["Heat", "Line one\rline two.", 'She said "\r\n" once.', "A\nB", '"quoted"']


def _flat(text: str) -> str:
    return " ".join(text.split())


def _tag(tiny_run, src: Path, out: Path, *extra: str):
    result = runner.invoke(app, ["tag", str(src), "--model", str(tiny_run), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result


def _lines(data: bytes, newline: bytes) -> list[bytes]:
    return data.split(newline)[:-1]


# --------------------------------------------------------------------------- 1. line endings


@pytest.mark.parametrize(("text", "expected"), [
    ("title,overview\nA,B\n", "\n"), ("title,overview\r\nA,B\r\n", "\r\n"), ("title,overview", None),
])
def test_sniff_says_how_the_first_line_ends(tmp_path, text, expected):
    for name, codec in (("f.csv", "utf-8"), ("f16.csv", "utf-16")):
        path = tmp_path / name
        path.write_bytes(text.encode(codec))
        assert sniff(path).newline == expected, name
    jsonl = tmp_path / "f.jsonl"
    jsonl.write_bytes(b'{"overview": "A plot."}\r\n{"overview": "More."}\r\n')
    assert sniff(jsonl).newline == "\r\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n", None])
def test_delimited_text_ends_records_with_the_format_s_newline_and_odd_cells_round_trip(tmp_path, newline):
    frame = pd.DataFrame({"overview": ODD_CELLS, "n": ["1", "2", "3", "4", "5"]})
    path = tmp_path / "o.csv"
    writer = TableWriter(path, OutputFormat(kind="csv", newline=newline))
    writer.write(frame.iloc[:2], header=True)
    writer.write(frame.iloc[2:], header=False)
    writer.close()
    data = path.read_bytes()
    end = (newline or "\r\n").encode()
    expected = (b'overview,n' + end + b'Heat,1' + end + b'"Line one\rline two.",2' + end
                + b'"She said ""\r\n"" once.",3' + end + b'"A\nB",4' + end + b'"""quoted""",5' + end)
    assert data == expected
    assert read_table(path)["overview"].tolist() == ODD_CELLS
    assert pd.read_csv(path, dtype=str)["overview"].tolist() == ODD_CELLS


def test_an_lf_csv_and_tsv_come_out_lf_and_a_crlf_csv_crlf(tiny_run, tmp_path):
    rows = [("Heat", "A crew of bank robbers feels the heat from a detective."),
            ("Odd", "Line one\rline two, and a CRLF\r\nin a cell.")]
    for name, sep, newline in (("lf.csv", ",", "\n"), ("lf.tsv", "\t", "\n"), ("crlf.csv", ",", "\r\n")):
        src = tmp_path / name
        cells = [f"title{sep}overview"] + [f'{t}{sep}"{o}"' for t, o in rows]
        src.write_bytes((newline.join(cells) + newline).encode("utf-8"))
        out = tmp_path / f"out-{name}"
        _tag(tiny_run, src, out)
        data = out.read_bytes()
        header = data.split(newline.encode())[0]
        assert header.startswith(f"title{sep}overview{sep}predicted_genres".encode()) and b"\r" not in header, name
        assert data.count(newline.encode()) >= 3 and data.endswith(newline.encode()), name
        if newline == "\n":  # no CRLF but the one inside the quoted cell
            assert data.count(b"\r\n") == 1, name
        assert read_table(out)["overview"].tolist() == [o for _, o in rows], name


def test_a_crlf_json_lines_input_comes_out_crlf(tiny_run, tmp_path):
    src = tmp_path / "crlf.jsonl"
    src.write_bytes(b'{"title": "Heat", "overview": "A crew of bank robbers.\\r\\nA detective."}\r\n'
                    b'{"title": "Up", "overview": "An old man flies his house away."}\r\n')
    out = tmp_path / "crlf.tagged.jsonl"
    _tag(tiny_run, src, out)
    data = out.read_bytes()
    assert len(_lines(data, b"\r\n")) == 2 and data.count(b"\n") == 2  # every line ends CRLF, no bare LF
    assert [json.loads(line)["title"] for line in _lines(data, b"\r\n")] == ["Heat", "Up"]
    lf = tmp_path / "lf.jsonl"
    lf.write_bytes(src.read_bytes().replace(b"\r\n", b"\n"))
    _tag(tiny_run, lf, tmp_path / "lf.tagged.jsonl")
    assert b"\r" not in (tmp_path / "lf.tagged.jsonl").read_bytes()


def test_a_line_ending_is_kept_only_within_its_own_kind_of_text():
    lf_csv = formats.FileFormat(kind="csv", columns=["a"], newline="\n")
    crlf_jsonl = formats.FileFormat(kind="jsonl", columns=["a"], newline="\r\n")
    assert output_format("o.tsv", lf_csv).newline == "\n"
    assert output_format("o.txt", lf_csv).newline == "\n"
    assert output_format("o.jsonl", crlf_jsonl).newline == "\r\n"
    # Another kind of text gets its format's own line ends: CRLF for CSV, LF for JSON Lines.
    assert output_format("o.jsonl", lf_csv).newline is None
    assert output_format("o.csv", crlf_jsonl).newline is None
    assert output_format("o.csv").newline is None


# --------------------------------------------------------------------------- 2. BOM with a stray byte


def test_a_bom_input_with_a_stray_windows_byte_keeps_its_bom(tiny_run, tmp_path):
    src = tmp_path / "bom_stray.csv"
    src.write_bytes(b"\xef\xbb\xbftitle,overview\n" + "Amélie,A shy waitress in Paris.\n".encode()
                    + b"Quote,The sheriff\x92s last ride.\n")
    out = tmp_path / "bom_stray.tagged.csv"
    result = _tag(tiny_run, src, out)
    assert "(UTF-8 with a byte-order mark (as the input))" in _flat(result.output)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbftitle,overview,predicted_genres")
    text = data.decode("utf-8-sig")
    assert "\nAmélie,A shy waitress in Paris.," in text and "\nQuote,The sheriff\u2019s last ride.," in text


# --------------------------------------------------------------------------- 3. one rule for delimited outputs


CP1252 = "title;overview\r\nAmélie;A shy waitress in Paris changes lives.\r\nHeat;A crew of bank robbers.\r\n"
BOM = "\ufefftitle,overview\nAmélie,A shy waitress in Paris changes lives.\nHeat,A crew of bank robbers.\n"
UTF16 = "title\toverview\r\nAmélie\tA shy waitress in Paris changes lives.\r\nHeat\tA crew of bank robbers.\r\n"


@pytest.mark.parametrize(("out", "sep"), [("o.csv", ";"), ("o.tsv", "\t"), ("o.tab", "\t"), ("o.txt", ";"),
                                          ("o.tsv.gz", "\t")])
def test_every_delimited_suffix_keeps_the_input_s_encoding_and_takes_its_own_separator(tmp_path, out, sep):
    src = tmp_path / "excel.csv"
    src.write_bytes(CP1252.encode("cp1252"))
    fmt = output_format(out, sniff(src))
    assert (fmt.kind, fmt.sep, fmt.encoding, fmt.bom, fmt.newline) == ("csv", sep, "cp1252", False, "\r\n")
    said = formats.describe_dialect(fmt)
    assert said.endswith("Windows-1252 (as the input)") and ("';'-separated" in said) == (sep == ";")


@pytest.mark.parametrize(("name", "data", "out", "starts", "codec", "said"), [
    ("cp.csv", CP1252.encode("cp1252"), "cp.tsv", b"title\toverview\tpredicted_genres", "cp1252",
     "(Windows-1252 (as the input))"),
    ("bc.csv", BOM.encode("utf-8"), "bc.tsv", b"\xef\xbb\xbftitle\toverview\tpredicted_genres", "utf-8-sig",
     "(UTF-8 with a byte-order mark (as the input))"),
    ("eu.txt", UTF16.encode("utf-16"), "eu.csv", "\ufefftitle,overview,predicted_genres".encode("utf-16-le"),
     "utf-16", "(UTF-16 with a byte-order mark (as the input))"),
])
def test_out_with_another_suffix_keeps_the_encoding_and_says_so(tiny_run, tmp_path, name, data, out, starts, codec,
                                                                said):
    src = tmp_path / name
    src.write_bytes(data)
    result = _tag(tiny_run, src, tmp_path / out)
    assert said in _flat(result.output)
    written = (tmp_path / out).read_bytes()
    assert written.startswith(starts)
    assert "Amélie" in written.decode(codec)
    assert read_table(tmp_path / out)["title"].tolist() == ["Amélie", "Heat"]


# --------------------------------------------------------------------------- 4. nested cells


def test_json_lines_lists_and_dicts_are_written_to_csv_as_json(tiny_run, tmp_path):
    src = tmp_path / "nested.jsonl"
    src.write_text('{"title": "Heat", "overview": "A crew of bank robbers feels the heat.", '
                   '"genres": ["Drama", "Romance"], "meta": {"src": "x", "n": 0}, "tags": []}\n'
                   '{"title": "Up", "overview": "An old man flies his house away.", "genres": ["Comédie"], '
                   '"meta": {"src": "y", "n": 1}, "tags": [1, 2.5]}\n', encoding="utf-8")
    out = tmp_path / "nested.csv"
    _tag(tiny_run, src, out)
    text = out.read_bytes().decode("utf-8")
    assert '\nHeat,A crew of bank robbers feels the heat.,"[""Drama"", ""Romance""]","{""src"": ""x"", ""n"": 0}",[],' \
        in text
    assert '"[""Comédie""]"' in text and '"[1, 2.5]"' in text
    back = read_table(out)
    assert [json.loads(c) for c in back["genres"]] == [["Drama", "Romance"], ["Comédie"]]
    assert [json.loads(c) for c in back["meta"]] == [{"src": "x", "n": 0}, {"src": "y", "n": 1}]
    assert parse_genres(back["genres"][0]) == ["Drama", "Romance"]
    assert pd.read_csv(out)["genres"].map(json.loads).tolist() == [["Drama", "Romance"], ["Comédie"]]


def test_parquet_list_cells_are_written_to_tsv_as_json(tmp_path):
    frame = pd.DataFrame({"title": ["Heat", "Up"], "genres": [["Crime", "Drama"], []], "year": [1995, 2009]})
    frame.to_parquet(tmp_path / "in.parquet")
    cells = read_table(tmp_path / "in.parquet")
    assert isinstance(cells["genres"][0], np.ndarray)  # as pyarrow gives them
    path = tmp_path / "o.tsv"
    writer = TableWriter(path, output_format(path))
    writer.write(cells, header=True)
    writer.close()
    assert path.read_bytes() == b'title\tgenres\tyear\r\nHeat\t"[""Crime"", ""Drama""]"\t1995\r\nUp\t[]\t2009\r\n'


# --------------------------------------------------------------------------- 5. info's messages


def test_info_on_a_data_file_says_to_pass_a_run_directory(tmp_path):
    data = tmp_path / "base.csv"
    data.write_text("title,overview\nHeat,A crew.\n", encoding="utf-8")
    result = runner.invoke(app, ["info", str(data)])
    assert result.exit_code == 3
    said = _flat(result.output)
    assert f"{data} is a file, not a run directory; pass a run directory written by genretag train" in said
    assert "--model" not in said and "Traceback" not in said


def test_info_on_a_folder_that_was_never_a_run_says_so(tmp_path, tiny_run):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    result = runner.invoke(app, ["info", str(folder)])
    assert result.exit_code == 3
    assert (f"{folder} is not a genretag run (no config.json or meta.json); pass a run directory written by "
            "genretag train") in _flat(result.output)
    assert "train it again" not in result.output
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(tiny_run / "config.json", half / "config.json")
    result = runner.invoke(app, ["info", str(half)])
    assert result.exit_code == 3
    assert f"{half} is not a complete genretag run (missing labels.json, head.safetensors, meta.json" in \
        _flat(result.output)
    with pytest.raises(ModelError, match="is not a genretag run .* pass --model with a run directory"):
        check_run_dir(folder)  # the commands that take --model say so


def test_info_help_says_what_the_default_run_is():
    result = runner.invoke(app, ["info", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Run directory [default: newest under ./runs, else the bundled model]." in _flat(result.output)


# --------------------------------------------------------------------------- 6. evaluate's paths and columns


def test_the_run_s_data_path_is_shown_without_dot_dot_steps(tmp_path):
    data = tmp_path / "shared" / "data" / "movies.csv"
    data.parent.mkdir(parents=True)
    data.write_text("title,overview,genres\nHeat,A crew.,Crime\n", encoding="utf-8")
    run = tmp_path / "pkg" / "default_model"
    run.mkdir(parents=True)
    split = {"data": "movies.csv", "data_relative": "../../shared/data/movies.csv"}
    assert locate_data(run, split) == data
    assert str(own_data_file(run, split)) == str(data) and ".." not in str(own_data_file(run, split))
    # Through a symbolic link ".." leaves the link's target: the resolved path, the file the OS opens.
    target = tmp_path / "elsewhere" / "deep" / "model"
    target.mkdir(parents=True)
    (tmp_path / "elsewhere" / "shared" / "data").mkdir(parents=True)
    other = tmp_path / "elsewhere" / "shared" / "data" / "movies.csv"
    other.write_text("title,overview,genres\nUp,A house flies.,Family\n", encoding="utf-8")
    link = tmp_path / "pkg" / "linked"
    os.symlink(target, link)
    found = locate_data(link, {"data": "movies.csv", "data_relative": "../../shared/data/movies.csv"})
    assert found == other.resolve() and found.read_text(encoding="utf-8").startswith("title")


def test_evaluate_messages_show_normalised_paths(tiny_run, tmp_path, movies_csv):
    split = json.loads((tiny_run / "split.json").read_text(encoding="utf-8"))
    assert ".." in split["data_relative"]  # the run records its data relative to itself
    other = tmp_path / "other.csv"
    other.write_text("title,overview,genres\nHeat,A crew of bank robbers.,Crime\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(other), "--split", "test"])
    assert result.exit_code != 0
    said = _flat(result.output)
    assert f"--split test needs the file the run was trained on ({movies_csv})" in said and "/../" not in said


def test_evaluate_json_on_the_run_s_own_data_names_the_columns_read(tiny_run, tmp_path):
    out = tmp_path / "ev.json"
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--split", "test", "--no-baseline",
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))["data"]
    assert json.loads((tiny_run / "split.json").read_text(encoding="utf-8"))["text_cols"] is None  # detected
    assert data["own_data"] is True
    assert data["text_columns"] == ["overview"] and data["text_columns_how"] == "the model's"
    given = tmp_path / "given.json"
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--split", "test", "--no-baseline",
                                 "--text-col", "title,overview", "--json", str(given)])
    assert result.exit_code == 0, result.output
    data = json.loads(given.read_text(encoding="utf-8"))["data"]
    assert data["text_columns"] == ["title", "overview"] and data["text_columns_how"] == "given"


# --------------------------------------------------------------------------- 7. incomplete runs under ./runs


def test_an_incomplete_run_under_runs_is_skipped_with_a_warning(tiny_run, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "half").mkdir(parents=True)
    shutil.copy(tiny_run / "config.json", tmp_path / "runs" / "half" / "config.json")
    (tmp_path / "runs" / "empty").mkdir()  # no run files: not a run, nothing to say
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.stdout)["path"]).name == "default_model"  # the bundled model
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["runs/half is not a complete run (no meta.json); skipped"]

    # A complete run beside it is used, and the incomplete one still named (once per command).
    shutil.copytree(tiny_run, tmp_path / "runs" / "tiny")
    (tmp_path / "runs" / "gone").mkdir()
    shutil.copy(tiny_run / "meta.json", tmp_path / "runs" / "gone" / "meta.json")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert newest_run() == Path("runs/tiny")
        assert newest_run() == Path("runs/tiny")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [("runs/gone is not a complete run (no config.json, labels.json, head.safetensors, "
                         "adapter/adapter_config.json, adapter/adapter_model.safetensors); "
                         "runs/half is not a complete run (no meta.json); skipped")]


def test_score_columns_move_together_when_the_input_has_one(tiny_run, tmp_path, caplog):
    """An input column ``score_Action`` moved Action's score alone to ``score_Action_2`` (a
    script reading ``score_<genre>`` read the input's own column for Action); a column
    ``Predicted_Genres`` and a new ``predicted_genres`` differed only in case."""
    import logging

    import pandas as pd

    from genretag.tagging import score_columns

    labels = json.loads((tiny_run / "labels.json").read_text())
    assert score_columns(["title", "score_action"], labels) == [f"score_{g}_2" for g in labels]
    assert score_columns(["title"], labels) == [f"score_{g}" for g in labels]
    source = tmp_path / "in.csv"
    pd.DataFrame({"overview": ["A cowboy rides into a lawless town.", "Two strangers fall in love in Paris."],
                  "score_Action": ["9", "7"], "Predicted_Genres": ["x", "y"]}).to_csv(source, index=False)
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(tmp_path / "o.csv", dtype=str)
    assert got["score_Action"].tolist() == ["9", "7"]  # the input's, untouched
    assert [c for c in got.columns if c.startswith("score_")] == ["score_Action"] + [f"score_{g}_2" for g in labels]
    assert "predicted_genres_2" in got.columns and "predicted_genres" not in got.columns
    assert "genres in column 'predicted_genres_2'" in " ".join(result.output.split())
    assert "the scores are written to score_<genre>_2" in caplog.text + result.output


def test_an_input_language_warning_column_is_kept_and_genretags_is_named(tiny_run, tmp_path, caplog):
    """An input column ``Language_Warning`` moved genretag's flags to ``language_warning_2`` without a word."""
    import logging

    import pandas as pd

    source = tmp_path / "in.csv"
    pd.DataFrame({"overview": ["A cowboy rides into a lawless town.", "Two strangers fall in love in Paris."],
                  "Language_Warning": ["mine", "mine"]}).to_csv(source, index=False)
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(tmp_path / "o.csv", dtype=str, keep_default_na=False)
    assert got["Language_Warning"].tolist() == ["mine", "mine"] and got["language_warning_2"].tolist() == ["", ""]
    assert "the input has a column 'Language_Warning': genretag's language flags are written to 'language_warning_2'" \
        in " ".join((caplog.text + result.output).split())
    caplog.clear()
    source.write_text("overview\nA cowboy rides into a lawless town.\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(tmp_path / "p.csv")])
    assert "language flags are written" not in caplog.text + result.output


def test_rows_given_no_genre_are_counted(tiny_run, movies_csv, tmp_path):
    """``--no-at-least-one --threshold 0.99`` said "120 tagged" with every predicted_genres empty."""
    import pandas as pd

    out = tmp_path / "o.csv"
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--no-at-least-one",
                                 "--threshold", "0.99", "--out", str(out)])
    assert result.exit_code == 0, result.output
    empty = int(pd.read_csv(out, keep_default_na=False)["predicted_genres"].eq("").sum())
    assert empty > 0
    assert f"({empty} of them given no genre: no score reached its threshold)" in " ".join(result.output.split())


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_parquet_whole_numbers_beside_a_null_stay_whole(tiny_run, tmp_path, suffix):
    """A Parquet int column with a null (pandas makes it float) was written 1999.0 in CSV and JSON Lines."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"overview": ["A cop chases a thief across the city.", "An old man flies his house away.",
                                          "A crew meets a deadly creature in space."],
                             "year": pa.array([1995, None, 1979], pa.int32())}), source)
    out = tmp_path / f"out{suffix}"
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    if suffix == ".csv":
        assert pd.read_csv(out, dtype=str, keep_default_na=False)["year"].tolist() == ["1995", "", "1979"]
    elif suffix == ".jsonl":
        assert [json.loads(line)["year"] for line in out.read_text().splitlines()] == [1995, None, 1979]
    else:
        assert pq.read_table(out).column("year").type == pa.int32()
        assert pq.read_table(out).column("year").to_pylist() == [1995, None, 1979]


def test_a_number_past_64_bits_is_a_one_line_error_for_parquet_and_kept_elsewhere(tiny_run, tmp_path):
    """A JSON id of 20 digits was "internal error: OverflowError" when written as Parquet."""
    source = tmp_path / "big.jsonl"
    source.write_text('{"id": 1, "overview": "A cop chases a thief across the city."}\n'
                      '{"id": 12345678901234567890, "overview": "An old man flies his house away."}\n')
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(tmp_path / "o.parquet")])
    assert result.exit_code == 2 and "internal error" not in result.output
    assert ("cannot write o.parquet as Parquet: column 'id' holds a whole number larger than 64 bits; write CSV or "
            "JSON Lines instead") in " ".join(result.output.split())
    assert not (tmp_path / "o.parquet").exists()
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in (tmp_path / "o.jsonl").read_text().splitlines()] == [1, 12345678901234567890]


def test_empty_header_cells_are_written_back_empty(tiny_run, tmp_path):
    """A Google Sheets export's trailing empty columns (``title,overview,,,``) came back named
    ``Unnamed: 2,Unnamed: 3,Unnamed: 4``."""
    source = tmp_path / "sheet.csv"
    source.write_text("title,overview,,,\r\nHeat,A cop chases a thief across the city.,,,\r\n"
                      "Up,An old man flies his house away.,x,,\r\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out), "--no-scores"])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "title,overview,,,,predicted_genres,language_warning"
    assert lines[2].startswith("Up,An old man flies his house away.,x,,,")
    # JSON Lines needs a name per key: there they keep the names they were read with.
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 0 and '"Unnamed: 2": "x"' in (tmp_path / "o.jsonl").read_text().splitlines()[1]


def test_a_json_key_null_in_the_first_chunk_is_written_to_parquet_as_text(tiny_run, tmp_path, caplog):
    """A sparse JSON key (tagline) null throughout the first chunk failed the Parquet write after all the
    tagging: "Conversion failed for column tagline"."""
    import logging

    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "sparse.jsonl"
    source.write_text('{"tagline": null, "overview": "A crew meets a deadly creature in deep space."}\n'
                      '{"tagline": "A Los Angeles crime saga", "overview": "A cop chases a thief across the city."}\n'
                      '{"tagline": 7, "overview": "An old man flies his house to South America."}\n')
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(tmp_path / "o.parquet"),
                                     "--chunksize", "1"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.schema.field("tagline").type == pa.string()
    assert table.column("tagline").to_pylist() == [None, "A Los Angeles crime saga", "7"]
    assert "column(s) 'tagline' hold only nulls in the first 1 rows: written to Parquet as text" in caplog.text
