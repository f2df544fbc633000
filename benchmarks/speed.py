"""Speed of genretag's paths against the plain way, measured side by side in one run.

Four measurements, each in a fresh subprocess (so peak memory is its own, read from
``getrusage`` at its end):

- train, plain path: the textbook loop — tokenise every batch again, pad to ``max_length``,
  batches in random order, fp32;
- train, genretag path: ``genretag.training.train`` (tokenise once, length-bucketed
  shuffling, dynamic padding, the precision asked for; one row per ``--train-precision``);
- tag, plain path: read the CSV, pad every batch to ``max_length``, rows in file order,
  fp32 under ``torch.no_grad`` (not inference mode), write the CSV;
- tag, genretag path: ``genretag.tagging.tag_csv`` as ``genretag tag`` runs it (length-sorted
  batches, dynamic padding, ``inference_mode``, thread settings, bf16 after a parity check).

Both training paths use the same data, split, model initialisation, optimiser, schedule,
loss and epoch choice, and report the validation micro-F1 of the epoch they keep (per-genre
thresholds tuned on validation, as ``genretag train`` does). Rows/s of training count the
training loop only (validation excluded); rows/s of tagging count reading, predicting and
writing the CSV, not loading the model.

Data: the reference protocol (../shared/data/README.md: sample 5,000 rows with seed 42,
split 70/15/15) on tmdb-movie-genres-9k.csv. ``--train-rows`` keeps the first N rows of the
training split and ``--val-rows`` the first N of validation, to fit a time budget.

A fifth, ``--whole-process``, times ``genretag tag`` as a user runs it, start-up included
(interpreter, imports, model loading, tagging, writing), against the plain single-model
loop as a whole process too, on 1,000 rows of the shared data the bundled model never
trained on (the 750 protocol test rows and 250 of its validation rows), each in a fresh
process: on this machine's CPU as it is, and with the CPU capped to AVX2 for every library
that picks kernels by CPU (`AVX2_ENV`: oneDNN, MKL, fbgemm and ATen's own kernels), which is
what a machine without AVX-512 BF16 runs. ONNX Runtime picks its kernels from the CPU's
flags itself and has no such cap: its AVX2 rows still use this CPU's AVX-512 kernels (the
table says so). Rows: the plain loop (one model, fp32, padded to 128, file order); ``genretag
tag --runtime torch`` with the ensemble given by ``--ensemble-run`` and with the bundled
model; ``genretag tag`` (``--runtime auto``: ONNX Runtime) on its first run, which exports
the model to an empty cache, and on a later run, which reuses the export.

Usage::

    python benchmarks/speed.py --quick                       # a minute: checks the script
    python benchmarks/speed.py --json speed.json             # full: see benchmarks/RESULTS.md
    python benchmarks/speed.py --whole-process --json whole.json

The machine's load average is printed before and after: numbers taken while other jobs
run are not comparable with a quiet machine's (ratios from one run are more robust).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GENRETAG_DATA", ROOT.parent / "shared" / "data" / "tmdb-movie-genres-9k.csv"))
MARK = "SPEED-RESULT "
#: A machine without native bf16, emulated on one that has it: every library that picks its
#: kernels by CPU is capped at AVX2 (genretag's bf16 check reads ONEDNN_MAX_CPU_ISA too).
AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
            "ATEN_CPU_CAPABILITY": "avx2"}


# --------------------------------------------------------------------------- workers


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _prepared(spec: dict):
    from genretag.config import TrainConfig
    from genretag.training import prepare

    config = TrainConfig(**spec["config"])
    prep = prepare(config)
    if spec.get("train_rows"):
        prep.split["train"] = prep.split["train"][: spec["train_rows"]]
    if spec.get("val_rows"):
        prep.split["validation"] = prep.split["validation"][: spec["val_rows"]]
    return config, prep


def worker_train_genretag(spec: dict) -> dict:
    """genretag's own training path."""
    from genretag.training import train

    config, prep = _prepared(spec)
    t0 = time.perf_counter()
    result = train(config, Path(spec["out"]), prepared=prep, force=True)
    wall = time.perf_counter() - t0
    rows = sum(len(prep.split["train"]) for _ in result.history)
    seconds = sum(h["train_seconds"] for h in result.history)
    return {"rows_per_s": rows / seconds, "train_seconds": seconds, "wall_s": wall,
            "val_micro_f1": result.metrics["micro_f1"], "best_epoch": result.best_epoch,
            "epoch_f1": [h["val_micro_f1"] for h in result.history]}


