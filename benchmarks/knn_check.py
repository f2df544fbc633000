"""A k-nearest-neighbour part in a run's blend, scored on validation rows that did not tune it.

For each validation row, its ``--k`` nearest training rows (cosine similarity) give the
similarity-weighted mean of their 0/1 genres (negative similarities count 0). The final
probabilities are ``(1 - v) * blend + v * kNN``; over ``--halvings`` random halvings the blend
weight, ``v`` (0..0.5) and one global threshold are tuned on one half and scored on the other.

- A: the run's blend as it is (language model + TF-IDF, weight 0..0.5);
- K1: kNN on the language model's pooled vectors (what its head reads);
- K2: kNN on the TF-IDF vectors of the run's blend.

It is the second check of stop 30 (benchmarks/RESULTS.md). Usage::

    python benchmarks/knn_check.py [--model genretag/default_model] [--data FILE] [--k 20]
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
from decision_rule_check import check_parser, held_out, print_table

from genretag.decision import DecisionRule
from genretag.metrics import micro_f1 as micro

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def pooled(run, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(pooled vectors [rows, hidden], language-model probabilities [rows, genres])`` in fp32."""
    caught = []
    hook = run.model.head.register_forward_hook(lambda module, args, out: caught.append(args[0].detach().float()))
    try:
        probs = dataclasses.replace(run, blend=None).predict_proba(texts, precision="fp32")
    finally:
        hook.remove()
    return torch.cat(caught).numpy(), probs


def knn(sims: np.ndarray, y_train: np.ndarray, k: int) -> np.ndarray:
    """Similarity-weighted genre means ``[rows, genres]`` of each row's ``k`` most similar training rows.

    Args:
        sims: Cosine similarities ``[rows, training rows]``.
        y_train: The training rows' 0/1 genres ``[training rows, genres]``.
    """
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    w = np.clip(np.take_along_axis(sims, top, axis=1), 0, None)
    return (w[:, :, None] * y_train[top]).sum(1) / np.maximum(w.sum(1, keepdims=True), 1e-12)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def main() -> None:
    parser = check_parser(__doc__)
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()

    from genretag.ensemble import tuning_rows
    from genretag.runs import load_run

    t0 = time.perf_counter()
    run = load_run(args.model)
    (train_texts, y_train), (val_texts, y) = tuning_rows(run, args.data, "check")
    y, y_train = y.astype(bool), y_train.astype(np.float32)
    vec_train, _ = pooled(run, train_texts)
    vec_val, lm = pooled(run, val_texts)
    tfidf = run.blend.predict_proba(val_texts)
    print(f"{args.model}: {len(train_texts)} training rows, {len(y)} validation rows; "
          f"vectors {time.perf_counter() - t0:.0f} s", flush=True)

    def tfidf_matrix(texts):
        from scipy.sparse import csr_matrix

        rows = [run.blend.features(t) for t in texts]
        indptr = np.cumsum([0] + [len(ids) for ids, _ in rows])
        return csr_matrix((np.concatenate([v for _, v in rows]), np.concatenate([i for i, _ in rows]), indptr),
                          shape=(len(texts), len(run.blend.vocabulary)))

    parts = {
        "K1: kNN on the language model's pooled vectors": knn(unit(vec_val) @ unit(vec_train).T, y_train, args.k),
        # TF-IDF rows are already of length 1.
        "K2: kNN on the TF-IDF vectors": knn((tfidf_matrix(val_texts) @ tfidf_matrix(train_texts).T).toarray(),
                                             y_train, args.k),
    }
    genre = list(run.labels).index(args.genre)
    at_least_one = run.config.at_least_one

    def fit(part, rows):
        best = None
        for w in WEIGHTS:
            blend = (1 - w) * lm[rows] + w * tfidf[rows]
            for v in (WEIGHTS if part is not None else (0.0,)):
                probs = (1 - v) * blend + v * part[rows] if part is not None else blend
                rule = DecisionRule.tune(y[rows], probs, at_least_one=at_least_one, mode="global")
                score = micro(y[rows], rule.apply(probs).astype(bool))
                if best is None or score > best[0] + 1e-9:
                    best = (score, w, v, rule)
        return best[1:]

    def fitting(part):
        def tuned(rows):
            w, v, rule = fit(part, rows)

            def predict(b):
                blend = (1 - w) * lm[b] + w * tfidf[b]
                return rule.apply((1 - v) * blend + v * part[b] if part is not None else blend).astype(bool)
            return v, predict
        return tuned

    fits = {name: fitting(part) for name, part in {"A: the blend as it is": None, **parts}.items()}
    results = held_out(y, fits, halvings=args.halvings, seed=args.seed, genre=genre)
    print(f"{args.halvings} halvings (seed {args.seed}), k={args.k}, {time.perf_counter() - t0:.0f} s in all")
    print_table(results, args.genre, "mean kNN weight")


if __name__ == "__main__":
    main()
