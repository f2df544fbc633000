"""Ensembles of runs: built on the shared validation split, loaded and used like any run."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from genretag import runs
from genretag.cli import app
from genretag.config import TrainConfig
from genretag.ensemble import EnsembleTagger, build_ensemble
from genretag.errors import ModelError
from genretag.training import train

runner = CliRunner()


@pytest.fixture(scope="module")
def members(tmp_path_factory, movies_csv, tiny_bert):
    root = tmp_path_factory.mktemp("ens")
    base = TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=1, batch_size=16, eval_batch_size=32)
    paths = []
    for seed in (1, 2):
        config = TrainConfig.from_dict({**base.to_dict(), "init_seed": seed})
        paths.append(train(config, root / f"m{seed}").path)
    other = train(TrainConfig.from_dict({**base.to_dict(), "seed": 5}), root / "other-split").path
    return root, paths, other


@pytest.fixture(scope="module")
def ensemble(members):
    root, paths, _ = members
    return build_ensemble(paths, root / "ens")


def test_ensemble_is_a_run_whose_probabilities_are_the_members_mean(members, ensemble):
    _, paths, _ = members
    out = ensemble.path
    assert (out / runs.ENSEMBLE_FILE).is_file() and (out / "members" / "1" / runs.ADAPTER_WEIGHTS).is_file()
    assert json.loads((out / runs.ENSEMBLE_FILE).read_text())["members"] == ["members/1", "members/2"]
    run = runs.load_run(out)
    assert isinstance(run.model, EnsembleTagger) and len(run.model.members) == 2
    assert run.split()["validation"] == runs.load_run(paths[0]).split()["validation"]
    texts = ["A cowboy rides into a dusty town.", "A ghost haunts a house at night.", "Two friends fall in love."]
    got = dataclasses.replace(run, blend=None).predict_proba(texts)
    alone = []
    for path in paths:
        member = dataclasses.replace(runs.load_run(path), blend=None)
        alone.append(member.predict_proba(texts))
    np.testing.assert_allclose(got, np.mean(alone, axis=0), atol=1e-5)
    assert not np.allclose(alone[0], alone[1])  # two init seeds: two different models


def test_ensemble_thresholds_are_tuned_on_validation_and_scores_recorded(ensemble):
    metrics = json.loads((ensemble.path / runs.METRICS_FILE).read_text())
    assert metrics["split"] == "validation" and 0 <= metrics["micro_f1"] <= 1
    assert [m["init_seed"] for m in metrics["members"]] == [1, 2]
    run = runs.load_run(ensemble.path)
    # Recompute the validation score from the saved thresholds: it is the one recorded.
    from genretag.evaluation import run_split_rows
    from genretag.metrics import summary_scores

    texts, y = run_split_rows(run, None)["validation"]
    score = summary_scores(y, run.rule.apply(run.predict_proba(texts)))["micro_f1"]
    assert score == pytest.approx(metrics["micro_f1"], abs=1e-9)


def test_tag_and_evaluate_take_an_ensemble(members, ensemble, movies_csv, tmp_path):
    out = tmp_path / "tagged.csv"
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(ensemble.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "predicted_genres" in out.read_text().splitlines()[0]
    result = runner.invoke(app, ["evaluate", "--model", str(ensemble.path), "--json", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["info", str(ensemble.path)])
    assert result.exit_code == 0 and "ensemble" in result.output


def test_ensemble_cli_and_its_refusals(members, tmp_path):
    _, paths, other = members
    out = tmp_path / "e"
    result = runner.invoke(app, ["ensemble", str(paths[0]), str(paths[1]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "saved ensemble" in result.output and "members/2" in result.output
    again = runner.invoke(app, ["ensemble", str(paths[0]), str(paths[1]), "--out", str(out)])
    assert again.exit_code == 4 and "--force" in again.output
    copy = tmp_path / "copy"  # a copied run folder: the same model, scored as "2 runs" before
    shutil.copytree(paths[0], copy)
    cases = [
        ([str(paths[0])], "at least two"),
        ([str(paths[0]), str(paths[0])], "at least two"),
        ([str(paths[0]), str(copy)], "hold the same weights (a copy of one run?)"),
        ([str(paths[0]), str(other)], "another split"),
        ([str(paths[0]), str(tmp_path / "nope")], "not found"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["ensemble", *args, "--out", str(tmp_path / "x")])
        assert result.exit_code == 3, result.output
        assert message in result.output and "Traceback" not in result.output
        assert not (tmp_path / "x").exists()


def test_members_reading_another_input_are_refused(members, tmp_path, movies_csv, tiny_bert):
    """The ensemble reads each text once, with its first member's columns and max length: a
    member trained on title + overview would be scored on the overview alone (silently)."""
    _, paths, _ = members
    base = TrainConfig.from_dict({**runs.load_run(paths[0]).config.to_dict(), "data": str(movies_csv)})
    titled = train(TrainConfig.from_dict({**base.to_dict(), "init_seed": 3, "text_cols": ["title", "overview"]}),
                   tmp_path / "titled").path
    longer = train(TrainConfig.from_dict({**base.to_dict(), "init_seed": 4, "max_length": 64}), tmp_path / "long").path
    for pair, words in (((paths[0], titled), "--text-col title,overview against overview"),
                        ((titled, paths[0]), "--text-col overview against title,overview"),
                        ((paths[0], longer), "--max-length 64 against 128")):
        with pytest.raises(ModelError, match="reads another input") as info:
            build_ensemble(list(pair), tmp_path / "x")
        assert words in str(info.value)
        assert not (tmp_path / "x").exists()
    # The same columns written otherwise are the same input: detected or named, one value or two.
    named = train(TrainConfig.from_dict({**base.to_dict(), "init_seed": 5, "text_cols": ["overview"]}),
                  tmp_path / "named").path
    one_value = train(TrainConfig.from_dict({**base.to_dict(), "init_seed": 6, "text_cols": ["title, overview"]}),
                      tmp_path / "one-value").path
    assert build_ensemble([paths[0], named], tmp_path / "e1").path.is_dir()
    assert build_ensemble([titled, one_value], tmp_path / "e2").path.is_dir()


def test_a_member_outside_the_ensemble_folder_is_refused(members, ensemble, tmp_path):
    import shutil

    copy = tmp_path / "evil"
    shutil.copytree(ensemble.path, copy)
    (copy / runs.ENSEMBLE_FILE).write_text(json.dumps({"format": 1, "members": ["members/1", "../../m1"]}))
    with pytest.raises(ModelError, match="outside the ensemble"):
        runs.load_run(copy)


def test_export_refuses_an_ensemble(ensemble, tmp_path):
    result = runner.invoke(app, ["export", str(ensemble.path), str(tmp_path / "hf")])
    assert result.exit_code == 3 and "ensemble" in result.output

