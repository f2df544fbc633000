"""--compile: fixed-width padding, models reused across trials, compiled = eager training."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genretag import runs
from genretag.batching import collate, padded_width
from genretag.compiling import ModelCache, TrainForward
from genretag.config import TrainConfig, replace
from genretag.modeling import ModelSpec, build_model
from genretag.predict import predict_logits
from genretag.training import train
from genretag.tuning import Grid, tune


def _config(csv, backbone, **kw) -> TrainConfig:
    values = {"epochs": 1, "batch_size": 16, "eval_batch_size": 32, "precision": "fp32", **kw}
    return TrainConfig(data=str(csv), backbone=str(backbone), **values)


def _history(run) -> list[dict]:
    keys = ("train_loss", "val_loss", "val_micro_f1")
    lines = (run / runs.HISTORY_FILE).read_text().splitlines()
    return [{k: json.loads(line)[k] for k in keys} for line in lines]


def _weights(run) -> dict[str, np.ndarray]:
    tensors = load_file(run / runs.ADAPTER_DIR / "adapter_model.safetensors")
    return {**{k: v.numpy() for k, v in tensors.items()}, **{f"head.{k}": v.numpy()
                                                            for k, v in load_file(run / runs.HEAD_FILE).items()}}


def test_padded_width_rounds_up_to_the_step():
    assert [padded_width(n, 32) for n in (1, 31, 32, 33, 100, 128)] == [32, 32, 32, 64, 128, 128]
    assert padded_width(77, None) == 77
    ids, mask = collate([[5, 6, 7], [8]], pad_id=0, width_step=32)
    assert ids.shape == mask.shape == (2, 32)
    assert mask.sum(1).tolist() == [3, 1] and ids[0, :4].tolist() == [5, 6, 7, 0]


@pytest.mark.parametrize("backbone", ["tiny_qwen", "tiny_bert"])
def test_fixed_width_padding_gives_the_logits_of_dynamic_padding(backbone, request):
    """Last-token pooling (Qwen3) and mean pooling (BERT) read the mask, not the width."""
    torch.manual_seed(0)
    model, tokenizer = build_model(ModelSpec(backbone=str(request.getfixturevalue(backbone)), num_labels=4))
    with torch.no_grad():  # non-zero LoRA B, so the adapters take part
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    texts = ["A ghost haunts the old ranch.", "Love.", "A cowboy and a sheriff chase an outlaw across the desert "
             "for many days and nights until the frontier town burns."]
    encoded = [tokenizer(t)["input_ids"] for t in texts]
    assert sorted(map(len, encoded))[0] < sorted(map(len, encoded))[-1]  # batches do get padded
    dynamic = predict_logits(model, encoded, tokenizer.pad_token_id, batch_size=3)
    for step in (32, 64):
        fixed = predict_logits(model, encoded, tokenizer.pad_token_id, batch_size=3, width_step=step)
        np.testing.assert_allclose(fixed, dynamic, atol=1e-5, rtol=1e-5)
    alone = np.concatenate([predict_logits(model, [e], tokenizer.pad_token_id) for e in encoded])
    np.testing.assert_allclose(dynamic, alone, atol=1e-5, rtol=1e-5)


def test_a_cached_model_trains_exactly_like_a_fresh_one(movies_csv, tiny_qwen, tmp_path):
    """tune's trials share one model, reset per trial: the results are those of separate trainings."""
    config = _config(movies_csv, tiny_qwen, lr=1e-3)
    fresh = train(config, tmp_path / "fresh")
    cache = ModelCache()
    train(_config(movies_csv, tiny_qwen, lr=5e-3, batch_size=8), tmp_path / "first", models=cache)
    again = train(config, tmp_path / "again", models=cache)
    assert len(cache.entries) == 1 and next(iter(cache.entries.values())).uses == 2
    assert _history(again.path) == _history(fresh.path)
    fresh_w, again_w = _weights(fresh.path), _weights(again.path)
    assert fresh_w.keys() == again_w.keys() and all(np.array_equal(fresh_w[k], again_w[k]) for k in fresh_w)
    meta = json.loads((again.path / runs.META_FILE).read_text())
    assert meta["compile"] == "off" and "CPU" in meta["compile_reason"]  # auto: off on a CPU


def test_auto_on_a_gpu_decides_from_the_measured_step(monkeypatch):
    """The decision rule alone (no GPU needed): few steps left -> eager; many -> compiled."""
    import genretag.compiling as compiling

    model = torch.nn.Linear(2, 2)
    monkeypatch.setattr(compiling, "compile_model", lambda net, device: ("compiled", net))
    clock = iter([0.0, 0.1, 0.2, 0.3])  # 100 ms per eager step
    monkeypatch.setattr(compiling, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    few = TrainForward(model, model, "auto", torch.device("cuda"), steps_left=100)
    assert few.deciding and few.width_step is None
    for _ in range(4):
        few.step_done()
    # 96 steps x 0.1 s x (1 - 1/7) = 8 s saved < 150 s of compiling
    assert not few.on and few.reason.startswith("off (auto): measured eager step 100 ms")
    clock = iter([0.0, 0.1, 0.2, 0.3])
    cache = ModelCache(planned_steps=20_000)  # a grid: the compile pays off over all its trials
    many = TrainForward(model, model, "auto", torch.device("cuda"), steps_left=100, cache=cache)
    for _ in range(4):
        many.step_done()
    assert many.on and many.width_step == 32 and many.compiled == ("compiled", model)
    assert TrainForward(model, model, "auto", torch.device("cuda"), steps_left=4).summary()["compile"] == "off"
    assert TrainForward(model, model, "auto", torch.device("cpu"), steps_left=10**6).summary()["compile"] == "off"


@pytest.fixture
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.slow
def test_compiled_tune_matches_eager_and_compiles_once(fresh_dynamo, movies_csv, tiny_qwen, tmp_path):
    """torch.compile on a CPU (inductor): same losses and weights as eager, one compile for two trials.

    No dropout, so that compiled and eager runs draw no random masks and can be compared.
    """
    from torch._dynamo.utils import counters

    base = _config(movies_csv, tiny_qwen, lora_dropout=0.0, head_dropout=0.0, max_length=32)
    grid = Grid(lr=[1e-3, 3e-3], batch_size=[16], epochs=[1])
    graphs = []

    def count(event, info):
        if event == "trial_done":
            graphs.append(counters["stats"]["unique_graphs"])

    compiled = tune(replace(base, compile="on"), grid, tmp_path / "compiled", callback=count)
    eager = tune(replace(base, compile="off"), grid, tmp_path / "eager")
    # Trial 1 compiled the training and the validation graph; trial 2 reused both.
    assert graphs[0] >= 2 and graphs[1] == graphs[0]
    for row in compiled.rows:
        run, ref = tmp_path / "compiled" / row["path"], tmp_path / "eager" / row["path"]
        assert json.loads((run / runs.META_FILE).read_text())["compile"] == "on"
        for got, want in zip(_history(run), _history(ref)):
            for key in got:
                assert got[key] == pytest.approx(want[key], rel=1e-4, abs=1e-5), key
        got_w, want_w = _weights(run), _weights(ref)
        for key in want_w:
            np.testing.assert_allclose(got_w[key], want_w[key], rtol=1e-3, atol=1e-5, err_msg=key)
    assert [r["trial"] for r in compiled.rows] == [r["trial"] for r in eager.rows]
