"""tag on a CPU through ONNX Runtime: export once, check against PyTorch, later runs without torch."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import synthetic_movies
from genretag import onnx_runtime
from genretag.cli import app
from genretag.config import TrainConfig
from genretag.training import train

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", params=["tiny_bert", "tiny_qwen"])
def run_dir(request, tmp_path_factory, movies_csv) -> Path:
    """A trained run on an encoder (mean pooling) and on a decoder (last-token pooling)."""
    backbone = request.getfixturevalue(request.param)
    out = tmp_path_factory.mktemp("onnx") / "run"
    train(TrainConfig(data=str(movies_csv), backbone=str(backbone), epochs=1, batch_size=16, eval_batch_size=32), out)
    return out


@pytest.fixture
def one_run(tiny_api_run) -> Path:
    """The session's shared tiny run: tests of behaviour, not of a backbone, need only one."""
    return tiny_api_run


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GENRETAG_CACHE", str(folder))
    return folder


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _tag(csv_path: Path, run: Path, out: Path, *extra: str):
    return runner.invoke(app, ["tag", str(csv_path), "--model", str(run), "--out", str(out), *extra])


def test_onnx_and_torch_tag_the_same(run_dir, movies_csv, tmp_path, cache):
    onnx = _tag(movies_csv, run_dir, tmp_path / "onnx.csv", "--runtime", "onnx")
    assert onnx.exit_code == 0, onnx.output
    assert "runtime: ONNX Runtime (fp32)" in onnx.output
    torch_ = _tag(movies_csv, run_dir, tmp_path / "torch.csv", "--runtime", "torch", "--precision", "fp32")
    assert torch_.exit_code == 0, torch_.output
    a, b = _rows(tmp_path / "onnx.csv"), _rows(tmp_path / "torch.csv")
    assert len(a) == len(b) == 120
    assert [r["predicted_genres"] for r in a] == [r["predicted_genres"] for r in b]
    scores = [c for c in a[0] if c.startswith("score_")]
    assert scores
    diff = max(abs(float(x[c]) - float(y[c])) for x, y in zip(a, b) for c in scores)
    assert diff <= 1e-3  # written scores are rounded; the probabilities agree to 1e-4 (the export's check)
    info = json.loads(next(cache.glob(f"onnx/*/{onnx_runtime.INFO_FILE}")).read_text())
    assert info["parity"]["max_abs_dp"] <= onnx_runtime.PARITY_TOLERANCE and info["parity"]["rows"] >= 10


