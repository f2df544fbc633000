"""Qwen3-0.6B on a GPU: LoRA training tokens/s and model-FLOPs utilisation (MFU), tag rows/s.

A prepared script for a machine with an NVIDIA GPU (H100/H200 targeted). Nothing can be
downloaded there, so the Qwen3-0.6B *architecture* is built from its published config
(the values below, copied from https://huggingface.co/Qwen/Qwen3-0.6B/raw/main/config.json)
with random weights: speed does not depend on the weights' values, only on shapes and
dtypes. The model is genretag's (`GenreModel`: backbone + peft LoRA on q_proj/v_proj,
r=8, alpha 16, last-token pooling, linear head over 18 genres) and a training step is the
one `genretag.training.train` takes: bf16 autocast forward with fp32 master weights, BCE
in fp32, backward, gradient clipping at 1.0, AdamW. Attention runs through PyTorch SDPA
(transformers' default ``attn_implementation``; checked and recorded).

Training is measured at batch 16 x 128 tokens (random token ids, no padding), after
warm-up steps (``--variants``): eagerly; under ``torch.compile``; compiled with CUDA graphs
around forward and backward; and ``step-graph``, the compiled model with the *whole* step
(forward, loss, backward, clipping, a fused capturable AdamW) captured as one CUDA graph,
which leaves no CPU work between steps, so its time is the GPU's. For step-graph, three
steps are then profiled to split the GPU kernel time into matmuls, attention, compiled
Triton kernels and the rest. MFU counts the FLOPs a LoRA step needs, per token:

    4 * N_frozen          forward (2N) + gradients w.r.t. activations (2N); frozen weights
                          get no weight gradient, so the usual 6N does not apply
  + 6 * N_lora            LoRA matrices: forward, activation and weight gradients
  + 12 * L * T * H * Q    attention scores and values (forward 4*L*T*H*Q, backward twice
                          that), counted in full as in the PaLM paper's MFU

with N_frozen the matmul weights of the transformer blocks (embedding lookups are not
FLOPs; there is no LM head), L layers, T = 128 tokens, H heads of Q = 128 dims. MFU =
tokens/s x FLOPs per token / the card's peak dense bf16 tensor FLOPs (H100 SXM and H200:
989 TFLOPs; see PEAK_TFLOPS, or pass --peak-tflops).

Tag rows/s: `genretag.predict.predict_logits` (length-sorted batches, dynamic padding,
inference mode) over rows of 20 to 128 random tokens, in bf16 and in fp32.

Usage on the GPU machine (each compiled variant spends 1.5 to 6 minutes compiling; writes
JSON after each variant and markdown at the end)::

    python benchmarks/gpu_qwen3.py --weights bf16 --variants eager,step-graph,compile-graphs --out gpu-results

Without a GPU, ``--device cpu --tiny`` runs the same code on a 2-layer config to check it.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
import traceback
from pathlib import Path

#: Qwen/Qwen3-0.6B's config.json (architecture fields), written out because nothing can
#: be downloaded on the benchmark machine.
QWEN3_0_6B = {
    "hidden_size": 1024,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "intermediate_size": 3072,
    "vocab_size": 151936,
    "tie_word_embeddings": True,
    "rope_theta": 1000000.0,
    "max_position_embeddings": 40960,
    "rms_norm_eps": 1e-6,
    "hidden_act": "silu",
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}
#: A 2-layer stand-in with the same structure, for --tiny checks on a CPU.
TINY = {**QWEN3_0_6B, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "head_dim": 16, "intermediate_size": 128, "vocab_size": 1000}

#: Peak dense bf16 tensor TFLOPs by card (vendor data sheets, without sparsity). Checked
#: in order, so the more specific names come first.
PEAK_TFLOPS = (
    ("H200 NVL", 836.0),
    ("H200", 989.4),
    ("GH200", 989.4),
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.4),  # SXM: "NVIDIA H100 80GB HBM3"
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
)

BATCH, TOKENS, GENRES = 16, 128, 18


def peak_tflops(name: str) -> float | None:
    """The card's peak dense bf16 TFLOPs from its name, or None when unknown."""
    for key, value in PEAK_TFLOPS:
        if key.lower() in name.lower():
            return value
    return None