def worker_train_plain(spec: dict) -> dict:
    """The plain path: per-batch tokenising to max_length, random batch order, fp32."""
    import numpy as np
    import torch
    from transformers import get_scheduler

    from genretag.losses import MultiLabelLoss, positive_weights
    from genretag.metrics import summary_scores
    from genretag.modeling import ModelSpec, build_model
    from genretag.decision import DecisionRule
    from genretag.predict import sigmoid

    config, prep = _prepared(spec)
    t_start = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model, tokenizer = build_model(ModelSpec(
        backbone=config.backbone, num_labels=len(prep.labels), pooling=config.pooling, lora_r=config.lora_r,
        lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout, lora_targets=config.lora_targets,
        head_dropout=config.head_dropout))
    tr, va = prep.split["train"], prep.split["validation"]
    texts = prep.data.texts
    y_train, y_val = torch.from_numpy(prep.targets[tr]), prep.targets[va]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps = -(-len(tr) // config.batch_size) * config.epochs
    name = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}[config.schedule]
    scheduler = get_scheduler(name, optimizer, num_warmup_steps=int(config.warmup_ratio * steps),
                              num_training_steps=steps)
    pos_weight = positive_weights(y_train, power=config.pos_weight_power, cap=config.pos_weight_cap)
    loss_fn = MultiLabelLoss(config.loss, pos_weight=pos_weight)

    def batch(rows):
        enc = tokenizer([texts[i] for i in rows], padding="max_length", truncation=True,
                        max_length=config.max_length, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

    train_seconds, best, epoch_f1 = 0.0, (-1.0, 0.0, 0), []
    for epoch in range(1, config.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        order = rng.permutation(len(tr))
        for start in range(0, len(order), config.batch_size):
            pos = order[start : start + config.batch_size]
            ids, mask = batch(tr[pos])
            loss = loss_fn(model(ids, mask).float(), y_train[pos])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            scheduler.step()
        train_seconds += time.perf_counter() - t0
        model.eval()
        logits = []
        with torch.no_grad():
            for start in range(0, len(va), config.eval_batch_size):
                ids, mask = batch(va[start : start + config.eval_batch_size])
                logits.append(model(ids, mask).float())
        logits = torch.cat(logits)
        val_loss = float(torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(y_val)))
        probs = sigmoid(logits.numpy())
        chosen = DecisionRule.tune_for(config, y_val, probs).apply(probs)
        f1 = summary_scores(y_val, chosen)["micro_f1"]
        epoch_f1.append(f1)
        if (f1, -val_loss) > best[:2]:  # genretag's epoch choice
            best = (f1, -val_loss, epoch)
    rows = len(tr) * config.epochs
    return {"rows_per_s": rows / train_seconds, "train_seconds": train_seconds, "wall_s": time.perf_counter() - t_start,
            "val_micro_f1": best[0], "best_epoch": best[2], "epoch_f1": epoch_f1}


def worker_tag_genretag(spec: dict) -> dict:
    """genretag's tagging path, as ``genretag tag`` runs it."""
    from genretag.device import set_threads
    from genretag.runs import load_run
    from genretag.tagging import tag_csv

    threads = set_threads(spec.get("threads"))
    run = load_run(spec["run"], device="cpu" if spec.get("cpu") else None)
    precision = spec.get("precision", "auto")
    t0 = time.perf_counter()
    summary = tag_csv(run, spec["csv"], spec["out"], force=True, precision=precision)
    seconds = time.perf_counter() - t0
    choice = run.predictor(precision).choice
    return {"rows_per_s": summary.rows / seconds, "seconds": seconds, "rows": summary.rows, "threads": threads,
            "precision": choice.precision if choice else "fp32",
            "parity": choice.reason if choice else "too few rows to check bf16"}


def worker_tag_plain(spec: dict) -> dict:
    """The plain path: rows in file order, padded to max_length, fp32, torch.no_grad."""
    import numpy as np
    import pandas as pd
    import torch

    from genretag.data import choose_text_columns, join_text
    from genretag.runs import load_run

    # The textbook model: peft's LoRA layers as trained (genretag folds them into the weights).
    run = load_run(spec["run"], device="cpu" if spec.get("cpu") else None, merge=False)
    device = next(run.model.parameters()).device
    t0 = time.perf_counter()
    frame = pd.read_csv(spec["csv"], dtype=str, keep_default_na=False)
    cols = choose_text_columns(list(frame.columns), None, run.config.text_cols).columns  # the model's input, as tag
    texts = join_text(frame, cols).tolist()
    size = run.config.eval_batch_size
    probs = []
    with torch.no_grad():
        for start in range(0, len(texts), size):
            enc = run.tokenizer(texts[start : start + size], padding="max_length", truncation=True,
                                max_length=run.config.max_length, return_tensors="pt")
            logits = run.model(enc["input_ids"].to(device), enc["attention_mask"].to(device))
            probs.append(torch.sigmoid(logits.float()).cpu().numpy())
    probs = np.concatenate(probs)
    if run.blend is not None:  # the same model as genretag's path, TF-IDF blend included
        probs = run.blend.mix(probs, texts)
    chosen = run.rule.apply(probs)
    frame["predicted_genres"] = ["|".join(run.labels[j] for j in np.flatnonzero(r)) for r in chosen]
    for j, label in enumerate(run.labels):
        frame[f"score_{label}"] = np.round(probs[:, j], 4)
    frame.to_csv(spec["out"], index=False)
    seconds = time.perf_counter() - t0
    return {"rows_per_s": len(texts) / seconds, "seconds": seconds, "rows": len(texts), "threads": torch.get_num_threads(),
            "precision": "fp32"}


def worker_isa_probe(spec: dict) -> dict:
    """What the CPU capping did: ATen's capability, genretag's choice, and matmul times per arithmetic."""
    import warnings

    import torch

    from genretag.device import bf16_supported, fast_precision

    torch.manual_seed(0)
    x, w = torch.randn(2048, 384), torch.randn(1536, 384)
    layer = torch.nn.Linear(384, 1536)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(layer), {torch.nn.Linear}, dtype=torch.qint8)

    def ms(f):
        f()
        t0 = time.perf_counter()
        for _ in range(5):
            f()
        return round((time.perf_counter() - t0) / 5 * 1000, 2)

    with torch.inference_mode():
        return {"aten_capability": torch.backends.cpu.get_cpu_capability(), "genretag_bf16_native": bf16_supported("cpu"),
                "auto_tries": fast_precision("cpu"), "fp32_matmul_ms": ms(lambda: x @ w.T),
                "bf16_matmul_ms": ms(lambda: x.bfloat16() @ w.T.bfloat16()), "int8_linear_ms": ms(lambda: q(x)),
                "env": {k: os.environ.get(k) for k in AVX2_ENV}}


