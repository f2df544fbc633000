"""int8 where bf16 is not native, a start-up without peft, and runs that name their data
portably (tiny models, CPU)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import synthetic_movies
from genretag import device as device_mod
from genretag import modeling, precision, predict
from genretag.config import TrainConfig
from genretag.errors import DataError
from genretag.evaluation import load_rows
from genretag.predict import PARITY_PROBE, Predictor
from genretag.runs import load_run, locate_data
from genretag.training import train


@pytest.fixture(scope="module")
def bert_run(tmp_path_factory, movies_csv, tiny_bert):
    out = tmp_path_factory.mktemp("precision") / "run"
    train(TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=1, batch_size=16, eval_batch_size=32), out)
    return out


class FakeModel(torch.nn.Module):
    def __init__(self, labels: int = 3):
        super().__init__()
        self.head = torch.nn.Linear(4, labels)

    @property
    def num_labels(self) -> int:
        return self.head.out_features


@pytest.fixture
def fake_int8(monkeypatch):
    """No native bf16; predict_logits replaced: row i's logits are fixed, int8 adds ``noise``."""
    state = {"noise": 0.0, "calls": []}
    base = np.random.default_rng(0).normal(0, 3, size=(3000, 3)).astype(np.float32)

    def fake(model, encoded, pad_id, *, batch_size=64, device=None, on_batch=None, precision="fp32", width_step=None):
        rows = np.array([r[0] for r in encoded], dtype=int)
        state["calls"].append((precision, len(rows)))
        return base[rows] + (state["noise"] if precision == "int8" else 0.0)

    monkeypatch.setattr(predict, "predict_logits", fake)
    monkeypatch.setattr(device_mod, "bf16_supported", lambda device: False)
    monkeypatch.setattr(precision, "quantize_int8", lambda model: model)
    state["base"] = base
    return state


def test_auto_tries_int8_when_bf16_is_not_native_and_keeps_it_when_it_agrees(fake_int8):
    fake_int8["noise"] = 1e-4
    predictor = Predictor(FakeModel(), 0, precision="auto")
    assert predictor.fast == "int8" and predictor.choice is None
    out = predictor.logits([[i] for i in range(1000)])
    assert predictor.choice.precision == "int8" and predictor.choice.rows == 256
    np.testing.assert_allclose(out, fake_int8["base"][:1000] + 1e-4, atol=1e-6)
    # The probe, then the rest of the first stage; then every other row in int8 once.
    assert [c for c in fake_int8["calls"] if c[0] == "fp32"] == [("fp32", PARITY_PROBE), ("fp32", 256 - PARITY_PROBE)]
    assert sum(n for p, n in fake_int8["calls"] if p == "int8") == 1000


def test_auto_gives_up_on_int8_after_the_probe_when_its_error_is_hopeless(fake_int8, caplog):
    fake_int8["noise"] = 0.5  # probabilities move by about 0.1: ten times the tolerance
    predictor = Predictor(FakeModel(), 0, precision="auto")
    with caplog.at_level("WARNING"):
        out = predictor.logits([[i] for i in range(1000)])
    assert predictor.choice.precision == "fp32" and predictor.choice.rows == PARITY_PROBE
    assert "int8 moved probabilities by up to" in caplog.text and "--precision int8" in caplog.text
    np.testing.assert_allclose(out, fake_int8["base"][:1000])  # every row exact
    assert fake_int8["calls"] == [("fp32", PARITY_PROBE), ("int8", PARITY_PROBE), ("fp32", 1000 - PARITY_PROBE)]


def test_auto_is_fp32_without_bf16_or_int8_and_int8_is_cpu_only(monkeypatch):
    monkeypatch.setattr(device_mod, "bf16_supported", lambda device: False)
    monkeypatch.setattr(precision, "int8_supported", lambda device: False)
    assert Predictor(FakeModel(), 0, precision="auto").choice.precision == "fp32"
    assert not precision.int8_supported("meta") and precision.int8_supported("cpu") in (True, False)
    with pytest.raises(ValueError, match="CPU only"):
        Predictor(FakeModel(), 0, precision="int8", device=torch.device("meta"))


@pytest.mark.parametrize("cap, native", [(None, True), ("", True), ("AVX2", False), ("avx512_core", False),
                                         ("AVX512_CORE_BF16", True), ("AVX512_CORE_AMX", True), ("DEFAULT", True)])
def test_a_onednn_isa_cap_below_bf16_turns_bf16_off(monkeypatch, cap, native):
    if cap is None:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert precision.onednn_allows_bf16() is native
    if not native:
        assert device_mod.bf16_supported("cpu") is False


