"""Inputs that are not what their name says: workbooks, UTF-16 without a byte-order mark, a
synopsis column with nothing in it."""

import zipfile

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.errors import DataError
from genretag.formats import read_table, sniff

MOVIES = "title,overview\nHeat,A crew of bank robbers feels the heat from a detective.\nUp,An old man flies his house away.\n"


def _flat(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.parametrize("name", ["book.xlsx", "book.csv", "book.ods"])
def test_a_workbook_is_refused_by_its_bytes_whatever_its_name(tmp_path, name):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DataError, match=r"is an Excel workbook, not text; .*save the sheet as CSV"):
        sniff(path)


def test_an_old_excel_file_is_refused_and_an_xls_that_is_text_is_read(tmp_path):
    old = tmp_path / "old.xls"
    old.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 512)
    with pytest.raises(DataError, match=r"Excel 97-2003 workbook \(\.xls\), not text"):
        sniff(old)
    text = tmp_path / "export.xls"  # many "Excel" exports are tab-separated text
    text.write_text(MOVIES.replace(",", "\t", 2), encoding="utf-8")
    assert sniff(text).columns == ["title", "overview"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read_and_said(tmp_path, codec, caplog):
    path = tmp_path / f"{codec}.csv"
    path.write_bytes(MOVIES.replace("Heat", "Amélie").encode(codec))
    frame = read_table(path)
    assert frame["title"].tolist() == ["Amélie", "Up"]
    assert f"has no byte-order mark but its zero bytes are UTF-16's: reading it as {codec.upper()}" in caplog.text


def test_utf8_with_a_nul_byte_is_not_taken_for_utf16(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(MOVIES.encode("utf-8").replace(b"Up", b"U\0p"))
    assert read_table(path)["title"].tolist()[0] == "Heat"


def test_tag_says_when_no_row_had_a_synopsis(tiny_run, tmp_path, caplog):
    src = tmp_path / "empty.csv"
    src.write_text("title,overview\nHeat,N/A\nUp,\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["tag", str(src), "--model", str(tiny_run), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    said = _flat(result.output + " ".join(r.getMessage() for r in caplog.records))
    assert "nothing was tagged: all 2 rows have an empty synopsis in 'overview'" in said


def test_tag_says_how_many_texts_were_longer_than_the_model_reads(tiny_run, tmp_path, caplog):
    import json

    limit = json.loads((tiny_run / "config.json").read_text())["max_length"]
    long = "A quiet family moves into an old farmhouse and hears the walls at night. " * (limit // 4)
    src = tmp_path / "plots.csv"
    src.write_text(f"title,overview\nLong,{long}\nShort,A ghost haunts a house.\n", encoding="utf-8")
    for runtime in ("torch", "auto"):
        caplog.clear()
        out = tmp_path / f"o-{runtime}.csv"
        result = CliRunner().invoke(app, ["tag", str(src), "--model", str(tiny_run), "--out", str(out), "--runtime", runtime])
        assert result.exit_code == 0, result.output
        said = _flat(result.output + " ".join(r.getMessage() for r in caplog.records))
        assert f"1 of 2 texts are longer than the model's {limit} tokens: it read only the start of each" in said


EXCEL = "sep=;\r\ntitle;overview;genres\r\nAmélie;A shy waitress in Paris decides to change the lives of others.;Comedy\r\n" \
        "Heat;A crew of bank robbers feels the heat from a detective.;Crime\r\n"


def test_a_spreadsheet_programs_csv_is_written_back_in_its_dialect_and_said(tiny_run, tmp_path):
    # Excel where "," is the decimal mark writes ";", Windows-1252 and a "sep=;" line: a
    # comma-separated UTF-8 answer would open as one column of mojibake there.
    src = tmp_path / "excel.csv"
    src.write_bytes(EXCEL.encode("cp1252"))
    out = tmp_path / "excel.tagged.csv"
    result = CliRunner().invoke(app, ["tag", str(src), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "(';'-separated, an Excel 'sep=;' first line, Windows-1252 (as the input))" in _flat(result.output)
    text = out.read_bytes().decode("cp1252")
    assert text.startswith("sep=;\r\ntitle;overview;genres;predicted_genres;")
    assert "\r\nAmélie;A shy waitress" in text
    frame = read_table(out)
    assert frame["title"].tolist() == ["Amélie", "Heat"] and "predicted_genres" in frame.columns

    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + "title,overview\nAmélie,A shy waitress in Paris.\n".encode("utf-8"))
    result = CliRunner().invoke(app, ["tag", str(bom), "--model", str(tiny_run), "--out", str(tmp_path / "b.csv")])
    assert result.exit_code == 0 and "(UTF-8 with a byte-order mark (as the input))" in _flat(result.output)
    assert (tmp_path / "b.csv").read_bytes().startswith(b"\xef\xbb\xbftitle,overview,predicted_genres")

    plain = tmp_path / "plain.csv"
    plain.write_text("title,overview\nHeat,A crew of bank robbers.\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["tag", str(plain), "--model", str(tiny_run), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0 and "as the input" not in result.output  # nothing to say


def test_shards_of_a_semicolon_file_merge(tiny_run, tmp_path):
    src = tmp_path / "excel.csv"
    src.write_bytes(EXCEL.encode("cp1252"))
    out = tmp_path / "merged.csv"
    for i in range(2):
        result = CliRunner().invoke(app, ["tag", str(src), "--model", str(tiny_run), "--out", str(out), "--shard", f"{i}/2"])
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["merge-shards", str(out)])
    assert result.exit_code == 0, result.output
    assert "(as the input)): 2 rows from 2 shards" in " ".join(result.output.split())
    assert read_table(out)["title"].tolist() == ["Amélie", "Heat"]
    # The merged file is the one an unsharded run writes: the input's ';', Windows-1252 and line ends
    # (merged as comma-separated UTF-8 before).
    whole = tmp_path / "whole.csv"
    result = CliRunner().invoke(app, ["tag", str(src), "--model", str(tiny_run), "--out", str(whole)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == whole.read_bytes() and "Amélie".encode("cp1252") in out.read_bytes()
    # A compressed name cannot be merged into (tag --shard writes plain shards): said, not "no shards found".
    result = CliRunner().invoke(app, ["merge-shards", str(tmp_path / "merged.csv.gz")])
    assert result.exit_code == 2 and "merge into merged.csv and compress that" in " ".join(result.output.split())


def test_evaluate_says_when_genre_cells_hold_sentences(tiny_run, tmp_path):
    src = tmp_path / "swapped.csv"
    src.write_text('title,genre,overview\nHeat,"A crew of bank robbers feels the heat from a detective.",Crime\n'
                   'Up,"An old man ties balloons to his house and flies away.",Comedy\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(src)])
    assert result.exit_code == 2
    assert "its genre cells hold sentences, not genre names: are the genre and synopsis columns swapped?" in _flat(result.output)