WORKERS = {"train-genretag": worker_train_genretag, "train-plain": worker_train_plain,
           "tag-genretag": worker_tag_genretag, "tag-plain": worker_tag_plain, "isa-probe": worker_isa_probe}


def run_worker(name: str, spec: dict, timeout: float | None = None, env: dict | None = None) -> dict:
    """Run one measurement in a fresh Python process and return its result."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **(env or {}))
    proc = subprocess.run([sys.executable, __file__, "--worker", name, "--spec", json.dumps(spec)],
                          capture_output=True, text=True, env=env, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len(MARK):])


# --------------------------------------------------------------------------- driver


def machine() -> dict:
    """What the numbers were measured on."""
    import torch

    from genretag.device import bf16_supported, physical_cores

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = set()
    try:
        flags = {f for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")
                 for f in line.split(":", 1)[1].split()}
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni", "avx512_fp16")
    info = {"cpu": cpu, "cpu_flags": [f for f in wanted if f in flags], "logical_cpus": os.cpu_count(), "physical_cores": physical_cores(),
            "cpu_bf16": bf16_supported("cpu"), "torch": torch.__version__, "python": platform.python_version(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def write_tag_csv(path: Path, rows: int) -> Path:
    """The first ``rows`` synopses of the data (repeated when more are asked) as a title,overview CSV."""
    import pandas as pd

    from genretag.data import read_csv

    frame = read_csv(DATA)[["title", "overview"]]
    reps = -(-rows // len(frame))
    pd.concat([frame] * reps, ignore_index=True).iloc[:rows].to_csv(path, index=False)
    return path


def write_protocol_csv(path: Path, rows: int = 1000, data: Path = DATA) -> Path:
    """``rows`` movies the bundled model never trained on, as a title,overview CSV.

    The reference protocol's 750 test rows, then rows of the bundled model's own validation
    split (used to choose its epoch and thresholds, never to fit a weight), in split order:
    unseen rows are less sure than training rows, so the share of rows near a threshold is
    the one a user meets. The bundled model trained on every other usable row of the file.
    """
    from genretag.data import read_csv
    from genretag.rundir import SPLIT_FILE, bundled_model

    frame = read_csv(data)
    split = json.loads((bundled_model() / SPLIT_FILE).read_text())
    chosen = [i for i in list(split["test"]) + list(split["validation"]) if str(frame["overview"].iloc[i]).strip()][:rows]
    if len(chosen) < rows:
        raise SystemExit(f"only {len(chosen)} rows of {data} are outside the bundled model's training rows")
    frame.iloc[chosen][["title", "overview"]].to_csv(path, index=False)
    return path


def timed_process(argv: list[str], env: dict, pythonpath: str | None = None) -> dict:
    """Run ``argv`` as a fresh process; its wall time, peak RSS, exit code and the ends of its output."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **env)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out_file, stderr=err_file, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    peak = usage.ru_maxrss / 1024
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} ... failed (exit {proc.returncode}):\n{err[-3000:]}")
    precision = next((line.split(":", 1)[1].strip() for line in err.splitlines() if line.startswith("precision:")), "")
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak, 1), "precision": precision,
            "stdout_tail": out.strip().splitlines()[-1:] if out.strip() else []}


