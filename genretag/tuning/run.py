"""Running a tune: train every unfinished trial with the one `training.train`, then rank them.

All trials share one `Prepared` data set per input (the CSV is read, split and tokenised
once) and one model cache. Nothing here reads the test split: the winner is chosen by the
validation score `train` saves in each run's ``metrics.json``.
"""

from __future__ import annotations

import gc
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import TrainConfig, replace
from ..errors import ModelError, OutputExistsError
from ..outputs import refuse_run_files, write_json
from ..rundir import DEFAULT_RUNS_DIR, read_json
from .folder import (
    BEST_DIR,
    GRID_FILE,
    LEADERBOARD_CSV,
    LOCK_FILE,
    TRIALS_DIR,
    check_manifest,
    check_metric,
    copy_best,
    folder_lock,
    grid_changes,
    is_finished,
    leaderboard,
    manifest,
    remove_owned,
    remove_stale,
    resumable_trials,
    trial_row,
    write_leaderboard,
)
from .grid import Grid, Plan, PlannedRun, make_plan
from .summary import write_summary

if TYPE_CHECKING:
    from ..training import Prepared

logger = logging.getLogger(__name__)

#: ``callback(event, info)``: "note", "plan", "prepared", "trial_start", "trial_done",
#: "trial_failed", "done", and train's "start"/"step"/"epoch" events with a "trial" key.
Callback = Callable[[str, dict], None]


@dataclass
class TuneResult:
    """What `tune` returns (the same facts as ``leaderboard.json``)."""

    out: Path
    metric: str
    rows: list[dict]
    best: dict | None
    plan: Plan
    seconds: float
    summary: Path | None = None

    @property
    def best_path(self) -> Path | None:
        """The copy of the winning run (``<out>/best``)."""
        return self.out / BEST_DIR if self.best else None


def default_out() -> Path:
    """``runs/tune-<UTC time>``."""
    return Path(DEFAULT_RUNS_DIR) / f"tune-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"


def plan_tune(base: TrainConfig, grid: Grid, out: str | Path) -> Plan:
    """What `tune` would train in ``out`` (reads the folder, writes nothing)."""
    from ..data.splits import file_fingerprint
    from ..training import epochs_reusable

    out = Path(out)
    if (out / GRID_FILE).is_file():
        check_manifest(out, read_json(out / GRID_FILE), base, file_fingerprint(base.data))
    finished = {t.id for t in grid.trials() if is_finished(out / TRIALS_DIR / t.id)}
    return make_plan(grid, finished, reuse=epochs_reusable(base))


def check_trials(base: TrainConfig, grid) -> None:
    """Refuse a grid with a trial `train` would refuse, or two trials that would train the same run, before
    any trial trains (a bad value of a list otherwise stops the grid at its trial, hours in).

    Raises:
        ConfigError: A trial's settings (``--lora-r 8,0``, ``--distill-alpha 0.5,2``).
        DataError: ``--max-length`` values above what the backbone reads (they would all train at its limit):
            a bad option (exit 2), not a model that cannot be loaded.
    """
    configs = [replace(base, **trial.changes) for trial in grid.trials()]  # each checks its own values
    lengths = sorted({c.max_length for c in configs})
    if len(lengths) < 2:
        return
    from ..errors import DataError, ModelError
    from ..modeling import backbone_config, position_limit

    try:
        limit = position_limit(backbone_config(base.backbone, trust_remote_code=base.trust_remote_code))
    except ModelError:
        return  # the backbone cannot be read here: the first trial says why
    above = [n for n in lengths if limit is not None and n > limit]
    if above:
        raise DataError(f"--max-length {','.join(map(str, above))}: backbone {base.backbone} reads at most {limit} "
                        f"tokens, so {'these trials' if len(above) > 1 else 'that trial'} would train at {limit}; "
                        f"give values up to {limit}")


