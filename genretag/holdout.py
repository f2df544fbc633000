"""Test rows taken from another run's split, so that a model trained on more data keeps its test set.

The bundled model learns from every usable row of the data file except the reference
protocol's 750 test rows; ``genretag train --test-from RUN`` reads those rows from the
protocol run's ``split.json`` and checks that the data file is the one it was made from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import DataError

SPLIT_FILE = "split.json"  # the same name as runs.SPLIT_FILE; runs imports torch, this module must not


def held_out_rows(source: str | Path, data: str | Path) -> list[int]:
    """The test row ids saved in a run's ``split.json``, checked against ``data``.

    Args:
        source: A run directory or a ``split.json`` file.
        data: The CSV about to be trained on; its fingerprint must equal the saved one.

    Returns:
        Sorted data-row numbers (0 = first row after the header) of the saved test split.

    Raises:
        DataError: ``source`` has no readable split, no test rows, or was made from another file.
    """
    from .data.splits import file_fingerprint

    path = Path(source)
    if path.is_dir():
        path = path / SPLIT_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"--test-from: {path} not found; pass a run directory or its {SPLIT_FILE}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"--test-from: cannot read {path} as a run's {SPLIT_FILE} ({exc.__class__.__name__}); pass a "
                        f"run directory or its {SPLIT_FILE}") from None
    rows = saved.get("test") if isinstance(saved, dict) else None
    if not rows or not all(isinstance(r, int) and r >= 0 for r in rows):
        raise DataError(f"--test-from: {path} lists no test rows")
    fingerprint = file_fingerprint(data)
    if saved.get("fingerprint") != fingerprint:
        raise DataError(
            f"--test-from: {path} was made from another data file (fingerprint {str(saved.get('fingerprint'))[:12]}, "
            f"{Path(data).name} has {fingerprint[:12]}); its row numbers do not apply"
        )
    return sorted(set(rows))


def split_around(row_ids: list[int], genres: list[list[str]], test_rows: list[int], *,
                 ratios: tuple[float, float, float], seed: int) -> dict[str, np.ndarray]:
    """Train / validation / test positions with the test split fixed to ``test_rows``.

    The other rows are split into train and validation (multi-label-aware, as
    `data.split_indices`) in the ratio ``ratios[0] : ratios[1]``.

    Args:
        row_ids: Data-row number of each usable row (``LabelledData.row_ids``).
        genres: Genres of each usable row.
        test_rows: Data-row numbers of the test split.
        ratios: Split fractions; the third is ignored.
        seed: Seed of the train / validation split.

    Raises:
        DataError: A test row is not a usable row of the data.
    """
    from .data.splits import split_indices

    position = {r: i for i, r in enumerate(row_ids)}
    missing = [r for r in test_rows if r not in position]
    if missing:
        raise DataError(f"{len(missing)} of the {len(test_rows)} test rows are not usable rows of the data "
                        f"(e.g. row {missing[0]}); was the split made with other --text-col/--genres-col?")
    test = np.array(sorted(position[r] for r in test_rows), dtype=int)
    rest = np.setdiff1d(np.arange(len(row_ids)), test)
    train_share = ratios[0] / (ratios[0] + ratios[1])
    inner = split_indices([genres[i] for i in rest], ratios=(train_share, 1.0 - train_share, 0.0), seed=seed)
    return {"train": rest[inner["train"]], "validation": rest[inner["validation"]], "test": test}
