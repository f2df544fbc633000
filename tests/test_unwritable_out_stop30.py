"""An output in a folder that takes no new file (/proc, a read-only mount) failed only after the
work (the prediction pass, training), naming a temporary file: now every command refuses it first."""

from __future__ import annotations

import os
import sys

import pytest
from typer.testing import CliRunner

from genretag.cli import app

runner = CliRunner()
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or not os.path.isdir("/proc/self"),
                                reason="needs Linux's /proc")
MESSAGE = "the folder /proc takes no new files"


def _refused(result, option: str, target: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"cannot write {option}{target}: {MESSAGE}" in result.stderr
    assert "choose another path" in result.stderr


def test_tag_refuses_before_loading_the_model(tmp_path, movies_csv, tiny_run):
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--out", "/proc/genretag.csv"])
    _refused(result, "--out ", "/proc/genretag.csv")
    assert "model:" not in result.stderr  # nothing was loaded
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--out", "/proc/new/x.csv"])
    _refused(result, "--out ", "/proc/new/x.csv")


def test_evaluate_train_export_and_retune_refuse_it(movies_csv, tiny_run):
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(movies_csv),
                                 "--report", "/proc/report.html"])
    _refused(result, "--report ", "/proc/report.html")
    result = runner.invoke(app, ["train", "--data", str(movies_csv), "--backbone", "minilm", "--out", "/proc/run"])
    assert result.exit_code == 2 and MESSAGE in result.stderr and "Traceback" not in result.output
    result = runner.invoke(app, ["export", str(tiny_run), "/proc/export"])
    assert result.exit_code == 2 and MESSAGE in result.stderr and "Traceback" not in result.output
    result = runner.invoke(app, ["retune", str(tiny_run), "--thresholds", "global", "--out", "/proc/retuned"])
    assert result.exit_code == 2 and MESSAGE in result.stderr and "Traceback" not in result.output


def test_a_writable_new_folder_is_still_made(tmp_path, movies_csv, tiny_run):
    out = tmp_path / "new" / "deeper" / "tagged.csv"
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and not list(tmp_path.rglob("*.probe"))


def test_a_device_or_named_pipe_is_never_replaced(tmp_path, movies_csv, tiny_run):
    """``--out /dev/null --force`` said "already exists; pass --force", and with --force a device node or a FIFO
    was replaced by a regular file (as root, /dev/null itself)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target, kind in (("/dev/null", "a device"), (str(fifo), "a named pipe (FIFO)")):
        for force in ([], ["--force"]):
            result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--out", target, *force])
            assert result.exit_code == 2 and f"--out {target} is {kind}, not a file" in result.stderr
    assert fifo.is_fifo() and os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(movies_csv), "--json",
                                 str(fifo), "--force"])
    assert result.exit_code == 2 and "is a named pipe (FIFO), not a file" in result.stderr


def test_tune_refuses_it_as_the_others_do(movies_csv):
    """tune said "No such file or directory: /proc/grid; check the path ..." with exit 1."""
    result = runner.invoke(app, ["tune", "--data", str(movies_csv), "--backbone", "minilm", "--lr", "1e-4",
                                 "--out", "/proc/grid"])
    _refused(result, "--out ", "/proc/grid")
