"""The tune folder: its files, resuming an interrupted tune, and the leaderboard.

``grid.json`` pins the data fingerprint and the base config (checked on rerun); a trial is
finished iff its run directory under ``trials/`` is complete; the leaderboard ranks the
trials by a validation score every run's ``metrics.json`` holds.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import TrainConfig, one_of
from ..errors import ConfigError, ModelError, OutputExistsError
from ..outputs import atomic_path, exclusive_lock, write_json, write_text
from ..rundir import META_FILE, METRICS_FILE, SPLIT_FILE, check_run_dir, read_json, relocate_data_reference
from .grid import AXES, Grid, Plan, Trial, grid_cost

GRID_FILE = "grid.json"
TRIALS_DIR = "trials"
BEST_DIR = "best"
LEADERBOARD_CSV = "leaderboard.csv"
LEADERBOARD_JSON = "leaderboard.json"
SUMMARY_FILE = "summary.html"
LOCK_FILE = "tune.lock"
GRID_FORMAT = 1
#: Everything `tune` writes in its folder (``--force`` removes these and nothing else).
OWNED = (GRID_FILE, TRIALS_DIR, BEST_DIR, LEADERBOARD_CSV, LEADERBOARD_JSON, SUMMARY_FILE)

#: Leaderboard columns besides the validation scores.
COLUMNS = ("rank", "trial", "lr", "batch", "epochs", "variant", "score", "best_epoch")
TAIL_COLUMNS = ("seconds", "status", "reused_from", "path")


# --------------------------------------------------------------------------- metric


@functools.cache
def score_keys() -> tuple[str, ...]:
    """Validation scores every run's ``metrics.json`` holds (what ``--metric`` may name)."""
    from ..metrics import summary_scores

    return tuple(summary_scores(np.zeros((2, 2)), np.zeros((2, 2))))


def check_metric(metric: str) -> str:
    """Normalise ``--metric`` (``micro-f1``, ``val_micro_f1`` → ``micro_f1``) and check it exists."""
    name = metric.strip().lower().replace("-", "_")
    name = name.removeprefix("val_")
    keys = score_keys()
    if name not in keys:
        raise ConfigError("metric", one_of(keys, metric))
    return name


def higher_is_better(metric: str) -> bool:
    """Scores are maximised, losses (``hamming_loss``) minimised."""
    return not metric.endswith("loss")


# --------------------------------------------------------------------------- folder


def is_finished(path: Path) -> bool:
    """A trial is finished iff its run directory is complete (train writes it atomically)."""
    try:
        check_run_dir(path)
    except ModelError:
        return False
    return (path / METRICS_FILE).is_file()


def _base_dict(config: TrainConfig) -> dict:
    # ``data`` is compared by fingerprint instead: the same file by another path is the same data.
    # ``compile`` is how fast, not what, a trial trains: a grid begun on a CPU may go on on a GPU.
    values = json.loads(json.dumps(config.to_dict()))
    return {k: v for k, v in values.items() if k not in AXES and k not in ("data", "compile")}


def manifest(base: TrainConfig, grid: Grid, fingerprint: str, created: str | None = None) -> dict:
    """The ``grid.json`` content."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {
        "format": GRID_FORMAT,
        "genretag": __version__,
        "created": created or now,
        "updated": now,
        "data": str(Path(base.data).resolve()),
        "data_fingerprint": fingerprint,
        "grid": grid.to_dict(),
        "base_config": _base_dict(base),
    }


def check_manifest(out: Path, saved: dict, base: TrainConfig, fingerprint: str) -> None:
    """Refuse to mix trials of another data file or another base config into one folder."""
    hint = "pass a new --out, or --force to discard its trials and start over"
    if not isinstance(saved, dict) or saved.get("format") != GRID_FORMAT:
        raise OutputExistsError(f"{out / GRID_FILE} is not a grid this genretag wrote; {hint}")
    if saved.get("data_fingerprint") != fingerprint:
        raise OutputExistsError(
            f"the data changed since {out} was tuned ({base.data} has fingerprint {fingerprint[:12]}, "
            f"the grid was trained on {str(saved.get('data_fingerprint'))[:12]}); {hint}"
        )
    old, new = saved.get("base_config", {}), _base_dict(base)
    changed = [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if changed:
        raise OutputExistsError(
            f"the training options differ from those {out} was tuned with ({'; '.join(changed)}); {hint}"
        )


def grid_changes(saved: dict, grid: Grid) -> str | None:
    """What ``grid`` adds to and drops from the grid saved in ``grid.json`` (``+lr 1e-3; -epochs 8``), or None."""
    old = saved.get("grid", {})
    added = {k: [v for v in getattr(grid, k) if v not in old.get(k, [])] for k in AXES}
    removed = {k: [v for v in old.get(k, []) if v not in getattr(grid, k)] for k in AXES}
    parts = [f"+{k} {', '.join(map(str, v))}" for k, v in added.items() if v]
    parts += [f"-{k} {', '.join(map(str, v))}" for k, v in removed.items() if v]
    return "; ".join(parts) or None


def folder_lock(out: Path):
    """One `tune` per folder: a second one would delete or continue the first one's unfinished trial."""
    return exclusive_lock(out / LOCK_FILE,
                          f"another genretag tune is writing to {out} right now; wait for it or pass another --out")


