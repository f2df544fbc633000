"""Multi-label scores computed from 0/1 matrices and probabilities.

Every function takes ``[rows, genres]`` arrays and returns plain Python numbers
(``None`` where a score is undefined, e.g. ROC-AUC of a genre with no positive row),
so results go straight into JSON and templates.

Set-based scores have one implementation, `multilabel_scores`, computed from the
per-genre confusion counts of `confusion_counts`; `summary_scores` (what ``train``
records and ``tune`` ranks), `micro_f1` and `f1_by_threshold` are projections of it,
and threshold tuning uses the same `f1_from_counts`. scikit-learn's ``f1_score`` is not
used for them: it reads a one-genre ``[rows, 1]`` matrix as a binary problem and then
counts the negative class too (micro-F1 becomes accuracy).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

#: Thresholds at which `f1_by_threshold` scores the predictions (0.02 ... 0.98).
THRESHOLD_GRID = np.round(np.arange(0.02, 0.99, 0.02), 2)
#: Below this many rows, scores mean little (one movie moves them a lot): `evaluate` warns on fewer scored
#: rows, `train` on fewer validation rows.
FEW_ROWS = 30
#: The keys of `summary_scores` (a run's ``metrics.json`` and the tune leaderboard).
SUMMARY_KEYS: tuple[str, ...] = (
    "micro_precision", "micro_recall", "micro_f1", "macro_precision", "macro_recall", "macro_f1", "hamming_loss",
)


def _int2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=int)
    if a.ndim != 2:
        raise ValueError(f"expected a [rows, genres] matrix, got shape {a.shape}")
    return a


def _ratio(num: np.ndarray, den: np.ndarray, undefined: float = 0.0) -> np.ndarray:
    """num / den elementwise, ``undefined`` where den is 0 (scikit-learn's ``zero_division``)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, undefined), where=den > 0)


def _nan_average(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean of the defined (not NaN) values, weighted when ``weights`` is given; NaN when none is
    defined or the weights of the defined ones sum to 0 (scikit-learn's averages with
    ``zero_division=np.nan``)."""
    values = np.asarray(values, dtype=float)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=float)
    kept = ~np.isnan(values)
    total = weights[kept].sum()
    return float((values[kept] * weights[kept]).sum() / total) if total > 0 else float("nan")


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 = 2·tp / (2·tp + fp + fn) elementwise, 0 where nothing is true or predicted.

    Args:
        tp, fp, fn: Counts of any (equal or broadcastable) shape.

    Returns:
        Float array of the broadcast shape.
    """
    tp = np.asarray(tp, dtype=float)
    return _ratio(2 * tp, 2 * tp + np.asarray(fp, dtype=float) + np.asarray(fn, dtype=float))


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per-genre 2×2 confusion counts.

    Args:
        y_true: ``[rows, genres]`` 0/1 truth.
        y_pred: ``[rows, genres]`` 0/1 predictions of the same shape.

    Returns:
        ``tp``, ``fp``, ``fn``, ``tn``: int arrays of length ``genres``.

    Raises:
        ValueError: The inputs are not two matrices of one shape.
    """
    y_true, y_pred = _int2d(y_true), _int2d(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"truth {y_true.shape} and predictions {y_pred.shape} differ in shape")
    tp = (y_true & y_pred).sum(axis=0)
    n_pred, n_true = y_pred.sum(axis=0), y_true.sum(axis=0)
    fp, fn = n_pred - tp, n_true - tp
    return {"tp": tp, "fp": fp, "fn": fn, "tn": y_true.shape[0] - tp - fp - fn}


def multilabel_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Every set-based score of a 0/1 prediction matrix (the one implementation).

    Computed from the counts directly, with the multi-label definitions even for a
    one-genre matrix. A genre's precision is not defined when nothing is predicted for it,
    its recall when no row has it, its F1 when neither (tp = fp = fn = 0): the macro and
    weighted averages are taken over the genres where each is defined, as scikit-learn's
    ``zero_division=np.nan`` does (NaN when it is defined for none), rather than counting
    those genres as 0. Elsewhere an undefined ratio counts as 0 (``zero_division=0``): a row
    with no true and no predicted genre scores 0 in the per-sample averages, and micro
    scores with no true and no predicted genre are 0.

    Args:
        y_true: ``[rows, genres]`` 0/1 truth.
        y_pred: ``[rows, genres]`` 0/1 predictions.

    Returns:
        ``{micro,macro,weighted,samples}_{precision,recall,f1}``, ``hamming_loss``,
        ``subset_accuracy`` (exact set match), ``jaccard`` (per-sample mean
        intersection over union), ``micro_jaccard``, ``rows``, and the mean number
        of true and predicted genres per row.

    Raises:
        ValueError: Shapes differ, are not 2-D, or there is no row.
    """
    counts = confusion_counts(y_true, y_pred)
    y_true, y_pred = _int2d(y_true), _int2d(y_pred)
    if y_true.shape[0] == 0:
        raise ValueError("no rows to score")
    out: dict[str, float] = {}
    # Per genre (columns), then averaged three ways.
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    n_pred, n_true = tp + fp, tp + fn
    nan = float("nan")
    genre = {"precision": _ratio(tp, n_pred, nan), "recall": _ratio(tp, n_true, nan),
             "f1": _ratio(2 * tp, 2 * tp + fp + fn, nan)}
    tp_all, fp_all, fn_all = tp.sum(), fp.sum(), fn.sum()
    micro = {"precision": _ratio(tp_all, tp_all + fp_all), "recall": _ratio(tp_all, tp_all + fn_all),
             "f1": f1_from_counts(tp_all, fp_all, fn_all)}
    # Per movie (rows).
    both = y_true & y_pred
    hit, r_pred, r_true = both.sum(axis=1), y_pred.sum(axis=1), y_true.sum(axis=1)
    sample = {"precision": _ratio(hit, r_pred), "recall": _ratio(hit, r_true), "f1": _ratio(2 * hit, r_pred + r_true)}
    for name in ("precision", "recall", "f1"):
        out[f"micro_{name}"] = float(micro[name])
        out[f"macro_{name}"] = _nan_average(genre[name])
        out[f"weighted_{name}"] = _nan_average(genre[name], n_true)
        out[f"samples_{name}"] = float(sample[name].mean())
    out["hamming_loss"] = float((y_true != y_pred).mean()) if y_true.size else 0.0
    out["subset_accuracy"] = float(np.all(y_true == y_pred, axis=1).mean())
    out["jaccard"] = float(_ratio(hit, (y_true | y_pred).sum(axis=1)).mean())
    out["micro_jaccard"] = float(_ratio(tp_all, tp_all + fp_all + fn_all))
    out["rows"] = int(y_true.shape[0])
    out["true_genres_per_row"] = float(r_true.mean())
    out["predicted_genres_per_row"] = float(r_pred.mean())
    return out


def summary_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Headline scores of a 0/1 prediction matrix: `multilabel_scores` cut to `SUMMARY_KEYS`.

    Args:
        y_true: ``[rows, genres]`` 0/1 truth.
        y_pred: ``[rows, genres]`` 0/1 predictions.

    Returns:
        Micro and macro precision/recall/F1 and the Hamming loss.
    """
    scores = multilabel_scores(y_true, y_pred)
    return {key: scores[key] for key in SUMMARY_KEYS}


def micro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Micro-averaged F1 (pooled over every row × genre decision), as in `multilabel_scores`."""
    counts = confusion_counts(y_true, y_pred)
    return float(f1_from_counts(counts["tp"].sum(), counts["fp"].sum(), counts["fn"].sum()))


def ranking_scores(y_true: np.ndarray, probs: np.ndarray) -> dict[str, float | None]:
    """Threshold-free scores: how well the probabilities rank positives above negatives.

    Macro averages are taken over the genres where the score is defined (ROC-AUC needs
    both classes, average precision at least one positive).

    Returns:
        ``micro_average_precision``, ``macro_average_precision``, ``micro_roc_auc``,
        ``macro_roc_auc`` (``None`` when undefined for every genre), and the genres each macro
        average is over: ``macro_average_precision_genres``, ``macro_roc_auc_genres`` (of ``genres``).
    """
    y_true = _int2d(y_true)
    probs = np.asarray(probs, dtype=float)
    ap = [average_precision(y_true[:, j], probs[:, j]) for j in range(y_true.shape[1])]
    auc = [roc_auc(y_true[:, j], probs[:, j]) for j in range(y_true.shape[1])]
    flat_true, flat_prob = y_true.ravel(), probs.ravel()
    return {
        "micro_average_precision": average_precision(flat_true, flat_prob),
        "macro_average_precision": _mean_defined(ap),
        "micro_roc_auc": roc_auc(flat_true, flat_prob),
        "macro_roc_auc": _mean_defined(auc),
        "macro_average_precision_genres": sum(v is not None for v in ap),
        "macro_roc_auc_genres": sum(v is not None for v in auc),
        "genres": int(y_true.shape[1]),
    }


def _mean_defined(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC of one genre; ``None`` (not defined) unless the rows hold both classes."""
    y_true = np.asarray(y_true, dtype=int)
    if np.unique(y_true).size < 2:  # no row, or every row the same: all positive or all negative
        return None
    return float(roc_auc_score(y_true, scores))


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Average precision (area under the precision–recall steps); ``None`` without positives."""
    y_true = np.asarray(y_true, dtype=int)
    if not y_true.any():
        return None
    return float(average_precision_score(y_true, scores))


def per_genre_scores(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    probs: np.ndarray | None,
    labels: list[str],
    thresholds: np.ndarray | float,
) -> list[dict]:
    """One record per genre: precision, recall, F1, support, counts, threshold, ROC-AUC, AP.

    Args:
        y_true: ``[rows, genres]`` 0/1 truth.
        y_pred: ``[rows, genres]`` 0/1 predictions.
        probs: ``[rows, genres]`` probabilities (ROC-AUC and AP are ``None`` without them).
        labels: Genre names, one per column.
        thresholds: The threshold(s) that produced ``y_pred``.

    Returns:
        A list in column order; ``tp``/``fp``/``fn``/``tn`` are the 2×2 confusion counts.
        A score that is not defined is ``None``: precision where nothing is predicted,
        recall where no row has the genre, F1 where neither (tp = fp = fn = 0).
    """
    y_true, y_pred = _int2d(y_true), _int2d(y_pred)
    limits = np.broadcast_to(np.asarray(thresholds, dtype=float), (len(labels),))
    counts = confusion_counts(y_true, y_pred)
    tps, fps, fns, tns = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    out = []
    for j, label in enumerate(labels):
        tp, fp, fn, tn = int(tps[j]), int(fps[j]), int(fns[j]), int(tns[j])
        out.append({
            "genre": label,
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
            "support": int(tp + fn),
            "predicted": int(tp + fp),
            "threshold": float(limits[j]),
            "tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn),
            "roc_auc": None if probs is None else roc_auc(y_true[:, j], probs[:, j]),
            "average_precision": None if probs is None else average_precision(y_true[:, j], probs[:, j]),
        })
    return out


def pr_curve(y_true: np.ndarray, scores: np.ndarray, *, max_points: int | None = 400) -> dict[str, list[float]] | None:
    """Precision–recall curve of one genre (``None`` without positives).

    Args:
        y_true: 0/1 truth of one genre.
        scores: Its probabilities.
        max_points: Keep at most this many points, evenly spaced along the curve with
            both ends kept (enough to draw; bounds the JSON on large files).

    Returns:
        ``precision``, ``recall`` and ``thresholds`` lists of equal length, in order of
        increasing threshold (scikit-learn's final (precision 1, recall 0) point is dropped).
    """
    y_true = np.asarray(y_true, dtype=int)
    if not y_true.any():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, thresholds = precision_recall_curve(y_true, scores)
    precision, recall = precision[:-1], recall[:-1]
    if max_points and len(thresholds) > max_points:
        keep = np.unique(np.linspace(0, len(thresholds) - 1, max_points).round().astype(int))
        precision, recall, thresholds = precision[keep], recall[keep], thresholds[keep]
    return {
        "precision": [round(float(x), 6) for x in precision],
        "recall": [round(float(x), 6) for x in recall],
        "thresholds": [round(float(x), 6) for x in thresholds],
    }


def f1_by_threshold(y_true: np.ndarray, probs: np.ndarray, grid: np.ndarray = THRESHOLD_GRID) -> dict[str, list[float]]:
    """Micro- and macro-F1 with one threshold for every genre, over ``grid``.

    Returns:
        ``thresholds``, ``micro_f1`` and ``macro_f1`` lists of equal length.
    """
    y_true = _int2d(y_true)
    probs = np.asarray(probs, dtype=float)
    micro, macro = [], []
    for t in grid:
        scores = multilabel_scores(y_true, (probs >= t).astype(int))
        micro.append(scores["micro_f1"])
        macro.append(scores["macro_f1"])
    return {"thresholds": [float(t) for t in grid], "micro_f1": micro, "macro_f1": macro}


def confusion_between_genres(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """How often a movie of true genre ``i`` gets predicted genre ``j``.

    Returns:
        ``[genres, genres]`` floats: entry ``(i, j)`` is the fraction of rows with true
        genre ``i`` that were predicted ``j`` (all zeros for a genre no row has).
        The diagonal is each genre's recall; off-diagonal mass shows the confusions.
    """
    y_true, y_pred = _int2d(y_true), _int2d(y_pred)
    counts = y_true.T @ y_pred  # rows of true i predicted j
    support = y_true.sum(axis=0)[:, None]
    return np.divide(counts, support, out=np.zeros(counts.shape, dtype=float), where=support > 0)


def genres_per_row(y: np.ndarray, max_count: int | None = None) -> list[int]:
    """Histogram of genres per row: element ``k`` = rows with exactly ``k`` genres."""
    per_row = _int2d(y).sum(axis=1)
    size = max(int(per_row.max(initial=0)), max_count or 0) + 1
    return [int(c) for c in np.bincount(per_row, minlength=size)]
