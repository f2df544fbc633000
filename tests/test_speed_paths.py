"""The fast paths: bf16 with its parity check, thread settings, training precision and
gradient checkpointing, and the benchmark scripts' own checks (tiny models, CPU)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genretag import device as device_mod
from genretag import predict
from genretag.cli import app
from genretag.config import TrainConfig
from genretag.decision import DecisionRule
from genretag.device import physical_cores, set_threads
from genretag.predict import PRECISIONS, Predictor
from genretag.runs import load_run
from genretag.training import train, training_precision

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
runner = CliRunner()


class FakeModel(torch.nn.Module):
    """Just enough of a GenreModel for `Predictor` (whose forward passes are faked below)."""

    def __init__(self, labels: int = 3):
        super().__init__()
        self.head = torch.nn.Linear(4, labels)

    @property
    def num_labels(self) -> int:
        return self.head.out_features


@pytest.fixture
def fake_forward(monkeypatch):
    """predict_logits replaced: row i's logits are fixed; bf16 adds ``noise[i]``; calls are counted."""
    state = {"noise": None, "calls": []}
    base = np.random.default_rng(0).normal(0, 3, size=(3000, 3)).astype(np.float32)

    def fake(model, encoded, pad_id, *, batch_size=64, device=None, on_batch=None, precision="fp32", width_step=None):
        rows = np.array([r[0] for r in encoded], dtype=int)
        state["calls"].append((precision, len(rows)))
        out = base[rows].copy()
        if precision == "bf16":
            out += state["noise"][rows]
        if on_batch:
            on_batch(len(rows))
        return out

    monkeypatch.setattr(predict, "predict_logits", fake)
    monkeypatch.setattr(device_mod, "bf16_supported", lambda device: True)
    state["base"] = base
    return state


def _rows(n: int) -> list[list[int]]:
    return [[i] for i in range(n)]  # a row's only token is its own index (see fake_forward)


def test_auto_keeps_bf16_when_it_agrees_and_reuses_the_checked_rows(fake_forward):
    fake_forward["noise"] = np.full((3000, 3), 1e-4, dtype=np.float32)
    predictor = Predictor(FakeModel(), 0, precision="auto")
    done = []
    out = predictor.logits(_rows(2000), on_batch=done.append)
    assert predictor.choice.precision == "bf16" and predictor.choice.rows == 256
    np.testing.assert_allclose(out, fake_forward["base"][:2000] + 1e-4, atol=1e-6)  # every row, in input order
    assert sum(done) == 2000
    # One fp32 pass over the 256 checked rows is the whole overhead.
    assert [c for c in fake_forward["calls"] if c[0] == "fp32"] == [("fp32", 256)]
    assert sum(n for p, n in fake_forward["calls"] if p == "bf16") == 2000
    fake_forward["calls"].clear()
    predictor.logits(_rows(300))  # the choice is kept: no second check
    assert fake_forward["calls"] == [("bf16", 300)]


def test_auto_falls_back_to_fp32_when_bf16_moves_probabilities(fake_forward, caplog):
    fake_forward["noise"] = np.full((3000, 3), 0.2, dtype=np.float32)  # |dp| up to 0.05 > 1e-2
    predictor = Predictor(FakeModel(), 0, precision="auto")
    with caplog.at_level(logging.WARNING, logger="genretag.predict"):
        out = predictor.logits(_rows(1000))
    assert predictor.choice.precision == "fp32" and predictor.choice.rows == 256  # no use sampling more
    assert "bf16 moved probabilities by up to 0.0500 on 256 checked rows (limit 0.01)" in caplog.text
    np.testing.assert_array_equal(out, fake_forward["base"][:1000])


def test_auto_samples_more_rows_when_agreement_is_just_short(fake_forward):
    first = np.linspace(0, 2999, 256).round().astype(int)  # the first stage's rows
    flips = first[[10, 100, 200]]  # 3 of 256 differ (98.8%): just short of 99%, so sample more
    base, noise = fake_forward["base"], np.zeros((3000, 3), dtype=np.float32)
    base[flips, 0] = 0.001  # right at the 0.5 boundary...
    noise[flips, 0] = -0.01  # ...which bf16 crosses, moving p by 0.0025 (inside the tolerance)
    fake_forward["noise"] = noise
    predictor = Predictor(FakeModel(), 0, precision="auto", decide_fn=lambda p: (p >= 0.5).astype(np.int8))
    predictor.logits(_rows(3000))
    # Over 1,024 rows the same 3 differences are 99.7% agreement: bf16 after all.
    assert predictor.choice.rows == 1024 and predictor.choice.precision == "bf16"
    assert predictor.choice.agreement == pytest.approx(1 - 3 / 1024)


