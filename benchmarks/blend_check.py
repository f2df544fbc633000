"""Variants of a run's TF-IDF blend, each scored on validation rows that did not tune it.

The run's language-model probabilities on its validation rows are computed once. Its TF-IDF part
is refitted on the run's training rows (true labels) in each variant; then over ``--halvings``
random halvings (seed ``--seed``) the blend weight and one global threshold are tuned on one half
of validation and scored on the other (counts pooled over both directions of a halving). Prints the
mean held-out micro-F1, macro-F1 and one genre's F1 per variant:

- A: the blend as ``train`` fits it (word 1-2-grams, C=4), weight of 0..0.5;
- B: A's TF-IDF, weight of 0..0.8;  C, D: C=8, C=2;  E: balanced class weights;
- F: word 1-2-grams and char_wb 2-5-grams stacked.

It is the check of stop 30 (benchmarks/RESULTS.md). Usage::

    python benchmarks/blend_check.py [--model genretag/default_model] [--data FILE] [--genre "TV Movie"]
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
from decision_rule_check import check_parser, held_out, print_table

from genretag.decision import DecisionRule
from genretag.metrics import micro_f1 as micro  # pooled over every row x genre

NARROW = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
WIDE = NARROW + (0.6, 0.7, 0.8)


def tfidf_probs(train_texts, y_train, val_texts, *, C=4.0, class_weight=None, chars=False) -> np.ndarray:
    """A TF-IDF + one-vs-rest logistic regression's validation probabilities ``[rows, genres]``."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    common = {"sublinear_tf": True, "strip_accents": "unicode", "lowercase": True, "dtype": np.float32, "min_df": 2}
    vectorizers = [TfidfVectorizer(ngram_range=(1, 2), max_features=200_000, **common)]
    if chars:
        vectorizers.append(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), max_features=300_000, **common))
    scale = 1 / np.sqrt(len(vectorizers))
    x_train = hstack([v.fit_transform(train_texts) * scale for v in vectorizers]).tocsr()
    x_val = hstack([v.transform(val_texts) * scale for v in vectorizers]).tocsr()
    model = OneVsRestClassifier(LogisticRegression(C=C, class_weight=class_weight, solver="liblinear",
                                                   max_iter=1000, random_state=42))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        model.fit(x_train, y_train)
    return np.asarray(model.predict_proba(x_val), dtype=np.float32)


def main() -> None:
    parser = check_parser(__doc__)
    args = parser.parse_args()

    from genretag.ensemble import tuning_rows
    from genretag.runs import load_run

    t0 = time.perf_counter()
    run = load_run(args.model)
    (train_texts, y_train), (val_texts, y) = tuning_rows(run, args.data, "check")
    y = y.astype(bool)
    lm = dataclasses.replace(run, blend=None).predict_proba(val_texts)
    print(f"{args.model}: {len(train_texts)} training rows, {len(y)} validation rows; "
          f"language model {time.perf_counter() - t0:.0f} s", flush=True)
    variants = {
        "A: as trained (C=4, weight 0..0.5)": (NARROW, {}),
        "B: weight 0..0.8": (WIDE, {}),
        "C: C=8": (WIDE, {"C": 8.0}),
        "D: C=2": (WIDE, {"C": 2.0}),
        "E: balanced class weights": (WIDE, {"class_weight": "balanced"}),
        "F: + char_wb 2-5-grams": (WIDE, {"chars": True}),
    }
    fitted = {}
    for _, params in variants.values():
        key = tuple(sorted(params.items()))
        if key not in fitted:
            t = time.perf_counter()
            fitted[key] = tfidf_probs(train_texts, y_train, val_texts, **params)
            print(f"  TF-IDF {dict(key) or 'as trained'}: {time.perf_counter() - t:.0f} s", flush=True)
    genre = list(run.labels).index(args.genre)
    at_least_one = run.config.at_least_one

    def fit(weights, tfidf, rows):
        best = None
        for w in weights:
            probs = (1 - w) * lm[rows] + w * tfidf[rows]
            rule = DecisionRule.tune(y[rows], probs, at_least_one=at_least_one, mode="global")
            score = micro(y[rows], rule.apply(probs).astype(bool))
            if best is None or score > best[0] + 1e-9:  # ties keep the smaller weight, as train does
                best = (score, w, rule)
        return best[1], best[2]

    def fitting(weights, tfidf):
        def tuned(rows):
            w, rule = fit(weights, tfidf, rows)
            return w, lambda b: rule.apply((1 - w) * lm[b] + w * tfidf[b]).astype(bool)
        return tuned

    fits = {name: fitting(weights, fitted[tuple(sorted(params.items()))])
            for name, (weights, params) in variants.items()}
    results = held_out(y, fits, halvings=args.halvings, seed=args.seed, genre=genre)
    print(f"{args.halvings} halvings (seed {args.seed}), {time.perf_counter() - t0:.0f} s in all")
    print_table(results, args.genre, "mean weight")


if __name__ == "__main__":
    main()