def test_the_second_run_starts_without_torch(run_dir, movies_csv, tmp_path, cache):
    assert _tag(movies_csv, run_dir, tmp_path / "first.csv").exit_code == 0  # auto: exports
    code = (
        "import sys\n"
        "from genretag.cli import app\n"
        f"try:\n    app([\"tag\", {str(movies_csv)!r}, \"--model\", {str(run_dir)!r}, \"--out\", {str(tmp_path / 'second.csv')!r}])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'peft', 'sklearn') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    env = dict(os.environ, GENRETAG_CACHE=str(cache), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
    assert _rows(tmp_path / "first.csv") == _rows(tmp_path / "second.csv")


def test_a_changed_run_is_exported_again(one_run, movies_csv, tmp_path, cache):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(one_run, run)
    assert _tag(movies_csv, run, tmp_path / "a.csv", "--runtime", "onnx").exit_code == 0
    first = onnx_runtime.cached_folder(run)
    assert first is not None
    thresholds = json.loads((run / "thresholds.json").read_text())
    thresholds = {k: 0.01 for k in thresholds}  # every genre now passes
    (run / "thresholds.json").write_text(json.dumps(thresholds))
    assert onnx_runtime.cached_folder(run) is None  # the key covers the run's files
    result = _tag(movies_csv, run, tmp_path / "b.csv", "--runtime", "onnx")
    assert result.exit_code == 0, result.output
    second = onnx_runtime.cached_folder(run)
    assert second is not None and second != first and not first.exists()  # the old export of this run is pruned
    labels = json.loads((run / "labels.json").read_text())
    assert all(r["predicted_genres"] == "|".join(labels) or set(r["predicted_genres"].split("|")) == set(labels)
               for r in _rows(tmp_path / "b.csv"))


def test_a_failed_parity_check_falls_back_to_torch_or_fails_strictly(one_run, movies_csv, tmp_path, cache,
                                                                      monkeypatch, caplog):
    monkeypatch.setattr(onnx_runtime, "PARITY_TOLERANCE", -1.0)  # nothing can pass
    result = _tag(movies_csv, one_run, tmp_path / "auto.csv")
    assert result.exit_code == 0, result.output
    assert "ONNX Runtime" not in result.output
    assert "tagging with PyTorch: this run cannot use ONNX Runtime (the ONNX model differs" in caplog.text
    assert len(_rows(tmp_path / "auto.csv")) == 120
    assert not list(cache.glob("onnx/*")) and not list(cache.glob("onnx/.*"))  # nothing half-written kept

    strict = _tag(movies_csv, one_run, tmp_path / "strict.csv", "--runtime", "onnx")
    assert strict.exit_code == 3
    assert "error: this run cannot use ONNX Runtime: the ONNX model differs" in strict.output
    assert "Traceback" not in strict.output and not (tmp_path / "strict.csv").exists()


def test_runtime_options_are_checked_before_loading(one_run, movies_csv, tmp_path, cache):
    bad = _tag(movies_csv, one_run, tmp_path / "x.csv", "--runtime", "tensorrt")
    assert bad.exit_code == 2 and "--runtime must be one of auto, onnx, torch, got 'tensorrt'" in bad.output
    bf16 = _tag(movies_csv, one_run, tmp_path / "y.csv", "--runtime", "onnx", "--precision", "bf16")
    assert bf16.exit_code == 2 and "--runtime onnx computes in fp32" in bf16.output
    assert not list(cache.glob("onnx/*"))


def test_batch_size_reaches_onnx_runtime(one_run, movies_csv, tmp_path, cache, monkeypatch):
    widths = []
    real = onnx_runtime.OnnxRun.logits

    def spy(self, texts, *, batch_size=None, on_batch=None):
        def count(rows):
            widths.append(rows)
            if on_batch:
                on_batch(rows)
        return real(self, texts, batch_size=batch_size, on_batch=count)

    monkeypatch.setattr(onnx_runtime.OnnxRun, "logits", spy)
    result = _tag(movies_csv, one_run, tmp_path / "a.csv", "--runtime", "onnx", "--batch-size", "7")
    assert result.exit_code == 0, result.output
    assert max(widths) == 7 and sum(widths) == 120


def test_an_unusable_backbone_lookup_keeps_the_torch_path(tmp_path, one_run, monkeypatch):
    # A run whose backbone is a hub id that is not cached here: no key, so no export attempt.
    config = json.loads((one_run / "config.json").read_text())
    run = tmp_path / "run"
    import shutil

    shutil.copytree(one_run, run)
    config["backbone"] = "nobody/not-a-cached-model"
    (run / "config.json").write_text(json.dumps(config))
    assert onnx_runtime.cache_key(run) is None
    assert onnx_runtime.cache_key(one_run) is not None


def test_probabilities_match_load_run(run_dir, cache):
    from genretag.runs import load_run

    run = load_run(run_dir)
    folder = cache / "onnx" / "manual"
    info = onnx_runtime.export(run, folder)
    assert info["max_length"] == run.config.max_length
    exported = onnx_runtime.load(run_dir, folder)
    texts = [m["overview"] for m in synthetic_movies(40, seed=5)] + ["", "a"]
    want = run.predict_proba(texts)
    got = exported.predict_proba(texts)
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-4
    assert exported.labels == run.labels and np.array_equal(exported.rule.thresholds, run.rule.thresholds)


def test_a_corrupt_export_in_the_cache_is_exported_again(one_run, movies_csv, tmp_path, cache, caplog):
    assert _tag(movies_csv, one_run, tmp_path / "a.csv", "--runtime", "onnx").exit_code == 0
    folder = onnx_runtime.cached_folder(one_run)
    (folder / onnx_runtime.MODEL_FILE).write_bytes(b"not a model")  # a disk error, a killed copy ...
    result = _tag(movies_csv, one_run, tmp_path / "b.csv", "--runtime", "onnx")
    assert result.exit_code == 0, result.output
    assert "cannot be loaded" in caplog.text and "exporting it again" in caplog.text
    assert _rows(tmp_path / "a.csv") == _rows(tmp_path / "b.csv")
    assert (folder / onnx_runtime.MODEL_FILE).stat().st_size > 1000


def test_info_says_whether_tag_starts_from_an_export(one_run, movies_csv, tmp_path, cache):
    before = json.loads(runner.invoke(app, ["info", str(one_run), "--json"]).stdout)["onnx_export"]
    assert before == {"exported": False, "folder": str(cache / "onnx" / onnx_runtime.cache_key(one_run))}
    assert _tag(movies_csv, one_run, tmp_path / "a.csv").exit_code == 0
    after = json.loads(runner.invoke(app, ["info", str(one_run), "--json"]).stdout)["onnx_export"]
    assert after["exported"] is True and after["folder"] == before["folder"]
    assert after["parity"]["max_abs_dp"] <= onnx_runtime.PARITY_TOLERANCE
    shown = runner.invoke(app, ["info", str(one_run)], terminal_width=300)
    assert "ONNX Runtime, exported to" in shown.stdout


def test_an_unwritable_cache_says_so_and_falls_back(one_run, movies_csv, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GENRETAG_CACHE", str(blocker))
    result = _tag(movies_csv, one_run, tmp_path / "auto.csv")
    assert result.exit_code == 0, result.output
    assert "tagging with PyTorch: cannot write the ONNX export cache" in caplog.text
    assert "set GENRETAG_CACHE to a writable folder" in caplog.text and "cannot use ONNX Runtime" not in caplog.text
    strict = _tag(movies_csv, one_run, tmp_path / "strict.csv", "--runtime", "onnx")
    assert strict.exit_code == 2 and "error: cannot write the ONNX export cache" in strict.output
    assert not (tmp_path / "strict.csv").exists()


def test_resume_refuses_another_runtime(one_run, movies_csv, tmp_path, cache, monkeypatch):
    """A resumed file must hold what an uninterrupted run writes: the same arithmetic for every row."""
    out = tmp_path / "o.csv"
    real = onnx_runtime.OnnxRun.logits
    calls = []

    def interrupted(self, texts, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, texts, **kw)

    monkeypatch.setattr(onnx_runtime.OnnxRun, "logits", interrupted)
    first = _tag(movies_csv, one_run, out, "--runtime", "onnx", "--chunksize", "50")
    assert first.exit_code == 130
    monkeypatch.setattr(onnx_runtime.OnnxRun, "logits", real)
    other = _tag(movies_csv, one_run, out, "--runtime", "torch", "--resume")
    assert other.exit_code != 0 and "arithmetic" in other.output
    same = _tag(movies_csv, one_run, out, "--runtime", "onnx", "--resume", "--chunksize", "50")
    assert same.exit_code == 0, same.output
    assert _tag(movies_csv, one_run, tmp_path / "whole.csv", "--runtime", "onnx").exit_code == 0
    assert out.read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_genre_tagger_uses_the_export_and_pickles(one_run, movies_csv, cache):
    import pickle

    import pandas as pd

    from genretag.tagging import GenreTagger

    batch = pd.read_csv(movies_csv).head(20)
    onnx = GenreTagger(one_run, runtime="onnx")
    torch_ = GenreTagger(one_run, runtime="torch", precision="fp32")
    assert isinstance(onnx.run, onnx_runtime.OnnxRun) and not isinstance(torch_.run, onnx_runtime.OnnxRun)
    a, b = onnx(batch), torch_(batch)
    assert a["predicted_genres"].tolist() == b["predicted_genres"].tolist()
    scores = [c for c in a.columns if c.startswith("score_")]
    assert (a[scores] - b[scores]).abs().max().max() <= 1e-3
    again = pickle.loads(pickle.dumps(onnx))  # what Ray ships to a worker: loads the export there
    assert isinstance(again.run, onnx_runtime.OnnxRun) and again(batch).equals(a)
    from genretag.errors import ConfigError

    with pytest.raises(ConfigError, match="runtime onnx computes in fp32"):
        GenreTagger(one_run, runtime="onnx", precision="bf16")
