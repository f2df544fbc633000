"""The decision rule: how probabilities become genres, tuned on validation and saved with a run.

One `DecisionRule` holds the three parts of the rule every command applies: a threshold
per genre, the at-least-one rule (a movie with no genre past its threshold gets its most
likely one) and a cap on genres per movie. Training tunes it, a run saves it, `tag`,
`evaluate` and `Run.predict` apply it, and bf16+fp32 prediction asks it which rows sit
near a boundary (`DecisionRule.unsure`).

Thresholds are tuned for micro-F1. The report used a fixed 0.5, which made it
conservative (recall 0.52); a global threshold tuned for micro-F1 fixes most of that.
Per-genre thresholds help rare genres but overfit a validation split with few positives,
so each genre's own optimum is shrunk toward the global one in proportion to its
positives, and genres with fewer than ``min_positives`` keep the global threshold.

Torch-free (numpy only), so that a rule can be read, tuned and applied without a model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .config import THRESHOLD_MODES as MODES
from .errors import ModelError
from .rundir import CONFIG_FILE, LABELS_FILE, THRESHOLDS_FILE, dump_json, read_json

GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)
#: Decimal places of a threshold. `DecisionRule.tune` rounds to them and ``thresholds.json``
#: holds them, so the rule scored in training is exactly the one a run ships with.
DIGITS = 4
#: Per-genre mode: a genre with fewer validation positives than this keeps the global threshold.
MIN_POSITIVES = 5


@dataclass(frozen=True, eq=False)
class DecisionRule:
    """Per-genre thresholds plus the at-least-one and max-genres rules.

    Raises:
        ValueError: Thresholds that are not one number in [0, 1] per genre, or
            ``max_genres`` below 1.
    """

    thresholds: np.ndarray
    """``[genres]`` float64 thresholds; a genre is chosen when its probability reaches its threshold."""
    at_least_one: bool = False
    """Give a row its most likely genre when no genre passes its threshold."""
    max_genres: int | None = None
    """Keep at most this many genres per row (the most likely ones); None: no limit."""

    def __post_init__(self):
        limits = np.array(self.thresholds, dtype=float)  # a copy: the caller's array stays theirs
        if limits.ndim != 1 or not np.all((limits >= 0) & (limits <= 1)):
            raise ValueError(f"thresholds must be one number in [0, 1] per genre, got {self.thresholds!r}")
        if self.max_genres is not None and self.max_genres < 1:
            raise ValueError(f"max_genres must be at least 1, got {self.max_genres}")
        limits.flags.writeable = False
        object.__setattr__(self, "thresholds", limits)  # frozen: how a dataclass sets its own field
        object.__setattr__(self, "at_least_one", bool(self.at_least_one))

    @classmethod
    def fixed(cls, threshold: float, genres: int, *, at_least_one: bool = False,
              max_genres: int | None = None) -> DecisionRule:
        """The same ``threshold`` for each of ``genres`` genres (e.g. the plain 0.5 of reports)."""
        return cls(np.full(genres, float(threshold)), at_least_one, max_genres)

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Turn probabilities into decisions.

        Args:
            probs: ``[rows, genres]`` probabilities.

        Returns:
            ``[rows, genres]`` int8 0/1 decisions: a genre passes at ``probs >= threshold``;
            then max-genres keeps the most likely (ties: the first genre), and at-least-one
            gives a row without any genre its most likely one.
        """
        probs = np.asarray(probs)
        chosen = probs >= self.thresholds
        if self.max_genres is not None and probs.shape[0]:
            rank = np.argsort(np.argsort(-probs, axis=1, kind="stable"), axis=1, kind="stable")
            chosen &= rank < self.max_genres
        if self.at_least_one and probs.shape[0] and probs.shape[1]:
            empty = ~chosen.any(axis=1)
            chosen[empty, probs[empty].argmax(axis=1)] = True
        return chosen.astype(np.int8)

    def unsure(self, probs: np.ndarray, margin: float) -> np.ndarray:
        """Rows whose `apply` result could change if any probability moved by less than ``margin``.

        A row is sure when every probability is at least ``margin`` from its threshold and,
        for the at-least-one and max-genres rules, the genres they rank are at least
        ``2 * margin`` apart where the ranking matters. (bf16+fp32 prediction recomputes
        the unsure rows in fp32.)

        Args:
            probs: ``[rows, genres]`` probabilities.
            margin: The largest error of a probability to allow for.

        Returns:
            ``[rows]`` bool, True where the decision could flip.
        """
        probs = np.asarray(probs)
        # In the probabilities' own precision: that is what their error is measured in.
        limits = np.broadcast_to(np.asarray(self.thresholds, dtype=probs.dtype if probs.size else float), probs.shape)
        near = (np.abs(probs - limits) < margin).any(axis=1)
        if probs.shape[0] and probs.shape[1] > 1 and (self.at_least_one or self.max_genres is not None):
            top = -np.sort(-probs, axis=1)
            if self.at_least_one:
                none_sure = ~(probs >= limits + margin).any(axis=1)
                near |= none_sure & (top[:, 0] - top[:, 1] < 2 * margin)
            if self.max_genres is not None and self.max_genres < probs.shape[1]:
                near |= top[:, self.max_genres - 1] - top[:, self.max_genres] < 2 * margin
        return near

    def with_overrides(self, threshold: float | np.ndarray | None = None, at_least_one: bool | None = None,
                       max_genres: int | None = None) -> DecisionRule:
        """This rule with some parts replaced (None keeps a part as it is).

        Args:
            threshold: One threshold for every genre, or one per genre.
            at_least_one: The at-least-one rule.
            max_genres: The most genres per row.
        """
        changes = {}
        if threshold is not None:
            changes["thresholds"] = np.broadcast_to(np.asarray(threshold, dtype=float), self.thresholds.shape)
        if at_least_one is not None:
            changes["at_least_one"] = at_least_one
        if max_genres is not None:
            changes["max_genres"] = max_genres
        return replace(self, **changes) if changes else self

    @classmethod
    def tune(
        cls,
        y_true: np.ndarray,
        probs: np.ndarray,
        mode: str = "per-genre",
        *,
        fixed: float = 0.5,
        at_least_one: bool = False,
        max_genres: int | None = None,
        min_positives: int = MIN_POSITIVES,
        shrink: float = 10.0,
        grid: np.ndarray = GRID,
    ) -> DecisionRule:
        """The rule with thresholds tuned for micro-F1 on validation truth and probabilities.

        Args:
            y_true: ``[rows, genres]`` 0/1 validation truth.
            probs: ``[rows, genres]`` validation probabilities.
            mode: ``fixed`` (all ``fixed``), ``global`` or ``per-genre``.
            fixed: The threshold for ``fixed`` mode.
            at_least_one: The at-least-one rule of the result (thresholds are tuned without it).
            max_genres: The max-genres rule of the result (thresholds are tuned without it).
            min_positives: Genres with fewer validation positives keep the global threshold.
            shrink: Pseudo-count k: a genre with n positives gets n/(n+k) of its own optimum.
            grid: Candidate thresholds.

        Returns:
            A rule whose thresholds are rounded to `DIGITS` decimals (as saved).

        Raises:
            ValueError: An unknown ``mode``.
        """
        from .metrics import f1_from_counts  # here: importing the rule needs numpy only

        if mode not in MODES:
            raise ValueError(f"unknown threshold mode '{mode}'; choose one of {', '.join(MODES)}")
        rule = {"at_least_one": at_least_one, "max_genres": max_genres}
        n_genres = probs.shape[1]
        if mode == "fixed" or len(y_true) == 0:
            return cls(np.full(n_genres, round(float(fixed), DIGITS)), **rule)
        glob = best_global(y_true, probs, grid)
        out = np.full(n_genres, glob)
        if mode == "global":
            return cls(out.round(DIGITS), **rule)
        y = y_true.astype(bool)
        for j in range(n_genres):
            n_pos = int(y[:, j].sum())
            if n_pos < min_positives:
                continue
            pred = probs[:, j][None, :] >= grid[:, None]
            tp = (pred & y[:, j]).sum(1)
            f1 = f1_from_counts(tp, (pred & ~y[:, j]).sum(1), (~pred & y[:, j]).sum(1))
            best = np.flatnonzero(f1 >= f1.max() - 1e-12)
            own = grid[best[np.argmin(np.abs(grid[best] - glob))]]
            weight = n_pos / (n_pos + shrink)
            out[j] = weight * own + (1 - weight) * glob
        return cls(out.round(DIGITS), **rule)

    @classmethod
    def tune_for(cls, config, y_true: np.ndarray, probs: np.ndarray) -> DecisionRule:
        """`tune` the way a training config says: its threshold mode, fixed threshold and rules.

        Args:
            config: A `genretag.config.TrainConfig` (``thresholds``, ``threshold``,
                ``at_least_one``, ``max_genres``).
            y_true, probs: As `tune`.
        """
        return cls.tune(y_true, probs, config.thresholds, fixed=config.threshold, at_least_one=config.at_least_one,
                        max_genres=config.max_genres)

    @classmethod
    def load(cls, run_dir: str | Path, *, labels: list[str] | None = None, config=None) -> DecisionRule:
        """The rule of a run directory.

        Thresholds come from ``thresholds.json`` (genre → threshold; a genre it does not
        list, or a run without the file, gets the config's fixed ``threshold``), the
        at-least-one and max-genres rules from the run's config.

        Args:
            run_dir: The run directory.
            labels: The run's genres in column order (default: its ``labels.json``).
            config: The run's `genretag.config.TrainConfig` (default: read from its ``config.json``).

        Raises:
            ModelError: ``thresholds.json`` is corrupt or holds a value outside [0, 1]; a
                run file read here is missing or corrupt.
        """
        run_dir = Path(run_dir)
        if labels is None:
            labels = read_json(run_dir / LABELS_FILE)
        if config is None:
            from .config import TrainConfig

            config = TrainConfig.from_dict(read_json(run_dir / CONFIG_FILE))
        rule = {"at_least_one": config.at_least_one, "max_genres": config.max_genres}
        default = config.threshold
        file = run_dir / THRESHOLDS_FILE
        if not file.exists():
            return cls.fixed(default, len(labels), **rule)
        saved = read_json(file)
        try:
            if not isinstance(saved, dict):
                raise TypeError
            # float64: the values are the decimals written in the file, which is what a user
            # re-applying thresholds.json to the written scores compares with.
            values = np.array([float(saved.get(label, default)) for label in labels], dtype=float)
        except (TypeError, ValueError):
            raise ModelError(f"{file} must map each genre to a number between 0 and 1; train the run again") from None
        if not np.all((values >= 0) & (values <= 1)):
            raise ModelError(f"{file} has thresholds outside [0, 1]; train the run again")
        return cls(values, **rule)

    def save(self, run_dir: str | Path, labels: list[str]) -> None:
        """Write ``thresholds.json`` (genre → threshold, `DIGITS` decimals) into ``run_dir``.

        The at-least-one and max-genres rules are part of the run's config and are
        written with it (``config.json``).
        """
        dump_json(Path(run_dir) / THRESHOLDS_FILE,
                  {label: round(float(t), DIGITS) for label, t in zip(labels, self.thresholds)})


