"""Records whose movie is an object inside them (Trakt's list exports, stop 28): the object's fields are read as
dotted columns, and `tag` writes each record back as it was, with its predictions."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import synthetic_movies, write_csv
from typer.testing import CliRunner

from genretag.cli import app
from genretag.data import detect_columns, detect_title_column, load_labelled, read_csv
from genretag.formats import read_table, sniff

runner = CliRunner()

HEAT = {"title": "Heat", "year": 1995, "ids": {"trakt": 1, "imdb": "tt0113277"},
        "overview": "A group of high-end professional thieves start to feel the heat from the LAPD.",
        "genres": ["action", "crime", "drama"]}
READ = ("read the fields of each record's 'movie' object: movie.title, movie.year, movie.ids, movie.overview, "
        "movie.genres")


def _trakt(movies: list[dict], key: str = "movie") -> list[dict]:
    return [{"rank": i + 1, "id": 101 + i, "listed_at": "2024-01-01T00:00:00.000Z", "notes": None, "type": key,
             key: movie} for i, movie in enumerate(movies)]


def _write(path, records):
    text = json.dumps(records) if path.suffix == ".json" else "".join(json.dumps(r) + "\n" for r in records)
    path.write_text(text, encoding="utf-8")
    return path


def _records(path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else [json.loads(line) for line in text.splitlines()]


def _movies(n: int, seed: int = 5) -> list[dict]:
    """Synthetic movies as a Trakt export holds them: title, year, ids, overview, genres (a list)."""
    return [{"title": m["title"], "year": 1990 + i, "ids": {"trakt": i, "slug": f"movie-{i}"},
             "overview": m["overview"], "genres": m["genres"].split("|")}
            for i, m in enumerate(synthetic_movies(n, seed=seed))]


@pytest.mark.parametrize("name", ["trakt.json", "trakt.jsonl"])
def test_the_movie_objects_fields_are_read_as_dotted_columns(tmp_path, caplog, name):
    path = _write(tmp_path / name, _trakt([HEAT, {**HEAT, "title": "Ronin", "ids": {"trakt": 2}}]))
    with caplog.at_level(logging.INFO):
        fmt = sniff(path)
    assert fmt.nested == ("movie",)
    assert fmt.columns == ["rank", "id", "listed_at", "notes", "type", "movie", "movie.title", "movie.year",
                           "movie.ids", "movie.overview", "movie.genres"]
    assert caplog.text.count(READ) == 1
    frame = read_table(path)
    assert frame["movie.title"].tolist() == ["Heat", "Ronin"]
    assert frame["movie.overview"].tolist() == [HEAT["overview"]] * 2
    assert frame["movie.genres"].tolist() == [HEAT["genres"]] * 2
    assert frame["movie.ids"].tolist() == [{"trakt": 1, "imdb": "tt0113277"}, {"trakt": 2}]
    assert frame["movie"].tolist()[0] == HEAT  # the object itself stays a column
    assert detect_columns(fmt.columns) == (["movie.overview"], "movie.genres")
    assert detect_title_column(fmt.columns) == "movie.title"  # not "movie", the object


@pytest.mark.parametrize("key", ["show", "film", "media"])
def test_other_apis_objects_are_read_alike(tmp_path, key):
    path = _write(tmp_path / "list.json", _trakt([HEAT], key))
    fmt = sniff(path)
    assert fmt.nested == (key,)
    assert detect_columns(fmt.columns) == ([f"{key}.overview"], f"{key}.genres")
    assert read_table(path)[f"{key}.overview"].tolist() == [HEAT["overview"]]


def test_a_record_with_its_own_synopsis_is_read_as_it_is(tmp_path):
    path = _write(tmp_path / "own.jsonl", [{"title": "Heat", "overview": HEAT["overview"], "extra": HEAT}])
    fmt = sniff(path)
    assert fmt.nested == () and fmt.columns == ["title", "overview", "extra"]
    assert detect_columns(fmt.columns, need_genres=False) == (["overview"], None)


def test_a_second_column_of_one_name_is_no_object(tmp_path):
    """Pandas names a repeated column "title.1": "title" is still the title column."""
    assert detect_title_column(["title", "title.1", "plot"]) == "title"
    assert detect_columns(["Mr. Plot", "synopsis"], need_genres=False) == (["synopsis"], None)


def test_train_reads_the_nested_fields(tmp_path):
    movies = _movies(6)
    path = _write(tmp_path / "trakt.json", _trakt(movies))
    data, _ = load_labelled(path)
    assert data.texts == [m["overview"] for m in movies]
    assert data.genres == [m["genres"] for m in movies]
    given, _ = load_labelled(path, text_cols=["movie.title,movie.overview"], genres_col="movie.genres")
    assert given.titles == [m["title"] for m in movies]
    assert given.synopses == [m["overview"] for m in movies]


@pytest.mark.parametrize("name", ["trakt.json", "trakt.jsonl"])
def test_tag_keeps_each_record_and_adds_its_genres(tiny_run, tmp_path, caplog, name):
    movies = _movies(5)
    records = _trakt(movies)
    records[2]["movie"]["rating"] = "7.10"
    path = _write(tmp_path / name, records)
    path.write_text(path.read_text(encoding="utf-8").replace('"7.10"', "7.10"), encoding="utf-8")  # a JsonNumber
    records = _records(path)
    flat = write_csv(tmp_path / "flat.csv", [{"title": m["title"], "overview": m["overview"]} for m in movies])
    out = tmp_path / ("out" + path.suffix)
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert caplog.text.count(READ + ", movie.rating") == 1
    assert "synopsis from column(s) 'movie.overview' (detected)" in result.output
    assert runner.invoke(app, ["tag", str(flat), "--model", str(tiny_run), "--out", str(tmp_path / "flat.out.csv")
                               ]).exit_code == 0
    expected = read_csv(tmp_path / "flat.out.csv")["predicted_genres"].tolist()
    back = _records(out)
    assert [r["predicted_genres"] for r in back] == expected and all(expected)
    for record, tagged in zip(records, back, strict=True):
        assert list(tagged)[:len(record)] == list(record)  # the input's keys first, in order
        assert {k: tagged[k] for k in record} == record
        added = list(tagged)[len(record):]
        assert "predicted_genres" in added and all(k == "language_warning" or k.startswith(("predicted_", "score_"))
                                                   for k in added)  # no flattened "movie.title" keys
    text = out.read_text(encoding="utf-8")
    assert '"rating": 7.10' in text  # written back as the input has it
    for record in _records(path):
        assert json.dumps(record["movie"]).replace("7.1,", "7.10,").replace("7.1}", "7.10}") in text  # byte for byte


def test_text_col_and_genres_col_name_the_nested_fields(tiny_run, tmp_path):
    movies = _movies(8, seed=7)
    path = _write(tmp_path / "trakt.jsonl", _trakt(movies))
    flat = write_csv(tmp_path / "flat.csv", [{"synopsis": m["overview"], "genres": "|".join(m["genres"])}
                                             for m in movies])
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--text-col", "movie.overview",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "synopsis from column(s) 'movie.overview' (given)" in result.output
    assert all(r["predicted_genres"] for r in _records(out))
    scores = []
    for data, options in ((path, ["--text-col", "movie.overview", "--genres-col", "movie.genres"]), (flat, [])):
        report = tmp_path / f"{data.stem}.ev.json"
        result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(data), "--no-baseline",
                                     "--include-training-rows", "--json", str(report), *options])
        assert result.exit_code == 0, result.output
        scores.append(json.loads(report.read_text()))
    assert scores[0]["data"]["rows"] == scores[1]["data"]["rows"] == 8
    assert scores[0]["scores"] and scores[0]["scores"] == scores[1]["scores"] and scores[0]["ranking"] == scores[1]["ranking"]
