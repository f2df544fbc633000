"""``genretag distill``: train one model on a teacher's probabilities (soft targets).

Every option of ``genretag train`` is accepted (the same table, `genretag.cli.options`);
``TEACHER_RUN`` takes the place of ``--teacher``. The teacher is typically an ensemble:
the student gets close to its quality at one backbone pass per synopsis.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import typer

from . import train as train_cmd
from .common import given_options, handle_errors
from .options import TRAIN_OPTIONS, Option, command

TEACHER_RUN = Option("teacher_run", type=Path, default=inspect.Parameter.empty, argument=True,
                     help="Run or ensemble whose probabilities the new model learns from.")


@handle_errors
@command(TEACHER_RUN, *(option for option in TRAIN_OPTIONS if option.name != "teacher"))
def distill_cli(ctx: typer.Context, **options) -> None:
    """Train one LoRA model on TEACHER_RUN's probabilities (alpha * label + (1 - alpha) * teacher).

    Validation, the kept epoch and the thresholds use the true labels only. The teacher's
    probabilities are cached under runs/teacher-cache/, so a rerun does not recompute them.
    """
    options["teacher"] = options.pop("teacher_run")
    train_cmd.train_command(options, given=given_options(ctx) | {"teacher"})  # a config file's teacher does not count
