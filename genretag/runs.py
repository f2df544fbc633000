"""Runs: loading a trained run directory (`load_run`) and what it predicts (`Run`).

What a run directory holds, and every file name in it, is `genretag.rundir`'s; this module
loads the model those files describe (ensembles too: ``ensemble.json`` and ``members/<k>/``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .config import TrainConfig
from .decision import DecisionRule, finite_scores
from .errors import GenretagError, ModelError, first_line
from .tfidf import load_blend
from .rundir import (  # noqa: F401 - the file names are part of runs' interface
    CONFIG_FILE, LABELS_FILE, THRESHOLDS_FILE, ADAPTER_DIR, HEAD_FILE, SPLIT_FILE, HISTORY_FILE, METRICS_FILE,
    META_FILE, ADAPTER_WEIGHTS, REQUIRED_FILES, ENSEMBLE_FILE, ENSEMBLE_REQUIRED_FILES, RUN_FORMAT,
    DEFAULT_RUNS_DIR, MEMBERS_DIR, ENSEMBLE_FORMAT, check_run_dir, dump_json, is_ensemble, member_paths,
    read_json, read_config, required_files, newest_run, bundled_model, resolve_model, locate_data,
    data_reference, relocate_data_reference, check_backbone_override,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Run:
    """A trained model loaded from its run directory, ready to predict.

    Immutable: how to predict (arithmetic, rows per batch, another decision rule) is
    chosen per call, e.g. ``run.predict_proba(texts, precision="auto", batch_size=128)``.
    """

    path: Path
    config: TrainConfig
    labels: list[str]
    rule: DecisionRule
    """How probabilities become genres: thresholds per genre, at-least-one, max genres."""
    model: torch.nn.Module
    tokenizer: object
    meta: dict = field(default_factory=dict)
    blend: object | None = None  # tfidf.TfidfBlend when the run blends with TF-IDF
    # One Predictor per precision asked for: it keeps the arithmetic its parity check chose.
    _predictors: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def pad_id(self) -> int:
        """Token id used for padding."""
        return self.tokenizer.pad_token_id

    def predictor(self, precision: str = "fp32"):
        """The `genretag.predict.Predictor` of this run for ``precision``.

        The same one for every call with that precision, so an ``auto`` parity check runs
        once and its choice (``predictor(...).choice``) is kept.

        Raises:
            ValueError: An unknown ``precision``.
        """
        from .predict import Predictor

        if precision not in self._predictors:
            self._predictors[precision] = Predictor(self.model, self.pad_id, precision=precision,
                                                    decide_fn=self.rule.apply, unsure_fn=self._unsure_fn(self.rule))
        return self._predictors[precision]

    def _unsure_fn(self, rule: DecisionRule):
        """Which rows' decisions a probability error below a margin could change (for bf16+fp32)."""
        # The blend moves a language-model error of e by (1 - weight) * e.
        scale = 1.0 - self.blend.weight if self.blend is not None else 1.0
        return lambda probs, margin: rule.unsure(probs, margin * scale)

    def predict_proba(self, texts, *, precision: str = "fp32", batch_size: int | None = None, on_batch=None,
                      rule: DecisionRule | None = None) -> np.ndarray:
        """Probabilities ``[rows, genres]`` for raw synopses, in input order.

        Args:
            texts: Synopses.
            precision: ``fp32`` (exact, the default), ``bf16``, ``int8`` (CPU), or ``auto``
                (a faster arithmetic after a parity check with fp32; see `genretag.predict.Predictor`).
            batch_size: Rows per forward pass (default: the run's ``eval_batch_size``, raised
                on a GPU, `genretag.device.default_batch_size`).
            on_batch: Called with the number of rows done after each batch.
            rule: The decision rule the caller will apply when it is not the run's own
                (e.g. ``run.rule.with_overrides(threshold=0.3)``), so that bf16+fp32
                prediction protects the right decision boundaries.

        Raises:
            ValueError: An unknown ``precision``.
        """
        from .batching import encode
        from .device import default_batch_size
        from .predict import sigmoid

        predictor = self.predictor(precision)
        texts = list(texts)
        encoded = encode(self.tokenizer, texts, self.config.max_length)
        tfidf = self.blend.predict_proba(texts) if self.blend is not None and texts else None
        finish = (lambda probs, rows: self.blend.combine(probs, tfidf[rows])) if tfidf is not None else None
        size = batch_size or default_batch_size(self.config.eval_batch_size, self.config.max_length, predictor.device)
        logits = predictor.logits(encoded, batch_size=size, on_batch=on_batch, finish=finish,
                                  unsure_fn=self._unsure_fn(rule) if rule is not None else None)
        probs = sigmoid(logits)
        if tfidf is not None:
            probs = self.blend.combine(probs, tfidf)
        return finite_scores(probs, self.path)

    def predict(self, texts, *, precision: str = "fp32", batch_size: int | None = None) -> list[list[str]]:
        """The genres of each synopsis, by the run's own decision rule (as ``genretag tag``).

        Args:
            texts: Synopses (a list of strings; an empty one gets no genre).
            precision: As `predict_proba`.
            batch_size: Rows per forward pass (default: the run's own).

        Returns:
            One list of genre names per synopsis, in the run's genre order.
        """
        texts = ["" if t is None else str(t) for t in texts]
        has_text = np.array([bool(t.strip()) for t in texts], dtype=bool)
        chosen = np.zeros((len(texts), len(self.labels)), dtype=np.int8)
        if has_text.any():
            probs = self.predict_proba([t for t, ok in zip(texts, has_text) if ok], precision=precision,
                                       batch_size=batch_size)
            chosen[has_text] = self.rule.apply(probs)
        return [[self.labels[j] for j in np.flatnonzero(row)] for row in chosen]

    def split(self) -> dict:
        """The saved split (``fingerprint``, ``data``, and row ids per part)."""
        return read_json(self.path / SPLIT_FILE)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a run's numbers."""
    import peft
    import sklearn
    import transformers

    return {
        "genretag": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


def save_run(
    path: Path,
    *,
    config: TrainConfig,
    labels: list[str],
    rule: DecisionRule,
    model,
    split: dict,
    history: list[dict],
    metrics: dict,
    meta: dict,
) -> None:
    """Write every file of a run directory into ``path`` (a fresh folder)."""
    from safetensors.torch import save_file

    from .modeling import backbone_settings, backbone_signature

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.backbone.save_pretrained(str(path / ADAPTER_DIR))
    head = {k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()}
    save_file(head, str(path / HEAD_FILE))
    dump_json(path / CONFIG_FILE, portable_config(config))
    dump_json(path / LABELS_FILE, list(labels))
    rule.save(path, labels)  # its at-least-one and max-genres are the config's
    dump_json(path / SPLIT_FILE, split)
    dump_json(path / METRICS_FILE, metrics)
    with open(path / HISTORY_FILE, "w", encoding="utf-8") as fh:
        for record in history:
            fh.write(json.dumps(record) + "\n")
    full_meta = {
        "format": RUN_FORMAT,
        "versions": library_versions(),
        "backbone_signature": backbone_signature(model),
        "backbone_settings": backbone_settings(model.backbone.config),
        "backbone_fingerprint": getattr(model, "weights_fingerprint", None),
        "tokenizer_fingerprint": getattr(model, "tokenizer_fingerprint", None),
        "tokenizer_probe": getattr(model, "tokenizer_probe", None),
        "pooling": model.pooling,
        **meta,
    }
    dump_json(path / META_FILE, full_meta)


def portable_config(config: TrainConfig) -> dict:
    """``config.to_dict()`` with the data named by its file name (``split.json`` says where it is)."""
    values = config.to_dict()
    if values.get("data"):
        values["data"] = Path(values["data"]).name
    return values


def load_run(
    path: str | Path,
    *,
    backbone: str | None = None,
    device: str | torch.device | None = None,
    trust_remote_code: bool = False,
    merge: bool = True,
    force_backbone: bool = False,
) -> Run:
    """Load a trained run: config, labels, thresholds, backbone + LoRA + head.

    Only JSON and safetensors files are read from the run directory.

    Args:
        path: The run directory.
        backbone: Load this backbone instead of the one in the config (a moved local folder).
        device: Where to put the model (default: CUDA when present, else CPU).
        trust_remote_code: Allow a run trained with ``trust_remote_code`` to run its
            backbone's own code; a run directory alone cannot switch it on.
        merge: Fold the LoRA matrices into the backbone's weights (W + BA): the same
            function with fewer operations, 20-40% faster to predict on a CPU; logits move
            by about 1e-5 in fp32. ``False`` keeps the peft model (to export or train on).
        force_backbone: Load a backbone whose weights differ from the ones the run was
            trained on (same architecture, e.g. another fine-tune), with a warning.

    Returns:
        A `Run` in eval mode. A ``max_length`` above what the backbone takes is lowered to
        its limit, with a warning.

    Raises:
        ModelError: An incomplete, corrupt or incompatible run; a backbone other than the
            run's (another architecture, a moved folder, or other weights unless ``force_backbone``).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .device import pick_device
    from .modeling import backbone_signature, build_model, fit_max_length

    check_backbone_override(backbone)
    path = check_run_dir(path)
    meta = read_json(path / META_FILE)
    if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
        raise ModelError(
            f"{path} was written by an incompatible genretag (run format {meta.get('format') if isinstance(meta, dict) else '?'}, "
            f"this genretag reads {RUN_FORMAT}); retrain it with this version"
        )
    config = read_config(path)
    labels = read_json(path / LABELS_FILE)
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ModelError(f"{path / LABELS_FILE} must be a non-empty list of genre names")
    if is_ensemble(path):
        model, tokenizer = load_members(path, labels, backbone=backbone, device=device, trust_remote_code=trust_remote_code,
                                        merge=merge, force_backbone=force_backbone)
        config.max_length = fit_max_length(config.max_length, model.members[0].backbone.config, config.backbone,
                                           what=f"{path}'s max length")
        return Run(path=path, config=config, labels=labels, rule=DecisionRule.load(path, labels=labels, config=config),
                   model=model, tokenizer=tokenizer, meta=meta, blend=load_blend(path, len(labels)))
    try:
        head = load_file(str(path / HEAD_FILE))
    except (SafetensorError, OSError) as exc:
        raise ModelError(f"{path / HEAD_FILE} is corrupt ({exc}); train the run again") from None
    if head.get("weight") is None or head["weight"].shape[0] != len(labels):
        raise ModelError(
            f"{path} is inconsistent: the head has {tuple(head['weight'].shape)[0] if 'weight' in head else 0} outputs "
            f"but labels.json lists {len(labels)} genres"
        )
    rule = DecisionRule.load(path, labels=labels, config=config)
    if config.trust_remote_code and not trust_remote_code:
        raise ModelError(
            f"{path} was trained with trust_remote_code, so loading it runs code shipped with its backbone "
            f"({config.backbone}); pass --trust-remote-code if you trust that code"
        )
    source = backbone or config.backbone
    if not backbone and backbone_gone(source):
        raise ModelError(
            f"{path} was trained on the backbone folder {source}, which is not there any more; "
            "pass --backbone with its new location"
        )
    _check_backbone(path, meta, source, config.trust_remote_code, force_backbone)

    spec = config.model_spec(len(labels), backbone=backbone, pooling=meta.get("pooling"))
    try:
        model, tokenizer = build_model(spec, adapter_dir=path / ADAPTER_DIR, merge=merge)
    except ModelError:
        raise
    except (SafetensorError, RuntimeError, ValueError, OSError, KeyError) as exc:
        first = first_line(exc)
        raise ModelError(
            f"cannot load the adapter in {path / ADAPTER_DIR} ({first}); the run is corrupt, train it again"
        ) from None
    expected = meta.get("backbone_signature")
    if expected and expected != backbone_signature(model):
        raise ModelError(
            f"{path} was trained on a different backbone ({expected.get('model_type')}, hidden "
            f"{expected.get('hidden_size')}) than {spec.backbone}; pass --backbone with the one it was trained on"
        )
    _check_weights(path, meta.get("backbone_fingerprint"), model.weights_fingerprint, spec.backbone, force_backbone)
    _check_tokenizer(path, meta, tokenizer, spec.backbone, force_backbone)
    config.max_length = fit_max_length(config.max_length, model.backbone.config, spec.backbone,
                                       what=f"{path}'s max length")
    if backbone:  # where the backbone is now: what an ensemble or soup of this run writes down
        from .modeling import backbone_identity

        config.backbone = backbone_identity(backbone)
    try:
        model.head.load_state_dict(head)
    except RuntimeError as exc:
        raise ModelError(f"{path / HEAD_FILE} does not fit the backbone: {str(exc).splitlines()[0]}") from None
    model.to(pick_device(str(device) if device else None))
    model.eval()
    return Run(path=path, config=config, labels=labels, rule=rule, model=model, tokenizer=tokenizer, meta=meta,
               blend=load_blend(path, len(labels)))


def backbone_gone(name: str) -> bool:
    """True for a backbone named by a folder path (not a preset or hub id) that is not there any more."""
    looks_like_path = name.startswith(("/", "./", "../", "~")) or "\\" in name
    return looks_like_path and not Path(name).expanduser().exists()


def _check_backbone(path: Path, meta: dict, source: str, trust_remote_code: bool, force: bool) -> None:
    """Refuse a backbone other than the run's before peft fails on it with a cryptic message, and one
    whose config.json computes otherwise (`modeling.COMPUTE_KEYS`) from the same weights unless ``force``."""
    expected = meta.get("backbone_signature")
    if not expected:
        return
    from transformers import AutoConfig

    from .modeling import backbone_settings, check_reachable, resolve_backbone

    check_reachable(resolve_backbone(source))  # not minutes of the hub's retries when offline
    try:
        cfg = AutoConfig.from_pretrained(resolve_backbone(source), trust_remote_code=trust_remote_code)
    except Exception:  # noqa: BLE001 - build_model reports an unloadable backbone in its own words
        return
    found = {key: getattr(cfg, key, None) for key in expected}
    if found != expected:
        raise ModelError(
            f"{path} was trained on a different backbone ({expected.get('model_type')}, hidden size "
            f"{expected.get('hidden_size')}) than {source} ({found.get('model_type')}, hidden size "
            f"{found.get('hidden_size')}); pass --backbone with the one it was trained on"
        )
    # Runs from before settings were kept, and keys one side leaves unset (another transformers
    # version may name them otherwise), are not compared.
    settings = backbone_settings(cfg)
    kept = meta.get("backbone_settings") or {}
    differ = [f"{key} {settings[key]} (the run's: {value})" for key, value in kept.items()
              if key in settings and settings[key] != value]
    if not differ:
        return
    if force:
        logger.warning("backbone %s computes otherwise than the one %s was trained on (%s); its predictions will "
                       "differ (--force-backbone)", source, path, ", ".join(differ))
        return
    raise ModelError(
        f"backbone {source} computes otherwise than the one {path} was trained on: its config.json sets "
        f"{', '.join(differ)}, so every score would change; pass --backbone with the model it was trained on, "
        "or --force-backbone to use this one anyway"
    )


def _check_weights(path: Path, expected: str | None, found: str | None, backbone: str, force: bool) -> None:
    """Refuse a backbone of the right shapes but other weights: every score would move, silently."""
    if not expected or not found or expected.split(":", 1)[0] != found.split(":", 1)[0] or expected == found:
        return  # a run from before fingerprints, or another fingerprint method: nothing to compare
    if force:
        logger.warning("backbone %s has other weights than %s was trained on; its predictions will differ "
                       "(--force-backbone)", backbone, path)
        return
    raise ModelError(
        f"backbone {backbone} has the architecture {path} was trained on but other weights (another fine-tune, "
        "seed or revision), so every score would change; pass --backbone with the model it was trained on, "
        "or --force-backbone to use this one anyway"
    )


def _check_tokenizer(path: Path, meta: dict, tokenizer, backbone: str, force: bool) -> None:
    """Refuse a backbone whose tokenizer is not the one the run was trained with (its vocabulary,
    and, for runs that recorded it, the ids of `modeling.PROBE_TEXTS`: a copy that no longer
    lower-cases): the same weights read other token ids, and every score moves, silently."""
    from .modeling import tokenizer_fingerprint, tokenizer_probe

    checks = (("tokenizer_fingerprint", tokenizer_fingerprint), ("tokenizer_probe", tokenizer_probe))
    if all(not meta.get(key) or meta[key] == compute(tokenizer) for key, compute in checks):
        return
    if force:
        logger.warning("backbone %s has another tokenizer than %s was trained with; its predictions will differ "
                       "(--force-backbone)", backbone, path)
        return
    raise ModelError(f"backbone {backbone} has another tokenizer than {path} was trained with, so every score would "
                     "change; pass --backbone with the model and tokenizer it was trained on, or --force-backbone "
                     "to use this one anyway")


def load_members(path: Path, labels: list[str], *, backbone=None, device=None, trust_remote_code=False, merge=True,
                 force_backbone=False):
    """Load an ensemble's members: ``(EnsembleTagger, tokenizer)``."""
    from .modeling import EnsembleTagger

    members = []
    for member in member_paths(path):
        if is_ensemble(member):
            raise ModelError(f"{member} is itself an ensemble; an ensemble's members must be trained runs")
        run = load_run(member, backbone=backbone, device=device, trust_remote_code=trust_remote_code, merge=merge,
                                force_backbone=force_backbone)
        if run.labels != labels:
            raise ModelError(f"{member} has other genres than the ensemble {path}; build the ensemble again")
        members.append(run)
    check_compatible(members)
    from .vocabulary import load_run_vocabulary

    # The split's rows were read with the members' genre vocabulary; the ensemble reads them the same way.
    vocabularies = [load_run_vocabulary(run.path) for run in members]
    for run, vocabulary in zip(members[1:], vocabularies[1:]):
        if vocabulary != vocabularies[0]:
            raise ModelError(f"{run.path} was trained with another genre vocabulary than {members[0].path}; train members "
                             "with the same --genre-map")
    model = EnsembleTagger([run.model for run in members])
    model.eval()
    return model, members[0].tokenizer


def same_backbone(run, first) -> bool:
    """Two loaded runs on one backbone: the same weights (their recorded fingerprints), wherever its folder
    was when each trained; by the name they were trained with where a run records no fingerprint."""
    mine, theirs = run.meta.get("backbone_fingerprint"), first.meta.get("backbone_fingerprint")
    if mine and theirs:
        return mine == theirs
    return run.config.backbone == first.config.backbone


def check_compatible(members: list) -> None:
    """Refuse ensemble members that do not share backbone and max length (one tokenizer for all)."""
    first = members[0]
    for run in members[1:]:
        if not same_backbone(run, first) or run.config.max_length != first.config.max_length:
            raise ModelError(
                f"{run.path} uses backbone {run.config.backbone} (max length {run.config.max_length}) but {first.path} "
                f"{first.config.backbone} ({first.config.max_length}); ensemble members must share backbone and tokenizer"
            )


def input_columns(run, data: str | Path | None = None) -> tuple[str, ...] | None:
    """The columns a run's text is joined from: its ``--text-col`` resolved against the header
    of its data file (``title,overview`` typed as one value or two, or detected), or, where
    that file is not at hand, as typed and split at commas; None for "detected" without it."""
    from . import data as data_mod
    from . import formats

    typed = run.config.text_cols
    try:
        saved = read_json(run.path / SPLIT_FILE)
        data = locate_data(run.path, saved) or (Path(data) if data is not None and Path(data).is_file() else None)
        if data is not None:
            header = list(formats.sniff(data, data_mod.ReadOptions.of(run.config)).columns)
            return tuple(data_mod.detect_columns(header, text_cols=typed, genres_col=run.config.genres_col)[0])
    except (OSError, ValueError, GenretagError):
        pass
    if not typed:
        return None
    return tuple(c.strip() for value in typed for c in value.split(",") if c.strip())
