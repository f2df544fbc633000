"""Export a run for the Hugging Face ecosystem: a standalone model folder, or the adapter alone.

``export_run(run, out)`` writes a folder that transformers loads without genretag::

    config.json            model_type "genretag", id2label / label2id, problem_type
                           multi_label_classification, thresholds, pooling, backbone config
    model.safetensors      backbone with the LoRA merged in (backbone.*) + head (classifier.*)
    modeling_genretag.py   the model code (torch + transformers only), see genretag.hf_modeling
    tokenizer files        model_max_length = the run's max_length
    README.md              how to load it

No stock ``*ForSequenceClassification`` class computes what genretag's head computes
(see `genretag.hf_modeling`), so the folder carries its model code and loading needs
``trust_remote_code=True``; without it transformers refuses with an error instead of
silently building a different head.

``export_run(run, out, adapter_only=True)`` writes what peft loads onto the backbone::

    adapter_config.json, adapter_model.safetensors   PeftModel.from_pretrained(base, out)
    head.safetensors                                 the linear head (weight, bias)
    labels.json, thresholds.json, genretag_head.json pooling and decision rule
    README.md
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import __version__
from .errors import DataError, ModelError
from .outputs import atomic_path, ensure_new, refuse_run_files

logger = logging.getLogger(__name__)

MODELING_FILE = "modeling_genretag.py"
HEAD_CONFIG_FILE = "genretag_head.json"
AUTO_MAP = {
    "AutoConfig": "modeling_genretag.GenretagConfig",
    "AutoModelForSequenceClassification": "modeling_genretag.GenretagForSequenceClassification",
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class ExportSummary:
    """What `export_run` wrote."""

    output: Path
    kind: str  # "model" or "adapter"
    labels: list[str]
    files: list[str] = field(default_factory=list)
    bytes: int = 0


def export_run(
    run_path: str | Path,
    out: str | Path,
    *,
    adapter_only: bool = False,
    force: bool = False,
    backbone: str | None = None,
    dtype: str = "float32",
    force_backbone: bool = False,
) -> ExportSummary:
    """Export a run directory as a Hugging Face model folder (or its LoRA adapter alone).

    Args:
        run_path: The run directory written by ``genretag train``.
        out: Folder to write (created; must not exist unless ``force``).
        adapter_only: Write the peft adapter + head instead of a merged model.
        force: Replace an existing ``out``.
        backbone: Load this backbone instead of the run's own (a moved local folder).
        dtype: Weight dtype of the merged model: float32 (exact), bfloat16 or float16.
        force_backbone: Accept a backbone with other weights than the run's (see `load_run`).

    Returns:
        An `ExportSummary`.
    """
    from .runs import is_ensemble, load_run

    if dtype not in DTYPES:
        raise DataError(f"unknown dtype '{dtype}'; choose {', '.join(DTYPES)}")
    refuse_run_files(out)
    if Path(run_path).resolve() == Path(out).resolve():
        raise DataError(f"output {out} is the run directory itself; choose another folder")
    out = ensure_new(out, force, directory=True, inputs=[run_path])  # fail before loading a model
    if is_ensemble(run_path):
        raise ModelError(f"{run_path} is an ensemble of several models, which one Hugging Face model cannot hold; "
                         f"export one of its members ({Path(run_path) / 'members' / '1'})")
    # Merging rewrites the backbone's weights in place, so the run is loaded here, on the CPU.
    run = load_run(run_path, backbone=backbone, device="cpu", merge=False, force_backbone=force_backbone)
    if run.blend is not None:
        # A transformers model cannot hold the TF-IDF half, and exporting the language model
        # alone would silently change every probability; so it is refused, not degraded.
        raise ModelError(
            f"{run_path} blends the language model with TF-IDF (weight {run.blend.weight}), which a transformers "
            "folder cannot hold; export a run trained without --blend-tfidf"
        )
    with atomic_path(out, force=force, directory=True, inputs=[run.path]) as tmp:
        if adapter_only:
            _write_adapter(run, tmp)
        else:
            _write_model(run, tmp, DTYPES[dtype])
        files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    return ExportSummary(output=out, kind="adapter" if adapter_only else "model", labels=list(run.labels), files=files, bytes=size)


def build_hf_model(run, dtype: torch.dtype = torch.float32):
    """A `GenretagForSequenceClassification` holding the run's weights, LoRA merged in.

    The run's model is changed in place (its LoRA layers are merged away).
    """
    from .hf_modeling import GenretagConfig, GenretagForSequenceClassification

    tagger = run.model
    merged = tagger.backbone.merge_and_unload()
    labels = list(run.labels)
    backbone_config = merged.config.to_dict()
    # The backbone's own label fields are defaults (LABEL_0, LABEL_1) that would only confuse.
    for key in ("_name_or_path", "architectures", "transformers_version", "auto_map", "id2label", "label2id", "problem_type"):
        backbone_config.pop(key, None)
    config = GenretagConfig(
        backbone_config=backbone_config,
        pooling=tagger.pooling,
        decoder=bool(tagger.decoder),
        head_dropout=float(run.config.head_dropout),
        thresholds=_thresholds(run),
        at_least_one=run.rule.at_least_one,
        max_genres=run.rule.max_genres,
        max_text_tokens=int(run.config.max_length),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        problem_type="multi_label_classification",
        pad_token_id=run.tokenizer.pad_token_id,
        architectures=["GenretagForSequenceClassification"],
        auto_map=dict(AUTO_MAP),
        genretag_version=__version__,
        source_run=run.path.name,
    )
    model = GenretagForSequenceClassification(config)
    try:
        model.backbone.load_state_dict(merged.state_dict(), strict=True)
        model.classifier.load_state_dict(tagger.head.state_dict(), strict=True)
    except RuntimeError as exc:
        raise ModelError(f"cannot rebuild {merged.config.model_type} for export: {str(exc).splitlines()[0][:200]}") from None
    return model.to(dtype).eval()


def _write_model(run, folder: Path, dtype: torch.dtype) -> None:
    from . import hf_modeling

    model = build_hf_model(run, dtype)
    model.save_pretrained(str(folder))
    shutil.copyfile(hf_modeling.__file__, folder / MODELING_FILE)
    tokenizer = run.tokenizer
    # The pipeline then truncates as genretag does (with truncation=True).
    tokenizer.model_max_length = run.config.max_length
    tokenizer.save_pretrained(str(folder))
    (folder / "README.md").write_text(_model_card(run, dtype), encoding="utf-8")


def _write_adapter(run, folder: Path) -> None:
    from safetensors.torch import save_file

    from .runs import ADAPTER_DIR, THRESHOLDS_FILE

    for item in sorted((run.path / ADAPTER_DIR).iterdir()):
        if item.is_file():
            shutil.copyfile(item, folder / item.name)
    head = {k: v.detach().cpu().contiguous() for k, v in run.model.head.state_dict().items()}
    save_file(head, str(folder / "head.safetensors"))
    (folder / "labels.json").write_text(json.dumps(list(run.labels), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    thresholds = _thresholds(run)
    (folder / THRESHOLDS_FILE).write_text(json.dumps(thresholds, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    head_config = {
        "base_model": _base_model_name(run),
        "pooling": run.model.pooling,
        "decoder": bool(run.model.decoder),
        "max_length": int(run.config.max_length),
        "head_dropout": float(run.config.head_dropout),
        "at_least_one": run.rule.at_least_one,
        "max_genres": run.rule.max_genres,
        "genretag_version": __version__,
        "source_run": run.path.name,
    }
    (folder / HEAD_CONFIG_FILE).write_text(json.dumps(head_config, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(_adapter_card(run, head_config), encoding="utf-8")


def _thresholds(run) -> dict[str, float]:
    # Rounded: a threshold computed rather than read (0.4699999988) prints as the decimal it stands for.
    return {label: round(float(t), 6) for label, t in zip(run.labels, run.rule.thresholds)}


def _base_model_name(run) -> str:
    adapter_config = json.loads((run.path / "adapter" / "adapter_config.json").read_text(encoding="utf-8"))
    return adapter_config.get("base_model_name_or_path") or run.config.backbone


def _model_card(run, dtype: torch.dtype) -> str:
    exact = "" if dtype == torch.float32 else f"\nWeights are stored as {str(dtype).replace('torch.', '')}: probabilities differ slightly from the run's.\n"
    return f"""---