def test_auto_with_boundary_check_recomputes_only_rows_near_a_threshold(fake_forward):
    base = fake_forward["base"]
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.02, size=base.shape).astype(np.float32)  # logit noise <= 0.035, so |dp| <= 0.035 / 4 < 1e-2
    noise = np.clip(noise, -0.035, 0.035)
    fake_forward["noise"] = noise
    decide_fn = lambda p: (p >= 0.5).astype(np.int8)  # noqa: E731
    predictor = Predictor(FakeModel(), 0, precision="auto", decide_fn=decide_fn,
                          unsure_fn=DecisionRule.fixed(0.5, 3).unsure)
    out = predictor.logits(_rows(3000))
    assert predictor.choice.precision == predict.MIXED
    exact = decide_fn(predict.sigmoid(base[:3000]))
    plain_bf16 = decide_fn(predict.sigmoid(base[:3000] + noise[:3000]))
    assert (plain_bf16 != exact).any()  # bf16 alone flips some decisions...
    np.testing.assert_array_equal(decide_fn(predict.sigmoid(out)), exact)  # ...bf16+fp32 flips none
    near = DecisionRule.fixed(0.5, 3).unsure(predict.sigmoid(base[:3000] + noise[:3000]), predict.PARITY_TOLERANCE)
    fp32_rows = sum(n for p, n in fake_forward["calls"] if p == "fp32")
    # fp32 ran on the checked rows and on the unchecked rows near a boundary, nothing else.
    assert fp32_rows == 256 + int(near[np.setdiff1d(np.arange(3000), np.linspace(0, 2999, 256).round())].sum())
    assert 0 < predictor.choice.refined < predict.MAX_REFINED_SHARE
    fake_forward["calls"].clear()
    again = predictor.logits(_rows(500))  # the choice is kept, rows near a boundary still refined
    np.testing.assert_array_equal(decide_fn(predict.sigmoid(again)), exact[:500])
    assert fake_forward["calls"][0] == ("bf16", 500)


def test_auto_with_boundary_check_falls_back_when_most_rows_are_near(fake_forward):
    fake_forward["base"][:] = 0.0  # every probability sits at the 0.5 threshold
    fake_forward["noise"] = np.full((3000, 3), 1e-3, dtype=np.float32)
    predictor = Predictor(FakeModel(), 0, precision="auto", unsure_fn=DecisionRule.fixed(0.5, 3).unsure)
    predictor.logits(_rows(1000))
    assert predictor.choice.precision == "fp32" and "recomputed in fp32" in predictor.choice.reason


def test_small_calls_use_fp32_and_leave_the_choice_open(fake_forward):
    fake_forward["noise"] = np.zeros((3000, 3), dtype=np.float32)
    predictor = Predictor(FakeModel(), 0, precision="auto")
    predictor.logits(_rows(100))
    assert predictor.choice is None and fake_forward["calls"] == [("fp32", 100)]


def test_auto_without_native_bf16_is_fp32_without_a_check(monkeypatch):
    from genretag import precision

    monkeypatch.setattr(device_mod, "bf16_supported", lambda device: False)
    monkeypatch.setattr(precision, "int8_supported", lambda device: False)  # else int8 is tried (test_precision.py)
    choice = Predictor(FakeModel(), 0, precision="auto").choice
    assert choice.precision == "fp32" and "no native bf16" in choice.reason
    with pytest.raises(ValueError, match="unknown precision"):
        Predictor(FakeModel(), 0, precision="fp16")
    with pytest.raises(ValueError, match="fp32, bf16 or int8"):
        predict.predict_logits(FakeModel(), [[1]], 0, precision="auto")


def test_precision_names_are_shared():
    assert PRECISIONS == ("auto", "fp32", "bf16")
    assert TrainConfig(precision="bf16").precision == "bf16"
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, got 'half'"):
        TrainConfig(precision="half")
    assert training_precision("fp32", torch.device("cpu")) == "fp32"
    assert training_precision("auto", torch.device("cpu")) == ("bf16" if device_mod.bf16_supported("cpu") else "fp32")
    assert not device_mod.bf16_supported("meta")


def test_threads():
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        assert physical_cores() >= 1
        with pytest.raises(ValueError):
            set_threads(0)
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, movies_csv, tiny_qwen):
    out = tmp_path_factory.mktemp("speed") / "run"
    config = TrainConfig(data=str(movies_csv), backbone=str(tiny_qwen), epochs=1, batch_size=16, eval_batch_size=32)
    train(config, out)
    return out


def test_bf16_prediction_of_a_real_model_is_close_to_fp32(tiny_run):
    run = load_run(tiny_run, device="cpu")
    texts = ["A haunted house and a ghost.", "Cowboy outlaw in the desert.", ""] * 3
    exact = run.predict_proba(texts)
    fast = run.predict_proba(texts, precision="bf16")
    assert run.predictor("bf16").choice.precision == "bf16"
    assert fast.shape == exact.shape and np.abs(fast - exact).max() < 0.05


def test_tag_cli_precision_and_threads(tiny_run, movies_csv, tmp_path):
    out = tmp_path / "t.csv"
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(out),
                                 "--precision", "bf16", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "precision: bf16 (requested)" in result.output
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(out), "--force",
                                 "--precision", "half"])
    assert result.exit_code == 2 and "--precision must be one of" in result.output


