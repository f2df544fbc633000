"""Catalogue files in and out (`genretag.formats`): dialects, compression, JSON Lines, Parquet."""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genretag import formats
from genretag.data import check_input, detect_columns, detect_title_column, load_labelled, split_columns
from genretag.errors import DataError
from genretag.formats import (OutputFormat, ReadOptions, TableWriter, default_output, iter_tables, output_format, read_table,
                              sniff)

ROWS = [
    {"title": "Amélie", "overview": "A shy waitress, in Paris; changes lives.", "genres": "Comedy|Romance"},
    {"title": "Heat", "overview": 'A "crew" of thieves | one last heist.', "genres": "Crime"},
    {"title": "NA", "overview": "=SUM(A1) looks like a formula\r\nand has a line break.", "genres": ""},
]
EXPECTED = pd.DataFrame(ROWS, dtype=object)


def _csv_bytes(sep: str) -> bytes:
    return EXPECTED.to_csv(sep=sep, index=False, lineterminator="\n").encode("utf-8")


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()} for r in df.to_dict("records")]


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("name, sep", [("m.csv", ","), ("m.tsv", "\t"), ("m.txt", "\t"), ("m.csv", ";"), ("m.csv", "|")])
def test_delimited_files_read_with_their_separator(tmp_path, name, sep):
    path = tmp_path / name
    path.write_bytes(_csv_bytes(sep))
    assert formats.sniff(path).sep == sep
    assert _records(read_table(path)) == ROWS


