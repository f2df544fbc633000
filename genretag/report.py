"""The HTML evaluation report: one self-contained page rendered from `evaluate`'s results.

Figures are drawn with matplotlib's object API (``Figure``, no pyplot, so no GUI
backend is ever touched) and inlined as SVG; styles and the small sorting script are
inline too, so the page makes no request and opens offline. Templates are Jinja2 with
autoescaping on: titles and synopses from a CSV are shown as text, never run as markup.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from .outputs import write_text

TEMPLATE = "report.html.j2"
#: Every section of the page, in order (ids of the ``<section>`` elements).
SECTION_IDS: tuple[str, ...] = (
    "header",
    "summary",
    "scores",
    "per-genre",
    "confusion",
    "heatmap",
    "pr-curves",
    "threshold",
    "genres-per-movie",
    "worst",
    "unknown-genres",
    "movies",
    "about",
)
#: Movies listed in the "true vs predicted" table of the page (the JSON has them all).
MAX_MOVIES = 1000

MODEL_COLOR = "#3b6fb6"
BASELINE_COLOR = "#d08a2e"
_SVG_PROLOGUE = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<metadata>.*?</metadata>\s*", re.S)


def template_dirs() -> list[Path]:
    """Folders searched for templates: the installed package's first, then the repository's."""
    package = Path(__file__).resolve().parent
    return [package / "templates", package.parent / "templates"]


def environment():
    """The Jinja2 environment of genretag's templates (autoescaping on, strict undefined)."""
    import jinja2

    dirs = [str(d) for d in template_dirs() if d.is_dir()]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(dirs),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["pct"] = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"
    env.filters["sentence"] = lambda text: (text[:1].upper() + text[1:]).rstrip(".") + "."
    return env


