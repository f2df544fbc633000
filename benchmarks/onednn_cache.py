"""Peak memory and speed of genretag's training by oneDNN primitive-cache capacity.

oneDNN (torch's CPU kernels) caches primitives per input shape, up to
``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` of them (1,024 by default). genretag pads each batch
to its own longest row, so a training epoch meets dozens of shapes and the cache grows;
genretag therefore sets the capacity to 32 unless the environment names one
(``genretag/__init__.py``). This script trains one epoch of the reference protocol per
capacity, each in a fresh process with the capacity in its environment, and prints the
peak RSS (``getrusage``) and the training rows/s side by side.

Usage::

    python benchmarks/onednn_cache.py                          # 0,16,32,64,1024; ~6 minutes
    python benchmarks/onednn_cache.py --capacities 32,1024 --train-rows 300   # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tmdb-movie-genres-9k.csv"
MARK = "CACHE-RESULT "


def worker(spec: dict) -> dict:
    """One epoch of genretag training; its rows/s and this process's peak RSS."""
    import tempfile

    from genretag.config import TrainConfig
    from genretag.training import train

    config = TrainConfig(data=spec["data"], backbone=spec["backbone"], sample=5000, seed=42, epochs=1,
                         precision=spec["precision"])
    with tempfile.TemporaryDirectory() as tmp:
        if spec["train_rows"]:
            from genretag.training import prepare

            prep = prepare(config)
            prep.split["train"] = prep.split["train"][: spec["train_rows"]]
            result = train(config, Path(tmp) / "run", prepared=prep)
        else:
            result = train(config, Path(tmp) / "run")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows_per_s": result.history[0]["train_rows_per_second"],
            "peak_rss_mb": peak_kib / (1024 * 1024) if sys.platform == "darwin" else peak_kib / 1024,
            "val_micro_f1": result.history[0]["val_micro_f1"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capacities", default="0,16,32,64,1024", help="comma-separated cache capacities")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--precision", default="bf16", help="training precision (bf16 needs native CPU support)")
    parser.add_argument("--train-rows", type=int, default=0, help="first N training rows (default: all 3,500)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(MARK + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    if not args.data.is_file():
        print(f"error: {args.data} not found; pass --data with the reference CSV", file=sys.stderr)
        return 2
    spec = {"data": str(args.data), "backbone": args.backbone, "precision": args.precision,
            "train_rows": args.train_rows}
    rows = []
    for capacity in [c.strip() for c in args.capacities.split(",") if c.strip()]:
        env = {**os.environ, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": capacity}
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], check=False, env=env,
                              capture_output=True, text=True)
        found = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
        if proc.returncode != 0 or not found:
            print(f"error: capacity {capacity} failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return 1
        result = json.loads(found[-1][len(MARK):])
        rows.append((capacity, result))
        print(f"capacity {capacity}: {result}", flush=True)
    print(f"\none epoch, {args.backbone}, {args.precision}, "
          f"{args.train_rows or 'all'} training rows\n")
    print("| capacity | peak RSS (MB) | train rows/s | val micro-F1 |")
    print("|---:|---:|---:|---:|")
    for capacity, r in rows:
        print(f"| {capacity} | {r['peak_rss_mb']:,.0f} | {r['rows_per_s']:.1f} | {r['val_micro_f1']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
