"""Beyond one machine: `GenreTagger` (the batch predictor) and ``tag --engine ray``.

The Ray tests share one local Ray instance (2 CPUs; start-up is 15-25 s) and are
skipped, with the reason, where Ray is not installed.
"""

from __future__ import annotations

import json

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import synthetic_movies, write_csv
from genretag.cli import app
from genretag.data import read_csv

pytestmark = pytest.mark.slow  # starts Ray (15-25 s): opt-in locally (--slow), always in CI

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
LABELS = ["Action", "Comedy", "Drama", "Horror", "Romance", "Western"]
RECIPE = r"<!-- {0}-recipe:start -->.*?```python\n(.*?)```.*?<!-- {0}-recipe:end -->"


@pytest.fixture(scope="module")
def trained(tiny_run):
    return tiny_run


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    """300 rows with what `tag` must keep as is: ids with leading zeros, empty synopses,
    a column already named ``predicted_genres``."""
    rows = []
    for i, movie in enumerate(synthetic_movies(300, seed=7)):
        rows.append({"id": f"{i:05d}", "title": movie["title"], "overview": "" if i % 37 == 5 else movie["overview"],
                     "predicted_genres": "old" if i % 2 else ""})
    return write_csv(tmp_path_factory.mktemp("catalogue") / "catalogue.csv", rows)


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "genretag[ray]")')
    pytest.importorskip("ray.data", reason="Ray Data is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _tag_once(trained, source: Path, out: Path, *extra: str) -> Path:
    """Single-process ``tag`` with blocks like the engine's, so batches (and floats) match."""
    result = runner.invoke(app, ["tag", str(source), "--model", str(trained), "--precision", "fp32",
                                 "--chunksize", "50", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def _engine(trained, source, out: Path, *extra: str):
    return runner.invoke(app, ["tag", str(source), "--model", str(trained), "--precision", "fp32", "--engine", "ray",
                               "--workers", "2", "--chunksize", "50", "--out", str(out), *extra])


def test_genre_tagger_gives_tag_s_columns_and_values(trained, catalogue, tmp_path):
    from genretag import GenreTagger

    expected = _tag_once(trained, catalogue, tmp_path / "tag.csv", "--chunksize", "10000")
    tagger = GenreTagger(trained, precision="fp32")
    got = tagger(read_csv(catalogue))
    assert list(got.columns) == ["id", "title", "overview", "predicted_genres", "predicted_genres_2"] + [
        f"score_{g}" for g in LABELS] + ["language_warning"]
    assert got["predicted_genres"].tolist()[:2] == ["", "old"]  # the input's column is kept, untouched
    empty = got["overview"] == ""
    assert empty.sum() == 8 and (got.loc[empty, "predicted_genres_2"] == "").all()
    assert got.loc[empty, "score_Drama"].isna().all() and got.loc[~empty, "score_Drama"].between(0, 1).all()
    assert (got.loc[~empty, "predicted_genres_2"] != "").all()  # the run's at-least-one rule
    written = got.to_csv(index=False, lineterminator="\r\n")
    assert written == expected.read_bytes().decode("utf-8")  # row for row, cell for cell


def test_genre_tagger_pickles_as_its_arguments(trained):
    import pickle

    from genretag import GenreTagger

    tagger = GenreTagger(trained, precision="fp32", max_genres=1, scores=False)
    blob = pickle.dumps(tagger)
    assert len(blob) < 2_000  # the arguments, not the weights
    again = pickle.loads(blob)
    batch = pd.DataFrame({"synopsis": ["A cowboy rides into town.", ""]})
    got = again(batch)
    assert list(got.columns) == ["synopsis", "predicted_genres", "language_warning"]
    assert got["predicted_genres"].str.count(r"\|").max() == 0 and got["predicted_genres"].iloc[1] == ""
    with pytest.raises(Exception, match="threshold must be above 0 and below 1"):
        GenreTagger(trained, threshold=1.5)


def test_engine_equals_tag_on_csv_and_parquet(ray_local, trained, catalogue, tmp_path):
    expected = _tag_once(trained, catalogue, tmp_path / "tag.csv").read_bytes().decode("utf-8")
    result = _engine(trained, catalogue, tmp_path / "ray.csv")
    assert result.exit_code == 0, result.output
    assert "300 rows from 1 file(s), 292 tagged, 8 with an empty synopsis" in result.output
    assert (tmp_path / "ray.csv").read_bytes().decode("utf-8") == expected

    # The same rows as Parquet in, Parquet out (every cell read back as it was written).
    parquet = tmp_path / "catalogue.parquet"
    read_csv(catalogue).to_parquet(parquet)
    result = _engine(trained, parquet, tmp_path / "ray.parquet")
    assert result.exit_code == 0, result.output
    got = pd.read_parquet(tmp_path / "ray.parquet")
    assert got["score_Drama"].dtype == np.float64 and got["score_Drama"].isna().sum() == 8
    assert got.to_csv(index=False, lineterminator="\r\n") == expected
    # and single-process tag on the same Parquet file writes the same table
    assert runner.invoke(app, ["tag", str(parquet), "--model", str(trained), "--precision", "fp32",
                               "--out", str(tmp_path / "tag.parquet")]).exit_code == 0
    single = pd.read_parquet(tmp_path / "tag.parquet")
    assert list(single.columns) == list(got.columns)
    assert single.to_csv(index=False) == got.to_csv(index=False)  # cell for cell


def test_engine_writes_what_tag_writes_in_the_input_s_dialect(ray_local, trained, catalogue, tmp_path):
    """A ';'-separated Windows-1252 CSV with LF line ends (a European spreadsheet export)
    comes back in its own dialect, byte for byte what single-process tag writes; other
    suffixes tag writes (.jsonl, .tsv.gz) work on the engine too."""
    import gzip

    frame = read_csv(catalogue)
    frame.loc[1, "title"] = "Amélie à Paris"  # a character Windows-1252 holds
    source = tmp_path / "export.csv"
    source.write_bytes(frame.to_csv(sep=";", index=False, lineterminator="\n").encode("cp1252"))
    said = {}
    for name in ("out.csv", "out.jsonl", "out.tsv.gz"):
        expected = _tag_once(trained, source, tmp_path / f"tag-{name}").read_bytes()
        result = _engine(trained, source, tmp_path / f"ray-{name}")
        assert result.exit_code == 0, result.output
        said[name] = " ".join(result.output.split())
        got = (tmp_path / f"ray-{name}").read_bytes()
        if name.endswith(".gz"):  # members differ by chunking; the text is the same
            got, expected = gzip.decompress(got), gzip.decompress(expected)
        assert got == expected, name
    written = (tmp_path / "ray-out.csv").read_bytes()
    assert b";" in written.splitlines()[0] and b"\r\n" not in written and "Amélie".encode("cp1252") in written
    assert "ray-out.csv (';'-separated, Windows-1252 (as the input)): 300 rows" in said["out.csv"]
    assert "(as the input)" not in said["out.jsonl"]


def _engine_as_tag(trained, source: Path, tmp_path: Path, caplog) -> str:
    """``--engine ray`` on ``source``: the file must be single-process tag's, byte for byte; returns what was said."""
    import logging

    expected = _tag_once(trained, source, tmp_path / "tag.csv").read_bytes()
    with caplog.at_level(logging.WARNING):
        result = _engine(trained, source, tmp_path / "ray.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ray.csv").read_bytes() == expected
    return " ".join((caplog.text + result.output).split())


def test_engine_names_the_columns_it_moves_as_tag_does(ray_local, trained, catalogue, tmp_path, caplog):
    """Input columns ``score_Action`` and ``language_warning`` move genretag's to suffixed names: said by
    ``--engine ray`` as by ``tag``, and the file is the same."""
    frame = read_csv(catalogue)
    frame["score_Action"], frame["language_warning"] = "9", "mine"
    source = tmp_path / "taken.csv"
    frame.to_csv(source, index=False)
    said = _engine_as_tag(trained, source, tmp_path, caplog)
    assert "the scores are written to score_<genre>_2" in said
    assert "genretag's language flags are written to 'language_warning_2'" in said


def test_engine_leaves_a_header_inside_the_file_untagged_as_tag_does(ray_local, trained, catalogue, tmp_path, caplog):
    lines = catalogue.read_text(encoding="utf-8").splitlines()
    names = lines[0].split(",")
    other = ",".join({"overview": "Plot summary", "title": "Movie title", "genres": "Genres"}.get(n, n.upper())
                     for n in names)
    source = tmp_path / "joined.csv"
    source.write_text("\n".join(lines[:101] + [other] + lines[101:]) + "\n", encoding="utf-8")
    said = _engine_as_tag(trained, source, tmp_path, caplog)
    assert "left untagged 1 row that is a header, not a movie (data row 101: files joined one after another?)" in said


def test_engine_reads_a_json_array_as_tag_does(ray_local, trained, catalogue, tmp_path):
    """Ray's JSON reader takes a whole array for one row: a local JSON array is read by genretag's
    reader on the driver, and the ``.json`` output is the array single-process tag writes."""
    source = tmp_path / "movies.json"
    source.write_text(read_csv(catalogue).to_json(orient="records", indent=1), encoding="utf-8")
    expected = _tag_once(trained, source, tmp_path / "tag.json").read_bytes()
    result = _engine(trained, source, tmp_path / "ray.json")
    assert result.exit_code == 0, result.output
    assert "300 rows from 1 file(s)" in result.output
    assert (tmp_path / "ray.json").read_bytes() == expected and len(json.loads(expected)) == 300


def test_engine_keeps_each_records_movie_object_as_tag_does(ray_local, trained, catalogue, tmp_path):
    """Trakt's export nests each movie in an object: its fields are read (movie.overview), and the
    output keeps every record with its object whole, as single-process tag writes it."""
    rows = read_csv(catalogue).head(60)
    source = tmp_path / "trakt.jsonl"
    source.write_text("".join(json.dumps({"rank": i + 1, "type": "movie",
                                          "movie": {"title": r["title"], "overview": r["overview"]}}) + "\n"
                              for i, r in rows.iterrows()), encoding="utf-8")
    expected = _tag_once(trained, source, tmp_path / "tag.jsonl").read_bytes()
    result = _engine(trained, source, tmp_path / "ray.jsonl")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ray.jsonl").read_bytes() == expected
    first = json.loads(expected.decode().splitlines()[0])
    assert list(first)[:3] == ["rank", "type", "movie"] and not any("." in key for key in first)


def test_a_killed_worker_still_gives_every_row_once(ray_local, trained, catalogue, tmp_path, monkeypatch):
    import ray.cloudpickle

    from genretag import engine

    marker = tmp_path / "killed"
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    monkeypatch.setattr(engine, "GenreTagger", _dying_tagger(marker))
    result = _engine(trained, catalogue, tmp_path / "ray.csv")
    assert result.exit_code == 0, result.output
    assert marker.is_file()  # a worker did die mid-run
    got = read_csv(tmp_path / "ray.csv")
    assert got["id"].tolist() == [f"{i:05d}" for i in range(300)]  # every row once, in input order
    expected = _tag_once(trained, catalogue, tmp_path / "tag.csv")
    assert (tmp_path / "ray.csv").read_bytes().decode("utf-8") == expected.read_bytes().decode("utf-8")


def _dying_tagger(marker: Path):
    from genretag.tagging import GenreTagger

    class DyingTagger(GenreTagger):
        """Exits (like a killed process) on its third block, in the first worker to get there."""

        calls = 0

        def __call__(self, batch):
            type(self).calls += 1
            if type(self).calls == 3:
                try:
                    os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    pass
                else:
                    os._exit(1)
            return super().__call__(batch)

    return DyingTagger


def test_readme_ray_recipe_runs(ray_local, trained, catalogue, tmp_path, monkeypatch):
    blocks = re.findall(RECIPE.format("ray"), (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "README.md has no ray-recipe block"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "my-run").symlink_to(trained)
    read_csv(catalogue).to_parquet(tmp_path / "movies.parquet")
    exec(compile(blocks[0], "README.md ray recipe", "exec"), {"__name__": "readme"})
    got = pd.read_parquet(tmp_path / "movies-tagged").sort_values("id", ignore_index=True)
    expected = read_csv(_tag_once(trained, catalogue, tmp_path / "tag.csv"))
    assert got["id"].tolist() == expected["id"].tolist()
    assert got["predicted_genres_2"].tolist() == expected["predicted_genres_2"].tolist()


def test_readme_spark_recipe_runs(trained, catalogue, tmp_path, monkeypatch):
    # Not installed by .ci/run: pyspark is a 400 MB download and its JVM takes a minute to
    # start on 2 cores; the test runs wherever pyspark is installed.
    pytest.importorskip("pyspark", reason="pyspark is not installed (the README's Spark recipe is not run)")
    blocks = re.findall(RECIPE.format("spark"), (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "README.md has no spark-recipe block"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "my-run").symlink_to(trained)
    read_csv(catalogue).drop(columns="predicted_genres").to_parquet(tmp_path / "movies.parquet")
    namespace = {"__name__": "readme"}
    try:
        exec(compile(blocks[0], "README.md spark recipe", "exec"), namespace)
    finally:
        if "spark" in namespace:
            namespace["spark"].stop()
    got = pd.read_parquet(tmp_path / "movies-tagged-spark").sort_values("id", ignore_index=True)
    expected = read_csv(_tag_once(trained, catalogue, tmp_path / "tag.csv"))
    assert got["id"].tolist() == expected["id"].tolist()
    assert got["predicted_genres"].tolist() == expected["predicted_genres_2"].tolist()


def _records(catalogue: Path, n: int = 120) -> list[dict]:
    """JSON records as real exports write them: ids with leading zeros, epoch seconds, a field
    holding numbers on some records and text on others, a key some records lack."""
    records = read_csv(catalogue).head(n).drop(columns=["predicted_genres"]).to_dict("records")
    for i, record in enumerate(records):
        record["released"] = 1_577_836_800 + 86_400 * i
        record["rating"] = 7 if i % 3 == 0 else "PG-13"
        if i % 4 == 1:
            record["tagline"] = f"tagline {i}"
    return records


def test_engine_reads_local_json_lines_as_tag_does(ray_local, trained, catalogue, tmp_path):
    """Ray's JSON Lines reader turned ``"00012"`` into 12 and epoch seconds into dates, broke on a
    field of numbers and text, wrote a key a record lacked as null and refused bz2, zip,
    Windows-1252 and UTF-16 files: local JSON Lines are now read by genretag's reader, and the
    output is single-process tag's, byte for byte."""
    import bz2
    import zipfile

    records = _records(catalogue)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines[2] = lines[2].replace(records[2]["title"], records[2]["title"] + " à Paris")
    plain = tmp_path / "movies.jsonl"
    plain.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))  # Windows line ends, kept
    sources = {"plain": plain}
    sources["bz2"] = tmp_path / "movies.jsonl.bz2"
    sources["bz2"].write_bytes(bz2.compress(plain.read_bytes()))
    sources["zip"] = tmp_path / "movies.jsonl.zip"
    with zipfile.ZipFile(sources["zip"], "w") as archive:
        archive.write(plain, "movies.jsonl")
    sources["cp1252"] = tmp_path / "cp1252.jsonl"
    sources["cp1252"].write_bytes(plain.read_bytes().decode("utf-8").encode("cp1252"))
    sources["utf16"] = tmp_path / "utf16.jsonl"
    sources["utf16"].write_bytes(plain.read_bytes().decode("utf-8").encode("utf-16"))
    for name, source in sources.items():
        expected = _tag_once(trained, source, tmp_path / f"tag-{name}.jsonl").read_bytes()
        result = _engine(trained, source, tmp_path / f"ray-{name}.jsonl")
        assert result.exit_code == 0, (name, result.output)
        assert "120 rows from 1 file(s)" in result.output
        assert (tmp_path / f"ray-{name}.jsonl").read_bytes() == expected, name
    written = (tmp_path / "ray-plain.jsonl").read_bytes()
    assert written.count(b"\r\n") == 120 and "à Paris".encode("utf-8") in written
    got = [json.loads(line) for line in written.splitlines()]
    assert [g["id"] for g in got] == [r["id"] for r in records] and got[0]["id"] == "00000"
    assert [g["released"] for g in got] == [r["released"] for r in records]
    assert [g["rating"] for g in got[:3]] == [7, "PG-13", "PG-13"]
    assert ["tagline" in g for g in got[:5]] == [False, True, False, False, False]
    # Parquet cannot hold a field of numbers and text: the error tag gives (Ray pickled the cells).
    result = _engine(trained, plain, tmp_path / "ray.parquet")
    assert result.exit_code == 2 and "cannot write ray.parquet as Parquet" in result.output
    assert "column rating" in result.output and not (tmp_path / "ray.parquet").exists()


def test_engine_keeps_absent_keys_across_files_and_says_what_tag_says(ray_local, trained, catalogue, tmp_path,
                                                                      caplog):
    """Records of two files joined in one block got the other file's keys as null; the warning about
    synopses in another script was not said (the column was filled); a one-file .zip was an unknown format."""
    import logging
    import zipfile

    records = _records(catalogue, 40)
    records[3]["overview"] = "ఒక యువకుడు తన కుటుంబాన్ని రక్షించడానికి పోరాడతాడు, ఒక దొంగల ముఠాతో."
    folder = tmp_path / "parts"
    folder.mkdir()
    texts = ["".join(json.dumps(r) + "\n" for r in part) for part in (records[:20], records[20:])]
    (folder / "a.jsonl").write_text(texts[0].replace(', "tagline": "tagline 1"', ""), encoding="utf-8")
    (folder / "b.jsonl").write_text(texts[1], encoding="utf-8")
    joined = tmp_path / "joined.jsonl"
    joined.write_text((folder / "a.jsonl").read_text() + texts[1], encoding="utf-8")
    expected = _tag_once(trained, joined, tmp_path / "tag.jsonl").read_bytes()
    caplog.clear()  # what tag said: the engine must say it too
    with caplog.at_level(logging.WARNING):
        result = _engine(trained, folder, tmp_path / "ray.jsonl")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ray.jsonl").read_bytes() == expected
    assert sum('"tagline"' in line for line in expected.decode().splitlines()) == 9  # rows 5, 9 ... only
    said = [r.getMessage() for r in caplog.records if r.name == "genretag.engine"]
    assert any("1 of 39 synopses do not look like the model's language" in m and "(1 Telugu)" in m for m in said)

    archive = tmp_path / "movies.zip"
    with zipfile.ZipFile(archive, "w") as packed:
        packed.write(catalogue, "catalogue.csv")
    result = _engine(trained, archive, tmp_path / "zip.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "zip.csv").read_bytes() == _tag_once(trained, archive, tmp_path / "tag-zip.csv").read_bytes()


def test_inputs_of_two_layouts_are_a_one_line_error_before_ray_starts(trained, tmp_path):
    """A glob whose second CSV lacks the synopsis column left its rows untagged as "empty synopsis";
    Parquet files of two schemas were an internal Ray error."""
    pytest.importorskip("ray", reason='Ray is not installed (pip install "genretag[ray]")')
    plot = "A cowboy rides into a lawless frontier town and faces the gang that killed his brother."
    (tmp_path / "csv").mkdir()
    pd.DataFrame({"title": ["A"], "overview": [plot]}).to_csv(tmp_path / "csv" / "1.csv", index=False)
    pd.DataFrame({"title": ["B"], "plot": [plot]}).to_csv(tmp_path / "csv" / "2.csv", index=False)
    (tmp_path / "pq").mkdir()
    pd.DataFrame({"id": [1], "overview": [plot]}).to_parquet(tmp_path / "pq" / "1.parquet")
    pd.DataFrame({"id": ["x2"], "overview": [plot]}).to_parquet(tmp_path / "pq" / "2.parquet")
    cases = [(str(tmp_path / "csv" / "*.csv"), "does not have the columns of", "(it lacks 'overview')"),
             (str(tmp_path / "pq"), "does not have the schema of", "1.parquet (differs in id (")]
    for source, message, detail in cases:
        result = runner.invoke(app, ["tag", source, "--model", str(trained), "--engine", "ray",
                                     "--out", str(tmp_path / "out.csv")])
        assert result.exit_code == 2, result.output
        said = " ".join(result.output.split())
        assert message in said and detail in said and "Traceback" not in said
        assert not (tmp_path / "out.csv").exists()


def test_bad_input_is_a_one_line_error_before_ray_starts(trained, catalogue, tmp_path):
    pytest.importorskip("ray", reason='Ray is not installed (pip install "genretag[ray]")')
    cases = [
        ([str(tmp_path / "nope.parquet")], "nope.parquet not found"),
        ([str(catalogue), "--text-col", "plot"], "column 'plot' given by --text-col not found"),
        ([str(tmp_path / "none-*.parquet")], "no CSV, JSONL or Parquet files in"),
        ([str(catalogue), "--out", str(tmp_path / "x.xlsx")], "genretag does not write .xlsx files"),
        ([str(catalogue), "--workers", "0"], "--workers must be at least 1"),
    ]
    pd.DataFrame({"title": ["A"], "year": ["1999"]}).to_parquet(tmp_path / "no-synopsis.parquet")
    cases.append(([str(tmp_path / "no-synopsis.parquet")], "no synopsis column found"))
    for args, message in cases:
        result = runner.invoke(app, ["tag", *args, "--model", str(trained), "--engine", "ray"])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) <= 2  # "model: ..." and the error


def test_missing_ray_is_a_one_line_error(trained, catalogue, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    result = runner.invoke(app, ["tag", str(catalogue), "--model", str(trained), "--engine", "ray"])
    assert result.exit_code == 1
    assert 'not installed; pip install "genretag[ray]"' in result.output


def test_shard_is_deprecated_but_works(trained, catalogue, tmp_path):
    result = runner.invoke(app, ["tag", str(catalogue), "--model", str(trained), "--out", str(tmp_path / "t.csv"),
                                 "--shard", "0/2"])
    assert result.exit_code == 0, result.output
    assert "deprecated" in result.output and "--engine ray" in result.output


def test_help_and_import_load_neither_torch_nor_ray():
    code = ("import sys, genretag, genretag.cli; from genretag.cli import app; "
            "sys.exit(int('torch' in sys.modules) + 2 * int('ray' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_engine_says_a_worker_s_own_error_with_its_exit_code(trained, ray_local, tmp_path):
    """Ray Data kept only the worker's traceback as text: ``error: Ray failed: ... File "_base.py"``, exit 1."""
    movies = synthetic_movies(12, seed=4)
    lines = ["title,overview,genres", *(f'{m["title"]},"{m["overview"]}",{m["genres"]}' for m in movies[:6]),
             "name,genres,description", *(f'{m["title"]},{m["genres"]},"{m["overview"]}"' for m in movies[6:])]
    source = tmp_path / "joined.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _engine(trained, source, tmp_path / "out.csv")
    assert result.exit_code == 2, result.output
    assert "error: row 8 is another header (name, genres, description)" in result.stderr
    assert "Ray failed" not in result.stderr and not (tmp_path / "out.csv").exists()
