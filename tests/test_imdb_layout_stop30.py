"""IMDb's genre-classification files (Kaggle "Genre Classification Dataset IMDb": ``train_data.txt``,
``test_data.txt``) have no header row: ``id ::: title ::: genre ::: description``. Every command
refused them until ``--no-header --columns`` named the fields; the layout is now read as such, said."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import synthetic_movies
from typer.testing import CliRunner

from genretag.cli import app
from genretag.formats import read_table, sniff

runner = CliRunner()
SAID = "reading its {n} ' ::: ' fields as IMDb's genre-classification layout: {names}"


@pytest.fixture(autouse=True)
def warnings_captured(caplog):
    caplog.set_level(logging.WARNING)


def _imdb(path, rows, *, genres=True):
    lines = [f"{i + 1} ::: {r['title']} (2001) ::: " + (f"{r['genres'].split('|')[0].lower()} ::: " if genres else "")
             + r["overview"] for i, r in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_first_line_is_a_movie_not_a_header(tmp_path, caplog):
    rows = synthetic_movies(5, seed=3)
    fmt = sniff(_imdb(tmp_path / "train_data.txt", rows))
    assert fmt.header is False and fmt.columns == ["id", "title", "genres", "overview"]
    frame = read_table(tmp_path / "train_data.txt")
    assert len(frame) == 5 and frame["id"].tolist() == ["1", "2", "3", "4", "5"]
    assert frame["overview"].tolist() == [r["overview"] for r in rows]
    assert SAID.format(n=4, names="id, title, genres, overview") in caplog.text
    assert "no header row (its first line is a movie: '1' is a number)" in caplog.text

    fmt = sniff(_imdb(tmp_path / "test_data.txt", rows, genres=False))  # the test file has no genre
    assert fmt.header is False and fmt.columns == ["id", "title", "overview"]


def test_a_file_with_its_own_header_row_keeps_it(tmp_path, caplog):
    path = tmp_path / "with_header.txt"
    path.write_text("ID ::: TITLE ::: GENRE ::: DESCRIPTION\n1 ::: Heat (1995) ::: crime ::: A detective hunts a "
                    "crew of bank robbers across Los Angeles.\n", encoding="utf-8")
    fmt = sniff(path)
    assert fmt.header is True and fmt.columns == ["ID", "TITLE", "GENRE", "DESCRIPTION"]
    assert "genre-classification layout" not in caplog.text


def test_tag_train_and_evaluate_read_it_without_options(tmp_path, tiny_run, tiny_qwen, caplog):
    rows = synthetic_movies(40, seed=5)
    data = _imdb(tmp_path / "train_data.txt", rows)
    result = runner.invoke(app, ["tag", str(data), "--model", str(tiny_run)])
    assert result.exit_code == 0, result.output
    out = read_table(tmp_path / "train_data.tagged.tsv")
    assert len(out) == 40 and out["title"].iloc[0] == f"{rows[0]['title']} (2001)"  # the first movie is tagged
    assert "predicted_genres" in out.columns

    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", str(tiny_qwen), "--epochs", "1",
                                 "--out", str(run)])
    assert result.exit_code == 0, result.output
    meta = json.loads((run / "meta.json").read_text())
    assert meta["dropped_rows"][0].startswith("read 40 rows")
    result = runner.invoke(app, ["evaluate", "--model", str(run), "--split", "validation", "--no-baseline"])
    assert result.exit_code == 0, result.output
    assert "validation split of train_data.txt" in result.output
