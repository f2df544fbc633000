"""Tokenising and batching: token ids without padding, batches padded to their own longest row.

Shared by training (`bucketed_batches`: shuffled, similar lengths) and prediction
(`length_sorted_batches`: longest first, results scattered back to input order).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def encode(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Tokenise once, without padding: padding is added per batch by `collate`."""
    if len(texts) == 0:
        return []
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
    return enc["input_ids"]


def padded_width(longest: int, step: int | None) -> int:
    """The width a batch whose longest row has ``longest`` tokens is padded to.

    ``step=None``: ``longest`` (dynamic padding); else ``longest`` rounded up to a multiple
    of ``step``, so that batches come in a few fixed shapes that compiled graphs and CUDA
    graphs are reused for (`genretag.device.FIXED_WIDTH_STEP`).
    """
    if step is None or longest <= 0:
        return longest
    return -(-longest // step) * step


def collate(rows: Sequence[Sequence[int]], pad_id: int, *, width_step: int | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad a batch to its longest row (rounded up to a multiple of ``width_step`` when
    given, see `padded_width`); returns ``(input_ids, attention_mask)``, both ``[rows, width]``."""
    width = padded_width(max(len(r) for r in rows), width_step)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Index batches of rows sorted by length, longest first.

    Sorting means each batch pads to a length close to its own rows', which on CPU
    is most of the speed; callers scatter results back to input order.
    """
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def bucketed_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator, pool: int = 50) -> list[np.ndarray]:
    """Shuffled training batches whose rows have similar lengths.

    Rows are shuffled, cut into pools of ``pool`` batches, sorted by length inside a
    pool and batched; the batch order is shuffled again. Every row is seen once per
    epoch, as with a plain shuffle, but with much less padding.
    """
    order = rng.permutation(len(lengths))
    lengths = np.asarray(lengths)
    batches = []
    step = batch_size * pool
    for start in range(0, len(order), step):
        chunk = order[start : start + step]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches
