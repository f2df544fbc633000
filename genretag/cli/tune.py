"""``genretag tune``: the report's grid search (lr × batch size × epochs), resumable.

Every option of ``genretag train`` is accepted here too (the same table,
`genretag.cli.options`): ``--lr``, ``--batch`` and ``--epochs`` become comma lists, and so
may ``--lora-r``, ``--loss``, ``--max-length``, ``--text-col`` and ``--distill-alpha``; the
rest is shared by all trials.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Optional

import typer

from . import train as train_cmd
from .common import console, err_console, flag_names, given_options, handle_errors, info, show_progress
from .options import TRAIN_OPTIONS, Option, command, config_from_options

_VALUES = Optional[list[str]]
#: tune's form of train's options: the grid's axes as lists of values, its own --out and --force.
TUNE_FORMS = {option.name: option for option in (
    Option("out", ("--out", "-o"), Optional[Path], None,
           "Tuning folder \\[default: runs/tune-<time>]; rerun with the same --out to resume."),
    Option("text_cols", ("--text-col",), _VALUES, None, "Inputs to try, one per option, each a comma list of columns "
           "joined: --text-col overview --text-col title,overview."),
    Option("distill_alpha", ("--distill-alpha",), _VALUES, None,
           "With --teacher: label weights to try, e.g. 0.3,0.7 \\[default: 0.5]."),
    Option("lr", ("--lr",), _VALUES, None,
           "Learning rates to try, e.g. 1e-4,5e-4 or --lr 1e-4 --lr 5e-4 \\[default: 1e-4,5e-4,1e-5]."),
    Option("batch_size", ("--batch", "--batch-size"), _VALUES, None, "Batch sizes to try \\[default: 8,12,16]."),
    Option("epochs", ("--epochs",), _VALUES, None, "Epoch counts to try \\[default: 4,8]."),
    Option("max_length", ("--max-length",), _VALUES, None,
           "Token limits to try, e.g. 128,256 \\[default: train's]."),
    Option("lora_r", ("--lora-r",), _VALUES, None, "LoRA ranks to try, e.g. 8,16 \\[default: train's]."),
    Option("loss", ("--loss",), _VALUES, None, "Losses to try, e.g. bce,weighted-bce \\[default: train's]."),
    Option("force", ("--force",), bool, False, "Discard the trials already in --out and start over."),
)}
#: The options tune adds after train's.
TUNE_OWN = (
    Option("metric", type=str, default="micro_f1", help="Validation score that ranks the trials: micro_f1, macro_f1, "
           "micro_precision, micro_recall, macro_precision, macro_recall or hamming_loss."),
    Option("dry_run", ("--dry-run",), bool, False,
           "List the trials, what is reused and the epochs to train; train nothing."),
)
#: The config fields that are grid axes here (`genretag.tuning.AXES` and `VARIANT_AXES`).
GRID_AXES = ("lr", "batch_size", "epochs", "lora_r", "loss", "max_length", "text_cols", "distill_alpha")
# ``--resume`` is train's: tune resumes interrupted trials by itself.
TUNE_OPTIONS = (*(TUNE_FORMS.get(o.name, o) for o in TRAIN_OPTIONS if o.name != "resume"), *TUNE_OWN)


@handle_errors
@command(*TUNE_OPTIONS)
def tune_cli(ctx: typer.Context, **options) -> None:
    """Grid-search learning rate × batch size × epochs; pick the best run by validation score.

    Rerun the same command to resume: finished trials are kept.

    With --schedule constant and --warmup-ratio 0, shorter trials are read from longer ones.
    """
    axes = {name: options.pop(name) for name in GRID_AXES}
    metric, out, force, dry_run = (options.pop(name) for name in ("metric", "out", "force", "dry_run"))
    # The base config holds train's values on the axes (the first --text-col, if any): each trial
    # sets its own. An axis typed here is "given": a --config file does not override it either.
    first_input = {"text_cols": axes["text_cols"][:1]} if axes["text_cols"] else {}
    base = config_from_options({**options, **first_input}, config_file=options["config_file"],
                               given=given_options(ctx))
    # An unreadable file or a missing column fails in a second, before torch is imported.
    train_cmd.check_data(base)
    from ..device import check_device

    options["device"] = check_device(options["device"])
    from ..tuning import (check_metric, check_trials, default_out, describe_repeated, grid_cost, parse_grid,
                          plan_tune, tune)

    variants = {name: axes[name] for name in ("lora_r", "loss", "max_length", "text_cols", "distill_alpha")}
    grid = parse_grid(axes["lr"], axes["batch_size"], axes["epochs"], variants=variants)
    repeated = describe_repeated(grid, flag_names(ctx))
    if repeated:
        logging.getLogger(__name__).warning(repeated)
    metric = check_metric(metric)
    first = {name: values[0] for name, values in grid.variants.items()}
    if "text_cols" in first:
        first["text_cols"] = list(first["text_cols"])
    base = dataclasses.replace(base, lr=grid.lr[0], batch_size=grid.batch_size[0], epochs=grid.epochs[0], **first)
    check_trials(base, grid)
    if dry_run:
        _print_plan(plan_tune(base, grid, out) if out else _fresh_plan(grid, base))
        return
    out = out or default_out()
    progress = TuneProgress(show_progress())
    try:
        result = tune(base, grid, out, metric=metric, force=force, device=options["device"], callback=progress)
    finally:
        progress.close()
    _print_result(result, grid_cost(grid, reuse=result.plan.reuse))


def _fresh_plan(grid, base):
    from ..training import epochs_reusable
    from ..tuning import make_plan

    return make_plan(grid, set(), reuse=epochs_reusable(base))


class TuneProgress:
    """Tuning events → a live table of trials on a terminal, plain status lines elsewhere."""

    def __init__(self, live: bool):
        self.live = None
        self.want_live = live
        self.rows: dict[str, dict] = {}
        self.plan = None
        self.metric = "micro_f1"
        self.train_rows = 0
        self.current: dict = {}
        self.rows_done = 0  # training rows processed by finished trainings
        self.t_start = None
        self.best = None

    # ---- events
    def __call__(self, event: str, data: dict) -> None:
        handler = getattr(self, f"on_{event}", None)
        if handler:
            handler(data)
        if self.live is not None:
            self.live.refresh()

    def on_note(self, data):
        self._say(data["message"])

    def on_plan(self, data):
        plan, self.metric = data["plan"], data["metric"]
        self.plan = plan
        for t in plan.trials:
            self.rows[t.id] = {"trial": t, "status": "pending", "score": None, "seconds": None, "detail": ""}
        for t in plan.finished:
            self.rows[t.id]["status"] = "kept"
        for run in plan.runs:
            for s in run.snapshots:
                self.rows[s.id]["detail"] = f"from {run.trial.id}"
        naive = f" ({plan.epochs_naive} if each trial trained alone)" if plan.epochs_naive > plan.epochs_to_train else ""
        self._say(
            f"tuning {len(plan.trials)} trials in {data['out']} by validation {self.metric}: "
            f"{len(plan.finished)} finished earlier, {len(plan.runs)} trainings, "
            f"{plan.epochs_to_train} epochs to train{naive}"
            + (f"; rerun with --out {data['out']} to resume" if plan.runs else "")
        )
        if self.want_live and plan.runs:
            from rich.live import Live

            self.live = Live(get_renderable=self._table, console=err_console, refresh_per_second=4, transient=True)
            self.live.start()

    def on_prepared(self, data):
        self.train_rows = data["train_rows"]
        self._say(f"data: {data['train_rows']} training rows, {data['validation_rows']} validation rows, "
                  f"{len(data['labels'])} genres (read and split once for every trial)")
        if data.get("data_report"):  # rows and genres left out, as `train` says them
            self._say("data: " + ", ".join(data["data_report"]))
        for line in data.get("genre_report") or ():
            self._say(line)

    def on_trial_start(self, data):
        self.t_start = self.t_start or time.perf_counter()
        self.current = {"trial": data["trial"], "step": 0, "total": 0, "epoch": 0, "epochs": data["epochs"],
                        "batch": self.rows[data["trial"]]["trial"].batch_size}
        self.rows[data["trial"]]["status"] = "running"
        also = f" (its first epochs give {', '.join(data['snapshots'])})" if data["snapshots"] else ""
        self._say(f"[{data['index'] + 1}/{data['runs']}] training {data['trial']}{also}", plain_only=True)

    def on_start(self, data):
        self.current["total"] = data["total_steps"]
        self.train_rows = data["train_rows"]

    def on_step(self, data):
        self.current["step"] = data["step"]

    def on_epoch(self, data):
        self.current["epoch"] = data["epoch"]
        self._say(f"  {data['trial']} epoch {data['epoch']}/{self.current['epochs']}: val micro-F1 "
                  f"{data['val_micro_f1']:.4f} ({data['epoch_seconds']:.0f} s)", plain_only=True)

    def on_trial_done(self, data):
        row = data["row"]
        state = self.rows[row["trial"]]
        state.update(status=row["status"], score=row["score"], seconds=row["seconds"])
        if row["status"] == "trained":
            self.rows_done += self.current.get("epochs", 0) * self.train_rows
            self.current = {}
        if row["score"] is not None and (self.best is None or self._better(row["score"], self.best["score"])):
            self.best = row
        self._say(f"  {row['trial']}: {row['status']}, val {self.metric} {row['score']:.4f}; best so far "
                  f"{self.best['trial']} {self.best['score']:.4f}", plain_only=True)

    def on_trial_failed(self, data):
        self.rows[data["trial"]]["status"] = "failed"
        self.current = {}
        self._say(f"{data['trial']} failed: {data['error']}; going on with the rest of the grid")

    # ---- display
    def _better(self, a, b) -> bool:
        from ..tuning import higher_is_better

        return a > b if higher_is_better(self.metric) else a < b

    def _say(self, message: str, plain_only: bool = False) -> None:
        if self.live is not None:
            if not plain_only:
                self.live.console.print(message, highlight=False)
        else:
            info(message)

    def eta(self) -> float | None:
        """Seconds left, from training rows processed per second so far."""
        if not self.plan or self.t_start is None:
            return None
        current_done = self.current.get("step", 0) * self.current.get("batch", 0)
        done = self.rows_done + current_done
        elapsed = time.perf_counter() - self.t_start
        if done <= 0 or elapsed <= 0:
            return None
        total = sum(r.trial.epochs for r in self.plan.runs) * self.train_rows
        return max(total - done, 0) / (done / elapsed)

    def _table(self):
        from rich.table import Table

        from ..tuning import format_lr

        done = sum(1 for r in self.rows.values() if r["status"] in ("trained", "reused", "kept"))
        eta = self.eta()
        best = f"{self.best['trial']} {self.best['score']:.4f}" if self.best else "–"
        table = Table(title=f"genretag tune · {done}/{len(self.rows)} trials done · best so far {best} · "
                            f"ETA {_duration(eta) if eta is not None else '–'}", title_justify="left")
        for name, justify in (("trial", "left"), ("lr", "right"), ("batch", "right"), ("epochs", "right"),
                              ("status", "left"), (f"val {self.metric}", "right"), ("seconds", "right")):
            table.add_column(name, justify=justify, no_wrap=name == "trial")
        for trial_id, r in self.rows.items():
            t = r["trial"]
            status = r["status"]
            if status == "running" and self.current.get("trial") == trial_id:
                c = self.current
                status = f"epoch {max(c['epoch'], 1)}/{c['epochs']} · step {c['step']}/{c['total']}"
            elif status == "pending" and r["detail"]:
                status = f"pending ({r['detail']})"
            style = "bold green" if self.best and self.best["trial"] == trial_id else None
            table.add_row(trial_id, format_lr(t.lr), str(t.batch_size), str(t.epochs), status,
                          "" if r["score"] is None else f"{r['score']:.4f}",
                          "" if r["seconds"] is None else f"{r['seconds']:.0f}", style=style)
        return table

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _print_plan(plan) -> None:
    from rich.table import Table

    from ..tuning import format_lr

    source = {s.id: r.trial.id for r in plan.runs for s in r.snapshots}
    trained = {r.trial.id for r in plan.runs}
    finished = {t.id for t in plan.finished}
    table = Table(title="genretag tune --dry-run", title_justify="left")
    for name in ("trial", "lr", "batch", "epochs", "action"):
        table.add_column(name, justify="left" if name in ("trial", "action") else "right")
    for t in plan.trials:
        action = ("finished earlier" if t.id in finished else "train" if t.id in trained
                  else f"read from {source[t.id]}")
        table.add_row(t.id, format_lr(t.lr), str(t.batch_size), str(t.epochs), action)
    console.print(table)
    console.print(
        f"{len(plan.runs)} trainings, {plan.epochs_to_train} epochs to train; each unfinished trial from scratch: "
        f"{plan.epochs_naive} epochs"
        + ("" if plan.reuse else " (no epoch reuse: it needs --schedule constant and --warmup-ratio 0)"),
        highlight=False,
    )


def _print_result(result, cost: dict) -> None:
    from rich.table import Table

    from ..tuning import format_lr

    extra = [k for k in ("micro_f1", "macro_f1") if k != result.metric]
    table = Table(title=f"leaderboard (validation {result.metric})", title_justify="left")
    names = ["#", "trial", "lr", "batch", "epochs", result.metric, *extra, "seconds", "status", "read from"]
    cells = [[
        "" if r["rank"] is None else str(r["rank"]), r["trial"], format_lr(r["lr"]), str(r["batch"]),
        str(r["epochs"]),
        _f(r["score"]), *[_f(r[k]) for k in extra], "" if r["seconds"] is None else f"{r['seconds']:.0f}",
        r["status"], r["reused_from"],
    ] for r in result.rows]
    if not any(row[-1] for row in cells):  # nothing read from a longer trial: no empty column to squeeze the rest
        names.pop()
        cells = [row[:-1] for row in cells]
    for i, name in enumerate(names):
        text = name in ("trial", "status", "read from")
        # Fits 80 columns: score names on two lines ("micro" over "f1"), "sec"; a number or trial id is never cut.
        header = {"seconds": "sec"}.get(name, name.replace("_", "\n") if i >= 5 and not text else name)
        table.add_column(header, justify="left" if text else "right", overflow="fold",
                         min_width=None if name in ("status", "read from") else max((len(row[i]) for row in cells),
                                                                                    default=1))
    for r, row in zip(result.rows, cells):
        table.add_row(*row, style="bold green" if r is result.best else None)
    console.print(table)
    best = result.best
    plan = result.plan
    console.print(
        f"best: [bold]{best['trial']}[/] (validation {result.metric} {best['score']:.4f}, "
        f"kept epoch {best['best_epoch']}) "
        f"→ [bold]{result.best_path}[/]\nwrote {result.out}/leaderboard.csv, leaderboard.json and summary.html; "
        f"this run: {len(plan.runs)} trainings, {plan.epochs_to_train} epochs (each trial alone: {plan.epochs_naive}), "
        f"{len(plan.finished)} trials kept from earlier, {_duration(result.seconds)}; "
        f"whole grid: {cost['epochs']} epochs "
        f"with reuse vs {cost['epochs_naive']} naive",
        highlight=False,
    )


def _f(value) -> str:
    return "" if value is None else f"{value:.4f}"
