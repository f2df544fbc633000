"""Distillation (soft targets from a teacher), test rows taken from another split, tune's variant axes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from genretag import distill, runs
from genretag.config import TrainConfig
from genretag.errors import DataError, ModelError
from genretag.holdout import held_out_rows
from genretag.losses import MultiLabelLoss
from genretag.training import prepare, train
from genretag.tuning import parse_grid
from tiny_backbones import save_tiny


def _config(csv, backbone, **kw) -> TrainConfig:
    values = {"epochs": 1, "batch_size": 16, "eval_batch_size": 32, "backbone": str(backbone), **kw}
    return TrainConfig(data=str(csv), **values)


@pytest.fixture(scope="module")
def teacher_run(movies_csv, tiny_bert, tmp_path_factory):
    """A protocol-like run (70/15/15) to take test rows and probabilities from."""
    out = tmp_path_factory.mktemp("teacher") / "teacher"
    train(_config(movies_csv, tiny_bert), out)
    return out


def test_soft_targets_mix_labels_and_teacher_and_keep_labels_where_unknown():
    labels = np.array([[1, 0], [0, 1]], dtype=np.float32)
    teacher = np.array([[0.6, 0.2], [np.nan, np.nan]], dtype=np.float32)
    np.testing.assert_allclose(distill.soft_targets(labels, teacher, 0.25), [[0.7, 0.15], [0, 1]], atol=1e-6)
    np.testing.assert_array_equal(distill.soft_targets(labels, teacher, 1.0), labels)
    with pytest.raises(ValueError):
        distill.soft_targets(labels, teacher, 1.5)


def test_test_rows_of_another_run_stay_out_of_train_and_validation(movies_csv, tiny_bert, teacher_run, tmp_path):
    saved = json.loads((teacher_run / runs.SPLIT_FILE).read_text())
    test = held_out_rows(teacher_run, movies_csv)
    assert test == sorted(saved["test"]) and len(test) == 18
    out = tmp_path / "all-rows"
    train(_config(movies_csv, tiny_bert, test_rows=test, split=(0.9, 0.1, 0.0)), out)
    split = json.loads((out / runs.SPLIT_FILE).read_text())
    assert split["test"] == test
    assert not (set(split["train"]) | set(split["validation"])) & set(test)
    assert len(split["train"]) + len(split["validation"]) == 120 - 18 and len(split["validation"]) == 10
    # The data is named by file name and fingerprint, not by a path of this machine.
    assert split["data"] == "movies.csv" and len(split["fingerprint"]) == 64
    assert "/" not in split["data"] and "\\" not in split["data"]


def test_test_from_refuses_a_split_of_another_file(movies_csv, teacher_run, tmp_path):
    other = tmp_path / "other.csv"
    other.write_bytes(movies_csv.read_bytes() + b"Movie x,Ghost blood scream.,Horror\n")
    with pytest.raises(DataError, match="another data file"):
        held_out_rows(teacher_run, other)
    with pytest.raises(DataError, match="not found"):
        held_out_rows(tmp_path / "nothing", movies_csv)


def test_teacher_probabilities_reach_the_loss(movies_csv, tiny_bert, teacher_run, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    config = _config(movies_csv, tiny_bert, teacher=str(teacher_run), distill_alpha=0.5, seed=7)
    prep = prepare(config, teacher_cache=cache)
    train_rows = prep.split["train"]
    assert not np.isnan(prep.teacher[train_rows]).any()  # the teacher reads every training row
    assert np.isnan(prep.teacher[prep.split["validation"]]).all()  # validation keeps the true labels only
    expected = distill.soft_targets(prep.targets[train_rows], prep.teacher[train_rows], 0.5)
    assert 0 < expected.min() and expected.max() < 1 and not np.isin(expected, [0, 1]).all()

    seen = []
    forward = MultiLabelLoss.forward

    def spy(self, logits, targets):
        seen.append(targets.detach().cpu().numpy().copy())
        return forward(self, logits, targets)

    monkeypatch.setattr(MultiLabelLoss, "forward", spy)
    out = tmp_path / "student"
    train(config, out, prepared=prep)
    got = np.concatenate(seen)
    assert got.shape == expected.shape
    # Batches come in a shuffled order: compare the rows as sets (rounded).
    assert sorted(map(tuple, got.round(5))) == sorted(map(tuple, expected.round(5)))
    meta = json.loads((out / runs.META_FILE).read_text())
    assert meta["teacher"] == "teacher" and meta["teacher_fingerprint"] == distill.run_fingerprint(teacher_run)


def test_teacher_probabilities_are_cached(movies_csv, tiny_bert, teacher_run, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    config = _config(movies_csv, tiny_bert, teacher=str(teacher_run))
    first = prepare(config, teacher_cache=cache)
    assert first.teacher_info["teacher_rows_computed"] == len(first.split["train"])
    assert len(list(cache.glob("*.safetensors"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("the teacher ran again")

    monkeypatch.setattr(distill, "_predict_rows", fail)
    second = prepare(config, teacher_cache=cache)
    assert second.teacher_info["teacher_rows_computed"] == 0
    np.testing.assert_array_equal(first.teacher, second.teacher)
    # The same as running the teacher on those rows now.
    run = runs.load_run(teacher_run)
    rows = first.split["train"][:5]
    direct = run.predict_proba([first.data.texts[i] for i in rows])
    np.testing.assert_allclose(first.teacher[rows], direct, atol=1e-5)


def test_alpha_one_trains_on_the_labels_alone(movies_csv, tiny_bert, teacher_run, tmp_path):
    torch.manual_seed(0)
    config = _config(movies_csv, tiny_bert, teacher=str(teacher_run), distill_alpha=1.0)
    prep = prepare(config, teacher_cache=tmp_path / "cache")
    y = prep.targets[prep.split["train"]]
    np.testing.assert_array_equal(distill.soft_targets(y, prep.teacher[prep.split["train"]], 1.0), y)


def test_tune_grid_varies_further_axes_with_readable_trial_ids():
    grid = parse_grid(["2e-3"], ["16"], ["6"], variants={"distill_alpha": ["0.5,1"], "text_cols": ["overview", "title,overview"],
                                                          "lora_r": ["16"]})
    ids = [t.id for t in grid.trials()]
    assert ids == ["lr2e-3_b16_e6_in-overview_a0.5", "lr2e-3_b16_e6_in-overview_a1",
                   "lr2e-3_b16_e6_in-title+overview_a0.5", "lr2e-3_b16_e6_in-title+overview_a1"]
    assert grid.trials()[2].changes == {"lr": 2e-3, "batch_size": 16, "epochs": 6, "text_cols": ["title", "overview"],
                                        "distill_alpha": 0.5}
    assert grid.to_dict()["distill_alpha"] == [0.5, 1.0] and "lora_r" not in grid.to_dict()
    with pytest.raises(ValueError, match="loss must be one of"):
        parse_grid(["2e-3"], ["16"], ["6"], variants={"loss": ["nope"]})


def test_distill_command_trains_a_student_of_the_teacher(movies_csv, tiny_bert, teacher_run, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from genretag.cli import app

    monkeypatch.chdir(tmp_path)  # the teacher cache goes to ./runs/teacher-cache
    out = tmp_path / "student"
    result = CliRunner().invoke(app, ["distill", str(teacher_run), "--data", str(movies_csv), "--backbone", str(tiny_bert),
                                      "--epochs", "1", "--distill-alpha", "0.3", "--test-from", str(teacher_run),
                                      "--split", "0.9,0.1,0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / runs.CONFIG_FILE).read_text())
    assert config["teacher"] == str(teacher_run) and config["distill_alpha"] == 0.3
    assert config["test_rows"] == sorted(json.loads((teacher_run / runs.SPLIT_FILE).read_text())["test"])
    assert len(list((tmp_path / "runs" / "teacher-cache").glob("*.safetensors"))) == 1
    missing = CliRunner().invoke(app, ["distill", str(tmp_path / "nope"), "--data", str(movies_csv),
                                       "--backbone", str(tiny_bert), "--out", str(tmp_path / "x")])
    assert missing.exit_code != 0 and "teacher" in missing.output and "Traceback" not in missing.output


def test_a_teacher_whose_backbone_folder_moved_uses_the_student_s_backbone(movies_csv, tiny_bert, tmp_path, caplog):
    """distill's --backbone is the student's, and the teacher had no way to its moved folder."""
    backbone = tmp_path / "bb"
    shutil.copytree(tiny_bert, backbone)
    teacher = tmp_path / "teacher"
    train(_config(movies_csv, backbone), teacher)
    moved = backbone.rename(tmp_path / "bb-new")
    student = train(_config(movies_csv, moved, teacher=str(teacher)), tmp_path / "student")
    assert student.metrics["micro_f1"] > 0
    assert f"its backbone folder {backbone} is gone; trying the student's --backbone {moved}" in caplog.text
    other = save_tiny("bert", tmp_path / "other", seed=3)  # another student backbone: the teacher's weights are checked
    with pytest.raises(ModelError, match="other weights|different backbone") as refused:
        prepare(_config(movies_csv, other, teacher=str(teacher)), teacher_cache=tmp_path / "cache")
    # distill has no --force-backbone: the advice is its own
    assert f"its backbone folder {backbone} is gone, and the student's --backbone {other}" in str(refused.value)
    assert "--force-backbone" not in str(refused.value) and f"put the teacher's backbone back at {backbone}" in str(
        refused.value)


@pytest.mark.parametrize("option", [["--seed", "-1"], ["--distill-alpha", "2"], ["--epochs", "0"]])
def test_distill_refuses_a_bad_option_in_one_line(movies_csv, tiny_bert, teacher_run, tmp_path, option):
    """distill (an argument and a context) crashed with a traceback: Typer's click has no human_readable_name."""
    from typer.testing import CliRunner

    from genretag.cli import app

    result = CliRunner().invoke(app, ["distill", str(teacher_run), "--data", str(movies_csv), "--backbone",
                                      str(tiny_bert), "--out", str(tmp_path / "s"), *option])
    assert result.exit_code == 2 and f"error: {option[0]} must be" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "s").exists()
