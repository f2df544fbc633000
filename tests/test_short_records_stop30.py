"""Rows with fewer fields than the header were read shifted without a word: Kaggle's
``movies_metadata.csv`` has three records broken over two lines (a line break inside an unquoted
field), and `train` learned their production companies as genres. A broken record is now joined
again, said; another short row is said with its line."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import synthetic_movies
from typer.testing import CliRunner

from genretag.cli import app
from genretag.formats import iter_tables, read_table

runner = CliRunner()
HEADER = "adult,genres,id,title,overview,companies,status,runtime"


@pytest.fixture(autouse=True)
def warnings_captured(caplog):
    caplog.set_level(logging.WARNING)


def _row(i: int, title: str, genre: str, overview: str, company: str) -> str:
    genres, companies = f"[{{'id': 18, 'name': '{genre}'}}]", f"[{{'name': '{company}'}}]"
    return f'False,"{genres}",{i},{title},"{overview}","{companies}",Released,90'


def _broken(i: int) -> str:
    """A record broken by a line break inside the unquoted overview, as movies_metadata.csv's are."""
    return (f"False,\"[{{'id': 18, 'name': 'Drama'}}]\",{i},Midnight Man,British soldiers force a captured IRA man "
            f"to hunt his comrades.\n - Written by Ornas,\"[{{'name': 'Carousel Productions'}}]\",Released,104")


def _file(tmp_path, rows: list[str], name="movies_metadata.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_record_broken_over_two_lines_is_read_as_one(tmp_path, caplog):
    rows = [_row(i, f"Film {i}", "Comedy", f"A story number {i}, with a comma.", "Studio") for i in range(4)]
    path = _file(tmp_path, [*rows[:2], _broken(99), *rows[2:]])
    frame = read_table(path)
    assert len(frame) == 5
    mended = frame.iloc[2]
    assert mended["title"] == "Midnight Man" and mended["status"] == "Released" and mended["runtime"] == "104"
    assert mended["overview"] == "British soldiers force a captured IRA man to hunt his comrades.\n - Written by Ornas"
    assert mended["companies"] == "[{'name': 'Carousel Productions'}]" and "Drama" in mended["genres"]
    assert frame["title"].tolist() == ["Film 0", "Film 1", "Midnight Man", "Film 2", "Film 3"]
    assert ("movies_metadata.csv: 1 record(s) broken over two lines by a line break inside an unquoted field "
            "(lines 4-5); each read as one record of the header's 8 fields") in caplog.text


@pytest.mark.parametrize("chunksize", [1, 2, 3, 4, 100])
def test_across_chunk_boundaries(tmp_path, chunksize):
    rows = [_row(i, f"Film {i}", "Comedy", f"Plot {i} goes on.", "Studio") for i in range(5)]
    path = _file(tmp_path, [*rows[:2], _broken(7), *rows[2:], _broken(8)])
    frames = list(iter_tables(path, chunksize=chunksize))
    titles = [t for f in frames for t in f["title"]]
    assert titles == ["Film 0", "Film 1", "Midnight Man", "Film 2", "Film 3", "Film 4", "Midnight Man"]
    assert all(s == "Released" for f in frames for s in f["status"])
    index = [i for f in frames for i in f.index]
    assert index == list(range(7))  # data-row numbers continue


def test_a_row_missing_a_field_is_said_with_its_line(tmp_path, caplog):
    path = tmp_path / "short.csv"
    path.write_text("title,genres,overview\nHeat,Crime,A detective hunts robbers.\nAlien,A crew meets a creature.\n"
                    "Up,Animation,An old man flies his house.\n", encoding="utf-8")
    frame = read_table(path)
    assert len(frame) == 3 and frame.iloc[1]["overview"] == ""
    assert ("short.csv: 1 row(s) have fewer fields than the header's 3 (line 3): read with the missing cells empty "
            "at the end; if a field is missing inside a row, its cells are in the wrong columns") in caplog.text


def test_quoted_line_breaks_blank_lines_and_full_rows_say_nothing(tmp_path, caplog):
    path = tmp_path / "fine.csv"
    path.write_text('title,overview,genres\n"Heat","A detective\nhunts robbers.",Crime\n\nUp,"An old man, a house",'
                    'Animation\n', encoding="utf-8")
    frame = read_table(path)
    assert frame["title"].tolist() == ["Heat", "Up"]
    assert "fewer fields" not in caplog.text and "broken over two lines" not in caplog.text


def test_train_learns_no_company_as_a_genre(tmp_path, tiny_qwen):
    rows = [_row(i, m["title"].replace(",", ""), m["genres"].split("|")[0], m["overview"].replace('"', ""), "Studio")
            for i, m in enumerate(synthetic_movies(30, seed=2))]
    path = _file(tmp_path, [*rows[:10], _broken(500), *rows[10:]], name="mm_train.csv")
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(path), "--backbone", str(tiny_qwen), "--epochs", "1",
                                 "--text-col", "overview", "--genres-col", "genres", "--out", str(run)])
    assert result.exit_code == 0, result.output
    labels = json.loads((run / "labels.json").read_text())
    assert "Carousel Productions" not in labels and "Drama" in labels


