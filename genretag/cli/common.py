"""What every command shares: the consoles, error handling, progress and model lookup."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from dataclasses import dataclass

import typer
from rich.console import Console

from ..errors import GenretagError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@dataclass
class _State:
    quiet: bool = False


state = _State()


def fail(message: str, code: int = 1) -> None:
    """Print one red line on stderr and exit with ``code``."""
    from rich.markup import escape

    message = " ".join(str(message).split())  # one line, whatever the exception held
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def handle_errors(func):
    """Turn user-facing exceptions into one red line and an exit code (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except GenretagError as exc:
            fail(str(exc), exc.exit_code)
        except ValueError as exc:  # config validation (TrainConfig.__post_init__)
            fail(str(exc), 2)
        except KeyboardInterrupt:
            fail("interrupted; finished outputs are intact, nothing half-written replaced them", 130)
        except MemoryError:
            fail("out of memory; lower --batch-size (or --max-length)", 1)
        except RuntimeError as exc:
            if type(exc).__name__ != "OutOfMemoryError":  # torch's, without importing torch here
                raise
            fail("out of GPU memory; lower --batch-size (or --max-length), or pass --device cpu", 1)
        except OSError as exc:  # a full disk, a read-only folder, a missing permission
            where = f": {exc.filename}" if exc.filename else ""
            fail(f"{exc.strerror or exc}{where}; check the path, its permissions and the free disk space", 1)

    return wrapper


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
