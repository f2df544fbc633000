"""``genretag train``: fine-tune a LoRA genre tagger on a labelled CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import TrainConfig
from ..configfile import apply_config_file
from ..errors import ConfigError
from .common import (COLUMNS_HELP, NO_HEADER_HELP, SEP_HELP, column_values, console, field_names, handle_errors, info,
                     separator, show_progress, split_list)


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
                f"{len(data['labels'])} genres, {data['epochs']} epochs, device {data['device']} ({how}), "
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
def train_cli(
    ctx: typer.Context,
    data: Annotated[Optional[Path], typer.Option("--data", "-d", help="Synopses and genres: CSV/TSV (also compressed), JSON Lines or Parquet.")] = None,
    config_file: Annotated[Optional[Path], typer.Option("--config", help="TOML file of options; options typed here override it.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory \\[default: runs/<backbone>-<time>].")] = None,
    backbone: Annotated[str, typer.Option(help="qwen3-0.6b, minilm, a Hugging Face model id or a local folder.")] = "qwen3-0.6b",
    text_col: Annotated[Optional[list[str]], typer.Option("--text-col", help="Text column(s) to join, e.g. title,overview.")] = None,
    genres_col: Annotated[Optional[str], typer.Option("--genres-col", help="Genre column.")] = None,
    sep: Annotated[Optional[str], typer.Option("--sep", help=SEP_HELP)] = None,
    no_header: Annotated[bool, typer.Option("--no-header", help=NO_HEADER_HELP)] = False,
    columns: Annotated[Optional[list[str]], typer.Option("--columns", help=COLUMNS_HELP)] = None,
    sample: Annotated[Optional[int], typer.Option(help="Train on a seeded random sample of N usable rows.")] = None,
    split: Annotated[str, typer.Option(help="Train/validation/test fractions.")] = "0.7,0.15,0.15",
    min_support: Annotated[int, typer.Option(help="Drop genres with fewer training examples than this.")] = 1,
    genre_map: Annotated[Optional[Path], typer.Option("--genre-map", help='TOML file of genre aliases added to the bundled vocabulary: alias = "Genre" or "X" = ["A", "B"] per line.')] = None,
    test_from: Annotated[Optional[Path], typer.Option("--test-from", help="Hold out the test rows of this run (or split.json) of the same file; the other rows are split train/validation by --split's first two fractions.")] = None,
    teacher: Annotated[Optional[Path], typer.Option("--teacher", help="Distil: learn from this run's (or ensemble's) probabilities as soft targets.")] = None,
    distill_alpha: Annotated[float, typer.Option("--distill-alpha", help="With --teacher: target = alpha * label + (1 - alpha) * teacher probability.")] = 0.5,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate (AdamW).")] = 5e-4,
    batch_size: Annotated[int, typer.Option("--batch-size", "--batch", help="Rows per step.")] = 16,
    epochs: Annotated[int, typer.Option(help="Passes over the training split.")] = 4,
    max_length: Annotated[int, typer.Option(help="Tokens per synopsis.")] = 128,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 0.01,
    warmup_ratio: Annotated[float, typer.Option(help="Fraction of steps to warm up.")] = 0.06,
    schedule: Annotated[str, typer.Option(help="linear, cosine or constant decay after warm-up.")] = "linear",
    grad_clip: Annotated[float, typer.Option(help="Gradient-norm clip (0: off).")] = 1.0,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    lora_alpha: Annotated[int, typer.Option(help="LoRA alpha.")] = 16,
    lora_dropout: Annotated[float, typer.Option(help="LoRA dropout.")] = 0.05,
    lora_targets: Annotated[Optional[list[str]], typer.Option(help="Modules to adapt \\[default: q/v projections].")] = None,
    pooling: Annotated[str, typer.Option(help="auto, last, mean or cls.")] = "auto",
    loss: Annotated[str, typer.Option(help="bce (the report), weighted-bce, focal or asl.")] = "bce",
    pos_weight_power: Annotated[float, typer.Option(help="weighted-bce: (neg/pos) ** power.")] = 0.5,
    pos_weight_cap: Annotated[float, typer.Option(help="weighted-bce: cap on pos_weight.")] = 10.0,
    oversample: Annotated[bool, typer.Option("--oversample", help="Repeat rows of rare genres (up to 4x).")] = False,
    thresholds: Annotated[str, typer.Option(help="fixed, global or per-genre (tuned on validation).")] = "per-genre",
    threshold: Annotated[float, typer.Option(help="The fixed threshold (--thresholds fixed).")] = 0.5,
    at_least_one: Annotated[bool, typer.Option("--at-least-one/--no-at-least-one", help="Every movie gets its most likely genre when none passes.")] = True,
    max_genres: Annotated[Optional[int], typer.Option(help="At most this many genres per movie.")] = None,
    blend_tfidf: Annotated[bool, typer.Option("--blend-tfidf", help="Blend with a TF-IDF model; weight chosen on validation.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    init_seed: Annotated[Optional[int], typer.Option(help="Seed for initialisation and batch order alone (default: --seed): another model on the same split.")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1 ... \\[default: cuda if present].")] = None,
    precision: Annotated[str, typer.Option(help="auto (bf16 autocast where the CPU or GPU has native bf16, else fp32), fp32 or bf16.")] = "auto",
    gradient_checkpointing: Annotated[bool, typer.Option("--gradient-checkpointing", help="Recompute activations in backward: less memory, slower.")] = False,
    compile: Annotated[str, typer.Option("--compile", help="torch.compile the model, batches padded to multiples of 32 tokens: on, off, or auto (off on a CPU; on a GPU when the first eager steps, timed, say it pays off).")] = "auto",
    trust_remote_code: Annotated[bool, typer.Option(help="Run model code shipped with a hub model.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted training of --out from its last epoch.")] = False,
) -> None:
    """Fine-tune a LoRA genre tagger and write a self-describing run directory."""
    config = config_from_options(locals())  # first statement: locals() are exactly the options
    config = apply_config_file(ctx, config_file, config)
    check_data(config)
    from ..distributed import is_main_process
    from ..training import train

    progress = TrainProgress(show_progress())
    try:
        result = train(config, out, force=force, callback=progress, device=device, resume=resume)
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


def config_from_options(options: dict) -> TrainConfig:
    """The TrainConfig for ``train_cli``'s options, by parameter name (``tune`` builds its configs here too)."""
    o = options
    return TrainConfig(
        data=str(o["data"]), text_cols=column_values(o["text_col"]), genres_col=o["genres_col"], sample=o["sample"],
        sep=separator(o["sep"]), no_header=o["no_header"], columns=field_names(o["columns"]),
        split=_fractions(o["split"]), min_support=o["min_support"], backbone=o["backbone"], pooling=o["pooling"],
        max_length=o["max_length"], lora_r=o["lora_r"], lora_alpha=o["lora_alpha"], lora_dropout=o["lora_dropout"],
        lora_targets=split_list(o["lora_targets"]), trust_remote_code=o["trust_remote_code"], lr=o["lr"],
        batch_size=o["batch_size"], epochs=o["epochs"], weight_decay=o["weight_decay"], warmup_ratio=o["warmup_ratio"],
        schedule=o["schedule"], grad_clip=o["grad_clip"], loss=o["loss"], pos_weight_power=o["pos_weight_power"],
        pos_weight_cap=o["pos_weight_cap"], oversample=o["oversample"], thresholds=o["thresholds"],
        threshold=o["threshold"], at_least_one=o["at_least_one"], max_genres=o["max_genres"], seed=o["seed"],
        init_seed=o["init_seed"], blend_tfidf=o["blend_tfidf"], precision=o["precision"], gradient_checkpointing=o["gradient_checkpointing"],
        genre_map=str(Path(o["genre_map"]).resolve()) if o["genre_map"] else None,
        compile=o["compile"],
        test_rows=_test_rows(o["test_from"], o["data"]), teacher=str(o["teacher"]) if o["teacher"] else None,
        distill_alpha=o["distill_alpha"],
    )


def check_data(config: TrainConfig) -> None:
    """Fail on an unreadable data file or a missing column in a second, before torch is imported."""
    from ..data import ReadOptions, check_input

    if config.data:
        check_input(config.data, read=ReadOptions.of(config), text_cols=config.text_cols, genres_col=config.genres_col)


def _test_rows(source, data) -> list[int] | None:
    from ..errors import DataError
    from ..holdout import held_out_rows

    if not source:
        return None
    if not data:
        raise DataError("--test-from needs --data: the file whose rows it names")
    return held_out_rows(source, data)


def _fractions(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError("split", f"must be three fractions such as 0.7,0.15,0.15, got '{text}'") from None
