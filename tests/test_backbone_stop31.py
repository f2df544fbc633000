"""Backbones and training options, stop 31: MPT's position limit (``max_seq_len``), backbones whose
code fails under bf16 autocast (DeBERTa v1), and split / --min-support problems that tune must refuse
before it writes its folder, as train does."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import synthetic_movies, write_csv
from genretag.cli import app
from genretag.config import ModelSpec
from genretag.errors import ConfigError
from genretag.modeling import build_model, position_limit
from tiny_backbones import save_tokenizer

runner = CliRunner()


@pytest.fixture(autouse=True)
def warnings_captured(caplog):
    caplog.set_level(logging.WARNING)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _save(path: Path, class_name: str, **kwargs) -> Path:
    """A tiny random model of ``class_name`` with the tests' byte-level BPE tokenizer."""
    import transformers

    path.mkdir(parents=True, exist_ok=True)
    tokenizer = save_tokenizer(path)
    config = getattr(transformers, class_name)(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                               eos_token_id=tokenizer.eos_token_id,
                                               bos_token_id=tokenizer.eos_token_id, **kwargs)
    torch.manual_seed(0)
    transformers.AutoModel.from_config(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_mpt(tmp_path_factory) -> Path:
    return _save(tmp_path_factory.mktemp("mpt") / "mpt", "MptConfig", d_model=32, n_layers=2, n_heads=4,
                 max_seq_len=64, expansion_ratio=2)


@pytest.fixture(scope="module")
def tiny_deberta(tmp_path_factory) -> Path:
    """DeBERTa v1 (microsoft/deberta-base's architecture)."""
    return _save(tmp_path_factory.mktemp("deberta") / "deberta", "DebertaConfig", hidden_size=32,
                 num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, max_position_embeddings=64)


def _long_rows(n: int = 30) -> list[dict]:
    rows = synthetic_movies(n)
    rows[0]["overview"] = " ".join(["ghost haunted chase love cowboy"] * 60)  # far past 64 tokens
    return rows


# MPT keeps its limit in max_seq_len (no max_position_embeddings): --max-length past it failed at the
# first long synopsis ("The size of tensor a (73) must match the size of tensor b (64)"), as an internal error.
def test_mpt_max_seq_len_is_its_position_limit(tiny_mpt):
    from transformers import AutoConfig

    assert position_limit(AutoConfig.from_pretrained(tiny_mpt)) == 64


def test_mpt_max_length_past_max_seq_len_is_clamped_at_train_and_tag(tiny_mpt, tmp_path, caplog):
    data = write_csv(tmp_path / "train.csv", _long_rows())
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", str(tiny_mpt), "--epochs", "1",
                                 "--max-length", "1024", "--out", str(run)])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["max_length"] == 64
    assert f"--max-length 1024 is more than backbone {tiny_mpt} takes (64 tokens); using 64" in _flat(caplog.text)
    result = runner.invoke(app, ["tag", str(data), "--model", str(run), "--out", str(tmp_path / "tagged.csv"),
                                 "--runtime", "torch"])
    assert result.exit_code == 0, result.output


def test_an_mpt_run_saved_with_a_too_large_max_length_tags_and_evaluates(tiny_mpt, tmp_path, caplog):
    """A run written before the limit was known (config.json says 1024) loads clamped."""
    data = write_csv(tmp_path / "train.csv", _long_rows())
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", "--data", str(data), "--backbone", str(tiny_mpt), "--epochs", "1",
                               "--out", str(run)]).exit_code == 0
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "max_length": 1024}))
    result = runner.invoke(app, ["evaluate", "--model", str(run), "--data", str(data), "--no-baseline"])
    assert result.exit_code == 0, result.output
    assert f"{run}'s max length 1024 is more than backbone {tiny_mpt} takes (64 tokens)" in _flat(caplog.text)


# DeBERTa v1 fills its attention mask with fp32's minimum, which bf16 cannot hold: under bf16 autocast
# (train's and tag's default where a CPU or GPU has native bf16) training stopped with an internal
# error "value cannot be converted to type c10::BFloat16 without overflow", and tagging 256 rows or more too.
BF16_OVERFLOW = "value cannot be converted to type c10::BFloat16 without overflow"


def test_training_falls_back_to_fp32_for_a_backbone_that_fails_in_bf16(tiny_deberta, tmp_path, caplog, monkeypatch):
    from genretag import device

    monkeypatch.setattr(device, "bf16_supported", lambda dev: True)  # as on a CPU with AVX-512 BF16 or AMX
    data = write_csv(tmp_path / "train.csv", synthetic_movies(30))
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", str(tiny_deberta), "--epochs", "1",
                                 "--out", str(run)])
    assert result.exit_code == 0, result.output
    assert "device cpu (fp32)" in _flat(result.output)
    assert json.loads((run / "config.json").read_text())["precision"] == "fp32"
    assert (f"training in fp32: backbone {tiny_deberta} fails under bf16 autocast ({BF16_OVERFLOW})"
            in _flat(caplog.text))


def test_precision_bf16_with_such_a_backbone_is_refused_naming_the_option(tiny_deberta, tmp_path):
    data = write_csv(tmp_path / "train.csv", synthetic_movies(30))
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", str(tiny_deberta), "--epochs", "1",
                                 "--precision", "bf16", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"error: --precision bf16 fails with backbone {tiny_deberta} ({BF16_OVERFLOW}); use --precision fp32 "
        "(or auto, which falls back to fp32)"]
    assert not (tmp_path / "run").exists()


