"""Reading a catalogue file: whole, in chunks, or a quick check of its first rows.

Format, encoding, separator and header detection live in `genretag.formats`; these are
the entry points training, evaluation and tagging share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..formats import FileFormat, ReadOptions, iter_tables, looks_like_data, read_table, sniff
from .cells import is_missing
from .columns import detect_columns, detect_title_column
from .genres import parse_genres


def read_csv(path: str | Path, *, nrows: int | None = None, read: ReadOptions | None = None) -> pd.DataFrame:
    """Read a catalogue file: delimited text with every column as ``str`` and empty cells as "".

    The encoding (UTF-8 with or without BOM, UTF-16 with BOM; a mostly-UTF-8 file has only
    its invalid bytes read as cp1252; else cp1252, else latin-1, with a logged warning) and
    the delimiter (``,`` tab ``;`` ``|`` `` ::: ``; tab for ``.tsv``; an Excel ``sep=``
    line) are detected. Quoted fields may contain newlines; a file whose quotes are not CSV
    quoting (IMDb's TSVs) has every quote read as a character, with a warning. Column names
    are kept as written, spaces included (a BOM is removed); rows that repeat the header
    (joined files) are left out, with a warning. ``.gz``, ``.bz2``, ``.xz`` and one-file
    ``.zip`` files are read as is; JSON Lines and Parquet files too, keeping their values'
    types, a named Parquet index as a column (`genretag.formats.read_table`).

    Args:
        path: The file.
        nrows: Read at most this many data rows (0 reads only the header).
        read: Separator and header options, when detection cannot know.

    Returns:
        The data, indexed by data-row number (0 = first row after the header).

    Raises:
        DataError: If the file is missing, a directory, empty, has only a header, has
            duplicate column names or cannot be parsed.
    """
    return read_table(path, read, nrows=nrows)


def iter_csv_chunks(path: str | Path, *, chunksize: int = 10_000, read: ReadOptions | None = None) -> Iterator[pd.DataFrame]:
    """Yield a catalogue file as DataFrames of at most ``chunksize`` rows.

    Parsing follows :func:`read_csv` (the format is detected once), and each chunk's
    index continues the data-row numbering, so memory stays bounded on files of
    millions of rows.

    Args:
        path: The file.
        chunksize: Largest number of rows per chunk.
        read: Separator and header options, when detection cannot know.

    Yields:
        DataFrames (every column ``str`` for delimited text).

    Raises:
        DataError: As :func:`read_csv`, also when a later chunk cannot be parsed.
    """
    return iter_tables(path, read, chunksize=chunksize)


def check_input(
    path: str | Path,
    *,
    read: ReadOptions | None = None,
    text_cols: list[str] | None = None,
    genres_col: str | None = None,
    title_col: str | None = None,
    need_genres: bool = True,
    run_text_cols: Callable[[], list[str] | None] | None = None,
    rows: int = 200,
) -> FileFormat:
    """Check a file before anything slow (loading a model) starts: about a second on any file.

    The file is sniffed (format, encoding, separator, header), its first ``rows`` rows are
    parsed, the columns are chosen as `detect_columns` and `load_labelled` will, and with
    ``need_genres`` at least one of those rows must hold a readable genre.

    Args:
        path: The file.
        read: Separator and header options.
        text_cols: ``--text-col`` values (detected when None).
        genres_col: ``--genres-col`` (detected when None).
        title_col: ``--title-col`` (checked when given).
        need_genres: The command needs genres (train, evaluate), not just text (tag).
        run_text_cols: Called only when no text column can be detected: the text columns of
            the model that will be used (they apply when the file has them), or None.
        rows: Rows to parse.

    Returns:
        The file's format.

    Raises:
        DataError: The file cannot be read or parsed, a column is missing or ambiguous, or no
            sampled row has a genre.
    """
    fmt = sniff(path, read)
    head = read_table(path, read, nrows=rows, fmt=fmt)
    columns = list(fmt.columns)
    if not text_cols and run_text_cols is not None:
        try:
            detect_columns(columns, genres_col=genres_col, need_genres=False)
        except DataError as detection:
            if looks_like_data(columns):  # a data row: no run's column names can match it
                raise
            saved = run_text_cols()
            try:
                usable = bool(saved) and detect_columns(columns, text_cols=saved, need_genres=False)
            except DataError:
                usable = False
            if not usable:
                raise detection
            text_cols = saved
    texts, genres = detect_columns(columns, text_cols=text_cols, genres_col=genres_col, need_genres=need_genres)
    detect_title_column(columns, title_col)
    if need_genres and genres is not None:
        cells = head[genres].tolist()
        if not any(parse_genres(c) for c in cells):
            filled = [str(c) for c in cells if not is_missing(c) and str(c).strip()]
            example = f" (e.g. '{filled[0][:60]}')" if filled else " (all empty)"
            raise DataError(f"none of the first {len(cells)} rows of {path} has a readable genre in column "
                            f"'{genres}'{example}; check --genres-col")
    return fmt