def build(config_values: dict, device, *, lora_r: int = 8, weights: str = "fp32"):
    """genretag's model on the Qwen3 architecture with random weights.

    ``weights="fp32"`` is genretag's path (fp32 masters, bf16 autocast); ``bf16`` stores the
    frozen backbone in bf16 (half the memory, no per-step casts; LoRA and head stay fp32).
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, Qwen3Config

    from genretag.modeling import GenreModel

    config = Qwen3Config(**config_values)
    torch.manual_seed(0)
    with torch.device(device):  # initialise in place: 0.6B parameters are slow to init on a CPU
        base = AutoModel.from_config(config, attn_implementation="sdpa",
                                     dtype=torch.bfloat16 if weights == "bf16" else torch.float32)
    lora = LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.05, target_modules=["q_proj", "v_proj"],
                      bias="none")
    model = GenreModel(get_peft_model(base, lora), GENRES, "last", decoder=True).to(device)
    return model, config


def flops_per_token(model, config, tokens: int) -> dict:
    """The training FLOPs per token of a LoRA step (see the module docstring)."""
    import torch

    frozen = lora = 0
    for name, module in model.backbone.named_modules():
        if isinstance(module, torch.nn.Linear) and "lora_" not in name:
            frozen += module.weight.numel()
    for name, p in model.named_parameters():
        if p.requires_grad:
            lora += p.numel()
    layers, heads, head_dim = config.num_hidden_layers, config.num_attention_heads, config.head_dim
    attention = 12 * layers * tokens * heads * head_dim
    return {"n_frozen_matmul": frozen, "n_trainable": lora, "attention_per_token": attention,
            "per_token": 4 * frozen + 6 * lora + attention,
            "n_total": sum(p.numel() for p in model.parameters())}


#: Training variants: how the step is run (see `train_speed`).
MODES = {"eager": None, "compile": "default", "compile-graphs": "reduce-overhead",
         "step-graph": "default", "step-graph-autotune": "max-autotune-no-cudagraphs"}


def train_speed(model, config, device, *, steps: int, warmup: int, variant: str) -> dict:
    """Tokens/s of genretag's training step at BATCH x TOKENS.

    ``variant``: ``eager``; ``compile`` (torch.compile, default mode); ``compile-graphs``
    (mode ``reduce-overhead``: CUDA graphs around the compiled forward and backward, which
    remove the per-kernel launch cost that dominates a 0.6B model at 2,048 tokens per
    step); ``step-graph`` (the model compiled in the default mode, then the *whole* step -
    forward, loss, backward, clipping and a fused AdamW - recorded as one CUDA graph and
    replayed, so no CPU work is left between steps); ``step-graph-autotune`` (the same with
    ``max-autotune-no-cudagraphs``: matmul kernels picked by timing).
    """
    import torch

    if variant not in MODES:
        raise ValueError(f"unknown variant {variant}; choose {', '.join(MODES)}")
    torch._dynamo.reset()  # each variant compiles afresh, under its own mode
    net = torch.compile(model, mode=MODES[variant]) if MODES[variant] else model
    params = [p for p in model.parameters() if p.requires_grad]
    if variant.startswith("step-graph"):
        return _graphed_step(model, net, params, config, device, steps=steps, warmup=warmup)
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    model.train()
    step = step_fn(net, params, optimizer, _inputs(config, device), device, zero_grad=True)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    sync()
    warm = time.perf_counter() - t0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    sync()
    seconds = time.perf_counter() - t0
    if not math.isfinite(loss.item()):
        raise RuntimeError("the loss is not finite; the measurement is void")
    out = {"steps": steps, "seconds": seconds, "step_ms": 1000 * seconds / steps,
           "tokens_per_s": steps * BATCH * TOKENS / seconds, "warmup_s": warm}
    if device.type == "cuda":
        out["peak_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def _inputs(config, device):
    import torch

    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, config.vocab_size, (BATCH, TOKENS), generator=gen).to(device)
    target = (torch.rand(BATCH, GENRES, generator=gen) < 0.15).float().to(device)
    return ids, torch.ones_like(ids), target


def step_fn(net, params, optimizer, inputs, device, *, zero_grad: bool, precision: str = "bf16"):
    """genretag's training step: bf16 autocast forward (``precision="fp32"``: none), BCE in fp32,
    backward, clipping at 1.0, AdamW. ``inputs``: ``(input_ids, attention_mask, targets)``."""
    import torch

    from genretag.device import autocast

    ids, mask, target = inputs

    def step():
        with autocast(device, precision):
            logits = net(ids, mask)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), target)
        if zero_grad:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        optimizer.step()
        return loss.detach()

    return step


def _graphed_step(model, net, params, config, device, *, steps: int, warmup: int) -> dict:
    """The whole training step as one CUDA graph (see `train_speed`), timed by replays.

    The step is genretag's (bf16 autocast, BCE in fp32, backward, clipping at 1.0, AdamW
    with weight decay 0.01); the optimizer is the fused, capturable AdamW so that its
    update and step count live on the GPU. Warm-up (and compilation) runs on a side
    stream, as graph capture requires. After the timing, three steps run outside the graph
    under the profiler, to say where the GPU time goes.
    """
    import torch

    if device.type != "cuda":
        raise RuntimeError("step-graph needs a CUDA device")
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01, fused=True, capturable=True)
    model.train()
    step = step_fn(net, params, optimizer, _inputs(config, device), device, zero_grad=False)

    t0 = time.perf_counter()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            optimizer.zero_grad(set_to_none=True)
            step()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    warm = time.perf_counter() - t0

    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)  # backward in the graph writes fresh gradients every replay
    with torch.cuda.graph(graph):
        static_loss = step()
    torch.cuda.synchronize()
    graph.replay()
    first = static_loss.item()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        graph.replay()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    last = static_loss.item()
    peak = torch.cuda.max_memory_allocated() / 2**30
    # After the timing, so that a profiler failure cannot touch it.
    profile = _profile(lambda: (optimizer.zero_grad(set_to_none=True), step()), repeats=3)
    if not (math.isfinite(first) and math.isfinite(last)):
        raise RuntimeError("the loss is not finite; the measurement is void")
    out = {"steps": steps, "seconds": seconds, "step_ms": 1000 * seconds / steps,
           "tokens_per_s": steps * BATCH * TOKENS / seconds, "warmup_s": warm,
           # The same batch every step: a falling loss shows the replayed graph really trains.
           "loss_first_replay": first, "loss_last_replay": last, "peak_memory_gb": peak}
    out["profile"] = profile
    return out


def _profile(step, repeats: int) -> dict:
    """GPU kernel time per step by kind (matmul, attention, compiled Triton, other), or ``{"error": ...}``."""
    import torch

    try:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(repeats):
                step()
            torch.cuda.synchronize()
        kinds = {"matmul": 0.0, "attention": 0.0, "triton": 0.0, "other": 0.0}
        kernels, launched = {}, 0
        for e in prof.events():
            if e.device_type != torch.autograd.DeviceType.CUDA:  # kernels only: no CPU ranges
                continue
            ms = e.time_range.elapsed_us() / repeats / 1000
            key = e.name.lower()
            kind = ("attention" if any(k in key for k in ("flash", "fmha", "attention", "sdpa")) else
                    "matmul" if any(k in key for k in ("gemm", "xmma", "cutlass", "nvjet", "cublas", "sm90", "sm80"))
                    else "triton" if key.startswith("triton") else "other")
            kinds[kind] += ms
            launched += 1
            kernels[e.name[:80]] = kernels.get(e.name[:80], 0.0) + ms
        top = sorted(kernels.items(), key=lambda kv: -kv[1])[:10]
        return {"gpu_ms_per_step": sum(kinds.values()), "ms_by_kind": kinds,
                "top_kernels_ms": dict(top), "kernels_per_step": launched / repeats}
    except Exception as exc:  # noqa: BLE001 - a sandbox without CUPTI must not void the timing
        return {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}


def tag_speed(model, config, device, *, rows: int, batch_size: int, precision: str) -> dict:
    """Rows/s of genretag's prediction path over random rows of 20-128 tokens."""
    import numpy as np
    import torch

    from genretag.predict import predict_logits

    rng = np.random.default_rng(0)
    encoded = [rng.integers(0, config.vocab_size, rng.integers(20, TOKENS + 1)).tolist() for _ in range(rows)]
    predict_logits(model, encoded[: 2 * batch_size], 0, batch_size=batch_size, device=device, precision=precision)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    predict_logits(model, encoded, 0, batch_size=batch_size, device=device, precision=precision)
    sync()
    seconds = time.perf_counter() - t0
    return {"rows": rows, "batch_size": batch_size, "precision": precision, "seconds": seconds,
            "rows_per_s": rows / seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (with --tiny, to check the script)")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer stand-in of the same architecture")
    parser.add_argument("--dry-run", action="store_true", help="same as --device cpu --tiny with 2 steps")
    parser.add_argument("--variants", default="eager,compile-graphs,step-graph",
                        help="comma-separated: eager, compile, compile-graphs, step-graph, step-graph-autotune "
                             "(see train_speed)")
    parser.add_argument("--budget-s", type=float, default=0,
                        help="start no further training variant after this many seconds (0: no limit)")
    parser.add_argument("--weights", choices=("fp32", "bf16"), default="fp32",
                        help="frozen backbone weights: fp32 masters (genretag's path) or bf16")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per variant")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation happens here)")
    parser.add_argument("--tag-rows", type=int, default=4096)
    parser.add_argument("--tag-batch", default="64",
                        help="rows per forward pass, comma-separated to try several (genretag's default: 64)")
    parser.add_argument("--peak-tflops", type=float, help="the card's peak dense bf16 TFLOPs (default: from its name)")
    parser.add_argument("--out", type=Path, help="write <out>.json and <out>.md")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.device, args.tiny, args.steps, args.warmup, args.tag_rows = "cpu", True, 2, 1, 32
        args.variants = "eager"  # compiling on a CPU takes minutes and checks nothing GPU-specific

    import peft
    import torch
    import transformers

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device here; this benchmark needs an NVIDIA GPU "
              "(run with --dry-run to check the script on a CPU)", file=sys.stderr)
        return 2
    if device.type == "cpu" and not args.tiny:
        print("error: the full 0.6B model takes minutes per step on a CPU; pass --tiny (or --dry-run)", file=sys.stderr)
        return 2
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu")
    peak = args.peak_tflops or (peak_tflops(card) if device.type == "cuda" else None)

    model, config = build(TINY if args.tiny else QWEN3_0_6B, device, weights=args.weights)
    attn = getattr(model.backbone.config, "_attn_implementation", None)
    flops = flops_per_token(model, config, TOKENS)
    result = {"card": card, "device": str(device), "tiny": args.tiny, "peak_bf16_tflops": peak,
              "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
              "cuda": torch.version.cuda, "attn_implementation": attn, "batch": BATCH, "tokens": TOKENS,
              "weights": args.weights,
              "flops": flops, "train": {}, "tag": {}}
    print(f"{card}: {flops['n_total'] / 1e6:.0f} M parameters, {flops['n_frozen_matmul'] / 1e6:.0f} M in frozen "
          f"matmuls, {flops['n_trainable'] / 1e6:.2f} M trainable; attention: {attn}", flush=True)
    started = time.perf_counter()
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        if args.budget_s and time.perf_counter() - started > args.budget_s:
            result["train"][variant] = {"error": f"skipped: the {args.budget_s:.0f} s budget was spent"}
            continue
        try:
            r = train_speed(model, config, device, steps=args.steps, warmup=args.warmup, variant=variant)
        except Exception as exc:  # noqa: BLE001 - one failed variant (e.g. no compiler) must not void the rest
            r = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]}
            print(traceback.format_exc()[-3000:], file=sys.stderr, flush=True)
        if "tokens_per_s" in r:
            r["model_tflops"] = r["tokens_per_s"] * flops["per_token"] / 1e12
            r["mfu"] = r["model_tflops"] / peak if peak else None
        result["train"][variant] = r
        print(f"train {variant}: {json.dumps(r)}", flush=True)
        if args.out:  # a run cut short still leaves what it measured
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    model.eval()
    # With bf16 weights there is no fp32 path to compare with.
    for precision in ("bf16", "fp32") if args.weights == "fp32" else ("bf16",):
        for batch in [int(b) for b in str(args.tag_batch).split(",")]:
            r = tag_speed(model, config, device, rows=args.tag_rows, batch_size=batch, precision=precision)
            result["tag"][f"{precision}/{batch}"] = r
            print(f"tag {precision} batch {batch}: {json.dumps(r)}", flush=True)
    text = markdown(result)
    print("\n" + text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(text + "\n")
        print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")
    return 0


def markdown(result: dict) -> str:
    """The numbers as a markdown table, with the card they came from."""
    lines = [f"Card: **{result['card']}** (peak dense bf16 {result['peak_bf16_tflops'] or '?'} TFLOPs), torch "
             f"{result['torch']}, CUDA {result['cuda']}, transformers {result['transformers']}, peft {result.get('peft')}, attention "
             f"{result['attn_implementation']}, {result['weights']} frozen weights"
             f"{', TINY stand-in model' if result['tiny'] else ''}.",
             f"Model: {result['flops']['n_total'] / 1e6:.1f} M parameters; {result['flops']['per_token'] / 1e9:.2f} "
             f"GFLOPs per trained token. Batch {result['batch']} x {result['tokens']} tokens.",
             "", "| measurement | value | MFU | peak memory |", "|---|---:|---:|---:|"]
    for variant, r in result["train"].items():
        if "error" in r:
            lines.append(f"| LoRA train, bf16, {variant} | failed: {r['error']} | | |")
            continue
        mfu = f"{100 * r['mfu']:.1f}%" if r.get("mfu") is not None else "n/a"
        mem = f"{r['peak_memory_gb']:.1f} GB" if "peak_memory_gb" in r else ""
        lines.append(f"| LoRA train, bf16, {variant} | {r['tokens_per_s']:,.0f} tokens/s ({r['step_ms']:.1f} ms/step) "
                     f"| {mfu} | {mem} |")
    for r in result["tag"].values():
        lines.append(f"| tag, {r['precision']}, batch {r['batch_size']} | {r['rows_per_s']:,.0f} rows/s | | |")
    for variant, r in result["train"].items():
        prof = r.get("profile") or {}
        if "gpu_ms_per_step" in prof:
            kinds = ", ".join(f"{k} {v:.1f}" for k, v in prof["ms_by_kind"].items())
            lines.append(f"\n{variant}: GPU kernel time per step (profiled outside the graph) {prof['gpu_ms_per_step']:.1f} ms "
                         f"({kinds}); {prof['kernels_per_step']:.0f} kernels a step.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
