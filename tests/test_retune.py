"""``genretag retune``: a run's decision rule chosen again on its validation split, weights unchanged."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from genretag import runs
from genretag.cli import app
from genretag.config import TrainConfig
from genretag.decision import DecisionRule
from genretag.ensemble import tuning_rows
from genretag.errors import ConfigError
from genretag.retune import retune_run
from genretag.training import train

runner = CliRunner()


@pytest.fixture(scope="module")
def blended(tmp_path_factory, movies_csv, tiny_bert):
    """A run with per-genre thresholds and a TF-IDF blend."""
    root = tmp_path_factory.mktemp("retune")
    config = TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=2, batch_size=16, eval_batch_size=32,
                         lr=3e-3, blend_tfidf=True)
    return train(config, root / "run").path


def _val_probs(path):
    """The run's validation ``(truth, language-model probabilities, TF-IDF probabilities or None)``."""
    import dataclasses

    run = runs.load_run(path)
    _, (texts, y) = tuning_rows(run, None, "test")
    lm = dataclasses.replace(run, blend=None).predict_proba(texts)
    return y, lm, (run.blend.predict_proba(texts) if run.blend is not None else None)


def test_global_rule_is_the_one_train_would_tune_and_back_again_gives_the_run(blended, tmp_path):
    source = runs.load_run(blended)
    assert source.blend is not None and source.blend.weight > 0  # the blend's weight is chosen again too
    result = retune_run(blended, tmp_path / "global", thresholds="global")
    got = runs.load_run(result.path)
    assert got.config.thresholds == "global" and len(set(got.rule.thresholds)) == 1
    y, lm, tfidf = _val_probs(blended)
    weight = got.blend.weight if got.blend is not None else 0.0
    probs = (1 - weight) * lm + weight * tfidf
    expected = DecisionRule.tune(y, probs, "global", at_least_one=source.config.at_least_one)
    np.testing.assert_allclose(got.rule.thresholds, expected.thresholds)
    from genretag.metrics import summary_scores

    assert result.metrics["micro_f1"] == pytest.approx(summary_scores(y, expected.apply(probs))["micro_f1"])
    at_half = DecisionRule.fixed(0.5, len(got.labels))
    assert result.metrics["at_0.5"] == pytest.approx(summary_scores(y, at_half.apply(probs)))  # of the new blend
    assert result.metrics["language_model_at_0.5"] == pytest.approx(summary_scores(y, at_half.apply(lm)))
    old = result.metrics["retuned"]
    own = json.loads((blended / runs.METRICS_FILE).read_text())
    assert old["thresholds"] == "per-genre" and old["micro_f1"] == pytest.approx(own["micro_f1"])
    # The weights are the run's own.
    mine, theirs = got.model.state_dict(), source.model.state_dict()
    assert mine.keys() == theirs.keys() and all(mine[k].equal(theirs[k]) for k in mine)
    # Tuned back to per-genre from the copy: the run's own thresholds and blend weight.
    back = runs.load_run(retune_run(result.path, tmp_path / "back", thresholds="per-genre").path)
    np.testing.assert_allclose(back.rule.thresholds, source.rule.thresholds)
    assert (back.blend.weight if back.blend else 0.0) == (source.blend.weight if source.blend else 0.0)
    assert json.loads((tmp_path / "back" / runs.META_FILE).read_text())["retuned"]["from"] == "global"


def test_a_threshold_with_a_tuned_mode_is_said_unused(blended, tmp_path, caplog):
    result = retune_run(blended, tmp_path / "g", thresholds="global", threshold=0.3)
    assert "--threshold 0.3 is not used: with --thresholds global the thresholds are tuned" in caplog.text
    plain = retune_run(blended, tmp_path / "plain", thresholds="global")
    got = runs.load_run(result.path)
    assert got.config.thresholds == "global"
    np.testing.assert_array_equal(got.rule.thresholds, runs.load_run(plain.path).rule.thresholds)


def test_fixed_threshold_and_the_cli(blended, movies_csv, tmp_path):
    result = runner.invoke(app, ["retune", str(blended), "--thresholds", "fixed", "--threshold", "0.35",
                                 "--out", str(tmp_path / "fixed")])
    assert result.exit_code == 0, result.output
    assert "before: per-genre thresholds" in result.output and "now:    fixed thresholds" in result.output
    got = runs.load_run(tmp_path / "fixed")
    assert got.config.thresholds == "fixed" and got.config.threshold == 0.35
    assert np.all(got.rule.thresholds == 0.35)
    out = tmp_path / "tagged.csv"
    tagged = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tmp_path / "fixed"), "--out", str(out)])
    assert tagged.exit_code == 0, tagged.output
    again = runner.invoke(app, ["retune", str(blended), "--thresholds", "global", "--out", str(tmp_path / "fixed")])
    assert again.exit_code == 4 and "--force" in again.output


