"""What every command shares: the consoles, error handling, progress and model lookup."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from ..errors import ConfigError, GenretagError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

# Options of the commands that combine trained runs (`ensemble`, `soup`).
BlendTfidfOption = Annotated[Optional[bool], typer.Option(
    "--blend-tfidf/--no-blend-tfidf", help="Blend with a TF-IDF model, weight chosen on validation \\[default: as "
                                           "the first run].")]
DeviceOption = Annotated[Optional[str], typer.Option("--device", help="cpu, cuda, cuda:1 ... \\[default: cuda if "
                                                                      "present].")]
MovedBackboneOption = Annotated[Optional[str], typer.Option(
    "--backbone", help="The runs' backbone where it is now, if its folder moved since training.")]
MovedDataOption = Annotated[Optional[Path], typer.Option(
    "--data", help="The runs' training data where it is now, if it moved since training (checked by its content).")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing --out.")]


@dataclass
class _State:
    quiet: bool = False
    verbose: bool = False


state = _State()


def fail(message: str, code: int = 1) -> None:
    """Print one red line on stderr and exit with ``code``."""
    from rich.markup import escape

    message = " ".join(str(message).split())  # one line, whatever the exception held
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def handle_errors(func):
    """Turn exceptions into one red line and an exit code (no traceback).

    A `GenretagError` is the user's to fix: its message, its exit code (a `ConfigError`
    names the flag of the parameter it names). Anything else is a bug in genretag: one
    "internal error" line and exit 1, the traceback with ``genretag --verbose``.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):  # Typer's own ways out
            raise
        except ConfigError as exc:
            fail(exc.describe(flag_names(kwargs.get("ctx"))), exc.exit_code)
        except GenretagError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted; finished outputs are intact, nothing half-written replaced them", 130)
        except MemoryError:
            fail("out of memory; lower --batch-size (or --max-length)", 1)
        except OSError as exc:  # a full disk, a read-only folder, a missing permission
            where = f": {exc.filename}" if exc.filename else ""
            fail(f"{exc.strerror or exc}{where}; check the path, its permissions and the free disk space", 1)
        except Exception as exc:
            if type(exc).__name__ == "OutOfMemoryError":  # torch's, without importing torch here
                fail("out of GPU memory; lower --batch-size (or --max-length), or pass --device cpu", 1)
            if state.verbose:
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (please report it; run with genretag --verbose "
                 "for the traceback)", 1)

    return wrapper


def flag_names(ctx: typer.Context | None) -> Callable[[str], str]:
    """Parameter name → how the command line names it: its first long flag (``batch_size`` →
    ``--batch-size``), an argument's metavar. Without the command's context: the flag by convention."""
    if ctx is None:
        return lambda name: "--" + name.replace("_", "-")
    names = {}
    for param in ctx.command.params:
        if param.param_type_name == "argument":
            # Typer's vendored click names it by its metavar (no human_readable_name)
            names[param.name] = getattr(param, "human_readable_name", None) or (param.name or "").upper()
        else:
            names[param.name] = next((o for o in param.opts if o.startswith("--")), param.opts[0])
    return lambda name: names.get(name, name)


def given_options(ctx: typer.Context) -> set[str]:
    """The parameters typed on the command line (or set through the environment), not defaults."""
    # By name: Typer vendors its own click, whose ParameterSource is not click's.
    return {name for name in ctx.params
            if (source := ctx.get_parameter_source(name)) is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")}


def show_progress() -> bool:
    """Progress bars only on a terminal and when not ``--quiet``."""
    return not state.quiet and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def info(message: str) -> None:
    """A status line on stderr (hidden by ``--quiet``), so stdout stays for results."""
    if not state.quiet:
        err_console.print(message, highlight=False, soft_wrap=True)


def split_list(values: list[str] | None) -> list[str] | None:
    """Accept ``--x a,b`` and ``--x a --x b`` alike."""
    if not values:
        return None
    out = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return out or None


SEP_HELP = "Field separator, such as ';' or ' ::: ' or tab \\[default: detected]."
NO_HEADER_HELP = "The file has no header row: its first row is data (name the fields with --columns)."
COLUMNS_HELP = "Names of the fields of a file without a header row, in order, e.g. id,title,genres,overview."


def column_values(values: list[str] | None) -> list[str] | None:
    """``--text-col`` values as typed: the core splits them once it knows the file's columns, so a
    column whose name holds a comma can be named whole (`genretag.data.split_columns`)."""
    out = [v.strip() for v in values or [] if v.strip()]
    if values and not any(v.strip(' ,"\'') for v in out):  # '', ' ', ',' and '""' name no column
        from ..errors import DataError

        raise DataError("--text-col is empty; give a column name (or leave the option out to detect the synopsis)")
    return out or None


def separator(sep: str | None) -> str | None:
    """``--sep`` as meant: ``'\\t'`` (a backslash and a t, as shells pass it) and ``tab`` mean a tab."""
    return "\t" if sep in ("\\t", "tab", "TAB") else sep


def field_names(columns: list[str] | None) -> list[str] | None:
    """``--columns id,title`` (or repeated, or with a quoted name holding a comma) as a list of names."""
    import csv as csv_module

    names = [n.strip() for value in columns or [] for row in csv_module.reader([value]) for n in row]
    return names or None


def read_options(sep: str | None, no_header: bool, columns: list[str] | None):
    """The `genretag.formats.ReadOptions` of ``--sep``, ``--no-header`` and ``--columns`` (checked)."""
    from ..formats import ReadOptions

    names = field_names(columns)
    return ReadOptions(sep=separator(sep), header=not no_header, columns=tuple(names) if names else None)


def saved_text_cols(model) -> list[str] | None:
    """The text columns of the run ``tag``/``evaluate`` will load, read without loading it (or torch).

    Only asked when a file's text column cannot be detected; None when unknown.
    """
    import json
    from pathlib import Path

    if model is None:
        from ..rundir import resolve_model

        try:
            model = resolve_model(None)
        except Exception:
            return None
    try:
        config = json.loads((Path(model) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cols = config.get("text_cols") if isinstance(config, dict) else None
    return list(cols) if isinstance(cols, list) and cols else None


@contextlib.contextmanager
def row_progress(label: str):
    """A rich bar counting rows (when `show_progress`); yields ``advance(n)`` or None."""
    if not show_progress():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
    task = progress.add_task(label, total=None)
    progress.start()
    try:
        yield lambda n: progress.advance(task, n)
    finally:
        progress.stop()
