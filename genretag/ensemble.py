"""Ensembles: runs trained on the same split, their probabilities averaged.

Models that differ only in their initialisation (``train --init-seed``) or their length of
training make different mistakes, so the mean of their probabilities is better than each
one. An ensemble is a run directory, so ``tag``, ``evaluate`` and ``info`` take it as
they take any run::

    ensemble.json      {"format": 1, "combine": "mean probability", "members": ["members/1", ...]}
    members/<k>/       each member's run directory, as trained, less its own TF-IDF blend
    config.json        the first member's settings (its decision rule is the ensemble's)
    labels.json        the members' genres (all members have the same)
    thresholds.json    thresholds tuned on validation for the averaged probabilities
    split.json         the members' shared split
    metrics.json       validation scores of the ensemble, and of each member alone
    meta.json          versions, times, the members' backbone
    blend.*            optional TF-IDF blend, its weight chosen on validation for the ensemble

The members' own TF-IDF blends and thresholds are not used: the ensemble fits its own on
the validation split, the way ``train`` does for one model. Each member runs its own
backbone pass, so tagging costs grow with the number of members.
"""

from __future__ import annotations

import copy
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import runs as runs_mod
from .modeling import EnsembleTagger  # noqa: F401 - where the ensemble model was defined before
from .rundir import BLEND_FILE, BLEND_WEIGHTS_FILE, ENSEMBLE_FORMAT, MEMBERS_DIR, dump_json, member_paths
from .errors import DataError, ModelError



@dataclass
class EnsembleResult:
    """What `build_ensemble` wrote."""

    path: Path
    metrics: dict
    members: list[dict]


