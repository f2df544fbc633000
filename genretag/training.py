"""The training loop (the only one): data → split → LoRA model → AdamW → best epoch → run dir."""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from . import checkpoints
from . import data as data_mod
from . import distributed
from .config import TrainConfig
from .errors import ConfigError, DataError, first_line
from .tfidf import fit_blend
from .compiling import ModelCache, TrainForward
from .decision import DecisionRule
from .distill import soft_targets, teacher_probabilities
from .holdout import split_around
from .losses import MultiLabelLoss, positive_weights, rdrop_divergence, smooth_labels
from .metrics import FEW_ROWS, summary_scores
from .language import text_profile
from .modeling import backbone_identity, build_model, fit_max_length
from .outputs import Partial, atomic_path, partial_path, refuse_run_files, resumable_path
from .batching import bucketed_batches, collate, encode
from .device import autocast, default_batch_size
from .predict import predict_logits, sigmoid
from .runs import DEFAULT_RUNS_DIR, data_reference, save_run
from .vocabulary import GenreReport, Vocabulary, current_vocabulary, save_run_vocabulary

logger = logging.getLogger(__name__)

#: ``callback(event, info)`` receives "start", "step", "epoch" and "done" events.
Callback = Callable[[str, dict], None]


@dataclass
class Prepared:
    """A data set read, cleaned, split and binarised once; reusable across trials."""

    data: "data_mod.LabelledData"
    split: dict[str, np.ndarray]
    labels: list[str]
    targets: np.ndarray  # [rows, genres] 0/1 over all kept rows
    fingerprint: str
    dropped: list[str]
    rare: list[str]
    cautions: list[str] = field(default_factory=list)
    """The lines of ``dropped`` that warn (genres dropped or unlearnable, few validation rows): logged as
    warnings when the data is prepared, so ``--quiet`` shows them too."""
    vocabulary: "Vocabulary | None" = None  # the genre table the rows were read with
    genre_report: "GenreReport | None" = None  # what it changed
    encoded: dict = field(default_factory=dict)  # (backbone, max_length) -> token ids
    teacher: np.ndarray | None = None  # [rows, genres] teacher probabilities (NaN: none), with config.teacher
    teacher_info: dict = field(default_factory=dict)  # teacher name, fingerprint, cache file

    def encoded_for(self, tokenizer, key: tuple, max_length: int, *, synopses: bool = False) -> list[list[int]]:
        """Token ids of every row, computed once per (backbone, max length); with ``synopses``,
        of the rows' texts without their title (`LabelledData.synopsis_texts`)."""
        key = (*key, "synopses") if synopses else key
        if key not in self.encoded:
            texts = self.data.synopsis_texts if synopses else self.data.texts
            self.encoded[key] = encode(tokenizer, texts, max_length)
        return self.encoded[key]


@dataclass
class TrainResult:
    """What `train` returns: where the run went and how it did."""

    path: Path
    labels: list[str]
    history: list[dict]
    metrics: dict
    best_epoch: int


