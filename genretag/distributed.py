"""Data-parallel training across processes (torchrun, accelerate launch): the few pieces `train` needs.

``train`` works unchanged under ``torchrun --nproc_per_node N -m genretag train ...``:
when the launcher sets ``WORLD_SIZE`` > 1, `setup` joins the process group (gloo on CPU,
nccl on CUDA) and `train` wraps the model in ``DistributedDataParallel``. Every rank
draws the same batch list from the seeded generator and trains on its share of it
(`shard_batches`), so each epoch still sees every training row exactly once; gradients
are averaged across ranks. Validation, threshold tuning, checkpoints and the run
directory are rank 0's work; ``--resume`` needs the output folder on a file system
every rank can read (one machine, or a shared disk).
"""

from __future__ import annotations

import gc
import logging
import os
from dataclasses import dataclass

import numpy as np
import torch

logger = logging.getLogger(__name__)


@dataclass
class Context:
    """Where this process stands in a (possibly one-process) training."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False
    """True when `setup` created the process group (and `teardown` must destroy it)."""

    @property
    def active(self) -> bool:
        """More than one process trains together."""
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that validates, logs and writes."""
        return self.rank == 0


def launched() -> bool:
    """True when a launcher started several processes (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """Rank 0, or a plain single process (for CLI output that should be printed once)."""
    return int(os.environ.get("RANK", "0")) == 0


def setup(device: str | None = None) -> tuple[Context, torch.device]:
    """Join the launcher's process group when there is one; return the context and device.

    Args:
        device: ``cpu``, ``cuda`` ... as given to `train` (None: CUDA when present). Under a
            launcher, CUDA means this process's own card, ``cuda:<LOCAL_RANK>``.
    """
    from .device import pick_device

    dev = pick_device(device)
    if not launched():
        return Context(), dev
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    logger.info("data-parallel training: rank %d of %d on %s", rank, world, dev)
    return Context(rank=rank, world=world, local_rank=local_rank, owns_group=owns), dev


def teardown(ctx: Context, *, wait: bool = True) -> None:
    """Leave the process group `setup` created, after every rank got here when ``wait``."""
    if not ctx.active:
        return
    import torch.distributed as dist

    if wait:
        dist.barrier()
    if ctx.owns_group:
        # The DDP wrapper sits in reference cycles that hold the group's gloo threads; left to
        # interpreter shutdown they abort the process ("terminate called without an active
        # exception") after the work is done. Collect them while Python is fully alive.
        gc.collect()
        dist.destroy_process_group()


def broadcast(value, ctx: Context):
    """Rank 0's ``value`` on every rank (any picklable object)."""
    if not ctx.active:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_sum(values: list[float], ctx: Context) -> list[float]:
    """Element-wise sum of ``values`` over all ranks."""
    if not ctx.active:
        return values
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.tolist()


def shard_batches(batches: list[np.ndarray], ctx: Context) -> list[tuple[np.ndarray, float]]:
    """This rank's share of an epoch's batches, as ``(rows, weight)`` pairs.

    Rank r takes batches r, r + world, ... of the full groups; the rows of a last,
    incomplete group are split evenly over all ranks, so every rank takes the same
    number of steps (DDP's all-reduce needs that) and every row is used exactly once.
    A rank left without a row by that split (fewer rows than ranks) repeats one with
    weight 0, which only keeps it in step.
    """
    if not ctx.active:
        return [(b, 1.0) for b in batches]
    full = len(batches) // ctx.world * ctx.world
    mine = [(b, 1.0) for b in batches[ctx.rank:full:ctx.world]]
    if full < len(batches):
        rows = np.concatenate(batches[full:])
        part = np.array_split(rows, ctx.world)[ctx.rank]
        mine.append((part, 1.0) if len(part) else (rows[:1], 0.0))
    return mine
