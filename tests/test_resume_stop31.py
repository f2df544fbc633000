"""An interrupted `tag` rerun without --resume is refused before the model loads, and is told
to rerun with --resume (not a tune command)."""

from __future__ import annotations

import logging

import pytest
from conftest import synthetic_movies, write_csv
from typer.testing import CliRunner

from genretag import runs
from genretag.cli import app
from genretag.outputs import partial_path
from genretag.tagging import progress_file, tag_csv


@pytest.fixture
def interrupted(tiny_run, tmp_path, caplog):
    src = write_csv(tmp_path / "in.csv", synthetic_movies(120, seed=3))
    out = tmp_path / "out.csv"
    run = runs.load_run(tiny_run, device="cpu")
    done = []

    def stop_after_two_chunks(n):
        done.append(n)
        if len(done) == 2:
            raise KeyboardInterrupt

    with caplog.at_level(logging.WARNING), pytest.raises(KeyboardInterrupt):
        tag_csv(run, src, out, chunksize=30, on_rows=stop_after_two_chunks)
    assert progress_file(partial_path(out)).is_file()
    return src, out, caplog.text


def test_the_kept_partial_is_said_without_tune_words(interrupted):
    said = interrupted[2]
    assert "kept the unfinished output" in said and "rerun with --resume to continue it" in said
    assert "tune" not in said


def test_a_rerun_without_resume_is_refused_before_the_model_loads(interrupted, tiny_run, monkeypatch):
    src, out, _ = interrupted

    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the refusal")

    monkeypatch.setattr("genretag.cli.tag.load_model_for_tagging", no_load)
    result = CliRunner().invoke(app, ["tag", str(src), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 4, result.output
    assert "left resumable work" in result.output and "pass --resume" in result.output
    assert partial_path(out).exists() and not out.exists()  # the work is kept