def prepare(config: TrainConfig, *, teacher_cache: str | Path | None = None) -> Prepared:
    """Read, clean, sample, split and binarise the training CSV described by ``config``.

    With ``config.test_rows`` the test split is those rows (`holdout.split_around`); with
    ``config.teacher`` the teacher's probabilities of the training rows are attached
    (`distill.teacher_probabilities`, cached in ``teacher_cache``).
    """
    if not config.data:
        raise DataError("no training data given; pass --data movies.csv")
    vocabulary = current_vocabulary(config.genre_map)
    data, report = data_mod.load_labelled(
        config.data, text_cols=config.text_cols, genres_col=config.genres_col, sample=config.sample, seed=config.seed,
        vocabulary=vocabulary, read=data_mod.ReadOptions.of(config),
    )
    if len(data.texts) < 10:
        raise DataError(f"{config.data} has only {len(data.texts)} usable rows; genretag needs at least 10 to train")
    if config.test_rows:
        split = split_around(data.row_ids, data.genres, config.test_rows, ratios=config.split, seed=config.seed)
    else:
        split = data_mod.split_indices(data.genres, ratios=config.split, seed=config.seed)
    check_split(split, config.split)
    train_genres = [data.genres[i] for i in split["train"]]
    rare = data_mod.rare_genres(train_genres, config.min_support)
    genres = data_mod.drop_genres(data.genres, set(rare)) if rare else data.genres
    labels = sorted({g for i in split["train"] for g in genres[i]})
    if not labels:
        counts = Counter(g for row in train_genres for g in row)
        top, most = counts.most_common(1)[0]  # training rows have genres (check_split: there are some)
        raise DataError(f"no genre is left in the training split: --min-support {config.min_support} drops every "
                        f"genre (the most frequent, {top}, has {_rows(most)} of the {len(train_genres)}); give "
                        f"--min-support at most {most}")
    notes = []
    if rare:  # said at the start of training, not only in meta.json
        counts = {g: sum(g in row for row in train_genres) for g in rare}
        bare = sum(1 for i in split["train"] if not genres[i])
        notes.append(f"--min-support {config.min_support} dropped {len(rare)} genre(s): "
                            + ", ".join(f"{g} ({n} training row{'' if n == 1 else 's'})"
                                        for g, n in sorted(counts.items()))
                            + (f"; {bare} training rows are left with no genre" if bare else ""))
    notes += _likely_misspellings(labels, [genres[i] for i in split["train"]], vocabulary)
    given = ",".join(f"{r:g}" for r in config.split)
    unseen = sorted({g for row in genres for g in row} - set(labels))
    if unseen:  # only in validation or test rows: no label, so never predicted
        notes.append(f"{len(unseen)} genre(s) have no training row after --split {given} ({len(split['train'])} "
                     f"training rows), so the model cannot learn them: {', '.join(unseen)}")
    if len(split["validation"]) < FEW_ROWS:
        n = len(split["validation"])
        notes.append(f"only {n} validation row{'s' if n != 1 else ''} (--split {given}): the thresholds and "
                     "validation scores rest on them, and one movie moves them a lot")
    index = {g: j for j, g in enumerate(labels)}
    targets = np.zeros((len(genres), len(labels)), dtype=np.float32)
    for i, row in enumerate(genres):
        for g in row:
            if g in index:  # a genre seen only outside the training split cannot be learnt
                targets[i, index[g]] = 1.0
    if config.thresholds == "per-genre" and len(split["validation"]):
        _say_shared_thresholds(labels, targets[split["validation"]])
    everywhere = [g for j, g in enumerate(labels) if targets[split["train"], j].all()]
    if everywhere and len(everywhere) == len(labels):  # every row the same genres: no example of "not"
        few = len(split["train"]) < FEW_ROWS and len(data.texts) >= 2 * FEW_ROWS
        n = len(split["train"])
        fix = (f"--split {given} leaves {n} training row{'s' if n != 1 else ''} of {len(data.texts)}: give the train "
               "split a larger fraction" if few else "train on a file with movies of several genres")
        raise DataError(f"every training row of {config.data} has the genre{'s' if len(everywhere) > 1 else ''} "
                        f"{', '.join(everywhere)} and no other: there is nothing to learn (a model would give every "
                        f"movie the same genres); {fix}")
    if everywhere:
        notes.append(f"{', '.join(everywhere)}: in every training row, so learnt as always there (no training row "
                     "without it)")
    prep = Prepared(
        data=data,
        split=split,
        labels=labels,
        targets=targets,
        fingerprint=data_mod.file_fingerprint(config.data),
        dropped=report.lines() + notes,
        rare=rare,
        cautions=notes,
        vocabulary=vocabulary,
        genre_report=report.genres,
    )
    for note in notes:
        logger.warning("%s", note)
    if config.teacher:
        _warn_teacher_rows(config, data.row_ids, split, prep.fingerprint)
        # Training rows only: validation and thresholds use the true labels, never the teacher's.
        teacher = np.full(targets.shape, np.nan, dtype=np.float32)
        rows = split["train"]
        teacher[rows], prep.teacher_info = teacher_probabilities(
            config.teacher, config.data, [data.row_ids[i] for i in rows], labels, data_fingerprint=prep.fingerprint,
            backbone=config.backbone, **({"cache_dir": teacher_cache} if teacher_cache else {}))
        prep.teacher = teacher
    return prep


def _warn_teacher_rows(config: TrainConfig, row_ids, split: dict, fingerprint: str) -> None:
    """Warn when rows the student is tested (or validated) on were the teacher's training rows: the teacher
    fits them better than new movies, the student learns that fit, and its scores there flatter it."""
    from .rundir import SPLIT_FILE, member_paths, is_ensemble, read_json

    teacher = Path(config.teacher)
    taught: set[int] = set()
    for path in member_paths(teacher) if is_ensemble(teacher) else [teacher]:
        saved = read_json(path / SPLIT_FILE) if (path / SPLIT_FILE).is_file() else {}
        if isinstance(saved, dict) and saved.get("fingerprint") == fingerprint:
            taught.update(int(r) for r in saved.get("train") or [])
    for part in ("test", "validation"):
        mine = [row_ids[i] for i in split.get(part, [])]
        seen = sum(r in taught for r in mine)
        if seen:
            logger.warning("%d of the %d %s rows were training rows of the teacher %s: it knows their genres better "
                           "than a new movie's, and the student learns that, so its %s scores flatter it; take the "
                           "teacher's test rows with --test-from %s", seen, len(mine), part, teacher.name, part,
                           config.teacher)


