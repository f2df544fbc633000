"""Training configuration: one validated dataclass, saved as JSON in every run."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import ConfigError

# The choices live here, not in the modules that use them, so that reading a config (and
# `genretag --help`) needs no torch.
LOSSES = ("bce", "weighted-bce", "focal", "asl")
"""Training losses (`genretag.losses`)."""
PRECISIONS = ("auto", "fp32", "bf16")
"""Arithmetic choices (`genretag.predict`)."""
PREDICT_PRECISIONS = PRECISIONS + ("int8",)
"""Arithmetic choices of prediction: also int8 dynamic quantisation (CPU; `genretag.precision`)."""
THRESHOLD_MODES = ("fixed", "global", "per-genre")
"""Decision threshold modes (`genretag.decision.DecisionRule.tune`)."""
COMPILE_CHOICES = ("auto", "on", "off")
"""torch.compile in training (`genretag.compiling`)."""
DEFAULT_BACKBONE = "qwen3-0.6b"
POOLINGS = ("auto", "last", "mean", "cls")
SCHEDULES = ("linear", "cosine", "constant")


def one_of(choices, value) -> str:
    """The problem of a value outside ``choices``, for a `ConfigError`: "must be one of a, b, got 'c'"."""
    return f"must be one of {', '.join(choices)}, got '{value}'"


def check_tag_options(*, threshold=None, max_genres=None, precision="auto", batch_size=None, threads=None) -> None:
    """Check the options of tagging (``tag``, `genretag.GenreTagger`) before a model is loaded.

    Raises:
        genretag.errors.ConfigError: The first option out of range, by its parameter name.
    """
    if threshold is not None and not 0 < threshold < 1:
        raise ConfigError("threshold", f"must be above 0 and below 1, got {threshold}")
    if max_genres is not None and max_genres < 1:
        raise ConfigError("max_genres", f"must be at least 1, got {max_genres}")
    if precision not in PREDICT_PRECISIONS:
        raise ConfigError("precision", one_of(PREDICT_PRECISIONS, precision))
    if batch_size is not None and batch_size < 1:
        raise ConfigError("batch_size", f"must be at least 1, got {batch_size}")
    if threads is not None and threads < 1:
        raise ConfigError("threads", f"must be at least 1, got {threads}")


def setting(default, help: str):
    """A `TrainConfig` field with its one-line help (``genretag train --help`` shows it)."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything `train()` needs; the resolved copy is saved as the run's ``config.json``.

    Each field's ``help`` (``dataclasses.fields(TrainConfig)[i].metadata["help"]``) describes it
    once, for Python and for ``genretag train --help`` alike; `__post_init__` checks it once,
    naming the field in a `genretag.errors.ConfigError`.
    """

    data: str = setting("", "Synopses and genres: CSV/TSV (also compressed), JSON Lines or Parquet.")
    text_cols: list[str] | None = setting(None, "Text column(s) to join, e.g. title,overview.")
    """None: detect one."""
    genres_col: str | None = setting(None, "Genre column.")
    """None: detect."""
    sep: str | None = setting(None, 'Field separator of the data file, e.g. " ::: " (None: detect).')
    no_header: bool = setting(False, "The data file has no header row; ``columns`` names its fields.")
    columns: list[str] | None = setting(None, "Field names of a data file without a header row, in order.")
    sample: int | None = setting(None, "Train on a seeded random sample of N usable rows.")
    split: tuple[float, float, float] = setting((0.7, 0.15, 0.15), "Train/validation/test fractions.")
    min_support: int = setting(1, "Drop genres with fewer training examples than this.")
    genre_map: str | None = setting(
        None, 'TOML file of genre aliases added to the bundled vocabulary: alias = "Genre" or "X" = ["A", "B"] '
        'per line.')
    test_rows: list[int] | None = setting(
        None, "Data-row numbers (0 = first row after the header) held out as the test split, e.g. another "
        "run's test rows (--test-from); the other usable rows are split into train / validation in the ratio of "
        "the first two split fractions. Never trained on, never used for a choice.")
    teacher: str | None = setting(None, "Distil: learn from this run's (or ensemble's) probabilities as soft targets.")
    distill_alpha: float = setting(0.5, "With --teacher: target = alpha * label + (1 - alpha) * teacher probability.")
    title_dropout: float = setting(
        0.0, "With a title among the text columns: share of training rows shown without their title each epoch (drawn "
        "anew each epoch), so the model also reads catalogues that have no title column.")

    backbone: str = setting(DEFAULT_BACKBONE, "qwen3-0.6b, minilm, a Hugging Face model id or a local folder.")
    pooling: str = setting("auto", "auto, last, mean or cls.")
    """auto: last for a decoder, mean for an encoder."""
    max_length: int = setting(128, "Tokens per synopsis.")
    """Longer ones are truncated."""
    lora_r: int = setting(8, "LoRA rank.")
    lora_alpha: int = setting(16, "LoRA alpha.")
    """The LoRA scale is alpha / r."""
    lora_dropout: float = setting(0.05, "LoRA dropout.")
    lora_targets: list[str] | None = setting(None, "Modules to adapt [default: detected from the backbone: q_proj,v_proj; "
                                                   "query,value (BERT); c_attn (GPT-2) ...].")
    """None: the q/v projections detected from the backbone."""
    head_dropout: float = setting(0.1, "Dropout before the linear head.")
    trust_remote_code: bool = setting(False, "Run model code shipped with a hub model.")

    lr: float = setting(5e-4, "Peak learning rate (AdamW).")
    batch_size: int = setting(16, "Rows per step.")
    epochs: int = setting(4, "Passes over the training split.")
    weight_decay: float = setting(0.01, "AdamW weight decay.")
    warmup_ratio: float = setting(0.06, "Fraction of steps to warm up.")
    schedule: str = setting("linear", "linear, cosine or constant decay after warm-up.")
    grad_clip: float = setting(1.0, "Gradient-norm clip (0: off).")
    loss: str = setting("bce", "bce (the report), weighted-bce, focal or asl.")
    """asl: asymmetric loss (`genretag.losses`)."""
    pos_weight_power: float = setting(0.5, "weighted-bce: (neg/pos) ** power.")
    pos_weight_cap: float = setting(10.0, "weighted-bce: cap on pos_weight.")
    label_smoothing: float = setting(
        0.0, "Label smoothing: the 0/1 labels become eps/2 and 1 - eps/2 (before a --teacher's probabilities are "
        "mixed in).")
    rdrop: float = setting(
        0.0, "R-Drop: weight of the symmetric KL between two dropout passes of each batch (0: off); doubles the "
        "compute of a step.")
    """Liang et al. (2021); each row is read twice in one batch, the loss is the mean of both passes plus this."""
    oversample: bool = setting(False, "Repeat rows of rare genres (up to --oversample-max times).")
    oversample_max: int = setting(4, "--oversample: the most times a row is repeated.")
    thresholds: str = setting("per-genre", "fixed, global or per-genre (tuned on validation; a genre with fewer than "
                                           "5 validation positives takes the global one).")
    threshold: float = setting(0.5, "The fixed threshold (--thresholds fixed).")
    """Also where tuning starts."""
    at_least_one: bool = setting(True, "Every movie gets its most likely genre when none passes.")
    max_genres: int | None = setting(None, "At most this many genres per movie.")
    blend_tfidf: bool = setting(False, "Blend with a TF-IDF model; weight chosen on validation.")
    seed: int = setting(42, "Random seed.")
    """For sampling, splitting, initialisation and shuffling."""
    init_seed: int | None = setting(
        None, "Seed for initialisation and batch order alone (default: --seed): another model on the same split.")
    """Also of dropout: another value trains another model on the same split, e.g. a member of an ensemble."""
    bucket: bool = setting(True, "Group rows of similar length in a batch (less padding, same data).")
    eval_batch_size: int = setting(64, "Rows per batch when predicting.")
    precision: str = setting(
        "auto", "auto (bf16 autocast where the CPU or GPU has native bf16, else fp32), fp32 or bf16.")
    gradient_checkpointing: bool = setting(False, "Recompute activations in backward: less memory, slower.")
    compile: str = setting(
        "auto", "torch.compile the model, batches padded to multiples of 32 tokens: on, off, or auto (off on a CPU; "
        "on a GPU when the first eager steps, timed, say it pays off).")

    def __post_init__(self):
        self.split = tuple(float(x) for x in self.split)
        if self.lora_targets:  # "q_proj,q_proj" is q_proj once
            self.lora_targets = list(dict.fromkeys(self.lora_targets))
        checks = [
            ("lr", self.lr > 0 and math.isfinite(self.lr), f"must be a positive finite number, got {self.lr}"),
            ("batch_size", self.batch_size >= 1, f"must be at least 1, got {self.batch_size}"),
            ("epochs", self.epochs >= 1, f"must be at least 1, got {self.epochs}"),
            ("max_length", self.max_length >= 8, f"must be at least 8 tokens, got {self.max_length}"),
            ("lora_r", self.lora_r >= 1, f"must be at least 1, got {self.lora_r}"),
            ("lora_alpha", self.lora_alpha > 0, f"must be positive, got {self.lora_alpha}"),
            ("lora_dropout", 0 <= self.lora_dropout < 1, f"must be in [0, 1), got {self.lora_dropout}"),
            ("head_dropout", 0 <= self.head_dropout < 1, f"must be in [0, 1), got {self.head_dropout}"),
            ("weight_decay", self.weight_decay >= 0, f"must be >= 0, got {self.weight_decay}"),
            ("warmup_ratio", 0 <= self.warmup_ratio < 1, f"must be in [0, 1), got {self.warmup_ratio}"),
            ("grad_clip", self.grad_clip >= 0, f"must be >= 0, got {self.grad_clip}"),
            ("threshold", 0 < self.threshold < 1, f"must be in (0, 1), got {self.threshold}"),
            ("schedule", self.schedule in SCHEDULES, one_of(SCHEDULES, self.schedule)),
            ("thresholds", self.thresholds in THRESHOLD_MODES, one_of(THRESHOLD_MODES, self.thresholds)),
            ("max_genres", self.max_genres is None or self.max_genres >= 1,
             f"must be at least 1, got {self.max_genres}"),
            ("pos_weight_power", self.pos_weight_power >= 0, f"must be >= 0, got {self.pos_weight_power}"),
            ("pos_weight_cap", self.pos_weight_cap >= 1, f"must be at least 1, got {self.pos_weight_cap}"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, f"must be in [0, 1), got {self.label_smoothing}"),
            ("rdrop", self.rdrop >= 0 and math.isfinite(self.rdrop), f"must be >= 0, got {self.rdrop}"),
            ("oversample_max", self.oversample_max >= 1, f"must be at least 1, got {self.oversample_max}"),
            ("backbone", bool(str(self.backbone).strip()), "must name a model (a preset, a Hugging Face id or a "
                                                              "folder), got an empty value"),
            ("loss", self.loss in LOSSES, one_of(LOSSES, self.loss)),
            ("pooling", self.pooling in POOLINGS, one_of(POOLINGS, self.pooling)),
            ("min_support", self.min_support >= 1, f"must be at least 1, got {self.min_support}"),
            ("sample", self.sample is None or self.sample >= 10, f"must be at least 10 rows, got {self.sample}"),
            (("test_rows", "sample"), not (self.test_rows and self.sample), "cannot be combined"),
            ("distill_alpha", 0 <= self.distill_alpha <= 1, f"must be in [0, 1], got {self.distill_alpha}"),
            ("title_dropout", 0 <= self.title_dropout < 1, f"must be in [0, 1), got {self.title_dropout}"),
            ("split", len(self.split) == 3 and all(x >= 0 for x in self.split) and abs(sum(self.split) - 1) < 1e-6
             and self.split[0] > 0 and self.split[1] > 0,
             f"must be three fractions summing to 1 with train and validation > 0, got {self.split}"),
            ("eval_batch_size", self.eval_batch_size >= 1, f"must be at least 1, got {self.eval_batch_size}"),
            # numpy's and torch's generators take 0 ... 2**32 - 1 (numpy) / 2**63 - 1 (torch)
            ("seed", 0 <= self.seed < 2**32, f"must be a whole number from 0 to {2**32 - 1}, got {self.seed}"),
            ("init_seed", self.init_seed is None or 0 <= self.init_seed < 2**32,
             f"must be a whole number from 0 to {2**32 - 1}, got {self.init_seed}"),
            ("precision", self.precision in PRECISIONS, one_of(PRECISIONS, self.precision)),
            ("compile", self.compile in COMPILE_CHOICES, one_of(COMPILE_CHOICES, self.compile)),
        ]
        for name, ok, problem in checks:
            if not ok:
                raise ConfigError(name, problem)

    @property
    def training_seed(self) -> int:
        """The seed of initialisation, dropout and batch order."""
        return self.seed if self.init_seed is None else self.init_seed

    def model_spec(self, num_labels: int, *, backbone: str | None = None, pooling: str | None = None) -> ModelSpec:
        """The architecture these settings describe, for ``num_labels`` genres."""
        settings = {name: getattr(self, name) for name in ModelSpec.settings()}
        return ModelSpec(num_labels=num_labels, **{**settings, "backbone": backbone or self.backbone,
                                                   "pooling": pooling or self.pooling})

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


@dataclass
class ModelSpec:
    """What is needed to rebuild the model architecture: `TrainConfig`'s model settings and the genre count.

    The settings are TrainConfig's, with its defaults and its checks; `TrainConfig.model_spec`
    fills them from a config.
    """

    backbone: str
    num_labels: int
    pooling: str = TrainConfig.pooling
    lora_r: int = TrainConfig.lora_r
    lora_alpha: int = TrainConfig.lora_alpha
    lora_dropout: float = TrainConfig.lora_dropout
    lora_targets: list[str] | None = TrainConfig.lora_targets
    head_dropout: float = TrainConfig.head_dropout
    trust_remote_code: bool = TrainConfig.trust_remote_code

    def __post_init__(self):
        if self.num_labels < 1:
            raise ConfigError("num_labels", f"must be at least 1, got {self.num_labels}")
        TrainConfig(**{name: getattr(self, name) for name in self.settings()})  # TrainConfig's checks

    @classmethod
    def settings(cls) -> tuple[str, ...]:
        """The `TrainConfig` fields a spec holds."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "num_labels")
