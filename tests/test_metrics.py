"""Metrics against values computed by hand on a small fixed example."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from genretag import metrics

# 4 movies × 3 genres.
#   row 0: true {0, 2}     predicted {0}
#   row 1: true {1}        predicted {1, 2}
#   row 2: true {0, 1, 2}  predicted {0}
#   row 3: true {2}        predicted {2}
Y_TRUE = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 1], [0, 0, 1]])
Y_PRED = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]])
# Per genre: g0 tp2 fp0 fn0 tn2; g1 tp1 fp0 fn1 tn2; g2 tp1 fp1 fn2 tn0.
LABELS = ["Action", "Comedy", "Drama"]


def test_multilabel_scores_by_hand():
    s = metrics.multilabel_scores(Y_TRUE, Y_PRED)
    # Micro: tp 4, fp 1, fn 3.
    assert s["micro_precision"] == pytest.approx(4 / 5)
    assert s["micro_recall"] == pytest.approx(4 / 7)
    assert s["micro_f1"] == pytest.approx(8 / 12)
    # Macro: per-genre P (1, 1, 1/2), R (1, 1/2, 1/3), F1 (1, 2/3, 2/5).
    assert s["macro_precision"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert s["macro_recall"] == pytest.approx((1 + 0.5 + 1 / 3) / 3)
    assert s["macro_f1"] == pytest.approx((1 + 2 / 3 + 0.4) / 3)
    # Weighted by support (2, 2, 3).
    assert s["weighted_f1"] == pytest.approx((2 * 1 + 2 * 2 / 3 + 3 * 0.4) / 7)
    assert s["weighted_recall"] == pytest.approx((2 * 1 + 2 * 0.5 + 3 / 3) / 7)
    # Per sample: P (1, 1/2, 1, 1), R (1/2, 1, 1/3, 1), F1 (2/3, 2/3, 1/2, 1).
    assert s["samples_precision"] == pytest.approx(3.5 / 4)
    assert s["samples_recall"] == pytest.approx((0.5 + 1 + 1 / 3 + 1) / 4)
    assert s["samples_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0.5 + 1) / 4)
    # Jaccard per row: 1/2, 1/2, 1/3, 1; micro: tp / (tp + fp + fn) = 4 / 8.
    assert s["jaccard"] == pytest.approx((0.5 + 0.5 + 1 / 3 + 1) / 4)
    assert s["micro_jaccard"] == pytest.approx(0.5)
    # 4 wrong cells of 12; only row 3 is an exact match.
    assert s["hamming_loss"] == pytest.approx(4 / 12)
    assert s["subset_accuracy"] == pytest.approx(0.25)
    assert s["rows"] == 4
    assert s["true_genres_per_row"] == pytest.approx(7 / 4)
    assert s["predicted_genres_per_row"] == pytest.approx(5 / 4)


def test_summary_scores_and_micro_f1_unchanged():  # the projection of multilabel_scores
    s = metrics.summary_scores(Y_TRUE, Y_PRED)
    assert set(s) == {"micro_precision", "micro_recall", "micro_f1", "macro_precision", "macro_recall", "macro_f1", "hamming_loss"}
    assert s["micro_f1"] == pytest.approx(8 / 12)
    assert s["macro_f1"] == pytest.approx((1 + 2 / 3 + 0.4) / 3)
    assert s["hamming_loss"] == pytest.approx(4 / 12)
    assert metrics.micro_f1(Y_TRUE, Y_PRED) == pytest.approx(8 / 12)


def test_per_genre_scores_by_hand():
    probs = np.array([[0.9, 0.1, 0.4], [0.2, 0.8, 0.7], [0.4, 0.3, 0.2], [0.5, 0.2, 0.6]])
    per = metrics.per_genre_scores(Y_TRUE, Y_PRED, probs, LABELS, np.array([0.5, 0.6, 0.55]))
    assert [r["genre"] for r in per] == LABELS
    g0, g1, g2 = per
    assert (g0["tp"], g0["fp"], g0["fn"], g0["tn"]) == (2, 0, 0, 2)
    assert (g1["tp"], g1["fp"], g1["fn"], g1["tn"]) == (1, 0, 1, 2)
    assert (g2["tp"], g2["fp"], g2["fn"], g2["tn"]) == (1, 1, 2, 0)
    assert g1["precision"] == 1.0 and g1["recall"] == 0.5 and g1["f1"] == pytest.approx(2 / 3)
    assert g2["precision"] == 0.5 and g2["recall"] == pytest.approx(1 / 3) and g2["f1"] == pytest.approx(0.4)
    assert [r["support"] for r in per] == [2, 2, 3]
    assert [r["predicted"] for r in per] == [2, 1, 2]
    assert [r["threshold"] for r in per] == [0.5, 0.6, 0.55]
    # g0 truth (1, 0, 1, 0), scores (.9, .2, .4, .5): 3 of 4 positive/negative pairs in order.
    assert g0["roc_auc"] == pytest.approx(0.75)
    # Ranked .9(+) .5(-) .4(+) .2(-): AP = (1/1 + 2/3) / 2.
    assert g0["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    # g2 truth (1, 0, 1, 1), scores (.4, .7, .2, .6): the one negative outranks every positive.
    assert g2["roc_auc"] == pytest.approx(0.0)
    # Ranked .7(-) .6(+) .4(+) .2(+): precision at the positives 1/2, 2/3, 3/4.
    assert g2["average_precision"] == pytest.approx((1 / 2 + 2 / 3 + 3 / 4) / 3)


def test_undefined_scores_are_none():
    y = np.array([[0], [0], [0]])
    assert metrics.roc_auc(y[:, 0], np.array([0.1, 0.2, 0.3])) is None
    assert metrics.average_precision(y[:, 0], np.array([0.1, 0.2, 0.3])) is None
    assert metrics.pr_curve(y[:, 0], np.array([0.1, 0.2, 0.3])) is None
    ranking = metrics.ranking_scores(y, np.array([[0.1], [0.2], [0.3]]))
    assert ranking["macro_roc_auc"] is None and ranking["macro_average_precision"] is None
    per = metrics.per_genre_scores(y, y, None, ["Drama"], 0.5)
    # Never true, never predicted: precision, recall and F1 are not defined (not 0).
    assert (per[0]["precision"], per[0]["recall"], per[0]["f1"]) == (None, None, None)
    assert per[0]["roc_auc"] is None and per[0]["threshold"] == 0.5


def test_ranking_scores_by_hand():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.7], [0.5, 0.3]])
    r = metrics.ranking_scores(y, probs)
    # Genre 0: AUC 3/4, AP 5/6. Genre 1: positives .8, .7 above negatives .1, .3: AUC 1, AP 1.
    assert r["macro_roc_auc"] == pytest.approx((0.75 + 1) / 2)
    assert r["macro_average_precision"] == pytest.approx((5 / 6 + 1) / 2)
    # Pooled ranking: .9+ .8+ .7+ .5- .4+ .3- .2- .1- → precision at positives 1, 1, 1, 4/5.
    assert r["micro_average_precision"] == pytest.approx((1 + 1 + 1 + 4 / 5) / 4)
    # 4 positives × 4 negatives; only (.4+, .5-) is out of order.
    assert r["micro_roc_auc"] == pytest.approx(15 / 16)


def test_confusion_between_genres_by_hand():
    m = metrics.confusion_between_genres(Y_TRUE, Y_PRED)
    expected = np.array([
        [1.0, 0.0, 0.0],  # true Action (rows 0, 2): both predicted Action only
        [0.5, 0.5, 0.5],  # true Comedy (rows 1, 2): row 1 → Comedy, Drama; row 2 → Action
        [2 / 3, 0.0, 1 / 3],  # true Drama (rows 0, 2, 3)
    ])
    np.testing.assert_allclose(m, expected)
    # A genre no row has gives a zero row, not a division by zero.
    assert metrics.confusion_between_genres(np.zeros((2, 2)), np.ones((2, 2))).tolist() == [[0, 0], [0, 0]]


def test_genres_per_row_histogram():
    assert metrics.genres_per_row(Y_TRUE) == [0, 2, 1, 1]
    assert metrics.genres_per_row(Y_PRED) == [0, 3, 1]
    assert metrics.genres_per_row(Y_PRED, max_count=4) == [0, 3, 1, 0, 0]


def test_f1_by_threshold():
    # Confident probabilities: every threshold in (0.05, 0.95] reproduces Y_PRED exactly.
    probs = np.where(Y_PRED == 1, 0.95, 0.05)
    curve = metrics.f1_by_threshold(Y_TRUE, probs)
    assert len(curve["thresholds"]) == len(curve["micro_f1"]) == len(curve["macro_f1"]) == 49
    at = dict(zip(curve["thresholds"], curve["micro_f1"]))
    assert at[0.5] == pytest.approx(8 / 12)
    # At 0.02 every genre is predicted: tp 7, fp 5, fn 0.
    assert at[0.02] == pytest.approx(14 / 19)
    assert dict(zip(curve["thresholds"], curve["macro_f1"]))[0.5] == pytest.approx((1 + 2 / 3 + 0.4) / 3)


def test_pr_curve_is_thinned_and_ordered():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    scores = rng.random(2000)
    curve = metrics.pr_curve(y, scores, max_points=50)
    assert 2 <= len(curve["thresholds"]) <= 50
    assert len(curve["precision"]) == len(curve["recall"]) == len(curve["thresholds"])
    assert curve["thresholds"] == sorted(curve["thresholds"])
    assert curve["recall"][0] == 1.0  # lowest threshold: every positive found
    small = metrics.pr_curve(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.4, 0.5]))
    assert small["thresholds"] == [0.2, 0.4, 0.5, 0.9]
    assert small["precision"] == pytest.approx([0.5, 2 / 3, 0.5, 1.0])
    assert small["recall"] == [1.0, 1.0, 0.5, 0.5]


def test_shape_errors():
    with pytest.raises(ValueError):
        metrics.multilabel_scores(Y_TRUE, Y_PRED[:, :2])
    with pytest.raises(ValueError):
        metrics.multilabel_scores(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError):
        metrics.multilabel_scores(np.zeros(3), np.zeros(3))


def test_multilabel_scores_match_scikit_learn():
    from sklearn.metrics import f1_score, hamming_loss, jaccard_score, precision_score, recall_score

    rng = np.random.default_rng(1)
    for _ in range(20):
        y = rng.integers(0, 2, (30, 5))
        p = rng.integers(0, 2, (30, 5))
        y[:, 3] = 0  # a genre with no true row
        p[:2] = 0  # rows with nothing predicted
        s = metrics.multilabel_scores(y, p)
        for avg in ("micro", "macro", "weighted", "samples"):
            # Genre averages leave out the genres where a score is not defined; rows and pooled counts count 0.
            zero = np.nan if avg in ("macro", "weighted") else 0
            assert s[f"{avg}_precision"] == pytest.approx(precision_score(y, p, average=avg, zero_division=zero))
            assert s[f"{avg}_recall"] == pytest.approx(recall_score(y, p, average=avg, zero_division=zero))
            assert s[f"{avg}_f1"] == pytest.approx(f1_score(y, p, average=avg, zero_division=zero))
        assert s["jaccard"] == pytest.approx(jaccard_score(y, p, average="samples", zero_division=0))
        assert s["micro_jaccard"] == pytest.approx(jaccard_score(y, p, average="micro", zero_division=0))
        assert s["hamming_loss"] == pytest.approx(hamming_loss(y, p))


def test_single_genre_matrix():
    # scikit-learn would read [rows, 1] as binary; these stay multi-label definitions.
    y = np.array([[1], [0], [1], [0]])
    p = np.array([[1], [1], [0], [0]])
    s = metrics.multilabel_scores(y, p)
    assert s["micro_f1"] == pytest.approx(0.5) and s["macro_f1"] == pytest.approx(0.5)
    assert s["samples_f1"] == pytest.approx(0.25)  # only row 0 is right and non-empty
    per = metrics.per_genre_scores(y, p, None, ["Drama"], 0.5)
    assert (per[0]["tp"], per[0]["fp"], per[0]["fn"], per[0]["tn"]) == (1, 1, 1, 1)


# One genre, 9 validation rows (the metrics-single-genre case): 7 true, all 9 predicted.
# tp 7, fp 2, fn 0 -> micro-F1 = 14 / 16 = 0.875; scikit-learn's binary reading of the
# [rows, 1] matrix gave the accuracy-like 7 / 9 = 0.778.
ONE_TRUE = np.array([[1]] * 7 + [[0]] * 2)
ONE_PRED = np.ones((9, 1), dtype=int)


def test_one_genre_matrix_by_hand():
    s = metrics.summary_scores(ONE_TRUE, ONE_PRED)
    assert s["micro_f1"] == pytest.approx(0.875) and s["macro_f1"] == pytest.approx(0.875)
    assert s["micro_precision"] == pytest.approx(7 / 9) and s["micro_recall"] == 1.0
    assert s["hamming_loss"] == pytest.approx(2 / 9)
    assert metrics.micro_f1(ONE_TRUE, ONE_PRED) == pytest.approx(0.875)
    curve = metrics.f1_by_threshold(ONE_TRUE, np.full((9, 1), 0.9))
    assert curve["micro_f1"][0] == pytest.approx(0.875)  # every threshold below 0.9 predicts all 9


def test_all_positive_genre_by_hand():
    # Genre 0 is in every row (the metrics-all-positive-genre case), genre 1 in one row.
    y = np.array([[1, 0], [1, 1], [1, 0], [1, 0]])
    probs = np.array([[0.9, 0.1], [0.4, 0.8], [0.7, 0.3], [0.2, 0.2]])
    pred = (probs >= 0.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library warning on the way
        per = metrics.per_genre_scores(y, pred, probs, ["Horror", "Drama"], 0.5)
        ranking = metrics.ranking_scores(y, probs)
    assert per[0]["roc_auc"] is None  # not defined: no negative row
    assert per[0]["average_precision"] == pytest.approx(1.0)  # every ranked row is a positive
    assert (per[0]["tp"], per[0]["fp"], per[0]["fn"], per[0]["tn"]) == (2, 0, 2, 0)
    assert per[0]["f1"] == pytest.approx(4 / 6)
    # Genre 1: its one positive (.8) above the three negatives.
    assert per[1]["roc_auc"] == 1.0
    assert ranking["macro_roc_auc"] == 1.0  # the mean over the genres where it is defined
    # Pooled: positives .9 .4 .7 .2 .8 against negatives .1 .3 .2: pairs in order 13 + 0.5 (tie) of 15.
    assert ranking["micro_roc_auc"] == pytest.approx(13.5 / 15)
    assert metrics.roc_auc(np.ones(3), np.array([0.1, 0.2, 0.3])) is None
    assert metrics.roc_auc(np.zeros(0), np.zeros(0)) is None
    # 5 true of 8 cells, 3 predicted and right: micro-F1 = 6 / (6 + 0 + 2).
    assert metrics.summary_scores(y, pred)["micro_f1"] == pytest.approx(6 / 8)


def test_every_summary_is_a_projection_of_multilabel_scores():
    rng = np.random.default_rng(3)
    for shape in [(7, 1), (5, 3), (1, 4)]:
        y, p = rng.integers(0, 2, shape), rng.integers(0, 2, shape)
        full = metrics.multilabel_scores(y, p)
        assert metrics.summary_scores(y, p) == {k: full[k] for k in metrics.SUMMARY_KEYS}
        assert metrics.micro_f1(y, p) == full["micro_f1"]
        probs = rng.random(shape)
        curve = metrics.f1_by_threshold(y, probs)
        for t, micro in zip(curve["thresholds"], curve["micro_f1"]):
            assert micro == metrics.multilabel_scores(y, (probs >= t).astype(int))["micro_f1"]
        # The per-genre F1 of the records is the F1 of the counts.
        counts = metrics.confusion_counts(y, p)
        per = metrics.per_genre_scores(y, p, None, [str(j) for j in range(shape[1])], 0.5)
        np.testing.assert_allclose([r["f1"] for r in per], metrics.f1_from_counts(counts["tp"], counts["fp"], counts["fn"]))


def test_f1_from_counts_by_hand():
    assert metrics.f1_from_counts(7, 2, 0) == pytest.approx(0.875)
    assert metrics.f1_from_counts(0, 0, 0) == 0.0  # nothing true, nothing predicted
    np.testing.assert_allclose(metrics.f1_from_counts(np.array([1, 0]), np.array([1, 3]), np.array([0, 1])), [2 / 3, 0.0])


def test_threshold_tuning_scores_with_the_same_f1():
    from genretag.decision import DIGITS, DecisionRule, best_global

    # One genre, probabilities .2 .4 .6 .8 for truth 0 1 1 1: a threshold in (.2, .4] finds all
    # three and no negative (F1 1); the tie closest to 0.5 among them is 0.4.
    y = np.array([[0], [1], [1], [1]])
    probs = np.array([[0.2], [0.4], [0.6], [0.8]])
    assert best_global(y, probs) == 0.4
    limits = DecisionRule.tune(y, probs, "per-genre", min_positives=1, shrink=1.0).thresholds
    assert limits.dtype == np.float64 and np.all(limits == np.round(limits, DIGITS))
    assert metrics.micro_f1(y, (probs >= limits).astype(int)) == 1.0
