"""Batched prediction: the one path `train`, `evaluate` and `tag` share, and its choice of arithmetic.

`predict_logits` runs a model over tokenised rows; `Predictor` chooses the arithmetic
(fp32, bf16, int8, or a fast one with the rows near a decision boundary again in fp32)
with a parity check against fp32. Tokenising and batching are `genretag.batching`'s, what
the hardware offers is `genretag.device`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .batching import collate, length_sorted_batches
from .config import PREDICT_PRECISIONS, PRECISIONS  # noqa: F401 - PRECISIONS: importers of predict
from .decision import DecisionRule
from .device import autocast, fast_precision, fixed_width_step, no_bf16_reason
from .errors import ConfigError, first_line

logger = logging.getLogger(__name__)

#: Arithmetic of the forward pass: ``auto`` (bf16 where the hardware has it, else int8 on a
#: CPU, when it keeps parity with fp32), ``fp32``, ``bf16`` or ``int8`` (forced, no parity check).
#: Parity of bf16 (or int8) with fp32, checked on a sample of the rows before bf16 is used: every
#: probability within PARITY_TOLERANCE and the same decisions on PARITY_AGREEMENT of rows,
#: on PARITY_STAGES[0] rows, or on PARITY_STAGES[1] when the first is just short of the bar.
PARITY_STAGES = (256, 1024)
PARITY_TOLERANCE = 1e-2
PARITY_AGREEMENT = 0.99
#: int8 is first tried on PARITY_PROBE rows: quantisation error depends on the model (the
#: bundled MiniLM's probabilities move by 0.3 where bf16's move by 0.008), and a model it
#: cannot serve is told apart there, at little cost, when the error is over
#: PROBE_FACTOR x PARITY_TOLERANCE.
PARITY_PROBE = 32
PROBE_FACTOR = 3
#: ``auto`` predicts in bf16 and recomputes in fp32 the rows with a probability within
#: PARITY_TOLERANCE of a decision boundary (see `DecisionRule.unsure`), unless more than this
#: share of the checked rows are that close (then fp32 alone is about as fast).
MAX_REFINED_SHARE = 0.5
#: `PrecisionChoice.precision` of that mixed arithmetic (``int8+fp32`` for int8).
MIXED = "bf16+fp32"


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module,
    encoded: Sequence[Sequence[int]],
    pad_id: int,
    *,
    batch_size: int = 64,
    device: torch.device | None = None,
    on_batch: Callable[[int], None] | None = None,
    precision: str = "fp32",
    width_step: int | None = None,
) -> np.ndarray:
    """Logits ``[rows, genres]`` in input order for already tokenised rows.

    Args:
        model: A `GenreModel`.
        encoded: Token ids per row (from `genretag.batching.encode`).
        pad_id: The tokenizer's pad id.
        batch_size: Rows per forward pass.
        device: Where to run (default: where the model is).
        on_batch: Called with the number of rows done after each batch (progress bars).
        precision: ``fp32``, ``bf16`` (autocast) or ``int8`` (``model`` is already a
            `genretag.precision.quantize_int8` copy; run as it is); `Predictor` resolves ``auto``.
        width_step: Pad each batch to a multiple of this many tokens (`padded_width`);
            None pads to the batch's longest row. The logits are the same either way.
    """
    if precision not in ("fp32", "bf16", "int8"):
        raise ValueError(f"precision must be fp32, bf16 or int8 here, got '{precision}'; resolve auto with Predictor")
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    n_labels = model.num_labels
    out = np.zeros((len(encoded), n_labels), dtype=np.float32)
    for idx in length_sorted_batches([len(r) for r in encoded], batch_size):
        ids, mask = collate([encoded[i] for i in idx], pad_id, width_step=width_step)
        with autocast(device, precision):
            logits = model(ids.to(device), mask.to(device))
        out[idx] = logits.float().cpu().numpy()
        if on_batch:
            on_batch(len(idx))
    model.train(was_training)
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class PrecisionChoice:
    """The arithmetic `Predictor` settled on, and the parity evidence for it."""

    precision: str
    """fp32, bf16, int8, or bf16+fp32 / int8+fp32 (rows near a decision boundary again in fp32)."""
    reason: str
    """Why, in a few words (for logs and benchmarks)."""
    rows: int = 0
    """Rows compared in the parity check (0: no check ran)."""
    max_prob_diff: float | None = None
    """Largest |bf16 (or int8) - fp32| probability over the compared rows."""
    agreement: float | None = None
    """Share of compared rows whose decisions are the same in the chosen arithmetic and fp32."""
    refined: float | None = None
    """bf16+fp32 / int8+fp32: share of compared rows recomputed in fp32."""

    def why_fp32(self, fast: str = "bf16") -> str:
        """The parity check's failed condition, in words (for a choice of fp32 after a check of ``fast``)."""
        n = f"{self.rows} checked rows"
        if self.max_prob_diff is not None and self.max_prob_diff > PARITY_TOLERANCE:
            return f"{fast} moved probabilities by up to {self.max_prob_diff:.4f} on {n} (limit {PARITY_TOLERANCE})"
        if self.refined is not None and self.refined > MAX_REFINED_SHARE:
            return (f"{self.refined:.0%} of {n} have a probability within {PARITY_TOLERANCE} of a decision "
                    f"boundary, too many to recompute in fp32 (limit {MAX_REFINED_SHARE:.0%})")
        if self.agreement is not None and self.agreement < PARITY_AGREEMENT:
            return f"{fast} changed the genres of {1 - self.agreement:.1%} of {n} (limit {1 - PARITY_AGREEMENT:.0%})"
        return self.reason

    @property
    def forward(self) -> str:
        """The precision of the main forward pass (fp32, bf16 or int8)."""
        return self.precision.split("+")[0]


