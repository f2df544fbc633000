"""R-Drop (`--rdrop`): each batch read twice under two dropout masks, their divergence added to the loss."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from genretag.cli import app
from genretag.config import TrainConfig
from genretag.losses import MultiLabelLoss, rdrop_divergence
from genretag.training import train


def test_the_divergence_is_the_symmetric_bernoulli_kl_and_zero_for_equal_passes():
    a = torch.tensor([[2.0, -1.0, 0.3], [0.0, 4.0, -3.0]])
    b = torch.tensor([[1.0, -2.0, 0.3], [1.5, 3.0, -0.5]])
    p, q = torch.sigmoid(a), torch.sigmoid(b)

    def kl(x, y):
        return x * (x / y).log() + (1 - x) * ((1 - x) / (1 - y)).log()

    assert rdrop_divergence(a, b).item() == pytest.approx(((kl(p, q) + kl(q, p)) / 2).mean().item(), rel=1e-5)
    assert rdrop_divergence(a, b).item() > 0
    assert rdrop_divergence(a, a).item() == 0.0


def test_train_reads_each_batch_twice_and_adds_the_divergence(movies_csv, tiny_bert, tmp_path, monkeypatch):
    calls = []
    forward = MultiLabelLoss.forward

    def spy(self, logits, targets):
        calls.append((logits.detach().clone(), targets.shape[0]))
        return forward(self, logits, targets)

    monkeypatch.setattr(MultiLabelLoss, "forward", spy)
    config = TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=1, batch_size=16,
                         eval_batch_size=32, rdrop=1.0, head_dropout=0.5)
    result = train(config, tmp_path / "run")
    assert len(calls) % 2 == 0 and calls  # the loss of both passes, step by step
    first, second = calls[0][0], calls[1][0]
    assert first.shape == second.shape and calls[0][1] == first.shape[0]
    assert not torch.equal(first, second)  # two dropout masks over the same rows
    assert json.loads((result.path / "config.json").read_text())["rdrop"] == 1.0


def test_a_negative_rdrop_is_refused_in_one_line(movies_csv):
    result = CliRunner().invoke(app, ["train", "--data", str(movies_csv), "--rdrop", "-1"])
    assert result.exit_code == 2, result.output
    assert "rdrop" in result.output and "must be >= 0" in result.output and "Traceback" not in result.output