def test_the_bf16_check_keeps_bf16_where_it_works_and_draws_no_random_numbers(tiny_bert):
    from genretag.training import _check_bf16

    model, tokenizer = build_model(ModelSpec(backbone=str(tiny_bert), num_labels=3))
    model.train()
    state = torch.get_rng_state()
    assert _check_bf16(model, tokenizer, torch.device("cpu"), str(tiny_bert), "auto") == "bf16"
    assert torch.equal(torch.get_rng_state(), state) and model.training


def test_prediction_falls_back_to_fp32_where_bf16_fails(tiny_deberta, monkeypatch, caplog):
    from genretag import predict
    from genretag.batching import encode

    monkeypatch.setattr(predict, "fast_precision", lambda dev: "bf16")
    model, tokenizer = build_model(ModelSpec(backbone=str(tiny_deberta), num_labels=3))
    model.eval()
    encoded = encode(tokenizer, [r["overview"] for r in synthetic_movies(300, seed=2)], 64)
    predictor = predict.Predictor(model, tokenizer.pad_token_id)
    logits = predictor.logits(encoded, batch_size=64)
    assert predictor.choice.precision == "fp32"
    assert predictor.choice.reason == f"the backbone fails in bf16: {BF16_OVERFLOW}"
    expected = predict.predict_logits(model, encoded, tokenizer.pad_token_id, batch_size=64,
                                      device=torch.device("cpu"), precision="fp32")
    np.testing.assert_allclose(logits, expected, atol=1e-6)
    assert f"predicting in fp32, about 2-3x slower than bf16: the backbone fails in bf16: {BF16_OVERFLOW}" \
        in _flat(caplog.text)
    forced = predict.Predictor(model, tokenizer.pad_token_id, precision="bf16")
    with pytest.raises(ConfigError, match=r"^precision bf16 fails with this backbone \(value cannot be converted"):
        forced.logits(encoded[:4])


# tune wrote its folder (grid.json, leaderboard) and a "tuning 9 trials" line before the data was split,
# then failed on a --split that left a part empty or a --min-support above every genre's count.
@pytest.mark.parametrize("extra, message", [
    (["--split", "0.98,0.01,0.01"], "error: --split 0.98,0.01,0.01 leaves the validation and test splits empty "
                                    "(30 usable rows: 30 train, 0 validation, 0 test); give each a fraction of at "
                                    "least 0.033 (1 row in 30)"),
    (["--split", "0.01,0.98,0.01"], "error: --split 0.01,0.98,0.01 leaves the train and test splits empty "
                                    "(30 usable rows: 0 train, 30 validation, 0 test); give each a fraction of at "
                                    "least 0.033 (1 row in 30)"),
])
def test_tune_refuses_an_empty_split_before_it_writes_anything(extra, message, tiny_bert, tmp_path):
    data = write_csv(tmp_path / "train.csv", synthetic_movies(30))
    result = runner.invoke(app, ["tune", "--data", str(data), "--backbone", str(tiny_bert), "--epochs", "1",
                                 *extra, "--out", str(tmp_path / "grid")])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [message]
    assert not (tmp_path / "grid").exists()


def _most_frequent(rows: list[dict], run: Path) -> tuple[str, int, int]:
    """The most frequent genre of a run's training rows, its count and the training row count."""
    from collections import Counter

    split = json.loads((run / "split.json").read_text())
    counts = Counter(g for i in split["train"] for g in rows[i]["genres"].split("|"))
    genre, n = counts.most_common(1)[0]
    return genre, n, len(split["train"])


@pytest.mark.parametrize("command", ["train", "tune"])
def test_a_min_support_above_every_genre_names_the_most_frequent_and_its_count(command, tiny_bert, tmp_path):
    """It said "no genre is left in the training split; lower --min-support" (lower to what?)."""
    rows = synthetic_movies(30)
    data = write_csv(tmp_path / "train.csv", rows)
    result = runner.invoke(app, [command, "--data", str(data), "--backbone", str(tiny_bert), "--epochs", "1",
                                 "--split", "0.9,0.1,0", "--min-support", "40", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    # The same split as a run of these options: 27 training rows, whose most frequent genre is counted.
    assert runner.invoke(app, ["train", "--data", str(data), "--backbone", str(tiny_bert), "--epochs", "1",
                               "--split", "0.9,0.1,0", "--out", str(tmp_path / "ref")]).exit_code == 0
    genre, n, train_rows = _most_frequent(rows, tmp_path / "ref")
    assert train_rows == 27
    assert result.output.strip().splitlines() == [
        f"error: no genre is left in the training split: --min-support 40 drops every genre (the most frequent, "
        f"{genre}, has {n} rows of the 27); give --min-support at most {n}"]
    assert not (tmp_path / "out").exists()


# CTRL's attention is Wq/Wk/Wv, Baichuan's (remote code) one fused W_pack: "cannot tell which layers to adapt".
def test_default_lora_targets_of_ctrl_and_of_fused_w_pack_attention(tmp_path):
    from genretag.modeling import default_lora_targets

    ctrl = _save(tmp_path / "ctrl", "CTRLConfig", n_embd=32, n_layer=2, n_head=4, dff=64, n_positions=64)
    model, tokenizer = build_model(ModelSpec(backbone=str(ctrl), num_labels=3))
    assert sorted(model.backbone.peft_config["default"].target_modules) == ["Wq", "Wv"]
    assert model.pooling == "last"
    enc = tokenizer(["a ghost haunts the night", "love"], padding=True, return_tensors="pt")
    assert torch.isfinite(model(enc["input_ids"], enc["attention_mask"])).all()
    layer = torch.nn.ModuleDict({"W_pack": torch.nn.Linear(4, 12), "o_proj": torch.nn.Linear(4, 4)})
    assert default_lora_targets(torch.nn.ModuleDict({"self_attn": layer})) == ["W_pack"]
