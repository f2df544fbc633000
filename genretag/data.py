"""CSV reading, genre parsing, row filtering and multi-label splits.

Everything here works on plain Python lists and pandas frames so that training,
evaluation and tagging share one reading path: the same encoding and delimiter
detection, the same column choice, the same genre canonicalisation.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genretag.errors import DataError
from genretag.formats import FileFormat, ReadOptions, example_columns, iter_tables, looks_like_data, os_error, read_table, sniff

logger = logging.getLogger(__name__)

# Column names are compared after lower-casing and turning runs of spaces, "_" and "-"
# into "_", so "Plot Summary", "plot_summary" and "PLOT-SUMMARY" are one name.
TEXT_COLUMN_CANDIDATES: tuple[str, ...] = (
    "overview",
    "synopsis",
    "plot_synopsis",
    "plot",
    "plot_summary",
    "description",
    "summary",
    "storyline",
    "text",
)
GENRE_COLUMN_CANDIDATES: tuple[str, ...] = (
    "genres",
    "generes",  # the IMDb 25k data set's spelling
    "genre",
    "genre_ids",
    "genre_names",
    "genre_list",
    "labels",
    "tags",
)
TITLE_COLUMN_CANDIDATES: tuple[str, ...] = (
    "title",
    "movie_title",
    "series_title",  # IMDb top-1000
    "primary_title",  # IMDb title.basics ("primaryTitle")
    "original_title",
    "film_title",
    "movie_name",
    "film_name",
    "name",
    "movie",
    "film",
)

# A whole cell (or one genre piece) equal to one of these, ignoring case, means "no value".
# Spreadsheets and OMDb exports write "N/A"; pandas round-trips write "nan".
_NULL_TOKENS = frozenset({"", "nan", "none", "null", "n/a", "na", "#n/a", "[]", "()", "{}"})
# Films are called "NA", "None" and "Null": in a title column those are names, not gaps.
_TITLE_NULL_TOKENS = _NULL_TOKENS - {"na", "none", "null"}

# Separators for genre strings. "/" and "&" are deliberately absent: names such as
# "Sci-Fi/Fantasy" or "Action & Adventure" (TMDB TV) contain them.
_GENRE_SPLIT = re.compile(r"[,|;\t\r\n]+")
_GENRE_STRIP = " \t\r\n'\"[](){}"
# Recovers names from a truncated TMDB JSON cell such as '[{"id": 28, "name": "Acti'.
_JSON_NAME = re.compile(r"""["']name["']\s*:\s*["']([^"']*)["']?""")
# A word for title-casing: letters/digits, with inner apostrophes ("children's").
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
# Words that keep their capitals when an all-lower or ALL-UPPER name is title-cased.
_ACRONYMS = {"tv": "TV"}
# More brackets than this and a cell is not a genre list; skipping the literal parse
# also keeps ast.literal_eval away from pathological nesting.
_MAX_BRACKETS = 1000

_BLOCK_BYTES = 1 << 20


# --------------------------------------------------------------------------- genres


def canonical_genre(name: str) -> str:
    """Return the canonical spelling of one genre name.

    Whitespace is stripped and collapsed. An all-lower or ALL-UPPER name becomes
    Title Case ("science fiction" -> "Science Fiction", "TV MOVIE" -> "TV Movie");
    a mixed-case name ("Sci-Fi", "TV Movie") is kept as written.

    Args:
        name: A genre name.

    Returns:
        The canonical name, or "" for a blank name.
    """
    name = " ".join(str(name).split())
    if name.islower() or name.isupper():
        name = _WORD.sub(_title_word, name.lower())
    return name


def _title_word(match: re.Match) -> str:
    word = match.group(0)
    # str.title() would give "Children'S"; capitalise whole words instead.
    # title() rather than upper() on the first letter: "ß" -> "Ss", not "SS" (which
    # would itself be ALL-UPPER, so canonical_genre would not be idempotent).
    return _ACRONYMS.get(word, word[:1].title() + word[1:])


def parse_genres(cell: Any) -> list[str]:
    """Parse one genre cell into canonical genre names.

    Accepted forms: a Python-list string ``"['Action', 'Drama']"``, a JSON list of
    strings or of objects (TMDB ``{"id": .., "name": ..}``, or a ``genre``, ``genre_name``,
    ``label`` … key), an id -> name map (CMU's Freebase ``{"/m/07s9rl0": "Drama"}``), a map
    of flags (``{"Action": true}``), a real list or tuple, and text separated by ``,``
    ``|`` ``;`` (or tabs/newlines) such as ``"Action|Drama"``. Names are only parsed here;
    aliases, placeholders and TMDB ids are `genretag.vocabulary`'s job.
    ``/`` and ``&`` are not separators because genre names contain them. Missing
    values (None, NaN, "", "[]", "N/A") give ``[]``. A malformed cell never raises:
    its text is split after brackets and quotes are stripped.

    Args:
        cell: The raw cell value.

    Returns:
        Canonical genre names in their original order, without duplicates.
    """
    return _dedupe(canonical_genre(n) for n in _raw_genres(cell))


def _raw_genres(cell: Any) -> Iterator[str]:
    if isinstance(cell, np.ndarray):
        cell = cell.tolist()
    if isinstance(cell, (list, tuple)):
        yield from _names_from_object(cell)
        return
    if not isinstance(cell, str):
        if _is_missing(cell):
            return
        yield from _names_from_object(cell)
        return
    text = cell.strip()
    if text.lower() in _NULL_TOKENS:
        return
    if text[0] in "[{(" and text.count("[") + text.count("{") <= _MAX_BRACKETS:
        parsed = _parse_literal(text)
        if parsed is not None:
            yield from _names_from_object(parsed)
            return
    names = _JSON_NAME.findall(text)
    if names:
        yield from names
        return
    if re.match(r"\[\s*\{", text):
        return  # a cut-off object list with no complete "name": its keys and ids are not genres
    for piece in _GENRE_SPLIT.split(text):
        yield piece.strip(_GENRE_STRIP)


def _parse_literal(text: str) -> Any:
    """JSON first (TMDB), then a Python literal (pandas str() of a list); None if neither."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)  # never eval(): the cell is untrusted input
    except Exception:  # SyntaxError, ValueError, RecursionError, MemoryError, ...
        return None


def is_malformed_list(cell: Any) -> bool:
    """True for a cell that starts like a list (``[`` or ``{``) but is not a well-formed one.

    Such a cell (a truncated export, say) is still read, by splitting its text; callers
    count these to warn that some genre names may be cut off.
    """
    if not isinstance(cell, str):
        return False
    text = cell.strip()
    if not text or text[0] not in "[{" or text.lower() in _NULL_TOKENS:
        return False
    if text.count("[") + text.count("{") > _MAX_BRACKETS:
        return True
    return _parse_literal(text) is None


# Keys that hold the name in a genre object, in the order they are tried (case-insensitive):
# TMDB/MAL {"id", "name"}, AniList {"genre"}, Wikidata-style {"label"}, {"genre_name"}, ...
_NAME_KEYS = ("name", "genre", "genre_name", "genrename", "label", "title", "value", "text", "tag")


def _names_from_object(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        yield from _names_from_dict(obj)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj
        for item in items:
            yield from _names_from_object(item)
    elif isinstance(obj, bool) or _is_missing(obj):
        return
    elif isinstance(obj, (int, np.integer)):
        yield str(int(obj))
    elif isinstance(obj, (float, np.floating)):
        yield str(int(obj)) if float(obj).is_integer() else str(obj)
    else:
        yield str(obj)


def _names_from_dict(obj: dict) -> Iterator[str]:
    """One genre object (``{"id": 28, "name": "Action"}``), or a map of several genres."""
    by_key = {str(k).strip().lower(): v for k, v in obj.items()}
    for key in _NAME_KEYS:
        if key in by_key and by_key[key] is not None:
            yield from _names_from_object(by_key[key])
            return
    for key, value in by_key.items():  # {"genreName": ...}, {"movie_genre_name": ...}
        if key.endswith("name") and isinstance(value, str):
            yield value
            return
    values = list(obj.values())
    if values and all(isinstance(v, bool) for v in values):
        # {"Action": true, "Drama": false}: the keys are the genres, the flags say which apply.
        yield from (str(k) for k, v in obj.items() if v)
    elif values and all(isinstance(v, str) for v in values) and not {"id", "slug", "url", "type"} & set(by_key):
        # An id -> name map, e.g. CMU's Freebase {"/m/07s9rl0": "Drama", "/m/01z4y": "Comedy"}.
        yield from values
    elif "id" in by_key:
        yield from _names_from_object(by_key["id"])  # {"id": 28}: a TMDB id, named by the vocabulary


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # pd.isna of an odd object can be an array or fail
        return False


def _dedupe(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        if name.lower() not in _NULL_TOKENS:
            seen.setdefault(name, None)
    return list(seen)


def rare_genres(train_genres: list[list[str]], min_support: int) -> list[str]:
    """List the genres with fewer than ``min_support`` training examples.

    Only genres that occur in ``train_genres`` can be listed; build the label set from
    the training split so that a genre seen only in validation or test never becomes
    a label.

    Args:
        train_genres: Genre names per training row.
        min_support: Smallest number of training examples a genre needs.

    Returns:
        The rare genre names, sorted.

    Raises:
        ValueError: If ``min_support`` is negative.
    """
    if min_support < 0:
        raise ValueError(f"min_support must be >= 0, got {min_support}")
    counts = Counter(g for row in train_genres for g in row)
    return sorted(g for g, c in counts.items() if c < min_support)


def drop_genres(genres: list[list[str]], drop: Iterable[str]) -> list[list[str]]:
    """Remove the given genres from every row.

    A row whose genres are all removed keeps its place (and its text, in the caller):
    it becomes an all-negative example rather than disappearing from the split.

    Args:
        genres: Genre names per row.
        drop: Genre names to remove.

    Returns:
        New lists, order kept.
    """
    drop = set(drop)
    return [[g for g in row if g not in drop] for row in genres]


# --------------------------------------------------------------------------- CSV files


def read_csv(path: str | Path, *, nrows: int | None = None, read: ReadOptions | None = None) -> pd.DataFrame:
    """Read a catalogue file: delimited text with every column as ``str`` and empty cells as "".

    The encoding (UTF-8 with or without BOM, UTF-16 with BOM; a mostly-UTF-8 file has only
    its invalid bytes read as cp1252; else cp1252, else latin-1, with a logged warning) and
    the delimiter (``,`` tab ``;`` ``|`` `` ::: ``; tab for ``.tsv``; an Excel ``sep=``
    line) are detected. Quoted fields may contain newlines. Column names are stripped of
    spaces and a BOM. ``.gz``, ``.bz2``, ``.xz`` and one-file ``.zip`` files are read as
    is; JSON Lines and Parquet files too, keeping their values' types
    (`genretag.formats.read_table`).

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


def file_fingerprint(path: str | Path) -> str:
    """Return the sha256 hex digest of a file, read in 1 MiB blocks.

    Raises:
        DataError: If the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(_BLOCK_BYTES):
                digest.update(block)
    except FileNotFoundError as e:
        raise DataError(f"file not found: {path}; check the path") from e
    except OSError as e:
        raise os_error(path, e) from e
    return digest.hexdigest()


# --------------------------------------------------------------------------- columns


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", str(name).strip().lower()).strip("_")


def _norm_words(name: str) -> str:
    """`_norm` with camelCase split into words: "primaryTitle" -> "primary_title"."""
    return _norm(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name).strip()))


def _column_list(columns: list[str], limit: int = 20) -> str:
    shown = ", ".join(str(c) for c in columns[:limit])
    if len(columns) > limit:
        shown += f", ... ({len(columns) - limit} more)"
    return shown or "none"


def _resolve(name: str, columns: list[str], option: str) -> str:
    """Find a user-given column: exact name first, then a unique case-insensitive match."""
    if name in columns:
        return name
    matches = [c for c in columns if _norm(c) == _norm(name)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        found = ", ".join(matches)
        raise DataError(f"column '{name}' given by {option} matches several columns: {found}; use the exact name")
    raise DataError(f"column '{name}' given by {option} not found (columns: {_column_list(columns)}); check the name")


def _candidates(columns: list[str], candidates: tuple[str, ...], exclude: Iterable[str] = ()) -> list[str]:
    exclude = set(exclude)
    rank = {c: i for i, c in enumerate(candidates)}
    # A camelCase name counts by its words only when its plain form matches nothing.
    key = {c: _norm(c) if _norm(c) in rank else _norm_words(c) for c in columns}
    found = [c for c in columns if key[c] in rank and c not in exclude]
    return sorted(found, key=lambda c: rank[key[c]])


def detect_columns(
    columns: list[str],
    *,
    text_cols: list[str] | None = None,
    genres_col: str | None = None,
    need_genres: bool = True,
) -> tuple[list[str], str | None]:
    """Choose the synopsis column(s) and the genre column.

    Given names are checked (a unique case-insensitive match is accepted). Otherwise a
    column is detected when its name matches one of ``TEXT_COLUMN_CANDIDATES`` /
    ``GENRE_COLUMN_CANDIDATES`` ignoring case, spaces, "_" and "-". When two columns
    match, the choice is left to the user rather than guessed from a priority list:
    "plot" and "summary" in one file may well hold different things.

    Args:
        columns: Column names of the file.
        text_cols: Columns to join into the text, e.g. ``["title", "overview"]``.
        genres_col: The genre column.
        need_genres: If False (tagging), a missing or ambiguous genre column gives None.

    Returns:
        ``(text columns, genre column or None)``.

    Raises:
        DataError: If a given column does not exist, no or several synopsis columns
            are found, or the genre column is missing or ambiguous while needed.
    """
    columns = [str(c) for c in columns]
    genres = _resolve(genres_col, columns, "--genres-col") if genres_col is not None else None

    if text_cols:
        texts = list(dict.fromkeys(_resolve(c, columns, "--text-col") for c in split_columns(text_cols, columns)))
    else:
        found = _candidates(columns, TEXT_COLUMN_CANDIDATES, exclude=[genres] if genres else [])
        if not found:
            raise DataError(_no_synopsis_message(columns))
        if len(found) > 1:
            raise DataError(f"several possible synopsis columns: {', '.join(found)}; pass --text-col NAME to choose")
        texts = found

    if genres is None:
        found = _candidates(columns, GENRE_COLUMN_CANDIDATES, exclude=texts)
        if len(found) == 1:
            genres = found[0]
        elif need_genres and not found:
            raise DataError(f"no genre column found (columns: {_column_list(columns)}); pass --genres-col NAME")
        elif need_genres:
            raise DataError(f"several possible genre columns: {', '.join(found)}; pass --genres-col NAME to choose")

    if genres is not None and genres in texts:
        # The labels would leak into the model's input.
        raise DataError(f"column '{genres}' is used both as text and as genres; choose different columns")
    return texts, genres


def split_columns(values: Iterable[str], columns: Iterable[str]) -> list[str]:
    """Column names from ``--text-col`` values: a value naming a column is kept whole (even with a
    comma in it); any other is split at commas, honouring double quotes (``'"Plot, short",title'``).

    Args:
        values: The option's values, as typed (each may list several names).
        columns: The file's column names.

    Returns:
        The names, in order (not yet checked against ``columns``).
    """
    known = {_norm(c) for c in columns} | {str(c).lower() for c in columns}
    out: list[str] = []
    for value in values:
        value = str(value).strip()
        if value in known or _norm(value) in known or value.lower() in known:
            out.append(value)
            continue
        for row in csv.reader([value], skipinitialspace=True):
            out.extend(piece.strip() for piece in row if piece.strip())
    return out


def _no_synopsis_message(columns: list[str]) -> str:
    reason = looks_like_data(columns)
    if reason is None:
        return f"no synopsis column found (columns: {_column_list(columns)}); pass --text-col NAME"
    names = example_columns(columns)
    shown = _column_list([c if len(c) <= 40 else c[:39] + "…" for c in columns])
    if "overview" not in names:  # no field of it reads like a synopsis
        return (f"no synopsis column found (columns: {shown}): the first row looks like data, not column names "
                f"({reason}), and none of its {len(columns)} fields reads like a synopsis (a sentence of words); "
                f"this file may hold no synopses (join it with one that does), or pass --no-header --columns "
                f"with one name per field and --text-col NAME")
    return (f"no synopsis column found (columns: {shown}): the first row looks like data, not column names "
            f"({reason}); if the file has no header row, pass --no-header and one name per field "
            f"({len(columns)}), e.g. --no-header --columns {','.join(names)}; else pass --text-col NAME")


def detect_title_column(columns: list[str], title_col: str | None = None) -> str | None:
    """Return the title column (for reports), or None.

    Args:
        columns: Column names of the file.
        title_col: The column named by ``--title-col``; checked like ``--text-col``.

    Raises:
        DataError: Only when ``title_col`` is given and names no column.
    """
    columns = [str(c) for c in columns]
    if title_col is not None:
        return _resolve(title_col, columns, "--title-col")
    found = _candidates(columns, TITLE_COLUMN_CANDIDATES)
    return found[0] if found else None


def _clean_cell(value: Any, *, title: bool = False) -> str:
    if not isinstance(value, str):
        if value is None or _is_missing(value):
            return ""
        value = str(value)
    value = " ".join(value.split())  # also turns CR/LF inside quoted fields into spaces
    return "" if value.lower() in (_TITLE_NULL_TOKENS if title else _NULL_TOKENS) else value


def synopsis_key(text: str) -> str:
    """A short fingerprint of a synopsis for training-overlap checks.

    Whitespace is collapsed and case folded first, so the same synopsis re-typed or
    re-wrapped gets the same key. Returns 16 hex digits of its SHA-1 (64 bits: collisions
    are negligible for catalogues of millions of rows).
    """
    normal = " ".join(str(text).split()).casefold()
    return hashlib.sha1(normal.encode("utf-8")).hexdigest()[:16]


def join_text(df: pd.DataFrame, text_cols: list[str]) -> pd.Series:
    """Join text columns into one cleaned string per row.

    Whitespace (CR/LF included) is collapsed to single spaces, missing or "N/A" cells
    count as empty, and non-empty parts are joined with ". " (just " " when the part
    before already ends in punctuation, e.g. a title "Who?"). In a title column "NA",
    "None" and "Null" are names, kept as written (films are called that).

    Args:
        df: The data.
        text_cols: Columns to join, in order.

    Returns:
        A str Series on ``df``'s index; "" where every part is empty.
    """
    title = detect_title_column(list(text_cols))
    parts = [[_clean_cell(v, title=c == title) for v in df[c].tolist()] for c in text_cols]
    joined = []
    for row in zip(*parts):
        text = ""
        for part in row:
            if not part:
                continue
            if text:
                text += " " if text[-1] in ".!?…:;" else ". "
            text += part
        joined.append(text)
    return pd.Series(joined, index=df.index, dtype=object)


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
            filled = [str(c) for c in cells if not _is_missing(c) and str(c).strip()]
            example = f" (e.g. '{filled[0][:60]}')" if filled else " (all empty)"
            raise DataError(f"none of the first {len(cells)} rows of {path} has a readable genre in column "
                            f"'{genres}'{example}; check --genres-col")
    return fmt


# --------------------------------------------------------------------------- labelled data


@dataclass
class DropReport:
    """How many rows ``load_labelled`` read, dropped and kept.

    Each dropped row is counted under the first reason that applies, in field order,
    so ``total == empty_text + no_genres + duplicate_text + sampled_out + kept``.
    """

    total: int
    """Data rows read from the file."""
    empty_text: int
    """Rows whose joined text is empty."""
    no_genres: int
    """Rows with text but an empty (or unparseable) genre cell."""
    duplicate_text: int
    """Rows whose text repeats an earlier kept row's text."""
    kept: int
    """Rows returned."""
    sampled_out: int = 0
    """Usable rows left out by ``sample``."""
    malformed_genres: int = 0
    """Rows (kept or not) whose genre cell looked like a list but was broken; not a drop reason."""
    genres: Any = None
    """The `genretag.vocabulary.GenreReport` of the genre names mapped, when a vocabulary was applied."""

    def lines(self) -> list[str]:
        """Return a short human summary, one line per non-zero count."""
        out = [f"read {_rows(self.total)}"]
        if self.empty_text:
            out.append(f"dropped {_rows(self.empty_text)} with an empty synopsis")
        if self.no_genres:
            out.append(f"dropped {_rows(self.no_genres)} with no genres")
        if self.duplicate_text:
            out.append(f"dropped {_rows(self.duplicate_text)} repeating an earlier synopsis")
        if self.sampled_out:
            out.append(f"left out {_rows(self.sampled_out)} by sampling")
        out.append(f"kept {_rows(self.kept)}")
        if self.malformed_genres:
            out.append(f"{_rows(self.malformed_genres)} had a broken genre list, read as plain text")
        return out


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


@dataclass
class LabelledData:
    """Texts with their genres, aligned row by row."""

    texts: list[str]
    """Model input per row."""
    genres: list[list[str]]
    """Canonical genre names per row."""
    row_ids: list[int]
    """Data-row number in the original CSV (0 = first row after the header)."""
    titles: list[str] | None = None
    """Titles for reports, when the file has a title column."""

    def __post_init__(self) -> None:
        n = len(self.texts)
        if len(self.genres) != n or len(self.row_ids) != n or (self.titles is not None and len(self.titles) != n):
            raise ValueError("texts, genres, row_ids and titles must have the same length")

    def __len__(self) -> int:
        return len(self.texts)

    def genre_counts(self) -> dict[str, int]:
        """Return rows per genre, most frequent first (ties by name)."""
        counts = Counter(g for row in self.genres for g in row)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def subset(self, idx: Iterable[int] | np.ndarray) -> LabelledData:
        """Return the rows at the given positions (or where a boolean mask is True)."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        pos = [int(i) for i in idx]
        return LabelledData(
            texts=[self.texts[i] for i in pos],
            genres=[list(self.genres[i]) for i in pos],
            row_ids=[self.row_ids[i] for i in pos],
            titles=None if self.titles is None else [self.titles[i] for i in pos],
        )


def load_labelled(
    path: str | Path,
    *,
    text_cols: list[str] | None = None,
    genres_col: str | None = None,
    sample: int | None = None,
    seed: int = 42,
    vocabulary: Any = None,
    read: ReadOptions | None = None,
    title_col: str | None = None,
) -> tuple[LabelledData, DropReport]:
    """Read a labelled catalogue file (any format `read_csv` reads) and keep the usable rows.

    Rows are dropped, in this order, for an empty text, for no genres, and for a text
    equal to an earlier kept row's (the first is kept). Then, if ``sample`` is given,
    ``sample`` rows are drawn without replacement with ``numpy.random.default_rng(seed)``
    and returned in file order. A ``sample`` larger than the usable rows keeps them all
    with a warning.

    Args:
        path: The CSV file.
        text_cols: Text columns to join (detected when None).
        genres_col: The genre column (detected when None).
        sample: Number of rows to draw, or None for all.
        seed: Seed for the sample.
        vocabulary: A `genretag.vocabulary.Vocabulary` to map genre names with (aliases,
            placeholders, TMDB ids, one spelling per genre); None keeps the names as parsed.
            A row whose genres are all placeholders counts as without genres.
        read: Separator and header options, when detection cannot know.
        title_col: The title column for reports (detected when None).

    Returns:
        The kept rows and a report of what was dropped.

    Raises:
        DataError: If the file cannot be used or no row survives, or (with a vocabulary)
            the genre cells are numeric ids that are not all TMDB's.
    """
    if sample is not None and sample < 1:
        raise DataError(f"sample must be a positive number of rows, got {sample}")
    df = read_csv(path, read=read)
    texts_cols, genres_col = detect_columns(list(df.columns), text_cols=text_cols, genres_col=genres_col)
    texts = join_text(df, texts_cols).tolist()
    cells = df[genres_col].tolist()
    genres = [parse_genres(c) for c in cells]
    genre_report = None
    if vocabulary is not None:
        genres, genre_report = vocabulary.apply(genres, where=f"{path} column '{genres_col}'")
    malformed = sum(is_malformed_list(c) for c in cells)
    if malformed:
        logger.warning(
            "%s: %d genre cells look like broken lists (e.g. cut off); read them as plain text, "
            "check the labels.json of the run", path, malformed
        )
    title_col = detect_title_column(list(df.columns), title_col)
    titles = [_clean_cell(t, title=True) for t in df[title_col].tolist()] if title_col else None
    total = len(df)
    del df

    empty_text = no_genres = duplicate_text = 0
    seen: set[str] = set()
    keep: list[int] = []
    for i, (text, row_genres) in enumerate(zip(texts, genres)):
        if not text:
            empty_text += 1
        elif not row_genres:
            no_genres += 1
        elif text in seen:
            duplicate_text += 1
        else:
            seen.add(text)
            keep.append(i)
    if not keep:
        raise DataError(
            f"no usable rows in {path}: {empty_text} with empty text, {no_genres} without genres; "
            f"check --text-col and --genres-col (using {', '.join(texts_cols)} and {genres_col})"
        )

    sampled_out = 0
    if sample is not None:
        if sample > len(keep):
            logger.warning("asked for a sample of %d rows but only %d are usable; using all", sample, len(keep))
        elif sample < len(keep):
            chosen = np.random.default_rng(seed).choice(len(keep), size=sample, replace=False)
            sampled_out = len(keep) - sample
            # File order, not draw order: the same rows always come in the same order.
            keep = [keep[i] for i in np.sort(chosen)]

    data = LabelledData(
        texts=[texts[i] for i in keep],
        genres=[genres[i] for i in keep],
        row_ids=keep,
        titles=None if titles is None else [titles[i] for i in keep],
    )
    report = DropReport(
        total=total,
        empty_text=empty_text,
        no_genres=no_genres,
        duplicate_text=duplicate_text,
        kept=len(keep),
        sampled_out=sampled_out,
        malformed_genres=malformed,
        genres=genre_report,
    )
    return data, report


# --------------------------------------------------------------------------- splits


SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")


def _split_sizes(n: int, ratios: tuple[float, ...]) -> np.ndarray:
    """Largest-remainder rounding: sizes sum to n, each within 1 of n * ratio."""
    exact = np.array(ratios, dtype=float) * n
    sizes = np.floor(exact).astype(int)
    remainder = n - int(sizes.sum())
    # Stable sort keeps the earlier split first when fractional parts tie.
    order = np.argsort(-(exact - sizes), kind="stable")
    sizes[order[:remainder]] += 1
    return sizes


def split_indices(
    genres: list[list[str]],
    *,
    ratios: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 42,
) -> dict[str, np.ndarray]:
    """Split rows into train, validation and test, stratified over all genres.

    Iterative stratification (Sechidis, Tsoumakas & Vlahavas, 2011): the rarest genre
    is placed first, each of its rows going to the split that most lacks that genre.
    Two changes to the paper: a split that is full is never chosen, so sizes equal the
    ratios up to rounding (5000 rows -> 3500/750/750); and a genre with at least one
    row per non-empty split first gives each split one row, so a genre with 3 or more
    rows is present everywhere. Ties are broken with ``numpy.random.default_rng(seed)``.

    Args:
        genres: Genre names per row.
        ratios: Fractions for train, validation and test.
        seed: Seed for tie-breaking.

    Returns:
        ``{"train", "validation", "test"}`` -> sorted, disjoint row positions that
        together cover every row.

    Raises:
        ValueError: If ``ratios`` are not 3 non-negative numbers summing to 1.
    """
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or not all(math.isfinite(r) and r >= 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise ValueError(f"ratios must be 3 non-negative numbers summing to 1, got {ratios}")
    n = len(genres)
    rng = np.random.default_rng(seed)
    capacity = _split_sizes(n, ratios)
    n_active = int((capacity > 0).sum())

    names = sorted({g for row in genres for g in row})
    label_id = {g: i for i, g in enumerate(names)}
    row_labels = [sorted({label_id[g] for g in row}) for row in genres]
    rows_of: list[list[int]] = [[] for _ in names]
    for i, labels in enumerate(row_labels):
        for lab in labels:
            rows_of[lab].append(i)

    counts = np.array([len(r) for r in rows_of], dtype=float)
    wanted = counts[:, None] * np.array(ratios)[None, :]  # examples each split still lacks
    have = np.zeros((len(names), 3), dtype=int)
    remaining = counts.astype(int)
    assign = np.full(n, -1, dtype=int)

    while remaining.any():
        open_labels = np.flatnonzero(remaining > 0)
        fewest = open_labels[remaining[open_labels] == remaining[open_labels].min()]
        lab = int(rng.choice(fewest))
        cover = counts[lab] >= n_active
        for i in rng.permutation(rows_of[lab]):
            if assign[i] >= 0:
                continue
            open_splits = np.flatnonzero(capacity > 0)
            key = np.stack([
                (have[lab, open_splits] == 0) & cover,
                wanted[lab, open_splits],
                capacity[open_splits],
            ])
            best = open_splits[_argmax_rows(key, rng)]
            assign[i] = best
            capacity[best] -= 1
            for other in row_labels[i]:
                wanted[other, best] -= 1
                have[other, best] += 1
                remaining[other] -= 1

    # Rows without any genre only fill the space left.
    for i in rng.permutation(np.flatnonzero(assign < 0)):
        open_splits = np.flatnonzero(capacity > 0)
        best = open_splits[_argmax_rows(capacity[open_splits][None, :], rng)]
        assign[i] = best
        capacity[best] -= 1

    return {name: np.flatnonzero(assign == j) for j, name in enumerate(SPLIT_NAMES)}


def _argmax_rows(keys: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the column that is largest by keys[0], then keys[1], ...; random on ties."""
    cand = np.arange(keys.shape[1])
    for row in keys:
        values = row[cand].astype(float)
        cand = cand[values >= values.max() - 1e-9]
        if len(cand) == 1:
            return int(cand[0])
    return int(rng.choice(cand))
