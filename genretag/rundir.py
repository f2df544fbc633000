"""The run directory: every file name of a run, and reading and writing its JSON files.

Torch-free, so that commands can check a run before importing a model library.

A run directory explains itself::

    config.json        the resolved TrainConfig (reproduces the run)
    labels.json        ordered genre list; index = output column of the head
    thresholds.json    one decision threshold per genre
    adapter/           LoRA adapter (peft: adapter_config.json + adapter_model.safetensors)
    head.safetensors   the linear head (weight, bias)
    split.json         the data's file name, fingerprint and path relative to the run, and the
                       row ids of train / validation / test
    history.jsonl      one JSON line per epoch (losses, validation scores, seconds)
    metrics.json       validation scores of the kept epoch
    meta.json          genretag and library versions, backbone signature, times
    blend.json         only with a TF-IDF blend (`genretag.tfidf`): its weight, parameters and
    blend.safetensors  vocabulary (JSON); idf and coefficients (safetensors)

An ensemble (`genretag ensemble`) is a run directory too: ``ensemble.json`` and
``members/<k>/`` (each a complete run) take the place of ``adapter/`` and the head.
"""


from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .errors import DataError, ModelError

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
LABELS_FILE = "labels.json"
THRESHOLDS_FILE = "thresholds.json"
ADAPTER_DIR = "adapter"
HEAD_FILE = "head.safetensors"
SPLIT_FILE = "split.json"
HISTORY_FILE = "history.jsonl"
METRICS_FILE = "metrics.json"
META_FILE = "meta.json"
BLEND_FILE = "blend.json"
BLEND_WEIGHTS_FILE = "blend.safetensors"

ADAPTER_WEIGHTS = f"{ADAPTER_DIR}/adapter_model.safetensors"
# The adapter weights must be safetensors: given only a pickled adapter_model.bin, peft
# would unpickle it, and a run directory may come from anyone.
REQUIRED_FILES = (CONFIG_FILE, LABELS_FILE, HEAD_FILE, META_FILE, f"{ADAPTER_DIR}/adapter_config.json", ADAPTER_WEIGHTS)
ENSEMBLE_FILE = "ensemble.json"
ENSEMBLE_REQUIRED_FILES = (CONFIG_FILE, LABELS_FILE, META_FILE, ENSEMBLE_FILE)
RUN_FORMAT = 1
DEFAULT_RUNS_DIR = "runs"
MEMBERS_DIR = "members"
ENSEMBLE_FORMAT = 1


def read_json(path: Path):
    """Read a JSON file of a run, with a one-line error when it is missing or broken."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"run file missing: {path}; the run directory is incomplete, train it again") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"run file {path} is corrupt ({exc.__class__.__name__}); train the run again") from None


def read_config(path: str | Path):
    """A run's ``config.json`` as a `genretag.config.TrainConfig`, with a one-line error when it is not one."""
    from .config import TrainConfig

    file = Path(path) / CONFIG_FILE
    try:
        return TrainConfig.from_dict(read_json(file))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{file} is not a valid genretag config ({exc}); train the run again with this genretag") from None


