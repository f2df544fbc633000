"""``genretag ensemble``: average runs trained on the same split into one model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import (BlendTfidfOption, DeviceOption, ForceOption, MovedBackboneOption, MovedDataOption,
                     console, handle_errors)


@handle_errors
def ensemble_cli(
    runs: Annotated[list[Path], typer.Argument(help="Two or more run directories trained on the same data and split.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The ensemble run directory to write.")],
    blend_tfidf: BlendTfidfOption = None,
    device: DeviceOption = None,
    backbone: MovedBackboneOption = None,
    data: MovedDataOption = None,
    force: ForceOption = False,
) -> None:
    """Combine runs (e.g. trained with different --init-seed) into one ensemble run: their probabilities
    are averaged, thresholds and blend are tuned again on the shared validation split."""
    from ..device import check_device
    from ..ensemble import build_ensemble

    result = build_ensemble(runs, out, force=force, blend=blend_tfidf, device=check_device(device), backbone=backbone,
                            data=data)
    for member in result.members:
        micro, macro = (f"{v:.4f}" if isinstance(v, (int, float)) else "not recorded"
                        for v in (member["val_micro_f1"], member["val_macro_f1"]))
        console.print(f"  {member['member']} <- {member['source']}: validation micro-F1 {micro}, macro-F1 {macro}",
                      highlight=False)
    m = result.metrics
    console.print(
        f"saved ensemble [bold]{result.path}[/] of {len(result.members)} runs: validation micro-F1 {m['micro_f1']:.4f}, "
        f"macro-F1 {m['macro_f1']:.4f}, precision {m['micro_precision']:.4f}, recall {m['micro_recall']:.4f}"
        + (f", TF-IDF blend weight {m['blend_weight']}" if m["blend_weight"] else ""),
        highlight=False,
    )
