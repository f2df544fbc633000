"""torch.compile in training: whether it pays off, fixed batch shapes, reuse across trials.

With compiling on, `training.train` calls the model through ``torch.compile`` (dynamic
shapes; on a GPU with CUDA graphs, ``mode="reduce-overhead"``) and pads every batch to a
multiple of `genretag.device.FIXED_WIDTH_STEP` tokens, in training and validation alike:
one compiled graph serves every batch, and a GPU records one CUDA graph per (rows, width)
shape, a handful instead of one per batch length. The rows, their order and the loss are
the eager path's: padding is masked and pooling reads the mask. Numbers differ only as
fused kernels round differently, and dropout draws other masks.

``auto`` decides from a measured estimate. On a CPU it is off: compiling takes minutes
there and the step is bound by matmuls that compiling does not speed up. On a GPU the
first `MEASURED_STEPS` steps after a warm-up step run eagerly and are timed; compiling is
switched on when the time it would save on the steps left is more than it costs::

    steps left x eager step x (1 - 1 / COMPILED_SPEEDUP) > COMPILE_SECONDS

`ModelCache` keeps models (and their compiled graphs) across the trainings of `tune`:
a trial gets the cached model with its LoRA and head weights and the random state put
back to what a fresh build gives, so a grid compiles once, and its results are those of
trials trained one by one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .config import ModelSpec
from .device import FIXED_WIDTH_STEP

logger = logging.getLogger(__name__)

#: Seconds a first compile is assumed to take (training and validation graphs): on an H100
#: and an H200 the Qwen3-0.6B training step compiled in 82-104 s (benchmarks/RESULTS.md).
COMPILE_SECONDS = 150.0
#: Eager step time / compiled step time assumed: 125 -> 16.5 ms (H100), 146 -> 17.0 ms (H200)
#: for Qwen3-0.6B at batch 16 x 128 (benchmarks/gpu_qwen3.py), rounded down.
COMPILED_SPEEDUP = 7.0
#: Eager steps timed (after one warm-up step) before ``auto`` decides on a GPU.
MEASURED_STEPS = 3


@dataclass
class CachedModel:
    """A model built once and handed to each training of the same architecture and seed."""

    model: torch.nn.Module
    tokenizer: object
    spec: ModelSpec
    initial: dict[str, torch.Tensor]  # trainable weights as built, on the CPU
    rng: torch.Tensor  # torch's CPU random state right after the build
    compiled: torch.nn.Module | None = None
    uses: int = 0

    def reset(self) -> None:
        """Put the trainable weights and the random state back to just after the build."""
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                if p.requires_grad:
                    p.copy_(self.initial[name])
                    p.grad = None
        torch.set_rng_state(self.rng)
        self.model.train()


@dataclass
class ModelCache:
    """Models kept across trainings (`tune`'s trials), keyed by architecture and seed.

    Args:
        planned_steps: Optimiser steps all trainings that use this cache will take, so that
            ``--compile auto`` weighs the compile time against the whole grid, not one trial.
    """

    planned_steps: int = 0
    entries: dict[str, CachedModel] = field(default_factory=dict)

    def get(self, spec: ModelSpec, seed: int, build: Callable[[ModelSpec], tuple]) -> CachedModel:
        """The cached model for ``spec`` and ``seed``, reset, or one built now with ``build(spec)``.

        Call it where a fresh model would be built, right after ``torch.manual_seed(seed)``:
        the random state afterwards is the same either way. ``spec``'s ``auto`` fields
        (pooling, LoRA targets) are resolved in place, as `modeling.build_model` does.
        """
        key = json.dumps({**dataclasses.asdict(spec), "seed": seed}, sort_keys=True, default=str)
        entry = self.entries.get(key)
        if entry is None:
            model, tokenizer = build(spec)
            initial = {k: v.detach().cpu().clone() for k, v in model.named_parameters() if v.requires_grad}
            entry = CachedModel(model, tokenizer, dataclasses.replace(spec), initial, torch.get_rng_state())
            self.entries[key] = entry
        else:
            entry.reset()
            spec.pooling, spec.lora_targets = entry.spec.pooling, list(entry.spec.lora_targets or [])
        entry.uses += 1
        return entry


class TrainForward:
    """The forward pass the training loop calls: eager, or compiled (see the module docstring).

    Args:
        net: The model as trained (possibly wrapped in DistributedDataParallel).
        model: The bare model (validation runs it, not ``net``).
        requested: ``on``, ``off`` or ``auto``.
        device: Where training runs.
        steps_left: Optimiser steps this training will still take.
        cached: The `ModelCache` entry of ``model``, whose compiled graph is reused and kept.
        cache: That cache (its planned steps count in ``auto``'s estimate).
    """

    def __init__(self, net: torch.nn.Module, model: torch.nn.Module, requested: str, device: torch.device, *,
                 steps_left: int, cached: CachedModel | None = None, cache: ModelCache | None = None):
        self.net, self.model, self.device = net, model, torch.device(device)
        self.cached, self.cache = cached, cache
        self.steps_left = steps_left
        self.compiled: torch.nn.Module | None = cached.compiled if cached is not None else None
        self.on = False
        self.reason = ""
        self._times: list[float] = []
        if requested == "off":
            self._set(False, "off (--compile off)")
        elif requested == "on":
            self._set(True, "on (--compile on)")
        elif self.device.type != "cuda":
            self._set(False, "off on a CPU (auto; --compile on to try it: compiling there takes minutes)")
        elif self.compiled is not None:
            self._set(True, "on: the graph compiled for an earlier trial is reused (auto)")
        elif self._planned() <= MEASURED_STEPS + 1:
            self._set(False, f"off: {self._planned()} steps are too few to pay for compiling (auto)")
        else:
            self.reason = "measuring"

    @property
    def deciding(self) -> bool:
        """True while ``auto`` is still timing eager steps."""
        return self.reason == "measuring"

    @property
    def width_step(self) -> int | None:
        """Pad batches to multiples of this many tokens (None: to the longest row)."""
        return FIXED_WIDTH_STEP if self.on else None

    @property
    def eval_model(self) -> torch.nn.Module:
        """What validation calls: the compiled model, unless training runs under DDP."""
        return self.compiled if self.on and self.net is self.model else self.model

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``[rows, genres]`` of the batch."""
        return (self.compiled if self.on else self.net)(ids, mask)

    def step_done(self) -> None:
        """Call after every optimiser step (once its loss is read, so the GPU is done)."""
        self.steps_left -= 1
        if self.cache is not None:
            self.cache.planned_steps -= 1
        if not self.deciding:
            return
        self._times.append(time.perf_counter())
        if len(self._times) > MEASURED_STEPS:  # the first mark ends the warm-up step
            step_s = (self._times[-1] - self._times[0]) / MEASURED_STEPS
            left = self._planned()
            saved = left * step_s * (1 - 1 / COMPILED_SPEEDUP)
            verdict = saved > COMPILE_SECONDS
            self._set(verdict, f"{'on' if verdict else 'off'} (auto): measured eager step {1000 * step_s:.0f} ms; "
                               f"compiling would save about {saved:.0f} s on {left} steps left and is estimated "
                               f"to cost {COMPILE_SECONDS:.0f} s")

    def summary(self) -> dict:
        """What the run records: ``{"compile": "on"|"off", "compile_reason": ...}``."""
        return {"compile": "on" if self.on else "off", "compile_reason": self.reason}

    def _planned(self) -> int:
        return max(self.steps_left, self.cache.planned_steps if self.cache is not None else 0)

    def _set(self, on: bool, reason: str) -> None:
        self.on, self.reason = on, reason
        logger.info("compile: %s", reason)
        if on and self.compiled is None:
            self.compiled = compile_model(self.net, self.device)
            if self.cached is not None and self.net is self.model:
                self.cached.compiled = self.compiled


def compile_model(net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``torch.compile`` with dynamic shapes; on CUDA with CUDA graphs (``reduce-overhead``).

    Compiling is lazy: the first call of each new kind (training, validation) takes the
    time, which is why `TrainForward` pads batches to a few shapes.
    """
    mode = "reduce-overhead" if torch.device(device).type == "cuda" else None
    return torch.compile(net, dynamic=True, mode=mode)
