"""Beyond one process: DDP training under torchrun (two gloo processes) and sharded tagging."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.distributed import Context, shard_batches
from genretag.tagging import find_shards, merge_shards, shard_output, shard_record

runner = CliRunner()

# One process and two compare only when they take the same optimiser steps: unbucketed
# batches (2 x 8 rows = the single process's 16 consecutive rows of the same permutation)
# and no dropout (each process would draw other masks). Then the two runs differ by float
# summation order alone. fp32, because bf16 rounding would swamp that comparison.
EQUIVALENT = 'bucket = false\nhead_dropout = 0.0\nlora_dropout = 0.0\nprecision = "fp32"\n'


@pytest.mark.parametrize("rows,batch,world", [(84, 8, 2), (85, 8, 2), (17, 8, 3), (3, 2, 4), (64, 16, 2), (5, 16, 2)])
def test_shard_batches_use_every_row_once_with_equal_steps(rows, batch, world):
    batches = [np.arange(rows)[i : i + batch] for i in range(0, rows, batch)]
    shares = [shard_batches(batches, Context(rank=r, world=world)) for r in range(world)]
    assert len({len(s) for s in shares}) == 1  # DDP: every rank takes the same number of steps
    used = np.concatenate([idx for share in shares for idx, weight in share if weight > 0])
    assert sorted(used.tolist()) == list(range(rows))
    assert all(len(idx) > 0 for share in shares for idx, _ in share)


def test_single_process_shard_is_the_batch_list():
    batches = [np.arange(3), np.arange(3, 5)]
    assert [(b.tolist(), w) for b, w in shard_batches(batches, Context())] == [([0, 1, 2], 1.0), ([3, 4], 1.0)]


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.pop("WORLD_SIZE", None)
    return env


def _weights(run: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return {**{f"head.{k}": v for k, v in load_file(str(run / "head.safetensors")).items()},
            **load_file(str(run / "adapter" / "adapter_model.safetensors"))}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, movies_csv, tiny_qwen):
    """The same training as one process (batch 16) and as two torchrun processes (8 each)."""
    root = tmp_path_factory.mktemp("ddp")
    config = root / "equivalent.toml"
    config.write_text(EQUIVALENT)
    common = ["train", "--data", str(movies_csv), "--backbone", str(tiny_qwen), "--epochs", "2", "--lr", "5e-3",
              "--config", str(config)]
    single = root / "single"
    result = runner.invoke(app, [*common, "--batch-size", "16", "--out", str(single)])
    assert result.exit_code == 0, result.output
    double = root / "double"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "genretag", "-v", *common, "--batch-size", "8", "--out", str(double)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=240, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return single, double, proc


@pytest.mark.slow
def test_torchrun_sees_every_training_row_once_per_epoch(runs):
    _, double, proc = runs
    seen: dict[int, list[int]] = {}
    ranks: dict[int, set[int]] = {}
    for epoch, rank, rows in _rows_seen(proc.stderr):
        seen.setdefault(epoch, []).extend(rows)
        ranks.setdefault(epoch, set()).add(rank)
    train_rows = json.loads((double / "split.json").read_text())["train"]
    assert sorted(seen) == [1, 2]
    for epoch, rows in seen.items():
        assert ranks[epoch] == {0, 1}
        assert sorted(rows) == sorted(train_rows)  # the union, each row exactly once


@pytest.mark.slow
def test_torchrun_result_matches_one_process(runs):
    single, double, proc = runs
    assert proc.stdout.count("saved run") == 1  # rank 0 reports, rank 1 stays quiet
    a, b = _weights(single), _weights(double)
    assert a.keys() == b.keys()
    for name in a:
        # Same steps on the same rows; only float summation order differs (see EQUIVALENT).
        np.testing.assert_allclose(a[name], b[name], atol=1e-4, rtol=0, err_msg=name)
    history = [[json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()] for run in (single, double)]
    for one, two in zip(*history):
        assert abs(one["train_loss"] - two["train_loss"]) < 1e-4
        assert abs(one["val_loss"] - two["val_loss"]) < 1e-4
    meta = json.loads((double / "meta.json").read_text())
    assert meta["best_epoch"] == json.loads((single / "meta.json").read_text())["best_epoch"]
    assert not list(double.parent.glob(".double*"))  # no partial, lock or checkpoint left behind


def _rows_seen(log: str):
    for match in re.finditer(r"rows seen: rank (\d+) of 2, epoch (\d+): ([\d,]*)", log):
        yield int(match[2]), int(match[1]), [int(x) for x in match[3].split(",") if x]


def _read(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.slow  # a subprocess of its own (about 10 s); CI runs it
def test_tag_shards_merge_to_the_single_process_output(runs, movies_csv, tmp_path):
    single, _, _ = runs
    whole = tmp_path / "whole.csv"
    out = tmp_path / "merged.csv"
    base = ["tag", str(movies_csv), "--model", str(single), "--precision", "fp32", "--chunksize", "25"]
    assert runner.invoke(app, [*base, "--out", str(whole)]).exit_code == 0
    for i in range(2):
        result = runner.invoke(app, [*base, "--out", str(out), "--shard", f"{i}/2"])
        assert result.exit_code == 0, result.output
        assert shard_output(out, (i, 2)).is_file() and shard_record(shard_output(out, (i, 2))).is_file()
    assert not out.exists()
    result = runner.invoke(app, ["merge-shards", str(out)])
    assert result.exit_code == 0, result.output
    assert "120 rows from 2 shards" in result.output
    expect, got = _read(whole), _read(out)
    assert len(got) == len(expect) == 121 and got[0] == expect[0]
    scores = [j for j, name in enumerate(expect[0]) if name.startswith("score_")]
    for row_a, row_b in zip(expect[1:], got[1:]):
        assert [v for j, v in enumerate(row_a) if j not in scores] == [v for j, v in enumerate(row_b) if j not in scores]
        # Scores are written rounded to 4 decimals; another batch composition may move a
        # value across a rounding boundary, hence one rounding step of tolerance.
        np.testing.assert_allclose([float(row_a[j]) for j in scores], [float(row_b[j]) for j in scores], atol=1.01e-4)


def test_merge_refuses_missing_or_incomplete_shards(runs, movies_csv, tmp_path):
    single, _, _ = runs
    out = tmp_path / "t.csv"
    base = ["tag", str(movies_csv), "--model", str(single), "--precision", "fp32", "--out", str(out)]
    assert runner.invoke(app, [*base, "--shard", "0/3"]).exit_code == 0
    result = runner.invoke(app, ["merge-shards", str(out)])
    assert result.exit_code == 2 and "shard(s) 1, 2 of 3" in result.output
    assert runner.invoke(app, [*base, "--shard", "1/3"]).exit_code == 0
    assert runner.invoke(app, [*base, "--shard", "2/3"]).exit_code == 0
    # A shard cut short after it finished: its rows no longer match its record.
    shard = shard_output(out, (2, 3))
    lines = shard.read_bytes().split(b"\r\n")
    shard.write_bytes(b"\r\n".join(lines[:-3] + [b""]))
    result = runner.invoke(app, ["merge-shards", str(out)])
    assert result.exit_code == 2 and "ends early" in result.output
    assert not out.exists()  # nothing half-merged
    shard_record(shard).unlink()
    result = runner.invoke(app, ["merge-shards", str(out)])
    assert result.exit_code == 2 and "did not finish" in result.output
    assert len(find_shards(out)) == 3


def test_bad_shard_option_is_one_line_error(runs, movies_csv, tmp_path):
    single, _, _ = runs
    for bad in ("2/2", "x", "1/0", "-1/2"):
        result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(single), "--shard", bad,
                                     "--out", str(tmp_path / "o.csv")])
        assert result.exit_code == 2 and "--shard must be i/n" in result.output, bad


def test_merge_checks_consistency(tmp_path):
    with pytest.raises(Exception, match="no shards"):
        merge_shards(tmp_path / "none.csv")
