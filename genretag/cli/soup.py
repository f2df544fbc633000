"""``genretag soup``: average the weights of runs fine-tuned from one backbone into one model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import (BlendTfidfOption, DeviceOption, ForceOption, MovedBackboneOption, MovedDataOption,
                     console, handle_errors)


@handle_errors
def soup_cli(
    runs: Annotated[list[Path], typer.Argument(help="Two or more run directories trained from one backbone on the same "
                                                    "data and split (e.g. the trials of a tune).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The soup run directory to write.")],
    recipe: Annotated[str, typer.Option(help="greedy: add runs, best first, while validation micro-F1 does not drop; "
                                             "uniform: average them all.")] = "greedy",
    blend_tfidf: BlendTfidfOption = None,
    device: DeviceOption = None,
    backbone: MovedBackboneOption = None,
    data: MovedDataOption = None,
    force: ForceOption = False,
) -> None:
    """Average the weights of runs (a model soup): one model, one backbone pass, often better than each
    run; thresholds and blend are tuned again on the shared validation split."""
    from ..device import check_device
    from ..soup import build_soup

    def said(step: dict) -> None:
        alone = "not recorded" if step["val_micro_f1"] is None else f"{step['val_micro_f1']:.4f}"
        console.print(f"  {'kept' if step['kept'] else 'left out'} {step['source']} (validation micro-F1 alone "
                      f"{alone}): soup with it {step['soup_micro_f1']:.4f}", highlight=False)

    result = build_soup(runs, out, recipe=recipe, force=force, blend=blend_tfidf, device=check_device(device),
                        backbone=backbone, data=data, on_step=said)
    m = result.metrics
    kept = [step["source"] for step in result.members if step["kept"]]
    console.print(
        f"saved soup [bold]{result.path}[/] of {len(kept)} of {len(result.members)} runs ({recipe}): validation micro-F1 "
        f"{m['micro_f1']:.4f}, macro-F1 {m['macro_f1']:.4f}, precision {m['micro_precision']:.4f}, recall "
        f"{m['micro_recall']:.4f}" + (f", TF-IDF blend weight {m['blend_weight']}" if m["blend_weight"] else ""),
        highlight=False,
    )
