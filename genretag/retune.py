"""Choose a trained run's decision rule again on its validation split, without training it again.

A run's thresholds (and its TF-IDF blend weight) are tuned on validation when it is trained,
by the run's ``--thresholds`` mode. `retune_run` writes a copy of the run whose rule is tuned
again by another mode (``global`` where per-genre thresholds overfit a small validation split,
say), the weights unchanged: the language model and the TF-IDF model predict the validation
rows once, the blend weight and the thresholds are chosen together as ``train`` chooses them
(`genretag.tfidf.choose_weight`, `genretag.training.choose_rule`).

The copy holds every file of the run but a model card (``README.md``: it would describe the old
rule); ``config.json`` says the new mode, ``thresholds.json``
and ``blend.json`` the new rule and weight, ``metrics.json`` the validation scores of the new
rule and, under ``retuned``, those of the rule it replaced.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import DataError
from .rundir import (BLEND_FILE, BLEND_WEIGHTS_FILE, CONFIG_FILE, META_FILE, METRICS_FILE, SPLIT_FILE,
                     check_run_dir, data_reference, dump_json, read_config, read_json, relocate_data_reference)

logger = logging.getLogger(__name__)


@dataclass
class RetuneResult:
    """What `retune_run` wrote."""

    path: Path
    metrics: dict
    """The new rule's validation scores (``micro_f1``, ``macro_f1`` ...), ``blend_weight``, and
    ``retuned``: the mode, blend weight and validation scores of the rule it replaced."""


def retune_run(run_path: str | Path, out: str | Path, *, thresholds: str, threshold: float | None = None,
               force: bool = False, device: str | None = None, backbone: str | None = None,
               data: str | Path | None = None) -> RetuneResult:
    """Copy a run to ``out`` with its decision rule tuned again on its validation split.

    Args:
        run_path: A trained run (or ensemble) directory.
        out: The run directory to write.
        thresholds: The threshold mode: ``fixed``, ``global`` or ``per-genre``.
        threshold: The threshold of ``fixed`` (default: the run's own ``threshold``).
        force: Replace an existing ``out``.
        device: Where to predict (default: CUDA when present).
        backbone: Where the run's backbone is now, when its folder moved since it was trained.
        data: Where the run's training data is now, when it moved (checked by its fingerprint).

    Returns:
        A `RetuneResult`.

    Raises:
        ConfigError: An unknown mode or a threshold outside (0, 1).
        ModelError: A run that cannot be loaded.
        OutputExistsError: ``out`` exists and ``force`` is not given.
        DataError: ``out`` inside the run or in the bundled model; the run's training data is not on
            this machine or has changed, or its split has no validation rows.
    """
    from .decision import DecisionRule
    from .ensemble import tuning_rows
    from .metrics import summary_scores
    from .outputs import atomic_path, ensure_new, physical_path, refuse_run_files
    from .runs import library_versions, load_run
    from .tfidf import choose_weight
    from .training import choose_rule

    source = check_run_dir(run_path, option=None)
    refuse_run_files(out, "--out")
    where, folder = physical_path(out), physical_path(source)
    if where == folder or folder in where.parents:  # the copy would replace the run, or hold itself
        raise DataError(f"--out {out} is {'the run' if where == folder else 'inside the run'} {source}; "
                        "write the new run beside it")
    out = ensure_new(out, force, directory=True, inputs=[source])  # before the work, not only after it
    t0 = time.perf_counter()
    changes = {"thresholds": thresholds, **({"threshold": threshold} if threshold is not None else {})}
    dataclasses.replace(read_config(source), **changes)  # TrainConfig checks them before the load
    if threshold is not None and thresholds != "fixed":
        logger.warning("--threshold %g is not used: with --thresholds %s the thresholds are tuned on validation; "
                       "pass --thresholds fixed to use it", threshold, thresholds)
    run = load_run(run_path, device=device, backbone=backbone)
    config = dataclasses.replace(run.config, **changes)
    _, (val_texts, y_val) = tuning_rows(run, data, "retuned run")
    lm = dataclasses.replace(run, blend=None).predict_proba(val_texts)
    if run.blend is not None:
        tfidf = run.blend.predict_proba(val_texts)
        blend, rule = choose_weight(copy.copy(run.blend), tfidf, lm, lambda p: choose_rule(p, y_val, config))
        probs = blend.combine(lm, tfidf) if blend is not None else lm
        before = run.blend.combine(lm, tfidf)
    else:
        blend, rule = None, choose_rule(lm, y_val, config)[1]
        probs = before = lm
    at_half = DecisionRule.fixed(0.5, len(run.labels))
    old = read_json(source / METRICS_FILE)
    previous = {"thresholds": run.config.thresholds, "blend_weight": run.blend.weight if run.blend else 0.0,
                **summary_scores(y_val, run.rule.apply(before))}
    metrics = {**old, "rows": len(val_texts), "thresholds": config.thresholds,
               **summary_scores(y_val, rule.apply(probs)), "at_0.5": summary_scores(y_val, at_half.apply(probs)),
               "blend_weight": blend.weight if blend is not None else 0.0, "retuned": previous}
    # The language model alone at 0.5 (an ensemble's members' mean), as train and ensemble write it.
    for key in ("language_model_at_0.5", "members_at_0.5"):
        if key in old:
            metrics[key] = summary_scores(y_val, at_half.apply(lm))

    with atomic_path(out, force=force, directory=True, inputs=[source]) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".*", "README.md"))  # a model card would describe the old rule
        if (source / SPLIT_FILE).is_file():  # its data named from where the copy is (--data: checked above)
            split = relocate_data_reference(read_json(source / SPLIT_FILE), source, out)
            if data is not None:
                split.update(data_reference(data, split.get("fingerprint"), out))
            dump_json(tmp / SPLIT_FILE, split)
        dump_json(tmp / CONFIG_FILE, {**read_json(source / CONFIG_FILE), "thresholds": config.thresholds,
                                      "threshold": config.threshold})
        rule.save(tmp, list(run.labels))
        for name in (BLEND_FILE, BLEND_WEIGHTS_FILE):
            (tmp / name).unlink(missing_ok=True)
        if blend is not None:
            blend.save(tmp)
        dump_json(tmp / METRICS_FILE, metrics)
        meta = read_json(source / META_FILE)
        meta.update({"versions": library_versions(), "name": Path(out).name,
                     "retuned": {"from": source.name, "thresholds": config.thresholds,
                                 "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                 "seconds": round(time.perf_counter() - t0, 2)}})
        dump_json(tmp / META_FILE, meta)
    return RetuneResult(path=Path(out), metrics=metrics)
