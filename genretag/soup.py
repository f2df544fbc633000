"""Model soups: runs fine-tuned apart from one backbone, their weights averaged into one model.

Runs fine-tuned from the same backbone and initialisation on the same rows end close together
in weight space, so the mean of their weights is one model, often better than each and steadier
on data unlike the training rows (Wortsman et al., "Model soups: averaging weights of multiple
fine-tuned models improves accuracy without increasing inference time", ICML 2022). Unlike an
ensemble it costs one backbone pass. A soup is a plain run directory, so ``tag``,
``evaluate``, ``export`` and ``info`` take it as any run::

    adapter/           one plain LoRA adapter whose ``B A`` is the mean of the members' ``scale * B A``
                       (their matrices stacked: rank = the sum of theirs, scale 1; a layer a member
                       does not adapt counts as 0 for it); merged into the backbone to tag, as any run's
    head.safetensors   the mean of the members' heads
    thresholds.json    tuned on the members' shared validation split, as ``train`` does
    blend.*            the TF-IDF blend, its weight chosen on validation for the soup
    metrics.json       validation scores, and ``soup``: each member tried and whether it was kept
    config.json, split.json, vocabulary.json   the first member's (the best on validation)
    meta.json          the first member's, naming the soup's members

Recipes: ``greedy`` (the paper's): the members sorted by their own validation micro-F1, the soup
starts as the first and takes each next one when the soup with it scores at least the soup
without it (validation micro-F1, thresholds and blend tuned again for each); ``uniform``: every
member, equal weights.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import ModelError
from .rundir import (ADAPTER_DIR, BLEND_FILE, BLEND_WEIGHTS_FILE, CONFIG_FILE, HEAD_FILE, HISTORY_FILE, LABELS_FILE,
                     META_FILE, METRICS_FILE, SPLIT_FILE, THRESHOLDS_FILE, dump_json, read_json)

logger = logging.getLogger(__name__)

RECIPES = ("greedy", "uniform")


@dataclass
class SoupResult:
    """What `build_soup` wrote: its path, validation metrics and every member tried."""

    path: Path
    metrics: dict
    members: list[dict]


def check_plain_lora(path: Path) -> None:
    """Refuse a run a soup cannot take: an ensemble, or an adapter other than plain LoRA.

    Raises:
        ModelError: Saying which and why.
    """
    from .lora import can_merge
    from .rundir import is_ensemble

    if is_ensemble(path):
        raise ModelError(f"{path} is an ensemble (members trained apart, each from its own initialisation), not one run; "
                         "give a soup runs fine-tuned from one initialisation")
    if not can_merge(Path(path) / ADAPTER_DIR):
        raise ModelError(f"{path}'s adapter is not a plain LoRA adapter (DoRA, biases, per-layer ranks ...); a soup "
                         "averages plain LoRA adapters only")


def read_adapter(path: Path) -> tuple[dict, dict[str, tuple]]:
    """A run's LoRA adapter as ``(adapter config, {layer: (A [r, in], scale * B [out, r])})``, float32.

    Raises:
        ModelError: Not a plain LoRA adapter (DoRA, biases, per-layer ranks ...), or corrupt.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .lora import ADAPTER_CONFIG, ADAPTER_WEIGHTS

    check_plain_lora(path)
    folder = Path(path) / ADAPTER_DIR
    config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    scale = config.get("lora_alpha", 8) / (config["r"] ** 0.5 if config.get("use_rslora") else config["r"])
    try:
        weights = load_file(str(folder / ADAPTER_WEIGHTS))
    except (SafetensorError, OSError) as exc:
        raise ModelError(f"{folder / ADAPTER_WEIGHTS} is corrupt ({exc}); train the run again") from None
    layers = {}
    for key in weights:
        if key.endswith(".lora_A.weight"):
            layer = key[: -len(".lora_A.weight")]
            b = weights.get(f"{layer}.lora_B.weight")
            if b is None:
                raise ModelError(f"{folder / ADAPTER_WEIGHTS} has no lora_B for {layer}; train the run again")
            layers[layer] = (weights[key].to(torch.float32), b.to(torch.float32) * scale)
    return config, layers


