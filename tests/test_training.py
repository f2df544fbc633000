"""The training loop and run directories, on tiny random backbones."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genretag import runs
from genretag.config import TrainConfig
from genretag.decision import DecisionRule
from genretag.modeling import ModelSpec, build_model
from genretag.training import oversample_rows, prepare, train
from genretag.vocabulary import RUN_VOCABULARY_FILE

RUN_FILES = {
    runs.CONFIG_FILE, runs.LABELS_FILE, runs.THRESHOLDS_FILE, runs.HEAD_FILE, runs.SPLIT_FILE,
    runs.HISTORY_FILE, runs.METRICS_FILE, runs.META_FILE, runs.ADAPTER_DIR, RUN_VOCABULARY_FILE,
}


def _config(csv, backbone, **kw) -> TrainConfig:
    values = {"epochs": 2, "batch_size": 16, "eval_batch_size": 32, **kw}
    return TrainConfig(data=str(csv), backbone=str(backbone), **values)


def test_train_writes_a_self_describing_run(movies_csv, tiny_qwen, tmp_path):
    out = tmp_path / "run"
    events = []
    result = train(_config(movies_csv, tiny_qwen), out, callback=lambda e, d: events.append(e))
    assert {p.name for p in out.iterdir()} == RUN_FILES
    adapter = {p.name for p in (out / runs.ADAPTER_DIR).iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= adapter  # (+ peft's README.md card)
    labels = json.loads((out / runs.LABELS_FILE).read_text())
    assert labels == sorted(labels) == result.labels == ["Action", "Comedy", "Drama", "Horror", "Romance", "Western"]
    head = load_file(out / runs.HEAD_FILE)
    assert head["weight"].shape == (6, 32)
    history = [json.loads(line) for line in (out / runs.HISTORY_FILE).read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(0 <= h["val_micro_f1"] <= 1 and h["val_loss"] > 0 for h in history)
    split = json.loads((out / runs.SPLIT_FILE).read_text())
    parts = [set(split[p]) for p in ("train", "validation", "test")]
    assert sum(map(len, parts)) == 120 and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert (len(parts[0]), len(parts[1]), len(parts[2])) == (84, 18, 18)
    meta = json.loads((out / runs.META_FILE).read_text())
    assert meta["versions"]["genretag"] and meta["data_fingerprint"] == split["fingerprint"]
    config = json.loads((out / runs.CONFIG_FILE).read_text())
    assert config["lora_targets"] == ["q_proj", "v_proj"] and config["pooling"] == "last"
    assert TrainConfig.from_dict(config).lr == 5e-4
    thresholds = json.loads((out / runs.THRESHOLDS_FILE).read_text())
    assert list(thresholds) == labels and all(0 < t < 1 for t in thresholds.values())
    assert events[0] == "start" and events[-1] == "done" and events.count("epoch") == 2
    assert not list(tmp_path.glob(".*partial*"))  # the temp dir was renamed into place


def test_save_then_load_gives_identical_probabilities(tiny_bert, tmp_path):
    torch.manual_seed(1)
    model, tokenizer = build_model(ModelSpec(backbone=str(tiny_bert), num_labels=3))
    with torch.no_grad():  # a non-trivial adapter, so a lost LoRA weight would show
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    model.eval()
    config = TrainConfig(data="x.csv", backbone=str(tiny_bert))
    runs.save_run(tmp_path / "run", config=config, labels=["A", "B", "C"], rule=DecisionRule(np.array([0.3, 0.5, 0.7])),
                  model=model, split={}, history=[], metrics={}, meta={"finished": "2026-01-01"})
    texts = ["A ghost haunts a ranch.", "Two friends laugh at a wedding party."]
    from genretag.batching import encode
    from genretag.predict import predict_logits, sigmoid

    before = sigmoid(predict_logits(model, encode(tokenizer, texts, 128), tokenizer.pad_token_id))
    # On the CPU like `model`: bit-equality across devices is not to be had.
    run = runs.load_run(tmp_path / "run", merge=False, device="cpu")
    after = run.predict_proba(texts)
    assert np.array_equal(before, after)
    merged = runs.load_run(tmp_path / "run", device="cpu")  # LoRA folded into the weights: the same function
    assert not any("lora_" in name for name, _ in merged.model.named_parameters())
    np.testing.assert_allclose(merged.predict_proba(texts), before, atol=1e-5)
    assert run.labels == ["A", "B", "C"] and run.rule.thresholds.tolist() == pytest.approx([0.3, 0.5, 0.7])


@pytest.mark.parametrize("loss", ["weighted-bce", "focal", "asl"])
def test_every_loss_trains(loss, movies_csv, tiny_bert, tmp_path):
    result = train(_config(movies_csv, tiny_bert, loss=loss, epochs=1, oversample=True), tmp_path / loss)
    assert np.isfinite(result.history[0]["train_loss"])


def test_min_support_drops_rare_genres(tmp_path, tiny_bert):
    from conftest import synthetic_movies, write_csv

    rows = synthetic_movies(80)
    rows[0]["genres"] += "|Musical"  # one example only
    csv = write_csv(tmp_path / "m.csv", rows)
    prep = prepare(_config(csv, tiny_bert, min_support=2))
    assert "Musical" not in prep.labels and prep.rare in ([], ["Musical"])
    assert prep.targets.shape == (80, len(prep.labels))


def test_oversampling_repeats_rare_rows_only():
    targets = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [1, 0], [1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    rows = oversample_rows(targets)
    assert np.bincount(rows).tolist() == [1] * 8 + [3]  # sqrt(8 / 1) rounds to 3


def test_newest_run_is_found_by_finish_time(movies_csv, tiny_bert, tmp_path):
    first = train(_config(movies_csv, tiny_bert, epochs=1), tmp_path / "runs" / "a").path
    second = train(_config(movies_csv, tiny_bert, epochs=1), tmp_path / "runs" / "b").path
    assert runs.newest_run(tmp_path / "runs") == second
    (tmp_path / "runs" / ".c.partial").mkdir()  # an interrupted run is never picked
    assert runs.newest_run(tmp_path / "runs") == second
    assert first.exists()


def test_init_seed_changes_the_model_but_not_the_split(movies_csv, tiny_bert, tmp_path):
    base = _config(movies_csv, tiny_bert, epochs=1)
    first = train(base, tmp_path / "a")
    same = train(base, tmp_path / "b")
    other = train(TrainConfig.from_dict({**base.to_dict(), "init_seed": 7}), tmp_path / "c")
    split = [json.loads((tmp_path / name / runs.SPLIT_FILE).read_text()) for name in "abc"]
    assert split[0] == split[1] == split[2]
    heads = [load_file(tmp_path / name / runs.HEAD_FILE)["weight"] for name in "abc"]
    assert torch.equal(heads[0], heads[1])  # the default init seed is --seed: reproducible
    assert not torch.allclose(heads[0], heads[2])
    assert json.loads((tmp_path / "c" / runs.CONFIG_FILE).read_text())["init_seed"] == 7
    assert first.path != other.path and same.labels == other.labels


def test_title_dropout_shows_a_fresh_share_of_rows_without_their_title_each_epoch(movies_csv, tiny_qwen, tmp_path,
                                                                                     monkeypatch):
    from genretag import training

    seen = []
    real_collate = training.collate

    def recording_collate(rows, *args, **kwargs):
        seen.append([tuple(r) for r in rows])
        return real_collate(rows, *args, **kwargs)

    monkeypatch.setattr(training, "collate", recording_collate)
    with pytest.raises(ValueError, match="title_dropout must be in"):
        TrainConfig(data=str(movies_csv), title_dropout=1.0)
    config = TrainConfig(data=str(movies_csv), backbone=str(tiny_qwen), epochs=2, batch_size=16,
                         text_cols=["title", "overview"], title_dropout=0.5)
    result = train(config, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["title_dropout"] == 0.5
    prep = prepare(config)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_qwen))
    titled = {tuple(ids) for ids in training.encode(tokenizer, prep.data.texts, config.max_length)}
    untitled = {tuple(ids) for ids in training.encode(tokenizer, prep.data.synopsis_texts, config.max_length)}
    n_train = len(prep.split["train"])
    rows = [r for batch in seen for r in batch]
    per_epoch = [rows[:n_train], rows[n_train:2 * n_train]]
    shares = [sum(r in untitled and r not in titled for r in epoch) / n_train for epoch in per_epoch]
    assert all(0.3 < s < 0.7 for s in shares), shares  # about half, drawn anew: the epochs differ
    assert per_epoch[0] != per_epoch[1]
    assert result.path.is_dir()