def best_global(y_true: np.ndarray, probs: np.ndarray, grid: np.ndarray = GRID) -> float:
    """The single threshold that maximises micro-F1 (ties: the one closest to 0.5)."""
    from .metrics import f1_from_counts

    y = y_true.astype(bool)
    scores = []
    for t in grid:
        pred = probs >= t
        tp = np.sum(pred & y)
        scores.append(f1_from_counts(tp, np.sum(pred & ~y), np.sum(~pred & y)))
    scores = np.array(scores)
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(grid[best[np.argmin(np.abs(grid[best] - 0.5))]])


def finite_scores(probs: np.ndarray, run_path: str | Path) -> np.ndarray:
    """``probs`` (``[rows, genres]``), checked: a model whose weights hold NaN or infinity (a training
    that diverged) gives NaN for every row, which a threshold would read as no genre, or as the
    at-least-one rule's first genre.

    Raises:
        ModelError: A score is not a finite number.
    """
    probs = np.asarray(probs)
    if probs.size and not np.isfinite(probs).all():
        bad = int((~np.isfinite(probs)).any(axis=1).sum())
        raise ModelError(f"{run_path} gives no score (NaN) for {bad} of {len(probs)} synopses: its weights hold NaN or "
                         "infinity, as after a training that diverged; train it again with a lower --lr")
    return probs