def whole_process(args) -> dict:
    """``genretag tag`` against the plain loop, each a whole fresh process (see the module docstring)."""
    from genretag.runs import bundled_model

    model = bundled_model()
    # The bundled model is one model now; an ensemble's first member stands in for one otherwise.
    single = model / "members" / "1" if (model / "members").is_dir() else model
    ensemble = Path(args.ensemble_run) if args.ensemble_run else (model if single != model else None)
    tmp = Path(tempfile.mkdtemp(prefix="genretag-whole-"))
    csv_path = write_protocol_csv(tmp / "movies.csv", args.whole_rows, args.data)
    small = tmp / "ten.csv"
    small.write_text("".join(csv_path.read_text().splitlines(keepends=True)[:11]))
    plain_spec = {"run": str(single), "csv": str(csv_path), "out": str(tmp / "plain.csv"), "cpu": True}
    configs = {"native": {}, "avx2": AVX2_ENV}
    rows = []
    wanted = [c.strip() for c in args.whole_configs.split(",") if c.strip()]
    if not wanted or set(wanted) - set(configs):
        sys.exit(f"--whole-configs takes native, avx2 or native,avx2, got {args.whole_configs!r}")
    for config in wanted:
        env = configs[config]
        probe = run_worker("isa-probe", {}, env=env)
        print(f"[{config}] {json.dumps(probe)}", flush=True)
        for repeat in range(args.repeats):
            cache = tmp / f"cache-{config}-{repeat}"  # empty: the first ONNX run exports, the next ones reuse it
            plan = [("plain loop, 1 model (fp32, pad 128, file order)", "plain", None, csv_path)]
            one = "genretag tag, 1 model (the bundled one)" if single == model else "genretag tag, 1 model (members/1)"
            tagged = [(one, single)]
            if ensemble is not None:
                tagged.insert(0, (f"genretag tag, ensemble of 3 ({ensemble.name})", ensemble))
            for label, run in tagged:
                plan.append((f"{label}, --runtime torch", "tag", (run, "auto", "torch"), csv_path))
            plan.append(("genretag tag, bundled model, ONNX Runtime, first run (exports to the cache)", "tag",
                         (single, "auto", "auto"), csv_path))
            plan.append(("genretag tag, bundled model, ONNX Runtime (cached export: what every later run does)", "tag",
                         (single, "auto", "auto"), csv_path))
            if args.int8_row:
                plan.append((f"{one}, --precision int8 (no parity check)", "tag",
                             (single, "int8", "torch"), csv_path))
            if args.before:
                plan.append((f"before: genretag tag from {args.before}, ensemble of 3, auto", "before",
                             (ensemble or model, "auto", None), csv_path))
            if repeat == 0:
                plan.append(("start-up: genretag tag, --runtime torch, 10 rows", "tag", (single, "auto", "torch"), small))
                plan.append(("start-up: genretag tag, ONNX Runtime (cached), 10 rows", "tag", (single, "auto", "auto"), small))
                plan.append(("start-up: plain loop, 1 model, 10 rows", "plain", None, small))
            for label, kind, what, data in plan:
                run_env = dict(env)
                if kind == "plain":
                    spec = {**plain_spec, "csv": str(data)}
                    argv = [sys.executable, __file__, "--worker", "tag-plain", "--spec", json.dumps(spec)]
                    pythonpath = None
                else:
                    run, precision, runtime = what
                    argv = [sys.executable, "-m", "genretag", "tag", str(data), "--model", str(run), "--out",
                            str(tmp / "tagged.csv"), "--force", "--precision", precision]
                    argv += ["--runtime", runtime] if runtime else []
                    run_env["GENRETAG_CACHE"] = str(cache)
                    pythonpath = args.before if kind == "before" else None
                result = timed_process(argv, run_env, pythonpath)
                result.update(config=config, path=label, rows=_csv_rows(data), repeat=repeat)
                print(f"  {json.dumps(result)}", flush=True)
                rows.append(result)
        rows.append({"config": config, "probe": probe})
    return {"rows": rows}