def _num(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _plotted(values):
    """Scores to plot: a score that is not defined (None) is no point and no bar (NaN)."""
    return [np.nan if v is None else v for v in values]


# --------------------------------------------------------------------------- figures


def svg(fig, salt: str) -> str:
    """A matplotlib figure as an inline ``<svg>`` element (no XML prologue, no metadata)."""
    import matplotlib

    buf = io.StringIO()
    # A distinct salt per figure keeps the generated element ids unique on the page.
    with matplotlib.rc_context({"svg.hashsalt": f"genretag-{salt}", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return _SVG_PROLOGUE.sub("", buf.getvalue()).strip()


def figure(width: float, height: float):
    """A matplotlib figure of ``width`` x ``height`` inches at 100 dpi, laid out to fit (no pyplot state)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def plot_style():
    """The rc context every genretag figure is drawn in (small sans text, no top/right spines)."""
    import matplotlib

    # text.parse_math off: a genre called "$x$" is a name, not a formula.
    return matplotlib.rc_context({
        "text.parse_math": False,
        "font.size": 9,
        "font.family": "DejaVu Sans",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.fonttype": "none",
    })


def _operating(results: dict) -> tuple[str, str]:
    """Score blocks of the model and of the baseline at the run's operating point."""
    if results["decision"]["differs_from_fixed"]:
        return "at_run_thresholds", "at_own_thresholds"
    return "at_0.5", "at_0.5"


def _grid(n: int, cols: int) -> tuple[int, int]:
    cols = max(1, min(cols, n))
    return -(-n // cols), cols


def fig_per_genre_f1(results: dict) -> str:
    """Horizontal bars: F1 per genre (model at its thresholds vs the baseline), by support."""
    op, bop = _operating(results)
    per = results["scores"][op]["per_genre"]
    order = sorted(range(len(per)), key=lambda j: (per[j]["support"], per[j]["genre"]))
    base = results["baseline"]["scores"][bop]["per_genre"] if results["baseline"].get("available") else None
    fig = figure(7.5, 0.28 * len(per) + 1.0)
    ax = fig.add_subplot()
    y = np.arange(len(order))
    h = 0.4 if base else 0.7
    ax.barh(y + (h / 2 if base else 0), _plotted(per[j]["f1"] for j in order), height=h, color=MODEL_COLOR,
            label="model")
    if base:
        ax.barh(y - h / 2, _plotted(base[j]["f1"] for j in order), height=h, color=BASELINE_COLOR,
                label="TF-IDF baseline")
    # F1 not defined (no true and no predicted row): no bar, and said on the label.
    ax.set_yticks(y, [f"{per[j]['genre']} ({per[j]['support']}){', F1 n/a' if per[j]['f1'] is None else ''}"
                      for j in order])
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return svg(fig, "f1")


def fig_confusion(results: dict) -> str:
    """One 2×2 confusion matrix per genre (rows: truth, columns: prediction)."""
    per = results["scores"][_operating(results)[0]]["per_genre"]
    rows, cols = _grid(len(per), 6)
    fig = figure(1.6 * cols, 1.85 * rows)
    for k, rec in enumerate(per):
        ax = fig.add_subplot(rows, cols, k + 1)
        cm = np.array([[rec["tn"], rec["fp"]], [rec["fn"], rec["tp"]]])
        # Colour by share of each true row, so rare genres are as readable as common ones.
        share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for (i, j), value in np.ndenumerate(cm):
            ax.text(j, i, str(value), ha="center", va="center", fontsize=8, color="white" if share[i, j] > 0.6 else "black")
        ax.set_xticks([0, 1], ["no", "yes"], fontsize=7)
        ax.set_yticks([0, 1], ["no", "yes"], fontsize=7)
        ax.tick_params(length=0, pad=1)
        ax.set_title(rec["genre"], fontsize=8)
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.supxlabel("predicted", fontsize=8)
    fig.supylabel("true", fontsize=8)
    return svg(fig, "confusion")


def fig_heatmap(results: dict) -> str:
    """True vs predicted genres: share of movies of each true genre given each predicted genre."""
    labels = results["labels"]
    matrix = np.array(results["scores"][_operating(results)[0]]["confusion_between_genres"], dtype=float).reshape(len(labels), len(labels))
    size = max(4.0, 0.42 * len(labels) + 1.8)
    fig = figure(size + 1.0, size)
    ax = fig.add_subplot()
    im = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    if len(labels) <= 30:
        for (i, j), value in np.ndenumerate(matrix):
            if value >= 0.005:
                ax.text(j, i, f"{round(100 * value)}", ha="center", va="center", fontsize=6.5,
                        color="black" if value > 0.6 else "white")
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the true genre's movies")
    for spine in ax.spines.values():
        spine.set_visible(False)
    return svg(fig, "heatmap")


def fig_pr_curves(results: dict) -> str:
    """Per-genre precision–recall curves, with the operating point at the run's threshold."""
    labels = results["labels"]
    curves = results["curves"]["precision_recall"]
    per = {r["genre"]: r for r in results["scores"]["at_run_thresholds"]["per_genre"]}
    rows, cols = _grid(len(labels), 6)
    fig = figure(1.9 * cols, 2.0 * rows)
    for k, genre in enumerate(labels):
        ax = fig.add_subplot(rows, cols, k + 1)
        curve = curves.get(genre)
        rec = per[genre]
        if curve:
            ax.plot(curve["recall"], curve["precision"], color=MODEL_COLOR, lw=1.2, drawstyle="steps-post")
            ax.plot(_plotted([rec["recall"]]), _plotted([rec["precision"]]), "o", color="#c0392b", ms=4)
            ax.set_title(f"{genre}\nAP {_num(rec['average_precision'], 2)}", fontsize=7.5)
        else:
            ax.text(0.5, 0.5, "no positives", ha="center", va="center", fontsize=7, color="gray")
            ax.set_title(genre, fontsize=7.5)
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.05)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.25)
    fig.supxlabel("recall (dot: the run's threshold)", fontsize=8)
    fig.supylabel("precision", fontsize=8)
    return svg(fig, "pr")


def fig_threshold(results: dict) -> str:
    """Micro- and macro-F1 when one threshold is used for every genre."""
    curve = results["curves"]["f1_by_threshold"]
    fig = figure(7.0, 3.4)
    ax = fig.add_subplot()
    ax.plot(curve["thresholds"], curve["micro_f1"], color=MODEL_COLOR, lw=1.8, label="model micro-F1")
    ax.plot(curve["thresholds"], _plotted(curve["macro_f1"]), color=MODEL_COLOR, lw=1.2, ls="--",
            label="model macro-F1")
    base = results["baseline"]
    if base.get("available"):
        b = base["f1_by_threshold"]
        ax.plot(b["thresholds"], b["micro_f1"], color=BASELINE_COLOR, lw=1.8, label="baseline micro-F1")
        ax.plot(b["thresholds"], _plotted(b["macro_f1"]), color=BASELINE_COLOR, lw=1.2, ls="--",
                label="baseline macro-F1")
    best = int(np.argmax(curve["micro_f1"]))
    ax.axvline(0.5, color="gray", lw=0.8, ls=":")
    ax.plot([curve["thresholds"][best]], [curve["micro_f1"][best]], "o", color="#c0392b", ms=4,
            label=f"best micro-F1 {curve['micro_f1'][best]:.3f} at {curve['thresholds'][best]:.2f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("threshold (same for every genre)")
    ax.set_ylabel("F1")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")
    return svg(fig, "threshold")


def fig_genres_per_movie(results: dict) -> str:
    """How many genres movies have, and how many the model (and baseline) gives them."""
    dist = results["genres_per_movie"]
    series = [("true", dist["true"], "#555555"), ("model", dist["predicted"], MODEL_COLOR)]
    if "baseline" in dist:
        series.append(("baseline", dist["baseline"], BASELINE_COLOR))
    n = max(len(s[1]) for s in series)
    x = np.arange(n)
    width = 0.8 / len(series)
    fig = figure(7.0, 3.0)
    ax = fig.add_subplot()
    for k, (name, counts, color) in enumerate(series):
        counts = list(counts) + [0] * (n - len(counts))
        ax.bar(x + (k - (len(series) - 1) / 2) * width, counts, width=width, color=color, label=name)
    ax.set_xticks(x)
    ax.set_xlabel("genres per movie")
    ax.set_ylabel("movies")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False)
    return svg(fig, "per-movie")


def figures(results: dict) -> dict[str, str]:
    """Every figure of the report as inline SVG, by name."""
    with plot_style():
        return {
            "per_genre_f1": fig_per_genre_f1(results),
            "confusion": fig_confusion(results),
            "heatmap": fig_heatmap(results),
            "pr_curves": fig_pr_curves(results),
            "threshold": fig_threshold(results),
            "genres_per_movie": fig_genres_per_movie(results),
        }


# --------------------------------------------------------------------------- page


#: Rows of the summary table: (key, label, higher is better).
SUMMARY_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("micro_f1", "Micro F1", True),
    ("micro_precision", "Micro precision", True),
    ("micro_recall", "Micro recall", True),
    ("macro_f1", "Macro F1", True),
    ("macro_precision", "Macro precision", True),
    ("macro_recall", "Macro recall", True),
    ("weighted_f1", "Weighted F1", True),
    ("weighted_precision", "Weighted precision", True),
    ("weighted_recall", "Weighted recall", True),
    ("samples_f1", "Per-sample F1", True),
    ("samples_precision", "Per-sample precision", True),
    ("samples_recall", "Per-sample recall", True),
    ("jaccard", "Jaccard (per sample)", True),
    ("subset_accuracy", "Subset accuracy (exact match)", True),
    ("hamming_loss", "Hamming loss", False),
    ("predicted_genres_per_row", "Genres predicted per movie", None),
    ("true_genres_per_row", "True genres per movie", None),
)
RANKING_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("micro_average_precision", "Micro average precision", True),
    ("macro_average_precision", "Macro average precision", True),
    ("micro_roc_auc", "Micro ROC-AUC", True),
    ("macro_roc_auc", "Macro ROC-AUC", True),
)
CARDS: tuple[tuple[str, str, bool], ...] = (
    ("micro_f1", "Micro F1", True),
    ("macro_f1", "Macro F1", True),
    ("samples_f1", "Per-sample F1", True),
    ("jaccard", "Jaccard", True),
    ("subset_accuracy", "Subset accuracy", True),
    ("hamming_loss", "Hamming loss", False),
)


