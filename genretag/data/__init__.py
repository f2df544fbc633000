"""Catalogue data: reading files, genre parsing, column choice, labelled rows and splits.

Everything here works on plain Python lists and pandas frames so that training,
evaluation and tagging share one reading path: the same encoding and delimiter
detection, the same column choice, the same genre canonicalisation.

    reading    read_csv, iter_csv_chunks, check_input (a file's head, before slow work)
    genres     parse_genres, canonical_genre, rare_genres, drop_genres
    columns    detect_columns, detect_title_column, split_columns, join_text, header_rows,
               choose_text_columns -> TextColumns (the columns tag and evaluate read, given a run)
    labelled   load_labelled -> LabelledData, DropReport
    splits     split_indices, file_fingerprint, synopsis_key, SynopsisKeys
    cells      what counts as an empty cell (shared by genres and columns)

The names below are the package's API (``from genretag.data import load_labelled``).
"""

# ReadOptions lives in `genretag.formats`; it is here too because every reader above takes one.
from ..formats import ReadOptions
from .columns import (
    GENRE_COLUMN_CANDIDATES,
    HEADER_CELL_CHARS,
    HEADER_CELL_WORDS,
    TEXT_COLUMN_CANDIDATES,
    TITLE_COLUMN_CANDIDATES,
    TextColumns,
    choose_text_columns,
    detect_columns,
    detect_title_column,
    header_rows,
    join_text,
    missing_title_warning,
    split_columns,
    synopsis_columns,
)
from .genres import canonical_genre, drop_genres, is_malformed_list, parse_genres, rare_genres
from .labelled import DropReport, LabelledData, header_rows_said, load_labelled
from .reading import check_input, iter_csv_chunks, read_csv
from .splits import SPLIT_NAMES, SYNOPSIS_KEY_METHOD, SynopsisKeys, file_fingerprint, split_indices, synopsis_key

__all__ = [
    "GENRE_COLUMN_CANDIDATES",
    "HEADER_CELL_CHARS",
    "HEADER_CELL_WORDS",
    "SPLIT_NAMES",
    "TEXT_COLUMN_CANDIDATES",
    "TITLE_COLUMN_CANDIDATES",
    "DropReport",
    "LabelledData",
    "ReadOptions",
    "TextColumns",
    "canonical_genre",
    "check_input",
    "choose_text_columns",
    "detect_columns",
    "detect_title_column",
    "drop_genres",
    "file_fingerprint",
    "header_rows",
    "header_rows_said",
    "is_malformed_list",
    "missing_title_warning",
    "iter_csv_chunks",
    "join_text",
    "load_labelled",
    "parse_genres",
    "rare_genres",
    "read_csv",
    "split_columns",
    "split_indices",
    "synopsis_columns",
    "synopsis_key",
    "SYNOPSIS_KEY_METHOD",
    "SynopsisKeys",
]