def test_a_wide_row_among_rows_ending_with_a_separator_is_named(tmp_path):
    """The error said "its first data row has 4 fields", while the first row was fine (it ends with a separator)."""
    from genretag.errors import DataError

    rows = [f"Film {i},Drama,A quiet story number {i}.," for i in range(12)]
    rows.insert(10, "Dragon,Fantasy,A farm girl must unite, against all odds, the kingdoms.,")
    path = tmp_path / "trailing.csv"
    path.write_text("title,genres,overview\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"its rows end with a separator \(4 fields, the last empty\) but row 12 has 6 "
                                        r"fields separated by ','; quote fields that hold ','"):
        read_table(path)


def test_a_blank_line_of_spaces_keeps_the_two_readings_in_step(tmp_path):
    """pandas skips a line of spaces, Python's csv module read it as a record: the join took the wrong rows."""
    rows = [_row(i, f"Film {i}", "Comedy", f"A story number {i} goes on.", "Studio") for i in range(4)]
    path = _file(tmp_path, [*rows[:2], "   ", _broken(99), *rows[2:]])
    frame = read_table(path)
    assert frame["title"].tolist() == ["Film 0", "Film 1", "Midnight Man", "Film 2", "Film 3"]
    assert frame.iloc[2]["overview"].endswith("\n - Written by Ornas") and frame.iloc[3]["status"] == "Released"


def test_two_rows_missing_their_last_field_are_not_joined(tmp_path, caplog):
    path = tmp_path / "short3.csv"
    path.write_text("id,title,overview\n1,Heat Wave,A detective hunts robbers across the city.\n2,Lost Film\n"
                    "3,Other Film\n4,Starfall,An astronaut fights to survive on a dead planet.\n", encoding="utf-8")
    frame = read_table(path)
    assert frame["title"].tolist() == ["Heat Wave", "Lost Film", "Other Film", "Starfall"]
    assert "2 row(s) have fewer fields than the header's 3 (line 3, 4)" in caplog.text
    assert "broken over two lines" not in caplog.text


def test_many_short_rows_are_another_layout_not_broken_records(tmp_path, caplog):
    path = tmp_path / "cat.csv"
    lines = ["title,overview,genres", *(f"Film {i},A long story about person {i} and a dog.,Drama" for i in range(6)),
             *(f"Short {i},Another story of someone number {i} in town." for i in range(6))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    frame = read_table(path)
    assert len(frame) == 12 and frame["title"].tolist()[6:] == [f"Short {i}" for i in range(6)]
    assert "6 row(s) have fewer fields than the header's 3" in caplog.text and "broken over" not in caplog.text


def test_a_crlf_file_with_a_bare_cr_in_a_quoted_synopsis_is_checked_too(tmp_path, caplog):
    """The shared TMDB file's shape: the check was off for such files, and the broken record read as two rows."""
    rows = [_row(i, f"Film {i}", "Comedy", f"A story number {i}\rgoes on.", "Studio") for i in range(4)]
    path = tmp_path / "crlf.csv"
    path.write_bytes(("\r\n".join([HEADER, *rows[:2], _broken(99).replace("\n", "\r\n"), *rows[2:]]) + "\r\n")
                     .encode("utf-8"))
    frame = read_table(path)
    assert frame["title"].tolist() == ["Film 0", "Film 1", "Midnight Man", "Film 2", "Film 3"]
    assert frame.iloc[2]["runtime"] == "104" and "broken over two lines" in caplog.text