def resumable_trials(out: Path, trials: list[Trial]) -> dict[str, int]:
    """Trials whose interrupted training left a checkpoint to continue from: id -> epochs it trained."""
    from ..checkpoints import marker
    from ..outputs import partial_path

    found = {t.id: marker(partial_path(out / TRIALS_DIR / t.id)) for t in trials}
    return {trial_id: int(read_json(path).get("epoch", 0)) for trial_id, path in found.items() if path.is_file()}


def remove_stale(out: Path, keep: set[str]) -> list[str]:
    """Delete half-written outputs of an interrupted tune (``.<name>*.partial``), except ``keep``."""
    removed = []
    for folder in (out, out / TRIALS_DIR):
        for stale in sorted(folder.glob(".*.partial")) if folder.is_dir() else []:
            if stale.name in keep:
                continue
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
            removed.append(stale.name)
    return removed


def remove_owned(out: Path) -> None:
    """Delete everything `tune` writes in ``out`` (`OWNED`), for ``--force``; nothing else."""
    for name in OWNED:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


# --------------------------------------------------------------------------- leaderboard


def trial_row(out: Path, trial: Trial, metric: str, status: str) -> dict:
    """One leaderboard row: the grid point, its validation scores and where it came from."""
    path = out / TRIALS_DIR / trial.id
    row = {"rank": None, "trial": trial.id, "lr": trial.lr, "batch": trial.batch_size, "epochs": trial.epochs,
           "variant": trial.variant_label, "score": None, "best_epoch": None}
    scores: dict = {}
    extra = {"seconds": None, "status": status, "reused_from": "", "path": f"{TRIALS_DIR}/{trial.id}"}
    if is_finished(path):
        metrics = read_json(path / METRICS_FILE)
        meta = read_json(path / META_FILE)
        scores = {k: v for k, v in metrics.items() if k in score_keys()}
        row["score"] = metrics.get(metric)
        row["best_epoch"] = metrics.get("epoch")
        extra["seconds"] = meta.get("seconds")
        extra["reused_from"] = meta.get("snapshot_of") or ""
    else:
        extra["status"] = status if status == "failed" else "pending"
    return {**row, **{k: scores.get(k) for k in score_keys()}, **extra}


def leaderboard(out: Path, trials: list[Trial], metric: str, status: dict[str, str]) -> list[dict]:
    """Rows for every trial of the grid, best validation score first; unfinished ones last."""
    rows = [trial_row(out, t, metric, status.get(t.id, "pending")) for t in trials]
    sign = 1 if higher_is_better(metric) else -1
    # Ties go to the cheaper trial (fewer epochs, then larger batch = fewer steps).
    rows.sort(key=lambda r: (r["score"] is None, -sign * (r["score"] or 0.0), r["epochs"], -r["batch"], r["trial"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank if row["score"] is not None else None
    return rows


def write_leaderboard(out: Path, rows: list[dict], metric: str, grid: Grid, plan: Plan, seconds: float) -> None:
    """``leaderboard.csv`` (a spreadsheet's view) and ``leaderboard.json`` (with the run's facts)."""
    columns = [*COLUMNS, *score_keys(), *TAIL_COLUMNS]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    write_text(out / LEADERBOARD_CSV, buf.getvalue())
    best = rows[0] if rows and rows[0]["score"] is not None else None
    write_json(out / LEADERBOARD_JSON, {
        "metric": metric,
        "split": "validation",
        "higher_is_better": higher_is_better(metric),
        "best": best["trial"] if best else None,
        "epoch_reuse": plan.reuse,
        "grid": grid.to_dict(),
        "grid_cost": grid_cost(grid, reuse=plan.reuse),
        "this_run": {"trainings": len(plan.runs), "epochs_trained": plan.epochs_to_train,
                     "epochs_naive": plan.epochs_naive, "seconds": round(seconds, 2)},
        "trials": rows,
    })


def copy_best(source: Path, target: Path) -> None:
    """Copy the winning run to ``target`` atomically (skipped when it is already there), its
    ``split.json`` naming the data file relative to the copy."""
    if is_finished(target):
        old, new = read_json(target / META_FILE), read_json(source / META_FILE)
        if (old.get("name"), old.get("finished")) == (new.get("name"), new.get("finished")):
            return
    with atomic_path(target, force=True, directory=True) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        # Its data path is relative to the run: from the copy, one folder up from the trial's.
        split_file = tmp / SPLIT_FILE
        if split_file.is_file():
            write_json(split_file, relocate_data_reference(read_json(split_file), source, target))
