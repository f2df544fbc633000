"""Exceptions that carry a message meant for the user.

Core code raises these with a clear one-line message that names the problem and the
fix; only the CLI turns them into a red line on stderr and a non-zero exit. Any other
exception reaching the CLI is a bug in genretag, reported as an internal error.
"""

from __future__ import annotations

from collections.abc import Callable


class GenretagError(Exception):
    """Base class for every user-facing error (bad input, missing run, ...)."""

    exit_code = 1


class DataError(GenretagError):
    """The input CSV cannot be used as given (missing file, no text column, ...)."""

    exit_code = 2


class ConfigError(GenretagError, ValueError):
    """A setting out of range or of an unknown kind, named by its Python parameter.

    ``ConfigError("lr", "must be positive, got -1")`` reads "lr must be positive, got -1";
    the CLI names the flag instead (`describe`). A `ValueError` too, as a Python caller of
    a validated dataclass expects.
    """

    exit_code = 2

    def __init__(self, params: str | tuple[str, ...], problem: str):
        self.params = (params,) if isinstance(params, str) else tuple(params)
        self.problem = problem
        super().__init__(self.describe())

    def describe(self, name: Callable[[str], str] = str) -> str:
        """The message with each parameter named by ``name`` (the CLI passes parameter → flag)."""
        return f"{' and '.join(name(p) for p in self.params)} {self.problem}"


class ModelError(GenretagError):
    """A backbone or run directory cannot be loaded."""

    exit_code = 3


class OutputExistsError(GenretagError):
    """An output file already exists and ``--force`` was not given."""

    exit_code = 4


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's first line, at most ``limit`` characters (its type's name when it has no text):
    what a one-line error quotes of a library's failure."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:limit]
