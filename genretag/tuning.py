"""Grid search over learning rate × batch size × epochs, chosen by validation score.

`tune` trains every trial of a `Grid` with the one `training.train`, on one `Prepared`
data set (the CSV is read, split and tokenised once), and writes a folder that explains
itself::

    grid.json          the grid, the data fingerprint and the base config (checked on rerun)
    trials/<id>/       one complete run directory per finished trial (e.g. lr5e-4_b16_e4)
    leaderboard.csv    one row per trial, best first (also leaderboard.json)
    best/              a copy of the winning run; `evaluate` and `tag --model` take it
    summary.html       heat map of the score over lr × batch per epoch count, validation curves

Rerunning the same command resumes: a trial is finished iff its run directory exists
(train writes it atomically), so finished trials are kept and only the rest are trained.

Epoch reuse: when the learning rate at a step does not depend on the total number of
steps (``--schedule constant`` and ``--warmup-ratio 0``), the first k epochs of a longer
trial *are* the k-epoch trial (same seed, initialisation, batch order and dropout stream),
so the k-epoch run directory is written during the longer run instead of training it
again. With warm-up or a decaying schedule (the default) every trial trains on its own.
Nothing here reads the test split: the winner is chosen by the validation score that
`train` saves in each run's ``metrics.json``.
"""

from __future__ import annotations

import csv
import functools
import gc
import io
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from .config import TrainConfig, one_of, replace
from .errors import ConfigError, ModelError, OutputExistsError
from .outputs import atomic_path, exclusive_lock, write_json, write_text
from .runs import HISTORY_FILE, META_FILE, METRICS_FILE, check_run_dir, read_json

logger = logging.getLogger(__name__)

GRID_FILE = "grid.json"
TRIALS_DIR = "trials"
BEST_DIR = "best"
LEADERBOARD_CSV = "leaderboard.csv"
LEADERBOARD_JSON = "leaderboard.json"
SUMMARY_FILE = "summary.html"
LOCK_FILE = "tune.lock"
TEMPLATE = "tune.html.j2"
GRID_FORMAT = 1
#: Everything `tune` writes in its folder (``--force`` removes these and nothing else).
OWNED = (GRID_FILE, TRIALS_DIR, BEST_DIR, LEADERBOARD_CSV, LEADERBOARD_JSON, SUMMARY_FILE)

#: The original report's grid.
DEFAULT_LR: tuple[float, ...] = (1e-4, 5e-4, 1e-5)
DEFAULT_BATCH: tuple[int, ...] = (8, 12, 16)
DEFAULT_EPOCHS: tuple[int, ...] = (4, 8)
#: Config fields the grid varies; every other field is the "base config" shared by all trials.
AXES = ("lr", "batch_size", "epochs")
#: Further config fields a grid may vary (each only when given more than the base value), with the
#: short name a trial id uses for them: ``lr2e-3_b16_e6_r8_a0.5``.
VARIANT_AXES = {"lora_r": "r", "loss": "loss-", "max_length": "len", "text_cols": "in-", "distill_alpha": "a"}

#: Leaderboard columns besides the validation scores.
COLUMNS = ("rank", "trial", "lr", "batch", "epochs", "variant", "score", "best_epoch")
TAIL_COLUMNS = ("seconds", "status", "reused_from", "path")

#: ``callback(event, info)``: "note", "plan", "prepared", "trial_start", "trial_done",
#: "trial_failed", "done", and train's "start"/"step"/"epoch" events with a "trial" key.
Callback = Callable[[str, dict], None]


# --------------------------------------------------------------------------- grid


@dataclass(frozen=True)
class Trial:
    """One point of the grid."""

    lr: float
    batch_size: int
    epochs: int
    variant: tuple = ()
    """``((field, value), ...)`` of the `VARIANT_AXES` the grid varies (a list value as a tuple)."""

    @property
    def id(self) -> str:
        """Folder name, e.g. ``lr5e-4_b16_e4`` or ``lr2e-3_b16_e6_r8_a0.5``."""
        return f"lr{format_lr(self.lr)}_b{self.batch_size}_e{self.epochs}" + "".join(
            f"_{VARIANT_AXES[k]}{format_value(v)}" for k, v in self.variant)

    @property
    def changes(self) -> dict:
        """The config fields this trial sets (``text_cols`` as a list)."""
        out = {"lr": self.lr, "batch_size": self.batch_size, "epochs": self.epochs}
        out.update({k: list(v) if isinstance(v, tuple) else v for k, v in self.variant})
        return out

    @property
    def variant_label(self) -> str:
        """The variant for a table, e.g. ``lora_r=8 distill_alpha=0.5`` ("" without variants)."""
        return " ".join(f"{k}={format_value(v)}" for k, v in self.variant)


