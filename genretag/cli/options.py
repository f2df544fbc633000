"""The options of ``train`` (shared by ``tune`` and ``distill``): one table over `TrainConfig`.

An option named after a `TrainConfig` field takes the field's type, default and help unless
the table says otherwise (another flag, a path to read, a comma list to parse); the CLI's
own options (``--config``, ``--out``, ``--device`` ...) are declared in full. The table's
order is ``--help``'s. A command takes ``ctx`` and ``**options`` and gets its signature, which
Typer reads, from `command`; `config_from_options` turns the options into a `TrainConfig`.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import typing
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..config import TrainConfig
from ..configfile import apply_config_file
from ..errors import ConfigError, DataError
from .common import COLUMNS_HELP, NO_HEADER_HELP, SEP_HELP, column_values, field_names, separator, split_list

FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_FIELD_TYPES = typing.get_type_hints(TrainConfig)
_FROM_FIELD = object()


@dataclass(frozen=True)
class Option:
    """One option (or, with ``argument``, a positional argument) of a command.

    Attributes:
        name: The parameter name; a `TrainConfig` field's name for a setting.
        flags: The option's flags [default: Typer's, ``--name-with-dashes``].
        type: The type Typer parses [default: the field's].
        default: [default: the field's].
        help: [default: the field's help].
        parse: The typed value → the field's value [default: as typed].
    """

    name: str
    flags: tuple[str, ...] = ()
    type: Any = _FROM_FIELD
    default: Any = _FROM_FIELD
    help: str | None = None
    parse: Callable[[Any], Any] | None = None
    argument: bool = False

    def parameter(self) -> inspect.Parameter:
        """The keyword parameter Typer turns into this option."""
        field = FIELDS.get(self.name)
        kind = _FIELD_TYPES[self.name] if self.type is _FROM_FIELD else self.type
        default = field.default if self.default is _FROM_FIELD else self.default
        help = self.help if self.help is not None else field.metadata["help"].replace("[", "\\[")  # rich markup
        info = typer.Argument(help=help) if self.argument else typer.Option(*self.flags, help=help)
        return inspect.Parameter(self.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=Annotated[kind, info])


def command(*options: Option) -> Callable:
    """Decorate ``func(ctx, **options)``: its signature (what Typer reads) becomes ``options``."""

    def decorate(func):
        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        func.__signature__ = inspect.Signature([context, *(o.parameter() for o in options)], return_annotation=None)
        return func

    return decorate


def fractions(text: str) -> tuple[float, ...]:
    """``--split 0.7,0.15,0.15`` as numbers."""
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError("split", f"must be three fractions such as 0.7,0.15,0.15, got '{text}'") from None


TRAIN_OPTIONS = (
    Option("data", ("--data", "-d"), Optional[Path], None, parse=lambda path: str(path) if path else ""),
    Option("config_file", ("--config",), Optional[Path], None, "TOML file of options; options typed here override it."),
    Option("out", ("--out", "-o"), Optional[Path], None, "Run directory \\[default: runs/<backbone>-<time>]."),
    Option("backbone"),
    Option("text_cols", ("--text-col",), parse=column_values),
    Option("genres_col"),
    Option("sep", help=SEP_HELP, parse=separator),
    Option("no_header", ("--no-header",), help=NO_HEADER_HELP),
    Option("columns", help=COLUMNS_HELP, parse=field_names),
    Option("sample"),
    Option("split", type=str, default=",".join(map(str, TrainConfig.split)), parse=fractions),
    Option("min_support"),
    Option("genre_map", type=Optional[Path], parse=lambda path: str(path.resolve()) if path else None),
    # Names a run; its test rows become the field (`config_from_options`, which knows --data).
    Option("test_rows", ("--test-from",), Optional[Path], None,
           "Hold out the test rows of this run (or split.json) of the same file; the other rows are split "
           "train/validation by --split's first two fractions."),
    Option("teacher", type=Optional[Path], parse=lambda path: str(path) if path else None),
    Option("distill_alpha"),
    Option("title_dropout"),
    Option("lr"),
    Option("batch_size", ("--batch-size", "--batch")),
    Option("epochs"),
    Option("max_length"),
    Option("weight_decay"),
    Option("warmup_ratio"),
    Option("schedule"),
    Option("grad_clip"),
    Option("lora_r"),
    Option("lora_alpha"),
    Option("lora_dropout"),
    Option("lora_targets", parse=split_list),
    Option("pooling"),
    Option("loss"),
    Option("pos_weight_power"),
    Option("pos_weight_cap"),
    Option("label_smoothing"),
    Option("rdrop", ("--rdrop",)),
    Option("oversample", ("--oversample/--no-oversample",)),
    Option("oversample_max"),
    Option("thresholds"),
    Option("threshold"),
    Option("at_least_one"),
    Option("max_genres"),
    Option("blend_tfidf", ("--blend-tfidf/--no-blend-tfidf",)),
    Option("seed"),
    Option("init_seed"),
    Option("device", type=Optional[str], default=None, help="cpu, cuda, cuda:1 ... \\[default: cuda if present]."),
    Option("precision"),
    Option("gradient_checkpointing", ("--gradient-checkpointing/--no-gradient-checkpointing",)),
    Option("compile"),
    Option("trust_remote_code"),
    Option("force", ("--force",), bool, False, "Replace an existing --out."),
    Option("resume", ("--resume",), bool, False, "Continue an interrupted training of --out from its last epoch."),
)
"""``genretag train``'s options, in ``--help`` order. The fields left out (``head_dropout``,
``bucket``, ``eval_batch_size``) are set in a ``--config`` file."""


def config_from_options(options: dict, *, config_file: Path | None = None, given: Collection[str] = ()) -> TrainConfig:
    """The `TrainConfig` of a command's options: each setting by its field name, parsed; a
    ``--config`` file merged under the ``given`` ones. Settings missing from ``options`` keep
    their defaults (``tune`` sets its grid's axes itself).

    Raises:
        DataError: No training data, neither ``--data`` nor in the file.
        ConfigError: A setting out of range (`TrainConfig`).
    """
    values = {}
    for option in TRAIN_OPTIONS:
        if option.name in FIELDS and option.name in options and option.name != "test_rows":
            value = options[option.name]
            values[option.name] = option.parse(value) if option.parse else value
    values["test_rows"] = _test_rows(options.get("test_rows"), options.get("data"))
    config = apply_config_file(config_file, TrainConfig(**values), given=given)
    if not config.data:
        where = f" or data = \"...\" in {config_file}" if config_file else ""
        raise DataError(f"no training data given; pass --data movies.csv{where}")
    if "distill_alpha" in given and not config.teacher:
        logging.getLogger("genretag").warning("--distill-alpha %g is not used: it mixes a --teacher's probabilities "
                                              "into the targets, and none is given", config.distill_alpha)
    if "oversample_max" in given and not config.oversample:
        logging.getLogger("genretag").warning("--oversample-max %d is not used: it caps --oversample, which is off",
                                              config.oversample_max)
    for name in ("pos_weight_power", "pos_weight_cap"):
        if name in given and config.loss != "weighted-bce":
            logging.getLogger("genretag").warning("--%s %g is not used: it weighs positives for --loss weighted-bce, "
                                                  "and the loss is %s", name.replace("_", "-"), getattr(config, name),
                                                  config.loss)
    if config.teacher and config.distill_alpha == 1:
        logging.getLogger("genretag").warning("--teacher %s is not used for learning: --distill-alpha 1 takes the "
                                              "labels alone (lower it to learn from the teacher)", config.teacher)
    if "lora_targets" in given and options.get("lora_targets") is not None and not config.lora_targets:
        raise ConfigError("lora_targets", "is empty; name the layers to adapt (e.g. q_proj,v_proj), or leave it out "
                                          "for the backbone's default")
    if "threshold" in given and config.thresholds != "fixed":
        logging.getLogger("genretag").warning(
            "--threshold %g is not used: with --thresholds %s the thresholds are tuned on validation; pass "
            "--thresholds fixed to use it", config.threshold, config.thresholds)
    return config


def _test_rows(source: Path | None, data: Path | None) -> list[int] | None:
    from ..holdout import held_out_rows

    if not source:
        return None
    if not data:
        raise DataError("--test-from needs --data: the file whose rows it names")
    return held_out_rows(source, data)
