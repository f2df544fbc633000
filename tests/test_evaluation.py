"""`genretag evaluate`: rows from the saved split or a CSV, scores, baseline, CLI behaviour."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import synthetic_movies, write_csv
from typer.testing import CliRunner

from genretag.cli import app
from genretag.errors import DataError
from genretag.evaluation import evaluate, load_rows
from genretag.runs import SPLIT_FILE, THRESHOLDS_FILE, load_run

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tiny_api_run):
    return tiny_api_run


@pytest.fixture(scope="module")
def run(run_dir):
    return load_run(run_dir, device="cpu")


@pytest.fixture(scope="module")
def results(run):
    return evaluate(run)


def _copy_run(run_dir, tmp_path, **split_changes):
    copy = tmp_path / "run-copy"
    shutil.copytree(run_dir, copy)
    saved = json.loads((copy / SPLIT_FILE).read_text())
    saved.update(split_changes)
    (copy / SPLIT_FILE).write_text(json.dumps(saved))
    return copy


def _all_numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _all_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _all_numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def test_default_is_the_saved_test_split(run, run_dir, results):
    saved = json.loads((run_dir / SPLIT_FILE).read_text())
    assert results["data"]["split"] == "test"
    assert results["data"]["own_data"] is True
    assert results["data"]["rows"] == len(saved["test"])
    assert [m["row_id"] for m in results["movies"]] == saved["test"]
    assert results["data"]["fingerprint"] == saved["fingerprint"]
    assert results["labels"] == run.labels
    assert results["model"]["backbone"] == run.config.backbone
    assert results["unknown_genres"] == {"genres": {}, "rows_left_out": 0}


def test_results_shapes_and_ranges(run, results):
    n = len(run.labels)
    for key in ("at_0.5", "at_run_thresholds"):
        block = results["scores"][key]
        assert len(block["per_genre"]) == n
        assert np.array(block["confusion_between_genres"]).shape == (n, n)
        for name in ("micro_f1", "macro_f1", "weighted_f1", "samples_f1", "jaccard", "subset_accuracy", "hamming_loss"):
            assert 0.0 <= block["summary"][name] <= 1.0
    assert [r["threshold"] for r in results["scores"]["at_0.5"]["per_genre"]] == [0.5] * n
    assert [r["threshold"] for r in results["scores"]["at_run_thresholds"]["per_genre"]] == pytest.approx(
        [float(t) for t in run.rule.thresholds], abs=1e-4)
    assert results["thresholds"]["tuned"] == bool(not np.allclose(run.rule.thresholds, 0.5))
    assert set(results["curves"]["precision_recall"]) == set(run.labels)
    curve = results["curves"]["f1_by_threshold"]
    assert len(curve["thresholds"]) == len(curve["micro_f1"]) == len(curve["macro_f1"])
    assert sum(results["genres_per_movie"]["true"]) == results["data"]["rows"]
    assert sum(results["genres_per_movie"]["predicted"]) == results["data"]["rows"]
    assert all(np.isfinite(x) for x in _all_numbers(results))
    json.dumps(results, allow_nan=False)  # --json must be able to write it


def test_worst_errors_are_real_errors(results):
    worst = results["worst"]
    assert len(worst["false_positives"]) <= 10 and len(worst["false_negatives"]) <= 10
    for e in worst["false_positives"]:
        assert e["title"].startswith("Movie ") and e["text"]
        assert all(x["genre"] in e["predicted"] and x["genre"] not in e["true"] for x in e["errors"])
    for e in worst["false_negatives"]:
        assert all(x["genre"] in e["true"] and x["genre"] not in e["predicted"] for x in e["errors"])
    probs = [e["errors"][0]["probability"] for e in worst["false_positives"]]
    assert probs == sorted(probs, reverse=True)


def test_baseline_fitted_on_the_train_split(run_dir, results):
    saved = json.loads((run_dir / SPLIT_FILE).read_text())
    base = results["baseline"]
    assert base["available"] is True
    assert base["train_rows"] == len(saved["train"])
    assert base["validation_rows"] == len(saved["validation"])
    for key in ("at_0.5", "at_own_thresholds"):
        assert base["scores"][key]["summary"]["rows"] == results["data"]["rows"]
        assert 0.0 <= base["scores"][key]["summary"]["micro_f1"] <= 1.0
        assert len(base["scores"][key]["per_genre"]) == len(results["labels"])
    assert set(base["thresholds"]) == set(results["labels"])
    assert all(0 < t < 1 for t in base["thresholds"].values())


def test_run_rule_is_the_tag_rule(run, results):
    probs = run.predict_proba(load_rows(run)[0].texts)
    pred = run.rule.apply(probs)
    assert [m["predicted"] for m in results["movies"]] == [[run.labels[j] for j in np.flatnonzero(p)] for p in pred]
    assert results["decision"]["at_least_one"] == run.config.at_least_one


def test_deterministic(run, results):
    again = evaluate(run)
    for key in ("scores", "ranking", "baseline", "worst", "movies", "curves"):
        assert again[key] == results[key]


def test_validation_and_all_splits(run, run_dir):
    saved = json.loads((run_dir / SPLIT_FILE).read_text())
    rows, _ = load_rows(run, split="validation")
    assert rows.row_ids == saved["validation"] and rows.split == "validation"
    # Training rows are counted and left out by default, kept when asked for.
    rows, _ = load_rows(run, split="all")
    assert sorted(rows.row_ids) == sorted(saved["validation"] + saved["test"])
    assert rows.train_overlap == len(saved["train"]) and rows.training_rows["left_out"] is True
    rows, _ = load_rows(run, split="all", include_training_rows=True)
    assert len(rows.row_ids) == len(saved["train"]) + len(saved["validation"]) + len(saved["test"])
    assert rows.train_overlap == len(saved["train"]) and rows.training_rows["left_out"] is False
    with pytest.raises(DataError, match="--split"):
        load_rows(run, split="everything")


def test_other_csv_reports_unknown_genres(run, tmp_path):
    rows = synthetic_movies(30, seed=5)
    rows[0]["genres"] += "|Musical"
    rows[1]["genres"] += "|Musical|Noir"
    rows[2]["genres"] = "Musical"  # only an unknown genre: left out
    other = write_csv(tmp_path / "other.csv", rows)
    results = evaluate(run, data=other)
    assert results["data"]["split"] == "all" and results["data"]["own_data"] is False
    # "Noir" is read as the vocabulary's "Film Noir"; neither it nor Musical has a genre in this model.
    assert results["unknown_genres"] == {"genres": {"Musical": 3, "Film Noir": 1}, "rows_left_out": 1}
    assert results["data"]["rows"] == 29
    assert "Musical" not in results["labels"]
    assert results["baseline"]["available"] is True  # the run's own file is still here
    first = next(m for m in results["movies"] if m["row_id"] == 1)
    assert first["unknown"] == ["Musical", "Film Noir"]
    with pytest.raises(DataError, match="--split all"):
        load_rows(run, data=other, split="test")


def test_baseline_skipped_when_training_data_is_gone(run_dir, tmp_path):
    copy = _copy_run(run_dir, tmp_path, data=str(tmp_path / "gone.csv"))
    other = write_csv(tmp_path / "other.csv", synthetic_movies(20, seed=7))
    results = evaluate(load_run(copy, device="cpu"), data=other)
    assert results["baseline"]["available"] is False
    assert "gone.csv" in results["baseline"]["reason"]


def test_cli_writes_report_and_json(run_dir, tmp_path):
    report, metrics_json = tmp_path / "out.html", tmp_path / "metrics.json"
    args = ["evaluate", "--model", str(run_dir), "--report", str(report), "--json", str(metrics_json)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "micro F1" in result.stdout and "baseline" in result.stdout
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    data = json.loads(metrics_json.read_text(encoding="utf-8"))
    assert data["data"]["split"] == "test" and "at_run_thresholds" in data["scores"]
    assert not list(tmp_path.glob(".*partial"))

    again = runner.invoke(app, args)
    assert again.exit_code == 4 and "--force" in again.output
    assert runner.invoke(app, args + ["--force"]).exit_code == 0


def test_cli_default_model_is_the_newest_run(run_dir, tmp_path, monkeypatch):
    shutil.copytree(run_dir, tmp_path / "runs" / "only")
    monkeypatch.chdir(tmp_path)
    # A run copied away from its data names the data by file name only: --data finds it.
    data = (run_dir / json.loads((run_dir / SPLIT_FILE).read_text())["data_relative"]).resolve()
    result = runner.invoke(app, ["evaluate", "--report", "out.html", "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.html").is_file()


def test_cli_missing_data_file_asks_for_data(run_dir, tmp_path):
    copy = _copy_run(run_dir, tmp_path, data=str(tmp_path / "moved-away.csv"))
    result = runner.invoke(app, ["evaluate", "--model", str(copy), "--json", str(tmp_path / "m.json")])
    assert result.exit_code == 2
    assert "--data" in result.output and "moved-away.csv" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 3
    assert not (tmp_path / "m.json").exists()


def test_cli_changed_data_file_is_refused(run_dir, tmp_path):
    copy = _copy_run(run_dir, tmp_path, fingerprint="0" * 64)
    result = runner.invoke(app, ["evaluate", "--model", str(copy), "--json", str(tmp_path / "m.json")])
    assert result.exit_code == 2
    assert "changed" in result.output and "--split all" in result.output


def test_cli_bad_options(run_dir, tmp_path):
    result = runner.invoke(app, ["evaluate", "--model", str(run_dir), "--split", "train"])
    assert result.exit_code == 2 and "--split" in result.output
    same = str(tmp_path / "x")
    result = runner.invoke(app, ["evaluate", "--model", str(run_dir), "--report", same, "--json", same])
    assert result.exit_code == 2
    # The name says the format, as for tag's --out: no HTML page in a .txt, no JSON in a .csv.
    for option, name, want in (("--report", "out.txt", "--report writes an HTML page; give a file name ending in .html"),
                               ("--json", "scores.csv", "--json writes JSON; give a file name ending in .json")):
        result = runner.invoke(app, ["evaluate", "--model", str(run_dir), option, str(tmp_path / name)])
        assert result.exit_code == 2 and want in " ".join(result.output.split())
        assert not (tmp_path / name).exists()


def test_tuned_thresholds_are_used(run_dir, tmp_path):
    copy = _copy_run(run_dir, tmp_path)
    labels = json.loads((copy / "labels.json").read_text())
    (copy / THRESHOLDS_FILE).write_text(json.dumps({g: 0.3 + 0.05 * i for i, g in enumerate(labels)}))
    results = evaluate(load_run(copy, device="cpu"), baseline=False)
    assert results["thresholds"]["tuned"] is True
    assert [r["threshold"] for r in results["scores"]["at_run_thresholds"]["per_genre"]] == pytest.approx(
        [0.3 + 0.05 * i for i in range(len(labels))])
    assert results["baseline"] == {"available": False, "reason": "not asked for (--no-baseline)"}