def _likely_misspellings(labels: list[str], rows: list[list[str]], vocabulary) -> list[str]:
    """One note naming the genres the vocabulary does not know that look like a more frequent
    genre of the file ("Comdy" (3 rows) beside "Comedy" (40)): learnt as genres of their own
    unless mapped; empty when there are none."""
    if vocabulary is None:
        return []
    counts = Counter(g for row in rows for g in row)
    known = sorted({g for genres in vocabulary.names.values() for g in genres})  # Thriller, also where no row has it
    pairs = []
    for name in labels:
        frequent = [g for g in labels if g != name and counts[g] >= 2 * counts[name]]
        match = vocabulary.suggest(name, frequent) if frequent else None
        if match:
            pairs.append(f"'{name}' ({_rows(counts[name])}) like '{match}' ({counts[match]})")
        elif (match := vocabulary.suggest(name, [g for g in known if g != name])):
            pairs.append(f"'{name}' ({_rows(counts[name])}) like '{match}' (a genre genretag knows)")
    if not pairs:
        return []
    return [f"genres that look like another genre of the file, learnt as genres of their own: {', '.join(pairs)}; "
            "if they are the same, map them with --genre-map (e.g. \"Comdy\" = \"Comedy\")"]


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def check_split(split: dict[str, np.ndarray], ratios: tuple[float, float, float]) -> None:
    """Refuse a split that leaves train, validation or a test asked for without rows.

    Raises:
        DataError: Naming ``--split``, the row count of each part and the smallest fraction that works.
    """
    counts = {part: len(split[part]) for part in ("train", "validation", "test")}
    empty = [part for part, ratio in zip(counts, ratios) if counts[part] == 0 and (ratio > 0 or part != "test")]
    if not empty:
        return
    n = sum(counts.values())
    given = ",".join(f"{r:g}" for r in ratios)
    parts = " and ".join(empty)
    raise DataError(
        f"--split {given} leaves the {parts} split{'s' if len(empty) > 1 else ''} empty ({n} usable rows: "
        f"{counts['train']} train, {counts['validation']} validation, {counts['test']} test); give "
        f"{'each' if len(empty) > 1 else 'it'} a fraction of at least {1 / n:.3f} (1 row in {n})"
    )


def oversample_rows(targets: np.ndarray, max_repeat: int = 4) -> np.ndarray:
    """Row indices with rows of rare genres repeated: a row is repeated
    sqrt(most frequent count / count of its rarest genre) times, rounded, at most ``max_repeat``."""
    counts = targets.sum(0)
    top = counts.max() if counts.size else 1.0
    safe = np.where(counts > 0, counts, np.inf)
    rarest = np.where(targets > 0, safe[None, :], np.inf).min(1)
    repeat = np.where(np.isfinite(rarest), np.sqrt(top / np.where(np.isfinite(rarest), rarest, 1.0)), 1.0)
    repeat = np.clip(np.rint(repeat), 1, max_repeat).astype(int)
    return np.repeat(np.arange(len(targets)), repeat)


def default_run_name(config: TrainConfig) -> str:
    """``<backbone>-<UTC time>``, e.g. ``minilm-20261126-101500``."""
    short = Path(config.backbone.rstrip("/")).name.lower() or "model"
    return f"{short}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"


def _scheduler(optimizer, config: TrainConfig, total_steps: int):
    from transformers import get_scheduler

    name = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}[config.schedule]
    return get_scheduler(name, optimizer, num_warmup_steps=int(config.warmup_ratio * total_steps), num_training_steps=total_steps)


def _trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}


def _say_shared_thresholds(labels: list[str], y_val: np.ndarray) -> None:
    """Say which genres `DecisionRule.tune` gives the global threshold in per-genre mode (too few
    validation positives for one of their own): otherwise their equal thresholds look like a fault."""
    from .decision import MIN_POSITIVES

    few = [g for g, n in zip(labels, y_val.sum(0)) if n < MIN_POSITIVES]
    if not few:
        return
    which = (f"no genre has {MIN_POSITIVES} validation positives, so every genre takes" if len(few) == len(labels)
             else f"{len(few)} of {len(labels)} genres ({', '.join(few)}) have fewer than {MIN_POSITIVES} validation "
                  "positives and take")
    logger.info("thresholds: %s the global threshold tuned on validation (--thresholds per-genre tunes a genre's "
                "own from %d positives)", which, MIN_POSITIVES)


