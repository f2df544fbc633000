"""`genretag tune`: grid parsing, epoch reuse, leaderboard, choice by validation, resume."""

from __future__ import annotations

import csv
import dataclasses
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from genretag import runs, training, tuning
from genretag.checkpoints import marker
from genretag.outputs import partial_path
from genretag.cli import app
from genretag.config import TrainConfig
from genretag.errors import ConfigError
from genretag.tuning import Grid, Trial, grid_cost, make_plan, parse_grid

runner = CliRunner()
#: Constant schedule without warm-up: shorter trials are read from longer ones.
REUSE = ["--schedule", "constant", "--warmup-ratio", "0"]
TIMING = {"train_seconds", "epoch_seconds", "train_rows_per_second"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train ~10x faster on one thread when the CPUs are shared (no oversubscription)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tune_args(csv_path, backbone, out, *extra) -> list[str]:
    return ["tune", "--data", str(csv_path), "--backbone", str(backbone), "--out", str(out), "--device", "cpu", *extra]


def _leaderboard(out: Path) -> list[dict]:
    with open(out / tuning.LEADERBOARD_CSV, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- grid


def test_grid_takes_comma_lists_and_repeated_options():
    grid = parse_grid(["1e-4,5e-4", "1e-5", "5e-4"], ["8", "16, 8"], None)
    assert grid.lr == [1e-4, 5e-4, 1e-5] and grid.batch_size == [8, 16] and grid.epochs == [4, 8]
    assert parse_grid() == Grid(lr=[1e-4, 5e-4, 1e-5], batch_size=[8, 12, 16], epochs=[4, 8])  # the report's grid
    assert [t.id for t in parse_grid(["2.5e-4"], ["12"], ["8,4"]).trials()] == ["lr2.5e-4_b12_e4", "lr2.5e-4_b12_e8"]
    assert Trial(0.001, 16, 1).id == "lr1e-3_b16_e1"
    with pytest.raises(ConfigError, match=r"0.5 and 0.5000001 are one value in trial names \(0.5\)"):
        Grid(lr=[1e-4], variants={"distill_alpha": [0.5, 0.5000001]})


@pytest.mark.parametrize("args, message", [
    (["--lr", "1e-4,abc"], "--lr value 'abc' is not a number"),
    (["--lr", "1e-4,,5e-4"], "--lr has an empty value"),
    (["--lr", "-1e-4"], "--lr values must be positive"),
    (["--batch", "8.5"], "--batch value '8.5' is not a whole number"),
    (["--batch-size", "0"], "--batch values must be at least 1"),
    (["--epochs", "four"], "--epochs value 'four' is not a number"),
    (["--metric", "accuracy"], "--metric must be one of micro_precision, "),
    (["--schedule", "step"], "--schedule must be one of linear, cosine, constant, got 'step'"),
    (["--loss", "bce,nope"], "--loss must be one of bce, "),
    (["--sample", "5"], "--sample must be at least 10 rows, got 5"),
    # two trials would get one folder name: the second stopped with "already exists" after the first trained
    (["--lr", "1e-4,1.0000001e-4"], "--lr 0.0001 and 0.00010000001 are one value in trial names (1e-4)"),
])
def test_bad_values_are_one_line_errors(args, message, movies_csv, tmp_path):
    result = runner.invoke(app, _tune_args(movies_csv, "unused", tmp_path / "grid", *args))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output
    assert not (tmp_path / "grid").exists()  # nothing written before the grid is valid


def test_reuse_plan_and_its_savings_on_the_report_grid():
    assert grid_cost(Grid(), reuse=True) == {"trials": 18, "trainings": 9, "epochs_naive": 108, "epochs": 72}
    assert grid_cost(Grid(), reuse=False) == {"trials": 18, "trainings": 18, "epochs_naive": 108, "epochs": 108}
    grid = Grid(lr=[1e-4], batch_size=[8], epochs=[4, 8, 2])
    plan = make_plan(grid, finished=set(), reuse=True)
    runs_ = [(r.trial.id, [s.id for s in r.snapshots]) for r in plan.runs]
    assert runs_ == [("lr1e-4_b8_e8", ["lr1e-4_b8_e2", "lr1e-4_b8_e4"])]
    # A finished longer trial cannot give a shorter one that is still missing: that one trains alone.
    plan = make_plan(grid, finished={"lr1e-4_b8_e8"}, reuse=True)
    assert [(r.trial.id, [s.id for s in r.snapshots]) for r in plan.runs] == [("lr1e-4_b8_e4", ["lr1e-4_b8_e2"])]
    assert (plan.epochs_to_train, plan.epochs_naive) == (4, 6)
    plan.epochs_done = {"lr1e-4_b8_e4": 3}  # an interrupted trial trains only the epochs it has left
    assert (plan.epochs_to_train, plan.epochs_naive) == (1, 6)
    assert training.epochs_reusable(TrainConfig(schedule="constant", warmup_ratio=0.0))
    assert not training.epochs_reusable(TrainConfig(schedule="constant", warmup_ratio=0.06))
    assert not training.epochs_reusable(TrainConfig(schedule="linear", warmup_ratio=0.0))


def test_tune_and_distill_share_trains_options_and_every_setting_reaches_the_config():
    """One table of options (genretag.cli.options): a setting it left out of the config would be silently dropped."""
    from genretag.cli import distill as distill_cmd
    from genretag.cli import options as options_mod
    from genretag.cli import train as train_cmd
    from genretag.cli import tune as tune_cmd

    def names(command) -> list[str]:
        return [name for name in inspect.signature(command).parameters if name != "ctx"]

    train_options = names(train_cmd.train_cli)
    assert names(tune_cmd.tune_cli) == [n for n in train_options if n != "resume"] + ["metric", "dry_run"]
    assert names(distill_cmd.distill_cli) == ["teacher_run"] + [n for n in train_options if n != "teacher"]
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert fields - set(train_options) == {"head_dropout", "bucket", "eval_batch_size"}  # --config file only

    class Recorder(dict):
        read: set = set()

        def __getitem__(self, key):
            self.read.add(key)
            return super().__getitem__(key)

        def get(self, key, default=None):
            self.read.add(key)
            return super().get(key, default)

    values = {name: p.default for name, p in inspect.signature(train_cmd.train_cli).parameters.items()}
    recorder = Recorder({**values, "data": Path("x.csv")})
    config = options_mod.config_from_options(recorder)
    assert fields & set(train_options) <= recorder.read
    assert config.data == "x.csv" and config.split == (0.7, 0.15, 0.15) and config.batch_size == 16


# --------------------------------------------------------------------------- epoch reuse


def test_snapshot_is_exactly_the_shorter_training(movies_csv, tiny_qwen, tmp_path):
    config = TrainConfig(data=str(movies_csv), backbone=str(tiny_qwen), epochs=2, batch_size=16, eval_batch_size=32,
                         lr=2e-3, schedule="constant", warmup_ratio=0.0)
    prep = training.prepare(config)
    training.train(config, tmp_path / "e2", prepared=prep, device="cpu", snapshots={1: tmp_path / "e1-snapshot"})
    one = TrainConfig(**{**config.to_dict(), "epochs": 1})
    training.train(one, tmp_path / "e1", prepared=prep, device="cpu")

    snap, alone = tmp_path / "e1-snapshot", tmp_path / "e1"
    for name in (runs.HEAD_FILE, f"{runs.ADAPTER_DIR}/adapter_model.safetensors"):
        a, b = load_file(snap / name), load_file(alone / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    for name in (runs.THRESHOLDS_FILE, runs.METRICS_FILE, runs.CONFIG_FILE, runs.LABELS_FILE, runs.SPLIT_FILE):
        assert json.loads((snap / name).read_text()) == json.loads((alone / name).read_text()), name
    strip = lambda path: [{k: v for k, v in json.loads(line).items() if k not in TIMING}  # noqa: E731
                          for line in (path / runs.HISTORY_FILE).read_text().splitlines()]
    assert strip(snap) == strip(alone)
    snap_meta, alone_meta = (json.loads((path / runs.META_FILE).read_text()) for path in (snap, alone))
    assert snap_meta["snapshot_of"] == "e2" and set(snap_meta) == set(alone_meta) | {"snapshot_of"}
    assert not list(tmp_path.glob(".*partial*"))
    # The longer run went on as if nothing had been written in between.
    assert json.loads((tmp_path / "e2" / runs.CONFIG_FILE).read_text())["epochs"] == 2
    with pytest.raises(ValueError, match="constant"):
        training.train(TrainConfig(**{**config.to_dict(), "schedule": "linear"}), tmp_path / "x", prepared=prep,
                       snapshots={1: tmp_path / "y"})


# --------------------------------------------------------------------------- a whole grid


@pytest.fixture(scope="module")
def tuned(movies_csv, tiny_qwen, tmp_path_factory):
    """A 2 × 1 × 2 grid with epoch reuse, run once through the CLI; records what was predicted on."""
    out = tmp_path_factory.mktemp("tune") / "grid"
    seen: list[list[list[int]]] = []
    real = training.predict_logits

    def spy(model, encoded, *args, **kwargs):
        seen.append([list(r) for r in encoded])
        return real(model, encoded, *args, **kwargs)

    args = _tune_args(movies_csv, tiny_qwen, out, "--lr", "3e-3,1e-3", "--batch", "16", "--epochs", "1,2",
                      "--seed", "7", *REUSE)
    mp = pytest.MonkeyPatch()
    mp.setattr(training, "predict_logits", spy)
    try:
        started = time.perf_counter()
        result = runner.invoke(app, args)
        seconds = time.perf_counter() - started
    finally:
        mp.undo()
    assert result.exit_code == 0, result.output
    return {"out": out, "args": args, "output": result.output, "seen": seen, "seconds": seconds}


def test_tune_writes_leaderboard_trials_best_and_summary(tuned):
    out = tuned["out"]
    rows = _leaderboard(out)
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert {r["trial"] for r in rows} == {"lr3e-3_b16_e1", "lr3e-3_b16_e2", "lr1e-3_b16_e1", "lr1e-3_b16_e2"}
    by_id = {r["trial"]: r for r in rows}
    # Two trainings: each 1-epoch trial was read from its 2-epoch sibling.
    assert by_id["lr3e-3_b16_e1"]["status"] == "reused" and by_id["lr3e-3_b16_e1"]["reused_from"] == "lr3e-3_b16_e2"
    assert by_id["lr1e-3_b16_e2"]["status"] == "trained" and by_id["lr1e-3_b16_e2"]["reused_from"] == ""
    for trial_id in by_id:
        assert runs.check_run_dir(out / tuning.TRIALS_DIR / trial_id)
    board = json.loads((out / tuning.LEADERBOARD_JSON).read_text())
    assert board["metric"] == "micro_f1" and board["split"] == "validation" and board["best"] == rows[0]["trial"]
    assert board["this_run"] == {"trainings": 2, "epochs_trained": 4, "epochs_naive": 6,
                                 "seconds": board["this_run"]["seconds"]}
    manifest = json.loads((out / tuning.GRID_FILE).read_text())
    assert manifest["grid"] == {"lr": [3e-3, 1e-3], "batch_size": [16], "epochs": [1, 2]}
    assert manifest["base_config"]["seed"] == 7 and manifest["data_fingerprint"]
    html = (out / tuning.SUMMARY_FILE).read_text()
    assert html.count("<svg") == 2 and all(trial_id in html for trial_id in by_id) and "<script" not in html
    assert "best:" in tuned["output"] and "leaderboard" in tuned["output"]
    assert not list(out.rglob(".*.partial")) and not (out / tuning.LOCK_FILE).exists()


def test_winner_is_chosen_on_validation_only(tuned, movies_csv, tiny_qwen):
    out = tuned["out"]
    # The winner is the arg-max of the validation score that each trial saved itself.
    saved = {p.name: json.loads((p / runs.METRICS_FILE).read_text()) for p in (out / tuning.TRIALS_DIR).iterdir()}
    assert all(m["split"] == "validation" for m in saved.values())
    best = json.loads((out / tuning.LEADERBOARD_JSON).read_text())["best"]
    assert saved[best]["micro_f1"] == max(m["micro_f1"] for m in saved.values())
    # Every prediction made while tuning was on exactly the validation rows, never the test rows.
    from genretag.batching import encode
    from genretag.modeling import load_tokenizer, resolve_backbone

    config = TrainConfig(data=str(movies_csv), backbone=str(tiny_qwen), seed=7)
    prep = training.prepare(config)
    tokenizer = load_tokenizer(resolve_backbone(str(tiny_qwen)))
    rows = lambda part: sorted(encode(tokenizer, [prep.data.texts[i] for i in prep.split[part]], 128))  # noqa: E731
    assert rows("validation") != rows("test")
    assert tuned["seen"] and all(sorted(batch) == rows("validation") for batch in tuned["seen"])
    # best/ is a run that evaluate and tag load, identical to the winning trial.
    run = runs.load_run(out / tuning.BEST_DIR, device="cpu")
    assert run.meta["name"] == best
    assert load_file(out / tuning.BEST_DIR / runs.HEAD_FILE)["weight"].equal(
        load_file(out / tuning.TRIALS_DIR / best / runs.HEAD_FILE)["weight"])
    # Its split.json finds the data from best/ (it named it relative to the trial's folder, one deeper).
    assert runs.locate_data(out / tuning.BEST_DIR, run.split()).resolve() == movies_csv.resolve()


def test_rerun_skips_finished_trials_and_extends_the_grid(tuned, tmp_path, monkeypatch):
    out = tmp_path / "grid"
    shutil.copytree(tuned["out"], out)
    args = [str(out) if a == str(tuned["out"]) else a for a in tuned["args"]]
    calls = []
    real_train = training.train
    def spy(config, path, **kw):
        calls.append(Path(path).name)
        return real_train(config, path, **kw)

    monkeypatch.setattr(training, "train", spy)

    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert calls == [] and "skipping lr3e-3_b16_e2: finished in an earlier run" in result.output
    assert {r["status"] for r in _leaderboard(out)} == {"kept"}

    result = runner.invoke(app, [*args, "--batch", "8"])  # repeated: the grid is now batch 16, 8
    assert result.exit_code == 0, result.output
    assert calls == ["lr3e-3_b8_e2", "lr1e-3_b8_e2"] and "the grid changed" in result.output
    rows = _leaderboard(out)
    assert len(rows) == 8 and {r["status"] for r in rows} == {"kept", "trained", "reused"}


def test_changed_data_or_options_are_refused(tuned, movies_csv, tmp_path):
    out = tmp_path / "grid"
    shutil.copytree(tuned["out"], out)
    args = [str(out) if a == str(tuned["out"]) else a for a in tuned["args"]]

    result = runner.invoke(app, [*args, "--loss", "focal"])
    assert result.exit_code == 4 and "loss: 'bce' → 'focal'" in result.output and "--force" in result.output
    assert len(result.output.strip().splitlines()) == 1

    changed = tmp_path / "movies.csv"
    changed.write_text(Path(movies_csv).read_text() + "Extra,An extra film.,Drama\n")
    args = [str(changed) if a == str(movies_csv) else a for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 4 and "the data changed" in result.output and "--out" in result.output


def test_a_grid_that_failed_before_any_trial_reruns_with_corrected_options(movies_csv, tiny_qwen, tmp_path):
    args = _tune_args(movies_csv, tiny_qwen, tmp_path / "grid", "--lr", "1e-3", "--batch", "16", "--epochs", "1")
    result = runner.invoke(app, [*args, "--text-col", "plot"])
    assert result.exit_code == 2 and "plot" in result.output
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in _leaderboard(tmp_path / "grid")] == ["trained"]


# --------------------------------------------------------------------------- resume after a kill


@pytest.mark.slow  # a subprocess of its own (about 10 s); CI runs it
def test_resume_after_the_process_is_killed(movies_csv, tiny_qwen, tmp_path):
    out = tmp_path / "grid"
    args = _tune_args(movies_csv, tiny_qwen, out, "--lr", "3e-3", "--batch", "16", "--epochs", "1,12")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TERM": "dumb", "OMP_NUM_THREADS": "1"}
    first, second = out / "trials" / "lr3e-3_b16_e1", out / "trials" / "lr3e-3_b16_e12"
    checkpoint = marker(partial_path(second))
    with open(tmp_path / "log.txt", "w") as log:
        command = [sys.executable, "-m", "genretag", *args]
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 120
            # Kill once the first trial is finished and the second has an epoch checkpoint.
            while not (tuning.is_finished(first) and checkpoint.is_file()):
                assert proc.poll() is None, (tmp_path / "log.txt").read_text()
                assert time.monotonic() < deadline, "the trials did not get far enough in time"
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not tuning.is_finished(second)
    stamp = (first / runs.META_FILE).stat().st_mtime_ns
    checkpoint_text = checkpoint.read_text()

    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "skipping lr3e-3_b16_e1: finished in an earlier run" in result.output
    done = int(re.search(r"lr3e-3_b16_e12 was interrupted; continuing it after epoch (\d+)", result.output)[1])
    assert done == json.loads(checkpoint_text)["epoch"] and 1 <= done < 12
    assert f"1 trainings, {12 - done} epochs to train" in result.output
    assert (first / runs.META_FILE).stat().st_mtime_ns == stamp
    history = (second / runs.HISTORY_FILE).read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in history] == list(range(1, 13))
    assert tuning.is_finished(second) and runs.check_run_dir(out / tuning.BEST_DIR)
    statuses = {r["trial"]: r["status"] for r in _leaderboard(out)}
    assert statuses == {"lr3e-3_b16_e1": "kept", "lr3e-3_b16_e12": "trained"}
    assert not list(out.rglob(".*.partial"))
