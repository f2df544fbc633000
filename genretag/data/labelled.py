"""Labelled rows: a catalogue file read into texts with their genres, and what was dropped."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..formats import ReadOptions
from .columns import detect_columns, detect_title_column, header_rows, join_text, synopsis_columns
from .genres import is_malformed_list, parse_genres
from .reading import read_csv

logger = logging.getLogger(__name__)

#: Rows repeating a synopsis with other genres, as a share of the movies kept (and at least `LONG_ROWS`
#: of them), from which a file is taken to list each movie's genres on rows of their own, and its rows'
#: genres are merged (`load_labelled`).
LONG_SHARE = 0.25
LONG_ROWS = 3


@dataclass
class DropReport:
    """How many rows ``load_labelled`` read, dropped and kept.

    Each dropped row is counted under the first reason that applies, in field order,
    so ``total == len(header_rows) + empty_text + no_genres + duplicate_text + sampled_out + kept``.
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
    text_columns: list[str] | None = field(default=None, compare=False)
    """The columns joined into the synopsis (given or detected)."""
    genres_column: str | None = field(default=None, compare=False)
    """The column read as the genres (given or detected)."""
    header_rows: list[int] = field(default_factory=list)
    """Data-row numbers of rows that are a header, not a movie (`genretag.data.header_rows`), dropped first."""
    other_genres: int = 0
    """Of the ``duplicate_text`` rows, those with a genre the kept row lacks; not a drop reason."""
    merged_genres: bool = False
    """Their genres were added to the kept row's (a file of one row per genre: `LONG_SHARE`)."""

    def lines(self) -> list[str]:
        """Return a short human summary, one line per non-zero count; the first names the columns read."""
        columns = ""
        if self.text_columns and self.genres_column:
            columns = (f": synopsis from {' + '.join(repr(c) for c in self.text_columns)}, "
                       f"genres from '{self.genres_column}'")
        out = [f"read {_rows(self.total)}{columns}"]
        if self.header_rows:
            out.append(f"dropped {header_rows_said(self.header_rows)}")
        if self.empty_text:
            out.append(f"dropped {_rows(self.empty_text)} with an empty synopsis")
        if self.no_genres:
            out.append(f"dropped {_rows(self.no_genres)} with no genres")
        if self.duplicate_text:
            also = ""
            if self.merged_genres:
                also = (f"; the genres of {self.other_genres} of them added to the first row's "
                        "(the file lists a movie's genres on rows of their own)")
            elif self.other_genres:
                also = f" ({self.other_genres} with other genres than the row kept, which keeps its own)"
            out.append(f"dropped {_rows(self.duplicate_text)} repeating an earlier synopsis{also}")
        if self.sampled_out:
            out.append(f"left out {_rows(self.sampled_out)} by sampling")
        out.append(f"kept {_rows(self.kept)}")
        if self.malformed_genres:
            out.append(f"{_rows(self.malformed_genres)} had a broken genre list, read as plain text")
        return out


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def header_rows_said(rows: list[int], count: int | None = None) -> str:
    """``"2 rows that are headers, not movies (data rows 41, 82: files joined one after another?)"``;
    ``rows`` are 0-based data-row numbers (the first of ``count``, default all), said 1-based as a
    spreadsheet numbers them below the header."""
    count = len(rows) if count is None else count
    shown = ", ".join(str(i + 1) for i in rows[:5]) + (", ..." if count > min(len(rows), 5) else "")
    one = count == 1
    return (f"{_rows(count)} that {'is a header, not a movie' if one else 'are headers, not movies'} "
            f"(data row{'' if one else 's'} {shown}: files joined one after another?)")


#: A text column naming the row's own genres in this share of rows or more holds the answers (keywords, tags).
LABEL_SHARE = 0.5
LABEL_ROWS = 10_000


def _warn_label_columns(df, text_cols, genres: list[list[str]], path) -> None:
    """Warn about a text column that names each row's own genres (a "keywords" or "tags" column): a
    model reading it learns, or is scored on, the answers. TMDB overviews name one of their genres
    in 10% of rows, titles in 1%. Judged on the first `LABEL_ROWS` rows with genres."""
    rows = [i for i, g in enumerate(genres) if g][:LABEL_ROWS]
    if len(rows) < 10:
        return
    for column in text_cols:
        cells = df[column].tolist()
        hits = 0
        for i in rows:
            cell = str(cells[i]).casefold() if isinstance(cells[i], str) else ""
            if cell and any(re.search(r"\b" + re.escape(g.casefold()) + r"\b", cell) for g in genres[i]):
                hits += 1
        if hits >= LABEL_SHARE * len(rows):
            logger.warning("%s: text column '%s' names the row's own genres in %d of %d rows: a model reading it "
                           "learns, or is scored on, the answers; leave it out of --text-col", path, column, hits,
                           len(rows))