def epochs_reusable(config: TrainConfig) -> bool:
    """True when the first k epochs of this training are exactly a k-epoch training.

    That holds when the learning rate at a step does not depend on the total number of
    steps: a constant schedule without warm-up (warm-up is a fraction of the total).
    Seed, initialisation, batch order and dropout stream are the same either way.
    """
    return config.schedule == "constant" and config.warmup_ratio == 0


def choose_rule(probs: np.ndarray, y_val: np.ndarray, config: TrainConfig) -> tuple[float, DecisionRule]:
    """Tune the decision rule the run's way and score it: ``(micro-F1, rule)`` (`fit_blend`'s ``choose``)."""
    rule = DecisionRule.tune_for(config, y_val, probs)
    return summary_scores(y_val, rule.apply(probs))["micro_f1"], rule


def _write_run(target: Path, *, name: str, config: TrainConfig, prep: Prepared, model, best: dict,
               history: list[dict], val_ids, pad_id: int, dev, started: datetime, t0: float,
               extra_meta: dict | None = None) -> dict:
    """Put the best epoch's weights in the model, finish its decision rule, write the run.

    Shared by the end of `train` and by epoch snapshots, so both write the same files.
    Returns the validation metrics written.
    """
    va_idx = prep.split["validation"]
    y_val = prep.targets[va_idx]
    model.load_state_dict(best["state"], strict=False)
    rule = DecisionRule(best["thresholds"], config.at_least_one, config.max_genres)
    at_half = DecisionRule.fixed(0.5, len(prep.labels))
    eval_rows = default_batch_size(config.eval_batch_size, config.max_length, dev)
    val_probs = sigmoid(predict_logits(model, val_ids, pad_id, batch_size=eval_rows, device=dev))
    lm_at_half = summary_scores(y_val, at_half.apply(val_probs))
    blend = None
    if config.blend_tfidf:
        tr_idx = prep.split["train"]
        val_texts = [prep.data.texts[i] for i in va_idx]
        blend, rule = fit_blend([prep.data.texts[i] for i in tr_idx], prep.targets[tr_idx], val_texts, y_val,
                                val_probs, lambda probs: choose_rule(probs, y_val, config))
        if blend is not None:
            val_probs = blend.mix(val_probs, val_texts)
    metrics = {"split": "validation", "epoch": best["epoch"], "rows": len(va_idx), "thresholds": config.thresholds,
               **summary_scores(y_val, rule.apply(val_probs)),
               "at_0.5": summary_scores(y_val, at_half.apply(val_probs)),
               "blend_weight": blend.weight if blend else 0.0}
    if blend is not None:
        metrics["language_model_at_0.5"] = lm_at_half
    rows = prep.data.row_ids
    split_record = {**data_reference(config.data, prep.fingerprint, target),
                    "text_cols": config.text_cols, "genres_col": config.genres_col, "sample": config.sample,
                    "seed": config.seed, **{part: [int(rows[i]) for i in idx] for part, idx in prep.split.items()},
                    # lets evaluate find training rows in any file, also where the data file is not
                    "train_synopses": _row_keys(prep.data, prep.split["train"]),
                    # and its validation rows, which chose its epoch, thresholds and blend: said, not left out
                    "validation_synopses": _row_keys(prep.data, prep.split["validation"])}
    meta = {"name": name, "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "seconds": round(time.perf_counter() - t0, 2), "device": str(dev), "best_epoch": best["epoch"],
            "data_fingerprint": prep.fingerprint, "dropped_rows": prep.dropped, "rare_genres_dropped": prep.rare,
            "text_profile": text_profile([prep.data.texts[i] for i in prep.split["train"]]),
            **prep.teacher_info, **(extra_meta or {})}
    save_run(target, config=config, labels=prep.labels, rule=rule, model=model, split=split_record,
             history=history, metrics=metrics, meta=meta)
    if blend is not None:
        blend.save(target)
    if prep.vocabulary is not None:
        save_run_vocabulary(target, prep.vocabulary, prep.genre_report)
    return metrics


def _save_snapshot(target: Path, epochs: int, *, source: str, config: TrainConfig, prep: Prepared, model, best: dict,
                   history: list[dict], val_ids, pad_id: int, dev, started: datetime, t0: float,
                   extra_meta: dict | None = None) -> None:
    """Write, from inside a longer training, the run dir an ``epochs``-epoch training writes.

    Valid only when `epochs_reusable`. The model's current weights are put back afterwards
    and nothing here draws random numbers, so the longer run continues unchanged.
    """
    current = _trainable_state(model)
    config = copy.copy(config)
    config.epochs = epochs
    with atomic_path(target, force=True, directory=True) as tmp:
        _write_run(tmp, name=Path(target).name, config=config, prep=prep, model=model, best=best,
                   history=history[:epochs], val_ids=val_ids, pad_id=pad_id, dev=dev, started=started, t0=t0,
                   extra_meta={**(extra_meta or {}), "snapshot_of": source})
    model.load_state_dict(current, strict=False)


