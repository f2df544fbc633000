"""Ways of turning a run's probabilities into genres, each scored on validation rows that did not tune it.

A run's thresholds are tuned on its validation split and look best on it. This script keeps the
run's weights and its language-model and TF-IDF probabilities on the validation rows, then over
``--halvings`` random halvings (seed ``--seed``) tunes each candidate rule on one half and scores
it on the other (counts pooled over both directions of a halving), and prints the mean held-out
micro-F1, macro-F1 and one genre's F1 per candidate:

- A: as ``train`` tunes it: one blend weight (`genretag.tfidf.WEIGHTS`), per-genre thresholds
  shrunk toward the global one by n/(n+10), the global one below 5 positives;
- B, C: A with shrink 20, 40;  D: A with the global threshold below 10 positives;
- E: one global threshold;  F: a blend weight per genre (by its average precision), thresholds as A.

It chose the bundled model's rule in stop 29 (benchmarks/RESULTS.md). Usage::

    python benchmarks/decision_rule_check.py [--model genretag/default_model] [--data FILE] [--genre "TV Movie"]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from genretag.decision import DecisionRule
from genretag.metrics import average_precision
from genretag.metrics import micro_f1 as micro  # pooled over every row x genre
from genretag.tfidf import WEIGHTS

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tmdb-movie-genres-9k.csv"
BUNDLED = Path(__file__).resolve().parents[1] / "genretag" / "default_model"


def validation_probs(model: Path, data: Path | None):
    """``(labels, truth, language-model probabilities, TF-IDF probabilities or None)`` of the run's validation rows."""
    from genretag.ensemble import tuning_rows
    from genretag.runs import load_run

    run = load_run(model)
    _, (texts, y) = tuning_rows(run, data, "check")
    lm = dataclasses.replace(run, blend=None).predict_proba(texts)
    tfidf = run.blend.predict_proba(texts) if run.blend is not None else None
    return list(run.labels), y.astype(bool), lm, tfidf, run.config.at_least_one


def candidates(at_least_one: bool) -> dict:
    """Name → ``fit(y, lm, tfidf) -> (blend weight(s), DecisionRule)``."""

    def one_weight(**tune):
        def fit(y, lm, tfidf):
            best = None
            for w in WEIGHTS if tfidf is not None else (0.0,):
                probs = (1 - w) * lm + w * tfidf if tfidf is not None else lm
                rule = DecisionRule.tune(y, probs, at_least_one=at_least_one, **tune)
                score = micro(y, rule.apply(probs).astype(bool))
                if best is None or score > best[0] + 1e-9:  # ties keep the smaller weight, as train does
                    best = (score, w, rule)
            return best[1], best[2]
        return fit

    def per_genre_weight(y, lm, tfidf):
        if tfidf is None:
            return one_weight()(y, lm, tfidf)
        weights = np.zeros(y.shape[1])
        for j in range(y.shape[1]):
            scored = [(average_precision(y[:, j], (1 - w) * lm[:, j] + w * tfidf[:, j]), w) for w in WEIGHTS]
            scored = [(ap, w) for ap, w in scored if ap is not None]
            weights[j] = max(scored, key=lambda t: (t[0], -t[1]))[1] if scored else 0.0
        return weights, DecisionRule.tune(y, (1 - weights) * lm + weights * tfidf, at_least_one=at_least_one)

    return {"A: as trained (shrink 10, min 5 positives)": one_weight(),
            "B: shrink 20": one_weight(shrink=20.0), "C: shrink 40": one_weight(shrink=40.0),
            "D: global below 10 positives": one_weight(min_positives=10),
            "E: one global threshold": one_weight(mode="global"),
            "F: a blend weight per genre": per_genre_weight}


def held_out(y: np.ndarray, fits: dict, *, halvings: int, seed: int, genre: int) -> dict:
    """Each candidate tuned on one half of the rows and scored on the other, over random halvings.

    Args:
        y: The rows' 0/1 genres ``[rows, genres]`` (bool).
        fits: Name → ``fit(rows) -> (a number to show, predict(rows) -> [rows, genres] bool)``,
            ``rows`` being indices into ``y``.
        halvings: How many random halvings (seeded by ``seed``; counts pooled over both directions).
        genre: The column whose F1 is kept.

    Returns:
        Name → ``(scores, shown)``: per halving ``(micro-F1, macro-F1, that genre's F1)``, and the
        numbers ``fit`` returned.
    """
    rng = np.random.default_rng(seed)
    out = {name: ([], []) for name in fits}
    for _ in range(halvings):
        order = rng.permutation(len(y))
        halves = (order[: len(y) // 2], order[len(y) // 2:])
        for name, fit in fits.items():
            pred = np.zeros_like(y)
            for a, b in (halves, halves[::-1]):
                number, predict = fit(a)
                out[name][1].append(number)
                pred[b] = predict(b)
            tp, fp, fn = (pred & y).sum(0), (pred & ~y).sum(0), (~pred & y).sum(0)
            f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
            out[name][0].append((micro(y, pred), f1.mean(), f1[genre]))
    return out


def print_table(results: dict, genre_name: str, shown: str | None = None) -> None:
    """The mean held-out scores of `held_out`'s results as a Markdown table (``shown``: a column of the
    mean number each fit returned)."""
    extra = f" {shown} |" if shown else ""
    print(f"| held out (mean) | micro-F1 | macro-F1 | {genre_name} F1 | sd micro / macro |{extra}")
    print("|---|---:|---:|---:|---|" + ("---:|" if shown else ""))
    for name, (values, numbers) in results.items():
        mean, sd = np.mean(values, axis=0), np.std(values, axis=0)
        cell = f" {np.mean(numbers):.2f} |" if shown else ""
        print(f"| {name} | {mean[0]:.4f} | {mean[1]:.4f} | {mean[2]:.3f} | {sd[0]:.4f} / {sd[1]:.4f} |{cell}")


def check_parser(doc: str) -> argparse.ArgumentParser:
    """The options every held-out check takes: the run, its data, the halvings and the genre shown."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=BUNDLED, help="the run to check (default: the bundled model)")
    parser.add_argument("--data", type=Path, default=DATA if DATA.is_file() else None)
    parser.add_argument("--halvings", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--genre", default="TV Movie", help="the genre whose held-out F1 is shown")
    return parser


def main() -> None:
    args = check_parser(__doc__).parse_args()
    t0 = time.perf_counter()
    labels, y, lm, tfidf, at_least_one = validation_probs(args.model, args.data)

    def fitting(fit):
        def tuned(rows):
            w, rule = fit(y[rows], lm[rows], tfidf[rows] if tfidf is not None else None)

            def predict(b):
                return rule.apply((1 - w) * lm[b] + w * tfidf[b] if tfidf is not None else lm[b]).astype(bool)
            return 0.0, predict
        return tuned

    fits = {name: fitting(fit) for name, fit in candidates(at_least_one).items()}
    results = held_out(y, fits, halvings=args.halvings, seed=args.seed, genre=labels.index(args.genre))
    print(f"{args.model}: {len(y)} validation rows, {args.halvings} halvings (seed {args.seed}), "
          f"{time.perf_counter() - t0:.0f} s")
    print_table(results, args.genre)


if __name__ == "__main__":
    main()