def average_adapters(adapters: list[tuple[dict, dict[str, tuple]]]) -> tuple[dict, dict]:
    """One plain LoRA adapter whose ``B A`` is the mean of the given adapters' ``scale * B A``.

    Args:
        adapters: `read_adapter` results, one per member.

    Returns:
        ``(adapter_config.json contents, safetensors tensors)``: rank = the sum of the members'
        ranks, ``lora_alpha`` = rank (scale 1), target modules = the union of theirs.

    Raises:
        ModelError: A layer's shape differs between members (another backbone).
    """
    import torch

    n = len(adapters)
    layers = sorted({layer for _, own in adapters for layer in own})
    shapes = {}
    for _, own in adapters:
        for layer, (a, b) in own.items():
            shape = (b.shape[0], a.shape[1])
            if shapes.setdefault(layer, shape) != shape:
                raise ModelError(f"the members' adapters do not fit one backbone ({layer}: {shapes[layer]} and {shape})")
    rank = sum(config["r"] for config, _ in adapters)
    tensors = {}
    for layer in layers:
        out_features, in_features = shapes[layer]
        a_parts, b_parts = [], []
        for config, own in adapters:
            if layer in own:
                a, b = own[layer]
                a_parts.append(a)
                b_parts.append(b / n)
            else:
                a_parts.append(torch.zeros(config["r"], in_features))
                b_parts.append(torch.zeros(out_features, config["r"]))
        tensors[f"{layer}.lora_A.weight"] = torch.cat(a_parts, dim=0).contiguous()
        tensors[f"{layer}.lora_B.weight"] = torch.cat(b_parts, dim=1).contiguous()
    config = copy.deepcopy(adapters[0][0])
    targets = set()
    for own, _ in adapters:
        found = own.get("target_modules")
        targets.update([found] if isinstance(found, str) else (found or []))
    config.update({"r": rank, "lora_alpha": rank, "use_rslora": False, "target_modules": sorted(targets),
                   "rank_pattern": {}, "alpha_pattern": {}})
    return config, tensors


def average_heads(paths: list[Path]) -> dict:
    """The mean of the runs' head tensors (``weight [genres, hidden]``, ``bias [genres]``)."""
    from safetensors.torch import load_file

    heads = [load_file(str(Path(p) / HEAD_FILE)) for p in paths]
    return {key: sum(head[key].float() for head in heads) / len(heads) for key in heads[0]}