def test_int8_of_a_real_run_keeps_fp32_decisions_after_the_recheck(bert_run, monkeypatch):
    monkeypatch.setattr(device_mod, "bf16_supported", lambda device: False)
    texts = [r["overview"] for r in synthetic_movies(400, seed=7)]
    exact = load_run(bert_run, device="cpu").predict_proba(texts, precision="fp32")
    # A random tiny model's probabilities crowd around 0.5; thresholds at the 99th percentile
    # leave few rows near a boundary (recomputed in fp32), not most.
    limits = np.quantile(exact, 0.99, axis=0)
    run = load_run(bert_run, device="cpu")
    rule = run.rule.with_overrides(threshold=limits, at_least_one=False)
    probs = run.predict_proba(texts, precision="auto", rule=rule)
    choice = run.predictor("auto").choice
    assert choice.precision == "int8+fp32", choice.reason
    assert choice.reason.startswith("int8 parity on") and choice.refined < 0.5
    np.testing.assert_array_equal(rule.apply(probs), rule.apply(exact))
    assert 0 < np.abs(probs - exact).max() < 0.01  # int8 was used, and stayed within the tolerance
    # Forced int8 runs the quantised copy without a check.
    fast = run.predict_proba(texts, precision="int8")
    assert run.predictor("int8").choice.precision == "int8" and 0 < np.abs(fast - exact).max() < 0.05


def test_quantize_int8_leaves_the_model_and_the_head_alone(bert_run):
    model = load_run(bert_run, device="cpu").model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    quantized = precision.quantize_int8(model)
    assert type(quantized.head) is torch.nn.Linear  # the head stays fp32
    dynamic = [m for m in quantized.modules() if type(m).__module__.startswith("torch.ao.nn.quantized.dynamic")]
    assert len(dynamic) == sum(1 for m in model.modules() if type(m) is torch.nn.Linear) - 1
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("backbone", ["tiny_qwen", "tiny_bert", "falcon"])
def test_lora_merge_without_peft_equals_peft_s(tmp_path, movies_csv, backbone, request, monkeypatch):
    """Falcon's layers are FalconLinear, a subclass of nn.Linear: its runs were "corrupt" at tag and evaluate."""
    if backbone == "falcon":
        from tiny_backbones import save_tiny

        path = save_tiny("falcon", tmp_path / "falcon")
    else:
        path = request.getfixturevalue(backbone)
    out = tmp_path / "run"
    train(TrainConfig(data=str(movies_csv), backbone=str(path), epochs=1, batch_size=16), out)
    ours = load_run(out, device="cpu").model.state_dict()
    monkeypatch.setattr(modeling, "can_merge", lambda adapter_dir: False)  # peft's merge_and_unload
    theirs = load_run(out, device="cpu").model.state_dict()
    assert sorted(ours) == sorted(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_tag_starts_without_peft_sklearn_or_matplotlib(bert_run, movies_csv, tmp_path):
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom genretag.cli import app\n"
        f"r = CliRunner().invoke(app, ['tag', {str(movies_csv)!r}, '--model', {str(bert_run)!r}, "
        f"'--out', {str(tmp_path / 'out.csv')!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in ('peft', 'sklearn', 'matplotlib', 'ray') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "out.csv").is_file()


def test_new_runs_name_their_data_by_name_fingerprint_and_relative_path(bert_run, movies_csv):
    split = json.loads((bert_run / "split.json").read_text())
    config = json.loads((bert_run / "config.json").read_text())
    assert split["data"] == config["data"] == movies_csv.name
    assert not split["data_relative"].startswith("/") and len(split["fingerprint"]) == 64
    assert (bert_run / split["data_relative"]).resolve() == movies_csv.resolve()
    assert str(movies_csv.parent) not in (bert_run / "split.json").read_text()
    run = load_run(bert_run, device="cpu")
    rows, _ = load_rows(run)  # the run finds its data again: its test split
    assert rows.split == "test" and rows.own_data and len(rows.texts) == len(split["test"])


def test_old_runs_with_an_absolute_data_path_still_load(bert_run, movies_csv, tmp_path):
    old = tmp_path / "elsewhere" / "old-run"
    shutil.copytree(bert_run, old)
    split = json.loads((old / "split.json").read_text())
    split.pop("data_relative")
    split["data"] = str(movies_csv.resolve())  # as genretag wrote split.json before
    (old / "split.json").write_text(json.dumps(split))
    assert locate_data(old, split) == movies_csv.resolve()
    rows, _ = load_rows(load_run(old, device="cpu"))
    assert rows.split == "test" and len(rows.texts) == len(split["test"])
    # A run whose data is not where it says: the error names the file, and --data still works.
    split["data"] = movies_csv.name
    (old / "split.json").write_text(json.dumps(split))
    with pytest.raises(DataError, match=f"{movies_csv.name} is not on this machine.*--data"):
        load_rows(load_run(old, device="cpu"))
    rows, _ = load_rows(load_run(old, device="cpu"), data=movies_csv)
    assert rows.split == "test" and rows.own_data
