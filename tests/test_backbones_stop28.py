"""Backbone faults found by a new user's probe in stop 28, each asserting the right value."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_backbones import save_tiny
from typer.testing import CliRunner

from genretag.cli import app
from genretag.config import ModelSpec, TrainConfig
from genretag.errors import ConfigError
from genretag.modeling import build_model
from genretag.rundir import bundled_model
from genretag.training import train

runner = CliRunner()


def _train_cli(data, backbone, out, *extra):
    return runner.invoke(app, ["train", "--data", str(data), "--backbone", str(backbone), "--epochs", "1",
                               "--out", str(out), *extra])


def _said(result) -> str:
    return " ".join(result.output.split())


def test_cls_pooling_of_a_decoder_is_refused_before_training(movies_csv, tiny_qwen, tmp_path):
    """GPT-2 and Qwen3 trained on the first token's state, which has seen nothing of the synopsis (exit 0)."""
    gpt2 = save_tiny("gpt2", tmp_path / "gpt2")
    for backbone, kind in ((tiny_qwen, "qwen3"), (gpt2, "gpt2")):
        out = tmp_path / f"run-{kind}"
        result = _train_cli(movies_csv, backbone, out, "--pooling", "cls")
        assert result.exit_code == 2, result.output
        assert (f"--pooling cls does not fit backbone {backbone}: it is a decoder-only model ({kind}), whose attention "
                "only looks back, so its first token has seen nothing of the synopsis; use --pooling last (the default "
                "for a decoder) or mean") in _said(result)
        assert not out.exists()
    # What each kind pools by default, and cls where it sees the whole text (an encoder).
    assert build_model(ModelSpec(backbone=str(tiny_qwen), num_labels=3))[0].pooling == "last"
    assert build_model(ModelSpec(backbone=str(gpt2), num_labels=3, pooling="mean"))[0].pooling == "mean"


def test_cls_pooling_of_an_encoder_is_kept(tiny_bert):
    model, _ = build_model(ModelSpec(backbone=str(tiny_bert), num_labels=3, pooling="cls"))
    assert model.pooling == "cls" and not model.decoder
    assert build_model(ModelSpec(backbone=str(tiny_bert), num_labels=3))[0].pooling == "mean"


def _sentencepiece_only(tmp_path: Path) -> Path:
    """A T5 encoder whose tokenizer is a SentencePiece model alone (no tokenizer.json), as on the hub."""
    folder = save_tiny("t5", tmp_path / "t5-spm")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)
    (folder / "spiece.model").write_bytes(b"\x0a\x09\x0a\x05<pad>\x15\x00\x00\x00\x00")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer"}))
    return folder


def _without_sentencepiece(monkeypatch):
    """As where the package is not installed: transformers' own check and the one genretag asks."""
    from transformers.utils import import_utils

    monkeypatch.setattr(import_utils, "is_sentencepiece_available", lambda: False)
    monkeypatch.setitem(import_utils.BACKENDS_MAPPING, "sentencepiece",
                        (lambda: False, import_utils.BACKENDS_MAPPING["sentencepiece"][1]))


def test_a_sentencepiece_tokenizer_without_the_package_says_to_install_it(movies_csv, tmp_path, monkeypatch):
    """It said to install tiktoken (the fallback transformers tried after sentencepiece)."""
    _without_sentencepiece(monkeypatch)
    folder = _sentencepiece_only(tmp_path)
    result = _train_cli(movies_csv, folder, tmp_path / "run")
    assert result.exit_code == 3, result.output
    assert result.stderr.strip() == (f"error: the tokenizer of backbone {folder} is a SentencePiece model "
                                     "(spiece.model, no tokenizer.json); reading it needs the sentencepiece package: "
                                     "pip install sentencepiece")


@pytest.mark.skipif(importlib.util.find_spec("sentencepiece") is not None,
                    reason="sentencepiece is installed: a new process cannot be made to lack it")
