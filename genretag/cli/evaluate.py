"""``genretag evaluate``: score a run on labelled movies; an HTML report and a JSON of every number."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import (COLUMNS_HELP, NO_HEADER_HELP, SEP_HELP, column_values, console, handle_errors, info, read_options,
                     row_progress, saved_text_cols)


@handle_errors
def evaluate_cli(
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Run directory \\[default: newest under ./runs, else the bundled model].")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", "-r", help="Write the self-contained HTML report here.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write every number as JSON here.")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", "-d", help="Labelled movies: CSV/TSV (also compressed), JSON Lines or Parquet \\[default: the run's own data file and saved split].")] = None,
    split: Annotated[Optional[str], typer.Option(help="test, validation or all \\[default: test on the run's own data, all on another file].")] = None,
    text_col: Annotated[Optional[list[str]], typer.Option("--text-col", help="Text column(s) to join \\[default: the run's own, else detected].")] = None,
    genres_col: Annotated[Optional[str], typer.Option("--genres-col", help="Genre column \\[default: detected].")] = None,
    genre_map: Annotated[Optional[Path], typer.Option("--genre-map", help='TOML file of genre aliases for --data: alias = "Genre" or "X" = ["A", "B"] per line.')] = None,
    all_genres: Annotated[bool, typer.Option("--all-genres", help="Score every model genre, also those the file never uses \\[default: left out and listed].")] = False,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="Fit and score the TF-IDF baseline on the run's training rows.")] = True,
    include_training_rows: Annotated[bool, typer.Option("--include-training-rows", help="Also score rows that were training examples of the model (counted and left out by default).")] = False,
    backbone: Annotated[Optional[str], typer.Option(help="Backbone to load instead of the run's own (a moved folder).")] = None,
    force_backbone: Annotated[bool, typer.Option("--force-backbone", help="Accept a --backbone with the run's architecture but other weights (predictions change).")] = False,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Rows per forward pass \\[default: the run's own; on a GPU enough rows for 32,768 tokens].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing --report / --json files.")] = False,
    title_col: Annotated[Optional[str], typer.Option("--title-col", help="Title column shown in the report \\[default: detected].")] = None,
    sep: Annotated[Optional[str], typer.Option("--sep", help=SEP_HELP)] = None,
    no_header: Annotated[bool, typer.Option("--no-header", help=NO_HEADER_HELP)] = False,
    columns: Annotated[Optional[list[str]], typer.Option("--columns", help=COLUMNS_HELP)] = None,
) -> None:
    """Score a trained run on labelled movies and write an HTML report and/or a JSON of every number."""
    from ..errors import DataError
    from ..outputs import ensure_new, refuse_input, refuse_run_files, write_json

    if batch_size is not None and batch_size < 1:
        raise DataError(f"--batch-size must be at least 1, got {batch_size}")
    if report and json_out and report.resolve() == json_out.resolve():
        raise DataError("--report and --json name the same file; give them different paths")
    own = None
    if data is None:  # the run's own file: fail before loading a model when it is not here
        from ..rundir import check_run_dir, own_data_file, resolve_model

        own = own_data_file(check_run_dir(resolve_model(model)))
    for target, option in ((report, "--report"), (json_out, "--json")):
        if target is not None:
            refuse_input(target, (data, own), option)  # not even with --force
            refuse_run_files(target, option)
            ensure_new(target, force, directory=False, option=option)  # fail before the slow part
    # The file name says the format (as tag's --out): an HTML page named .txt or .csv is a surprise later.
    for target, option, suffixes, kind in ((report, "--report", (".html", ".htm"), "an HTML page"),
                                           (json_out, "--json", (".json",), "JSON")):
        if target is not None and target.suffix.lower() not in suffixes:
            raise DataError(f"{option} writes {kind}; give a file name ending in {suffixes[0]} (got {target.name})")
    if data is not None and not data.exists():
        raise DataError(f"{data} not found; give the path of a labelled CSV")
    read = read_options(sep, no_header, columns) if (sep or no_header or columns) else None
    text_cols = column_values(text_col)
    if data is not None:  # fail on the file before loading a model (20-30 s)
        from ..data.reading import check_input

        check_input(data, read=read, text_cols=text_cols, genres_col=genres_col, title_col=title_col,
                    run_text_cols=lambda: saved_text_cols(model))
    from ..evaluation import SPLITS, evaluate  # torch: after the quick checks
    from ..report import write_report
    from .tag import load_model_for_cli

    if split is not None and split not in SPLITS:
        raise DataError(f"--split must be one of {', '.join(SPLITS)}, got '{split}'")
    run = load_model_for_cli(model, backbone, force_backbone=force_backbone)

    with row_progress("predicting") as on_batch:
        results = evaluate(
            run, data=data, split=split, text_cols=text_cols, genres_col=genres_col, read=read, title_col=title_col,
            baseline=baseline, include_training_rows=include_training_rows, batch_size=batch_size,
            on_stage=info, on_batch=on_batch, genre_map=genre_map, all_genres=all_genres,
        )

    _print_summary(results)
    if json_out is not None:
        write_json(json_out, results, force=force)
        console.print(f"wrote [bold]{json_out}[/]", highlight=False)
    if report is not None:
        write_report(results, report, force=force)
        console.print(f"wrote [bold]{report}[/]", highlight=False)


_ROWS = (
    ("micro_f1", "micro F1"), ("micro_precision", "micro precision"), ("micro_recall", "micro recall"),
    ("macro_f1", "macro F1"), ("weighted_f1", "weighted F1"), ("samples_f1", "per-sample F1"),
    ("jaccard", "Jaccard"), ("subset_accuracy", "subset accuracy"), ("hamming_loss", "Hamming loss"),
)
_RANKING = (("micro_average_precision", "micro avg precision"), ("macro_roc_auc", "macro ROC-AUC"))


def _print_summary(results: dict) -> None:
    from rich.table import Table

    def fmt(x):
        return "n/a" if x is None else f"{x:.4f}"

    d = results["data"]
    two = results["decision"]["differs_from_fixed"]
    base = results["baseline"]
    columns = [("model @0.5", results["scores"]["at_0.5"])]
    if two:
        columns.append(("model, run's rule", results["scores"]["at_run_thresholds"]))
    if base.get("available"):
        columns.append(("TF-IDF baseline @0.5", base["scores"]["at_0.5"]))
        if two:
            columns.append(("baseline, own thresholds", base["scores"]["at_own_thresholds"]))
    table = Table(title=f"{results['model']['name']} on {_rows(d['rows'])} ({d['split']} split of {Path(d['path']).name})")
    table.add_column("metric")
    for name, _ in columns:
        table.add_column(name, justify="right")
    for key, label in _ROWS:
        table.add_row(label, *(fmt(block["summary"][key]) for _, block in columns))
    for key, label in _RANKING:
        # Threshold-free: one value per model, shown in its first column; a macro average over the
        # genres where the score is defined says how many those are.
        over, of = results["ranking"].get(f"{key}_genres"), results["ranking"].get("genres")
        if over is not None and of and over < of:
            label = f"{label} ({over} of {of} genres)"
        cells = [fmt(results["ranking"][key])] + ([""] if two else [])
        if base.get("available"):
            cells += [fmt(base["ranking"][key])] + ([""] if two else [])
        table.add_row(label, *cells)
    console.print(table)
    if d.get("read"):  # the columns guessed and the rows dropped, as train says them
        console.print("; ".join(d["read"]), highlight=False)
    _print_genres(results)
    if not base.get("available"):
        console.print(f"no baseline: {base['reason']}", highlight=False)
    for line in results.get("warnings", []):
        console.print(f"warning: {line}", style="yellow", highlight=False)


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _print_genres(results: dict) -> None:
    """What happened to the genres: mappings applied, genres scored as others, unscorable, unused."""
    mappings = results.get("genre_mappings") or {}
    for line in mappings.get("lines") or ():
        console.print(line, highlight=False)
    scored_as = mappings.get("scored_as") or {}
    if scored_as:
        listed = ", ".join(f"{g}: {a['how']} ({_rows(a['rows'])})" for g, a in scored_as.items())
        console.print(f"file genres scored as model genres: {listed}", highlight=False)
    unknown = results["unknown_genres"]
    if unknown["genres"]:
        hints = mappings.get("did_you_mean") or {}
        listed = ", ".join(f"{g} ({n}{'; did you mean ' + hints[g] + '?' if g in hints else ''})"
                           for g, n in unknown["genres"].items())
        more = f"; {_rows(unknown['rows_left_out'])} with only such genres left out" if unknown["rows_left_out"] else ""
        console.print(f"genres the model has no genre for (unscorable), left out of the scores: {listed}{more}",
                      highlight=False)
    unused = results.get("unused_genres") or {}
    scored = "left out of the scores" if unused.get("left_out") else "scored (--all-genres)"
    only_left_out = unused.get("only_in_training_rows") or {}
    if only_left_out:  # in the file, but only in rows left out as training rows: not "never used"
        listed = ", ".join(f"{g} ({_rows(n)}; {_predictions(unused['genres'][g])})" for g, n in only_left_out.items())
        console.print(f"model genres only the rows left out as training rows have, {scored}: {listed}", highlight=False)
    never = {g: n for g, n in (unused.get("genres") or {}).items() if g not in only_left_out}
    if never:
        listed = ", ".join(f"{g} ({n})" for g, n in never.items())
        how = ("left out of the scores (predictions they got)" if unused.get("left_out")
               else "scored (--all-genres; predictions they got)")
        more = "; --all-genres scores them" if unused.get("left_out") else ""
        console.print(f"model genres the file never uses, {how}: {listed}{more}", highlight=False)
    every = unused.get("scores_with_them")
    if unused.get("genres") and unused.get("left_out") and every:
        console.print(f"with them (every genre, run's rule): micro-F1 {_fmt3(every['micro_f1'])}, "
                      f"macro-F1 {_fmt3(every['macro_f1'])}, micro precision {_fmt3(every['micro_precision'])}",
                      highlight=False)


def _predictions(n: int) -> str:
    return f"{n} prediction" if n == 1 else f"{n} predictions"


def _fmt3(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"
