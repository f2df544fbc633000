"""The device and its arithmetic: where to run, CPU threads, native bf16, autocast, GPU batch sizes.

What the hardware offers, asked once here, so that training and prediction choose alike.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import torch

#: On a GPU a forward pass of a small model is bound by kernel launches, not arithmetic, so
#: rows per batch are raised to fill this many tokens (256 rows of 128; on an H100 the
#: Qwen3-0.6B architecture tagged 1,306 rows/s at batch 256 against 573 at 64).
GPU_TOKENS_PER_BATCH = 32_768
#: On a GPU batches are padded to a multiple of this many tokens (see `padded_width`): the
#: same few shapes in training, validation and tagging, so compiled graphs are reused.
FIXED_WIDTH_STEP = 32


_DEVICE = re.compile(r"(cpu|cuda|mps)(?::(\d+))?")


def check_device(name: str | None) -> str | None:
    """``--device`` checked before any slow work: a name torch knows, on this machine.

    Returns:
        The name, lower-cased (None stays None: the default device).

    Raises:
        DataError: Not ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, or not on this machine.
    """
    from .errors import DataError

    if name is None:
        return None
    match = _DEVICE.fullmatch(name.strip().lower())
    if not match:
        raise DataError(f"--device must be cpu, cuda, cuda:N or mps, got '{name}'")
    kind, index = match.group(1), match.group(2)
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise DataError(f"--device {name}: no CUDA GPU on this machine (or this torch is built without CUDA); "
                            "pass --device cpu")
        if index is not None and int(index) >= torch.cuda.device_count():
            raise DataError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DataError(f"--device {name}: no Apple GPU (MPS) on this machine; pass --device cpu")
    return match.group(0)


def pick_device(name: str | None = None) -> torch.device:
    """The device to run on: ``name`` if given (checked: `check_device`), else CUDA when
    present, else CPU."""
    if name:
        return torch.device(check_device(str(name)))
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def physical_cores() -> int:
    """Physical CPU cores this process may run on (hyper-threads counted once)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topology.joinpath("physical_package_id").read_text().strip(),
                       topology.joinpath("core_id").read_text().strip()))
        except OSError:  # no sysfs (macOS, Windows, some containers): count logical CPUs
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op CPU threads and return the number used.

    Args:
        threads: Threads to use. None: keep ``OMP_NUM_THREADS`` when it is set (torchrun
            and tests set it), else one per physical core: a second thread per core
            (hyper-threading) only contends for the same matrix units.
    """
    if threads is None:
        if os.environ.get("OMP_NUM_THREADS"):
            return torch.get_num_threads()
        threads = physical_cores()
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)
    return threads


def bf16_supported(device: torch.device | str) -> bool:
    """True where bf16 matrix arithmetic is native: CUDA cards from Ampere on, CPUs with
    AVX-512 BF16 or AMX. Elsewhere bf16 is emulated and slower than fp32."""
    device = torch.device(device)
    if device.type == "cuda":
        # torch counts emulated bf16 (pre-Ampere cards) as supported unless asked not to.
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        from .precision import onednn_allows_bf16

        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks) and onednn_allows_bf16()
    return False


def no_bf16_reason(device: torch.device | str) -> str:
    """Why `bf16_supported` says no for ``device``, in a few words (for logs and warnings)."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability(device)
        return (f"no native bf16 on {torch.cuda.get_device_name(device)} (compute capability {major}.{minor}; "
                "bf16 needs 8.0, Ampere, or newer)")
    if device.type == "cpu":
        return "no native bf16 on this CPU (it needs AVX-512 BF16 or AMX)"
    return f"no native bf16 on {device.type}"


def fast_precision(device: torch.device | str) -> str | None:
    """The arithmetic ``auto`` tries on ``device``: bf16 where native, else int8 on a CPU, else None."""
    from .precision import int8_supported

    if bf16_supported(device):
        return "bf16"
    return "int8" if int8_supported(device) else None


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for ``precision`` (``fp32``: none) on ``device``."""
    device = torch.device(device)
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def fixed_width_step(device: torch.device | str) -> int | None:
    """`FIXED_WIDTH_STEP` on CUDA (training, validation and tagging share its shapes), None elsewhere."""
    return FIXED_WIDTH_STEP if torch.device(device).type == "cuda" else None


def default_batch_size(configured: int, max_length: int, device: torch.device) -> int:
    """Rows per forward pass when the user names none: the run's own, raised on a GPU.

    On CUDA, up to `GPU_TOKENS_PER_BATCH` tokens of ``max_length`` rows; never fewer rows
    than ``configured``. On a CPU the run's own (larger batches gain nothing there).
    """
    if device.type != "cuda":
        return configured
    return max(configured, GPU_TOKENS_PER_BATCH // max(max_length, 1))
