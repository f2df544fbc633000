"""What a new user met at stop 30: each message says what is true and what to do."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.errors import OutputExistsError

runner = CliRunner()


def _one_line(result) -> str:
    return " ".join(result.output.split())


def test_tag_resume_of_a_complete_output_says_it_is_complete(tiny_run, movies_csv, tmp_path):
    """It said "already exists; pass --force to overwrite it": a hint that throws the output away."""
    from genretag import runs
    from genretag.tagging import tag_csv

    out = tmp_path / "t.csv"
    first = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(out),
                                "--runtime", "torch"])
    assert first.exit_code == 0, first.output
    before = out.read_bytes()
    again = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(out), "--resume"])
    assert again.exit_code == 4, again.output
    assert (f"{out} is already complete: nothing to resume; to redo it from the start, pass --force without "
            "--resume") in _one_line(again)
    assert "model:" not in again.output  # refused before the model loads
    assert out.read_bytes() == before
    # From Python too
    with pytest.raises(OutputExistsError, match="is already complete: nothing to resume"):
        tag_csv(runs.load_run(tiny_run, device="cpu"), movies_csv, out, resume=True)
    assert out.read_bytes() == before
