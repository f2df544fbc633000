"""JSON arrays of records (``[{...}, {...}]``, pandas' orient="records", wikipedia-movie-data's
movies.json): read record by record by every command, written back as an array to a ``.json``."""

from __future__ import annotations

import gzip
import json

import pytest
from typer.testing import CliRunner

from genretag import formats
from genretag.cli import app
from genretag.errors import DataError
from genretag.formats import OutputFormat, TableWriter, iter_tables, read_table, sniff

runner = CliRunner()

MOVIES = [  # the shape of wikipedia-movie-data's movies.json: genres a list, the synopsis in "extract"
    {"title": "After Dark in Lisbon", "year": 2019, "cast": ["Ana Reis"], "genres": ["Crime", "Thriller"],
     "extract": "A retired smuggler is pulled back into the trade when his nephew goes missing on the docks."},
    {"title": "The Paper Kites", "year": 2020, "cast": [], "genres": ["Comedy", "Family"],
     "extract": "Three siblings build kites to win a seaside contest and save their grandmother's bakery."},
    {"title": "Café Rouge", "year": 1951, "cast": [], "genres": ["Drama"], "thumbnail": "https://x/y.jpg",
     "extract": "A widow reopens her husband's café in Lyon and finds a letter he never sent."},
]


@pytest.mark.parametrize("write", [
    lambda p: p.write_text(json.dumps(MOVIES), encoding="utf-8"),
    lambda p: p.write_text(json.dumps(MOVIES, indent=2, ensure_ascii=False), encoding="utf-8"),
    lambda p: p.write_text(json.dumps(MOVIES, ensure_ascii=False), encoding="utf-8-sig"),
    lambda p: p.write_text(json.dumps(MOVIES, ensure_ascii=False), encoding="utf-16"),
])
def test_an_array_of_records_is_read_as_rows(tmp_path, write):
    path = tmp_path / "movies.json"
    write(path)
    fmt = sniff(path)
    assert fmt.kind == formats.JSON
    assert fmt.columns == ["title", "year", "cast", "genres", "extract", "thumbnail"]  # every key, first seen first
    frame = read_table(path)
    assert frame["title"].tolist() == ["After Dark in Lisbon", "The Paper Kites", "Café Rouge"]
    assert frame["genres"].tolist() == [["Crime", "Thriller"], ["Comedy", "Family"], ["Drama"]]
    assert frame["year"].tolist() == [2019, 2020, 1951] and frame["thumbnail"].isna().tolist() == [True, True, False]


def test_records_are_read_in_blocks_across_any_boundary(tmp_path, monkeypatch):
    """Records are decoded one at a time from blocks of the file: a record cut by a block end is read whole."""
    rows = [{"title": f"Movie {i}", "overview": f'Plot number {i}, with "quotes" and ]brackets[ ' + "x" * (i % 13)}
            for i in range(200)]
    path = tmp_path / "movies.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump(rows, fh, indent=1)
    monkeypatch.setattr(formats, "_JSON_BLOCK", 7)
    chunks = list(iter_tables(path, chunksize=64))
    assert [len(c) for c in chunks] == [64, 64, 64, 8]
    assert [r for c in chunks for r in c.to_dict("records")] == rows


@pytest.mark.parametrize(("text", "message"), [
    ('[{"overview": "A plot."}, [1, 2]]', "record 2 of the JSON array is a JSON list, not an object"),
    ('[{"overview": "A plot."}, {"overview": "Cut', "record 2 of the JSON array is not valid JSON"),
    ('[{"overview": "A plot."} {"overview": "B"}]', "record 2 of the JSON array does not follow a ','"),
    ('[{"overview": "A plot."}] and more', "text after the JSON array's closing ']'"),
    ('[{"overview": "A plot."}', "the file ends early"),
    ("[]", "a JSON array without records"),
])
def test_a_broken_array_is_one_line_naming_the_record(tmp_path, text, message):
    path = tmp_path / "movies.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_table(path)


