"""Tokenising and batched prediction: the one path `train`, `evaluate` and `tag` share."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch

logger = logging.getLogger(__name__)


def pick_device(name: str | None = None) -> torch.device:
    """The device to run on: ``name`` if given, else CUDA when present, else CPU."""
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def encode(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Tokenise once, without padding: padding is added per batch by `collate`."""
    if len(texts) == 0:
        return []
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
    return enc["input_ids"]


def collate(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad a batch to its longest row; returns ``(input_ids, attention_mask)``."""
    width = max(len(r) for r in rows)
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


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module,
    encoded: Sequence[Sequence[int]],
    pad_id: int,
    *,
    batch_size: int = 64,
    device: torch.device | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Logits ``[rows, genres]`` in input order for already tokenised rows.

    Args:
        model: A `GenreTagger`.
        encoded: Token ids per row (from `encode`).
        pad_id: The tokenizer's pad id.
        batch_size: Rows per forward pass.
        device: Where to run (default: where the model is).
        on_batch: Called with the number of rows done after each batch (progress bars).
    """
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    n_labels = model.head.out_features
    out = np.zeros((len(encoded), n_labels), dtype=np.float32)
    for idx in length_sorted_batches([len(r) for r in encoded], batch_size):
        ids, mask = collate([encoded[i] for i in idx], pad_id)
        logits = model(ids.to(device), mask.to(device))
        out[idx] = logits.float().cpu().numpy()
        if on_batch:
            on_batch(len(idx))
    model.train(was_training)
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def decide(probs: np.ndarray, thresholds: np.ndarray | float, *, at_least_one: bool = False, max_genres: int | None = None) -> np.ndarray:
    """Turn probabilities into 0/1 genre decisions.

    Args:
        probs: ``[rows, genres]`` probabilities.
        thresholds: One threshold, or one per genre.
        at_least_one: Give each row its most likely genre when none passes.
        max_genres: Keep at most this many genres per row (the most likely ones).
    """
    probs = np.asarray(probs)
    chosen = probs >= np.asarray(thresholds)
    if max_genres is not None and probs.shape[0]:
        rank = np.argsort(np.argsort(-probs, axis=1, kind="stable"), axis=1, kind="stable")
        chosen &= rank < max_genres
    if at_least_one and probs.shape[0] and probs.shape[1]:
        empty = ~chosen.any(axis=1)
        chosen[empty, probs[empty].argmax(axis=1)] = True
    return chosen.astype(np.int8)
