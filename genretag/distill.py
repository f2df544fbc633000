"""Distillation: a teacher's probabilities as soft training targets for one student model.

An ensemble tags better than one of its members but costs one backbone pass per member.
`train` with ``config.teacher`` learns from ``alpha * label + (1 - alpha) * p_teacher``
instead of the 0/1 labels, so one model can approach the ensemble at the price of one
pass. Validation, the kept epoch and the thresholds still use the true labels only.

The teacher's probabilities are computed once per (teacher, data file) and cached as
safetensors under ``runs/teacher-cache/``, keyed by the fingerprint of the teacher's
files and of the data, so a rerun or every trial of a `tune` reuses them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from .errors import ModelError
from .rundir import fingerprint as run_fingerprint

logger = logging.getLogger(__name__)

CACHE_DIR = Path("runs") / "teacher-cache"


def soft_targets(labels: np.ndarray, teacher: np.ndarray, alpha: float) -> np.ndarray:
    """``alpha * labels + (1 - alpha) * teacher``; rows or cells the teacher has no value for (NaN) keep the label.

    Args:
        labels: ``[rows, genres]`` 0/1 targets.
        teacher: ``[rows, genres]`` teacher probabilities in [0, 1], NaN where unknown.
        alpha: Weight of the labels, in [0, 1].

    Returns:
        ``[rows, genres]`` float32 targets in [0, 1].
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    mixed = alpha * labels + (1.0 - alpha) * np.nan_to_num(teacher, nan=0.0)
    return np.where(np.isnan(teacher), labels, mixed).astype(np.float32)


def teacher_probabilities(teacher: str | Path, data_path: str | Path, row_ids: list[int], labels: list[str], *,
                          data_fingerprint: str, cache_dir: str | Path = CACHE_DIR,
                          backbone: str | None = None) -> tuple[np.ndarray, dict]:
    """The teacher's probabilities for some rows of a data file, from the cache when it has them.

    The teacher reads each row with its own input columns (its saved ``text_cols``), so a
    student may use another input (title + overview) for the same rows.

    Args:
        teacher: Run or ensemble directory.
        data_path: The CSV the student trains on.
        row_ids: Data-row numbers (0 = first row after the header) wanted.
        labels: The student's genres (columns of the result); matched to the teacher's by name.
        data_fingerprint: sha256 of ``data_path`` (already computed by `training.prepare`).
        cache_dir: Where cached probabilities live.
        backbone: The student's backbone: the teacher's too when the teacher's backbone folder
            is gone (moved), checked as ``tag --backbone`` checks it (the same weights and tokenizer).

    Returns:
        ``([len(row_ids), len(labels)] float32 probabilities, NaN where the teacher has none,
        info dict: teacher name and fingerprint, cache file, rows computed now)``.

    Raises:
        ModelError: The teacher is not a run directory or shares no genre with the student.
    """
    from safetensors.numpy import load_file, save_file

    from .outputs import atomic_path

    teacher = Path(teacher)
    if not teacher.is_dir():
        raise ModelError(f"teacher {teacher} not found; pass a run or ensemble directory")
    t_print = run_fingerprint(teacher)
    key = hashlib.sha256(f"{t_print}:{data_fingerprint}".encode()).hexdigest()[:20]
    cache = Path(cache_dir) / f"{key}.safetensors"
    have_ids, have_probs, t_labels = np.zeros(0, dtype=np.int64), None, None
    if cache.is_file():
        try:
            stored = load_file(str(cache))
            have_ids, have_probs = stored["row_ids"], stored["probs"]
            t_labels = json.loads((cache.with_suffix(".json")).read_text(encoding="utf-8"))["labels"]
        except (OSError, KeyError, ValueError) as exc:
            logger.warning("teacher cache %s unreadable (%s); computing again", cache, exc.__class__.__name__)
            have_ids, have_probs, t_labels = np.zeros(0, dtype=np.int64), None, None
    wanted = np.asarray(row_ids, dtype=np.int64)
    missing = np.setdiff1d(wanted, have_ids)
    computed = 0
    if len(missing):
        new_ids, new_probs, t_labels = _predict_rows(teacher, data_path, missing, backbone)
        computed = len(new_ids)
        have_ids = np.concatenate([have_ids, new_ids])
        have_probs = new_probs if have_probs is None else np.concatenate([have_probs, new_probs])
        order = np.argsort(have_ids, kind="stable")
        have_ids, have_probs = have_ids[order], have_probs[order]
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        with atomic_path(cache, force=True) as tmp:
            save_file({"row_ids": have_ids, "probs": have_probs.astype(np.float32)}, str(tmp))
        meta = {"teacher": teacher.name, "teacher_fingerprint": t_print, "data_fingerprint": data_fingerprint,
                "labels": t_labels}
        with atomic_path(cache.with_suffix(".json"), force=True) as tmp:
            Path(tmp).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    column = {g: j for j, g in enumerate(t_labels or [])}
    if not set(column) & set(labels):
        raise ModelError(f"teacher {teacher} shares no genre with the training data")
    alone = [g for g in labels if g not in column]
    if alone:  # their targets are the file's 0/1 labels only (`soft_targets`)
        logger.warning("teacher %s has no genre %s: the student learns %s from the file's labels alone",
                       teacher.name, ", ".join(alone), "it" if len(alone) == 1 else "them")
    out = np.full((len(wanted), len(labels)), np.nan, dtype=np.float32)
    position = {int(r): i for i, r in enumerate(have_ids)}
    for i, r in enumerate(wanted):
        k = position.get(int(r))
        if k is not None:
            for j, g in enumerate(labels):
                if g in column:
                    out[i, j] = have_probs[k, column[g]]
    info = {"teacher": teacher.name, "teacher_fingerprint": t_print, "teacher_cache": cache.name,
            "teacher_rows_computed": computed, "teacher_rows": int((~np.isnan(out).all(1)).sum())}
    return out, info


def _predict_rows(teacher: Path, data_path, row_ids: np.ndarray,
                  backbone: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Teacher probabilities for the given data rows that the teacher's reading of the file keeps."""
    from .data.labelled import load_labelled
    from .rundir import read_config
    from .runs import backbone_gone, load_run

    gone = read_config(teacher).backbone
    moved = backbone if backbone and backbone_gone(gone) else None
    if moved:
        logger.warning("teacher %s: its backbone folder %s is gone; trying the student's --backbone %s (used only "
                       "if it has the same weights and tokenizer)", teacher.name, gone, moved)
    try:
        run = load_run(teacher, backbone=moved)
    except ModelError as error:
        if not moved:
            raise
        # load_run's own advice (--force-backbone) is not distill's: its --backbone is the student's.
        raise ModelError(f"teacher {teacher.name}: its backbone folder {gone} is gone, and the student's --backbone "
                         f"{moved} is not the model it was trained on ({str(error).split(';')[0]}); put the teacher's "
                         f"backbone back at {gone}, or distil with a --backbone that is the teacher's") from None
    data, _ = load_labelled(data_path, text_cols=run.config.text_cols, genres_col=run.config.genres_col)
    position = {r: i for i, r in enumerate(data.row_ids)}
    kept = np.array([r for r in row_ids if int(r) in position], dtype=np.int64)
    logger.info("teacher %s: predicting %d rows", teacher.name, len(kept))
    probs = run.predict_proba([data.texts[position[int(r)]] for r in kept]) if len(kept) else \
        np.zeros((0, len(run.labels)), dtype=np.float32)
    # Rows the teacher cannot read get no entry and stay NaN (unknown) for the student.
    return kept, np.asarray(probs, dtype=np.float32), list(run.labels)
