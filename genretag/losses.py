"""Losses for imbalanced multi-label training.

The report trained with plain BCE, which learns to say "no" to rare genres; its own
advice was weighting. ``weighted-bce`` up-weights positives by a softened, capped
inverse frequency (full weights make the model over-predict); ``asl`` is the asymmetric
loss of Ridnik et al. (2021), which down-weights easy negatives instead.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .config import LOSSES


def positive_weights(targets: torch.Tensor, *, power: float = 0.5, cap: float = 10.0) -> torch.Tensor:
    """Per-genre ``pos_weight`` = (negatives / positives) ** power, capped.

    Args:
        targets: ``[rows, genres]`` 0/1 training targets.
        power: 1 gives full inverse-frequency weights, 0.5 their square root.
        cap: Upper bound, so a genre with a handful of examples cannot dominate.
    """
    pos = targets.sum(0).clamp(min=1.0)
    neg = (targets.shape[0] - targets.sum(0)).clamp(min=1.0)
    return (neg / pos).pow(power).clamp(min=1.0, max=cap)


def smooth_labels(targets: np.ndarray, eps: float) -> np.ndarray:
    """Label smoothing for independent binary labels: 1 -> 1 - eps/2, 0 -> eps/2 (Szegedy et al., 2016).

    Args:
        targets: ``[rows, genres]`` 0/1 labels.
        eps: Smoothing, in [0, 1); 0 returns the labels unchanged.

    Returns:
        ``[rows, genres]`` float32 targets.
    """
    if not 0 <= eps < 1:
        raise ValueError(f"label smoothing must be in [0, 1), got {eps}")
    return (targets * (1.0 - eps) + eps / 2).astype(np.float32)


def rdrop_divergence(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """R-Drop's consistency term for independent binary labels (Liang et al., 2021): the symmetric KL
    divergence ``(KL(p||q) + KL(q||p)) / 2`` between the Bernoulli distributions of two passes' logits,
    which equals ``(p - q) * (a - b) / 2``; the mean over cells, >= 0.

    Args:
        a, b: ``[rows, genres]`` logits of the same rows under two dropout masks.
    """
    a, b = a.float(), b.float()
    return ((torch.sigmoid(a) - torch.sigmoid(b)) * (a - b)).mean() / 2


class MultiLabelLoss(torch.nn.Module):
    """One module for every training loss, chosen by name; returns the mean over cells."""

    def __init__(self, name: str, pos_weight: torch.Tensor | None = None, gamma: float = 2.0,
                 gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05):
        super().__init__()
        if name not in LOSSES:
            raise ValueError(f"unknown loss '{name}'; choose one of {', '.join(LOSSES)}")
        self.name = name
        self.register_buffer("pos_weight", pos_weight if name == "weighted-bce" else None)
        self.gamma, self.gamma_neg, self.gamma_pos, self.clip = gamma, gamma_neg, gamma_pos, clip

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if self.name in ("bce", "weighted-bce"):
            return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=self.pos_weight)
        if self.name == "focal":
            bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
            p_true = torch.exp(-bce)
            return ((1 - p_true) ** self.gamma * bce).mean()
        # Asymmetric loss: probability shifting (clip) and stronger focusing on negatives.
        p = torch.sigmoid(logits)
        p_neg = (p - self.clip).clamp(min=0) if self.clip > 0 else p
        loss_pos = targets * (1 - p) ** self.gamma_pos * torch.log(p.clamp(min=1e-8))
        loss_neg = (1 - targets) * p_neg**self.gamma_neg * torch.log((1 - p_neg).clamp(min=1e-8))
        return -(loss_pos + loss_neg).mean()
