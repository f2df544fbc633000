"""Files of other layouts joined one after another: a second header of other names (``name,genres,
description`` below ``title,overview,genres``) was left out as a header, but the rows under it were
read in the first header's columns (their genres read as synopses) without a word. Now an error that
names the row, for every command; a repeat of the same names in another case is still left out."""

from __future__ import annotations

import logging

import pytest
from conftest import synthetic_movies
from typer.testing import CliRunner

from genretag.cli import app
from genretag.formats import read_table

runner = CliRunner()


@pytest.fixture(autouse=True)
def warnings_captured(caplog):
    caplog.set_level(logging.WARNING)


def _joined(tmp_path, second_header: str, order=("title", "overview", "genres")):
    movies = synthetic_movies(12, seed=4)
    first = ["title,overview,genres", *(f'{m["title"]},"{m["overview"]}",{m["genres"]}' for m in movies[:6])]
    cells = {"title": lambda m: m["title"], "overview": lambda m: f'"{m["overview"]}"', "genres": lambda m: m["genres"]}
    second = [second_header, *(",".join(cells[c](m) for c in order) for m in movies[6:])]
    path = tmp_path / "joined.csv"
    path.write_text("\n".join(first + second) + "\n", encoding="utf-8")
    return path


MESSAGE = ("row 8 is another header (name, genres, description) than the file's (title, overview, genres): the file "
           "joins parts with other columns, whose rows would be read in the wrong columns; split it at that row")


def test_tag_evaluate_and_train_refuse_a_second_header_of_other_columns(tmp_path, tiny_run, tiny_qwen):
    path = _joined(tmp_path, "name,genres,description", order=("title", "genres", "overview"))
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 2 and MESSAGE in result.stderr and not out.exists()
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(path), "--no-baseline"])
    assert result.exit_code == 2 and MESSAGE in result.stderr
    result = runner.invoke(app, ["train", "--data", str(path), "--backbone", str(tiny_qwen), "--epochs", "1",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and MESSAGE in result.stderr


def test_the_same_names_in_another_case_are_still_left_out(tmp_path, tiny_run, caplog):
    path = _joined(tmp_path, "Title,Overview,Genres")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    tagged = read_table(out)
    assert len(tagged) == 13 and tagged["overview"].iloc[8].startswith(synthetic_movies(12, seed=4)[7]["overview"][:20])
    assert "that is a header, not a movie" in caplog.text


@pytest.mark.parametrize(("second", "said"), [
    ("name,genres,blurb", "row 8 is another header (name, genres, blurb)"),
    ("name,genres,logline", "row 8 is another header (name, genres, logline)"),
    ("genres,title,overview", "row 8 repeats the header with the columns in another order")])
def test_a_second_header_naming_no_known_synopsis_or_another_order_is_refused(tmp_path, tiny_run, second, said):
    path = _joined(tmp_path, second, order=tuple({"name": "title", "blurb": "overview", "logline": "overview"}
                                                 .get(c, c) for c in second.split(",")))
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and said in result.stderr


def test_a_title_column_moved_under_another_name_is_refused(tmp_path, tiny_run):
    path = tmp_path / "swap.csv"
    movies = synthetic_movies(6, seed=1)
    lines = ["Title,Year,Plot,Genres", *(f'{m["title"]},2001,"{m["overview"]}",{m["genres"]}' for m in movies[:3]),
             "Year,Name,Plot,Genres", *(f'2002,{m["title"]},"{m["overview"]}",{m["genres"]}' for m in movies[3:])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "row 5 is another header (Year, Name, Plot, Genres)" in result.stderr
