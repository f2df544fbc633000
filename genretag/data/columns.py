"""Column choice: which columns hold the synopsis, the genres and the title, and the text
columns joined into the model's input.

When two columns could hold the synopsis (or the genres), the user chooses: "plot" and
"summary" in one file may well hold different things.
"""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from ..formats import example_columns, looks_like_data, looks_like_header
from .cells import clean_cell, is_missing
from .names import TEXT_COLUMN_CANDIDATES
from .names import name_candidates as _candidates
from .names import norm_name as _norm

logger = logging.getLogger(__name__)

# Column names are compared as `genretag.data.names.norm_name` makes them ("Plot Summary" is
# "plot_summary"); the synopsis's names, TEXT_COLUMN_CANDIDATES, are there.
GENRE_COLUMN_CANDIDATES: tuple[str, ...] = (
    "genres",
    "generes",  # the IMDb 25k data set's spelling
    "genre",
    "genre_ids",
    "genre_names",
    "genre_list",
    "labels",
    "tags",
    "listed_in",  # Netflix titles
    "movie_genres",  # CMU movie.metadata.tsv, with a header added
    "movie_genres_(freebase_id:name_tuples)",  # ... as its README names the column
    "genre(s)", "género", "géneros", "genero", "generos", "gênero", "gêneros", "genere", "generi",  # other languages
    "жанр", "жанры", "类型", "類型", "ジャンル", "장르", "gatunek", "tür",
)
TITLE_COLUMN_CANDIDATES: tuple[str, ...] = (
    "title",
    "movie_title",
    "series_title",  # IMDb top-1000
    "primary_title",  # IMDb title.basics ("primaryTitle")
    "title_english",  # AniList / MyAnimeList
    "english_title",
    "original_title",
    "title_romaji",
    "film_title",
    "movie_name",
    "film_name",
    "name",
    "movie",
    "film",
    "titel", "titre", "título", "titulo", "titolo", "название", "片名", "タイトル", "제목",  # other languages
    "filmtitel", "tytuł", "başlık", "電影名", "电影名", "作品名", "題名", "电影名称", "電影名稱", "影片名称",
    "english_name",  # MyAnimeList's Kaggle export ("English name"), after its romaji "Name"
)
#: An English title column, and columns of a title in the original language or its romanisation
#: beside it (anime exports: Jikan's ``title`` / ``title_english`` / ``title_japanese``, MyAnimeList's
#: ``Name`` / ``English name`` / ``Other name``): there the English one is the title an English model reads.
ENGLISH_TITLE_COLUMNS = ("title_english", "english_title", "english_name", "name_english")
ORIGINAL_TITLE_COLUMNS = ("title_japanese", "japanese_title", "title_romaji", "romaji_title", "title_native",
                          "native_title", "japanese_name", "other_name", "title_synonyms")


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
    import difflib

    close = difflib.get_close_matches(_norm(name), [_norm(c) for c in columns], n=1, cutoff=0.75)
    hint = next((f"; did you mean '{c}'?" for c in columns if close and _norm(c) == close[0]), "; check the name")
    raise DataError(f"column '{name}' given by {option} not found (columns: {_column_list(columns)}){hint}")


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
        named = [_resolve(c, columns, "--text-col") for c in split_columns(text_cols, columns)]
        texts = list(dict.fromkeys(named))
        if len(texts) < len(named):  # joined twice, or dropped without a word: neither is what was meant
            twice = next(c for c in texts if named.count(c) > 1)
            raise DataError(f"--text-col names the column '{twice}' twice; name each column once")
    else:
        found = _candidates(columns, TEXT_COLUMN_CANDIDATES, exclude=[genres] if genres else [])
        if not found and genres and genres in _candidates(columns, TEXT_COLUMN_CANDIDATES):
            raise DataError(f"--genres-col {genres} names the synopsis column, and no other column is one; "
                            f"pass the column that lists the genres")
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
            one_hot = _genre_named(columns)
            if len(one_hot) >= 3:  # a file with several columns named as genres holds its genres one-hot
                raise DataError(
                    f"no genre column found: the genres look one-hot encoded, one column per genre ("
                    f"{', '.join(one_hot[:5])}{' …' if len(one_hot) > 5 else ''}: {len(one_hot)} columns); genretag "
                    f"reads one column listing each movie's genres: add one, e.g. with pandas df['genres'] = "
                    f"df[GENRE_COLUMNS].apply(lambda r: '|'.join(c for c in GENRE_COLUMNS if r[c] == 1), axis=1)")
            raise DataError(f"no genre column found (columns: {_column_list(columns)}); pass --genres-col NAME")
        elif need_genres:
            raise DataError(f"several possible genre columns: {', '.join(found)}; pass --genres-col NAME to choose")

    if genres is not None and genres in texts:
        # The labels would leak into the model's input.
        raise DataError(f"column '{genres}' is used both as text and as genres; choose different columns")
    return texts, genres