def _context(results: dict) -> dict:
    decision = results["decision"]
    two_rules = decision["differs_from_fixed"]
    op, bop = _operating(results)
    base = results["baseline"]
    base_summary = base["scores"][bop]["summary"] if base.get("available") else None
    cards = []
    for key, label, higher in CARDS:
        baseline = base_summary[key] if base_summary is not None else None
        cards.append(_card(label, results["scores"][op]["summary"][key], baseline, higher))
    cards.append(_card(
        "Micro average precision", results["ranking"]["micro_average_precision"],
        base["ranking"]["micro_average_precision"] if base.get("available") else None, True,
    ))

    per_fixed = results["scores"]["at_0.5"]["per_genre"]
    per_run = results["scores"]["at_run_thresholds"]["per_genre"]
    per_base = base["scores"][bop]["per_genre"] if base.get("available") else [None] * len(per_fixed)
    genre_rows = sorted(zip(per_fixed, per_run, per_base), key=lambda r: (-r[0]["support"], r[0]["genre"]))
    movies = results["movies"]
    return {
        "r": results,
        "tuned": results["thresholds"]["tuned"],
        "two_rules": two_rules,
        "op": op,
        "bop": bop,
        "operating_label": _rule_label(results) if two_rules else "at threshold 0.5",
        "baseline_label": _baseline_label(results),
        "baseline_column": "Baseline, own thresholds" if results["thresholds"]["tuned"] else "Baseline, run's rule",
        "cards": cards,
        "summary_rows": SUMMARY_ROWS,
        "ranking_rows": RANKING_ROWS,
        "base": base,
        "genre_rows": genre_rows,
        "movies": movies[:MAX_MOVIES],
        "movies_total": len(movies),
        "figures": figures(results),
        "sections": SECTION_IDS,
    }


