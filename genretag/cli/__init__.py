"""The ``genretag`` command line: one module per command, each a thin layer over the core."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Annotated

import typer
from typer.core import TyperGroup

from .. import __version__
from . import distill as _distill
from . import ensemble as _ensemble
from . import evaluate as _evaluate
from . import export as _export
from . import info as _info
from . import merge as _merge
from . import retune as _retune
from . import soup as _soup
from . import tag as _tag
from . import train as _train
from . import tune as _tune
from .common import state

#: Options of the whole tool that a user may also type after the command (`genretag tag x.csv -q`).
GLOBAL_FLAGS = frozenset({"-q", "--quiet", "-v", "--verbose"})


class _Group(TyperGroup):
    """Moves `GLOBAL_FLAGS` typed after the command name in front of it, where Click reads them."""

    def parse_args(self, ctx, args):
        # the command comes after any global flags typed before it (`genretag --verbose info RUN --quiet`)
        at = next((i for i, a in enumerate(args) if a not in GLOBAL_FLAGS), len(args))
        if at < len(args) and args[at] in self.commands:
            end = args.index("--") if "--" in args else len(args)
            moved = [a for a in args[at + 1:end] if a in GLOBAL_FLAGS]
            if moved:
                rest = [a for a in args[at + 1:end] if a not in GLOBAL_FLAGS]
                args = [*args[:at], *moved, args[at], *rest, *args[end:]]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_Group,
    name="genretag",
    help="Tag movies with their genres from a synopsis: train a LoRA tagger, evaluate it, tag CSV files.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"genretag {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show debug logs (and an internal error's traceback).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and results; no progress.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """genretag: multi-label movie genre tagging with a LoRA-adapted language model."""
    state.quiet = quiet
    state.verbose = verbose
    if not verbose:
        # Deprecation notices from transformers/peft internals are not the user's to act on.
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig(level=level), with warnings marked as such
        handler = logging.StreamHandler()
        handler.setFormatter(_Formatter())
        root.addHandler(handler)
        root.setLevel(level)
    # Library chatter (hub, tokenizers) is noise for a CLI user unless asked.
    for noisy in ("transformers", "peft", "huggingface_hub", "httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.ERROR)
    # transformers sets its logger's level anew when it is first imported (later, lazily): from this.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "debug" if verbose else "error")
    # Library warnings (scikit-learn, numpy, torch) become debug logs: what a user must know,
    # genretag says itself in its own words; --verbose shows the raw ones.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.DEBUG if verbose else logging.ERROR)


class _Formatter(logging.Formatter):
    """Status lines as they are; a warning starts with "warning: ", as evaluate's own warnings do."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return f"warning: {message}" if record.levelno == logging.WARNING and not message.startswith("warning:") else message


app.command("train")(_train.train_cli)
app.command("tune")(_tune.tune_cli)
app.command("distill")(_distill.distill_cli)
app.command("tag")(_tag.tag_cli)
app.command("merge-shards")(_merge.merge_cli)
app.command("ensemble")(_ensemble.ensemble_cli)
app.command("soup")(_soup.soup_cli)
app.command("retune")(_retune.retune_cli)
app.command("evaluate")(_evaluate.evaluate_cli)
app.command("export")(_export.export_cli)
app.command("info")(_info.info_cli)