def _genre_named(columns: list[str]) -> list[str]:
    """The columns whose name is a genre of the bundled vocabulary ("Action", "Sci-Fi", "TV Movie")."""
    from ..vocabulary import Vocabulary

    vocabulary = Vocabulary.bundled()
    return [c for c in columns if vocabulary.resolve(c)]


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
    if len(columns) == 1:  # the header did not split: another separator than the one used
        for sep, name in ((",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            parts = [p.strip() for p in columns[0].split(sep)]
            if len(parts) > 1 and all(parts) and _candidates(parts, TEXT_COLUMN_CANDIDATES):
                flag = "$'\\t'" if sep == "\t" else repr(sep)
                return (f"no synopsis column found: the header reads as one column '{columns[0][:60]}', which holds "
                        f"{name}-separated names ({', '.join(parts[:4])}); the file is {name}-separated: pass --sep {flag}")
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
    english = _candidates(columns, ENGLISH_TITLE_COLUMNS)
    if english and _candidates(columns, ORIGINAL_TITLE_COLUMNS):
        return english[0]
    return found[0] if found else None


def synopsis_columns(text_cols: list[str]) -> list[str]:
    """The synopsis part of the text columns: all but the title column when there are
    several (title + overview → overview), else all. A row whose synopsis part is empty has
    no synopsis, whatever its title: it is not trained on and not tagged."""
    title = detect_title_column(list(text_cols)) if len(text_cols) > 1 else None
    return [c for c in text_cols if c != title]


def join_text(df: pd.DataFrame, text_cols: list[str], *, titles: bool = False) -> pd.Series:
    """Join text columns into one cleaned string per row.

    Whitespace (CR/LF included) is collapsed to single spaces, missing or "N/A" cells
    count as empty, and non-empty parts are joined with ". " (just " " when the part
    before already ends in punctuation, e.g. a title "Who?"). In a title column "NA",
    "None" and "Null" are names, kept as written (films are called that).

    Args:
        df: The data.
        text_cols: Columns to join, in order.
        titles: Every column is a title column (default: the detected title among several).

    Returns:
        A str Series on ``df``'s index; "" where every part is empty.

    Raises:
        DataError: A synopsis column holds objects (see `_text_cells`).
    """
    title = detect_title_column(list(text_cols))
    several = len(text_cols) > 1  # one column is the synopsis, whatever its name
    parts = [[clean_cell(v, title=titles or c == title)
              for v in _text_cells(df[c].tolist(), c, titles or (several and c == title))] for c in text_cols]
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


#: Fields of an object-valued title (AniList's ``{"romaji": ..., "english": ...}``, a Parquet
#: struct), in order of preference: the model read English titles.
TITLE_FIELDS: tuple[str, ...] = ("english", "en", "userPreferred", "user_preferred", "title", "name", "romaji", "native")
_said: set[str] = set()


def _text_cells(values: list, column: str, title: bool) -> list:
    """``values`` as cells of text. A title column of objects gives each object's first
    `TITLE_FIELDS` field that has text, and says which; objects in a synopsis column are an
    error (their text would be read as Python's repr, keys and braces included).

    Raises:
        DataError: A synopsis column holds objects.
    """
    values = _lists_as_text(values, column, title)
    objects = [v for v in values if isinstance(v, Mapping)]
    if not objects:
        return values
    keys = list(dict.fromkeys(str(k) for v in objects for k in v))
    if not title:
        raise DataError(f"column {column!r} holds objects (fields: {', '.join(keys[:6])}), not text; pass "
                        f"--text-col with a column of text, or flatten the objects first (pandas.json_normalize)")
    used: Counter = Counter()
    out = []
    for value in values:
        if isinstance(value, Mapping):
            field = next((f for f in TITLE_FIELDS if isinstance(value.get(f), str) and value[f].strip()), None)
            used[field or "none"] += 1
            value = value[field] if field else ""
        out.append(value)
    message = (f"title column {column!r} holds objects (fields: {', '.join(keys[:6])}); read each one's "
               + ", ".join(f"{f!r} ({n})" if f != "none" else f"none with text ({n})" for f, n in used.most_common()))
    if message not in _said:  # once per column and choice, not once per chunk
        _said.add(message)
        logger.warning(message)
    return out


def _lists_as_text(values: list, column: str, title: bool) -> list:
    """``values`` with each list cell (JSON Lines' ``["First paragraph.", "Second."]``, a
    Parquet list) as text: a synopsis's items joined with spaces, a title's first item with
    text (alternative titles); said once per column. Objects inside a list are left to
    `_text_cells` (refused in a synopsis, a title's field read)."""
    lists = [i for i, v in enumerate(values) if isinstance(v, (list, tuple, np.ndarray))]
    if not lists:
        return values
    out = list(values)
    for i in lists:
        items = [v for v in (out[i].tolist() if isinstance(out[i], np.ndarray) else out[i])
                 if isinstance(v, Mapping) or not is_missing(v)]
        if any(isinstance(v, Mapping) for v in items):
            out[i] = next(v for v in items if isinstance(v, Mapping))
        elif title:
            out[i] = next((str(v) for v in items if str(v).strip()), "")
        else:
            out[i] = " ".join(str(v) for v in items)
    message = (f"{'title ' if title else ''}column {column!r} holds lists ({len(lists)} cells); read "
               + ("each one's first item" if title else "each one's items joined as one text"))
    if message not in _said:
        _said.add(message)
        logger.warning(message)
    return out


@dataclass(frozen=True)
class TextColumns:
    """The columns joined into each row's text, and how they were chosen."""

    columns: list[str]
    how: str
    """"given" (``--text-col``), "the model's" (the run's own columns, all in the file),
    "matched" (the run's title + synopsis roles found under other names), "detected"."""
    missing_title: bool = False
    """The run reads a title with the synopsis, and the file has no title column."""
    title_moved: str | None = None
    """The given columns put the title (this column) elsewhere than the run had it: first
    for a run trained on title + synopsis."""

    def describe(self) -> str:
        """E.g. ``'Title', 'Plot' (matched to the model's title, overview)``."""
        return f"{', '.join(repr(c) for c in self.columns)} ({self.how})"

    def warnings(self) -> list[str]:
        """One-line warnings about this choice, for the caller to show (empty when none)."""
        out = []
        if self.missing_title:
            out.append(missing_title_warning(self))
        if self.title_moved:
            out.append(f"--text-col puts the title column {self.title_moved!r} after the synopsis; the model read "
                       f"the title first, so its answers may be worse (pass --text-col "
                       f"{','.join([self.title_moved, *(c for c in self.columns if c != self.title_moved)])})")
        return out


def choose_text_columns(columns, text_cols: list[str] | None = None,
                        run_text_cols: list[str] | None = None) -> TextColumns:
    """The columns `tag` and `evaluate` join into the text.

    In order: ``text_cols`` (checked); else the run's own (``run_text_cols``, e.g. title +
    overview) when the file has them all; else, for a run that read a title with its synopsis,
    the file's title column (`detect_title_column`) with its detected synopsis column, in the
    run's order; else the detected synopsis column. A run that read a title, tagging a file
    without one, reads the synopsis alone (``missing_title``: callers warn).

    Raises:
        DataError: A given column is missing, or no or several synopsis columns are found.
    """
    columns = [str(c) for c in columns]
    run_cols = list(run_text_cols or [])
    if text_cols is not None:
        given = detect_columns(columns, text_cols=text_cols, need_genres=False)[0]
        return TextColumns(given, "given", title_moved=_title_moved(given, run_cols))
    if run_cols:
        try:
            own = detect_columns(columns, text_cols=run_cols, need_genres=False)[0]
            return TextColumns(own, "the model's")
        except DataError:
            pass
    synopsis = detect_columns(columns, need_genres=False)[0]
    run_title = detect_title_column(run_cols) if len(run_cols) > 1 else None
    if run_title is None:
        return TextColumns(synopsis, "detected")
    title = detect_title_column(columns)
    if title is None or title in synopsis:
        return TextColumns(synopsis, "detected", missing_title=True)
    joined = [title, *synopsis] if run_cols.index(run_title) == 0 else [*synopsis, title]
    return TextColumns(joined, f"matched to the model's {', '.join(run_cols)}")


def _title_moved(given: list[str], run_cols: list[str]) -> str | None:
    """The title column of ``given`` when the run read its title first and ``given`` does not."""
    run_title = detect_title_column(run_cols) if len(run_cols) > 1 else None
    title = detect_title_column(given) if len(given) > 1 else None
    if run_title is None or title is None or run_cols.index(run_title) != 0:
        return None
    return title if given.index(title) != 0 else None


def missing_title_warning(chosen: TextColumns) -> str:
    """The warning for a run that reads title + synopsis, given a file with no title column."""
    return (f"the model was trained on a title with each synopsis, and this file has no title column: it reads "
            f"{', '.join(repr(c) for c in chosen.columns)} alone, which scores somewhat lower; "
            f"pass --text-col TITLE,SYNOPSIS if the file has titles under another name")


#: A synopsis of at most this many words and characters may be a header's cell ("Plot summary", "overview").
HEADER_CELL_WORDS = 3
HEADER_CELL_CHARS = 60
#: A synopsis cell that is one name-like token ("blurb", "logline", "plot_keywords"): another export's
#: column name when two other cells of its row are names of movie files' columns ("film_id", "name").
_IDENTIFIER = re.compile(r"[^\W\d][\w-]*")
# The words of a synopsis column's name ("Plot summary", "Short_Description", "overview (en)"): a
# synopsis cell of these alone names a column (one of other words, "Plot number 1.", is a movie's).
_HEADER_CELL_WORDS = frozenset("""overview synopsis plot description summary storyline story text short long full
brief movie film en english of the""".split())


def header_rows(frame: pd.DataFrame, synopsis_cols: list[str], rows_before: int | None = None) -> np.ndarray:
    """Rows that are a header, not a movie: files joined one after another (``cat a.csv b.csv``)
    repeat their header, with the same names or another export's ("ID, Movie title, Plot summary").

    A row is one when its synopsis cells (``synopsis_cols``, as written) have at most
    `HEADER_CELL_WORDS` words together and are a column name of ``frame`` or words of synopsis
    column names alone ("Plot summary"), and its non-empty cells together look like a header
    (`genretag.formats.looks_like_header`: short, not numbers, one a column name of movie files).

    A header row of other names than ``frame``'s columns (in order, any case) starts a part whose
    columns differ: its rows below would be read shifted, so it is an error.

    Args:
        rows_before: Data rows before ``frame`` in its file, for messages (default: ``frame``'s
            index holds data-row numbers).

    Returns:
        ``[rows]`` bool, True for a header row.

    Raises:
        DataError: A header row of other columns (files of other layouts joined).
    """
    out = np.zeros(len(frame), dtype=bool)
    if not len(frame) or not synopsis_cols:
        return out
    parts = [frame[c].where(frame[c].notna(), "").astype(str).str.strip() for c in synopsis_cols]
    length = sum(part.str.len() for part in parts)  # vectorised: a header's cell is short, a synopsis is not
    short = ((length > 0) & (length <= HEADER_CELL_CHARS)).to_numpy()
    if not short.any():
        return out
    names = {str(c).strip().casefold() for c in frame.columns}
    for pos in np.flatnonzero(short):
        synopsis = " ".join(part.iloc[pos] for part in parts if part.iloc[pos])
        words = [w for w in re.split(r"[\s_\-()]+", synopsis.casefold()) if w]
        cells = [str(v).strip() for v in frame.iloc[pos].tolist() if not is_missing(v) and str(v).strip()]
        if len(synopsis.split()) > HEADER_CELL_WORDS or not (
                synopsis.casefold() in names or (words and all(w in _HEADER_CELL_WORDS for w in words))
                or (_IDENTIFIER.fullmatch(synopsis) and sum(looks_like_header([c]) for c in cells) >= 2)):
            continue
        out[pos] = looks_like_header(cells)
        if out[pos]:
            _check_same_columns(frame, pos, rows_before, synopsis_cols)
    return out


def _check_same_columns(frame: pd.DataFrame, pos: int, rows_before: int | None, synopsis_cols: list[str]) -> None:
    """Refuse a header row inside ``frame`` whose synopsis, genre or title column is at another place
    than in ``frame``'s columns, or that names no synopsis column genretag knows but one of the file's
    columns at another place (see `header_rows`); another export's names for the same layout ("ID,
    Movie title, Plot summary, Genres" below "id, title, overview, genres") are fine."""
    row = ["" if is_missing(v) else str(v).strip() for v in frame.iloc[pos].tolist()]
    names = ["" if str(c).startswith("Unnamed: ") else str(c).strip() for c in frame.columns]
    if [c.casefold() for c in row] == [n.casefold() for n in names]:
        return
    own = [str(c) for c in frame.columns]
    try:
        texts, genres = detect_columns(row, need_genres=False)
    except DataError:  # it names no synopsis column genretag knows: refused when it names one of the file's
        texts = None       # columns at another place ("name, genres, blurb" below "title, overview, genres")
        folded = [n.casefold() for n in names]
        if not any(c and c.casefold() in folded and folded.index(c.casefold()) != i for i, c in enumerate(row)):
            return
    if texts is not None:
        places = sorted(row.index(c) for c in synopsis_columns(texts))
        mine = sorted(own.index(c) for c in synopsis_cols if c in own)
        try:
            _, own_genres = detect_columns(own, text_cols=list(synopsis_cols), need_genres=False)
        except DataError:
            own_genres = None
        same_genres = genres is None or own_genres is None or row.index(genres) == own.index(own_genres)
        title, own_title = detect_title_column(row), detect_title_column(own)
        same_title = title is None or own_title is None or row.index(title) == own.index(own_title)
        if places == mine and same_genres and same_title:
            return
    index = frame.index[pos]
    number = rows_before + pos if rows_before is not None else index if isinstance(index, (int, np.integer)) else None
    where = f"row {int(number) + 2}" if number is not None else "a row"  # as a spreadsheet numbers it
    raise DataError(f"{where} is another header ({_clip(', '.join(c for c in row if c))}) than the file's "
                    f"({_clip(', '.join(n for n in names if n))}): the file joins parts with other columns, whose rows "
                    "would be read in the wrong columns; split it at that row and read each part on its own")


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
