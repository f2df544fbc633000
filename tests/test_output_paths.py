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


# --------------------------------------------------------------------------- --force onto a user's folder


def test_force_never_deletes_a_folder_genretag_did_not_write(tmp_path, movies_csv, tiny_bert, tiny_run):
    """``train --out proj --force`` and ``export RUN proj --force`` deleted the whole folder, the
    user's notes and the training file in it included. --force replaces genretag's own runs and
    exports only, and never a folder holding what the command reads."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "notes.txt").write_text("my notes")
    data = proj / "movies.csv"
    shutil.copy(movies_csv, data)
    before = _snapshot(proj)
    train = ["train", "--data", str(data), "--backbone", str(tiny_bert), "--epochs", "1", "--out", str(proj), "--force"]
    result = runner.invoke(app, train)
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "holds" in flat and "movies.csv, which this command reads; --force would delete it" in flat
    (proj / "movies.csv").rename(tmp_path / "movies.csv")
    result = runner.invoke(app, ["export", str(tiny_run), str(proj), "--force"])
    assert result.exit_code == 2, result.output
    assert "is a folder genretag did not write (it holds notes.txt)" in " ".join(result.output.split())
    assert (proj / "notes.txt").read_text() == "my notes"
    (tmp_path / "movies.csv").rename(data)
    assert _snapshot(proj) == before
    # genretag's own outputs are still replaced with --force: a run, and an export.
    run = tmp_path / "run"
    for _ in range(2):
        result = runner.invoke(app, ["train", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--epochs", "1",
                                     "--out", str(run), "--force"])
        assert result.exit_code == 0, result.output
    exported = tmp_path / "exported"
    for _ in range(2):
        result = runner.invoke(app, ["export", str(run), str(exported), "--force"])
        assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["export", str(run), str(run), "--force"]).exit_code == 2  # onto the run it reads


def test_an_empty_folder_is_replaced_with_force(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_path(empty, force=True, directory=True) as tmp:
        (tmp / "x.txt").write_text("1")
    assert (empty / "x.txt").read_text() == "1"


def test_outputs_never_replace_a_runs_own_files_or_the_bundled_model(tmp_path, movies_csv, tiny_bert, tiny_run,
                                                                      monkeypatch):
    """``evaluate --json RUN/metrics.json --force`` replaced the numbers ``info`` shows for the run, and
    ``train --out <the bundled model> --force`` replaced the model every ``tag`` without --model uses."""
    from genretag import outputs

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = _snapshot(run)
    for args, option in ((["evaluate", "--model", str(run), "--data", str(movies_csv), "--no-baseline", "--json",
                           str(run / "metrics.json"), "--force"], "--json"),
                         (["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(run / "adapter" / "x.csv"),
                           "--force"], "--out")):
        if option == "--out":
            (run / "adapter" / "x.csv").write_text("x\n")
        _one_line_error(runner.invoke(app, args), 2, option, "is a file genretag reads back from the run")
        (run / "adapter" / "x.csv").unlink(missing_ok=True)
    assert _snapshot(run) == before
    # A new file beside a run's files is fine: it is not one of them.
    result = runner.invoke(app, ["evaluate", "--model", str(run), "--data", str(movies_csv), "--no-baseline",
                                 "--json", str(run / "evaluation.json")])
    assert result.exit_code == 0, result.output
    # The bundled model (a copy standing in for the package's): no train, export or tag output goes there.
    bundled = tmp_path / "site-packages" / "genretag" / "default_model"
    shutil.copytree(tiny_run, bundled)
    monkeypatch.setattr(outputs, "BUNDLED_MODEL", bundled)
    shipped = _snapshot(bundled)
    for args in (["train", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--epochs", "1", "--out",
                  str(bundled), "--force"],
                 ["export", str(tiny_run), str(bundled / "export"), "--force"],
                 ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(bundled / "tagged.csv")]):
        _one_line_error(runner.invoke(app, args), 2, "is in the model shipped with genretag")
    assert _snapshot(bundled) == shipped
