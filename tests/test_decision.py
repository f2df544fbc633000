"""The decision rule: applying it, rows near its boundaries, overrides, tuning, and its file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from genretag.config import TrainConfig
from genretag.decision import DIGITS, DecisionRule
from genretag.errors import ModelError
from genretag.rundir import CONFIG_FILE, LABELS_FILE, THRESHOLDS_FILE
from genretag.runs import bundled_model

PROBS = np.array([
    [0.80, 0.10, 0.20],  # genre 0 alone passes 0.5
    [0.40, 0.45, 0.20],  # none passes: at-least-one gives genre 1
    [0.90, 0.70, 0.60],  # all pass: max_genres=2 keeps 0 and 1
    [0.60, 0.60, 0.10],  # a tie: max_genres=1 keeps the first genre
])


def test_apply_thresholds_per_genre():
    rule = DecisionRule(np.array([0.5, 0.5, 0.5]))
    assert rule.apply(PROBS).tolist() == [[1, 0, 0], [0, 0, 0], [1, 1, 1], [1, 1, 0]]
    assert rule.apply(PROBS).dtype == np.int8
    # A probability equal to its threshold passes; each genre has its own.
    per_genre = DecisionRule(np.array([0.9, 0.45, 0.65]))
    assert per_genre.apply(PROBS).tolist() == [[0, 0, 0], [0, 1, 0], [1, 1, 0], [0, 1, 0]]


def test_apply_at_least_one_and_max_genres():
    assert DecisionRule.fixed(0.5, 3, at_least_one=True).apply(PROBS).tolist() == [
        [1, 0, 0], [0, 1, 0], [1, 1, 1], [1, 1, 0]]
    assert DecisionRule.fixed(0.5, 3, max_genres=2).apply(PROBS).tolist() == [
        [1, 0, 0], [0, 0, 0], [1, 1, 0], [1, 1, 0]]
    assert DecisionRule.fixed(0.5, 3, max_genres=1).apply(PROBS).tolist() == [
        [1, 0, 0], [0, 0, 0], [1, 0, 0], [1, 0, 0]]
    both = DecisionRule.fixed(0.5, 3, at_least_one=True, max_genres=1)
    assert both.apply(PROBS).tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]]
    assert both.apply(np.zeros((0, 3))).shape == (0, 3)


def test_unsure_flags_rows_a_small_error_could_change():
    probs = np.array([
        [0.80, 0.10, 0.20],  # far from every threshold: sure
        [0.505, 0.10, 0.20],  # 0.005 from 0.5: unsure
        [0.30, 0.28, 0.10],  # none passes, top two 0.02 apart: at-least-one could pick either
        [0.30, 0.10, 0.05],  # none passes, clear winner: sure
        [0.90, 0.89, 0.10],  # both pass; with max_genres=1 the order of the two matters
    ])
    assert DecisionRule.fixed(0.5, 3).unsure(probs, 0.01).tolist() == [False, True, False, False, False]
    assert DecisionRule.fixed(0.5, 3, at_least_one=True).unsure(probs, 0.011).tolist() == [
        False, True, True, False, False]
    assert DecisionRule.fixed(0.5, 3, max_genres=1).unsure(probs, 0.011).tolist() == [
        False, True, True, False, True]
    assert DecisionRule(np.array([0.8, 0.5, 0.5])).unsure(probs, 0.01).tolist() == [True, False, False, False, False]


def test_with_overrides_replaces_only_what_is_given():
    rule = DecisionRule(np.array([0.3, 0.5, 0.7]), at_least_one=True, max_genres=2)
    assert rule.with_overrides() is rule
    one = rule.with_overrides(threshold=0.4)
    assert one.thresholds.tolist() == [0.4, 0.4, 0.4] and one.at_least_one and one.max_genres == 2
    per_genre = rule.with_overrides(threshold=[0.1, 0.2, 0.3], at_least_one=False, max_genres=1)
    assert per_genre.thresholds.tolist() == [0.1, 0.2, 0.3] and not per_genre.at_least_one
    assert per_genre.max_genres == 1
    assert rule.thresholds.tolist() == [0.3, 0.5, 0.7]  # the original is unchanged


def test_a_rule_is_immutable_and_checked():
    limits = np.array([0.3, 0.5])
    rule = DecisionRule(limits)
    limits[0] = 0.9  # the rule holds its own copy
    assert rule.thresholds.tolist() == [0.3, 0.5]
    with pytest.raises(ValueError):
        rule.thresholds[0] = 0.1
    with pytest.raises(AttributeError):
        rule.at_least_one = True
    with pytest.raises(ValueError, match="thresholds"):
        DecisionRule(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="max_genres"):
        DecisionRule(np.array([0.5]), max_genres=0)


def test_tune_fixed_global_and_per_genre():
    # Genre 0: truth 0 1 1 1 at .2 .4 .6 .8, perfect for a threshold in (.2, .4].
    # Genre 1: truth 0 0 0 1 at .1 .3 .5 .7, perfect in (.5, .7].
    y = np.array([[0, 0], [1, 0], [1, 0], [1, 1]])
    probs = np.array([[0.2, 0.1], [0.4, 0.3], [0.6, 0.5], [0.8, 0.7]])
    fixed = DecisionRule.tune(y, probs, "fixed", fixed=0.33333, at_least_one=True, max_genres=1)
    assert fixed.thresholds.tolist() == [0.3333, 0.3333] and fixed.at_least_one and fixed.max_genres == 1
    # Micro-F1 over both genres: 8/10 in (.2, .3], 8/9 in (.3, .4] (one false positive, .5 of
    # genre 1), 6/8 in (.4, .5], 6/7 in (.5, .6]: the best, closest to 0.5, is 0.4.
    assert DecisionRule.tune(y, probs, "global").thresholds.tolist() == [0.4, 0.4]
    # Per genre, shrink k=1: genre 0 (3 positives) has its own optimum at 0.4 (of (.2, .4], the
    # one closest to the global 0.4); genre 1 (1 positive) at 0.51, weighted 1/(1+1) against 0.4.
    per_genre = DecisionRule.tune(y, probs, "per-genre", min_positives=1, shrink=1.0)
    assert per_genre.thresholds.tolist() == [0.4, 0.455]
    assert np.all(per_genre.thresholds == np.round(per_genre.thresholds, DIGITS))
    # Fewer positives than min_positives: the global threshold.
    assert DecisionRule.tune(y, probs, "per-genre", min_positives=2, shrink=1.0).thresholds.tolist() == [0.4, 0.4]
    with pytest.raises(ValueError, match="threshold mode"):
        DecisionRule.tune(y, probs, "best")


def test_tune_for_follows_the_config():
    y = np.array([[0, 0], [1, 0], [1, 1], [1, 1]])
    probs = np.array([[0.2, 0.1], [0.4, 0.3], [0.6, 0.5], [0.8, 0.7]])
    config = TrainConfig(data="x.csv", thresholds="fixed", threshold=0.45, at_least_one=False, max_genres=3)
    rule = DecisionRule.tune_for(config, y, probs)
    assert rule.thresholds.tolist() == [0.45, 0.45] and not rule.at_least_one and rule.max_genres == 3


def test_load_of_the_bundled_model_reads_its_thresholds_json_unchanged(tmp_path):
    model = bundled_model()
    saved = json.loads((model / THRESHOLDS_FILE).read_text(encoding="utf-8"))
    labels = json.loads((model / LABELS_FILE).read_text(encoding="utf-8"))
    rule = DecisionRule.load(model)
    assert rule.thresholds.tolist() == [saved[g] for g in labels]
    assert rule.at_least_one is True and rule.max_genres is None  # the bundled config's
    # Written back: byte for byte the file it was read from.
    rule.save(tmp_path, labels)
    assert (tmp_path / THRESHOLDS_FILE).read_bytes() == (model / THRESHOLDS_FILE).read_bytes()


def test_load_of_an_old_or_broken_thresholds_json(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(bundled_model(), run)
    labels = json.loads((run / LABELS_FILE).read_text(encoding="utf-8"))
    config = json.loads((run / CONFIG_FILE).read_text(encoding="utf-8"))
    config.update(threshold=0.25, at_least_one=False, max_genres=2)
    (run / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    # A file that lists only some genres: the others get the config's fixed threshold.
    (run / THRESHOLDS_FILE).write_text(json.dumps({labels[0]: 0.6}), encoding="utf-8")
    rule = DecisionRule.load(run)
    assert rule.thresholds.tolist() == [0.6] + [0.25] * (len(labels) - 1)
    assert not rule.at_least_one and rule.max_genres == 2
    # No file at all (a run from before thresholds were tuned): the fixed threshold everywhere.
    (run / THRESHOLDS_FILE).unlink()
    assert DecisionRule.load(run).thresholds.tolist() == [0.25] * len(labels)
    for broken in ("[0.5]", json.dumps({labels[0]: "high"}), json.dumps({labels[0]: 1.5})):
        (run / THRESHOLDS_FILE).write_text(broken, encoding="utf-8")
        with pytest.raises(ModelError, match="thresholds"):
            DecisionRule.load(run)
