"""Reading and writing faults found by a new user's probe in stop 28, one test per kind, each asserting the right value."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from conftest import synthetic_movies
from typer.testing import CliRunner

from genretag.cli import app
from genretag.data import load_labelled
from genretag.errors import DataError
from genretag.formats import OutputFormat, ReadOptions, TableWriter, read_table, sniff

runner = CliRunner()

MOVIES = [{"title": r["title"], "overview": r["overview"], "genres": r["genres"]} for r in synthetic_movies(6, seed=3)]


def _tag(run, source, *extra):
    result = runner.invoke(app, ["tag", str(source), "--model", str(run), "--no-scores", *extra])
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- 1. JSON object holding the records


def test_a_json_object_holding_its_records_under_a_key_is_read_from_there(tiny_run, tmp_path, caplog):
    """Was one row with columns 'name' and 'movies' (one line), or "one JSON document over several lines" (nested)."""
    flat = tmp_path / "list.json"
    flat.write_text(json.dumps({"name": "My list", "movies": MOVIES}) + "\n", encoding="utf-8")
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"data": {"count": 6, "movies": MOVIES}}, indent=2), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        for path, key in ((flat, "movies"), (nested, "data.movies")):
            assert sniff(path).columns == ["title", "overview", "genres"]
            frame = read_table(path)
            assert frame["title"].tolist() == [m["title"] for m in MOVIES]
            assert frame["genres"].tolist() == [m["genres"] for m in MOVIES]
            assert f"{path} is one JSON object: read its 6 records from the key '{key}'" in caplog.text
    big = tmp_path / "big.json"  # one line longer than the bytes sniffed
    big.write_text(json.dumps({"notes": "x" * (1 << 21), "movies": MOVIES}) + "\n", encoding="utf-8")
    assert read_table(big)["title"].tolist() == [m["title"] for m in MOVIES]
    # evaluate and train read the same records
    data, _ = load_labelled(nested)
    assert data.texts == [m["overview"] for m in MOVIES]
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(flat), "--no-baseline"])
    assert result.exit_code == 0, result.output


def test_tag_keeps_the_json_object_around_the_tagged_records(tiny_run, tmp_path, caplog):
    head = '{\n  "name": "My list",\n  "updated": 1E5,\n  "movies": [\n    '
    tail = '\n  ],\n  "owner": {"id": 7, "tags": ["a", "b"]}\n}\n'
    source = tmp_path / "list.json"
    source.write_text(head + ",\n    ".join(json.dumps(m) for m in MOVIES) + tail, encoding="utf-8")
    _tag(tiny_run, source)
    written = (tmp_path / "list.tagged.json").read_text(encoding="utf-8")
    assert written.startswith(head) and written.endswith(tail)  # the object around the records, as it was
    document = json.loads(written)
    assert [m["title"] for m in document["movies"]] == [m["title"] for m in MOVIES]
    assert all("predicted_genres" in m for m in document["movies"])
    assert document["name"] == "My list" and document["owner"] == {"id": 7, "tags": ["a", "b"]}
    _tag(tiny_run, source, "--out", str(tmp_path / "records.jsonl"))
    assert "records.jsonl: writing the records only" in caplog.text
    lines = (tmp_path / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["title"] for line in lines] == [m["title"] for m in MOVIES]


def test_several_lists_of_records_are_refused_naming_them(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"watched": MOVIES[:2], "lists": {"horror": MOVIES[2:]}}, indent=1), encoding="utf-8")
    with pytest.raises(DataError, match=r"holding 2 lists of records: 'watched' \(2\), 'lists.horror' \(4\); .*"
                                        r"jq -c '.watched\[\]' export.json > movies.jsonl"):
        sniff(path)
    result = runner.invoke(app, ["tag", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_one_movie_with_lists_of_objects_is_still_one_row(tmp_path):
    """A TMDB details record alone in its file: its genres and studios are lists of objects, not the movies."""
    movie = {"id": 1, "title": "Heat", "overview": MOVIES[0]["overview"], "genres": [{"id": 80, "name": "Crime"}],
             "cast": [{"name": "Al Pacino", "character": "Lt. Vincent Hanna, the cop on the case"}]}
    path = tmp_path / "movie.json"
    path.write_text(json.dumps(movie) + "\n", encoding="utf-8")
    frame = read_table(path)
    assert len(frame) == 1 and frame["title"].tolist() == ["Heat"]
    assert frame["genres"].tolist() == [[{"id": 80, "name": "Crime"}]]


# --------------------------------------------------------------------------- 2. a preamble above the table

LETTERBOXD = ("Letterboxd list export v7\n"
              "Date,Name,Tags,URL,Description\n"
              "2024-01-02,Scary ones,,https://boxd.it/abc,\"Films that scare me, at night\"\n"
              "\n"
              "Position,Name,Year,URL,Description\n"
              + "".join(f'{i},{m["title"]},19{70 + i},https://boxd.it/{i},"{m["overview"]}"\n'
                        for i, m in enumerate(MOVIES, start=1)))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_letterboxd_list_export_is_read_below_its_preamble_which_tag_keeps(tiny_run, tmp_path, caplog, newline):
    """Its list's own header and row were read as the table, and the movies' header tagged as a movie."""
    source = tmp_path / "list.csv"
    source.write_bytes(LETTERBOXD.replace("\n", newline).encode())
    with caplog.at_level(logging.WARNING):
        frame = read_table(source)
    assert list(frame.columns) == ["Position", "Name", "Year", "URL", "Description"]
    assert frame["Name"].tolist() == [m["title"] for m in MOVIES]
    assert frame["Description"].tolist() == [m["overview"] for m in MOVIES]
    assert "lines 1-4 (Letterboxd list export v7 ...) are a block above the table" in caplog.text
    assert "reading the table from line 5" in caplog.text
    _tag(tiny_run, source)
    written = (tmp_path / "list.tagged.csv").read_bytes()
    preamble = b"".join(LETTERBOXD.replace("\n", newline).encode().splitlines(keepends=True)[:4])
    assert written.startswith(preamble + b"Position,Name,Year,URL,Description,predicted_genres")
    tagged = read_table(tmp_path / "list.tagged.csv")
    assert tagged["Name"].tolist() == [m["title"] for m in MOVIES] and tagged["predicted_genres"].all()
    assert written.count(b"\r\n") == (len(MOVIES) + 5 if newline == "\r\n" else 0)
    _tag(tiny_run, source, "--out", str(tmp_path / "list.jsonl"))
    assert "list.jsonl: writing the table only" in caplog.text


def test_a_wider_table_below_a_report_header_and_a_blank_line_is_read(tmp_path):
    path = tmp_path / "report.tsv"
    path.write_text("Exported by MyFilms\t2024-05-01\n\nid\ttitle\toverview\tgenres\n"
                    + "".join(f"{i}\t{m['title']}\t{m['overview']}\t{m['genres']}\n" for i, m in enumerate(MOVIES)),
                    encoding="utf-8")
    frame = read_table(path)
    assert list(frame.columns) == ["id", "title", "overview", "genres"] and len(frame) == len(MOVIES)


def test_a_blank_line_inside_a_table_is_no_preamble(tmp_path):
    path = tmp_path / "movies.csv"
    path.write_text("title,overview\nHeat,A detective hunts a crew.\n\nName Plot,Thieves plan a heist at night.\n",
                    encoding="utf-8")
    assert read_table(path)["title"].tolist() == ["Heat", "Name Plot"]


# --------------------------------------------------------------------------- 3. NaN, Infinity and numbers as written

def test_json_values_are_written_back_as_the_input_wrote_them(tiny_run, tmp_path, caplog):
    """A NaN key was dropped from the tagged record; 1E5 and 7.10 came back as 100000.0 and 7.1."""
    first = ('{"title": "A", "overview": "' + MOVIES[0]["overview"] + '", "rating": NaN, "votes": Infinity, '
             '"budget": 1E5, "score": 7.10, "nested": [1.50, {"x": -0.0}], "plain": 0.1}')
    second = '{"title": "B", "overview": "' + MOVIES[1]["overview"] + '"}'
    source = tmp_path / "movies.jsonl"
    source.write_text(first + "\n" + second + "\n", encoding="utf-8")
    _tag(tiny_run, source)
    assert "NaN or Infinity values are written as the input has them" in caplog.text
    lines = (tmp_path / "movies.tagged.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(first[:-1] + ", ")  # every input value byte for byte, the tags after them
    assert json.loads(lines[1]).keys() == {"title", "overview", "predicted_genres", "language_warning"}
    tagged = read_table(tmp_path / "movies.tagged.jsonl")  # the output is read back by the same reader
    assert tagged["budget"].tolist()[0] == 100000.0 and pd.isna(tagged["rating"].tolist()[0])
    array = tmp_path / "movies.json"
    array.write_text("[" + first + ",\n" + second + "]\n", encoding="utf-8")
    _tag(tiny_run, array)
    assert '"rating": NaN, "votes": Infinity, "budget": 1E5, "score": 7.10' in (
        tmp_path / "movies.tagged.json").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- 4-6. TSV quotes and line endings

IMDB = ("tconst\ttitleType\tprimaryTitle\toverview\n"
        f"tt0000001\tmovie\tThe \"Bad\" Guy\t{MOVIES[0]['overview']}\n"
        f"tt0000002\tmovie\tA 12\" Single\t{MOVIES[1]['overview']}\n"
        f"tt0000003\tmovie\tJaws\t{MOVIES[2]['overview']}\n")


def test_quotes_inside_fields_of_an_unquoted_tsv_are_written_back_as_they_were(tiny_run, tmp_path, caplog):
    """'The "Bad" Guy' was written '"The ""Bad"" Guy"', and the rows after an odd quote ended with CRLF."""
    source = tmp_path / "title.basics.tsv"
    source.write_text(IMDB, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert sniff(source).quoting is False
    assert read_table(source)["primaryTitle"].tolist() == ['The "Bad" Guy', 'A 12" Single', "Jaws"]
    assert "its quotes are inside fields, never around one (line 2: The \"Bad\" Guy)" in caplog.text
    _tag(tiny_run, source)
    written = (tmp_path / "title.basics.tagged.tsv").read_bytes()
    assert b"\r" not in written
    for line, out in zip(IMDB.splitlines(), written.decode().splitlines()):
        assert out.startswith(line + "\t")


def test_lf_output_of_text_written_without_quoting_has_no_crlf(tmp_path):
    frame = pd.DataFrame({"title": ['A 12" Single', "Heat"], "overview": ["One.", "Two."]})
    out = tmp_path / "out.tsv"
    writer = TableWriter(out, OutputFormat(kind="csv", sep="\t", newline="\n", quoting=False))
    writer.write(frame, header=True)
    writer.write(frame, header=False)
    writer.close()
    assert out.read_bytes() == b'title\toverview\nA 12" Single\tOne.\nHeat\tTwo.\nA 12" Single\tOne.\nHeat\tTwo.\n'


def test_a_line_break_in_a_quoted_header_cell_keeps_crlf_output(tiny_run, tmp_path):
    """The LF inside the header's quoted cell was taken for the file's line ending: CRLF input, LF output."""
    source = tmp_path / "excel.csv"
    rows = "".join(f'{m["title"]},"{m["overview"]}"\r\n' for m in MOVIES[:3])
    source.write_bytes(('title,"overview\n(English)"\r\n' + rows).encode())
    assert sniff(source).newline == "\r\n"
    _tag(tiny_run, source, "--text-col", "overview\n(English)")
    written = (tmp_path / "excel.tagged.csv").read_bytes()
    assert written.startswith(b'title,"overview\n(English)",predicted_genres')
    assert written.count(b"\r\n") == 4 and written.count(b"\n") == 5  # the header cell's LF stays


# --------------------------------------------------------------------------- 7. only LF and CRLF end records

def test_unicode_line_separators_and_a_bare_cr_stay_inside_a_cell(tiny_run, tmp_path):
    """U+2028, \\x0b, \\x1c and a bare CR split a synopsis of the Kaggle ' ::: ' file into extra rows."""
    synopses = ["A detective hunts\u2028 thieves\x0b across\x1c the city.", "A shark\rattacks a beach town.",
                "An old man flies his house to South America."]
    source = tmp_path / "train_data.txt"
    source.write_bytes("".join(f"{i} ::: Film {i} (1999) ::: drama ::: {s}\n"
                               for i, s in enumerate(synopses, start=1)).encode())
    read = ReadOptions(header=False, columns=("id", "title", "genre", "description"))
    fmt = sniff(source, read)
    assert fmt.sep == " ::: "
    assert read_table(source, read, fmt=fmt)["description"].tolist() == synopses
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--no-header", "--columns",
                                 "id,title,genre,description"])
    assert result.exit_code == 0 and "3 rows" in result.output, result.output
    jsonl = tmp_path / "movies.jsonl"  # JSON allows U+2028 raw inside a string
    jsonl.write_text("".join(json.dumps({"title": f"Film {i}", "overview": s}, ensure_ascii=False) + "\n"
                             for i, s in enumerate(synopses[:1] + synopses[2:])), encoding="utf-8")
    assert read_table(jsonl)["overview"].tolist() == synopses[:1] + synopses[2:]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_bare_cr_inside_a_csv_cell_ends_no_row(tmp_path, newline):
    path = tmp_path / "movies.csv"
    path.write_bytes(f"title,overview{newline}Heat,A detective\rhunts thieves.{newline}{newline}"
                     f'Jaws,"A shark{newline}attacks."{newline}'.encode())
    frame = read_table(path)
    assert frame.values.tolist() == [["Heat", "A detective\rhunts thieves."], ["Jaws", f"A shark{newline}attacks."]]


# --------------------------------------------------------------------------- minor

def test_a_wrong_sep_names_the_separator_the_file_has(tmp_path):
    path = tmp_path / "movies.csv"
    path.write_text("title;overview;genres\nHeat;A detective, a thief, and a city.;Crime\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"with --sep ',' its first data row has 3 fields and the header 1; the file "
                                        r"looks ';'-separated: pass --sep ';' or leave --sep out"):
        sniff(path, ReadOptions(sep=","))
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("Heat;A detective, a thief;Crime\nJaws;A shark;Horror\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"has 2 fields \(separator ','\); give one name per field, or the file looks "
                                        r"';'-separated: pass --sep ';'$"):
        sniff(headerless, ReadOptions(sep=",", header=False, columns=("title", "overview", "genres")))
