"""The grid: the values each axis takes, the trials they make, and the plan of `train` calls.

A trial is one point of learning rate × batch size × epochs (× the variant axes a grid
varies). The plan groups the unfinished trials into `train` calls: with epoch reuse, the
shorter trials of one (lr, batch, variant) are read from the first epochs of the longest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..config import one_of
from ..errors import ConfigError

#: The original report's grid.
DEFAULT_LR: tuple[float, ...] = (1e-4, 5e-4, 1e-5)
DEFAULT_BATCH: tuple[int, ...] = (8, 12, 16)
DEFAULT_EPOCHS: tuple[int, ...] = (4, 8)
#: Config fields the grid varies; every other field is the "base config" shared by all trials.
AXES = ("lr", "batch_size", "epochs")
#: Further config fields a grid may vary (each only when given more than the base value), with the
#: short name a trial id uses for them: ``lr2e-3_b16_e6_r8_a0.5``.
VARIANT_AXES = {"lora_r": "r", "loss": "loss-", "max_length": "len", "text_cols": "in-", "distill_alpha": "a"}


@dataclass(frozen=True)
class Trial:
    """One point of the grid."""

    lr: float
    batch_size: int
    epochs: int
    variant: tuple = ()
    """``((field, value), ...)`` of the `VARIANT_AXES` the grid varies (a list value as a tuple)."""

    @property
    def id(self) -> str:
        """Folder name, e.g. ``lr5e-4_b16_e4`` or ``lr2e-3_b16_e6_r8_a0.5``."""
        return f"lr{format_lr(self.lr)}_b{self.batch_size}_e{self.epochs}" + "".join(
            f"_{VARIANT_AXES[k]}{format_value(v)}" for k, v in self.variant)

    @property
    def changes(self) -> dict:
        """The config fields this trial sets (``text_cols`` as a list)."""
        out = {"lr": self.lr, "batch_size": self.batch_size, "epochs": self.epochs}
        out.update({k: list(v) if isinstance(v, tuple) else v for k, v in self.variant})
        return out

    @property
    def variant_label(self) -> str:
        """The variant for a table, e.g. ``lora_r=8 distill_alpha=0.5`` ("" without variants)."""
        return " ".join(f"{k}={format_value(v)}" for k, v in self.variant)


def format_value(value) -> str:
    """A variant value for names: tuples joined with "+", floats without trailing zeros."""
    if isinstance(value, (tuple, list)):
        return "+".join(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_lr(lr: float) -> str:
    """Short, exact-enough learning rate for names: 0.0005 → ``5e-4``, 0.00025 → ``2.5e-4``."""
    mantissa, exponent = f"{lr:.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


@dataclass
class Grid:
    """Values to try on each axis (order kept, duplicates dropped)."""

    lr: list[float] = field(default_factory=lambda: list(DEFAULT_LR))
    batch_size: list[int] = field(default_factory=lambda: list(DEFAULT_BATCH))
    epochs: list[int] = field(default_factory=lambda: list(DEFAULT_EPOCHS))
    variants: dict = field(default_factory=dict)
    """``{field: [values]}`` for `VARIANT_AXES` (an axis of one value is not varied)."""
    repeated: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    """``{field: {value: times given}}`` of the values given more than once (each is tried once)."""

    def __post_init__(self):
        unknown = sorted(set(self.variants) - set(VARIANT_AXES))
        if unknown:
            raise ValueError(f"cannot vary {', '.join(unknown)}; tune varies {', '.join(VARIANT_AXES)}")
        given = {"lr": [float(x) for x in self.lr], "batch_size": [int(x) for x in self.batch_size],
                 "epochs": [int(x) for x in self.epochs],
                 **{k: [tuple(v) if isinstance(v, list) else v for v in values] for k, values in self.variants.items()}}
        self.repeated = {axis: {v: values.count(v) for v in dict.fromkeys(values) if values.count(v) > 1}
                         for axis, values in given.items()}
        self.repeated = {axis: counts for axis, counts in self.repeated.items() if counts}
        self.variants = {k: list(dict.fromkeys(tuple(v) if isinstance(v, list) else v for v in values))
                         for k, values in self.variants.items() if values}
        self.lr = list(dict.fromkeys(float(x) for x in self.lr))
        self.batch_size = list(dict.fromkeys(int(x) for x in self.batch_size))
        self.epochs = list(dict.fromkeys(int(x) for x in self.epochs))
        checks = [
            (("lr", "batch_size", "epochs"), self.lr and self.batch_size and self.epochs,
             "need at least one value each; the grid is empty"),
            ("lr", all(x > 0 and math.isfinite(x) for x in self.lr), f"values must be positive finite numbers, got {self.lr}"),
            ("batch_size", all(x >= 1 for x in self.batch_size), f"values must be at least 1, got {self.batch_size}"),
            ("epochs", all(x >= 1 for x in self.epochs), f"values must be at least 1, got {self.epochs}"),
        ]
        for name, ok, problem in checks:
            if not ok:
                raise ConfigError(name, problem)
        same = {}
        for lr in self.lr:  # trials are named by the learning rate to 7 digits: two in one name would clash
            same.setdefault(format_lr(lr), []).append(lr)
        for name, values in same.items():
            if len(values) > 1:
                raise ConfigError("lr", f"{' and '.join(f'{v!r}' for v in values)} are one value in trial names "
                                        f"({name}); give learning rates that differ in the first 7 digits")
        for axis, values in self.variants.items():
            named = {}
            for value in values:
                named.setdefault(format_value(value), []).append(value)
            for name, clash in named.items():
                if len(clash) > 1:
                    raise ConfigError(axis, f"{' and '.join(repr(v) for v in clash)} are one value in trial names "
                                            f"({name}); give values that differ in the first 6 digits")

    def varied(self) -> dict:
        """The variant axes with more than one value, in `VARIANT_AXES` order."""
        return {k: self.variants[k] for k in VARIANT_AXES if len(self.variants.get(k, [])) > 1}

    def trials(self) -> list[Trial]:
        """Every trial, grouped by (lr, batch, variant) with epochs ascending inside a group."""
        import itertools

        varied = self.varied()
        variants = [tuple(zip(varied, values)) for values in itertools.product(*varied.values())]
        return [Trial(lr, b, e, v) for lr in self.lr for b in self.batch_size for v in variants
                for e in sorted(self.epochs)]

    def to_dict(self) -> dict:
        """JSON-ready axes."""
        out = {"lr": self.lr, "batch_size": self.batch_size, "epochs": self.epochs}
        out.update({k: [list(v) if isinstance(v, tuple) else v for v in values] for k, values in self.varied().items()})
        return out


def describe_repeated(grid: Grid, flag=lambda name: "--" + name.replace("_", "-")) -> str | None:
    """One line naming the grid values given more than once (`Grid.repeated`), or None.

    Args:
        grid: The grid.
        flag: Field name → how the user named it (the CLI's flag).
    """
    if not grid.repeated:
        return None
    said = [f"{flag(axis)} {format_lr(v) if axis == 'lr' else ','.join(v) if isinstance(v, tuple) else format_value(v)}"
            f" ({n} times)"
            for axis, counts in grid.repeated.items() for v, n in counts.items()]
    return f"values given more than once are tried once: {', '.join(said)}"


def parse_grid(lr: list[str] | None = None, batch: list[str] | None = None, epochs: list[str] | None = None,
               variants: dict | None = None) -> Grid:
    """Build a `Grid` from CLI values: comma lists and/or repeated options; None → the report's axis.

    ``variants`` maps `VARIANT_AXES` to CLI values the same way: ``lora_r``, ``max_length``
    (whole numbers), ``distill_alpha`` (numbers) and ``loss`` (names) as comma lists;
    ``text_cols`` as repeated values, each a comma list of columns joined into one input.

    Raises:
        ConfigError: A value is not a number of the right kind, named by its axis.
    """

    def axis(values, name: str, kind, example: str, default):
        if not values:
            return list(default)
        items = [v.strip() for value in values for v in str(value).split(",")]
        if not all(items):
            given = ",".join(map(str, values))
            raise ConfigError(name, f"has an empty value in '{given}'; give a comma list such as {example}")
        out = []
        for item in items:
            try:
                number = float(item)
            except ValueError:
                problem = f"value '{item}' is not a number; give a comma list such as {example}"
                raise ConfigError(name, problem) from None
            if kind is int:
                if not number.is_integer():
                    problem = f"value '{item}' is not a whole number; give a comma list such as {example}"
                    raise ConfigError(name, problem)
                number = int(number)
            out.append(number)
        return out

    from ..config import LOSSES

    def names(values, name: str, allowed) -> list[str]:
        items = [v.strip() for value in values for v in str(value).split(",")]
        bad = [v for v in items if v not in allowed]
        if bad:
            raise ConfigError(name, one_of(allowed, bad[0]))
        return items

    parsed = {}
    for key, values in (variants or {}).items():
        if not values:
            continue
        if key in ("lora_r", "max_length"):
            parsed[key] = axis(values, key, int, "8,16", ())
        elif key == "distill_alpha":
            parsed[key] = axis(values, key, float, "0.3,0.7", ())
        elif key == "loss":
            parsed[key] = names(values, key, LOSSES)
        elif key == "text_cols":
            parsed[key] = [tuple(c.strip() for c in str(v).split(",") if c.strip()) for v in values]
        else:
            raise ValueError(f"cannot vary {key}; tune varies {', '.join(VARIANT_AXES)}")
    return Grid(
        lr=axis(lr, "lr", float, "1e-4,5e-4", DEFAULT_LR),
        batch_size=axis(batch, "batch_size", int, "8,16", DEFAULT_BATCH),
        epochs=axis(epochs, "epochs", int, "4,8", DEFAULT_EPOCHS),
        variants=parsed,
    )


@dataclass
class PlannedRun:
    """One call of `train`: the trial it trains and the shorter trials read from its first epochs."""

    trial: Trial
    snapshots: list[Trial] = field(default_factory=list)


@dataclass
class Plan:
    """What a `tune` call will do, before it does it."""

    trials: list[Trial]
    finished: list[Trial]
    runs: list[PlannedRun]
    reuse: bool
    epochs_done: dict[str, int] = field(default_factory=dict)
    """Epochs an interrupted trial already trained, by trial id (it continues from its checkpoint)."""

    @property
    def epochs_to_train(self) -> int:
        """Epochs trained by this plan (an interrupted trial counts only the epochs it has left)."""
        return sum(r.trial.epochs - self.epochs_done.get(r.trial.id, 0) for r in self.runs)

    @property
    def epochs_naive(self) -> int:
        """Epochs the same unfinished trials would take, each trained from scratch."""
        return sum(r.trial.epochs + sum(s.epochs for s in r.snapshots) for r in self.runs)


def make_plan(grid: Grid, finished: set[str], *, reuse: bool) -> Plan:
    """Group the unfinished trials into `train` calls.

    Args:
        grid: The trials.
        finished: Ids of trials whose run directory is complete (not trained again).
        reuse: Read shorter trials from the first epochs of the longest one of the same
            (lr, batch); only exact when `training.epochs_reusable` holds.
    """
    trials = grid.trials()
    runs = []
    for lr in grid.lr:
        for b in grid.batch_size:
            for variant in dict.fromkeys(t.variant for t in trials):
                pending = [t for t in trials if t.lr == lr and t.batch_size == b and t.variant == variant
                           and t.id not in finished]
                if not pending:
                    continue
                if reuse:
                    runs.append(PlannedRun(pending[-1], pending[:-1]))
                else:
                    runs.extend(PlannedRun(t) for t in pending)
    return Plan(trials=trials, finished=[t for t in trials if t.id in finished], runs=runs, reuse=reuse)


def grid_cost(grid: Grid, *, reuse: bool) -> dict[str, int]:
    """Epochs the whole grid takes from scratch: each trial on its own vs. with epoch reuse."""
    plan = make_plan(grid, set(), reuse=reuse)
    naive = sum(t.epochs for t in plan.trials)
    return {"trials": len(plan.trials), "trainings": len(plan.runs), "epochs_naive": naive,
            "epochs": plan.epochs_to_train}
