"""``genretag info``: what a run is — backbone, genres, thresholds, data, scores, versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import console, handle_errors, info

#: split.json keys that hold row ids: summarised as counts, not printed.
SPLIT_PARTS = ("train", "validation", "test")


def run_info(path: str | Path) -> dict:
    """Everything a run directory says about itself, read from its files (no model is loaded).

    Each section is the content of one file, unchanged: ``config`` (config.json),
    ``labels``, ``thresholds`` (None when absent), ``meta``, ``history`` (history.jsonl
    as a list), ``metrics`` (file name → content, for metrics.json and any other
    ``*metrics*.json`` such as a test-set evaluation), ``vocabulary`` (vocabulary.json: the
    genre table the run was trained with and what it mapped; None for runs written before
    vocabularies). ``split`` is split.json with each
    part's row-id list replaced by its length (the ids are thousands of numbers).

    Args:
        path: The run directory.

    Returns:
        A JSON-ready dict.
    """
    from ..errors import ModelError
    from ..onnx_runtime import describe_export
    from ..rundir import (CONFIG_FILE, ENSEMBLE_FILE, HISTORY_FILE, LABELS_FILE, META_FILE, SPLIT_FILE, THRESHOLDS_FILE,
                          check_run_dir, read_json)
    from ..vocabulary import RUN_VOCABULARY_FILE

    path = check_run_dir(path, option=None)  # the run is an argument here, not a --model
    split = read_json(path / SPLIT_FILE) if (path / SPLIT_FILE).is_file() else None
    if isinstance(split, dict):
        split = {k: (len(v) if k in SPLIT_PARTS and isinstance(v, list) else v) for k, v in split.items()}
    history = []
    if (path / HISTORY_FILE).is_file():
        try:
            history = [json.loads(line) for line in (path / HISTORY_FILE).read_text(encoding="utf-8").splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise ModelError(f"run file {path / HISTORY_FILE} is corrupt; train the run again") from None
    metrics = {file.name: read_json(file) for file in sorted(path.glob("*metrics*.json")) if file.is_file()}
    return {
        "path": str(path.resolve()),
        "config": read_json(path / CONFIG_FILE),
        "labels": read_json(path / LABELS_FILE),
        "thresholds": read_json(path / THRESHOLDS_FILE) if (path / THRESHOLDS_FILE).is_file() else None,
        "meta": read_json(path / META_FILE),
        "split": split,
        "metrics": metrics,
        "history": history,
        "ensemble": read_json(path / ENSEMBLE_FILE) if (path / ENSEMBLE_FILE).is_file() else None,
        "vocabulary": read_json(path / RUN_VOCABULARY_FILE) if (path / RUN_VOCABULARY_FILE).is_file() else None,
        "onnx_export": describe_export(path),
    }


@handle_errors
def info_cli(
    model: Annotated[Optional[Path], typer.Argument(help="Run directory \\[default: newest under ./runs, else the bundled model].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every field as JSON on stdout (for scripts).")] = False,
) -> None:
    """Show what a run is: backbone, genres and thresholds, data, scores, library versions."""
    from ..rundir import resolve_model

    path = resolve_model(model)
    details = run_info(path)
    if as_json:
        # Plain print, not rich: no wrapping or markup may touch machine-readable output.
        typer.echo(json.dumps(details, indent=2, ensure_ascii=False))
        return
    info(f"model: {path}")
    _print_tables(details)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "-"
    return "-" if value is None or value == "" else str(value)


def _print_tables(details: dict) -> None:
    from rich.table import Table

    config, meta, split = details["config"], details["meta"], details["split"] or {}
    overview = Table(title=f"run {meta.get('name', Path(details['path']).name)}", show_header=False, title_justify="left")
    overview.add_column(style="bold")
    overview.add_column(overflow="fold")
    rows = [
        ("path", details["path"]),
        ("backbone", config.get("backbone")),
        ("pooling", meta.get("pooling", config.get("pooling"))),
        ("LoRA", f"r={config.get('lora_r')}, alpha={config.get('lora_alpha')}, on {_fmt(config.get('lora_targets'))}"),
        ("training", f"{config.get('epochs')} epoch{'s' * (config.get('epochs') != 1)} (best {meta.get('best_epoch', '-')}), lr {config.get('lr')}, "
                     f"batch {config.get('batch_size')}, loss {config.get('loss')}, seed {config.get('seed')}"),
        ("data", split.get("data", config.get("data"))),
        ("data fingerprint", meta.get("data_fingerprint", split.get("fingerprint"))),
        ("rows", ", ".join(f"{part} {split[part]}" for part in SPLIT_PARTS if part in split) or "-"),
        ("finished", f"{meta.get('finished', '-')} on {meta.get('device', '-')} in {meta.get('seconds', '-')} s"),
        ("versions", ", ".join(f"{k} {v}" for k, v in (meta.get("versions") or {}).items())),
    ]
    if details.get("ensemble"):
        members = details["ensemble"].get("members") or []
        summary = f"mean probability of {len(members)} runs: {', '.join(members)} (training row: the first member's recipe)"
        rows.insert(1, ("ensemble", summary))
    if isinstance(meta.get("soup"), dict):
        members = meta["soup"].get("members") or []
        rows.insert(1, ("soup", f"weights averaged ({meta['soup'].get('recipe')}) of {len(members)} runs: "
                                f"{', '.join(members)} (training row: the first member's recipe)"))
    rows.append(("genre vocabulary", _vocabulary_summary(details.get("vocabulary"))))
    rows.append(("tag on a CPU", _export_summary(details.get("onnx_export"))))
    for key, value in rows:
        overview.add_row(key, _fmt(value))
    console.print(overview)

    thresholds = details["thresholds"] or {}
    genres = Table(title=f"{len(details['labels'])} genres", title_justify="left")
    genres.add_column("#", justify="right")
    genres.add_column("genre")
    genres.add_column("threshold", justify="right")
    for i, label in enumerate(details["labels"]):
        genres.add_row(str(i), label, _fmt(thresholds.get(label)))
    console.print(genres)

    for name, scores in details["metrics"].items():
        if isinstance(scores, dict):
            console.print(_scores_table(name, scores))


def _export_summary(export: dict | None) -> str:
    """Whether ``tag`` will start from a cached ONNX export of the run (`genretag.onnx_runtime`)."""
    if export is None:
        return "PyTorch (no ONNX export possible here: onnxruntime missing, or the backbone's files not found)"
    if not export.get("exported"):
        return "ONNX Runtime after a one-time export by the next genretag tag (about 10 s for MiniLM)"
    parity = export.get("parity") or {}
    return (f"ONNX Runtime, exported to {export['folder']} (max |dp| {parity.get('max_abs_dp', 0):.1g} against PyTorch "
            f"on {parity.get('rows', '?')} probe rows)")


def _vocabulary_summary(vocabulary: dict | None) -> str:
    """The run's genre vocabulary in a few lines: its sources and what it mapped in training."""
    if not vocabulary:
        return "none (run written before genre vocabularies: genres read as written)"
    from ..vocabulary import GenreReport

    lines = [" + ".join(vocabulary.get("sources") or ["?"])]
    lines += GenreReport(vocabulary.get("applied") or {}).lines() or ["no genre name of the training data was mapped"]
    return "\n".join(lines)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scores_table(name: str, scores: dict):
    """Scores at the run's thresholds in one column, plus one column per nested set (e.g. ``at_0.5``)."""
    from rich.table import Table

    notes = [f"{k} {scores[k]}" for k in ("rows", "epoch", "thresholds", "threshold") if k in scores]
    title = f"{scores.get('split', name)} scores ({name}{', ' + ', '.join(notes) if notes else ''})"
    skip = {"rows", "epoch", "threshold"}
    main = {k: v for k, v in scores.items() if _is_number(v) and k not in skip}
    nested = {k: v for k, v in scores.items() if isinstance(v, dict) and any(_is_number(x) for x in v.values())}
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for column in nested:
        table.add_column(column, justify="right")
    names = list(main) + [k for v in nested.values() for k in v if _is_number(v[k]) and k not in main]
    for metric in dict.fromkeys(names):
        table.add_row(metric, _fmt(main.get(metric)), *(_fmt(v.get(metric)) for v in nested.values()))
    return table