def tune(
    base: TrainConfig,
    grid: Grid,
    out: str | Path | None = None,
    *,
    metric: str = "micro_f1",
    force: bool = False,
    device: str | None = None,
    callback: Callback | None = None,
) -> TuneResult:
    """Train every unfinished trial of ``grid`` and pick the best by validation score.

    Args:
        base: Options shared by all trials (lr, batch size and epochs come from ``grid``).
        grid: The values to try.
        out: The tuning folder (default ``runs/tune-<time>``); rerun with it to resume.
        metric: Validation score that ranks the trials (a key of a run's ``metrics.json``).
        force: Discard the folder's earlier trials instead of resuming.
        device: ``cpu``, ``cuda`` ... (default: CUDA when present).
        callback: Receives progress events (see `Callback`).

    Returns:
        A `TuneResult`; ``leaderboard.csv/.json``, ``best/`` and ``summary.html`` are written.
    """
    from ..data.splits import file_fingerprint
    from ..outputs import check_writable, partial_path
    from ..training import epochs_reusable, prepare

    t0 = time.perf_counter()
    metric = check_metric(metric)
    check_trials(base, grid)
    emit = callback or _log_event
    out = Path(out) if out else default_out()
    fingerprint = file_fingerprint(base.data)  # before anything is written: a missing file fails first
    refuse_run_files(out, "--out")
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} is a file; pass a folder to --out")
    if out.is_dir() and not (out / GRID_FILE).exists() and not force:
        foreign = [p.name for p in out.iterdir()
                   if p.name not in (LOCK_FILE, TRIALS_DIR) and not p.name.startswith(".")]
        if foreign:
            raise OutputExistsError(f"{out} is not empty and is not a genretag tune folder; pass a new --out")
    if not out.exists():
        check_writable(out, f"--out {out}")  # /proc, a read-only mount: said as every command says it
    # Read and split once, before anything is written: a --split or --min-support that leaves nothing to
    # train on is refused as train refuses it, not after the folder and its leaderboard are made.
    first = prepare(base)
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):
        if force:
            remove_owned(out)
        saved = read_json(out / GRID_FILE) if (out / GRID_FILE).is_file() else None
        trials_dir = out / TRIALS_DIR
        same_options = True
        if saved is not None:
            try:
                check_manifest(out, saved, base, fingerprint)
            except OutputExistsError:
                # Only finished trials can be mixed up; a grid that failed before any (say, a
                # wrong --text-col) is simply rerun with the corrected options, from scratch.
                if any(is_finished(p) for p in trials_dir.glob("*")):
                    raise
                same_options = False
            changes = grid_changes(saved, grid) if same_options else None
            if changes:
                emit("note", {"message": f"the grid changed since the last run ({changes}); finished trials are kept"})
        for trial in grid.trials():
            path = trials_dir / trial.id
            if path.exists() and not is_finished(path):
                emit("note", {"message": f"{trial.id} is incomplete; training it again"})
                shutil.rmtree(path)
        write_json(out / GRID_FILE, manifest(base, grid, fingerprint, created=saved.get("created") if saved else None))
        finished = {t.id for t in grid.trials() if is_finished(trials_dir / t.id)}
        plan = make_plan(grid, finished, reuse=epochs_reusable(base))
        # An interrupted trial that will be trained again continues from its last epoch checkpoint;
        # every other half-written output (snapshots, leaderboard files, dropped trials) goes.
        resume = resumable_trials(out, [r.trial for r in plan.runs]) if same_options else {}
        plan.epochs_done = resume
        stale = remove_stale(out, keep={partial_path(trials_dir / i).name for i in resume})
        if stale:
            emit("note", {"message": f"removed {len(stale)} half-written output(s) of an interrupted run"})
        for trial_id, done in sorted(resume.items()):
            emit("note", {"message": f"{trial_id} was interrupted; continuing it after epoch {done} "
                                     "(its last checkpoint)"})
        outside = [p.name for p in trials_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
                   and p.name not in {t.id for t in plan.trials}] if trials_dir.is_dir() else []
        if outside:
            emit("note", {"message": f"{len(outside)} finished trial(s) in {trials_dir} are outside this grid "
                                     "and not ranked"})
        emit("plan", {"out": str(out), "plan": plan, "metric": metric})
        for trial in plan.finished:
            emit("note", {"message": f"skipping {trial.id}: finished in an earlier run"})

        status: dict[str, str] = {t.id: "kept" for t in plan.finished}
        try:
            if plan.runs:
                _run_plan(plan, base, out, metric, status, emit, device, resume, first)
        finally:
            # Even after Ctrl-C or a crash the leaderboard shows what is finished.
            rows = leaderboard(out, plan.trials, metric, status)
            write_leaderboard(out, rows, metric, grid, plan, time.perf_counter() - t0)
        best = rows[0] if rows and rows[0]["score"] is not None else None
        if best is None:
            raise ModelError(f"no trial of the grid finished; see the messages above and {out / LEADERBOARD_CSV}")
        copy_best(out / best["path"], out / BEST_DIR)
        summary = write_summary(out, rows, metric, grid, plan, best)
    result = TuneResult(out=out, metric=metric, rows=rows, best=best, plan=plan, seconds=time.perf_counter() - t0,
                        summary=summary)
    emit("done", {"result": result})
    return result


