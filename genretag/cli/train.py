"""``genretag train``: fine-tune a LoRA genre tagger on a labelled CSV."""

from __future__ import annotations

import typer

from ..config import TrainConfig
from .common import console, given_options, handle_errors, info, show_progress
from .options import TRAIN_OPTIONS, command, config_from_options


class TrainProgress:
    """Training events → a rich progress bar on a terminal, plain lines elsewhere."""

    def __init__(self, live: bool):
        self.live = live
        self.progress = None
        self.task = None
        self.total = 0

    def __call__(self, event: str, data: dict) -> None:
        if event == "start":
            self.total = data["total_steps"]
            if data.get("data_report"):
                info("data: " + ", ".join(data["data_report"]))
            for line in data.get("genre_report") or ():
                info(line)
            how = data.get("precision", "fp32")
            if data.get("processes", 1) > 1:
                how += f", {data['processes']} processes"
            info(
                f"training on {data['train_rows']} rows ({data['validation_rows']} for validation), "
                f"{len(data['labels'])} genres, {data['epochs']} epoch{'s' * (data['epochs'] != 1)}, device {data['device']} ({how}), "
                f"LoRA on {', '.join(data['lora_targets'])}, {data['pooling']} pooling"
            )
            if self.live:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

                self.progress = Progress(
                    TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), transient=True, console=console,
                )
                self.progress.start()
                self.task = self.progress.add_task("train", total=self.total, epoch=1, loss=float("nan"))
        elif event == "step" and self.progress is not None:
            self.progress.update(self.task, completed=data["step"], epoch=data["epoch"], loss=data["loss"])
        elif event == "epoch":
            line = (
                f"epoch {data['epoch']}: train loss {data['train_loss']:.4f}, val loss {data['val_loss']:.4f}, "
                f"val micro-F1 {data['val_micro_f1']:.4f}, macro-F1 {data['val_macro_f1']:.4f} "
                f"({data['epoch_seconds']:.0f} s, {data['train_rows_per_second']:.1f} rows/s)"
            )
            if self.progress is not None:
                self.progress.console.print(line, highlight=False)
            else:
                info(line)
        elif event == "done" and self.progress is not None:
            self.progress.stop()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@handle_errors
@command(*TRAIN_OPTIONS)
def train_cli(ctx: typer.Context, **options) -> None:
    """Fine-tune a LoRA genre tagger and write a self-describing run directory."""
    train_command(options, given=given_options(ctx))


def train_command(options: dict, *, given: set[str]) -> None:
    """What ``train`` (and ``distill``) do with their options: check, train, report.

    Args:
        options: The options by parameter name.
        given: The options typed on the command line: they win over a ``--config`` file.
    """
    config = config_from_options(options, config_file=options["config_file"], given=given)
    check_data(config)  # a bad file fails in a second, before torch is imported
    from ..device import check_device

    options["device"] = check_device(options["device"])
    from ..distributed import is_main_process
    from ..training import train

    progress = TrainProgress(show_progress())
    try:
        result = train(config, options["out"], force=options["force"], callback=progress, device=options["device"],
                       resume=options["resume"])
    finally:
        progress.close()
    if not is_main_process():  # under torchrun, rank 0 reports for all
        return
    m = result.metrics
    console.print(
        f"saved run [bold]{result.path}[/] (best epoch {result.best_epoch}): validation micro-F1 "
        f"{m['micro_f1']:.4f}, macro-F1 {m['macro_f1']:.4f}, precision {m['micro_precision']:.4f}, "
        f"recall {m['micro_recall']:.4f}",
        highlight=False,
    )


def check_data(config: TrainConfig) -> None:
    """Fail on an unreadable data file or a missing column in a second, before torch is imported."""
    from ..data.reading import check_input
    from ..formats import ReadOptions

    if config.data:
        check_input(config.data, read=ReadOptions.of(config), text_cols=config.text_cols, genres_col=config.genres_col)