def train(
    config: TrainConfig,
    out: str | Path | None = None,
    *,
    force: bool = False,
    prepared: Prepared | None = None,
    callback: Callback | None = None,
    device: str | None = None,
    snapshots: dict[int, str | Path] | None = None,
    resume: bool = False,
    models: ModelCache | None = None,
) -> TrainResult:
    """Fine-tune a LoRA genre tagger and write its run directory.

    Args:
        config: Validated training configuration.
        out: Run directory to write (default ``runs/<backbone>-<time>``).
        force: Replace an existing ``out``.
        prepared: Data already prepared by `prepare` (tuning reuses it across trials).
        callback: Receives progress events (see `Callback`).
        device: ``cpu``, ``cuda`` ... (default: CUDA when present).
        snapshots: ``{k: run_dir}``: also write the run a k-epoch training would give, read
            from this run's first k epochs (`tune` uses it; needs `epochs_reusable`).
        resume: Continue an interrupted training of ``out`` from its last epoch checkpoint
            (kept in ``.<out>.partial``); the result equals an uninterrupted run's.
        models: A `genretag.compiling.ModelCache`: take the model from it (reset to a fresh
            build's weights and random state) and keep it there with its compiled graph
            (`tune` passes one to all its trials). Ignored under DDP.

    Returns:
        A `TrainResult` for the run written to ``out``.

    Under ``torchrun``/``accelerate launch`` (``WORLD_SIZE`` > 1) every process calls this;
    they train together with DistributedDataParallel and rank 0 writes the run (see
    `genretag.distributed`). ``batch_size`` is then per process.
    """
    if snapshots and not epochs_reusable(config):
        raise ValueError("epoch snapshots need --schedule constant and --warmup-ratio 0")
    if resume and not out:
        raise DataError("--resume needs --out: the run directory of the interrupted training")
    ctx, dev = distributed.setup(device)
    try:
        result = _train(config, out, ctx=ctx, dev=dev, force=force, prepared=prepared, callback=callback,
                        snapshots=snapshots, resume=resume, models=None if ctx.active else models)
    except BaseException:
        distributed.teardown(ctx, wait=False)  # the other ranks fail on the closed group, not hang
        raise
    distributed.teardown(ctx)
    return result


def training_precision(requested: str, device: torch.device) -> str:
    """Resolve ``auto``: bf16 autocast where the device has native bf16, else fp32.

    Native means CUDA cards from Ampere on and CPUs with AVX-512 BF16 or AMX; elsewhere
    bf16 is emulated and slower. Weights, gradients and optimizer state stay fp32; only
    the forward matmuls run in bf16. benchmarks/RESULTS.md has the speed and the
    validation scores of both on the reference protocol.
    """
    from .device import bf16_supported, no_bf16_reason

    if requested != "auto":
        return requested
    if bf16_supported(device):
        return "bf16"
    logger.info("training in fp32: %s", no_bf16_reason(device))
    return "fp32"


def _check_bf16(model: torch.nn.Module, tokenizer, dev: torch.device, backbone: str, requested: str) -> str:
    """bf16, or fp32 for a backbone whose code fails under bf16 autocast (DeBERTa v1 fills its
    attention mask with fp32's minimum, which bf16 cannot hold): one forward pass of a short text
    tells, before an epoch starts. The pass draws no random numbers (eval mode).

    Raises:
        ConfigError: ``--precision bf16`` asked for, and the backbone fails in it.
    """
    batch = tokenizer(["A ghost haunts the family home after the funeral."], return_tensors="pt")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), autocast(dev, "bf16"):
            model(batch["input_ids"].to(dev), batch["attention_mask"].to(dev))
    except torch.cuda.OutOfMemoryError:
        raise
    except RuntimeError as exc:
        reason = first_line(exc)
        if requested == "bf16":
            raise ConfigError("precision", f"bf16 fails with backbone {backbone} ({reason}); use "
                                           "--precision fp32 (or auto, which falls back to fp32)") from None
        logger.warning("training in fp32: backbone %s fails under bf16 autocast (%s)", backbone, reason)
        return "fp32"
    finally:
        model.train(was_training)
    return "bf16"


