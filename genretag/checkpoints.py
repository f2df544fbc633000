"""Per-epoch training checkpoints, so that an interrupted `train` can continue (``--resume``).

A checkpoint lives inside the partial run directory (``.<run>.partial/checkpoint/``)::

    state-<epoch>.safetensors      trainable weights, best-so-far weights, torch RNG states
    optimizer-<epoch>.safetensors  the optimizer's tensors, flattened to "<param>.<key>"
    checkpoint.json                the rest: epoch, step, config, data fingerprint, labels,
                                   optimizer scalars, scheduler, numpy and Python RNG states,
                                   history, best-so-far score and thresholds

Only safetensors and JSON are written and read, never pickle. ``checkpoint.json`` is written
last, atomically, and names its tensor files, so a kill at any moment leaves the previous
complete checkpoint. Restoring every state, RNGs included, makes a resumed training give
the same weights as one that was never interrupted (same machine, same device).
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import TrainConfig
from .errors import DataError, ModelError
from .outputs import write_record

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "checkpoint.json"
CHECKPOINT_FORMAT = 1


def marker(run_dir: str | Path) -> Path:
    """The file whose presence makes a partial run directory resumable."""
    return Path(run_dir) / CHECKPOINT_DIR / CHECKPOINT_FILE


@dataclass
class Restored:
    """Training progress read back from a checkpoint."""

    epoch: int
    step: int
    history: list[dict]
    best: dict


def save(
    run_dir: str | Path,
    *,
    epoch: int,
    step: int,
    config: TrainConfig,
    fingerprint: str,
    labels: list[str],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler,
    rng: np.random.Generator,
    history: list[dict],
    best: dict,
    backbone_fingerprint: str | None = None,
) -> None:
    """Write the state at the end of ``epoch`` (the previous checkpoint is replaced);
    ``backbone_fingerprint``: the backbone's weights (`genretag.modeling.weights_fingerprint`)."""
    from safetensors.torch import save_file

    folder = Path(run_dir) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in _trainable(model).items()}
    if best.get("state") is not None:
        tensors.update({f"best.{k}": v.detach().cpu().contiguous() for k, v in best["state"].items()})
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    state_file, optim_file = f"state-{epoch}.safetensors", f"optimizer-{epoch}.safetensors"
    save_file(tensors, str(folder / state_file))

    optim = optimizer.state_dict()
    optim_tensors, scalars = {}, {}
    for pid, values in optim["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                optim_tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    save_file(optim_tensors, str(folder / optim_file))

    write_record(folder / CHECKPOINT_FILE, {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "step": step,
        "files": {"state": state_file, "optimizer": optim_file},
        "config": _comparable(config),
        "fingerprint": fingerprint,
        "backbone_fingerprint": backbone_fingerprint,
        "labels": list(labels),
        "optimizer": {"param_groups": optim["param_groups"], "scalars": scalars},
        "scheduler": scheduler.state_dict(),
        "rng": {"numpy": rng.bit_generator.state, "python": random.getstate()},
        "history": history,
        "best": {
            "score": best["score"],
            "loss": best["loss"] if np.isfinite(best["loss"]) else None,
            "epoch": best["epoch"],
            "thresholds": None if best.get("thresholds") is None else np.asarray(best["thresholds"]).tolist(),
        },
    })
    # Only now, with checkpoint.json pointing at the new files, are the old ones unused.
    for old in folder.glob("*.safetensors"):
        if old.name not in (state_file, optim_file):
            old.unlink()


def load(
    run_dir: str | Path,
    *,
    config: TrainConfig,
    fingerprint: str,
    labels: list[str],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler,
    rng: np.random.Generator,
    backbone_fingerprint: str | None = None,
) -> Restored:
    """Restore model, optimizer, scheduler and RNGs from the checkpoint in ``run_dir``.

    Raises:
        DataError: The checkpoint was made with other settings, data, labels or backbone weights.
        ModelError: The checkpoint is corrupt.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(run_dir) / CHECKPOINT_DIR
    fix = "rerun with --force instead of --resume to start over"
    try:
        saved = json.loads((folder / CHECKPOINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"the checkpoint in {folder} cannot be read ({exc.__class__.__name__}); {fix}") from None
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(f"the checkpoint in {folder} was written by an incompatible genretag; {fix}")
    changed = _changed(saved.get("config", {}), _comparable(config))
    if changed:
        raise DataError(
            f"cannot resume: the interrupted run used other settings ({', '.join(changed)}); "
            f"rerun with the same options, or {fix}"
        )
    if saved.get("fingerprint") != fingerprint:
        raise DataError(f"cannot resume: the training data changed since the interrupted run; {fix}")
    if saved.get("labels") != list(labels):
        raise DataError(f"cannot resume: the genres differ from the interrupted run's; {fix}")
    before = saved.get("backbone_fingerprint")
    if before and backbone_fingerprint and before.split(":", 1)[0] == backbone_fingerprint.split(":", 1)[0] \
            and before != backbone_fingerprint:  # the folder updated in place, or a hub model's new revision
        raise DataError(f"cannot resume: the backbone {config.backbone} has other weights than when the run was "
                        f"interrupted; put those back, or {fix}")

    try:
        tensors = load_file(str(folder / saved["files"]["state"]))
        optim_tensors = load_file(str(folder / saved["files"]["optimizer"]))
        with torch.no_grad():
            for name, param in _trainable_params(model):
                param.copy_(tensors[f"model.{name}"])
        best_state = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
        state: dict[int, dict] = {}
        for key, value in optim_tensors.items():
            pid, name = key.split(".", 1)
            state.setdefault(int(pid), {})[name] = value
        for pid, values in saved["optimizer"]["scalars"].items():
            state.setdefault(int(pid), {}).update(values)
        groups = saved["optimizer"]["param_groups"]
        for group in groups:
            if isinstance(group.get("betas"), list):
                group["betas"] = tuple(group["betas"])
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(tensors["rng.torch"])
        cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        rng.bit_generator.state = saved["rng"]["numpy"]
        version, internal, gauss = saved["rng"]["python"]
        random.setstate((version, tuple(internal), gauss))
        best = saved["best"]
        restored = Restored(
            epoch=int(saved["epoch"]),
            step=int(saved["step"]),
            history=list(saved["history"]),
            best={
                "score": best["score"],
                "loss": float("inf") if best["loss"] is None else best["loss"],
                "epoch": best["epoch"],
                "state": best_state or None,
                "thresholds": None if best["thresholds"] is None else np.asarray(best["thresholds"], dtype=float),
            },
        )
    except (SafetensorError, OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"the checkpoint in {folder} is corrupt ({exc.__class__.__name__}: {exc}); {fix}") from None
    logger.info("resuming after epoch %d (step %d)", restored.epoch, restored.step)
    return restored


def remove(run_dir: str | Path) -> None:
    """Delete the checkpoint (a finished run directory does not keep optimizer state)."""
    import shutil

    shutil.rmtree(Path(run_dir) / CHECKPOINT_DIR, ignore_errors=True)


def _trainable_params(model: torch.nn.Module):
    return [(k, v) for k, v in model.named_parameters() if v.requires_grad]


def _trainable(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in _trainable_params(model)}


def _comparable(config: TrainConfig) -> dict:
    # The data path may be spelled differently on resume; its content is compared by fingerprint.
    # Compiling changes the speed, not the training: a run may resume with another --compile.
    values = json.loads(json.dumps(config.to_dict()))
    values.pop("data", None)
    values.pop("compile", None)
    return values


def _changed(saved: dict, current: dict) -> list[str]:
    return sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
