"""``genretag tag`` in one process against ``tag --engine ray`` with 1 and 2 workers, same rows.

Takes the first ``--rows`` rows of a CSV (default: the shared TMDB file), runs each
variant as a user would (``python -m genretag tag ...`` in a subprocess) and reports, side
by side: wall time, rows/s over the whole command, and the peak resident memory of the
command's whole process tree (the driver plus Ray's GCS, raylet and workers, sampled every
0.2 s). Reported apart: Ray's own start-up (from the engine's summary line) and the time
one worker takes to load the model (`genretag.GenreTagger(...)` timed here, the code each
worker runs once).

With ``--gpu`` (on a machine with GPUs) it also runs one worker per GPU.

    python benchmarks/scale.py --rows 1500                 # bundled model, shared data
    python benchmarks/scale.py --model runs/my-run --csv movies.csv --rows 5000 --gpu
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent.parent / "shared" / "data" / "tmdb-movie-genres-9k.csv"


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (0 once it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(argv: list[str], env: dict) -> dict:
    """Run a command; wall seconds, peak tree RSS and its output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0]
    seconds = time.perf_counter() - t0
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(argv)}\n{output[-3000:]}")
    return {"seconds": seconds, "peak_mb": peak[0] / 2**20, "output": output}


def model_load_seconds(model: str | None, env: dict) -> float:
    """Seconds for one `GenreTagger` construction in a fresh interpreter (what each worker pays)."""
    code = ("import time, genretag; t = time.perf_counter(); genretag.GenreTagger(%r, precision='fp32'); "
            "print(time.perf_counter() - t)" % model)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="run directory (default: the bundled model)")
    parser.add_argument("--csv", type=Path, default=SHARED_CSV)
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--gpu", action="store_true", help="also run one worker per GPU")
    args = parser.parse_args()

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from genretag.data import read_csv

        data = tmp / "rows.csv"
        read_csv(args.csv, nrows=args.rows).to_csv(data, index=False)
        model = ["--model", args.model] if args.model else []
        base = [sys.executable, "-m", "genretag", "tag", str(data), *model, "--precision", "fp32", "--force"]
        variants = [("tag (one process)", [*base, "--out", str(tmp / "one.csv")])]
        for workers in (1, 2):
            variants.append((f"--engine ray, {workers} worker{'s' * (workers > 1)}",
                             [*base, "--engine", "ray", "--workers", str(workers), "--chunksize", str(-(-args.rows // 6)),
                              "--out", str(tmp / f"ray{workers}.csv")]))
        if args.gpu:
            import torch

            gpus = torch.cuda.device_count()
            variants.append((f"--engine ray, {gpus} GPU workers", [*base, "--engine", "ray", "--workers", str(gpus),
                             "--gpus-per-worker", "1", "--chunksize", "2000", "--out", str(tmp / "gpu.csv")]))
        load = model_load_seconds(args.model, env)
        rows = []
        for name, argv in variants:
            result = measure(argv, env)
            startup = re.search(r"\(([\d.]+) s of it starting Ray\)", result["output"])
            rows.append((name, result["seconds"], args.rows / result["seconds"], result["peak_mb"],
                         float(startup[1]) if startup else None))
            print(f"done: {name}", file=sys.stderr)
        # Blocks of rows/6 (so two workers share the work) batch rows differently from one
        # process, which can move a 4-decimal score by one step; the genres should agree.
        outputs = [read_csv(tmp / name) for name in ("one.csv", "ray1.csv", "ray2.csv")]
        same = all(o["predicted_genres"].equals(outputs[0]["predicted_genres"]) for o in outputs)

    print(f"{args.rows} rows of {args.csv.name}, model {args.model or 'bundled'}, {os.cpu_count()} CPUs; "
          f"same genres in every output: {same}")
    print(f"model load, one worker (GenreTagger constructor): {load:.1f} s")
    print("| variant | wall s | rows/s | peak RSS, process tree | Ray start-up s |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, rate, peak, startup in rows:
        print(f"| {name} | {seconds:.1f} | {rate:.1f} | {peak:,.0f} MB | {'' if startup is None else f'{startup:.1f}'} |")


if __name__ == "__main__":
    main()
