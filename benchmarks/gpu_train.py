"""The real `genretag train` and `tune` on the Qwen3-0.6B architecture: eager against compiled.

GPU mode (the default; a prepared script for one NVIDIA GPU, about 8-10 minutes): nothing
can be downloaded there, so a Qwen3-0.6B backbone (`gpu_qwen3.QWEN3_0_6B`, random
weights) and a word-level tokenizer are saved to a folder, and 5,000 synthetic synopses
of TMDB length are written to a CSV: the reference protocol's 3,500 training, 750
validation and 750 test rows (the default 0.7/0.15/0.15 split). Speed does not depend on the weights' or the words'
values, only on shapes and dtypes: each synthetic word is one token, and a synopsis has
round(1.3 x words) tokens with words drawn log-normally around the TMDB overviews' median
of 41 words (95th percentile 88; shared/data/README.md), 1.3 being a typical count of
Qwen tokens per English word. Then, in one process:

1. ``eager``: `genretag.training.train` (what ``genretag train`` calls) with ``compile="off"``, 1 epoch;
2. ``compiled``: the same with ``compile="on"``, 2 epochs (the first pays the compile);
3. ``tune``: `genretag.tuning.tune` over lr {1e-4, 5e-4} x batch {8, 16} x 1 epoch,
   ``compile="on"``: the first trial compiles, the other three reuse the graph.

Per run it prints tokens/s, ms/step (median of the steps), MFU, compile seconds (first
epoch's time less the second's) and wall time per epoch, and projects the report's grid
(lr 3 x batch {8, 12, 16} x epochs {4, 8} = 18 trials on the reference protocol's 3,500
training rows) from the measured step times. MFU uses `gpu_qwen3.flops_per_token` on the
shapes the GPU really ran: the loop's batches are rebuilt with `bucketed_batches` and the
run's seed, and padded like the loop pads them (to the longest row eagerly, to a multiple
of 32 tokens compiled). ``tokens/s`` counts real (unpadded) tokens.

CPU mode (``--device cpu``): one Qwen3-0.6B LoRA step (gpu_qwen3's step), batch 16 at a
few widths: genretag's path (bf16 autocast, batches padded to their longest row) against
the plain one (fp32, every row padded to 128, as the original report's trainer did), and
from a linear fit of step time over width, the cost of one epoch of the reference
protocol's 3,500 training rows at batch 16.

Usage::

    python benchmarks/gpu_train.py --out gpu-train                   # on the GPU machine
    python benchmarks/gpu_train.py --device cpu --out cpu-step       # a CPU (minutes per step)
    python benchmarks/gpu_train.py --dry-run                         # check the script: tiny model, CPU
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_qwen3 import QWEN3_0_6B, TINY, build, flops_per_token, peak_tflops, step_fn  # noqa: E402

GENRES = ("Drama", "Comedy", "Thriller", "Action", "Romance", "Adventure", "Crime", "Family", "Horror", "Fantasy",
          "Science Fiction", "Animation", "Mystery", "History", "War", "Music", "Western", "TV Movie")
#: TMDB overviews: median 41 words, 95th percentile 88 (shared/data/README.md); Qwen tokens per word.
WORDS_MEDIAN, WORDS_P95, TOKENS_PER_WORD = 41, 88, 1.3
#: The report's grid, on the reference protocol's 3,500 training and 750 validation rows.
REPORT_GRID = {"lr": (1e-4, 5e-4, 1e-5), "batch": (8, 12, 16), "epochs": (4, 8)}
REPORT_TRAIN_ROWS, REPORT_VALIDATION_ROWS = 3500, 750
VOCAB = 8000
MAX_LENGTH = 128


# --------------------------------------------------------------------------- data and backbone


def token_counts(n: int, seed: int = 0):
    """Tokens per synthetic synopsis: TMDB-like word counts x `TOKENS_PER_WORD` (at least 3)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    sigma = (math.log(WORDS_P95) - math.log(WORDS_MEDIAN)) / 1.645
    words = rng.lognormal(math.log(WORDS_MEDIAN), sigma, n)
    return np.maximum(3, np.rint(words * TOKENS_PER_WORD)).astype(int)


