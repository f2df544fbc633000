"""``genretag export``: a run as a Hugging Face model folder, or its LoRA adapter alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import console, handle_errors, info


@handle_errors
def export_cli(
    run: Annotated[Path, typer.Argument(help="Run directory written by genretag train.")],
    out: Annotated[Path, typer.Argument(help="Folder to write.")],
    adapter_only: Annotated[bool, typer.Option("--adapter-only", help="Write the peft adapter + head, not a merged model.")] = False,
    dtype: Annotated[str, typer.Option(help="Weights of the merged model: float32 (exact), bfloat16 or float16.")] = "float32",
    backbone: Annotated[Optional[str], typer.Option(help="Backbone to load instead of the run's own (a moved folder).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing OUT.")] = False,
    force_backbone: Annotated[bool, typer.Option("--force-backbone", help="Accept a --backbone with the run's architecture but other weights (predictions change).")] = False,
) -> None:
    """Export a run for transformers (merged model, trust_remote_code) or peft (--adapter-only)."""
    from ..export import export_run

    info(f"model: {run}")
    summary = export_run(run, out, adapter_only=adapter_only, force=force, backbone=backbone, dtype=dtype,
                         force_backbone=force_backbone)
    what = "LoRA adapter + head" if summary.kind == "adapter" else "merged model"
    console.print(
        f"wrote [bold]{summary.output}[/]: {what}, {len(summary.labels)} genres, "
        f"{len(summary.files)} files, {summary.bytes / 1e6:.1f} MB",
        highlight=False,
    )
    if summary.kind == "model":
        info("load it with AutoModelForSequenceClassification.from_pretrained(OUT, trust_remote_code=True)")
    else:
        info("load it with PeftModel.from_pretrained(base_model, OUT); the head is head.safetensors")
