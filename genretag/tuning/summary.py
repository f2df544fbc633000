"""The tune folder's ``summary.html``: a heat map of the score over lr × batch per epoch
count, and every trial's validation curve (same template environment as the evaluation report).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..outputs import write_text
from ..rundir import HISTORY_FILE, read_json
from .folder import GRID_FILE, SUMMARY_FILE, higher_is_better, score_keys
from .grid import Grid, Plan, format_lr, grid_cost

TEMPLATE = "tune.html.j2"


def _history(path: Path) -> list[dict]:
    try:
        lines = (path / HISTORY_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def fig_grid(rows: list[dict], metric: str, best: dict) -> str:
    """Heat map of the validation score over learning rate × batch size, one panel per epoch count."""
    from ..report import figure, svg

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
    from ..report import figure, svg

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
    from ..report import plot_style, environment

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