@contextlib.contextmanager
def _run_folder(out: Path, ctx: distributed.Context, *, force: bool, resume: bool, inputs=()):
    """Rank 0 owns the partial run directory; the other ranks learn where it is and whether it resumes."""
    if ctx.is_main:
        # A stable partial name (not a random one) so that a rerun with resume finds the checkpoint.
        with resumable_path(out, marker=checkpoints.marker, force=force, resume=resume, directory=True,
                            inputs=inputs) as partial:
            distributed.broadcast(partial.resumed, ctx)
            yield partial
    else:
        yield Partial(path=partial_path(out), resumed=distributed.broadcast(None, ctx))


def _train(config: TrainConfig, out, *, ctx: distributed.Context, dev: torch.device, force: bool,
           prepared: Prepared | None, callback: Callback | None, snapshots, resume: bool,
           models: ModelCache | None = None) -> TrainResult:
    """`train` on one process of ``ctx`` (the whole training when it is the only one)."""
    emit = (callback if ctx.is_main else None) or (lambda event, info: None)
    # Every rank must name the same folder, and a default name holds the time.
    out = Path(out) if out else Path(DEFAULT_RUNS_DIR) / distributed.broadcast(default_run_name(config), ctx)
    refuse_run_files(out, "--out")  # the bundled model, a run's adapter/ or members/: not even with --force
    with _run_folder(out, ctx, force=force, resume=resume, inputs=[config.data, config.teacher]) as partial:
        tmp = partial.path
        prep = prepared or prepare(config)
        started = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        torch.manual_seed(config.training_seed)
        rng = np.random.default_rng(config.training_seed)
        config = copy.copy(config)
        # A local folder is saved as an absolute path: the run loads from any working directory.
        config.backbone = backbone_identity(config.backbone)
        spec = config.model_spec(len(prep.labels))
        cached = models.get(spec, config.training_seed, build_model) if models is not None else None
        model, tokenizer = (cached.model, cached.tokenizer) if cached is not None else build_model(spec)
        config.lora_targets, config.pooling = list(spec.lora_targets), spec.pooling
        config.max_length = fit_max_length(config.max_length, model.backbone.config, config.backbone)
        model.to(dev)
        if config.gradient_checkpointing:
            _checkpoint_activations(model)
        # DDP averages the gradients across ranks in backward; evaluation uses the bare model.
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None) if ctx.active else model
        # Saved resolved, like the LoRA targets: the run says what it was trained with.
        requested = config.precision
        precision = config.precision = training_precision(requested, dev)
        if precision == "bf16":
            precision = config.precision = _check_bf16(model, tokenizer, dev, config.backbone, requested)
        encoded = prep.encoded_for(tokenizer, (config.backbone, config.max_length), config.max_length)
        pad_id = tokenizer.pad_token_id
        tr_idx, va_idx = prep.split["train"], prep.split["validation"]
        if config.oversample:
            tr_idx = tr_idx[oversample_rows(prep.targets[tr_idx], config.oversample_max)]
        train_ids = [encoded[i] for i in tr_idx]
        val_ids = [encoded[i] for i in va_idx]
        untitled_ids = None  # the training rows without their title, for --title-dropout
        if config.title_dropout > 0:
            if prep.data.synopses is None:
                logger.warning("--title-dropout %g has no effect: the text columns (%s) hold no title with a synopsis",
                               config.title_dropout, ", ".join(config.text_cols or ["detected"]))
            else:
                untitled = prep.encoded_for(tokenizer, (config.backbone, config.max_length), config.max_length,
                                            synopses=True)
                untitled_ids = [untitled[i] for i in tr_idx]
        titled_ids = train_ids
        labels = smooth_labels(prep.targets[tr_idx], config.label_smoothing)
        y_train = torch.from_numpy(labels if prep.teacher is None else
                                   soft_targets(labels, prep.teacher[tr_idx], config.distill_alpha))
        y_val = prep.targets[va_idx]

        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        batches_per_epoch = -(-len(train_ids) // config.batch_size)
        steps_per_epoch = -(-batches_per_epoch // ctx.world)  # each rank takes one batch per step
        total_steps = steps_per_epoch * config.epochs
        scheduler = _scheduler(optimizer, config, total_steps)
        pos_weight = positive_weights(torch.from_numpy(prep.targets[prep.split["train"]]),
                                      power=config.pos_weight_power, cap=config.pos_weight_cap)
        loss_fn = MultiLabelLoss(config.loss, pos_weight=pos_weight).to(dev)
        val_loss_fn = torch.nn.BCEWithLogitsLoss()  # comparable across losses
        lengths = [len(r) for r in train_ids]
        emit("start", {"total_steps": total_steps, "epochs": config.epochs, "train_rows": len(train_ids),
                       "validation_rows": len(val_ids), "labels": prep.labels, "device": str(dev),
                       "lora_targets": config.lora_targets, "pooling": config.pooling,
                       "data_report": [line for line in prep.dropped if line not in prep.cautions],
                       "genre_report": prep.genre_report.lines() if prep.genre_report else [], "precision": precision, "processes": ctx.world})

        history: list[dict] = []
        best = {"score": -1.0, "loss": float("inf"), "epoch": 0, "state": None, "thresholds": None}
        step = 0
        done = 0
        if partial.resumed:
            restored = checkpoints.load(tmp, config=config, fingerprint=prep.fingerprint, labels=prep.labels,
                                        model=model, optimizer=optimizer, scheduler=scheduler, rng=rng,
                                        backbone_fingerprint=getattr(model, "weights_fingerprint", None))
            done, step, history, best = restored.epoch, restored.step, restored.history, restored.best
        forward = TrainForward(net, model, config.compile, dev, steps_left=total_steps - step, cached=cached,
                               cache=models)
        for epoch in range(done + 1, config.epochs + 1):
            net.train()
            t_epoch = time.perf_counter()
            if untitled_ids is not None:  # a new draw each epoch (from the run's rng: resumes the same)
                drop = rng.random(len(titled_ids)) < config.title_dropout
                train_ids = [u if d else t for t, u, d in zip(titled_ids, untitled_ids, drop)]
                lengths = [len(r) for r in train_ids]
            if config.bucket:
                batches = bucketed_batches(lengths, config.batch_size, rng)
            else:
                order = rng.permutation(len(train_ids))
                batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
            running, seen, rows_seen = 0.0, 0, []
            for idx, weight in distributed.shard_batches(batches, ctx):
                ids, mask = collate([train_ids[i] for i in idx], pad_id, width_step=forward.width_step)
                if config.rdrop:  # each row twice in one pass (one forward for DDP): two dropout masks
                    ids, mask = ids.repeat(2, 1), mask.repeat(2, 1)
                with autocast(dev, precision):
                    logits = forward(ids.to(dev), mask.to(dev))
                targets = y_train[idx].to(dev)
                if config.rdrop:
                    first, second = logits.float().chunk(2)
                    loss = (loss_fn(first, targets) + loss_fn(second, targets)) / 2 + \
                        config.rdrop * rdrop_divergence(first, second)
                else:
                    loss = loss_fn(logits.float(), targets)
                if weight != 1.0:
                    loss = loss * weight
                if not math.isfinite(loss.item()):  # every later step, and the saved weights, would be NaN
                    raise _diverged(config, f"the training loss became {loss.item()} at epoch {epoch}, step {step + 1}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
                optimizer.step()
                scheduler.step()
                step += 1
                n_rows = len(idx) if weight else 0
                running += loss.item() * n_rows
                seen += n_rows
                if n_rows:
                    rows_seen.append(idx)
                emit("step", {"step": step, "epoch": epoch, "loss": loss.item(), "lr": scheduler.get_last_lr()[0]})
                forward.step_done()
            train_seconds = time.perf_counter() - t_epoch
            if logger.isEnabledFor(logging.DEBUG):  # how tests check that the ranks shared the rows
                ids_seen = tr_idx[np.concatenate(rows_seen)] if rows_seen else []
                logger.debug("rows seen: rank %d of %d, epoch %d: %s", ctx.rank, ctx.world, epoch,
                             ",".join(str(prep.data.row_ids[i]) for i in ids_seen))
            running, seen = distributed.all_sum([running, seen], ctx)
            # Every rank validates (the weights are the same everywhere), so all agree on the
            # best epoch without messages; only rank 0 writes.
            val_logits = predict_logits(forward.eval_model, val_ids, pad_id, device=dev, width_step=forward.width_step,
                                        batch_size=default_batch_size(config.eval_batch_size, config.max_length, dev))
            if not np.isfinite(val_logits).all():
                raise _diverged(config, f"the model's validation scores became NaN or infinite after epoch {epoch}")
            val_loss = float(val_loss_fn(torch.from_numpy(val_logits), torch.from_numpy(y_val)).item())
            val_probs = sigmoid(val_logits)
            at_half = summary_scores(y_val, DecisionRule.fixed(0.5, len(prep.labels)).apply(val_probs))
            # The epoch is chosen by the score of the decision rule the run will ship with.
            rule = DecisionRule.tune_for(config, y_val, val_probs)
            scores = summary_scores(y_val, rule.apply(val_probs))
            record = {
                "epoch": epoch,
                "train_loss": running / max(seen, 1),
                "val_loss": val_loss,
                "val_micro_f1": scores["micro_f1"],
                "val_macro_f1": scores["macro_f1"],
                "val_micro_precision": scores["micro_precision"],
                "val_micro_recall": scores["micro_recall"],
                "val_micro_f1_at_0.5": at_half["micro_f1"],
                "train_seconds": round(train_seconds, 2),
                "epoch_seconds": round(time.perf_counter() - t_epoch, 2),
                "train_rows_per_second": round(seen / max(train_seconds, 1e-9), 2),
            }
            history.append(record)
            if (scores["micro_f1"], -val_loss) > (best["score"], -best["loss"]):
                # Thresholds only (the rest of the rule is the config's): what a checkpoint saves.
                best.update(score=scores["micro_f1"], loss=val_loss, epoch=epoch, state=_trainable_state(model),
                            thresholds=rule.thresholds)
            if snapshots and epoch in snapshots and epoch < config.epochs and ctx.is_main:
                # Before the checkpoint, so a run resumed after epoch k has already written snapshot k.
                _save_snapshot(Path(snapshots[epoch]), epoch, source=out.name, config=config, prep=prep, model=model,
                               best=best, history=history, val_ids=val_ids, pad_id=pad_id, dev=dev,
                               started=started, t0=t0, extra_meta=forward.summary())
            if ctx.is_main:
                checkpoints.save(tmp, epoch=epoch, step=step, config=config, fingerprint=prep.fingerprint,
                                 labels=prep.labels, model=model, optimizer=optimizer, scheduler=scheduler, rng=rng,
                                 history=history, best=best,
                                 backbone_fingerprint=getattr(model, "weights_fingerprint", None))
            emit("epoch", record)

        if ctx.is_main and best["loss"] > EXPLODED_VAL_LOSS:
            logger.warning("the saved epoch %d has a validation loss of %.3g, more than %d times that of a model that "
                           "says 0.5 for every genre (%.2f): the training diverged; --lr %g is likely too high (lower "
                           "it), and the run's scores are not to be trusted", best["epoch"], best["loss"],
                           round(EXPLODED_VAL_LOSS / math.log(2)), math.log(2), config.lr)
        metrics = None
        if ctx.is_main:
            metrics = _write_run(tmp, name=out.name, config=config, prep=prep, model=model, best=best,
                                 history=history, val_ids=val_ids, pad_id=pad_id, dev=dev, started=started, t0=t0,
                                 extra_meta=forward.summary())
            checkpoints.remove(tmp)  # optimizer state is for resuming, not part of a finished run
    metrics = distributed.broadcast(metrics, ctx)  # after the rename: the run exists when any rank returns
    emit("done", {"path": str(out), "best_epoch": best["epoch"], "metrics": metrics})
    return TrainResult(path=out, labels=prep.labels, history=history, metrics=metrics, best_epoch=best["epoch"])


def _checkpoint_activations(model) -> None:
    """Recompute each layer's activations in backward instead of keeping them (less memory)."""
    base = model.backbone.get_base_model()
    if not getattr(base, "supports_gradient_checkpointing", False):
        raise DataError(f"{type(base).__name__} does not support --gradient-checkpointing; train without it")
    if getattr(base.config, "use_cache", None):  # no key-value cache in training: said by transformers otherwise
        base.config.use_cache = False
    # Non-reentrant checkpointing works with frozen inputs (LoRA) and with DDP.
    if hasattr(base, "activation_checkpointing_enable"):  # transformers >= 5.x
        base.activation_checkpointing_enable({"use_reentrant": False})
    else:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def _row_keys(data: data_mod.LabelledData, rows) -> dict:
    """`genretag.data.SynopsisKeys` of some rows' synopses and title + synopsis texts, as stored."""
    rows = list(rows)
    return data_mod.SynopsisKeys.of([data.synopsis_texts[i] for i in rows], [data.texts[i] for i in rows]).to_json()


#: Validation BCE above which a saved run is said to have diverged: 10 times that of a model that
#: knows nothing and says 0.5 everywhere (ln 2). A model that merely overfits stays far below.
EXPLODED_VAL_LOSS = 10 * math.log(2)


class Diverged(ConfigError):
    """A training whose loss or validation scores stopped being numbers (too high a learning rate):
    `genretag.tuning` marks such a trial failed and goes on with the grid."""


def _diverged(config: TrainConfig, what: str) -> Diverged:
    return Diverged("lr", f"{config.lr:g} is too high for this run: {what} (the training diverged); lower it "
                             f"{'and keep --grad-clip on ' if config.grad_clip > 0 else 'or set --grad-clip '}"
                             "(no run was written)")
