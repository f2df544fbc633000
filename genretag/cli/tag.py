"""``genretag tag``: annotate a CSV of movies with predicted genres."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import console, handle_errors, info, row_progress, split_list


def load_model_for_cli(model: Optional[Path], backbone: Optional[str] = None, trust_remote_code: bool = False):
    """Resolve ``--model`` (newest run, else bundled), load it, and say which one is used."""
    from ..runs import load_run, resolve_model

    path = resolve_model(model)
    info(f"model: {path}")
    return load_run(path, backbone=backbone, trust_remote_code=trust_remote_code)


@handle_errors
def tag_cli(
    csv: Annotated[Path, typer.Argument(help="CSV of movies with a synopsis column.")],
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Run directory \\[default: newest under ./runs, else the bundled model].")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output CSV \\[default: <input>.tagged.csv].")] = None,
    text_col: Annotated[Optional[list[str]], typer.Option("--text-col", help="Text column(s) to join \\[default: the run's own when present, else detected].")] = None,
    threshold: Annotated[Optional[float], typer.Option(help="One threshold for every genre \\[default: the run's own].")] = None,
    at_least_one: Annotated[Optional[bool], typer.Option("--at-least-one/--no-at-least-one", help="Give each movie its most likely genre when none passes \\[default: the run's setting].")] = None,
    max_genres: Annotated[Optional[int], typer.Option(help="At most this many genres per movie \\[default: the run's setting].")] = None,
    scores: Annotated[bool, typer.Option("--scores/--no-scores", help="Add a score column per genre.")] = True,
    backbone: Annotated[Optional[str], typer.Option(help="Backbone to load instead of the run's own (a moved folder).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Rows per forward pass \\[default: the run's own; on a GPU enough rows for 32,768 tokens].")] = None,
    chunksize: Annotated[int, typer.Option(help="Rows read and written at a time.")] = 10_000,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run of the same command after its last chunk.")] = False,
    trust_remote_code: Annotated[bool, typer.Option(help="Allow a run trained with --trust-remote-code to run its backbone's code.")] = False,
    shard: Annotated[Optional[str], typer.Option(help="i/n: tag only rows i, i+n, i+2n ... into <out>.shard-i-of-n.csv; join the n shards with genretag merge-shards.")] = None,
    precision: Annotated[str, typer.Option(help="auto (bf16 where the hardware has it, else int8 on a CPU, when a parity check with fp32 passes), fp32, bf16 or int8.")] = "auto",
    threads: Annotated[Optional[int], typer.Option(help="CPU threads \\[default: OMP_NUM_THREADS, else one per physical core].")] = None,
) -> None:
    """Tag every row of a CSV with genres, keeping all columns and the row order."""
    from ..errors import DataError
    from ..outputs import ensure_new
    from ..predict import PREDICT_PRECISIONS, set_threads
    from ..tagging import default_output, parse_shard, shard_output, tag_csv

    if threshold is not None and not 0 < threshold < 1:
        raise DataError(f"--threshold must be between 0 and 1, got {threshold}")
    if max_genres is not None and max_genres < 1:
        raise DataError(f"--max-genres must be at least 1, got {max_genres}")
    if precision not in PREDICT_PRECISIONS:
        raise DataError(f"--precision must be one of {', '.join(PREDICT_PRECISIONS)}, got '{precision}'")
    if batch_size is not None and batch_size < 1:
        raise DataError(f"--batch-size must be at least 1, got {batch_size}")
    if threads is not None and threads < 1:
        raise DataError(f"--threads must be at least 1, got {threads}")
    if not csv.exists():
        raise DataError(f"{csv} not found; give the path of a CSV file to tag")
    parts = parse_shard(shard) if shard else None
    target = out or default_output(csv)
    ensure_new(shard_output(target, parts) if parts else target, force)  # fail before loading a model
    set_threads(threads)
    run = load_model_for_cli(model, backbone, trust_remote_code)
    run.precision = precision
    run.batch_size = batch_size
    with row_progress("tagging") as on_rows:
        summary = tag_csv(
            run, csv, out, force=force, text_cols=split_list(text_col), thresholds=threshold,
            at_least_one=at_least_one, max_genres=max_genres, scores=scores, chunksize=chunksize, on_rows=on_rows,
            resume=resume, shard=parts,
        )
    choice = run.predictor.choice
    info(f"precision: {choice.precision} ({choice.reason})" if choice else "precision: fp32 (too few rows to check a faster arithmetic)")
    console.print(
        f"wrote [bold]{summary.output}[/]: {summary.rows} rows"
        + (f" (shard {parts[0]}/{parts[1]} of {summary.input_rows})" if parts else "")
        + f", {summary.tagged} tagged, "
        f"{summary.empty_text} with an empty synopsis left untagged, "
        + (f"{summary.resumed_rows} rows kept from the interrupted run, " if summary.resumed_rows else "")
        + f"{summary.rows_per_second:.1f} rows/s; genres in column '{summary.genres_column}'",
        highlight=False,
    )
