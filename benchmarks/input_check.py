"""Validation only: a run trained on title + overview against one trained on the overview alone.

Both runs must share their split (same data file, seed, test rows: `genretag train --test-from`).
On their common validation rows, prints micro-F1, macro-F1 and each genre's F1 at each run's
own decision rule (thresholds and TF-IDF blend, as `tag` uses them), and the title run's scores
when a catalogue has no title column (the overview alone), which `tag` warns about.
The test split is not read.

    python benchmarks/input_check.py --data ../shared/data/tmdb-movie-genres-9k.csv \\
        --title-run runs/tune-title/best --overview-run genretag/default_model
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sklearn.metrics import f1_score

from quality import targets_for  # benchmarks/quality.py: 0/1 truth of some data rows

from genretag import data as data_mod
from genretag.runs import load_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--title-run", type=Path, required=True)
    parser.add_argument("--overview-run", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    title_run, overview_run = load_run(args.title_run), load_run(args.overview_run)
    if title_run.labels != overview_run.labels:
        raise SystemExit("the two runs have other genres")
    val_t, val_o = title_run.split()["validation"], overview_run.split()["validation"]
    if sorted(val_t) != sorted(val_o):
        raise SystemExit("the two runs have other validation rows; train both with the same --test-from, split and seed")
    with_title, _ = data_mod.load_labelled(args.data, text_cols=title_run.config.text_cols)
    plain, _ = data_mod.load_labelled(args.data, text_cols=overview_run.config.text_cols)
    pos_t = {r: i for i, r in enumerate(with_title.row_ids)}
    pos_o = {r: i for i, r in enumerate(plain.row_ids)}
    rows = sorted(val_t)
    labels = list(title_run.labels)
    y = targets_for(plain, labels, rows)
    inputs = {
        "overview run, overview": (overview_run, [plain.texts[pos_o[r]] for r in rows]),
        "title run, title + overview": (title_run, [with_title.texts[pos_t[r]] for r in rows]),
        "title run, overview alone (a file without titles)": (title_run, [plain.texts[pos_o[r]] for r in rows]),
    }
    results = {}
    for name, (run, texts) in inputs.items():
        pred = run.rule.apply(run.predict_proba(texts, precision="fp32"))
        per_genre = f1_score(y, pred, average=None, zero_division=0)
        results[name] = {
            "micro_f1": round(float(f1_score(y, pred, average="micro", zero_division=0)), 4),
            "macro_f1": round(float(f1_score(y, pred, average="macro", zero_division=0)), 4),
            "per_genre_f1": {g: round(float(f), 4) for g, f in zip(labels, per_genre)},
        }
    print(f"validation rows: {len(rows)} (common to both runs); positives per genre: "
          + ", ".join(f"{g} {int(n)}" for g, n in zip(labels, y.sum(0))))
    print(f"{'input':<52} | micro-F1 | macro-F1 | TV Movie F1")
    for name, r in results.items():
        print(f"{name:<52} | {r['micro_f1']:.4f}   | {r['macro_f1']:.4f}   | {r['per_genre_f1'].get('TV Movie', float('nan')):.4f}")
    print("per genre F1:")
    print(f"{'genre':<16} " + " | ".join(f"{n[:26]:>26}" for n in results))
    for g in labels:
        print(f"{g:<16} " + " | ".join(f"{results[n]['per_genre_f1'][g]:>26.4f}" for n in results))
    if args.json:
        args.json.write_text(json.dumps({"rows": len(rows), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