class Predictor:
    """Batched prediction whose precision is chosen once, on the first large enough call.

    With ``precision="auto"`` a faster arithmetic is used only where the hardware has it
    and a parity check passes: bf16 where it is native (`bf16_supported`), else int8
    dynamic quantisation on a CPU (`genretag.precision`). Rows spread evenly over the
    input are predicted in fp32 and in the fast arithmetic, and every probability must be
    within `PARITY_TOLERANCE`. Given ``unsure_fn`` (which rows are within a margin of a
    decision boundary), the arithmetic is then mixed (``bf16+fp32`` / ``int8+fp32``):
    every row in the fast arithmetic, and the rows with a probability within the
    tolerance of a boundary again in fp32, so decisions are fp32's wherever the fast
    arithmetic's error (as the check measured it) could have changed them; it is kept
    when those rows are at most `MAX_REFINED_SHARE` of the checked ones and its decisions
    agree with fp32 on at least `PARITY_AGREEMENT` of them. Without ``unsure_fn``, the
    plain fast arithmetic must reach that agreement. Otherwise fp32 is used, with a
    warning. The check starts on 256 rows (int8: a probe of `PARITY_PROBE` rows first)
    and extends to 1,024 when the agreement is just short of the bar, so sampling noise
    alone rarely decides. The compared rows' results are kept, so the check costs one
    extra fp32 pass over them. Calls with fewer rows than the first stage run in fp32 and
    leave the choice open.

    Decisions are judged on what the caller decides on: ``finish(probs, rows)`` turns the
    model's probabilities for ``rows`` (positions in the call's input) into those, e.g. a
    blend with another model; ``decide_fn`` and ``unsure_fn`` see its output.
    """

    stages = PARITY_STAGES

    def __init__(self, model: torch.nn.Module, pad_id: int, *, precision: str = "auto",
                 device: torch.device | None = None, decide_fn: Callable[[np.ndarray], np.ndarray] | None = None,
                 unsure_fn: Callable[[np.ndarray, float], np.ndarray] | None = None):
        if precision not in PREDICT_PRECISIONS:
            raise ValueError(f"unknown precision '{precision}'; choose {', '.join(PREDICT_PRECISIONS)}")
        self.model = model
        self.pad_id = pad_id
        self.device = device or next(model.parameters()).device
        self.decide_fn = decide_fn or (lambda probs: DecisionRule.fixed(0.5, probs.shape[1]).apply(probs))
        self.unsure_fn = unsure_fn
        self.requested = precision
        self.choice: PrecisionChoice | None = None
        self._int8_model: torch.nn.Module | None = None
        #: The arithmetic ``auto`` checks against fp32 (bf16 or int8).
        self.fast = precision if precision in ("bf16", "int8") else fast_precision(self.device)
        if precision == "int8" and self.device.type != "cpu":
            # The user's choice (tag --precision int8 on a GPU machine), not a bug: a ConfigError.
            raise ConfigError("precision", f"int8 runs on a CPU only, not on {self.device.type}; use bf16 or fp32")
        if precision != "auto":
            self.choice = PrecisionChoice(precision, "requested")
        elif self.fast is None:
            self.choice = PrecisionChoice("fp32", f"{no_bf16_reason(self.device)}; int8 runs on a CPU only")
        if self.fast == "int8" and self.choice is None:
            self.stages = (PARITY_PROBE, *PARITY_STAGES)

    def _run(self, rows, precision: str, batch_size: int, on_batch=None) -> np.ndarray:
        model = self.model
        if precision == "int8":
            if self._int8_model is None:
                from .precision import quantize_int8

                self._int8_model = quantize_int8(self.model)
            model = self._int8_model
        try:
            return predict_logits(model, rows, self.pad_id, batch_size=batch_size, device=self.device,
                                  on_batch=on_batch, precision=precision, width_step=fixed_width_step(self.device))
        except torch.cuda.OutOfMemoryError:
            raise
        except RuntimeError as exc:
            if precision == "fp32" or self.requested == "auto":
                raise  # auto falls back to fp32 (`logits`)
            # --precision bf16 with a backbone whose code fails in it (DeBERTa's masks under bf16 autocast)
            raise ConfigError("precision", f"{precision} fails with this backbone ({first_line(exc)}); use "
                                           "--precision fp32 (or auto, which falls back to fp32)") from None

    def logits(self, encoded: Sequence[Sequence[int]], *, batch_size: int = 64,
               on_batch: Callable[[int], None] | None = None,
               finish: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
               unsure_fn: Callable[[np.ndarray, float], np.ndarray] | None = None) -> np.ndarray:
        """Logits ``[rows, genres]`` in input order (see `predict_logits`).

        ``finish`` and ``unsure_fn`` (default: the predictor's) are described in the class
        docstring; ``unsure_fn`` here lets a call protect other thresholds than the run's.
        """
        finish = finish or (lambda probs, rows: probs)
        unsure_fn = unsure_fn or self.unsure_fn
        run = lambda rows, precision, progress=None: self._run(rows, precision, batch_size, progress)  # noqa: E731
        if self.choice is not None:
            if "+" in self.choice.precision:
                return self._mixed(encoded, np.arange(len(encoded)), run, finish, unsure_fn, on_batch, self.fast)
            return run(encoded, self.choice.precision, on_batch)
        if len(encoded) < self.stages[0]:
            return run(encoded, "fp32", on_batch)
        sample, fp32, fast = np.zeros(0, dtype=int), None, None
        for stage in self.stages:
            size = min(stage, len(encoded))
            # Rows spread evenly over those not checked yet: the first rows of a file are
            # often not typical of it. (Spacing >= 1, so the rounded positions are distinct.)
            remaining = np.setdiff1d(np.arange(len(encoded)), sample)
            new = remaining[np.linspace(0, len(remaining) - 1, size - len(sample)).round().astype(int)]
            rows = [encoded[i] for i in new]
            fp32 = _stack(fp32, run(rows, "fp32"))
            try:
                fast = _stack(fast, run(rows, self.fast))
            except torch.cuda.OutOfMemoryError:
                raise
            except RuntimeError as exc:  # the backbone's code fails in it (DeBERTa's masks under bf16 autocast)
                sample = np.concatenate([sample, new])
                self.choice, checked = PrecisionChoice("fp32", f"the backbone fails in {self.fast}: "
                                                                f"{first_line(exc)}", len(fp32)), fp32
                break
            sample = np.concatenate([sample, new])
            self.choice, checked = self._judge(fp32, fast, sample, finish, unsure_fn)
            if stage == PARITY_PROBE and stage < self.stages[-1]:
                # Too few rows to accept on; enough to give up on a hopeless error.
                if self.choice.max_prob_diff > PROBE_FACTOR * PARITY_TOLERANCE or size == len(encoded):
                    break
                continue
            # Only an agreement just short of the bar is worth a larger sample.
            borderline = (self.choice.max_prob_diff <= PARITY_TOLERANCE
                          and self.choice.agreement >= PARITY_AGREEMENT - 0.01)
            if self.choice.precision != "fp32" or not borderline or size == len(encoded):
                break
        if self.choice.precision == "fp32" and self.choice.max_prob_diff is None:  # the fast arithmetic failed
            logger.warning("predicting in fp32, about 2-3x slower than %s: %s", self.fast, self.choice.reason)
        elif self.choice.precision == "fp32":
            logger.warning("predicting in fp32, about 2-3x slower than %s: %s (pass --precision %s to use "
                           "%s anyway)", self.fast, self.choice.why_fp32(self.fast), self.fast, self.fast)
        else:
            logger.info("predicting in %s (%s)", self.choice.precision, self.choice.reason)
        out = np.zeros((len(encoded), self.model.num_labels), dtype=np.float32)
        out[sample] = checked
        if on_batch:
            on_batch(len(sample))
        rest = np.setdiff1d(np.arange(len(encoded)), sample)
        if len(rest):
            rows = [encoded[i] for i in rest]
            if "+" in self.choice.precision:
                out[rest] = self._mixed(rows, rest, run, finish, unsure_fn, on_batch, self.fast)
            else:
                out[rest] = run(rows, self.choice.precision, on_batch)
        return out

    @staticmethod
    def _mixed(rows, positions, run, finish, unsure_fn, on_batch, fast="bf16") -> np.ndarray:
        """``fast`` logits for ``rows``, those near a boundary recomputed in fp32."""
        out = run(rows, fast, on_batch)
        if unsure_fn is None or not len(out):
            return out
        again = np.flatnonzero(unsure_fn(finish(sigmoid(out), positions), PARITY_TOLERANCE))
        if len(again):
            out[again] = run([rows[i] for i in again], "fp32")
        return out

    def _judge(self, fp32: np.ndarray, fast: np.ndarray, rows: np.ndarray, finish, unsure_fn
               ) -> tuple[PrecisionChoice, np.ndarray]:
        """The arithmetic these parallel fp32/fast logits of ``rows`` justify, and its logits of them."""
        p32, p16 = sigmoid(fp32), sigmoid(fast)
        f32, f16 = finish(p32, rows), finish(p16, rows)
        diff = float(np.abs(p32 - p16).max())
        reference = self.decide_fn(f32)
        head = f"{self.fast} parity on {len(fp32)} rows: max |dp| {diff:.4f} (limit {PARITY_TOLERANCE})"
        if unsure_fn is not None:
            again = np.asarray(unsure_fn(f16, PARITY_TOLERANCE), dtype=bool)
            mixed = np.where(again[:, None], fp32, fast)
            f_mixed = np.where(again[:, None], f32, f16)
            agreement = float((self.decide_fn(f_mixed) == reference).all(axis=1).mean())
            share = float(again.mean())
            ok = diff <= PARITY_TOLERANCE and agreement >= PARITY_AGREEMENT and share <= MAX_REFINED_SHARE
            reason = (f"{head}; {share:.1%} of rows near a decision boundary recomputed in fp32 (at most "
                      f"{MAX_REFINED_SHARE:.0%}); same decisions as fp32 on {agreement:.1%} (need {PARITY_AGREEMENT:.0%})")
            choice = PrecisionChoice(f"{self.fast}+fp32" if ok else "fp32", reason, len(fp32), diff, agreement, share)
            return choice, (mixed if ok else fp32)
        agreement = float((self.decide_fn(f16) == reference).all(axis=1).mean())
        ok = diff <= PARITY_TOLERANCE and agreement >= PARITY_AGREEMENT
        reason = f"{head}, same decisions on {agreement:.1%} (need {PARITY_AGREEMENT:.0%})"
        choice = PrecisionChoice(self.fast if ok else "fp32", reason, len(fp32), diff, agreement)
        return choice, (fast if ok else fp32)


def _stack(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    return b if a is None else np.concatenate([a, b])
