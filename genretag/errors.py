"""Exceptions that carry a message meant for the user.

Core code raises these with a clear one-line message that names the problem and the
fix; only the CLI turns them into a red line on stderr and a non-zero exit.
"""


class GenretagError(Exception):
    """Base class for every user-facing error (bad input, missing run, ...)."""

    exit_code = 1


class DataError(GenretagError):
    """The input CSV cannot be used as given (missing file, no text column, ...)."""

    exit_code = 2


class ModelError(GenretagError):
    """A backbone or run directory cannot be loaded."""

    exit_code = 3


class OutputExistsError(GenretagError):
    """An output file already exists and ``--force`` was not given."""

    exit_code = 4