def write_soup_weights(target: Path, first: Path, members: list[Path]) -> None:
    """Write a soup run folder: the first member's run files, the members' averaged adapter and head.

    Its own thresholds, metrics and blend are not written here (they are the first member's
    until `build_soup` tunes them).
    """
    from safetensors.torch import save_file

    from .lora import ADAPTER_CONFIG, ADAPTER_WEIGHTS
    from .rundir import relocate_data_reference

    target.mkdir(parents=True, exist_ok=True)
    for item in Path(first).iterdir():
        if item.is_file() and item.name not in (HEAD_FILE, HISTORY_FILE, METRICS_FILE, BLEND_FILE, BLEND_WEIGHTS_FILE):
            shutil.copyfile(item, target / item.name)
    dump_json(target / SPLIT_FILE, relocate_data_reference(read_json(Path(first) / SPLIT_FILE), first, target))
    config, tensors = average_adapters([read_adapter(p) for p in members])
    (target / ADAPTER_DIR).mkdir(exist_ok=True)
    (target / ADAPTER_DIR / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_file(tensors, str(target / ADAPTER_DIR / ADAPTER_WEIGHTS))
    save_file({k: v.contiguous() for k, v in average_heads(members).items()}, str(target / HEAD_FILE))


def member_name(path: Path) -> str:
    """A member as the soup names it: its path from the working folder, else its folder name
    (never an absolute path of the machine that made it)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return Path(path).name


def build_soup(run_paths: list[str | Path], out: str | Path, *, recipe: str = "greedy", force: bool = False,
               blend: bool | None = None, device: str | None = None, backbone: str | None = None,
               data: str | Path | None = None, on_step=None) -> SoupResult:
    """Average the weights of runs fine-tuned from one backbone on one split into one run.

    Args:
        run_paths: Two or more run directories trained on the same data, split and genres from
            the same backbone (their settings may differ: learning rate, epochs, loss, LoRA rank
            and targets, max length).
        out: The soup run directory to write.
        recipe: ``greedy`` or ``uniform`` (see the module's docstring).
        force: Replace an existing ``out``.
        blend: Fit a TF-IDF blend (weight chosen on validation); default: when the first
            member was trained with one.
        device: Where to predict (default: CUDA when present).
        backbone: Where the members' backbone is now, when its folder moved since they were trained.
        data: Where the runs' training data is now, when it moved (checked by its fingerprint).
        on_step: Called with each member's record (`SoupResult.members`) once the greedy recipe tried it.

    Returns:
        A `SoupResult`; ``metrics`` holds the soup's validation scores (micro-F1 etc.).

    Raises:
        ModelError: Fewer than two runs; runs that differ in genres, input columns, split,
            backbone or genre vocabulary; an adapter that is not plain LoRA; an unknown recipe.
        DataError: The runs' training data is not on this machine or has changed.
    """
    from .batching import encode
    from .device import default_batch_size
    from .ensemble import load_checked, tuning_rows
    from .lora import ADAPTER_CONFIG
    from .metrics import summary_scores
    from .outputs import atomic_path, ensure_new, refuse_run_files
    from .predict import predict_logits, sigmoid
    from .rundir import check_run_dir
    from .runs import library_versions, load_run
    from .tfidf import choose_weight, fit_tfidf
    from .training import choose_rule

    if recipe not in RECIPES:
        raise ModelError(f"unknown soup recipe '{recipe}'; choose one of {', '.join(RECIPES)}")
    refuse_run_files(out)
    out = ensure_new(out, force, directory=True, inputs=run_paths)  # before the work, not only after it
    t0 = time.perf_counter()
    for path in run_paths:  # before loading: peft's own error would not say why
        check_plain_lora(check_run_dir(path, option=None))
    members, _ = load_checked(run_paths, kind="soup", device=device, backbone=backbone, same_length=False, data=data)
    first = members[0]
    for run in members[1:]:
        if run.meta.get("pooling") != first.meta.get("pooling"):  # the same weights would feed another function
            raise ModelError(f"{run.path} pools the backbone's output by '{run.meta.get('pooling')}', {first.path} by "
                             f"'{first.meta.get('pooling')}'; a soup's members must share their pooling")
    seeds = sorted({run.config.training_seed for run in members})
    if len(seeds) > 1:
        logger.warning("the runs start from %d initialisations (--init-seed %s): averaging runs trained from other "
                       "initial weights can give a model worse than each%s", len(seeds), ", ".join(map(str, seeds)),
                       "; the greedy recipe keeps a run only where validation shows it helps" if recipe == "greedy"
                       else "")
    own = {run.path: _score(read_json(run.path / METRICS_FILE)) for run in members}
    if recipe == "greedy":  # the best first; a run without a score last
        members.sort(key=lambda run: -own[run.path] if own[run.path] is not None else float("inf"))
        first = members[0]
    (train_texts, y_train), (val_texts, y_val) = tuning_rows(first, data, "soup")
    paths = [run.path for run in members]
    config = copy.copy(first.config)
    config.blend_tfidf = config.blend_tfidf if blend is None else blend
    del members  # each holds a backbone; the soups are loaded one at a time below

    tfidf = fit_tfidf(train_texts, y_train) if config.blend_tfidf else None
    tfidf_val = tfidf.predict_proba(val_texts) if tfidf is not None else None

    def score(soup: list[Path], folder: Path):
        write_soup_weights(folder, soup[0], soup)
        run = load_run(folder, device=device, backbone=backbone)
        ids = encode(run.tokenizer, val_texts, config.max_length)
        probs = sigmoid(predict_logits(run.model, ids, run.pad_id, batch_size=default_batch_size(
            config.eval_batch_size, config.max_length, next(run.model.parameters()).device)))
        del run
        shutil.rmtree(folder, ignore_errors=True)  # a soup's adapter holds every member's matrices: tens of MB
        if tfidf is not None:
            chosen, rule = choose_weight(copy.copy(tfidf), tfidf_val, probs, lambda p: choose_rule(p, y_val, config))
        else:
            chosen, rule = None, choose_rule(probs, y_val, config)[1]
        mixed = chosen.combine(probs, tfidf_val) if chosen is not None else probs
        return summary_scores(y_val, rule.apply(mixed)), rule, chosen

    records = []
    # One scratch folder per output, beside it: a soup killed half-way leaves it, the next one clears it.
    scratch = Path(out).parent / f".{Path(out).name}.soup-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        if recipe == "uniform":
            soup, best = paths, score(paths, Path(scratch) / "uniform")
            records = [{"source": member_name(p), "val_micro_f1": own[p], "kept": True} for p in paths]
        else:
            soup, best = [], None
            for k, path in enumerate(paths):
                trial = soup + [path]
                result = score(trial, Path(scratch) / f"try{k}")
                kept = best is None or result[0]["micro_f1"] >= best[0]["micro_f1"]
                if kept:
                    soup, best = trial, result
                records.append({"source": member_name(path), "val_micro_f1": own[path],
                                "soup_micro_f1": round(result[0]["micro_f1"], 4), "kept": kept})
                if on_step is not None:
                    on_step(records[-1])
        scores, rule, chosen = best
        metrics = {"split": "validation", "rows": len(val_texts), "thresholds": config.thresholds, **scores,
                   "blend_weight": chosen.weight if chosen else 0.0, "recipe": recipe, "soup": records}
        with atomic_path(out, force=force, directory=True, inputs=soup) as tmp:
            write_soup_weights(tmp, soup[0], soup)
            adapter = json.loads((tmp / ADAPTER_DIR / ADAPTER_CONFIG).read_text(encoding="utf-8"))
            # The first member's recipe, with the adapter as it is (the members' matrices side by side).
            dump_json(tmp / CONFIG_FILE, {**read_json(soup[0] / CONFIG_FILE), "blend_tfidf": config.blend_tfidf,
                                          "backbone": config.backbone,  # where it is now (--backbone)
                                          "lora_r": adapter["r"], "lora_alpha": adapter["lora_alpha"],
                                          "lora_targets": adapter["target_modules"]})
            (tmp / THRESHOLDS_FILE).unlink(missing_ok=True)
            rule.save(tmp, read_json(tmp / LABELS_FILE))
            dump_json(tmp / METRICS_FILE, metrics)
            meta = read_json(soup[0] / META_FILE)
            for key in ("started", "best_epoch", "seconds"):
                meta.pop(key, None)
            meta.update({"versions": library_versions(), "name": Path(out).name,
                         "soup": {"recipe": recipe, "members": [member_name(p) for p in soup]},
                         "finished": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
                         "seconds": round(time.perf_counter() - t0, 2)})
            dump_json(tmp / META_FILE, meta)
            if chosen is not None:
                chosen.save(tmp)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return SoupResult(path=Path(out), metrics=metrics, members=records)


def _score(metrics) -> float | None:
    """A run's validation micro-F1 from its metrics.json, None when it has none (or not a number)."""
    value = metrics.get("micro_f1") if isinstance(metrics, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
