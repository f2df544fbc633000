"""``--text-col`` values that name no column once split (',', '""') are refused by every command that takes it.

They were an internal error in tag and train ("Length of values (0) does not match length of index") and,
in evaluate, ran on the run's own columns without a word.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from genretag.cli import app

runner = CliRunner()


@pytest.mark.parametrize("value", [",", '""', " , ", ",,"])
def test_a_text_col_naming_no_column_is_refused_everywhere(tiny_run, movies_csv, tmp_path, value):
    commands = [
        ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(tmp_path / "t.csv")],
        ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(tmp_path / "r.csv"), "--engine", "ray"],
        ["evaluate", "--model", str(tiny_run), "--data", str(movies_csv)],
        ["train", "--data", str(movies_csv), "--backbone", "minilm", "--epochs", "1", "--out", str(tmp_path / "run")],
    ]
    for args in commands:
        result = runner.invoke(app, [*args, "--text-col", value])
        assert result.exit_code == 2, (args[0], result.output)
        assert "--text-col is empty; give a column name" in result.output and "internal error" not in result.output
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_column_named_twice_by_text_col_is_refused(tiny_run, movies_csv, tmp_path):
    """It was read once without a word (``--text-col title,overview --text-col overview``)."""
    for args in (["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(tmp_path / "t.csv")],
                 ["evaluate", "--model", str(tiny_run), "--data", str(movies_csv)]):
        result = runner.invoke(app, [*args, "--text-col", "title,overview", "--text-col", "Overview"])
        assert result.exit_code == 2, result.output
        assert "--text-col names the column 'overview' twice; name each column once" in result.output


def test_export_to_the_current_folder_is_refused_without_a_force_hint(tiny_run, tmp_path, monkeypatch):
    """It said ". already exists; pass --force to overwrite it", and --force was then refused."""
    monkeypatch.chdir(tmp_path)
    for extra in ([], ["--force"]):
        result = runner.invoke(app, ["export", str(tiny_run), "", *extra])
        assert result.exit_code == 2, result.output
        assert "is the current folder or one above it" in result.output and "pass --force" not in result.output


def test_resume_of_a_finished_training_says_it_is_finished(tiny_run, movies_csv, tmp_path):
    """It said "already exists; pass --force to overwrite it": a hint that throws the run away."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = sorted(p.name for p in run.iterdir())
    trained = runner.invoke(app, ["train", "--data", str(movies_csv), "--backbone", "minilm", "--out", str(run),
                                  "--resume"])
    assert trained.exit_code == 4, trained.output
    assert f"{run} exists with nothing unfinished to resume" in \
        " ".join(trained.output.split())
    assert sorted(p.name for p in run.iterdir()) == before


def test_train_cautions_are_warnings_so_quiet_shows_them(movies_csv, tiny_bert, tmp_path, caplog):
    """Few validation rows and genres dropped by --min-support sat only in the `data:` status line, which
    --quiet hides; they are warnings now (what --quiet still shows), said once."""
    import logging

    caplog.set_level(logging.WARNING)
    result = runner.invoke(app, ["--quiet", "train", "--data", str(movies_csv), "--backbone", str(tiny_bert),
                                 "--epochs", "1", "--split", "0.9,0.05,0.05", "--min-support", "25",
                                 "--out", str(tmp_path / "q")])
    assert result.exit_code == 0, result.output
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum(m.startswith("--min-support 25 dropped 1 genre(s): Drama") for m in warned) == 1, warned
    assert sum("validation rows (--split 0.9,0.05,0.05): the thresholds and validation scores rest on them" in m
               for m in warned) == 1, warned