def format_value(value) -> str:
    """A variant value for names: tuples joined with "+", floats without trailing zeros."""
    if isinstance(value, (tuple, list)):
        return "+".join(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_lr(lr: float) -> str:
    """Short, exact-enough learning rate for names: 0.0005 → ``5e-4``, 0.00025 → ``2.5e-4``."""
    mantissa, exponent = f"{lr:.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


@dataclass
class Grid:
    """Values to try on each axis (order kept, duplicates dropped)."""

    lr: list[float] = field(default_factory=lambda: list(DEFAULT_LR))
    batch_size: list[int] = field(default_factory=lambda: list(DEFAULT_BATCH))
    epochs: list[int] = field(default_factory=lambda: list(DEFAULT_EPOCHS))
    variants: dict = field(default_factory=dict)
    """``{field: [values]}`` for `VARIANT_AXES` (an axis of one value is not varied)."""

    def __post_init__(self):
        unknown = sorted(set(self.variants) - set(VARIANT_AXES))
        if unknown:
            raise ValueError(f"cannot vary {', '.join(unknown)}; tune varies {', '.join(VARIANT_AXES)}")
        self.variants = {k: list(dict.fromkeys(tuple(v) if isinstance(v, list) else v for v in values))
                         for k, values in self.variants.items() if values}
        self.lr = list(dict.fromkeys(float(x) for x in self.lr))
        self.batch_size = list(dict.fromkeys(int(x) for x in self.batch_size))
        self.epochs = list(dict.fromkeys(int(x) for x in self.epochs))
        checks = [
            (("lr", "batch_size", "epochs"), self.lr and self.batch_size and self.epochs,
             "need at least one value each; the grid is empty"),
            ("lr", all(x > 0 and math.isfinite(x) for x in self.lr), f"values must be positive, got {self.lr}"),
            ("batch_size", all(x >= 1 for x in self.batch_size), f"values must be at least 1, got {self.batch_size}"),
            ("epochs", all(x >= 1 for x in self.epochs), f"values must be at least 1, got {self.epochs}"),
        ]
        for name, ok, problem in checks:
            if not ok:
                raise ConfigError(name, problem)

    def varied(self) -> dict:
        """The variant axes with more than one value, in `VARIANT_AXES` order."""
        return {k: self.variants[k] for k in VARIANT_AXES if len(self.variants.get(k, [])) > 1}

    def trials(self) -> list[Trial]:
        """Every trial, grouped by (lr, batch, variant) with epochs ascending inside a group."""
        import itertools

        varied = self.varied()
        variants = [tuple(zip(varied, values)) for values in itertools.product(*varied.values())]
        return [Trial(lr, b, e, v) for lr in self.lr for b in self.batch_size for v in variants
                for e in sorted(self.epochs)]

    def to_dict(self) -> dict:
        """JSON-ready axes."""
        out = {"lr": self.lr, "batch_size": self.batch_size, "epochs": self.epochs}
        out.update({k: [list(v) if isinstance(v, tuple) else v for v in values] for k, values in self.varied().items()})
        return out


def parse_grid(lr: list[str] | None = None, batch: list[str] | None = None, epochs: list[str] | None = None,
               variants: dict | None = None) -> Grid:
    """Build a `Grid` from CLI values: comma lists and/or repeated options; None → the report's axis.

    ``variants`` maps `VARIANT_AXES` to CLI values the same way: ``lora_r``, ``max_length``
    (whole numbers), ``distill_alpha`` (numbers) and ``loss`` (names) as comma lists;
    ``text_cols`` as repeated values, each a comma list of columns joined into one input.

    Raises:
        ConfigError: A value is not a number of the right kind, named by its axis.
    """

    def axis(values, name: str, kind, example: str, default):
        if not values:
            return list(default)
        items = [v.strip() for value in values for v in str(value).split(",")]
        if not all(items):
            given = ",".join(map(str, values))
            raise ConfigError(name, f"has an empty value in '{given}'; give a comma list such as {example}")
        out = []
        for item in items:
            try:
                number = float(item)
            except ValueError:
                problem = f"value '{item}' is not a number; give a comma list such as {example}"
                raise ConfigError(name, problem) from None
            if kind is int:
                if not number.is_integer():
                    problem = f"value '{item}' is not a whole number; give a comma list such as {example}"
                    raise ConfigError(name, problem)
                number = int(number)
            out.append(number)
        return out

    from .config import LOSSES

    def names(values, name: str, allowed) -> list[str]:
        items = [v.strip() for value in values for v in str(value).split(",")]
        bad = [v for v in items if v not in allowed]
        if bad:
            raise ConfigError(name, one_of(allowed, bad[0]))
        return items

    parsed = {}
    for key, values in (variants or {}).items():
        if not values:
            continue
        if key in ("lora_r", "max_length"):
            parsed[key] = axis(values, key, int, "8,16", ())
        elif key == "distill_alpha":
            parsed[key] = axis(values, key, float, "0.3,0.7", ())
        elif key == "loss":
            parsed[key] = names(values, key, LOSSES)
        elif key == "text_cols":
            parsed[key] = [tuple(c.strip() for c in str(v).split(",") if c.strip()) for v in values]
        else:
            raise ValueError(f"cannot vary {key}; tune varies {', '.join(VARIANT_AXES)}")
    return Grid(
        lr=axis(lr, "lr", float, "1e-4,5e-4", DEFAULT_LR),
        batch_size=axis(batch, "batch_size", int, "8,16", DEFAULT_BATCH),
        epochs=axis(epochs, "epochs", int, "4,8", DEFAULT_EPOCHS),
        variants=parsed,
    )


# --------------------------------------------------------------------------- metric


@functools.cache
def score_keys() -> tuple[str, ...]:
    """Validation scores every run's ``metrics.json`` holds (what ``--metric`` may name)."""
    from .metrics import summary_scores

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


# --------------------------------------------------------------------------- plan


@dataclass
class PlannedRun:
    """One call of `train`: the trial it trains and the shorter trials read from its first epochs."""

    trial: Trial
    snapshots: list[Trial] = field(default_factory=list)


@dataclass
class Plan:
    """What a `tune` call will do, before it does it."""

    trials: list[Trial]
    finished: list[Trial]
    runs: list[PlannedRun]
    reuse: bool

    @property
    def epochs_to_train(self) -> int:
        """Epochs trained by this plan."""
        return sum(r.trial.epochs for r in self.runs)

    @property
    def epochs_naive(self) -> int:
        """Epochs the same unfinished trials would take, each trained from scratch."""
        return sum(r.trial.epochs + sum(s.epochs for s in r.snapshots) for r in self.runs)


def make_plan(grid: Grid, finished: set[str], *, reuse: bool) -> Plan:
    """Group the unfinished trials into `train` calls.

    Args:
        grid: The trials.
        finished: Ids of trials whose run directory is complete (not trained again).
        reuse: Read shorter trials from the first epochs of the longest one of the same
            (lr, batch); only exact when `training.epochs_reusable` holds.
    """
    trials = grid.trials()
    runs = []
    for lr in grid.lr:
        for b in grid.batch_size:
            for variant in dict.fromkeys(t.variant for t in trials):
                pending = [t for t in trials if t.lr == lr and t.batch_size == b and t.variant == variant
                           and t.id not in finished]
                if not pending:
                    continue
                if reuse:
                    runs.append(PlannedRun(pending[-1], pending[:-1]))
                else:
                    runs.extend(PlannedRun(t) for t in pending)
    return Plan(trials=trials, finished=[t for t in trials if t.id in finished], runs=runs, reuse=reuse)


def grid_cost(grid: Grid, *, reuse: bool) -> dict[str, int]:
    """Epochs the whole grid takes from scratch: each trial on its own vs. with epoch reuse."""
    plan = make_plan(grid, set(), reuse=reuse)
    naive = sum(t.epochs for t in plan.trials)
    return {"trials": len(plan.trials), "trainings": len(plan.runs), "epochs_naive": naive,
            "epochs": plan.epochs_to_train}


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


def _grid_changes(saved: dict, grid: Grid) -> str | None:
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


def resumable_trials(out: Path, trials: list[Trial]) -> set[str]:
    """Ids of trials whose interrupted training left a checkpoint to continue from."""
    from .checkpoints import marker
    from .outputs import partial_path

    return {t.id for t in trials if marker(partial_path(out / TRIALS_DIR / t.id)).is_file()}


def _remove_stale(out: Path, keep: set[str]) -> list[str]:
    """Delete half-written outputs of an interrupted tune (``.<name>*.partial``), except ``keep``."""
    removed = []
    for folder in (out, out / TRIALS_DIR):
        for stale in sorted(folder.glob(".*.partial")) if folder.is_dir() else []:
            if stale.name in keep:
                continue
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
            removed.append(stale.name)
    return removed


def _remove_owned(out: Path) -> None:
    for name in OWNED:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


# --------------------------------------------------------------------------- tune


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
    from .runs import DEFAULT_RUNS_DIR

    return Path(DEFAULT_RUNS_DIR) / f"tune-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"


def plan_tune(base: TrainConfig, grid: Grid, out: str | Path) -> Plan:
    """What `tune` would train in ``out`` (reads the folder, writes nothing)."""
    from .data import file_fingerprint
    from .training import epochs_reusable

    out = Path(out)
    if (out / GRID_FILE).is_file():
        check_manifest(out, read_json(out / GRID_FILE), base, file_fingerprint(base.data))
    finished = {t.id for t in grid.trials() if is_finished(out / TRIALS_DIR / t.id)}
    return make_plan(grid, finished, reuse=epochs_reusable(base))


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
    from .data import file_fingerprint
    from .outputs import partial_path
    from .training import epochs_reusable

    t0 = time.perf_counter()
    metric = check_metric(metric)
    emit = callback or _log_event
    out = Path(out) if out else default_out()
    fingerprint = file_fingerprint(base.data)  # before anything is written: a missing file fails first
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} is a file; pass a folder to --out")
    if out.is_dir() and not (out / GRID_FILE).exists() and not force:
        foreign = [p.name for p in out.iterdir()
                   if p.name not in (LOCK_FILE, TRIALS_DIR) and not p.name.startswith(".")]
        if foreign:
            raise OutputExistsError(f"{out} is not empty and is not a genretag tune folder; pass a new --out")
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):
        if force:
            _remove_owned(out)
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
            changes = _grid_changes(saved, grid) if same_options else None
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
        resume = resumable_trials(out, [r.trial for r in plan.runs]) if same_options else set()
        stale = _remove_stale(out, keep={partial_path(trials_dir / i).name for i in resume})
        if stale:
            emit("note", {"message": f"removed {len(stale)} half-written output(s) of an interrupted run"})
        for trial_id in sorted(resume):
            emit("note", {"message": f"{trial_id} was interrupted; continuing it from its last epoch checkpoint"})
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
                _run_plan(plan, base, out, metric, status, emit, device, resume)
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
              resume: set[str]) -> None:
    import torch

    from .compiling import ModelCache
    from .training import prepare, train

    # Read, split and binarise once per input (text columns); token ids are cached on it per backbone.
    preps: dict = {}

    def prepared_for(config: TrainConfig):
        key = tuple(config.text_cols or ())
        if key not in preps:
            preps[key] = prepare(config)
            prep = preps[key]
            emit("prepared", {"train_rows": len(prep.split["train"]), "validation_rows": len(prep.split["validation"]),
                              "labels": prep.labels,
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
    """Copy the winning run to ``target`` atomically (skipped when it is already there)."""
    if is_finished(target):
        old, new = read_json(target / META_FILE), read_json(source / META_FILE)
        if (old.get("name"), old.get("finished")) == (new.get("name"), new.get("finished")):
            return
    with atomic_path(target, force=True, directory=True) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)


# --------------------------------------------------------------------------- summary page


def _history(path: Path) -> list[dict]:
    try:
        lines = (path / HISTORY_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def fig_grid(rows: list[dict], metric: str, best: dict) -> str:
    """Heat map of the validation score over learning rate × batch size, one panel per epoch count."""
    from .report import figure, svg

    # One cell per lr x batch: with variant axes, the panel shows the winner's variant.
    rows = [r for r in rows if r.get("variant", "") == best.get("variant", "")]
    lrs = sorted({r["lr"] for r in rows})
    batches = sorted({r["batch"] for r in rows})
    epochs = sorted({r["epochs"] for r in rows})
    scores = [r["score"] for r in rows if r["score"] is not None]
    lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.01, hi + 0.01
    cmap = "viridis" if higher_is_better(metric) else "viridis_r"
    fig = figure(0.9 * len(batches) * len(epochs) + 2.2, 0.55 * len(lrs) + 1.6)
    axes = fig.subplots(1, len(epochs), squeeze=False)[0]
    image = None
    for ax, e in zip(axes, epochs):
        matrix = np.full((len(lrs), len(batches)), np.nan)
        for r in rows:
            if r["epochs"] == e and r["score"] is not None:
                matrix[lrs.index(r["lr"]), batches.index(r["batch"])] = r["score"]
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
        ax.set_facecolor("#e5e7eb")  # untrained cells
        for (i, j), value in np.ndenumerate(matrix):
            text = "–" if np.isnan(value) else f"{value:.3f}"
            shade = 0.5 if np.isnan(value) else (value - lo) / (hi - lo)
            if not higher_is_better(metric):
                shade = 1 - shade
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="black" if shade > 0.6 else "white")
        if best["epochs"] == e:
            i, j = lrs.index(best["lr"]), batches.index(best["batch"])
            ax.add_patch(_rect(j, i))
        ax.set_xticks(range(len(batches)), [str(b) for b in batches])
        ax.set_yticks(range(len(lrs)), [format_lr(x) for x in lrs])
        ax.set_xlabel("batch size")
        ax.set_title(f"{e} epoch{'s' if e != 1 else ''}")
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0].set_ylabel("learning rate")
    if image is not None:
        fig.colorbar(image, ax=list(axes), shrink=0.85, label=f"validation {metric}")
    return svg(fig, "tune-grid")


