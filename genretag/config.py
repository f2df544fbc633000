"""Training configuration: one validated dataclass, saved as JSON in every run."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

# The choices live here, not in the modules that use them, so that reading a config (and
# `genretag --help`) needs no torch.
LOSSES = ("bce", "weighted-bce", "focal", "asl")
"""Training losses (`genretag.losses`)."""
PRECISIONS = ("auto", "fp32", "bf16")
"""Arithmetic choices (`genretag.predict`)."""
PREDICT_PRECISIONS = PRECISIONS + ("int8",)


def check_tag_options(*, threshold=None, max_genres=None, precision="auto", batch_size=None, threads=None,
                      option=lambda name: name) -> None:
    """Check the options of tagging (``tag``, `genretag.GenreTagger`) before a model is loaded.

    Args:
        option: How to name a parameter in the message (the CLI passes its flag names).

    Raises:
        genretag.errors.DataError: The first option out of range, named by ``option``.
    """
    from .errors import DataError

    if threshold is not None and not 0 < threshold < 1:
        raise DataError(f"{option('threshold')} must be between 0 and 1, got {threshold}")
    if max_genres is not None and max_genres < 1:
        raise DataError(f"{option('max_genres')} must be at least 1, got {max_genres}")
    if precision not in PREDICT_PRECISIONS:
        raise DataError(f"{option('precision')} must be one of {', '.join(PREDICT_PRECISIONS)}, got '{precision}'")
    if batch_size is not None and batch_size < 1:
        raise DataError(f"{option('batch_size')} must be at least 1, got {batch_size}")
    if threads is not None and threads < 1:
        raise DataError(f"{option('threads')} must be at least 1, got {threads}")
"""Arithmetic choices of prediction: also int8 dynamic quantisation (CPU; `genretag.precision`)."""
THRESHOLD_MODES = ("fixed", "global", "per-genre")
"""Decision threshold modes (`genretag.decision.DecisionRule.tune`)."""
COMPILE_CHOICES = ("auto", "on", "off")
"""torch.compile in training (`genretag.compiling`)."""
DEFAULT_BACKBONE = "qwen3-0.6b"
POOLINGS = ("auto", "last", "mean", "cls")


@dataclass
class ModelSpec:
    """What is needed to rebuild the model architecture; saved in the run's config."""

    backbone: str
    num_labels: int
    pooling: str = "auto"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: list[str] | None = None
    head_dropout: float = 0.1
    trust_remote_code: bool = False


SCHEDULES = ("linear", "cosine", "constant")


