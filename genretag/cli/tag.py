"""``genretag tag``: annotate a CSV of movies with predicted genres."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import (COLUMNS_HELP, NO_HEADER_HELP, SEP_HELP, column_values, console, handle_errors, info, read_options,
                     row_progress, saved_text_cols)


def load_model_for_cli(model: Optional[Path], backbone: Optional[str] = None, trust_remote_code: bool = False,
                       force_backbone: bool = False):
    """Resolve ``--model`` (newest run, else bundled), load it, and say which one is used."""
    from ..runs import load_run, resolve_model

    path = resolve_model(model)
    info(f"model: {path}")
    return load_run(path, backbone=backbone, trust_remote_code=trust_remote_code, force_backbone=force_backbone)


def load_model_for_tagging(model: Optional[Path], *, runtime: str, precision: str, threads: Optional[int],
                           backbone: Optional[str], trust_remote_code: bool, force_backbone: bool):
    """The run ``tag`` predicts with (`genretag.onnx_runtime.load_for_tagging`), and say which."""
    from .. import onnx_runtime
    from ..rundir import resolve_model

    path = resolve_model(model)
    info(f"model: {path}")
    run = onnx_runtime.load_for_tagging(path, runtime=runtime, precision=precision, threads=threads, backbone=backbone,
                                        trust_remote_code=trust_remote_code, force_backbone=force_backbone)
    if isinstance(run, onnx_runtime.OnnxRun):
        info(f"runtime: ONNX Runtime (fp32), the run exported to {run.folder}")
    return run


@handle_errors
def tag_cli(
    csv: Annotated[str, typer.Argument(help="Movies with a synopsis column: CSV/TSV (also .gz, .bz2, .xz, .zip), JSON Lines or Parquet (with --engine ray also a folder, a glob or a URL).")],
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Run directory \\[default: newest under ./runs, else the bundled model].")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file; its suffix chooses the format (.csv, .tsv, .jsonl, .parquet, + .gz/.bz2/.xz) \\[default: <input>.tagged.<input's suffix>].")] = None,
    text_col: Annotated[Optional[list[str]], typer.Option("--text-col", help="Text column(s) to join \\[default: the run's own when present, else detected].")] = None,
    threshold: Annotated[Optional[float], typer.Option(help="One threshold for every genre \\[default: the run's own].")] = None,
    at_least_one: Annotated[Optional[bool], typer.Option("--at-least-one/--no-at-least-one", help="Give each movie its most likely genre when none passes \\[default: the run's setting].")] = None,
    max_genres: Annotated[Optional[int], typer.Option(help="At most this many genres per movie \\[default: the run's setting].")] = None,
    scores: Annotated[bool, typer.Option("--scores/--no-scores", help="Add a score column per genre.")] = True,
    backbone: Annotated[Optional[str], typer.Option(help="Backbone to load instead of the run's own (a moved folder).")] = None,
    force_backbone: Annotated[bool, typer.Option("--force-backbone", help="Accept a --backbone with the run's architecture but other weights (predictions change).")] = False,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Rows per forward pass \\[default: the run's own; on a GPU enough rows for 32,768 tokens].")] = None,
    chunksize: Annotated[Optional[int], typer.Option(help="Rows read and written at a time \\[default: 10,000; with --engine ray 1,000 per block, the unit a worker tags].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run of the same command after its last chunk.")] = False,
    trust_remote_code: Annotated[bool, typer.Option(help="Allow a run trained with --trust-remote-code to run its backbone's code.")] = False,
    shard: Annotated[Optional[str], typer.Option(help="Deprecated (use --engine ray). i/n: tag only rows i, i+n, i+2n ... into <out>.shard-i-of-n.csv; join the n shards with genretag merge-shards.")] = None,
    runtime: Annotated[str, typer.Option(help="auto: ONNX Runtime on a CPU (the run exported once to a cache and checked against PyTorch; later runs start without torch), PyTorch on a GPU or when it cannot; onnx; torch.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto (bf16 where the hardware has it, else int8 on a CPU, when a parity check with fp32 passes), fp32, bf16 or int8.")] = "auto",
    vocabulary: Annotated[Optional[str], typer.Option("--vocabulary", help='Write genre names of another vocabulary: tmdb, imdb, movielens, or a TOML file of "Model genre" = "Name" lines \\[default: the model\'s own names].')] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads \\[default: OMP_NUM_THREADS, else one per physical core].")] = None,
    sep: Annotated[Optional[str], typer.Option("--sep", help=SEP_HELP)] = None,
    no_header: Annotated[bool, typer.Option("--no-header", help=NO_HEADER_HELP)] = False,
    columns: Annotated[Optional[list[str]], typer.Option("--columns", help=COLUMNS_HELP)] = None,
    engine: Annotated[Optional[str], typer.Option(help="ray: tag on Ray Data, one model load per worker, writing any format tag writes (pip install \"genretag\\[ray]\"). Pays on several machines or GPUs; on one CPU machine one process is faster.")] = None,
    workers: Annotated[int, typer.Option(help="With --engine ray: workers (Ray actors), each loading the model once.")] = 1,
    gpus_per_worker: Annotated[float, typer.Option(help="With --engine ray: GPUs per worker (1: one worker per GPU).")] = 0,
    address: Annotated[Optional[str], typer.Option(help="With --engine ray: the Ray cluster to join \\[default: RAY_ADDRESS, else Ray on this machine].")] = None,
) -> None:
    """Tag every row of a catalogue file with genres, keeping all columns and the row order."""
    from ..config import check_tag_options
    from ..onnx_runtime import check_runtime
    from ..data.reading import check_input
    from ..errors import DataError
    from ..outputs import ensure_new, refuse_finished, refuse_input, refuse_run_files, refuse_unresumed

    check_tag_options(threshold=threshold, max_genres=max_genres, precision=precision, batch_size=batch_size,
                      threads=threads)
    check_runtime(runtime, precision)
    if engine is not None:
        if engine != "ray":
            raise DataError(f"--engine must be ray, got '{engine}'")
        if shard or resume:
            raise DataError("--shard and --resume are for tag in one process; --engine ray splits the work "
                            "and retries a failed block itself")
        if sep or no_header or columns:
            raise DataError("--sep, --no-header and --columns are for tag in one process; with --engine ray give "
                            "a CSV with a header, JSON Lines or Parquet")
        _tag_on_ray(csv, model=model, out=out, force=force, text_cols=column_values(text_col), threshold=threshold,
                    at_least_one=at_least_one, max_genres=max_genres, scores=scores, precision=precision,
                    runtime=runtime, batch_size=batch_size, block_rows=chunksize, workers=workers, gpus_per_worker=gpus_per_worker,
                    threads=threads, address=address, backbone=backbone, trust_remote_code=trust_remote_code,
                    force_backbone=force_backbone, vocabulary=vocabulary)
        return
    if workers != 1 or gpus_per_worker or address:
        raise DataError("--workers, --gpus-per-worker and --address need --engine ray")
    csv = Path(csv)
    if not csv.exists():
        raise DataError(f"{csv} not found; give the path of a CSV file to tag")
    if vocabulary is not None:
        from ..vocabulary import OUTPUT_VOCABULARIES

        if vocabulary.lower() not in OUTPUT_VOCABULARIES and not Path(vocabulary).is_file():
            raise DataError(f"unknown --vocabulary '{vocabulary}'; choose {', '.join(OUTPUT_VOCABULARIES)} or a TOML file")
    read = read_options(sep, no_header, columns)
    text_cols = column_values(text_col)
    # Fail on an unusable file, column or output before importing torch and loading a model (20-30 s).
    source = check_input(csv, read=read, text_cols=text_cols, need_genres=False,
                         run_text_cols=lambda: saved_text_cols(model))
    from ..formats import check_output, default_output

    if chunksize is not None and chunksize < 1:
        raise DataError(f"--chunksize must be at least 1, got {chunksize}")
    chunksize = 10_000 if chunksize is None else chunksize
    parts = None
    if shard:
        info("[yellow]deprecated:[/] --shard and merge-shards will go; genretag tag ... --engine ray --workers N "
             "runs the workers, retries and merge for you")
        from ..tagging import parse_shard

        parts = parse_shard(shard)
    target = out or default_output(csv, source)
    check_output(target, source=source, resume=resume, shard=parts, warn=False)  # tag_csv says its guess
    from ..tagging import progress_file, shard_output, tag_csv
    final = shard_output(target, parts) if parts else target
    refuse_input(final, [csv])  # not even with --force
    refuse_run_files(final, "--out" if out else None)
    refuse_finished(final, marker=progress_file, force=force, resume=resume)
    refuse_unresumed(final, marker=progress_file, force=force, resume=resume)  # before the model loads
    ensure_new(final, force, directory=False, option="--out" if out else None)
    run = load_model_for_tagging(model, runtime=runtime, precision=precision, threads=threads, backbone=backbone,
                                 trust_remote_code=trust_remote_code, force_backbone=force_backbone)
    names = None
    if vocabulary is not None:
        from ..vocabulary import output_names

        names, unnamed = output_names(run.labels, vocabulary)
        renamed = [f"{label} → {name}" for label, name in zip(run.labels, names) if label != name]
        info(f"genre names of vocabulary {vocabulary}: {', '.join(renamed) or 'the same as the model'}")
        if unnamed:
            logging.getLogger(__name__).warning(
                "vocabulary %s has no name for %s; written as the model names them", vocabulary, ", ".join(unnamed))
    with row_progress("tagging") as on_rows:
        summary = tag_csv(
            run, csv, out, force=force, text_cols=text_cols, thresholds=threshold,
            at_least_one=at_least_one, max_genres=max_genres, scores=scores, precision=precision,
            batch_size=batch_size, chunksize=chunksize, on_rows=on_rows, resume=resume, shard=parts, names=names,
            read=read,
        )
    _say_if_nothing_tagged(summary)
    choice = run.predictor(precision).choice
    info(f"precision: {choice.precision} ({choice.reason})" if choice else "precision: fp32 (too few rows to check a faster arithmetic)")
    console.print(
        f"wrote [bold]{summary.output}[/]" + (f" ({summary.dialect})" if summary.dialect else "") + f": {summary.rows} row{'s' * (summary.rows != 1)}"
        + (f" (shard {parts[0]}/{parts[1]} of {summary.input_rows})" if parts else "")
        + f", {summary.tagged} tagged"
        + (f" ({summary.no_genre} of them given no genre: no score reached its threshold)" if summary.no_genre else "")
        + ", "
        f"{summary.empty_text} with an empty synopsis left untagged, "
        + (f"{summary.resumed_rows} rows kept from the interrupted run, " if summary.resumed_rows else "")
        + f"{summary.rows_per_second:.1f} rows/s; synopsis from column(s) "
        + f"{', '.join(repr(c) for c in summary.text_columns)} ({summary.text_columns_how}); "
        + f"genres in column '{summary.genres_column}'",
        highlight=False,
    )


def _tag_on_ray(source: str, *, model: Optional[Path], block_rows: Optional[int], workers: int, **options) -> None:
    """``tag --engine ray``: check, start Ray, tag in a pool of workers, report."""
    from ..engine import DEFAULT_BLOCK_ROWS, require_ray, tag_with_ray
    from ..runs import resolve_model

    require_ray()  # before anything else: the one thing the user must install
    path = resolve_model(model)
    info(f"model: {path}")

    def started(cluster: dict) -> None:
        info(f"ray: {cluster.get('CPU', 0):g} CPUs, {cluster.get('GPU', 0):g} GPUs; {workers} worker(s), "
             "each loading the model once")

    with row_progress("tagging") as on_rows:
        summary = tag_with_ray(path, source, block_rows=block_rows or DEFAULT_BLOCK_ROWS, workers=workers,
                               on_rows=on_rows, on_started=started, **options)
    _say_if_nothing_tagged(summary)
    console.print(
        f"wrote [bold]{summary.output}[/]" + (f" ({summary.dialect})" if summary.dialect else "")
        + f": {summary.rows} rows from {len(summary.inputs)} file(s), "
        f"{summary.tagged} tagged, {summary.empty_text} with an empty synopsis left untagged, "
        f"{summary.rows_per_second:.1f} rows/s ({summary.startup_seconds:.1f} s of it starting Ray); "
        f"synopsis from column(s) {', '.join(repr(c) for c in summary.text_columns)} ({summary.text_columns_how}); "
        f"genres in column '{summary.genres_column}'",
        highlight=False,
    )


def _say_if_nothing_tagged(summary) -> None:
    """Warn when rows were read and not one had a synopsis: the wrong column, most likely."""
    if summary.rows and not summary.tagged:
        from ..data import synopsis_columns

        columns = ", ".join(repr(c) for c in synopsis_columns(summary.text_columns))
        logging.getLogger(__name__).warning(
            f"nothing was tagged: all {summary.rows} rows have an empty synopsis in {columns} (empty cells or "
            f"placeholders such as 'N/A'); if the synopses are in another column, pass --text-col NAME")