@pytest.mark.parametrize("suffix, pack", [
    (".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress), (".zip", None),
])
def test_compressed_files_read_as_plain_ones(tmp_path, suffix, pack):
    path = tmp_path / f"movies.tsv{suffix}"
    if pack is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("movies.tsv", _csv_bytes("\t"))
    else:
        path.write_bytes(pack(_csv_bytes("\t")))
    assert _records(read_table(path)) == ROWS
    chunks = list(iter_tables(path, chunksize=2))
    assert [list(c.index) for c in chunks] == [[0, 1], [2]]


def test_zip_with_several_files_is_refused(tmp_path):
    path = tmp_path / "movies.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "overview\nx\n")
        archive.writestr("b.csv", "overview\nx\n")
    with pytest.raises(DataError, match=r"holds 2 files \(a.csv, b.csv\).*unzip it"):
        read_table(path)


def test_excel_sep_line_is_honoured(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"sep=;\r\ntitle;overview;genres\r\nA;One, two.;Drama\r\n")
    df = read_table(path)
    assert list(df.columns) == ["title", "overview", "genres"]
    assert df.to_dict("records") == [{"title": "A", "overview": "One, two.", "genres": "Drama"}]


def test_jsonl_keeps_value_types_and_later_keys(tmp_path):
    path = tmp_path / "movies.jsonl"
    path.write_text('{"id": 1, "overview": "Été.", "genres": ["Drama", "War"]}\n\n'
                    '{"id": 2, "overview": "B.", "genres": null, "year": 1999}\n', encoding="utf-8")
    df = read_table(path)
    assert list(df.columns) == ["id", "overview", "genres", "year"]
    assert df.loc[0, "id"] == 1 and isinstance(df.loc[0, "id"], int)
    assert df.loc[0, "genres"] == ["Drama", "War"]
    assert df.loc[1, "year"] == 1999
    data, _ = load_labelled(path)
    assert data.genres == [["Drama", "War"]]


@pytest.mark.parametrize("name", ["m.ndjson", "m.json", "m.jsonl.gz"])
def test_jsonl_recognised_by_suffix_or_content(tmp_path, name):
    path = tmp_path / name
    text = b'{"overview": "A.", "genres": "Drama"}\n'
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    assert formats.sniff(path).kind == formats.JSONL
    assert read_table(path).to_dict("records") == [{"overview": "A.", "genres": "Drama"}]


def test_broken_jsonl_line_is_a_one_line_error(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"overview": "A."}\n{"overview": "B.\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2 is not valid JSON"):
        read_table(path)


def test_parquet_read_in_batches_with_types(tmp_path):
    path = tmp_path / "movies.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "overview": ["A.", "B.", None], "genres": [["Drama"], ["War"], []]}), path)
    chunks = list(iter_tables(path, chunksize=2))
    assert [list(c.index) for c in chunks] == [[0, 1], [2]]
    df = pd.concat(chunks)
    assert df["id"].tolist() == [1, 2, 3]
    data, report = load_labelled(path)
    assert data.texts == ["A.", "B."] and data.genres == [["Drama"], ["War"]] and report.total == 3


def test_parquet_content_without_suffix(tmp_path):
    path = tmp_path / "movies.data"
    pq.write_table(pa.table({"overview": ["A."]}), path)
    assert formats.sniff(path).kind == formats.PARQUET


# --------------------------------------------------------------------------- headerless and ' ::: '

IMDB = ("1 ::: Night Shift (2001) ::: horror ::: A nurse hears voices ::: in the closed wing.\n"
        "2 ::: Ten Dates (2003) ::: comedy ::: Two planners fall in love.\n")


def test_imdb_separator_detected_and_the_last_field_keeps_the_rest(tmp_path):
    path = tmp_path / "train_data.txt"
    path.write_text(IMDB, encoding="utf-8")
    read = ReadOptions(header=False, columns=("id", "title", "genres", "overview"))
    assert formats.sniff(path, read).sep == " ::: "
    df = read_table(path, read)
    assert df.to_dict("records")[0] == {"id": "1", "title": "Night Shift (2001)", "genres": "horror",
                                        "overview": "A nurse hears voices ::: in the closed wing."}
    explicit = read_table(path, ReadOptions(sep=" ::: ", header=False, columns=("id", "title", "genres", "overview")))
    pd.testing.assert_frame_equal(df, explicit)


def test_headerless_file_without_options_says_the_first_row_is_data(tmp_path):
    path = tmp_path / "train_data.txt"
    path.write_text(IMDB, encoding="utf-8")
    with pytest.raises(DataError) as err:
        detect_columns(formats.sniff(path).columns)
    message = str(err.value)
    assert "first row looks like data" in message and "'1' is a number" in message
    assert "--no-header --columns id,title,genres,overview" in message


def test_headerless_tsv_reads_with_columns(tmp_path):
    path = tmp_path / "plot_summaries.txt"
    path.write_text("1001\tA ghost wants revenge.\n1002\tTwo planners fall in love.\n", encoding="utf-8")
    df = read_table(path, ReadOptions(header=False, columns=("id", "overview")))
    assert df.to_dict("records") == [{"id": "1001", "overview": "A ghost wants revenge."},
                                     {"id": "1002", "overview": "Two planners fall in love."}]
    with pytest.raises(DataError, match="--columns gives 3 names but the first row .* has 2 fields"):
        read_table(path, ReadOptions(header=False, columns=("id", "title", "overview")))


@pytest.mark.parametrize("kwargs, words", [
    ({"header": False}, "--no-header needs --columns"),
    ({"columns": ("a", "b")}, "add --no-header"),
    ({"header": False, "columns": ("a", "a")}, "repeats a"),
    ({"sep": ""}, "--sep must not be empty"),
])
def test_read_options_refuse_nonsense(kwargs, words):
    with pytest.raises(DataError, match=words):
        ReadOptions(**kwargs)


# --------------------------------------------------------------------------- encodings


def test_stray_cp1252_byte_in_utf8_repairs_only_that_byte(tmp_path, caplog):
    path = tmp_path / "input.csv"
    path.write_bytes("title,overview\r\nAmélie,Crème Brûlée in Lyon.\r\n".encode() + b"Quote,The sheriff\x92s last ride.\r\n")
    with caplog.at_level(logging.WARNING):
        df = read_table(path)
    assert df["title"].tolist() == ["Amélie", "Quote"]
    assert df["overview"].tolist() == ["Crème Brûlée in Lyon.", "The sheriff\u2019s last ride."]
    assert "1 byte(s) are not valid UTF-8" in caplog.text and "sheriff\u2019s" in caplog.text
    # The same file compressed and in chunks (the repair goes through the text wrapper there).
    packed = tmp_path / "input.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    pd.testing.assert_frame_equal(pd.concat(iter_tables(packed, chunksize=1)), df)


def test_file_with_no_utf8_at_all_is_read_as_cp1252(tmp_path):
    path = tmp_path / "old.csv"
    path.write_bytes("overview,genres\nCafé crème \u2019quoted\u2019,Drama\n".encode("cp1252"))
    assert formats.sniff(path).encoding == "cp1252"
    assert read_table(path).loc[0, "overview"] == "Café crème \u2019quoted\u2019"


# --------------------------------------------------------------------------- columns


def test_text_col_with_a_comma_in_its_name():
    columns = ["Plot, short", "title", "genres"]
    assert split_columns(["Plot, short"], columns) == ["Plot, short"]
    assert split_columns(['"Plot, short",title'], columns) == ["Plot, short", "title"]
    assert split_columns(["title,genres"], columns) == ["title", "genres"]
    texts, _ = detect_columns(columns, text_cols=["Plot, short", "title"], need_genres=False)
    assert texts == ["Plot, short", "title"]


@pytest.mark.parametrize("name", ["Series_Title", "primaryTitle", "movie title", "Name", "original_title"])
def test_title_columns_of_real_files_are_found(name):
    assert detect_title_column(["Overview", name, "Genre"]) == name


def test_title_col_names_a_column_or_fails():
    assert detect_title_column(["overview", "Film"], "film") == "Film"
    with pytest.raises(DataError, match="'headline' given by --title-col not found"):
        detect_title_column(["overview", "Film"], "headline")


def test_check_input_fails_fast_on_columns_and_unreadable_genres(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("overview,genres\nA film.,[]\nB film.,N/A\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"none of the first 2 rows .* readable genre in column 'genres' \(e.g. '\[\]'\)"):
        check_input(path)
    with pytest.raises(DataError, match="'plot' given by --text-col not found"):
        check_input(path, text_cols=["plot"], need_genres=False)
    assert check_input(path, need_genres=False).columns == ["overview", "genres"]


def test_check_input_uses_the_runs_text_columns_only_when_detection_fails(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("blurb,genres\nA film.,Drama\n", encoding="utf-8")
    asked = []
    check_input(path, need_genres=False, run_text_cols=lambda: asked.append(1) or ["blurb"])
    assert asked == [1]
    with pytest.raises(DataError, match="no synopsis column found"):
        check_input(path, need_genres=False, run_text_cols=lambda: ["plot"])


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("name, expected", [
    ("movies.csv", "movies.tagged.csv"),
    ("movies.tsv", "movies.tagged.tsv"),
    ("movies.csv.gz", "movies.tagged.csv.gz"),
    ("movies.TSV.bz2", "movies.tagged.TSV.bz2"),
    ("movies.parquet", "movies.tagged.parquet"),
    ("movies.jsonl", "movies.tagged.jsonl"),
    ("movies.csv.zip", "movies.tagged.csv.gz"),
    ("movies", "movies.tagged.csv"),
])
def test_default_output_keeps_the_format(name, expected):
    assert default_output(Path(name)).name == expected


def test_default_output_of_a_multi_character_separator_file_is_tsv():
    source = formats.FileFormat(kind=formats.CSV, columns=["a"], sep=" ::: ", inner_suffix=".txt")
    assert default_output(Path("train_data.txt"), source).name == "train_data.tagged.tsv"
    tab = formats.FileFormat(kind=formats.CSV, columns=["a"], sep="\t", inner_suffix=".txt")
    assert output_format("x.tagged.txt", tab).sep == "\t"


@pytest.mark.parametrize("name, kind, sep, compression", [
    ("o.csv", "csv", ",", None), ("o.tsv", "csv", "\t", None), ("o.csv.xz", "csv", ",", "xz"),
    ("o.jsonl", "jsonl", ",", None), ("o.ndjson.gz", "jsonl", ",", "gzip"), ("o.parquet", "parquet", ",", None),
])
def test_output_format_from_suffix(name, kind, sep, compression):
    assert output_format(name) == OutputFormat(kind=kind, sep=sep, compression=compression)


@pytest.mark.parametrize("name, words", [("o.zip", "does not write .zip"), ("o.parquet.gz", "Parquet compresses")])
def test_output_formats_refused(name, words):
    with pytest.raises(DataError, match=words):
        output_format(name)


OUT_NAMES = ["o.csv", "o.tsv", "o.csv.gz", "o.tsv.bz2", "o.csv.xz", "o.jsonl", "o.jsonl.gz", "o.parquet"]


@pytest.mark.parametrize("name", OUT_NAMES)
def test_written_files_read_back_with_the_same_columns_and_cells(tmp_path, name):
    frame = EXPECTED.copy()
    frame["predicted_genres"] = ["Comedy|Romance", "=Crime", ""]
    frame["score_Drama"] = [0.1234, 1.0, np.nan]
    path = tmp_path / name
    writer = TableWriter(path, output_format(path))
    writer.write(frame.iloc[:2], header=True)
    writer.write(frame.iloc[2:], header=False)  # a second chunk: a new compressed member, a new row group
    writer.close()

    ours = read_table(path)
    kind = output_format(path).kind
    if kind == "csv":
        sep = output_format(path).sep
        theirs = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
        expected = frame.astype(object).where(frame.notna(), "").astype(str)
        expected["score_Drama"] = ["0.1234", "1.0", ""]
    elif kind == "jsonl":
        theirs = pd.read_json(path, lines=True, dtype=False, precise_float=True)
        expected = frame
    else:
        theirs = pd.read_parquet(path)
        expected = frame
    assert list(ours.columns) == list(theirs.columns) == list(frame.columns)
    assert _records(ours) == _records(theirs.astype(object)) == _records(expected.astype(object))


@pytest.mark.parametrize("name", ["o.xlsx", "o.xls", "o.ods", "o.feather", "o.xlsx.gz"])
def test_an_output_format_genretag_does_not_write_is_refused(name):
    """Not written as CSV under a spreadsheet's name (it exited 0, and Excel then refused the file)."""
    with pytest.raises(DataError, match=r"genretag does not write \.\w+ files .*write \.csv, \.tsv, \.jsonl, \.json or \.parquet"):
        formats.check_output(name)


def test_an_unknown_output_suffix_says_what_it_writes(caplog):
    source = formats.FileFormat(kind=formats.CSV, columns=["a"], sep="\t")
    fmt = formats.check_output("out.foo", source=source)
    assert fmt.kind == formats.CSV and fmt.sep == "\t"
    assert "out.foo: .foo is not a suffix genretag knows; writing tab-separated, the input's format" in caplog.text
    caplog.clear()
    formats.check_output("out.csv", source=source)
    assert caplog.text == ""


@pytest.mark.parametrize(("text", "message"), [
    ('{"title": {"0": "A", "1": "B"}, "overview": {"0": "A plot.", "1": "Another."}}', "one JSON object of columns"),
    ('{"title": ["A", "B"], "overview": ["A plot.", "Another."]}', "one JSON object of columns"),
    ('{\n  "title": "A",\n  "overview": "A plot."\n}\n', "one JSON document over several lines"),
])
def test_a_json_document_is_not_read_as_one_row(tmp_path, text, message):
    path = tmp_path / "movies.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=f"{message}.*orient='records', lines=True"):
        sniff(path)


def test_json_lines_with_list_fields_are_still_rows(tmp_path):
    path = tmp_path / "movies.json"
    path.write_text('{"overview": "A plot.", "genres": ["Drama"]}\n{"overview": "More.", "genres": []}\n', encoding="utf-8")
    assert sniff(path).kind == "jsonl" and len(read_table(path)) == 2


def test_trailing_empty_header_cells_are_named_as_pandas_names_them(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("title,overview,,\nA,A plot.,,\nB,Another plot.,,\n", encoding="utf-8")
    fmt = sniff(path)
    assert fmt.columns == ["title", "overview", "Unnamed: 2", "Unnamed: 3"]
    assert list(read_table(path).columns) == fmt.columns


@pytest.mark.parametrize(("text", "sep", "expected"), [
    ("title,overview\nA,A ghost haunts a house at night.\n", "\t", "comma-separated: pass --sep ','"),
    ("title,overview\nA,A ghost haunts a house at night.\n", ";", "comma-separated: pass --sep ','"),
    ("title\toverview\nA\tA ghost haunts a house at night.\n", ",", "tab-separated: pass --sep $'\\t'"),
])
def test_a_header_that_did_not_split_names_the_separator_it_holds(tmp_path, text, sep, expected):
    path = tmp_path / "movies.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(expected)):
        check_input(path, read=ReadOptions(sep=sep), need_genres=False)


def test_one_hot_genre_columns_get_a_message_saying_so(tmp_path):
    path = tmp_path / "onehot.csv"
    path.write_text("title,overview,Action,Drama,Science Fiction,TV Movie\nA,A ghost haunts a house.,0,1,0,0\n",
                    encoding="utf-8")
    with pytest.raises(DataError, match=r"one-hot encoded, one column per genre \(Action, Drama, Science Fiction, "
                                        r"TV Movie: 4 columns\)"):
        check_input(path)


def test_the_mixed_encoding_preview_shows_the_characters_it_read(tmp_path, caplog):
    """The preview of the first repaired byte showed "�" where its 24-byte window cut a UTF-8 character."""
    import logging

    rest = "lée and the old chef".encode() + b"xyz"  # 23 bytes: the window starts inside "û"
    after = b"s knife is lost; biggg " + "é".encode()  # 23 bytes: the window ends inside "é"
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"title,overview\nTart,Br" + "û".encode() + rest + b"\x92" + after + b"clair night.\n")
    with caplog.at_level(logging.WARNING):
        frame = read_table(path)
    assert frame["overview"][0] == "Brûlée and the old chefxyz’s knife is lost; biggg éclair night."
    assert "(first: 'lée and the old chefxyz’s knife is lost; biggg')" in caplog.text and "\ufffd" not in caplog.text
