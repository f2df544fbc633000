"""A backbone with the run's weights and tokenizer but a config.json that computes otherwise
(another activation, a norm's epsilon) was accepted without a word: every score moved."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genretag.cli import app

runner = CliRunner()
CASE = Path(__file__).resolve().parent / "cases" / "backbone-same-shape"


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_bert):
    out = tmp_path_factory.mktemp("settings") / "run"
    result = runner.invoke(app, ["train", "--data", str(CASE / "train.csv"), "--backbone", str(tiny_bert),
                                 "--epochs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _copy_with(backbone: Path, folder: Path, **changes) -> Path:
    shutil.copytree(backbone, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))
    return folder


def test_the_run_keeps_what_its_backbone_computes_with(run, tiny_bert):
    kept = json.loads((run / "meta.json").read_text())["backbone_settings"]
    config = json.loads((Path(tiny_bert) / "config.json").read_text())
    assert kept["hidden_act"] == config["hidden_act"] == "gelu"
    assert kept["layer_norm_eps"] == config["layer_norm_eps"]
    assert kept["num_attention_heads"] == config["num_attention_heads"]


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_another_activation_in_config_json_is_refused(run, tiny_bert, tmp_path, runtime):
    other = _copy_with(tiny_bert, tmp_path / "relu-bert", hidden_act="relu")
    out = tmp_path / "a.csv"
    result = runner.invoke(app, ["tag", str(CASE / "to_tag.csv"), "--model", str(run), "--backbone", str(other),
                                 "--runtime", runtime, "--out", str(out)])
    assert result.exit_code == 3 and not out.exists() and "Traceback" not in result.output
    assert (f"backbone {other} computes otherwise than the one {run} was trained on: its config.json sets "
            "hidden_act relu (the run's: gelu), so every score would change") in result.stderr
    assert "--force-backbone" in result.stderr


def test_evaluate_refuses_it_and_force_backbone_uses_it_with_a_warning(run, tiny_bert, tmp_path, caplog):
    other = _copy_with(tiny_bert, tmp_path / "eps-bert", layer_norm_eps=1e-3)
    result = runner.invoke(app, ["evaluate", "--model", str(run), "--backbone", str(other), "--data",
                                 str(CASE / "train.csv"), "--no-baseline"])
    assert result.exit_code == 3 and "layer_norm_eps 0.001 (the run's: 1e-12)" in result.stderr
    caplog.set_level(logging.WARNING)
    out = tmp_path / "b.csv"
    result = runner.invoke(app, ["tag", str(CASE / "to_tag.csv"), "--model", str(run), "--backbone", str(other),
                                 "--force-backbone", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "computes otherwise than the one" in caplog.text


def test_keys_that_change_nothing_and_older_runs_are_not_refused(run, tiny_bert, tmp_path):
    same = _copy_with(tiny_bert, tmp_path / "renamed", _name_or_path="somewhere/else", use_cache=False)
    result = runner.invoke(app, ["tag", str(CASE / "to_tag.csv"), "--model", str(run), "--backbone", str(same),
                                 "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output

    older = tmp_path / "older-run"  # written before runs kept their backbone's settings
    shutil.copytree(run, older)
    meta = json.loads((older / "meta.json").read_text())
    del meta["backbone_settings"]
    (older / "meta.json").write_text(json.dumps(meta))
    relu = _copy_with(tiny_bert, tmp_path / "relu", hidden_act="relu")
    result = runner.invoke(app, ["tag", str(CASE / "to_tag.csv"), "--model", str(older), "--backbone", str(relu),
                                 "--runtime", "torch", "--out", str(tmp_path / "d.csv")])
    assert result.exit_code == 0, result.output


def test_causal_attention_set_in_config_json_is_refused(run, tiny_bert, tmp_path):
    other = _copy_with(tiny_bert, tmp_path / "decoder-bert", is_decoder=True)
    result = runner.invoke(app, ["tag", str(CASE / "to_tag.csv"), "--model", str(run), "--backbone", str(other),
                                 "--runtime", "torch", "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 3 and "is_decoder True (the run's: False)" in result.stderr
