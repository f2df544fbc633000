"""Slow but real: the offline MiniLM backbone on a few hundred rows of the shared TMDB data.

Runs in CI (about a minute on 2 cores). It asserts that the whole path works on real
parts (files, row counts, ranges); quality is measured by benchmarks, not here.
"""

from __future__ import annotations

import csv
import json
import os

import pytest
from typer.testing import CliRunner

from conftest import real_csv_or_skip
from genretag.cli import app


@pytest.mark.slow
def test_minilm_trains_one_epoch_and_tags_real_rows(tmp_path):
    import torch

    data = real_csv_or_skip()
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)  # a real model, unlike the tiny ones, gains from threads
    try:
        _train_and_tag(data, tmp_path)
    finally:
        torch.set_num_threads(threads)


def _train_and_tag(data, tmp_path):
    subset = tmp_path / "tmdb-400.csv"
    with open(data, newline="", encoding="utf-8") as src, open(subset, "w", newline="", encoding="utf-8") as dst:
        reader = csv.reader(src)
        writer = csv.writer(dst)
        for i, row in enumerate(reader):
            if i > 400:
                break
            writer.writerow(row)
    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(subset), "--backbone", "minilm", "--epochs", "1",
                                 "--sample", "300", "--out", str(run)])
    assert result.exit_code == 0, result.output
    labels = json.loads((run / "labels.json").read_text())
    assert "Drama" in labels and len(labels) >= 15
    history = [json.loads(x) for x in (run / "history.jsonl").read_text().splitlines()]
    assert len(history) == 1 and history[0]["train_rows_per_second"] > 0

    result = runner.invoke(app, ["tag", str(subset), "--model", str(run), "--text-col", "title,overview"])
    assert result.exit_code == 0, result.output
    with open(subset, newline="", encoding="utf-8") as fh:
        original = list(csv.DictReader(fh))
    with open(tmp_path / "tmdb-400.tagged.csv", newline="", encoding="utf-8") as fh:
        tagged = list(csv.DictReader(fh))
    assert len(tagged) == len(original) == 400
    assert all(t[k] == o[k] for t, o in zip(tagged, original) for k in o)  # original cells unchanged
    assert sum(bool(t["predicted_genres"]) for t in tagged) >= 398  # 2 rows may lack an overview