def test_a_json_output_is_one_array_in_any_number_of_chunks(tmp_path):
    import pandas as pd

    for compression, opener in ((None, open), ("gzip", gzip.open)):
        path = tmp_path / f"out{compression}.json"
        writer = TableWriter(path, OutputFormat(kind=formats.JSON, compression=compression))
        writer.write(pd.DataFrame(MOVIES[:2]), header=True)
        writer.write(pd.DataFrame(MOVIES[2:]), header=False)
        writer.close()
        writer.close()  # a second close writes nothing
        with opener(path, "rt", encoding="utf-8") as fh:
            back = json.load(fh)
        assert [r["title"] for r in back] == [m["title"] for m in MOVIES] and back[0]["cast"] == ["Ana Reis"]
        assert "thumbnail" not in back[0] and back[2]["thumbnail"] == "https://x/y.jpg"  # each chunk's own keys
    empty = tmp_path / "empty.json"
    TableWriter(empty, OutputFormat(kind=formats.JSON)).close()
    assert json.loads(empty.read_text()) == []


def test_output_format_of_a_json_name(tmp_path):
    array = tmp_path / "a.json"
    array.write_text(json.dumps(MOVIES), encoding="utf-8")
    lines = tmp_path / "l.json"  # JSON Lines under a ".json" name: read, and written back, as JSON Lines
    lines.write_text("".join(json.dumps(m) + "\n" for m in MOVIES), encoding="utf-8")
    assert sniff(lines).kind == formats.JSONL
    assert formats.check_output("x.json", source=sniff(array)).kind == formats.JSON
    assert formats.check_output("x.json", source=sniff(lines)).kind == formats.JSONL
    assert formats.check_output("x.json").kind == formats.JSON
    assert formats.default_output(array, sniff(array)).name == "a.tagged.json"
    with pytest.raises(DataError, match="--resume is not available for JSON array output"):
        formats.check_output("x.json", resume=True)
    with pytest.raises(DataError, match="--shard writes plain CSV, TSV or JSON Lines"):
        formats.check_output("x.json", shard=(0, 2))


def test_tag_and_evaluate_read_an_array_and_tag_writes_one(tiny_run, tmp_path):
    path = tmp_path / "movies.json"
    path.write_text(json.dumps(MOVIES, indent=2, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run)])
    assert result.exit_code == 0, result.output
    assert "synopsis from column(s) 'extract'" in result.output  # the run reads a synopsis alone
    back = json.loads((tmp_path / "movies.tagged.json").read_text(encoding="utf-8"))
    assert [r["title"] for r in back] == [m["title"] for m in MOVIES]
    assert all(isinstance(r["predicted_genres"], str) and r["predicted_genres"] for r in back)
    assert back[0]["genres"] == ["Crime", "Thriller"]  # the input's fields as they were
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(path), "--no-baseline",
                                 "--json", str(tmp_path / "ev.json")])
    assert result.exit_code == 0, result.output
    # The tiny run knows Action, Comedy, Drama, Horror, Romance, Western: Crime + Thriller cannot be scored.
    assert json.loads((tmp_path / "ev.json").read_text())["data"]["rows"] == 2


@pytest.mark.parametrize("name", ["movies.jsonl", "movies.json"])
def test_a_tagged_record_keeps_its_own_keys_across_chunks(tiny_run, tmp_path, name):
    """A key a record lacked stays absent (not null) in the output, whichever chunk first had it; a null stays null."""
    records = [{"title": "A", "overview": "A detective hunts a killer in the rain."},
               {"title": "B", "overview": "Two friends fall in love in Paris.", "year": 1999},
               {"title": "C", "overview": "Aliens invade and a soldier fights back.", "year": None},
               {"title": "D", "overview": "A cowboy rides home.", "rating": 7.5},
               {"title": "E"}]  # no synopsis: untagged, its scores null
    path = tmp_path / name
    text = ("\n".join(json.dumps(r) for r in records) if name.endswith("l") else json.dumps(records))
    path.write_text(text + "\n", encoding="utf-8")
    out = tmp_path / ("out" + path.suffix)
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--scores", "--chunksize", "2",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    back = json.loads(text) if name.endswith(".json") else [json.loads(line) for line in text.splitlines()]
    added = {k for k in back[0] if k not in records[0]}
    assert "predicted_genres" in added and any(k.startswith("score_") for k in added)
    for record, tagged in zip(records, back, strict=True):
        assert {k: tagged[k] for k in tagged if k not in added} == record
    assert all(back[4][k] is None for k in added if k.startswith("score_"))
