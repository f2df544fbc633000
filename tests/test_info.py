"""`genretag info`: a run described from its files, as tables or as JSON that round-trips."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.cli.info import run_info
from genretag.config import TrainConfig
from genretag.training import train

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, movies_csv, tiny_bert) -> Path:
    """A tiny trained run, plus a test-set metrics file as an evaluation would add."""
    out = tmp_path_factory.mktemp("info") / "runs" / "tiny"
    config = TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=1, batch_size=16, eval_batch_size=32, max_length=32)
    train(config, out)
    (out / "test_metrics.json").write_text(json.dumps({"split": "test", "rows": 18, "micro_f1": 0.25, "at_0.5": {"micro_f1": 0.2}}))
    return out


def _read(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_json_round_trips_the_run_files(run_dir):
    result = runner.invoke(app, ["info", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["path"] == str(run_dir.resolve())
    for key, name in [("config", "config.json"), ("labels", "labels.json"), ("thresholds", "thresholds.json"), ("meta", "meta.json")]:
        assert data[key] == _read(run_dir / name), key
    assert data["metrics"] == {"metrics.json": _read(run_dir / "metrics.json"), "test_metrics.json": _read(run_dir / "test_metrics.json")}
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert data["history"] == history
    split = _read(run_dir / "split.json")
    assert data["split"]["fingerprint"] == split["fingerprint"] == data["meta"]["data_fingerprint"]
    assert {part: data["split"][part] for part in ("train", "validation", "test")} == {
        part: len(split[part]) for part in ("train", "validation", "test")
    }
    assert data == json.loads(json.dumps(run_info(run_dir)))  # the CLI prints exactly what the function returns


def test_tables_show_backbone_genres_scores_and_versions(run_dir):
    result = runner.invoke(app, ["info", str(run_dir)])
    assert result.exit_code == 0, result.output
    text = result.stdout
    labels = _read(run_dir / "labels.json")
    assert all(label in text for label in labels)
    for word in ("backbone", "pooling", "mean", "data fingerprint", "micro_f1", "at_0.5", "test scores", "transformers"):
        assert word in text, word
    assert _read(run_dir / "meta.json")["data_fingerprint"][:16] in text


def test_default_is_the_newest_run_under_runs(run_dir, monkeypatch):
    monkeypatch.chdir(run_dir.parent.parent)
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["path"] == str(run_dir.resolve())


def test_not_a_run_is_one_red_line(tmp_path, run_dir):
    missing = runner.invoke(app, ["info", str(tmp_path / "nope")])
    assert missing.exit_code == 3
    assert "not found" in missing.output and "Traceback" not in missing.output
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "meta.json").write_text("{not json")
    result = runner.invoke(app, ["info", str(broken), "--json"])
    assert result.exit_code == 3
    assert "corrupt" in result.output
