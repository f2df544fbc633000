"""Multi-label scores computed from 0/1 matrices and probabilities."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score, hamming_loss, precision_score, recall_score


def summary_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Headline scores of a 0/1 prediction matrix against the truth.

    Args:
        y_true: ``[rows, genres]`` 0/1 truth.
        y_pred: ``[rows, genres]`` 0/1 predictions.

    Returns:
        Micro and macro precision/recall/F1 and the Hamming loss.
    """
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    out = {}
    for avg in ("micro", "macro"):
        out[f"{avg}_precision"] = float(precision_score(y_true, y_pred, average=avg, zero_division=0))
        out[f"{avg}_recall"] = float(recall_score(y_true, y_pred, average=avg, zero_division=0))
        out[f"{avg}_f1"] = float(f1_score(y_true, y_pred, average=avg, zero_division=0))
    out["hamming_loss"] = float(hamming_loss(y_true, y_pred))
    return out


def micro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Micro-averaged F1 (pooled over every row × genre decision)."""
    return float(f1_score(np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int), average="micro", zero_division=0))