def _rect(x: int, y: int):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="#c0392b", linewidth=2.2)


def fig_curves(out: Path, rows: list[dict], metric: str) -> str:
    """Validation score per epoch of every trial (from its ``history.jsonl``), one panel per epoch count."""
    from .report import figure, svg

    epochs = sorted({r["epochs"] for r in rows})
    finished = [r for r in rows if r["score"] is not None]
    key = f"val_{metric}"
    plotted = key
    fig = figure(min(4.2 * len(epochs), 13.0), 3.4)
    axes = fig.subplots(1, len(epochs), squeeze=False, sharey=True)[0]
    colors = {}
    for ax, e in zip(axes, epochs):
        for r in sorted((r for r in finished if r["epochs"] == e), key=lambda r: (r["lr"], r["batch"])):
            history = _history(out / r["path"])
            # Losses and some scores are not in the per-epoch history; micro-F1 always is.
            field_ = key if history and key in history[0] else "val_micro_f1"
            plotted = field_
            xs = [h["epoch"] for h in history]
            ys = [h.get(field_) for h in history]
            label = f"lr {format_lr(r['lr'])} · b{r['batch']}" + (f" · {r['variant']}" if r.get("variant") else "")
            color = colors.setdefault(label, f"C{len(colors) % 10}")
            ax.plot(xs, ys, marker=".", lw=1.2, color=color, label=label)
            if r["best_epoch"] in xs:
                k = xs.index(r["best_epoch"])
                ax.plot([xs[k]], [ys[k]], "o", ms=6, mfc="none", color=color)
        ax.set_title(f"{e}-epoch trials")
        ax.set_xlabel("epoch (circle: kept epoch)")
        ax.set_xticks(range(1, e + 1))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"validation {plotted.removeprefix('val_')}")
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="outside right upper", frameon=False, fontsize=7.5)
    return svg(fig, "tune-curves")


def render_summary(out: Path, rows: list[dict], metric: str, grid: Grid, plan: Plan, best: dict) -> str:
    """The summary page as one HTML string (same template environment as the evaluation report)."""
    from .report import plot_style, environment

    manifest_ = read_json(out / GRID_FILE)
    with plot_style():
        figures = {"grid": fig_grid(rows, metric, best), "curves": fig_curves(out, rows, metric)}
    context = {
        "out": str(out),
        "metric": metric,
        "higher": higher_is_better(metric),
        "rows": rows,
        "score_keys": score_keys(),
        "best": best,
        "manifest": manifest_,
        "reuse": plan.reuse,
        "cost": grid_cost(grid, reuse=plan.reuse),
        "figures": figures,
        "genretag_version": __version__,
        "format_lr": format_lr,
        "grid_lr": [format_lr(x) for x in grid.lr],
    }
    return environment().get_template(TEMPLATE).render(**context)


def write_summary(out: Path, rows: list[dict], metric: str, grid: Grid, plan: Plan, best: dict) -> Path:
    """Write ``summary.html`` atomically."""
    path = out / SUMMARY_FILE
    write_text(path, render_summary(out, rows, metric, grid, plan, best))
    return path
