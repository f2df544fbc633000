"""``genretag distill``: train one model on a teacher's probabilities (soft targets).

Every option of ``genretag train`` is accepted (its definitions are reused, not copied);
``TEACHER_RUN`` takes the place of ``--teacher``. The teacher is typically an ensemble:
the student gets close to its quality at one backbone pass per synopsis.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import typer

from . import train as train_cmd


def _distill_options(
    teacher_run: Annotated[Path, typer.Argument(help="Run or ensemble whose probabilities the new model learns from.")],
) -> None:
    """Declares distill's own argument; `_signature` puts it before train's options."""


def _signature() -> inspect.Signature:
    own = list(inspect.signature(_distill_options, eval_str=True).parameters.values())
    shared = [p for name, p in inspect.signature(train_cmd.train_cli, eval_str=True).parameters.items()
              if name != "teacher"]
    return inspect.Signature([p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own + shared],
                             return_annotation=None)


def distill_cli(**options) -> None:
    """Train one LoRA model on TEACHER_RUN's probabilities (alpha * label + (1 - alpha) * teacher).

    Validation, the kept epoch and the thresholds use the true labels only. The teacher's
    probabilities are cached under runs/teacher-cache/, so a rerun does not recompute them.
    """
    options["teacher"] = options.pop("teacher_run")
    train_cmd.train_cli(**options)


distill_cli.__signature__ = _signature()