def _baseline_label(results: dict) -> str:
    if not results["decision"]["differs_from_fixed"]:
        return "at 0.5"
    if results["thresholds"]["tuned"]:
        return "at its own thresholds, tuned on the run's validation rows the way the run's were, under the run's rule"
    return "under the run's rule"


def _rule_label(results: dict) -> str:
    parts = ["its tuned thresholds" if results["thresholds"]["tuned"] else "its thresholds"]
    if results["decision"]["at_least_one"]:
        parts.append("at least one genre per movie")
    if results["decision"]["max_genres"]:
        parts.append(f"at most {results['decision']['max_genres']}")
    return "under the run's rule (" + ", ".join(parts) + ")"


def _card(label: str, value, baseline, higher: bool) -> dict:
    delta = value - baseline if value is not None and baseline is not None else None
    return {"label": label, "value": value, "baseline": baseline, "delta": delta, "higher": higher}


def render_report(results: dict) -> str:
    """The report page for `genretag.evaluation.evaluate`'s results, as one HTML string."""
    return environment().get_template(TEMPLATE).render(**_context(results))


def write_report(results: dict, path: str | Path, *, force: bool = False) -> Path:
    """Render the report and write it atomically (refuses to overwrite without ``force``)."""
    html = render_report(results)
    write_text(path, html, force=force)
    return Path(path)