def write_data(path: Path, rows: int, seed: int = 0) -> Path:
    """A CSV of ``rows`` synthetic movies (title, overview of `token_counts` words, genres)."""
    import csv

    import numpy as np

    rng = np.random.default_rng(seed + 1)
    counts = token_counts(rows, seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["title", "overview", "genres"])
        for i, n in enumerate(counts):
            words = " ".join(f"w{k}" for k in rng.integers(0, VOCAB, n))
            genres = rng.choice(len(GENRES), size=int(rng.integers(1, 4)), replace=False)
            writer.writerow([f"Movie {i}", words, "|".join(GENRES[g] for g in sorted(genres))])
    return path


def save_backbone(folder: Path, config_values: dict, device) -> Path:
    """A Qwen3 backbone with random weights (saved in bf16) and a one-token-per-word tokenizer."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoModel, PreTrainedTokenizerFast, Qwen3Config

    vocab = {"<|endoftext|>": 0, "[UNK]": 1, **{f"w{k}": k + 2 for k in range(VOCAB)}}
    word_level = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=word_level, eos_token="<|endoftext|>").save_pretrained(folder)
    vocab_size = max(config_values["vocab_size"], len(vocab))  # the tiny stand-in has fewer ids
    config = Qwen3Config(**{**config_values, "vocab_size": vocab_size, "eos_token_id": 0, "bos_token_id": 0})
    torch.manual_seed(0)
    with torch.device(device):  # initialise in place: 0.6B parameters are slow to initialise on a CPU
        AutoModel.from_config(config, dtype=torch.bfloat16).save_pretrained(folder)
    return folder


# --------------------------------------------------------------------------- FLOPs of the shapes run


class Flops:
    """Training FLOPs of a batch of ``rows x width`` tokens (gpu_qwen3's count, per width)."""

    def __init__(self, config_values: dict, device):
        import torch

        model, self.config = build(config_values, device)
        self.counts = flops_per_token(model, self.config, MAX_LENGTH)
        del model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        self.frozen, self.lora = self.counts["n_frozen_matmul"], self.counts["n_trainable"]

    def batch(self, rows: int, width: int) -> float:
        """FLOPs of one training step on ``rows x width`` tokens."""
        c = self.config
        attention = 12 * c.num_hidden_layers * width * c.num_attention_heads * c.head_dim
        return rows * width * (4 * self.frozen + 6 * self.lora + attention)


def epoch_shapes(config, epochs: int, *, width_step: int | None) -> list[list[tuple[int, int, int]]]:
    """``[(rows, padded width, real tokens)]`` per step, per epoch, as `train` batches them.

    Rebuilt from the loop's own pieces: `prepare` (the split), the tokenizer, and
    `bucketed_batches` drawing from ``np.random.default_rng(training_seed)`` epoch after epoch.
    """
    import numpy as np

    from genretag.batching import bucketed_batches, encode, padded_width
    from genretag.modeling import load_tokenizer, resolve_backbone
    from genretag.training import prepare

    prep = prepare(config)
    tokenizer = load_tokenizer(resolve_backbone(config.backbone))
    encoded = encode(tokenizer, [prep.data.texts[i] for i in prep.split["train"]], config.max_length)
    lengths = np.array([len(r) for r in encoded])
    rng = np.random.default_rng(config.training_seed)
    out = []
    for _ in range(epochs):
        batches = bucketed_batches(lengths, config.batch_size, rng)
        out.append([(len(b), padded_width(int(lengths[b].max()), width_step), int(lengths[b].sum())) for b in batches])
    return out


# --------------------------------------------------------------------------- runs


class Recorder:
    """Training events -> step durations per epoch (validation excluded) and epoch records."""

    def __init__(self):
        self.steps: dict[str, list[list[float]]] = {}
        self.epochs: dict[str, list[dict]] = {}
        self.marks: dict[str, list[tuple[str, float]]] = {}
        self._last: dict[str, float] = {}

    def __call__(self, event: str, info: dict) -> None:
        now = time.perf_counter()
        key = info.get("trial", "run")
        self.marks.setdefault(key, []).append((event, now))
        if event == "start":
            self.steps[key], self.epochs[key] = [[]], []
        elif event == "step":
            self.steps[key][-1].append(now - self._last[key])
        elif event == "epoch":
            self.epochs[key].append(info)
            self.steps[key].append([])
        if event in ("start", "step", "epoch"):
            self._last[key] = now


def summarise(steps: list[float], shapes: list[tuple[int, int, int]], epoch: dict, flops: Flops, peak: float | None
              ) -> dict:
    """One epoch's numbers: ms/step, tokens/s, MFU (over the training part), wall seconds."""
    seconds = epoch["train_seconds"]
    work = sum(flops.batch(rows, width) for rows, width, _ in shapes)
    real = sum(tokens for _, _, tokens in shapes)
    padded = sum(rows * width for rows, width, _ in shapes)
    out = {"steps": len(steps), "ms_per_step_median": 1000 * statistics.median(steps),
           "ms_per_step_mean": 1000 * seconds / max(len(steps), 1), "train_seconds": seconds,
           "epoch_seconds": epoch["epoch_seconds"], "validation_seconds": epoch["epoch_seconds"] - seconds,
           "tokens_per_s": real / seconds, "padded_share": 1 - real / padded,
           "model_tflops": work / seconds / 1e12}
    out["mfu"] = out["model_tflops"] / peak if peak else None
    return out


def run_train(label: str, config, root: Path, device: str, flops: Flops, peak) -> dict:
    """`train` once, timed; a summary per epoch."""
    from genretag.device import FIXED_WIDTH_STEP
    from genretag.training import train

    recorder = Recorder()
    t0 = time.perf_counter()
    result = train(config, root / label, force=True, callback=recorder, device=device)
    wall = time.perf_counter() - t0
    meta = json.loads((result.path / "meta.json").read_text())
    compiled = meta.get("compile") == "on"
    shapes = epoch_shapes(config, config.epochs, width_step=FIXED_WIDTH_STEP if compiled else None)
    epochs = [summarise(s, sh, e, flops, peak) for s, sh, e in zip(recorder.steps["run"], shapes, recorder.epochs["run"])]
    out = {"wall_seconds": wall, "compile": meta.get("compile"), "compile_reason": meta.get("compile_reason"),
           "epochs": epochs, "steady": epochs[-1]}
    if len(epochs) > 1:
        out["compile_seconds"] = epochs[0]["epoch_seconds"] - epochs[1]["epoch_seconds"]
    return out


def run_tune(base, root: Path, device: str, flops: Flops, peak) -> dict:
    """A 4-trial `tune` (lr 2 x batch {8, 16} x 1 epoch): per-trial times, the first one compiling."""
    from torch._dynamo.utils import counters

    from genretag.config import replace
    from genretag.device import FIXED_WIDTH_STEP
    from genretag.tuning import Grid, tune

    # No torch._dynamo.reset() first: a fresh compile would not fit the GPU session's 10 minutes
    # next to the compiled run's. Graphs compiled per trial are counted instead.
    recorder = Recorder()
    graphs = {}

    def callback(event: str, info: dict) -> None:
        recorder(event, info)
        if event in ("trial_start", "trial_done"):
            graphs.setdefault(info["trial"], []).append(counters["stats"]["unique_graphs"])

    grid = Grid(lr=[1e-4, 5e-4], batch_size=[8, 16], epochs=[1])
    t0 = time.perf_counter()
    result = tune(base, grid, root / "tune", force=True, device=device, callback=callback)
    wall = time.perf_counter() - t0
    trials = {}
    for row in result.rows:
        trial = row["trial"]
        # From before the model is built (or taken from the cache) to the run written.
        times = [t for e, t in recorder.marks.get(trial, []) if e in ("trial_start", "trial_done")]
        config = replace(base, lr=row["lr"], batch_size=row["batch"], epochs=1)
        shapes = epoch_shapes(config, 1, width_step=FIXED_WIDTH_STEP if base.compile == "on" else None)[0]
        summary = summarise(recorder.steps[trial][0], shapes, recorder.epochs[trial][0], flops, peak)
        trials[trial] = {"batch": row["batch"], "trial_seconds": times[-1] - times[0],
                         "graphs_compiled": graphs[trial][-1] - graphs[trial][0], **summary}
    order = [k for k in recorder.marks if k in trials]  # the order they trained in
    return {"wall_seconds": wall, "order": order, "trials": {k: trials[k] for k in order}}


def project_grid(tune: dict, rows: int, compile_seconds: float | None) -> dict:
    """Minutes of the report's 18-trial grid on `REPORT_TRAIN_ROWS` rows, from the tune's steady trials,
    plus one compile: the larger of what the tune's first trial and the compiled run paid."""
    first = tune["trials"][tune["order"][0]]
    steady = [t for k, t in tune["trials"].items() if k != tune["order"][0]]
    by_batch = {}
    for t in steady:
        by_batch.setdefault(t["batch"], []).append(t)
    ms = {b: statistics.median(x["ms_per_step_median"] for x in ts) for b, ts in by_batch.items()}
    if 8 in ms and 16 in ms:
        ms.setdefault(12, (ms[8] + ms[16]) / 2)  # linear in the batch between the two measured
    val = statistics.median(x["validation_seconds"] for x in steady)
    val_rows = round(0.15 * rows)  # the benchmark's validation split
    overhead = statistics.median(x["trial_seconds"] - x["epoch_seconds"] for x in steady)
    # The first trial compiles: its time less that of a trial of the same batch size that did not.
    same = [x["trial_seconds"] for x in steady if x["batch"] == first["batch"]]
    compile_s = max(0.0, first["trial_seconds"] - statistics.median(same)) if same else 0.0
    compile_s = max(compile_s, compile_seconds or 0.0)
    total = compile_s
    for b in REPORT_GRID["batch"]:
        step_ms = ms.get(b, max(ms.values()))
        for e in REPORT_GRID["epochs"]:
            per_epoch = math.ceil(REPORT_TRAIN_ROWS / b) * step_ms / 1000 + val * REPORT_VALIDATION_ROWS / val_rows
            total += len(REPORT_GRID["lr"]) * (e * per_epoch + overhead)
    return {"minutes": total / 60, "ms_per_step_by_batch": ms, "compile_seconds": compile_s,
            "validation_seconds_per_epoch": val * REPORT_VALIDATION_ROWS / val_rows, "trial_overhead_seconds": overhead}


def gpu_main(args) -> dict:
    import peft
    import torch
    import transformers

    from genretag.config import TrainConfig, replace

    device = args.device
    card = torch.cuda.get_device_name(device) if device.startswith("cuda") else (platform.processor() or "cpu")
    peak = args.peak_tflops or (peak_tflops(card) if device.startswith("cuda") else None)
    arch = TINY if args.tiny else QWEN3_0_6B
    result = {"card": card, "peak_bf16_tflops": peak, "tiny": args.tiny, "rows": args.rows,
              "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
              "cuda": torch.version.cuda, "runs": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-train-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        backbone = save_backbone(root / "backbone", arch, device)
        data = write_data(root / "movies.csv", args.rows)
        flops = Flops(arch, device)
        result["setup_seconds"] = time.perf_counter() - t0
        result["flops"] = flops.counts
        print(f"{card}: backbone and data ready in {result['setup_seconds']:.0f} s", flush=True)
        on = "off" if args.dry_run else "on"  # a CPU compile takes minutes; the dry run checks the plumbing
        base = TrainConfig(data=str(data), backbone=str(backbone), max_length=MAX_LENGTH, batch_size=16,
                           eval_batch_size=64)
        plan = [("eager", lambda: run_train("eager", replace(base, epochs=1, compile="off"), root, device, flops, peak)),
                ("compiled", lambda: run_train("compiled", replace(base, epochs=2, compile=on), root, device, flops,
                                               peak)),
                ("tune", lambda: run_tune(replace(base, compile=on), root, device, flops, peak))]
        for name, job in plan:
            if args.budget_s and time.perf_counter() - started > args.budget_s:
                result["runs"][name] = {"error": f"skipped: the {args.budget_s:.0f} s budget was spent"}
                continue
            try:
                result["runs"][name] = job()
            except Exception as exc:  # noqa: BLE001 - one failed part must not void the others
                result["runs"][name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                print(traceback.format_exc()[-3000:], file=sys.stderr, flush=True)
            print(f"{name}: {json.dumps(result['runs'][name], default=str)[:2000]}", flush=True)
            save(args.out, result)
    if "trials" in result["runs"].get("tune", {}):
        result["report_grid"] = project_grid(result["runs"]["tune"], args.rows,
                                             result["runs"].get("compiled", {}).get("compile_seconds"))
    return result


# --------------------------------------------------------------------------- CPU mode


def cpu_main(args) -> dict:
    """A Qwen3-0.6B LoRA step on the CPU: genretag's path against the plain one (see the module docstring)."""
    import numpy as np
    import torch

    from genretag.batching import bucketed_batches
    from genretag.device import set_threads

    threads = set_threads()
    arch = TINY if args.tiny else QWEN3_0_6B
    model, config = build(arch, "cpu")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    model.train()
    flags = [f for f in ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in Path("/proc/cpuinfo").read_text()]
    result = {"cpu": _cpu_name(), "flags": flags, "threads": threads, "torch": torch.__version__, "tiny": args.tiny,
              "batch": args.cpu_batch, "steps": args.cpu_steps, "measured": []}
    gen = torch.Generator().manual_seed(0)

    def timed(width: int, precision: str) -> float:
        ids = torch.randint(0, config.vocab_size, (args.cpu_batch, width), generator=gen)
        target = (torch.rand(args.cpu_batch, 18, generator=gen) < 0.15).float()
        step = step_fn(model, params, optimizer, (ids, torch.ones_like(ids), target), torch.device("cpu"),
                       zero_grad=True, precision=precision)
        step()  # warm-up: oneDNN primitives for this shape
        times = []
        for _ in range(args.cpu_steps):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        row = {"width": width, "precision": precision, "seconds": statistics.median(times), "all": times}
        print(json.dumps(row), flush=True)
        result["measured"].append(row)
        save(args.out, result)
        return row["seconds"]

    plain = timed(MAX_LENGTH, "fp32")
    widths = [int(w) for w in args.cpu_widths.split(",")]
    ours = {w: timed(w, "bf16") for w in widths}
    slope, intercept = np.polyfit(list(ours), list(ours.values()), 1) if len(ours) > 1 else (0.0, ours[widths[0]])
    # One epoch of the reference protocol's training rows as train batches them (lengths as in GPU mode).
    lengths = np.minimum(token_counts(REPORT_TRAIN_ROWS), MAX_LENGTH)
    batches = bucketed_batches(lengths, args.cpu_batch, np.random.default_rng(42))
    widths_run = [int(lengths[b].max()) for b in batches]
    ours_epoch = sum(intercept + slope * w for w in widths_run)
    result["epoch"] = {"rows": REPORT_TRAIN_ROWS, "steps": len(batches), "mean_width": float(np.mean(widths_run)),
                       "plain_seconds": plain * len(batches), "genretag_seconds": ours_epoch,
                       "fit_seconds_per_token_width": slope, "fit_intercept_seconds": intercept}
    return result


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "cpu"


# --------------------------------------------------------------------------- output


def save(out: Path | None, result: dict) -> None:
    """Write ``<out>.json`` (after every part, so a run cut short keeps what it measured)."""
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")


def markdown(result: dict) -> str:
    """The numbers as markdown tables."""
    if "measured" in result:
        lines = [f"CPU: **{result['cpu']}** ({', '.join(result['flags'])}), {result['threads']} threads, torch "
                 f"{result['torch']}{', TINY stand-in model' if result['tiny'] else ''}. Qwen3-0.6B LoRA step, "
                 f"batch {result['batch']}, median of {result['steps']} steps after one warm-up.", "",
                 "| path | tokens per row | s/step |", "|---|---:|---:|"]
        for r in result["measured"]:
            name = "plain (fp32, padded to 128)" if r["precision"] == "fp32" else "genretag (bf16 autocast)"
            lines.append(f"| {name} | {r['width']} | {r['seconds']:.2f} |")
        e = result.get("epoch")
        if e:
            lines += ["", f"One epoch of the reference protocol's training split ({e['rows']:,} rows, {e['steps']} steps; genretag "
                          f"pads a batch to its longest row, {e['mean_width']:.0f} tokens on average): plain "
                          f"{e['plain_seconds'] / 60:.0f} min, genretag {e['genretag_seconds'] / 60:.0f} min."]
        return "\n".join(lines)
    lines = [f"Card: **{result['card']}** (peak dense bf16 {result['peak_bf16_tflops'] or '?'} TFLOPs), torch "
             f"{result['torch']}, CUDA {result['cuda']}{', TINY stand-in model' if result['tiny'] else ''}; "
             f"{result['rows']:,} synthetic synopses of TMDB length, batch 16, max length {MAX_LENGTH}.", "",
             "| run | epoch | ms/step (median) | tokens/s | MFU | padding | train s | validation s | compile s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, run in result["runs"].items():
        if "error" in run:
            lines.append(f"| {name} | failed: {run['error']} | | | | | | | |")
            continue
        rows = ([(f"{name} ({run['compile']})", i + 1, e,
                  run.get("compile_seconds") if i == 0 and run["compile"] == "on" else None)
                 for i, e in enumerate(run["epochs"])] if "epochs" in run else
                [(f"tune {k} (b{t['batch']})", 1, t, None) for k, t in run["trials"].items()])
        for label, epoch, e, comp in rows:
            mfu = f"{100 * e['mfu']:.1f}%" if e.get("mfu") is not None else "n/a"
            lines.append(f"| {label} | {epoch} | {e['ms_per_step_median']:.1f} | {e['tokens_per_s']:,.0f} | {mfu} | "
                         f"{100 * e['padded_share']:.0f}% | {e['train_seconds']:.1f} | {e['validation_seconds']:.1f} | "
                         f"{'' if comp is None else f'{comp:.0f}'} |")
    tune = result["runs"].get("tune", {})
    if "trials" in tune:
        lines.append("\nTune trials, wall seconds each: " + ", ".join(
            f"{k} {t['trial_seconds']:.0f} ({t['graphs_compiled']} graphs compiled)" for k, t in tune["trials"].items()))
    grid = result.get("report_grid")
    if grid:
        lines.append(f"\nThe report's 18-trial grid on {REPORT_TRAIN_ROWS:,} training rows, projected from these step "
                     f"times: **{grid['minutes']:.1f} minutes** (one compile of {grid['compile_seconds']:.0f} s; "
                     f"ms/step by batch {json.dumps({k: round(v, 1) for k, v in grid['ms_per_step_by_batch'].items()})}).")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default: the GPU runs) or cpu (the CPU step table)")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer stand-in of the same architecture")
    parser.add_argument("--dry-run", action="store_true",
                        help="GPU mode's code on a CPU with the tiny model and 200 rows, compiling off")
    parser.add_argument("--rows", type=int, default=5000,
                        help="synthetic synopses (GPU mode; 70%% train, 15%% validation)")
    parser.add_argument("--budget-s", type=float, default=400,
                        help="start no further part after this many seconds (0: no limit)")
    parser.add_argument("--peak-tflops", type=float, help="the card's peak dense bf16 TFLOPs (default: from its name)")
    parser.add_argument("--cpu-batch", type=int, default=16, help="CPU mode: rows per step")
    parser.add_argument("--cpu-widths", default="64,128", help="CPU mode: tokens per row for genretag's path")
    parser.add_argument("--cpu-steps", type=int, default=2, help="CPU mode: timed steps per shape (after one warm-up)")
    parser.add_argument("--out", type=Path, help="write <out>.json and <out>.md")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.device, args.tiny, args.rows = "cpu", True, 200
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: no CUDA device here (run with --device cpu for the CPU table, or --dry-run)", file=sys.stderr)
        return 2
    result = cpu_main(args) if args.device == "cpu" and not args.dry_run else gpu_main(args)
    text = markdown(result)
    print("\n" + text)
    save(args.out, result)
    if args.out:
        args.out.with_suffix(".md").write_text(text + "\n")
        print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