def _check_genre_column(genres: list[list[str]], path, column: str, vocabulary=None, named: bool = False) -> None:
    """Refuse a genre column whose "genres" are nearly all different, one row each: titles,
    ids, people or sentences (``--genres-col title``), from which a model learns nothing.
    A column the user named (``named``: ``--genres-col``) with names the vocabulary does not
    know (another language's, say) is taken, with a warning; titles or sentences are not.

    Raises:
        DataError: At least 10 names, one per two rows or more, and either more than 30 with
            80% of them in one row only, or half in one row only and at most a fifth of them
            names the genre vocabulary knows (a small file of titles).
    """
    counts = Counter(g for row in genres for g in row)
    n = len(counts)
    if n < 10 or n * 2 < len(genres):
        return
    once = sum(1 for c in counts.values() if c == 1)
    known = sum(1 for g in counts if vocabulary is not None and vocabulary.known(g))
    if (n > 30 and once >= 0.8 * n) or (once >= 0.5 * n and known <= 0.2 * n):
        examples = ", ".join(repr(g) for g in list(counts)[:3])
        words = sum(len(g.split()) for g in counts) / n
        if named and words <= 3 and once < 0.9 * n:  # short names that repeat, not titles or sentences: genres
            logger.warning("%s: column '%s' holds %d different genre names in %d rows, %d of them in one row only "
                           "(e.g. %s), most unknown to genretag's vocabulary: read as genres, as --genres-col says; "
                           "map them with --genre-map if they are genres under other names", path, column, n,
                           len(genres), once, examples)
            return
        raise DataError(f"column '{column}' of {path} does not hold genres: {n} different names in "
                        f"{len(genres)} rows, {once} of them in one row only (e.g. {examples}); pass --genres-col "
                        f"with the column of genres (--genres-col '{column}' reads these as genres)")


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
    synopses: list[str] | None = None
    """The texts without their title, when the text columns include one (title + overview);
    None when the texts are the synopses. Duplicates and training-overlap keys use these."""

    def __post_init__(self) -> None:
        n = len(self.texts)
        if len(self.genres) != n or len(self.row_ids) != n or any(
                x is not None and len(x) != n for x in (self.titles, self.synopses)):
            raise ValueError("texts, genres, row_ids, titles and synopses must have the same length")

    @property
    def synopsis_texts(self) -> list[str]:
        """Each row's synopsis: the text without its title (`synopses`), else the text."""
        return self.texts if self.synopses is None else self.synopses

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
            synopses=None if self.synopses is None else [self.synopses[i] for i in pos],
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
    genres_col_given = genres_col is not None
    texts_cols, genres_col = detect_columns(list(df.columns), text_cols=text_cols, genres_col=genres_col)
    texts = join_text(df, texts_cols).tolist()
    # Duplicates are judged on the synopsis, not the title: "Loro 1" and "Loro 2" share one
    # synopsis, and a row in training with its twin in validation would flatter the score.
    # It also keeps the split of title + overview runs the same as that of overview runs.
    synopsis_cols = synopsis_columns(texts_cols)
    synopses = join_text(df, synopsis_cols).tolist() if synopsis_cols != list(texts_cols) else texts
    is_header = header_rows(df, synopsis_cols)
    cells = df[genres_col].tolist()
    written: dict[str, str] = {}  # canonical name -> as the file writes it, for the report
    genres = [parse_genres(c, written) for c in cells]
    genre_report = None
    if vocabulary is not None:
        genres, genre_report = vocabulary.apply(genres, where=f"{path} column '{genres_col}'", written=written)
    malformed = sum(is_malformed_list(c) for c in cells)
    if malformed:
        logger.warning(
            "%s: %d genre cells look like broken lists (e.g. cut off); read them as plain text, "
            "check the labels.json of the run", path, malformed
        )
    _warn_label_columns(df, texts_cols, genres, path)
    title_col = detect_title_column(list(df.columns), title_col)
    # As the model reads a title: an object's English field (AniList), a list's first item.
    titles = join_text(df, [title_col], titles=True).tolist() if title_col else None
    total = len(df)
    del df

    empty_text = no_genres = duplicate_text = other_genres = 0
    first: dict[str, int] = {}  # synopsis -> the row kept for it
    others: dict[int, list[str]] = {}  # kept row -> genres its repeats add
    for i, (text, synopsis, row_genres) in enumerate(zip(texts, synopses, genres)):
        if is_header[i]:  # a header repeated inside the file: no movie
            continue
        if not synopsis:  # a title alone is not a synopsis
            empty_text += 1
        elif not row_genres:
            no_genres += 1
        elif synopsis.casefold() in first:  # the same synopsis re-typed in another case is a duplicate too
            duplicate_text += 1
            kept_row = first[synopsis.casefold()]
            if any(g not in genres[kept_row] for g in row_genres):
                added = others.setdefault(kept_row, [])
                added.extend(g for g in row_genres if g not in genres[kept_row] and g not in added)
                other_genres += 1
        else:
            first[synopsis.casefold()] = i
    keep = list(first.values())
    # A file of one row per genre (Letterboxd, a database join) repeats most synopses with another genre:
    # its movies' genres are the union. A few twins with other genres (two films, one blurb) keep their own.
    merged = other_genres >= max(LONG_ROWS, LONG_SHARE * len(keep))
    if merged:
        for row, extra in others.items():
            genres[row] = genres[row] + extra
    if not keep:
        raise DataError(
            f"no usable rows in {path}: {empty_text} with empty text, {no_genres} without genres; "
            f"check --text-col and --genres-col (using {', '.join(texts_cols)} and {genres_col})"
        )

    _check_genre_column([genres[i] for i in keep], path, genres_col, vocabulary, named=genres_col_given)

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
        synopses=None if synopses is texts else [synopses[i] for i in keep],
    )
    report = DropReport(
        total=total,
        empty_text=empty_text,
        no_genres=no_genres,
        duplicate_text=duplicate_text,
        header_rows=[int(i) for i in np.flatnonzero(is_header)],
        kept=len(keep),
        sampled_out=sampled_out,
        malformed_genres=malformed,
        genres=genre_report,
        text_columns=list(texts_cols),
        genres_column=genres_col,
        other_genres=other_genres,
        merged_genres=merged,
    )
    return data, report
