"""The default model shipped in the package: complete, small, offline, used without --model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import real_csv_or_skip
from typer.testing import CliRunner

from genretag import device as device_mod
from genretag import predict, runs
from genretag.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_bundled_model_is_a_complete_small_run():
    path = runs.bundled_model()
    assert path is not None and path.name == "default_model"
    runs.check_run_dir(path)
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    # One LoRA adapter + head (one backbone pass), a TF-IDF blend and the keys of its 8,643 training and
    # validation synopses (1.3 MB with the inner windows that find copies edited at both ends and the chunk keys
    # that find copies with a few letters edited anywhere); the backbone
    # comes from its own package.
    assert not runs.is_ensemble(path) and size < 7 * 2**20
    config = json.loads((path / runs.CONFIG_FILE).read_text())
    assert config["backbone"] == "minilm"  # resolvable offline on any machine
    assert len(json.loads((path / runs.LABELS_FILE).read_text())) == 18


def test_bundled_model_names_its_data_by_file_name_and_fingerprint():
    path = runs.bundled_model()
    split = json.loads((path / runs.SPLIT_FILE).read_text())
    assert split["data"] == "tmdb-movie-genres-9k.csv"
    assert split["fingerprint"] == "7d1134b7194e06d9e01787a40e520490a7212be29390578797922ddd13042d07"
    for file in path.rglob("*.json"):  # no path of the machine that built it, anywhere
        assert '"/' not in file.read_text(encoding="utf-8"), file


def test_bundled_model_finds_its_data_from_a_checkout_beside_shared_data():
    # The relative path is the one from the package folder, so evaluate's TF-IDF baseline and
    # --split test work in a checkout; an installed package says the file is not found.
    csv_path = real_csv_or_skip()
    path = runs.bundled_model()
    split = json.loads((path / runs.SPLIT_FILE).read_text())
    assert (path / split["data_relative"]).resolve() == csv_path.resolve()
    assert runs.locate_data(path, split).resolve() == csv_path.resolve()


def test_evaluate_calls_the_bundled_model_by_that_name_not_its_trial_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "labelled.csv"
    data.write_text("title,overview,genres\n" + "".join(
        f"Film {i},{text},{genres}\n" for i, (text, genres) in enumerate([
            ("A sheriff rides out to stop the outlaw gang that burned his ranch.", "Western"),
            ("A haunted house traps a family on the night of a curse.", "Horror"),
            ("Two rival chefs fall in love during a summer cooking contest.", "Romance|Comedy")])),
        encoding="utf-8")
    result = CliRunner().invoke(app, ["evaluate", "--data", str(data), "--json", str(tmp_path / "ev.json")])
    assert result.exit_code == 0, result.output
    assert "bundled model on 3 rows" in result.stdout
    assert json.loads((tmp_path / "ev.json").read_text())["model"]["name"] == "bundled model"


def test_bundled_model_learned_from_every_usable_row_but_the_protocol_test():
    from genretag import data

    path = runs.bundled_model()
    split = json.loads((path / runs.SPLIT_FILE).read_text())
    config = json.loads((path / runs.CONFIG_FILE).read_text())
    assert len(split["test"]) == 750 and config["test_rows"] == split["test"]
    parts = [set(split[p]) for p in ("train", "validation", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    csv_path = real_csv_or_skip()
    usable, _ = data.load_labelled(csv_path, text_cols=config["text_cols"])
    protocol, _ = data.load_labelled(csv_path, sample=5000, seed=42)
    reference = data.split_indices(protocol.genres, ratios=(0.7, 0.15, 0.15), seed=42)
    assert parts[2] == {protocol.row_ids[i] for i in reference["test"]}  # the protocol's test rows, kept out
    assert parts[0] | parts[1] | parts[2] == set(usable.row_ids)


def test_tag_without_model_uses_the_bundled_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./runs here
    src = tmp_path / "to_tag.csv"
    src.write_bytes((EXAMPLES / "to_tag.csv").read_bytes())
    result = CliRunner().invoke(app, ["tag", str(src)])
    assert result.exit_code == 0, result.output
    assert "default_model" in result.stderr
    with open(src, newline="", encoding="utf-8") as fh:
        original = list(csv.DictReader(fh))
    with open(tmp_path / "to_tag.tagged.csv", newline="", encoding="utf-8") as fh:
        tagged = list(csv.DictReader(fh))
    labels = set(json.loads((runs.bundled_model() / runs.LABELS_FILE).read_text()))
    assert len(tagged) == len(original)
    for row, before in zip(tagged, original):
        assert all(row[k] == v for k, v in before.items())
        has_text = bool(before.get("overview", before.get("synopsis", "")).strip())
        genres = row["predicted_genres"].split("|") if row["predicted_genres"] else []
        assert set(genres) <= labels
        assert bool(genres) == has_text  # at-least-one rule for every synopsis, nothing for an empty one


@pytest.mark.slow
def test_auto_precision_keeps_the_fp32_decisions_on_real_synopses():
    texts = pd.read_csv(real_csv_or_skip())["overview"].dropna().tolist()[:400]
    if not device_mod.bf16_supported("cpu"):
        pytest.skip("this CPU has no native bf16, so auto is plain fp32")
    fast, exact = runs.load_run(runs.bundled_model()), runs.load_run(runs.bundled_model())
    p_fast, p_exact = fast.predict_proba(texts, precision="auto"), exact.predict_proba(texts, precision="fp32")
    choice = fast.predictor("auto").choice
    assert choice.precision == predict.MIXED, choice.reason
    assert 0 < choice.refined < predict.MAX_REFINED_SHARE
    np.testing.assert_array_equal(fast.rule.apply(p_fast), exact.rule.apply(p_exact))
    assert np.abs(p_fast - p_exact).max() <= predict.PARITY_TOLERANCE
