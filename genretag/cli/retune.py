"""``genretag retune``: choose a run's thresholds (and blend weight) again on its validation split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import DeviceOption, ForceOption, MovedBackboneOption, MovedDataOption, console, handle_errors


@handle_errors
def retune_cli(
    run: Annotated[Path, typer.Argument(help="The trained run (or ensemble) to copy.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The run directory to write.")],
    thresholds: Annotated[str, typer.Option(help="fixed, global or per-genre (tuned on validation).")],
    threshold: Annotated[Optional[float], typer.Option(
        help="The threshold of --thresholds fixed \\[default: the run's own].")] = None,
    device: DeviceOption = None,
    backbone: MovedBackboneOption = None,
    data: MovedDataOption = None,
    force: ForceOption = False,
) -> None:
    """Copy RUN with its decision rule tuned again on its validation split by another threshold mode
    (e.g. one global threshold where per-genre ones overfit a small split); the weights are not trained again."""
    from ..device import check_device
    from ..retune import retune_run

    result = retune_run(run, out, thresholds=thresholds, threshold=threshold, force=force, device=check_device(device),
                        backbone=backbone, data=data)
    m, old = result.metrics, result.metrics["retuned"]

    def said(scores: dict) -> str:
        weight = f", TF-IDF blend weight {scores['blend_weight']}" if scores["blend_weight"] else ""
        return (f"{scores['thresholds']} thresholds: validation micro-F1 {scores['micro_f1']:.4f}, macro-F1 "
                f"{scores['macro_f1']:.4f}{weight}")

    console.print(f"saved [bold]{result.path}[/] ({m['rows']} validation rows)\n  before: {said(old)}\n  now:    {said(m)}",
                  highlight=False)