def _flatten(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        p = runs_mod.check_run_dir(p)
        out.extend(member_paths(p) if runs_mod.is_ensemble(p) else [p])
    return out


def _shown(value) -> str:
    if value is None:
        return "detected"
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _same_split(a: dict, b: dict) -> bool:
    keys = ("fingerprint", "train", "validation", "test")
    return all(a.get(k) == b.get(k) for k in keys)


def _weights_digest(path: Path) -> str:
    """sha256 of a run's head and adapter weights (an ensemble's own members' for an ensemble)."""
    import hashlib

    from .rundir import ADAPTER_WEIGHTS, HEAD_FILE

    digest = hashlib.sha256()
    for name in (HEAD_FILE, ADAPTER_WEIGHTS):
        file = Path(path) / name
        if file.is_file():
            digest.update(file.read_bytes())
        else:
            digest.update(str(Path(path).resolve()).encode())  # no such file (an ensemble): unique per folder
    return digest.hexdigest()


def load_checked(run_paths: list[str | Path], *, kind: str, device: str | None = None, backbone: str | None = None,
                 same_length: bool = True, data: str | Path | None = None) -> tuple[list, list]:
    """Load the runs an ensemble or a soup is made of, refusing any that cannot be combined.

    Args:
        run_paths: Run directories (an ensemble given here contributes its members).
        kind: "ensemble" or "soup", for the messages.
        device, backbone: As `genretag.runs.load_run` takes them.
        same_length: Refuse runs of another ``--max-length`` (an ensemble reads each text once;
            a soup's weights do not depend on it).
        data: Where the runs' training data is now, when it moved since they were trained.

    Returns:
        ``(runs, their genre vocabularies)``, in the order given.

    Raises:
        ModelError: Fewer than two different runs, a run listed twice or copied, runs that
            differ in genres, input, split, backbone or genre vocabulary.
    """
    one = {"ensemble": "an ensemble", "soup": "a soup"}[kind]
    paths = _flatten([Path(p) for p in run_paths])
    if len(set(paths)) < 2:
        raise ModelError(f"{one} needs at least two different runs")
    if len(set(paths)) != len(paths):
        raise ModelError("a run is listed twice; give each member once")
    seen: dict[str, Path] = {}
    for path in paths:  # a copied folder (or the same seed again) is the same model
        weights = _weights_digest(path)
        if weights in seen:
            raise ModelError(f"{path} and {seen[weights]} hold the same weights (a copy of one run?); {one} "
                             "needs runs trained apart (e.g. another --init-seed)")
        seen[weights] = path
    members = [runs_mod.load_run(p, device=device, backbone=backbone) for p in paths]
    first = members[0]
    split = first.split()
    options = [("--text-col", lambda r: runs_mod.input_columns(r, data))] + ([("--max-length", lambda r: r.config.max_length)]
                                                          if same_length else [])
    for run in members[1:]:
        if run.labels != first.labels:
            raise ModelError(f"{run.path} has other genres than {first.path}; {kind} members must share them")
        # One input for every member: the combination reads each text as its first member does.
        for option, read in options:
            mine, theirs = read(run), read(first)
            if mine != theirs and None not in (mine, theirs):  # None: detected, its data not at hand (--data)
                raise ModelError(f"{run.path} reads another input than {first.path} ({option} {_shown(mine)} against "
                                 f"{_shown(theirs)}); {kind} members must read the same text: train them with the "
                                 f"same {option}")
        if not _same_split(run.split(), split):
            raise ModelError(f"{run.path} was trained on another split than {first.path}; train members with the same "
                             "--data, --sample and --seed (vary --init-seed)")
        if not runs_mod.same_backbone(run, first):
            raise ModelError(f"{run.path} uses backbone {run.config.backbone} but {first.path} {first.config.backbone}; "
                             f"{kind} members must share their backbone")
    if same_length:
        runs_mod.check_compatible(members)
    from .vocabulary import load_run_vocabulary

    # The split's rows were read with the members' genre vocabulary; the combination reads them as the first did.
    # A vocabulary of another genretag version (more aliases) may still read them the same: the targets decide.
    vocabularies = [load_run_vocabulary(run.path) for run in members]
    for run, vocabulary in zip(members[1:], vocabularies[1:]):
        if vocabulary != vocabularies[0] and not _same_targets(first, run, data):
            raise ModelError(f"{run.path} was trained with another genre vocabulary than {first.path}; train members "
                             "with the same --genre-map")
    return members, vocabularies


def tuning_rows(first, data, kind: str) -> tuple[tuple[list[str], np.ndarray], tuple[list[str], np.ndarray]]:
    """The training and validation ``(texts, 0/1 targets)`` of the runs an ensemble or a soup combines
    (their first's split): the blend is fitted on the first, the thresholds tuned on the second.

    Raises:
        DataError: The runs' data cannot be read (not here, changed), or their split has no validation rows.
    """
    from .evaluation import run_split_rows

    rows = run_split_rows(first, None, data)
    if isinstance(rows, str):
        raise DataError(f"cannot build the {kind}: {rows}")
    if not rows["validation"][0]:
        raise DataError(f"the runs have no validation rows to tune the {kind} on")
    return rows["train"], rows["validation"]


def _same_targets(first, run, data=None) -> bool:
    """True when two runs read the same genres for every row of their (shared) train and validation split."""
    from .evaluation import run_split_rows

    mine, theirs = run_split_rows(first, None, data), run_split_rows(run, None, data)
    if isinstance(mine, str) or isinstance(theirs, str):
        return False
    return all(np.array_equal(mine[part][1], theirs[part][1]) for part in ("train", "validation"))


def build_ensemble(run_paths: list[str | Path], out: str | Path, *, force: bool = False, blend: bool | None = None,
                   device: str | None = None, backbone: str | None = None,
                   data: str | Path | None = None) -> EnsembleResult:
    """Combine trained runs into an ensemble run directory.

    Args:
        run_paths: Run directories trained on the same data and split (ensembles given
            here contribute their members).
        out: The ensemble directory to write.
        force: Replace an existing ``out``.
        blend: Fit a TF-IDF blend (weight chosen on validation); default: when the first
            member was trained with one.
        device: Where to predict (default: CUDA when present).
        backbone: Where the members' backbone is now, when its folder moved since they
            were trained (checked as `tag --backbone` checks it).
        data: Where the members' training data is now, when it moved (checked by its fingerprint).

    Raises:
        ModelError: Fewer than two runs, or runs that differ in genres, split or backbone.
        DataError: The training data of the runs is not on this machine or has changed.
    """
    from .batching import encode
    from .decision import DecisionRule
    from .device import default_batch_size
    from .tfidf import fit_blend
    from .metrics import summary_scores
    from .outputs import atomic_path, ensure_new, refuse_run_files
    from .predict import predict_logits, sigmoid
    from .training import choose_rule
    from .vocabulary import RUN_VOCABULARY_FILE

    refuse_run_files(out)
    out = ensure_new(out, force, directory=True, inputs=run_paths)  # before the work, not only after it
    t0 = time.perf_counter()
    members, vocabularies = load_checked(run_paths, kind="ensemble", device=device, backbone=backbone, data=data)
    first = members[0]
    split = first.split()

    (train_texts, y_train), (val_texts, y_val) = tuning_rows(first, data, "ensemble")
    val_ids = encode(first.tokenizer, val_texts, first.config.max_length)
    member_probs = [sigmoid(predict_logits(run.model, val_ids, first.pad_id, batch_size=default_batch_size(
        run.config.eval_batch_size, run.config.max_length, next(run.model.parameters()).device))) for run in members]
    probs = np.mean(member_probs, axis=0)

    config = copy.copy(first.config)
    config.blend_tfidf = config.blend_tfidf if blend is None else blend

    blend_model = None
    at_half = DecisionRule.fixed(0.5, len(first.labels))
    lm_at_half = summary_scores(y_val, at_half.apply(probs))
    if config.blend_tfidf:
        blend_model, rule = fit_blend(train_texts, y_train, val_texts, y_val, probs,
                                      lambda p: choose_rule(p, y_val, config))
        if blend_model is not None:
            probs = blend_model.mix(probs, val_texts)
    else:
        _, rule = choose_rule(probs, y_val, config)
    metrics = {"split": "validation", "rows": len(val_texts), "thresholds": config.thresholds,
               **summary_scores(y_val, rule.apply(probs)),
               "at_0.5": summary_scores(y_val, at_half.apply(probs)),
               "blend_weight": blend_model.weight if blend_model else 0.0, "members_at_0.5": lm_at_half}
    member_info = []
    for k, run in enumerate(members, 1):
        own = runs_mod.read_json(run.path / runs_mod.METRICS_FILE)
        member_info.append({"member": f"{MEMBERS_DIR}/{k}", "source": str(run.path), "init_seed": run.config.training_seed,
                            "epochs": run.config.epochs, "val_micro_f1": own.get("micro_f1"),
                            "val_macro_f1": own.get("macro_f1")})
    metrics["members"] = member_info

    with atomic_path(out, force=force, directory=True, inputs=[run.path for run in members]) as tmp:
        _dump = dump_json
        names = []
        for k, run in enumerate(members, 1):
            name = f"{MEMBERS_DIR}/{k}"
            # The members' own blends are not used (the ensemble fits one), so they are not copied.
            shutil.copytree(run.path, tmp / name, ignore=shutil.ignore_patterns(".*", BLEND_FILE, BLEND_WEIGHTS_FILE))
            # Each copy names its data relative to where it now is, and its backbone where it now is.
            _dump(tmp / name / runs_mod.SPLIT_FILE, runs_mod.relocate_data_reference(run.split(), run.path, tmp / name))
            if backbone:
                _dump(tmp / name / runs_mod.CONFIG_FILE, {**runs_mod.read_json(run.path / runs_mod.CONFIG_FILE),
                                                          "backbone": run.config.backbone})
            names.append(name)
        _dump(tmp / runs_mod.ENSEMBLE_FILE, {"format": ENSEMBLE_FORMAT, "combine": "mean probability", "members": names})
        _dump(tmp / runs_mod.CONFIG_FILE, runs_mod.portable_config(config))
        _dump(tmp / runs_mod.LABELS_FILE, list(first.labels))
        rule.save(tmp, first.labels)  # its at-least-one and max-genres are the config's, written above
        _dump(tmp / runs_mod.SPLIT_FILE, runs_mod.relocate_data_reference(split, first.path, tmp))
        _dump(tmp / runs_mod.METRICS_FILE, metrics)
        _dump(tmp / runs_mod.META_FILE, {
            "format": runs_mod.RUN_FORMAT, "versions": runs_mod.library_versions(),
            "backbone_signature": first.meta.get("backbone_signature"), "pooling": first.meta.get("pooling"),
            "name": Path(out).name, "ensemble": len(members),
            "finished": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "seconds": round(time.perf_counter() - t0, 2), "device": str(next(first.model.parameters()).device),
            "data_fingerprint": split.get("fingerprint"),
        })
        if blend_model is not None:
            blend_model.save(tmp)
        if vocabularies[0] is not None:
            shutil.copyfile(first.path / RUN_VOCABULARY_FILE, tmp / RUN_VOCABULARY_FILE)
    return EnsembleResult(path=Path(out), metrics=metrics, members=member_info)