def test_a_sentencepiece_tokenizer_error_comes_without_library_log_lines(movies_csv, tmp_path):
    """Five "[transformers] Could not extract SentencePiece model ..." lines came before genretag's error:
    transformers sets its logger's level anew when it is imported, after the CLI had quieted it."""
    folder = _sentencepiece_only(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TRANSFORMERS_VERBOSITY"}
    # --split with 48 validation rows: 18 would be warned of (rightly) before the backbone is loaded.
    done = subprocess.run([sys.executable, "-m", "genretag", "train", "--data", str(movies_csv), "--backbone",
                           str(folder), "--split", "0.5,0.4,0.1", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        (f"error: the tokenizer of backbone {folder} is a SentencePiece model (spiece.model, no tokenizer.json); "
         "reading it needs the sentencepiece package: pip install sentencepiece")]


def test_a_tokenizer_that_cannot_be_built_says_why_in_one_line(movies_csv, tmp_path):
    """The message stopped at "Couldn't instantiate the backend tokenizer from one of:"."""
    folder = tmp_path / "no-tokenizer"
    shutil.copytree(save_tiny("gpt2", tmp_path / "gpt2"), folder)
    for name in ("tokenizer.json", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast"}))
    result = _train_cli(movies_csv, folder, tmp_path / "run")
    assert result.exit_code == 3, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    said = _said(result)
    assert f"error: cannot load the tokenizer of backbone {folder}: Couldn't instantiate the backend tokenizer" in said
    assert "(1) a `tokenizers` library serialization file, (2) a slow tokenizer instance to convert" in said
    assert said.endswith("(tokenizer files there: tokenizer_config.json; save the tokenizer with the model: "
                         "tokenizer.save_pretrained)")


def test_a_run_or_an_export_given_as_backbone_is_named_so(movies_csv, tiny_run, tiny_qwen, tmp_path):
    """An export as --backbone failed with "contains custom code which must be executed" (and a transformers
    log line), an adapter export with "has no config.json"; a run was named, but train has no --model."""
    exported, adapter = tmp_path / "exported", tmp_path / "adapter"
    assert runner.invoke(app, ["export", str(tiny_run), str(exported)]).exit_code == 0
    assert runner.invoke(app, ["export", str(tiny_run), str(adapter), "--adapter-only"]).exit_code == 0
    expected = {
        tiny_run: f"{tiny_run} is a genretag run (a trained model), not a backbone; pass it as --model to tag or "
                  "evaluate with it (export takes it as RUN), and --backbone only for the language model a run was "
                  f"trained on (this one: {tiny_qwen})",
        exported: f"{exported} is a genretag export of the run tiny (a tagger for transformers, "
                  "trust_remote_code=True), not a backbone; pass its run as --model to tag or evaluate with it, and "
                  "--backbone only for the language model the run was trained on",
        adapter: f"{adapter} is a genretag adapter export (LoRA adapter + head), not a backbone; pass its run as "
                 f"--model to tag or evaluate with it, and --backbone only for the language model it adapts "
                 f"(this one: {tiny_qwen})",
    }
    for folder, message in expected.items():
        trained = _train_cli(movies_csv, folder, tmp_path / "run")
        tagged = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--backbone", str(folder),
                                     "--out", str(tmp_path / "o.csv"), "--runtime", "torch"])
        for result in (trained, tagged):
            assert result.exit_code == 3, result.output
            assert result.stderr.strip().splitlines()[-1] == f"error: {message}"  # tag says its model first
    bundled = bundled_model()
    result = _train_cli(movies_csv, bundled, tmp_path / "run")
    assert result.exit_code == 3 and f"{bundled} is a genretag run (a trained model), not a backbone" in _said(result)
    assert "(this one: minilm)" in _said(result)
    assert not (tmp_path / "run").exists() and not (tmp_path / "o.csv").exists()


def test_lora_targets_off_the_pooled_path_are_refused(movies_csv, tiny_bert, tmp_path):
    """BERT's pooler.dense makes pooler_output, which genretag does not use: its LoRA B stayed zero for the
    whole training, and the run was saved as if adapted."""
    for targets in ("pooler.dense", "query,pooler.dense"):
        out = tmp_path / "run"
        result = _train_cli(movies_csv, tiny_bert, out, "--lora-targets", targets)
        assert result.exit_code == 2, result.output
        assert ("--lora-targets pooler.dense: 'pooler.dense' does not feed the last hidden states that genretag "
                "pools (mean pooling), so its LoRA would get no gradient and never learn; adapt layers inside the "
                "transformer blocks, such as query,value (the default)") in _said(result)
        assert not out.exists()
    with pytest.raises(ConfigError, match="lora_targets pooler.dense: 'pooler.dense' does not feed"):
        build_model(ModelSpec(backbone=str(tiny_bert), num_labels=3, lora_targets=["pooler.dense"]))
    # "dense" names the pooler's layer too, but also the blocks' output layers, which learn.
    model, _ = build_model(ModelSpec(backbone=str(tiny_bert), num_labels=3, lora_targets=["dense"]))
    assert model.backbone.get_base_model().encoder.layer[0].output.dense.lora_B is not None
    assert all(p.grad is None for p in model.parameters())  # the check leaves no gradient behind


def test_checking_chosen_lora_targets_does_not_change_the_training(movies_csv, tiny_bert, tmp_path):
    """The check runs a backward pass on chosen targets only; the run must be what it was without it."""
    base = {"data": str(movies_csv), "backbone": str(tiny_bert), "epochs": 1, "batch_size": 16, "lr": 1e-3}
    default = train(TrainConfig(**base), tmp_path / "default")
    chosen = train(TrainConfig(**base, lora_targets=["query", "value"]), tmp_path / "chosen")
    assert chosen.history[0]["train_loss"] == default.history[0]["train_loss"]
    assert chosen.history[0]["val_loss"] == default.history[0]["val_loss"]


def test_a_run_whose_validation_loss_exploded_is_saved_with_a_warning(movies_csv, tiny_bert, tmp_path, caplog):
    """--lr 1e3 saved a run with a validation loss of 1e8 and said nothing of it."""
    with caplog.at_level(logging.WARNING, logger="genretag"):
        result = train(TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=1, batch_size=16, lr=1e3),
                       tmp_path / "high")
    loss = result.history[0]["val_loss"]
    assert loss > 100
    said = [r.getMessage() for r in caplog.records if "validation loss of" in r.getMessage()]
    assert said == [(f"the saved epoch 1 has a validation loss of {loss:.3g}, more than 10 times that of a model "
                     "that says 0.5 for every genre (0.69): the training diverged; --lr 1000 is likely too high "
                     "(lower it), and the run's scores are not to be trusted")]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="genretag"):
        train(TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=1, batch_size=16, lr=1e-3),
              tmp_path / "fine")
    assert not [r for r in caplog.records if "validation loss of" in r.getMessage()]
