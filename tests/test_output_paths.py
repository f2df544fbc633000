"""Output paths that name something other than they seem: ``new/../input.csv``, a folder, ``.``.

Every writer goes through `genretag.outputs`, so each check here holds for ``tag --out``,
``evaluate --json/--report`` and the rest; the CLI cases check the user sees one line.
"""

from __future__ import annotations

import gzip
import shutil

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.errors import DataError, OutputExistsError
from genretag.outputs import atomic_path, write_json

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tiny_run):
    return tiny_run


@pytest.fixture
def here(tmp_path, movies_csv, monkeypatch):
    """A working folder holding ``movies.csv``, a ``keep.json`` and a ``results`` tree, as relative paths."""
    shutil.copy(movies_csv, tmp_path / "movies.csv")
    (tmp_path / "keep.json").write_text('{"keep": 1}\n')
    (tmp_path / "results" / "sub").mkdir(parents=True)
    (tmp_path / "results" / "sub" / "precious.txt").write_text("precious\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def _one_line_error(result, code: int, *words: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for word in words:
        assert word in errors[0], errors[0]


def test_a_missing_folder_and_dotdot_never_hide_the_input_or_an_existing_output(trained, here):
    before = _snapshot(here)
    tag = ["tag", "movies.csv", "--model", str(trained)]
    for force in ([], ["--force"]):
        _one_line_error(runner.invoke(app, [*tag, "--out", "newdir/../movies.csv", *force]), 2, "is the input file")
    evaluate = ["evaluate", "--model", str(trained), "--data", "movies.csv", "--no-baseline"]
    _one_line_error(runner.invoke(app, [*evaluate, "--json", "zz/../keep.json"]), 4, "already exists", "--force")
    _one_line_error(runner.invoke(app, [*evaluate, "--json", "zz/../movies.csv", "--force"]), 2, "is the input file")
    assert _snapshot(here) == before  # nothing written, not even the missing folders

    with pytest.raises(OutputExistsError):  # every writer, not only the commands' early checks
        write_json("zz/../keep.json", {}, force=False)
    assert _snapshot(here) == before


def test_an_existing_folder_is_never_replaced_by_a_file_output(trained, here):
    before = _snapshot(here)
    tag = ["tag", "movies.csv", "--model", str(trained)]
    for out in ("results", "zz/../results", "results/sub/..", ".."):
        for flags in ([], ["--force"], ["--force", "--resume"]):
            _one_line_error(runner.invoke(app, [*tag, "--out", out, *flags]), 2, f"--out {out} is a directory",
                            "give a file name")
    (here / "full2.json").mkdir()
    (here / "full2.json" / "inside.txt").write_text("mine\n")
    before = _snapshot(here)
    evaluate = ["evaluate", "--model", str(trained), "--data", "movies.csv", "--no-baseline", "--force"]
    _one_line_error(runner.invoke(app, [*evaluate, "--json", "full2.json"]), 2, "--json full2.json is a directory")
    _one_line_error(runner.invoke(app, [*evaluate, "--report", "results"]), 2, "--report results is a directory")
    assert _snapshot(here) == before

    with pytest.raises(DataError, match="is a directory"):  # every writer, not only the commands' early checks
        write_json(here / "results", {}, force=True)
    with pytest.raises(DataError, match="current folder"), atomic_path(".", force=True, directory=True):
        pass  # a folder output may replace an old one, never the current folder
    assert _snapshot(here) == before


def test_dot_as_output_is_the_folder_error_not_a_crash(trained, here):
    before = _snapshot(here)
    for out in (".", "./", "results/."):
        result = runner.invoke(app, ["tag", "movies.csv", "--model", str(trained), "--out", out, "--force"])
        _one_line_error(result, 2, "is a directory", "give a file name")
    assert _snapshot(here) == before


def test_gzip_output_records_its_own_name_not_the_temporary_one(trained, here):
    result = runner.invoke(app, ["tag", "movies.csv", "--model", str(trained), "--out", "newdir/../tagged.csv.gz",
                                 "--chunksize", "50"])
    assert result.exit_code == 0, result.output
    data = (here / "tagged.csv.gz").read_bytes()
    assert data[:2] == b"\x1f\x8b" and data[3] & 0x08  # gzip, with a file name (FNAME) in the header
    assert data[10:data.index(b"\0", 10)] == b"tagged.csv"  # what gunzip -N restores
    assert b".partial" not in data  # nor in the header of any later chunk's member
    assert not (here / "newdir").exists() and not list(here.glob(".*partial*"))
    with gzip.open(here / "tagged.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        assert len(fh.read().splitlines()) == 121  # every member read back: header + 120 rows