def _run_plan(plan: Plan, base: TrainConfig, out: Path, metric: str, status: dict, emit: Callback, device,
              resume: dict[str, int], first: Prepared) -> None:
    import torch

    from ..compiling import ModelCache
    from ..training import Diverged, prepare, train

    # Read, split and binarise once per input (text columns); token ids are cached on it per backbone.
    preps: dict = {tuple(base.text_cols or ()): first}
    said: set = set()

    def prepared_for(config: TrainConfig):
        key = tuple(config.text_cols or ())
        if key not in preps:
            preps[key] = prepare(config)
        if key not in said:
            said.add(key)
            prep = preps[key]
            emit("prepared", {"train_rows": len(prep.split["train"]), "validation_rows": len(prep.split["validation"]),
                              "labels": prep.labels,
                              # The cautions are logged as warnings by `prepare`: said once, as `train` does.
                              "data_report": [line for line in prep.dropped if line not in prep.cautions],
                              "genre_report": prep.genre_report.lines() if prep.genre_report else []})
        return preps[key]

    prep = prepared_for(base)
    trials_dir = out / TRIALS_DIR
    queue = list(plan.runs)
    # One model for every trial (reset to a fresh build each time): a GPU compiles it once.
    train_rows = len(prep.split["train"])
    models = ModelCache(planned_steps=sum(-(-train_rows // r.trial.batch_size) * r.trial.epochs for r in queue))
    index = 0
    while index < len(queue):
        run = queue[index]
        trial = run.trial
        waiting = list(run.snapshots)

        def report_snapshots(waiting=waiting) -> None:
            for snap in [s for s in waiting if is_finished(trials_dir / s.id)]:
                waiting.remove(snap)
                status[snap.id] = "reused"
                emit("trial_done", {"trial": snap.id, "row": trial_row(out, snap, metric, "reused")})

        def forward(event: str, info: dict, trial=trial) -> None:
            emit(event, {**info, "trial": trial.id})
            if event in ("step", "epoch"):  # report a snapshot as soon as it is written
                report_snapshots()

        emit("trial_start", {"trial": trial.id, "index": index, "runs": len(queue), "epochs": trial.epochs,
                             "snapshots": [s.id for s in run.snapshots]})
        index += 1
        config = replace(base, **trial.changes)
        snapshots = {s.epochs: trials_dir / s.id for s in run.snapshots} or None
        try:
            train(config, trials_dir / trial.id, prepared=prepared_for(config), callback=forward, device=device,
                  snapshots=snapshots, resume=trial.id in resume, models=models)
        except (torch.cuda.OutOfMemoryError, MemoryError) as exc:
            # A large batch may not fit while the rest of the grid does: note it and go on.
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            for t in [trial, *waiting]:
                status[t.id] = "failed"
            emit("trial_failed", {"trial": trial.id, "error": f"out of memory ({type(exc).__name__})"})
            continue
        except Diverged as exc:  # one learning rate of the grid too high for the rest: note it and go on
            report_snapshots()  # shorter trials written before it diverged stand
            for t in [trial, *waiting]:
                status[t.id] = "failed"
            emit("trial_failed", {"trial": trial.id, "error": str(exc)})
            continue
        status[trial.id] = "trained"
        report_snapshots()
        emit("trial_done", {"trial": trial.id, "row": trial_row(out, trial, metric, "trained")})
        # A snapshot can only be missing if its run was resumed past it from an older
        # checkpoint (or the folder was edited by hand): train it on its own.
        queue.extend(PlannedRun(s) for s in waiting)


def _log_event(event: str, info: dict) -> None:
    if event == "note":
        logger.info(info["message"])
    elif event == "trial_done":
        row = info["row"]
        logger.info("%s: %s %s", row["trial"], row["status"], _fmt(row["score"]))


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.4f}"