@dataclass
class TrainConfig:
    """Everything `train()` needs; the resolved copy is saved as the run's ``config.json``."""

    data: str = ""
    """CSV with synopses and genres."""
    text_cols: list[str] | None = None
    """Text columns joined as the input (None: detect one)."""
    genres_col: str | None = None
    """Genre column (None: detect)."""
    sep: str | None = None
    """Field separator of the data file, e.g. " ::: " (None: detect)."""
    no_header: bool = False
    """The data file has no header row; ``columns`` names its fields."""
    columns: list[str] | None = None
    """Field names of a data file without a header row, in order."""
    sample: int | None = None
    """Use a seeded random sample of this many usable rows."""
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    """Train / validation / test fractions."""
    min_support: int = 1
    """Drop genres with fewer training examples than this."""
    genre_map: str | None = None
    """TOML file of genre aliases added to the bundled vocabulary (``alias = "Genre"`` lines)."""
    test_rows: list[int] | None = None
    """Data-row numbers (0 = first row after the header) held out as the test split, e.g. another
    run's test rows (``--test-from``); the other usable rows are split into train / validation in
    the ratio of the first two ``split`` fractions. Never trained on, never used for a choice."""
    teacher: str | None = None
    """Run (or ensemble) whose probabilities are soft training targets (``genretag distill``)."""
    distill_alpha: float = 0.5
    """With a teacher, each training target is alpha * label + (1 - alpha) * teacher probability."""

    backbone: str = DEFAULT_BACKBONE
    """Preset (qwen3-0.6b, minilm), Hugging Face model id or local folder."""
    pooling: str = "auto"
    """last (decoder default), mean (encoder default) or cls."""
    max_length: int = 128
    """Tokens per synopsis; longer ones are truncated."""
    lora_r: int = 8
    """LoRA rank."""
    lora_alpha: int = 16
    """LoRA scaling numerator (scale = alpha / r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA branch."""
    lora_targets: list[str] | None = None
    """Modules to adapt (None: q/v projections detected from the backbone)."""
    head_dropout: float = 0.1
    """Dropout before the linear head."""
    trust_remote_code: bool = False
    """Run model code shipped with a hub model (off unless asked)."""

    lr: float = 5e-4
    """Peak learning rate of AdamW."""
    batch_size: int = 16
    """Rows per optimiser step."""
    epochs: int = 4
    """Passes over the training split."""
    weight_decay: float = 0.01
    """AdamW weight decay (the report's value)."""
    warmup_ratio: float = 0.06
    """Fraction of steps with a linear warm-up."""
    schedule: str = "linear"
    """Decay after warm-up: linear, cosine or constant."""
    grad_clip: float = 1.0
    """Clip the gradient norm to this (0: off)."""
    loss: str = "bce"
    """Training loss: bce (the report), weighted-bce, focal or asl (asymmetric)."""
    pos_weight_power: float = 0.5
    """weighted-bce: pos_weight = (negatives / positives) ** power."""
    pos_weight_cap: float = 10.0
    """weighted-bce: upper bound of pos_weight."""
    oversample: bool = False
    """Repeat training rows of rare genres (up to 4x) each epoch."""
    thresholds: str = "per-genre"
    """Decision thresholds: fixed (= threshold), global or per-genre (tuned on validation)."""
    threshold: float = 0.5
    """The fixed threshold (and the start for tuning)."""
    at_least_one: bool = True
    """Give a movie its most likely genre when no genre passes its threshold."""
    max_genres: int | None = None
    """At most this many genres per movie."""
    blend_tfidf: bool = False
    """Blend with a TF-IDF model; its weight (0 = none) is chosen on validation."""
    seed: int = 42
    """Seed for sampling, splitting, initialisation and shuffling."""
    init_seed: int | None = None
    """Seed for initialisation, dropout and batch order only (default: ``seed``): another value
    trains a different model on the same split, e.g. a member of an ensemble."""
    bucket: bool = True
    """Group rows of similar length in a batch (less padding, same data)."""
    eval_batch_size: int = 64
    """Rows per batch when predicting."""
    precision: str = "auto"
    """Training arithmetic: auto (bf16 autocast where the device has native bf16, else fp32), fp32 or bf16."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about 30% slower."""
    compile: str = "auto"
    """torch.compile the model, batches padded to multiples of 32 tokens: on, off, or auto (off on
    a CPU; on a GPU on when the eager steps measured first say the compile time pays off)."""

    def __post_init__(self):
        self.split = tuple(float(x) for x in self.split)
        checks = [
            (self.lr > 0 and math.isfinite(self.lr), f"learning rate must be positive, got {self.lr}"),
            (self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}"),
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.max_length >= 8, f"max length must be at least 8 tokens, got {self.max_length}"),
            (self.lora_r >= 1, f"LoRA rank must be at least 1, got {self.lora_r}"),
            (self.lora_alpha > 0, f"LoRA alpha must be positive, got {self.lora_alpha}"),
            (0 <= self.lora_dropout < 1, f"LoRA dropout must be in [0, 1), got {self.lora_dropout}"),
            (0 <= self.head_dropout < 1, f"head dropout must be in [0, 1), got {self.head_dropout}"),
            (self.weight_decay >= 0, f"weight decay must be >= 0, got {self.weight_decay}"),
            (0 <= self.warmup_ratio < 1, f"warm-up ratio must be in [0, 1), got {self.warmup_ratio}"),
            (self.grad_clip >= 0, f"gradient clip must be >= 0, got {self.grad_clip}"),
            (0 < self.threshold < 1, f"threshold must be in (0, 1), got {self.threshold}"),
            (self.schedule in SCHEDULES, f"unknown schedule '{self.schedule}'; choose {', '.join(SCHEDULES)}"),
            (self.thresholds in THRESHOLD_MODES,
             f"unknown threshold mode '{self.thresholds}'; choose {', '.join(THRESHOLD_MODES)}"),
            (self.max_genres is None or self.max_genres >= 1, f"max genres must be at least 1, got {self.max_genres}"),
            (self.pos_weight_power >= 0 and self.pos_weight_cap >= 1,
             "pos_weight power must be >= 0 and its cap >= 1"),
            (self.loss in LOSSES, f"unknown loss '{self.loss}'; choose {', '.join(LOSSES)}"),
            (self.pooling in POOLINGS, f"unknown pooling '{self.pooling}'; choose {', '.join(POOLINGS)}"),
            (self.min_support >= 1, f"min support must be at least 1, got {self.min_support}"),
            (self.sample is None or self.sample >= 10, f"sample must be at least 10 rows, got {self.sample}"),
            (not (self.test_rows and self.sample), "test rows from another split and --sample cannot be combined"),
            (0 <= self.distill_alpha <= 1, f"distill alpha must be in [0, 1], got {self.distill_alpha}"),
            (len(self.split) == 3 and all(x >= 0 for x in self.split) and abs(sum(self.split) - 1) < 1e-6
             and self.split[0] > 0 and self.split[1] > 0,
             f"split must be three fractions summing to 1 with train and validation > 0, got {self.split}"),
            (self.eval_batch_size >= 1, f"eval batch size must be at least 1, got {self.eval_batch_size}"),
            (self.precision in PRECISIONS, f"unknown precision '{self.precision}'; choose {', '.join(PRECISIONS)}"),
            (self.compile in COMPILE_CHOICES,
             f"unknown compile setting '{self.compile}'; choose {', '.join(COMPILE_CHOICES)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def training_seed(self) -> int:
        """The seed of initialisation, dropout and batch order."""
        return self.seed if self.init_seed is None else self.init_seed

    def model_spec(self, num_labels: int, *, backbone: str | None = None, pooling: str | None = None) -> ModelSpec:
        """The architecture these settings describe, for ``num_labels`` genres."""
        return ModelSpec(
            backbone=backbone or self.backbone, num_labels=num_labels, pooling=pooling or self.pooling,
            lora_r=self.lora_r, lora_alpha=self.lora_alpha, lora_dropout=self.lora_dropout,
            lora_targets=self.lora_targets, head_dropout=self.head_dropout, trust_remote_code=self.trust_remote_code,
        )

    def to_dict(self) -> dict:
        """JSON-ready dict of every field."""
        out = dataclasses.asdict(self)
        out["split"] = list(self.split)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Rebuild from `to_dict` output; unknown keys are an error (a newer genretag wrote it)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**values)


def replace(config: TrainConfig, **changes) -> TrainConfig:
    """A validated copy of ``config`` with some fields changed."""
    return dataclasses.replace(config, **changes)