def dump_json(path: Path, data) -> None:
    """Write ``data`` as indented UTF-8 JSON (run files are written into a fresh folder, then renamed)."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def is_ensemble(path: str | Path) -> bool:
    """True when ``path`` holds an ensemble of runs rather than one trained model."""
    return (Path(path) / ENSEMBLE_FILE).is_file()


def required_files(path: str | Path) -> tuple[str, ...]:
    """The files a complete run (or ensemble) directory has."""
    return ENSEMBLE_REQUIRED_FILES if is_ensemble(path) else REQUIRED_FILES


#: Every name a run directory may hold: a folder with none of them was never a run.
RUN_FILES = (CONFIG_FILE, LABELS_FILE, THRESHOLDS_FILE, ADAPTER_DIR, HEAD_FILE, SPLIT_FILE, HISTORY_FILE, METRICS_FILE,
             META_FILE, BLEND_FILE, BLEND_WEIGHTS_FILE, ENSEMBLE_FILE, MEMBERS_DIR)


def check_run_dir(path: str | Path, *, option: str | None = "--model") -> Path:
    """Check that ``path`` is a complete run directory; return it as a Path.

    Args:
        path: The run directory.
        option: The option that named it, for the error messages; None where the run is
            a command's argument (``genretag info RUN``) or a Python argument.

    Raises:
        ModelError: Missing, a file, a folder that was never a run, or an incomplete run.
    """
    path = Path(path)
    give = f"pass {option} with a run directory" if option else "pass a run directory"
    if not path.exists():
        raise ModelError(f"{'model ' if option else ''}{path} not found; {give} written by genretag train")
    if not path.is_dir():
        if option:
            raise ModelError(f"model {path} is not a directory; {give}")
        raise ModelError(f"{path} is a file, not a run directory; {give} written by genretag train")
    missing = [name for name in required_files(path) if not (path / name).is_file()]
    if missing:
        if path.name.startswith(".") and path.name.endswith(".partial"):
            raise ModelError(
                f"{path} is an unfinished training, not a run; finish it with genretag train --resume "
                f"--out {path.with_name(path.name[1:-len('.partial')])}"
            )
        if not any((path / name).exists() for name in RUN_FILES):
            raise ModelError(f"{path} is not a genretag run (no {CONFIG_FILE} or {META_FILE}); {give} written by "
                             "genretag train")
        if _is_export(path):
            raise ModelError(f"{path} is a genretag export (for transformers and peft), not a run; {give}: the run "
                             "it was exported from")
        raise ModelError(f"{path} is not a complete genretag run (missing {', '.join(missing)}); train it again")
    return path


def _is_export(path: Path) -> bool:
    """A folder `genretag export` wrote: its head file, or a config of model type "genretag"."""
    if (path / "genretag_head.json").is_file():
        return True
    try:
        return json.loads((path / CONFIG_FILE).read_text(encoding="utf-8")).get("model_type") == "genretag"
    except (OSError, ValueError, AttributeError):
        return False


def member_paths(path: Path) -> list[Path]:
    """The member folders an ensemble directory lists, checked to lie inside it."""
    spec = read_json(path / ENSEMBLE_FILE)
    if not isinstance(spec, dict) or spec.get("format") != ENSEMBLE_FORMAT:
        raise ModelError(f"{path / ENSEMBLE_FILE} is not an ensemble this genretag reads (format "
                         f"{spec.get('format') if isinstance(spec, dict) else '?'}, expected {ENSEMBLE_FORMAT})")
    names = spec.get("members")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ModelError(f"{path / ENSEMBLE_FILE} must list its members")
    root = path.resolve()
    out = []
    for name in names:
        member = (path / name).resolve()
        if root not in member.parents:  # a run directory may come from anyone: stay inside it
            raise ModelError(f"{path / ENSEMBLE_FILE} names a member outside the ensemble ({name})")
        out.append(member)
    return out


#: Files that describe how a run was made but do not change its predictions.
DESCRIPTIVE_FILES = frozenset({HISTORY_FILE, METRICS_FILE, SPLIT_FILE, "README.md"})


def fingerprint(path: str | Path) -> str:
    """sha256 over every file of a run that decides its predictions, members and blend included.

    Everything under the run directory counts except `DESCRIPTIVE_FILES` (at any depth) and
    hidden files, so a new kind of run file is covered without a change here.

    Returns:
        64 hex digits.
    """
    import hashlib

    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root)
        if file.name in DESCRIPTIVE_FILES or any(part.startswith(".") for part in rel.parts):
            continue
        digest.update(rel.as_posix().encode() + b"\0")
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


_warned_incomplete: set[tuple[str, str]] = set()


def newest_run(runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path | None:
    """The most recently finished complete run under ``runs_dir`` (searched recursively, 2 levels).

    Runs are ordered by the ``finished`` time in their meta.json, so copying or touching
    folders does not change which one is newest. A folder holding some run files but not
    all (a copy cut short, a deleted file) is skipped with a warning naming it: else the
    bundled model would be used without a word.
    """
    root = Path(runs_dir)
    if not root.is_dir():
        return None
    best, best_key = None, None
    folders = [p for p in root.glob("*") if p.is_dir()] + [p for p in root.glob("*/*") if p.is_dir()]
    incomplete = []
    candidates = []
    for run in folders:
        if run.name.startswith(".") or any(part.startswith(".") for part in run.relative_to(root).parts):
            continue  # an unfinished training (.NAME.partial) or a hidden folder
        missing = [f for f in required_files(run) if not (run / f).is_file()]
        if not missing:
            candidates.append(run)
        elif any((run / f).is_file() for f in (CONFIG_FILE, META_FILE)):
            # meta.json is written last: without it the run never finished; else name what is gone.
            incomplete.append(f"{run} is not a complete run (no {META_FILE if META_FILE in missing else ', '.join(missing)})")
    message = "; ".join(sorted(incomplete))
    key = (str(root.resolve()), message)
    if message and key not in _warned_incomplete:  # once, though a command may look twice
        _warned_incomplete.add(key)
        logger.warning("%s; skipped", message)
    for run in candidates:
        try:
            finished = json.loads((run / META_FILE).read_text(encoding="utf-8")).get("finished", "")
        except (OSError, json.JSONDecodeError):
            continue
        key = (str(finished), os.path.getmtime(run / META_FILE))
        if best_key is None or key > best_key:
            best, best_key = run, key
    return best


def bundled_model() -> Path | None:
    """The default model shipped inside the package, when there is one."""
    path = Path(__file__).resolve().parent / "default_model"
    return path if (path / META_FILE).is_file() else None


def check_backbone_override(backbone: str | None) -> None:
    """Refuse an empty ``--backbone`` ("" or spaces), which read as "the run's own" without a word.

    Raises:
        DataError: ``backbone`` is given but names nothing.
    """
    if backbone is not None and not str(backbone).strip():
        raise DataError("--backbone must name a model (a preset, a Hugging Face id or a folder); leave it out to "
                        "load the run's own backbone")


def resolve_model(model: str | Path | None, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    """The run to use: ``model`` if given, else the newest under ``./runs``, else the bundled one."""
    if model:
        return Path(model)
    found = newest_run(runs_dir) or bundled_model()
    if found is None:
        raise ModelError(f"no trained model found under ./{runs_dir}; train one with 'genretag train' or pass --model RUN")
    return found


def locate_data(run_dir: str | Path, split: dict) -> Path | None:
    """The data file a run's ``split.json`` names, where it is on this machine; None when not found.

    An absolute ``data`` path (runs written before genretag stored names only) is used as it
    is; else the path relative to the run (``data_relative``). A run copied elsewhere on its
    own loses its data this way and needs ``--data``. The caller checks the fingerprint.
    The path comes back without ``..`` steps (``runs/x/../../data/movies.csv`` →
    ``data/movies.csv``), as messages show it.
    """
    data = split.get("data")
    if data and Path(data).is_absolute():
        found = Path(data)
    elif split.get("data_relative"):
        found = Path(run_dir) / split["data_relative"]
    else:
        return None
    return _tidy(found) if found.is_file() else None


def data_reference(data: str | Path, fingerprint: str, run_dir: str | Path) -> dict:
    """How a run names its data in ``split.json``, never by a path of the machine that wrote it.

    Returns:
        ``{"data": file name, "fingerprint": sha256 of the file, "data_relative": its path
        relative to ``run_dir``}``; the relative path finds the file again while run and
        data stay where they are relative to each other (a project folder moved whole).
        ``run_dir`` may be the run's partial folder: it sits beside the final one.
    """
    data = Path(data).resolve()
    return {"data": data.name, "fingerprint": fingerprint,
            "data_relative": Path(os.path.relpath(data, Path(run_dir).resolve())).as_posix()}


def relocate_data_reference(split: dict, source_dir: str | Path, target_dir: str | Path) -> dict:
    """``split`` of the run in ``source_dir`` as a run in ``target_dir`` names its data."""
    split = dict(split)
    found = locate_data(source_dir, split)
    if found is not None:
        split.update(data_reference(found, split.get("fingerprint"), target_dir))
    else:
        split.pop("data_relative", None)
    if split.get("data"):
        split["data"] = Path(split["data"]).name
    return split


def _tidy(path: Path) -> Path:
    """``path`` without ``.`` and ``..`` steps. Only where that is the same file: after a
    symbolic link ``..`` leaves the link's target, so the fully resolved path is used instead."""
    tidy = Path(os.path.normpath(path))
    try:
        return tidy if tidy.is_file() and os.path.samefile(tidy, path) else path.resolve()
    except OSError:
        return path


def own_data_file(run_dir: str | Path, split: dict | None = None) -> Path:
    """The file a run was trained on, found on this machine (`locate_data`), for ``evaluate``
    with no ``--data``. Torch-free, so the CLI can check it before loading the model.
    ``split``: the run's ``split.json``, when the caller has read it.

    Raises:
        DataError: The run has no saved split, or its data file is not where it recorded it.
    """
    run_dir = Path(run_dir)
    if split is None and (run_dir / SPLIT_FILE).is_file():
        split = read_json(run_dir / SPLIT_FILE)
    if not isinstance(split, dict) or not split.get("data"):
        raise DataError(f"{run_dir} has no saved split ({SPLIT_FILE}); pass --data CSV with labelled movies")
    found = locate_data(run_dir, split)
    if found is None:
        raise DataError(f"the run's data file {Path(split['data']).name} is not on this machine where the run "
                        f"recorded it; pass --data PATH to it (or any CSV to evaluate on)")
    return found
