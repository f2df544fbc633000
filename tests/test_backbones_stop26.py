"""Backbone and training faults found by a new user's tries in stop 26, each asserting the right value."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from genretag.cli import app
from genretag.config import TrainConfig
from genretag.errors import DataError
from genretag.outputs import partial_path
from genretag.training import train
from tiny_backbones import save_tiny

runner = CliRunner()


def _train_cli(data, backbone, out, *extra):
    return runner.invoke(app, ["train", "--data", str(data), "--backbone", str(backbone), "--epochs", "1",
                               "--out", str(out), *extra])


def test_an_export_made_with_force_backbone_does_not_open_the_door_for_later_runs(movies_csv, tmp_path):
    """After one `tag --backbone OTHER --force-backbone`, the same command without the option tagged with the
    other weights from the ONNX cache, exit 0 (scores moved by 0.3); it must be refused as before."""
    run = tmp_path / "run"
    assert _train_cli(movies_csv, save_tiny("bert", tmp_path / "bb", seed=0), run).exit_code == 0
    other = save_tiny("bert", tmp_path / "other", seed=3)  # same shapes, other weights
    args = ["tag", str(movies_csv), "--model", str(run), "--backbone", str(other), "--out", str(tmp_path / "o.csv")]
    forced = runner.invoke(app, [*args, "--force-backbone"])
    assert forced.exit_code == 0, forced.output
    again = runner.invoke(app, [*args, "--force"])
    assert again.exit_code == 3 and "has the architecture" in again.output and "other weights" in again.output


def test_a_diverging_training_is_an_error_not_a_run(movies_csv, tiny_bert, tmp_path):
    """A NaN loss was saved as a run (val micro-F1 0.18, every threshold 0.5) that tagged every movie "Action"."""
    out = tmp_path / "lrx"
    result = _train_cli(movies_csv, tiny_bert, out, "--lr", "1e6", "--batch", "4")
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "--lr 1e+06 is too high for this run: the training loss became nan at epoch 1" in said
    assert "(no run was written)" in said and not out.exists()


def test_a_run_whose_weights_hold_nan_is_refused_by_tag_and_evaluate(tiny_run, movies_csv, tmp_path):
    """tag wrote "Action" and empty scores for every row; evaluate was an internal error."""
    run = tmp_path / "nan-run"
    shutil.copytree(tiny_run, run)
    head = load_file(str(run / "head.safetensors"))
    save_file({k: torch.full_like(v, float("nan")) for k, v in head.items()}, str(run / "head.safetensors"))
    commands = (["tag", str(movies_csv), "--out", str(tmp_path / "t.csv")],
                ["tag", str(movies_csv), "--out", str(tmp_path / "t2.csv"), "--runtime", "torch"],
                ["evaluate", "--data", str(movies_csv), "--split", "validation", "--no-baseline"])
    for args in commands:
        result = runner.invoke(app, [*args, "--model", str(run)])
        said = " ".join(result.output.split())
        assert result.exit_code == 3, (args, result.output)
        assert "gives no score (NaN) for" in said and "as after a training that diverged" in said
        assert "internal error" not in said
    assert not (tmp_path / "t.csv").exists() and not (tmp_path / "t2.csv").exists()


def test_resume_refuses_a_backbone_whose_weights_changed_since_the_interruption(movies_csv, tiny_bert, tmp_path):
    """It resumed on the new weights and kept epoch 1's score, measured on the old ones, as the best."""
    backbone = tmp_path / "bb"
    shutil.copytree(tiny_bert, backbone)
    config = TrainConfig(data=str(movies_csv), backbone=str(backbone), epochs=2, batch_size=16, lr=1e-3)

    def stop_after_epoch_1(event, info):
        if event == "epoch" and info["epoch"] == 1:
            raise KeyboardInterrupt

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, out, callback=stop_after_epoch_1)
    saved = json.loads((partial_path(out) / "checkpoint" / "checkpoint.json").read_text())
    assert saved["backbone_fingerprint"]
    weights = load_file(str(backbone / "model.safetensors"))
    save_file({k: v + 0.01 if v.is_floating_point() else v for k, v in weights.items()},
              str(backbone / "model.safetensors"))  # the folder updated in place
    with pytest.raises(DataError, match="cannot resume: the backbone .* has other weights than when the run was "
                                        "interrupted"):
        train(config, out, resume=True)


def test_tune_marks_a_diverging_trial_failed_and_goes_on(movies_csv, tiny_bert, tmp_path):
    out = tmp_path / "tune"
    result = runner.invoke(app, ["tune", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--lr", "1e-3,1e6",
                                 "--batch", "16", "--epochs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["trial"]: r for r in json.loads((out / "leaderboard.json").read_text())["trials"]}
    assert rows["lr1e6_b16_e1"]["status"] == "failed" and rows["lr1e6_b16_e1"]["score"] is None
    assert rows["lr1e-3_b16_e1"]["status"] == "trained" and rows["lr1e-3_b16_e1"]["score"] > 0
    assert "lr1e6_b16_e1 failed: lr 1e+06 is too high for this run" in " ".join(result.output.split())


def test_tune_says_the_rows_and_genres_it_leaves_out_as_train_does(movies_csv, tiny_bert, tmp_path, caplog):
    """tune said nothing of --min-support's dropped genres (only meta.json had them). Said once, as a
    warning, as train says it (its "data:" line repeated it until stop 31)."""
    out = tmp_path / "tune"
    result = runner.invoke(app, ["tune", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--lr", "1e-3",
                                 "--batch", "16", "--epochs", "1", "--min-support", "1000", "--out", str(out)])
    said = " ".join(result.output.split())
    assert "no genre is left in the training split" in said  # every genre below 1000 rows
    caplog.clear()
    with caplog.at_level("WARNING"):
        result = runner.invoke(app, ["tune", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--lr", "1e-3",
                                     "--batch", "16", "--epochs", "1", "--min-support", "18", "--out",
                                     str(tmp_path / "t2")])
    said = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "t2" / "best" / "meta.json").read_text())
    dropped = next(line for line in meta["dropped_rows"] if line.startswith("--min-support 18 dropped"))
    assert "data: " in said and " ".join(dropped.split()) not in said
    assert [r.getMessage() for r in caplog.records if r.getMessage() == dropped] == [dropped]
