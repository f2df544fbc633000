"""Label smoothing (`--label-smoothing`): the labels move toward 0.5 before a teacher is mixed in."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genretag.cli import app
from genretag.config import TrainConfig
from genretag.distill import soft_targets
from genretag.losses import MultiLabelLoss, smooth_labels
from genretag.training import train


def test_smoothing_moves_ones_and_zeros_by_half_eps_and_zero_keeps_the_labels():
    labels = np.array([[1, 0, 1], [0, 0, 1]], dtype=np.float32)
    np.testing.assert_allclose(smooth_labels(labels, 0.1), [[0.95, 0.05, 0.95], [0.05, 0.05, 0.95]], rtol=1e-6)
    assert np.array_equal(smooth_labels(labels, 0.0), labels)
    teacher = np.array([[0.8, 0.2, 0.6], [np.nan, 0.4, 0.9]], dtype=np.float32)
    mixed = soft_targets(smooth_labels(labels, 0.2), teacher, 0.5)  # the teacher is not smoothed
    np.testing.assert_allclose(mixed, [[0.85, 0.15, 0.75], [0.1, 0.25, 0.9]], rtol=1e-6)
    with pytest.raises(ValueError, match=r"in \[0, 1\), got 1"):
        smooth_labels(labels, 1.0)


def test_train_learns_from_the_smoothed_labels_and_saves_the_setting(movies_csv, tiny_bert, tmp_path, monkeypatch):
    seen = []
    forward = MultiLabelLoss.forward

    def spy(self, logits, targets):
        seen.append(targets.detach().clone())
        return forward(self, logits, targets)

    monkeypatch.setattr(MultiLabelLoss, "forward", spy)
    config = TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=1, batch_size=16,
                         eval_batch_size=32, label_smoothing=0.2)
    result = train(config, tmp_path / "run")
    values = torch.unique(torch.cat(seen)).tolist()
    assert values == pytest.approx([0.1, 0.9])  # no hard 0 or 1 left
    assert json.loads((result.path / "config.json").read_text())["label_smoothing"] == 0.2


@pytest.mark.parametrize("value", ["1", "-0.1"])
def test_a_smoothing_outside_zero_to_one_is_refused_in_one_line(value, movies_csv):
    result = CliRunner().invoke(app, ["train", "--data", str(movies_csv), "--label-smoothing", value])
    assert result.exit_code == 2, result.output
    assert "label_smoothing" in result.output.replace("-", "_") and "must be in [0, 1)" in result.output
    assert "Traceback" not in result.output
