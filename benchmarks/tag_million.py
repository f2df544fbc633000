"""Tag a one-million-row synthetic CSV with ``genretag tag``: peak memory, rows/s, memory over time.

Writes a CSV of ``--rows`` short invented synopses (title, overview; 15 to 80 words, a
few rows with an empty synopsis or a quoted comma/newline, as real catalogues have) into a
temporary folder, runs ``genretag tag`` on it in a subprocess exactly as a user would, and
samples the subprocess's resident memory (``/proc/<pid>/status``) together with the rows
finished so far (from tag's progress record), every ``--every`` seconds. The peak is the
kernel's own count for the child (``wait4`` → ``ru_maxrss``), not a sample.

Memory is flat when it stops growing once the model is loaded and the first chunk is in:
the table prints RSS against rows done, and the drift between the first and last quarter.

On the 2-core development machine a single MiniLM model tags about 270 rows/s, so a
million rows take about an hour (61 minutes measured); ``--rows 50000`` (a few minutes) shows
the same flat profile::

    python benchmarks/tag_million.py --run RUN --rows 50000
    python benchmarks/tag_million.py --run RUN                 # 1,000,000 rows
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("love war family secret city night young old detective killer ship space planet ghost house school "
         "friend brother sister mother father king queen soldier town island journey money heist band song "
         "dream island storm forest doctor lawyer police agent spy robot alien monster wedding summer winter "
         "revenge escape mystery murder truth lie past future world island village river mountain desert").split()
FILLER = "the a of in on with and his her their they must after when before finds meets discovers".split()


def synopsis(rng: random.Random) -> str:
    """One invented synopsis of 15-80 words."""
    words = [rng.choice(WORDS) if rng.random() < 0.6 else rng.choice(FILLER) for _ in range(rng.randint(15, 80))]
    return " ".join(words).capitalize() + "."


def write_csv(path: Path, rows: int, seed: int = 0) -> Path:
    """Write ``rows`` synthetic movies (title, year, overview) to ``path``."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["title", "year", "overview"])
        for i in range(rows):
            text = synopsis(rng)
            if i % 997 == 0:
                text = ""  # an empty synopsis: kept, left untagged
            elif i % 499 == 0:
                text = text.replace(" ", ', "quoted"\n', 1)  # a comma, quotes and a line break inside a cell
            writer.writerow([f"Movie {i}", 1950 + i % 75, text])
    return path


def rss_mb(pid: int) -> float | None:
    """Resident memory of a live process in MB (None once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rows_done(record: Path) -> int | None:
    """Rows finished, from tag's progress record (None before the first chunk)."""
    try:
        return int(json.loads(record.read_text())["rows"])
    except (OSError, ValueError, KeyError):
        return None


def run_tag(csv_path: Path, out: Path, run: Path, *, precision: str, threads: int | None, chunksize: int,
            every: float) -> dict:
    """Run ``genretag tag`` and watch it; returns timings, peak RSS and the memory samples."""
    cmd = [sys.executable, "-m", "genretag", "tag", str(csv_path), "--model", str(run), "--out", str(out),
           "--precision", precision, "--chunksize", str(chunksize)]
    if threads:
        cmd += ["--threads", str(threads)]
    record = out.with_name(f".{out.name}.partial.json")  # tag's progress record (genretag.tagging)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TERM="dumb")
    log = out.with_suffix(".log")
    samples = []
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        while proc.poll() is None:
            rss = rss_mb(proc.pid)
            if rss is not None:
                samples.append({"t": round(time.perf_counter() - t0, 1), "rss_mb": round(rss, 1),
                                "rows": rows_done(record)})
            time.sleep(every)
    wall = time.perf_counter() - t0
    # The child was reaped by poll(); RUSAGE_CHILDREN now holds its peak (the only child we waited for
    # since the start, as the CSV is written in this process).
    import resource

    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    output = log.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"genretag tag failed (exit {proc.returncode}):\n{output[-3000:]}")
    reported = re.search(r"([\d.]+) rows/s", output)
    precision_line = re.search(r"precision: (.*)", output)
    return {"wall_s": wall, "peak_rss_mb": peak_kib / 1024, "samples": samples,
            "reported_rows_per_s": float(reported[1]) if reported else None,
            "precision": precision_line[1].strip() if precision_line else None, "command": " ".join(cmd)}


def count_rows(path: Path) -> int:
    """Data rows of a CSV (quoted line breaks counted once)."""
    with open(path, encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def flatness(samples: list[dict]) -> dict:
    """RSS in the first and the last quarter of the tagging (after the first chunk is in)."""
    tagged = [s for s in samples if s["rows"]]
    if len(tagged) < 8:
        return {"note": "too few samples after the first chunk to judge; tag more rows"}
    q = len(tagged) // 4
    first, last = tagged[:q], tagged[-q:]
    return {"first_quarter_max_mb": max(s["rss_mb"] for s in first), "last_quarter_max_mb": max(s["rss_mb"] for s in last),
            "drift_mb": max(s["rss_mb"] for s in last) - max(s["rss_mb"] for s in first)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="the run directory to tag with")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--chunksize", type=int, default=10_000, help="tag --chunksize (default: tag's own)")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between memory samples")
    parser.add_argument("--tmp", type=Path, help="folder for the CSVs (default: a temporary one, removed after)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not (args.run / "config.json").is_file():
        print(f"error: {args.run} is not a run directory", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="genretag-million-", dir=args.tmp) as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        source = write_csv(tmp / "movies.csv", args.rows)
        print(f"wrote {args.rows:,} rows ({source.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - t0:.0f} s",
              flush=True)
        out = tmp / "movies.tagged.csv"
        result = run_tag(source, out, args.run, precision=args.precision, threads=args.threads,
                         chunksize=args.chunksize, every=args.every)
        rows_out = count_rows(out)
    result.update(rows=args.rows, rows_out=rows_out, rows_per_s=args.rows / result["wall_s"],
                  flat=flatness(result["samples"]), machine=machine())
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if rows_out == args.rows else 1


def machine() -> dict:
    """CPU, cores and memory of this machine."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "load_average": os.getloadavg()}


def report(result: dict) -> str:
    """A short markdown summary: throughput, peak memory, memory against rows done."""
    lines = ["| rows | rows out | rows/s (whole command) | rows/s (tag's own count) | peak RSS | precision |",
             "|---:|---:|---:|---:|---:|---|",
             f"| {result['rows']:,} | {result['rows_out']:,} | {result['rows_per_s']:.1f} | "
             f"{result['reported_rows_per_s'] or '?'} | {result['peak_rss_mb']:.0f} MB | {result['precision']} |",
             "", "RSS against rows done (samples):", "", "| seconds | rows done | RSS (MB) |", "|---:|---:|---:|"]
    samples = result["samples"]
    step = max(1, len(samples) // 12)
    for s in samples[::step] + ([samples[-1]] if samples and len(samples) % step != 1 else []):
        lines.append(f"| {s['t']:.0f} | {s['rows'] if s['rows'] is not None else '-'} | {s['rss_mb']:.0f} |")
    lines += ["", f"flatness: {json.dumps(result['flat'])}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