def _csv_rows(path: Path) -> int:
    import csv

    with open(path, newline="", encoding="utf-8") as fh:  # a quoted synopsis may hold a newline
        return sum(1 for _ in csv.reader(fh)) - 1


def whole_table(rows: list[dict]) -> str:
    """Markdown: wall seconds of each whole process and its speed-up over the plain loop of its configuration."""
    lines = ["| CPU | path | rows | wall s (each repeat) | × plain | precision chosen |", "|---|---|---:|---:|---:|---|"]
    runs = [r for r in rows if "path" in r]
    for (config, path, n) in dict.fromkeys((r["config"], r["path"], r["rows"]) for r in runs):
        mine = [r["wall_s"] for r in runs if (r["config"], r["path"], r["rows"]) == (config, path, n)]
        plain = [r["wall_s"] for r in runs if r["config"] == config and r["rows"] == n and r["path"].startswith("plain")]
        ratio = "/".join(f"{p / m:.2f}" for p, m in zip(plain, mine)) if plain else ""
        precision = next(r["precision"] for r in runs if (r["config"], r["path"]) == (config, path))
        lines.append(f"| {config} | {path} | {n} | {' / '.join(f'{w:.1f}' for w in mine)} | {ratio} | "
                     f"{precision.replace('|', chr(92) + '|')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: 4, the report's)")
    parser.add_argument("--train-rows", type=int, default=None, help="first N training rows (default: all 3,500)")
    parser.add_argument("--val-rows", type=int, default=None, help="first N validation rows (default: all 750)")
    parser.add_argument("--train-precision", default="auto,fp32",
                        help="genretag training rows to measure, by --precision (default: auto,fp32; one that "
                             "resolves like an earlier one is skipped)")
    parser.add_argument("--tag-rows", type=int, default=None, help="rows to tag (default: 5000)")
    parser.add_argument("--tag-precision", default="auto,fp32",
                        help="genretag tag --precision values to measure, comma-separated (default: auto,fp32)")
    parser.add_argument("--run", type=Path, help="run to tag with (default: the genretag run trained here)")
    parser.add_argument("--threads", type=int, default=None, help="genretag tag --threads")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-plain", action="store_true", help="measure genretag's paths only")
    parser.add_argument("--skip-tag", action="store_true")
    parser.add_argument("--quick", action="store_true", help="64 rows, 1 epoch: checks the script, measures little")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--whole-process", action="store_true",
                        help="time genretag tag and the plain loop as whole processes (see above), nothing else")
    parser.add_argument("--whole-rows", type=int, default=1000, help="--whole-process: rows to tag (default 1000)")
    parser.add_argument("--whole-configs", default="native,avx2",
                        help="--whole-process: native, avx2 (the CPU limited to AVX2) or native,avx2")
    parser.add_argument("--repeats", type=int, default=1, help="--whole-process: times to run each row")
    parser.add_argument("--ensemble-run", help="--whole-process: also tag with this ensemble (e.g. the previous "
                        "bundled model, from git history)")
    parser.add_argument("--int8-row", action="store_true", help="--whole-process: also the single model in forced int8")
    parser.add_argument("--before", help="--whole-process: also the ensemble with the genretag code at this path "
                                         "(PYTHONPATH), e.g. a checkout of the commit before a change")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = WORKERS[args.worker](json.loads(args.spec))
        result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        print(MARK + json.dumps(result), flush=True)
        return 0
    quick = {"train_rows": 64, "val_rows": 64, "epochs": 1, "tag_rows": 64}
    full = {"train_rows": None, "val_rows": None, "epochs": 4, "tag_rows": 5000}
    for key, value in (quick if args.quick else full).items():  # options given win
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not args.data.is_file():
        print(f"data not found: {args.data} (see ../shared/data/README.md)", file=sys.stderr)
        return 2
    if args.whole_process:
        info = {"machine": machine(), "load_before": os.getloadavg(), "args": {k: str(v) for k, v in vars(args).items()
                                                                              if k not in ("worker", "spec")}}
        print(f"machine: {info['machine']}\nload average before: {info['load_before']}", flush=True)
        info.update(whole_process(args))
        info["load_after"] = os.getloadavg()
        print(f"load average after: {info['load_after']}\n")
        print(whole_table(info["rows"]))
        if args.json:
            args.json.write_text(json.dumps(info, indent=2) + "\n")
            print(f"\nwrote {args.json}")
        return 0
    if args.skip_train and not args.run and not args.skip_tag:
        print("--skip-train needs --run RUN to tag with", file=sys.stderr)
        return 2

    from genretag.training import training_precision

    info = {"machine": machine(), "load_before": os.getloadavg(), "args": {k: str(v) for k, v in vars(args).items()
                                                                          if k not in ("worker", "spec")}}
    print(f"machine: {info['machine']}\nload average before: {info['load_before']}", flush=True)
    config = {"data": str(args.data), "backbone": args.backbone, "sample": 5000, "seed": 42, "epochs": args.epochs}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="genretag-speed-") as tmp:
        tmp = Path(tmp)
        run = args.run
        if not args.skip_train:
            base = {"config": config, "train_rows": args.train_rows, "val_rows": args.val_rows}
            if not args.skip_plain:
                results["train plain (fp32, pad to max, unsorted)"] = _timed("train-plain", base)
            import torch

            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            done = set()
            for requested in args.train_precision.split(","):
                resolved = training_precision(requested.strip(), device)
                if resolved in done:
                    continue
                done.add(resolved)
                out = tmp / f"run-{resolved}"
                spec = {**base, "config": {**config, "precision": requested.strip()}, "out": str(out)}
                results[f"train genretag ({requested.strip()} = {resolved})"] = _timed("train-genretag", spec)
                run = run or out  # tag with the default (auto) run
        if not args.skip_tag:
            csv_path = write_tag_csv(tmp / "tag.csv", args.tag_rows)
            spec = {"run": str(run), "csv": str(csv_path), "threads": args.threads}
            if not args.skip_plain:
                results["tag plain (fp32, pad to max, file order, no_grad)"] = _timed(
                    "tag-plain", {**spec, "out": str(tmp / "plain.csv")})
            for precision in [p.strip() for p in args.tag_precision.split(",") if p.strip()]:
                results[f"tag genretag ({precision})"] = _timed(
                    "tag-genretag", {**spec, "out": str(tmp / "genretag.csv"), "precision": precision})
    info["load_after"] = os.getloadavg()
    info["results"] = results
    print(f"load average after: {info['load_after']}\n")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(info, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


def _timed(name: str, spec: dict) -> dict:
    print(f"running {name} ...", flush=True)
    result = run_worker(name, spec)
    print(f"  {json.dumps(result)}", flush=True)
    return result


def table(results: dict[str, dict]) -> str:
    """Markdown table with the ratio of each genretag row to the plain row of its kind."""
    lines = ["| path | rows/s | × plain | val micro-F1 | Δ F1 vs plain | peak RSS (MB) | notes |",
             "|---|---:|---:|---:|---:|---:|---|"]
    plain = {name.split()[0]: r for name, r in results.items() if "plain" in name}
    for name, r in results.items():
        base = plain.get(name.split()[0])
        ratio = (f"{r['rows_per_s'] / base['rows_per_s']:.2f}" if base is not r else "1.00") if base else ""
        f1 = f"{r['val_micro_f1']:.4f}" if "val_micro_f1" in r else ""
        delta = f"{r['val_micro_f1'] - base['val_micro_f1']:+.4f}" if base and "val_micro_f1" in r and base is not r else ""
        notes = r.get("parity", "") if name.startswith("tag") else f"best epoch {r['best_epoch']}, {r['train_seconds']:.0f} s in the loop"
        notes = notes.replace("|", "\\|")  # a parity note holds |dp|
        lines.append(f"| {name} | {r['rows_per_s']:.1f} | {ratio} | {f1} | {delta} | {r['peak_rss_mb']:.0f} | {notes} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
