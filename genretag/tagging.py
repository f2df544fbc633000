"""Tagging CSV files: read in chunks, predict, append genre columns, write atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from . import data as data_mod
from .errors import DataError
from .outputs import atomic_path
from .predict import decide
from .runs import Run

logger = logging.getLogger(__name__)

GENRES_COLUMN = "predicted_genres"
SCORE_PREFIX = "score_"
# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class TagSummary:
    """What `tag_csv` did."""

    source: Path
    output: Path
    rows: int = 0
    tagged: int = 0
    empty_text: int = 0
    seconds: float = 0.0
    genres_column: str = GENRES_COLUMN
    genre_counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        """Throughput over the whole command (reading, predicting, writing)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def default_output(path: str | Path) -> Path:
    """``movies.csv`` → ``movies.tagged.csv`` beside the input."""
    path = Path(path)
    return path.with_name(f"{path.stem}.tagged{path.suffix or '.csv'}")


def free_column(columns, base: str) -> str:
    """``base``, or ``base_2``, ``base_3`` ... whichever is not already a column."""
    existing = set(columns)
    name, n = base, 1
    while name in existing:
        n += 1
        name = f"{base}_{n}"
    return name


def safe_cell(text: str) -> str:
    """Quote a value genretag writes so that no spreadsheet runs it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def tag_csv(
    run: Run,
    path: str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
    text_cols: list[str] | None = None,
    thresholds: np.ndarray | float | None = None,
    at_least_one: bool | None = None,
    max_genres: int | None = None,
    scores: bool = True,
    chunksize: int = 10_000,
    on_rows: Callable[[int], None] | None = None,
) -> TagSummary:
    """Tag every row of a CSV with genres; all input columns and the row order are kept.

    Args:
        run: A loaded run (`genretag.runs.load_run`).
        path: Input CSV.
        out: Output CSV (default ``<input>.tagged.csv``).
        force: Overwrite an existing output.
        text_cols: Text columns to join (default: detected).
        thresholds: Override the run's thresholds (one value or one per genre).
        at_least_one: Give each row with a synopsis its most likely genre when none passes
            (default: the run's setting).
        max_genres: At most this many genres per row (default: the run's setting).
        scores: Add a ``score_<genre>`` column per genre.
        chunksize: Rows read, predicted and written at a time (bounds memory).
        on_rows: Called with the number of rows finished after each chunk.

    Returns:
        A `TagSummary`.
    """
    path = Path(path)
    out = Path(out) if out else default_output(path)
    if out.resolve() == path.resolve():
        raise DataError(f"output {out} is the input file; choose another --out")
    limits = run.thresholds if thresholds is None else thresholds
    at_least_one = run.config.at_least_one if at_least_one is None else at_least_one
    max_genres = run.config.max_genres if max_genres is None else max_genres
    summary = TagSummary(source=path, output=out)
    counts = np.zeros(len(run.labels), dtype=np.int64)
    t0 = time.perf_counter()
    with atomic_path(out, force=force) as tmp:
        cols = None
        for i, chunk in enumerate(data_mod.iter_csv_chunks(path, chunksize=chunksize)):
            if cols is None:
                cols, _ = data_mod.detect_columns(list(chunk.columns), text_cols=text_cols, need_genres=False)
                summary.genres_column = free_column(chunk.columns, GENRES_COLUMN)
                score_names = [free_column(chunk.columns, SCORE_PREFIX + label) for label in run.labels]
            texts = data_mod.join_text(chunk, cols)
            has_text = (texts.str.len() > 0).to_numpy()
            probs = np.full((len(chunk), len(run.labels)), np.nan, dtype=np.float32)
            if has_text.any():
                probs[has_text] = run.predict_proba(texts[has_text].tolist())
            chosen = decide(np.nan_to_num(probs, nan=0.0), limits, at_least_one=at_least_one, max_genres=max_genres)

            chosen[~has_text] = 0
            counts += chosen.sum(axis=0)
            chunk = chunk.copy()
            chunk[summary.genres_column] = [
                safe_cell("|".join(run.labels[j] for j in np.flatnonzero(row))) for row in chosen
            ]
            if scores:
                rounded = np.round(probs, 4)
                for j, name in enumerate(score_names):
                    chunk[name] = rounded[:, j]
            chunk.to_csv(tmp, mode="w" if i == 0 else "a", header=i == 0, index=False)
            summary.rows += len(chunk)
            summary.tagged += int(has_text.sum())
            summary.empty_text += int((~has_text).sum())
            if on_rows:
                on_rows(len(chunk))
        if cols is None:
            raise DataError(f"{path} has a header but no rows; nothing to tag")
    summary.seconds = time.perf_counter() - t0
    summary.genre_counts = {label: int(c) for label, c in zip(run.labels, counts)}
    return summary