def test_training_in_bf16_and_with_gradient_checkpointing(tmp_path, movies_csv, tiny_qwen):
    base = dict(data=str(movies_csv), backbone=str(tiny_qwen), epochs=1, batch_size=16, eval_batch_size=32,
                precision="fp32")
    plain = train(TrainConfig(**base), tmp_path / "plain")
    # Recomputing activations replays the same dropout masks (torch saves the RNG state),
    # so the weights come out the same, only the memory profile differs.
    ckpt = train(TrainConfig(**base, gradient_checkpointing=True), tmp_path / "ckpt")
    assert json.loads((ckpt.path / "config.json").read_text())["gradient_checkpointing"] is True
    a, b = load_run(plain.path, device="cpu"), load_run(ckpt.path, device="cpu")
    for (name, p), (_, q) in zip(a.model.named_parameters(), b.model.named_parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0, msg=name)
    fast = train(TrainConfig(**{**base, "precision": "bf16"}), tmp_path / "bf16")
    assert np.isfinite(fast.history[0]["train_loss"]) and 0 <= fast.metrics["micro_f1"] <= 1


def _script(name: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow  # a subprocess of its own (about 10 s); CI runs it
def test_gpu_script_fails_clearly_without_cuda_and_runs_tiny_on_cpu(tmp_path):
    if not torch.cuda.is_available():
        proc = _script("gpu_qwen3.py")
        assert proc.returncode == 2 and "no CUDA device" in proc.stderr
    proc = _script("gpu_qwen3.py", "--dry-run", "--out", str(tmp_path / "gpu"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "gpu.json").read_text())
    assert result["attn_implementation"] == "sdpa" and result["tiny"]
    assert result["train"]["eager"]["tokens_per_s"] > 0 and result["tag"]["bf16/64"]["rows_per_s"] > 0
    assert "| LoRA train, bf16, eager |" in (tmp_path / "gpu.md").read_text()


def test_gpu_script_knows_the_cards_and_the_flops():
    sys.path.insert(0, str(BENCH))
    try:
        import gpu_qwen3
    finally:
        sys.path.pop(0)
    assert gpu_qwen3.peak_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert gpu_qwen3.peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert gpu_qwen3.peak_tflops("NVIDIA H200") == 989.4
    assert gpu_qwen3.peak_tflops("Some Card") is None
    # The full architecture on the meta device: no memory, exact parameter counts.
    model, config = gpu_qwen3.build(gpu_qwen3.QWEN3_0_6B, torch.device("meta"))
    flops = gpu_qwen3.flops_per_token(model, config, 128)
    assert 590e6 < flops["n_total"] < 600e6  # "596 M parameters" + LoRA + head
    assert flops["n_frozen_matmul"] == 28 * (1024 * 2048 * 2 + 1024 * 1024 * 2 + 3 * 1024 * 3072)
    assert flops["per_token"] == 4 * flops["n_frozen_matmul"] + 6 * flops["n_trainable"] + 12 * 28 * 128 * 16 * 128


def test_speed_table_and_million_generator(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        import speed
        import tag_million
    finally:
        sys.path.pop(0)
    results = {"train plain (x)": {"rows_per_s": 10.0, "val_micro_f1": 0.5, "peak_rss_mb": 1000, "best_epoch": 2,
                                   "train_seconds": 100},
               "train genretag (auto = bf16)": {"rows_per_s": 40.0, "val_micro_f1": 0.505, "peak_rss_mb": 900,
                                                "best_epoch": 3, "train_seconds": 25},
               "tag plain (y)": {"rows_per_s": 30.0, "peak_rss_mb": 700},
               "tag genretag (auto)": {"rows_per_s": 120.0, "peak_rss_mb": 650, "parity": "parity on 256 rows"}}
    text = speed.table(results)
    assert "| 4.00 |" in text and "+0.0050" in text and "parity on 256 rows" in text
    path = tag_million.write_csv(tmp_path / "m.csv", 1200)
    assert tag_million.count_rows(path) == 1200
    from genretag.data import read_csv

    frame = read_csv(path)
    assert list(frame.columns) == ["title", "year", "overview"] and (frame["overview"] == "").sum() == 2


def test_default_batch_size_fills_a_gpu_and_keeps_the_run_s_own_on_a_cpu():
    from genretag.device import GPU_TOKENS_PER_BATCH, default_batch_size

    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    assert default_batch_size(64, 128, cpu) == 64
    assert default_batch_size(64, 128, gpu) == GPU_TOKENS_PER_BATCH // 128 == 256
    assert default_batch_size(64, 512, gpu) == 64  # long rows: no more rows than the run's own
    assert default_batch_size(1000, 128, gpu) == 1000  # never fewer than the run asks for


def test_the_cli_starts_without_torch():
    """`genretag --help` and option parsing load no torch (it takes seconds to import)."""
    code = "import sys, genretag.cli, genretag.config; sys.exit('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr or "torch was imported"


def test_onednn_cache_is_capped_unless_the_environment_says_otherwise():
    code = "import os, genretag; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "32"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**env, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "7"})
    assert out.stdout.strip() == "7"