library_name: transformers
pipeline_tag: text-classification
tags: [genretag, multi-label, movie-genres]
---
# {run.path.name}

A multi-label movie-genre tagger exported by genretag {__version__} from run `{run.path.name}`
(backbone `{run.config.backbone}`, {run.model.pooling} pooling, LoRA merged). Genres:
{", ".join(run.labels)}.
{exact}
The model code ships in `modeling_genretag.py` (torch and transformers only), so loading
needs `trust_remote_code=True`:

```python
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

tagger = pipeline("text-classification", model="PATH", trust_remote_code=True,
                  top_k=None, function_to_apply="sigmoid")
scores = tagger(["A sheriff faces outlaws in a desert town."], truncation=True)

model = AutoModelForSequenceClassification.from_pretrained("PATH", trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained("PATH", trust_remote_code=True)
thresholds = model.config.thresholds  # genre -> tuned decision threshold
```

{_input_line(run)}
Pass `truncation=True`: genretag truncates synopses to {run.config.max_length} tokens.
{"Batches may be padded on either side." if run.model.decoder else "Pad batches on the right (the tokenizer does): the backbone has absolute positions."}
A genre is predicted when its probability reaches its threshold in `config.thresholds`.
genretag's rule adds two steps, also in the config: `at_least_one`
({run.rule.at_least_one}: a movie with no genre past its threshold gets its most
likely one) and `max_genres` ({run.rule.max_genres}: the most genres a movie keeps; null is no limit).
"""


def _input_line(run) -> str:
    """What text the model read in training, to be given the same at inference."""
    from .runs import input_columns

    cols = input_columns(run)
    if cols and len(cols) > 1:
        return (f"Input: the model was trained on the columns {', '.join(repr(c) for c in cols)} joined as one text "
                f"by \". \" (a space alone after a part that ends in punctuation), e.g. \"Alien. A crew aboard a "
                f"spaceship ...\": give it texts joined so.")
    return "Input: one synopsis per text."


def _adapter_card(run, head_config: dict) -> str:
    return f"""# {run.path.name} (LoRA adapter + head)

Exported by genretag {__version__}. Base model: `{head_config['base_model']}`.

```python
import json, torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

base = AutoModel.from_pretrained("{head_config['base_model']}")
model = PeftModel.from_pretrained(base, "PATH").eval()
head = load_file("PATH/head.safetensors")  # weight [genres, hidden], bias [genres]
labels = json.load(open("PATH/labels.json"))
```

Pool the last hidden states with `{head_config['pooling']}` pooling (`last`: the last real
token; `mean`: mean over real tokens; `cls`: the first token), then
`sigmoid(pooled @ head["weight"].T + head["bias"])` gives one probability per genre in
`labels.json` order; `thresholds.json` holds the decision thresholds. For decoder models
genretag passes `position_ids = attention_mask.cumsum(-1) - 1` (clamped at 0) and truncates
to {head_config['max_length']} tokens.
{_input_line(run)}
"""