def test_refusals_come_before_the_model_loads(blended, tmp_path):
    cases = [
        (["--thresholds", "best"], 2, "--thresholds must be one of fixed, global, per-genre, got 'best'"),
        (["--thresholds", "fixed", "--threshold", "1.5"], 2, "--threshold must be in (0, 1), got 1.5"),
    ]
    for args, code, message in cases:
        result = runner.invoke(app, ["retune", str(blended), *args, "--out", str(tmp_path / "x")])
        assert result.exit_code == code and message in result.output, result.output
        assert "Traceback" not in result.output and not (tmp_path / "x").exists()
    result = runner.invoke(app, ["retune", str(tmp_path / "nope"), "--thresholds", "global",
                                 "--out", str(tmp_path / "x")])
    assert result.exit_code == 3 and "nope not found; pass a run directory" in result.output, result.output
    inside = runner.invoke(app, ["retune", str(blended), "--thresholds", "global", "--out", str(blended / "sub")])
    assert inside.exit_code == 2 and f"is inside the run {blended}" in inside.output, inside.output
    assert not (blended / "sub").exists()
    for extra in ([], ["--force"]):  # not "pass --force", which would then be refused
        itself = runner.invoke(app, ["retune", str(blended), "--thresholds", "global", "--out", str(blended), *extra])
        assert itself.exit_code == 2 and f"is the run {blended}; write the new run beside it" in itself.output
    with pytest.raises(ConfigError):
        retune_run(blended, tmp_path / "y", thresholds="per_genre")
    assert not (tmp_path / "y").exists()


def test_a_moved_data_file_is_given_with_data(blended, movies_csv, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(blended, run)
    data = tmp_path / "elsewhere" / "films.csv"
    data.parent.mkdir()
    shutil.copyfile(movies_csv, data)
    split = json.loads((run / runs.SPLIT_FILE).read_text())
    (run / runs.SPLIT_FILE).write_text(json.dumps({**split, "data": "/gone/movies.csv", "data_relative": "gone.csv"}))
    result = runner.invoke(app, ["retune", str(run), "--thresholds", "global", "--out", str(tmp_path / "g")])
    assert result.exit_code == 2 and "pass --data" in result.output, result.output
    folder = runner.invoke(app, ["retune", str(run), "--thresholds", "global", "--out", str(tmp_path / "g"),
                                 "--data", str(data.parent)])
    assert folder.exit_code == 2 and f"--data {data.parent} is a folder; pass the path" in folder.output, folder.output
    result = runner.invoke(app, ["retune", str(run), "--thresholds", "global", "--out", str(tmp_path / "g"),
                                 "--data", str(data)])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "g" / runs.SPLIT_FILE).read_text())
    assert written["data"] == "films.csv" and (tmp_path / "g" / written["data_relative"]).resolve() == data.resolve()
    assert runner.invoke(app, ["evaluate", "--model", str(tmp_path / "g"), "--split", "validation"]).exit_code == 0


def test_an_ensemble_is_retuned_whole(blended, movies_csv, tiny_bert, tmp_path):
    from genretag.ensemble import build_ensemble

    base = {**runs.load_run(blended).config.to_dict(), "data": str(movies_csv), "lr": 5e-3}
    other = train(TrainConfig.from_dict(base), tmp_path / "other").path
    ensemble = build_ensemble([blended, other], tmp_path / "ens").path
    result = retune_run(ensemble, tmp_path / "ens-global", thresholds="global")
    got = runs.load_run(result.path)
    assert runs.is_ensemble(result.path) and len(set(got.rule.thresholds)) == 1
    y, lm, tfidf = _val_probs(ensemble)
    weight = got.blend.weight if got.blend is not None else 0.0
    probs = lm if tfidf is None else (1 - weight) * lm + weight * tfidf
    np.testing.assert_allclose(got.rule.thresholds, DecisionRule.tune(y, probs, "global").thresholds)
    tagged = runner.invoke(app, ["tag", str(movies_csv), "--model", str(result.path), "--out", str(tmp_path / "t.csv")])
    assert tagged.exit_code == 0, tagged.output


def test_the_report_of_a_global_rule_says_one_threshold(blended, tmp_path):
    import re

    result = retune_run(blended, tmp_path / "g", thresholds="global")
    limit = runs.load_run(result.path).rule.thresholds[0]
    report = tmp_path / "r.html"
    ran = runner.invoke(app, ["evaluate", "--model", str(result.path), "--split", "validation", "--report", str(report)])
    assert ran.exit_code == 0, ran.output
    text = re.sub(r"\s+", " ", report.read_text())
    assert f"the run's own (global, {limit:.2f} for every genre)" in text  # not "from 0.39 to 0.39"
