"""Tagging CSV files: read in chunks, predict, append genre columns, write atomically."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import data as data_mod
from . import formats, language
from .data.cells import no_synopsis_note
from .decision import DecisionRule
from .errors import DataError, ModelError
from .outputs import atomic_path, refuse_input, resumable_path, write_json, write_record
from .rundir import fingerprint as run_fingerprint

if TYPE_CHECKING:  # tagging works on a PyTorch run and on an exported one (genretag.onnx_runtime): no torch import here
    from .runs import Run

logger = logging.getLogger(__name__)

GENRES_COLUMN = "predicted_genres"
#: A text of fewer words is too short to be a synopsis (a title, a tagline): its genres are guesses.
SHORT_TEXT_WORDS = 6
#: The flag of a tagged row whose synopsis has fewer than `SHORT_TEXT_WORDS` words.
SHORT_NOTE = "short ({})"
#: The flag of a row left untagged though its synopsis cell prints something (`genretag.data.cells.not_a_synopsis`).
UNTAGGED_NOTE = "{} (not tagged)"
#: Column flagging rows written in a script the model was not trained on (empty when fine).
LANGUAGE_COLUMN = "language_warning"
SCORE_PREFIX = "score_"
#: Decimal places of the written ``score_<genre>`` columns (more only where needed, see `written_scores`).
SCORE_DIGITS = 4
# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_FORMAT = 1
HEADER_EXAMPLES = 5


@dataclass
class TagSummary:
    """What `tag_csv` did."""

    source: Path
    output: Path
    rows: int = 0
    tagged: int = 0
    empty_text: int = 0
    seconds: float = 0.0
    genres_column: str = GENRES_COLUMN
    genre_counts: dict[str, int] = field(default_factory=dict)
    resumed_rows: int = 0
    shard: tuple[int, int] | None = None
    input_rows: int = 0
    other_script: dict[str, int] = field(default_factory=dict)
    """Rows not in a script the model was trained on, by script (flagged in `LANGUAGE_COLUMN`)."""
    text_columns: list[str] = field(default_factory=list)
    """The column(s) joined into the synopsis the model read."""
    text_columns_how: str = "detected"
    """How they were chosen (`TextColumns.how`)."""
    short_texts: int = 0
    """Tagged rows whose text has fewer than `SHORT_TEXT_WORDS` words (a title, not a synopsis?)."""
    not_synopsis: dict[str, int] = field(default_factory=dict)
    """Untagged rows whose synopsis cell holds no synopsis but prints something, by reason ("no letters" ...)."""
    truncated: int = 0
    """Tagged rows whose text is longer than the run's max length in tokens (only its start read)."""
    no_genre: int = 0
    """Tagged rows given no genre (no score past its threshold, without the at-least-one rule)."""
    dialect: str | None = None
    """How the output's text differs from comma-separated UTF-8 (`formats.describe_dialect`)."""

    @property
    def rows_per_second(self) -> float:
        """Throughput over the whole command (reading, predicting, writing) of this call."""
        return (self.rows - self.resumed_rows) / self.seconds if self.seconds > 0 else 0.0


def default_output(path: str | Path, source: formats.FileFormat | None = None) -> Path:
    """``movies.csv`` → ``movies.tagged.csv`` beside the input, in the input's format
    (``movies.tsv.gz`` → ``movies.tagged.tsv.gz``; see `genretag.formats.default_output`)."""
    return formats.default_output(path, source)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` → ``(i, n)``: this process tags the rows whose index ``% n == i``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match or not int(match[1]) < int(match[2]):
        raise DataError(f"--shard must be i/n with 0 <= i < n, such as 0/4, got '{text}'")
    return int(match[1]), int(match[2])


def shard_output(out: str | Path, shard: tuple[int, int]) -> Path:
    """Where shard ``(i, n)`` of ``out`` goes: ``movies.tagged.shard-i-of-n.csv``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.shard-{shard[0]}-of-{shard[1]}{out.suffix or '.csv'}")


def shard_record(shard_csv: str | Path) -> Path:
    """The record written beside a finished shard: ``<shard>.json`` (what `merge_shards` checks)."""
    shard_csv = Path(shard_csv)
    return shard_csv.with_name(shard_csv.name + ".json")


def free_column(columns, base: str) -> str:
    """``base``, or ``base_2``, ``base_3`` ... whichever is not already a column, in any case
    (``Predicted_Genres`` takes ``predicted_genres``: spreadsheets and SQL ignore case)."""
    existing = {str(c).casefold() for c in columns}
    name, n = base, 1
    while name.casefold() in existing:
        n += 1
        name = f"{base}_{n}"
    return name


def score_columns(columns, names: list[str]) -> list[str]:
    """The ``score_<genre>`` column of each genre, all with one suffix (``score_<genre>_2`` ...)
    when the input has a column of any of those names: a script reading ``score_Action`` never
    reads the input's own column for one genre and genretag's for the others."""
    existing = {str(c).casefold() for c in columns}
    n = 1
    while True:
        chosen = [SCORE_PREFIX + name + (f"_{n}" if n > 1 else "") for name in names]
        if not any(c.casefold() in existing for c in chosen):
            return chosen
        n += 1


def warn_taken_columns(columns, names: list[str]) -> None:
    """Say when the input already has score or language columns, so genretag's go to suffixed ones."""
    chosen = score_columns(columns, names)
    if chosen and chosen[0] != SCORE_PREFIX + names[0]:
        suffix = chosen[0][len(SCORE_PREFIX + names[0]):]
        taken = [str(c) for c in columns if str(c).casefold().startswith(SCORE_PREFIX)][:3]
        logger.warning("the input has column(s) %s: the scores are written to score_<genre>%s",
                       ", ".join(repr(c) for c in taken), suffix)
    language_column = free_column(list(columns) + chosen, LANGUAGE_COLUMN)
    if language_column != LANGUAGE_COLUMN:
        taken = next(str(c) for c in columns if str(c).casefold() == LANGUAGE_COLUMN)
        logger.warning("the input has a column %r: genretag's language flags are written to %r", taken,
                       language_column)


def safe_cell(text: str) -> str:
    """Quote a value genretag writes so that no spreadsheet runs it as a formula.

    Only for spreadsheet formats (CSV, TSV): JSON Lines and Parquet get the value as is.
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def progress_file(partial: str | Path) -> Path:
    """The progress record beside a partial output: ``.<out>.partial.json``."""
    partial = Path(partial)
    return partial.with_name(partial.name + ".json")


@dataclass
class TaggedFrame:
    """What `tag_frame` made of one batch of rows."""

    frame: pd.DataFrame
    """The input rows, every column kept, with the genre (and score) columns appended."""
    chosen: np.ndarray
    """``[rows, genres]`` 0/1 decisions (all 0 where the text is empty)."""
    has_text: np.ndarray
    """``[rows]`` True where the joined text is not empty (those rows were predicted)."""
    other_script: dict[str, int] = field(default_factory=dict)
    """Rows flagged in ``language_warning``, by script."""
    short_texts: int = 0
    """Rows with a text of fewer than `SHORT_TEXT_WORDS` words (a title, not a synopsis?)."""
    not_synopsis: dict[str, int] = field(default_factory=dict)
    """Untagged rows whose synopsis cell prints something that is no synopsis, by reason (`untagged_notes`)."""
    truncated: int = 0
    """Rows whose text is longer than the run's max length in tokens: only its start was read."""
    header_rows: list[int] = field(default_factory=list)
    """Index labels of rows that are a header, not a movie (`genretag.data.header_rows`): not predicted."""


def tag_frame(
    run: Run,
    frame: pd.DataFrame,
    text_cols: list[str],
    *,
    rule: DecisionRule | None = None,
    precision: str = "fp32",
    batch_size: int | None = None,
    scores: bool = True,
    names: list[str] | None = None,
    spreadsheet: bool = True,
) -> TaggedFrame:
    """Predict genres for a batch of rows and append them as columns: `tag`'s one per-batch step.

    The genre column is ``predicted_genres`` (``|``-joined, quoted against spreadsheet
    formulas by `safe_cell`) and each score column ``score_<genre>`` (probability rounded
    to 4 decimals, NaN where the text is empty); a name already taken gets ``_2``, ``_3`` ...
    (`free_column`). Rows whose text is empty get no genre.

    Args:
        run: A loaded run.
        frame: The rows; ``text_cols`` must be among its columns.
        text_cols: Columns joined into the text (`choose_text_columns`).
        rule: The decision rule (default: the run's own, ``run.rule``; overridden with
            `DecisionRule.with_overrides`).
        precision: Prediction arithmetic (`Run.predict_proba`): ``fp32``, ``bf16``,
            ``int8`` or ``auto``; ``auto`` keeps its choice across calls on ``run``.
        batch_size: Rows per forward pass (default: the run's own, more on a GPU).
        scores: Add the score columns.
        names: The name to write for each of the run's genres (default: the run's own;
            `genretag.vocabulary.output_names` gives another vocabulary's).
        spreadsheet: Quote genre cells against spreadsheet formulas (`safe_cell`): for
            CSV/TSV outputs, not for JSONL or Parquet.

    Returns:
        A `TaggedFrame` with ``len(frame)`` rows in ``frame``'s order and index. A
        ``language_warning`` column flags rows in a script the run was not trained on
        (`genretag.language`; empty when fine).
    """
    rule = run.rule if rule is None else rule
    texts = data_mod.join_text(frame, text_cols)
    synopsis_cols = data_mod.synopsis_columns(text_cols)
    synopses = texts if synopsis_cols == list(text_cols) else data_mod.join_text(frame, synopsis_cols)
    is_header = data_mod.header_rows(frame, synopsis_cols)  # a header repeated inside the file is no movie
    has_text = (synopses.str.len() > 0).to_numpy(dtype=bool) & ~is_header  # a title alone is not tagged
    probs = np.full((len(frame), len(run.labels)), np.nan, dtype=np.float32)
    truncated = 0
    if has_text.any():
        probs[has_text] = run.predict_proba(texts[has_text].tolist(), precision=precision, batch_size=batch_size,
                                            rule=rule)
        # ONNX Runtime's path counts while it tokenises; PyTorch's tokeniser is asked again.
        truncated = getattr(run, "last_truncated", None)
        if truncated is None:
            truncated = count_truncated(run.tokenizer, texts[has_text].tolist(), run.config.max_length)
    chosen = rule.apply(np.nan_to_num(probs, nan=0.0))
    chosen[~has_text] = 0
    names = list(run.labels) if names is None else list(names)
    if len(names) != len(run.labels):
        raise ValueError(f"names must give one name per genre ({len(run.labels)}), got {len(names)}")
    out = frame.copy()
    cell = safe_cell if spreadsheet else str
    out[free_column(frame.columns, GENRES_COLUMN)] = [
        cell("|".join(names[j] for j in np.flatnonzero(row))) for row in chosen
    ]
    score_names = score_columns(frame.columns, names) if scores else []
    if scores:
        # float64, rounded without crossing a threshold, so that 0.1234 is written as 0.1234 in every format
        written = written_scores(probs, chosen, rule)
        for j, name in enumerate(score_names):
            out[name] = written[:, j]
    # The language and the length are the synopsis's: a title ("H", "Amélie") says nothing of either.
    text_list = synopses.fillna("").tolist()
    scripts = language.row_scripts(text_list)  # once: for the script warnings and the word counts
    flags = language.script_warnings(text_list, language.known_scripts(run.meta), scripts,
                                     english=language.trained_on_english(run.meta))
    other_script = language.count_by_script(flags)
    words = language.word_counts(text_list, scripts)
    short = (words < SHORT_TEXT_WORDS) & has_text
    for i in np.flatnonzero(short):
        n = int(words[i])
        flags[i] = flags[i] or SHORT_NOTE.format(f"{n} word{'s' * (n != 1)}")
    for i in np.flatnonzero(~has_text & ~is_header):
        reason = next(filter(None, (no_synopsis_note(frame[c].iat[i]) for c in synopsis_cols)), "")
        flags[i] = UNTAGGED_NOTE.format(reason) if reason else flags[i]
    out[free_column(list(frame.columns) + score_names, LANGUAGE_COLUMN)] = flags
    return TaggedFrame(frame=out, chosen=chosen, has_text=has_text, other_script=other_script,
                       short_texts=int(short.sum()), not_synopsis=untagged_notes(flags), truncated=truncated,
                       header_rows=[int(i) for i in frame.index[is_header]])


def untagged_notes(flags: list[str]) -> dict[str, int]:
    """Rows left untagged though their synopsis cell prints something, by reason ("no letters",
    "a link only" ...), from the flags `tag_frame` writes."""
    suffix = UNTAGGED_NOTE.format("")
    reasons = [f.removesuffix(suffix) for f in flags if isinstance(f, str) and f.endswith(suffix)]
    return {r: reasons.count(r) for r in sorted(set(reasons), key=lambda r: (-reasons.count(r), r))}


def describe_untagged(not_synopsis: dict[str, int], column: str) -> str | None:
    """One line counting the rows `untagged_notes` found, or None when there are none."""
    if not not_synopsis:
        return None
    total = sum(not_synopsis.values())
    listed = ", ".join(f"{n} {reason}" for reason, n in not_synopsis.items())
    return (f"{total} row{'s' * (total != 1)} with no synopsis to read ({listed}) left untagged and counted as empty; "
            f"flagged in column {column}")


def count_truncated(tokenizer, texts: list[str], max_length: int) -> int:
    """How many of ``texts`` have more than ``max_length`` tokens (special tokens included):
    the model reads only their first ``max_length``.

    Args:
        tokenizer: A transformers tokenizer, or a `tokenizers.Tokenizer` that truncates at
            ``max_length`` (the ONNX path's, whose encodings list what was cut).
    """
    if len(texts) == 0:
        return 0
    if hasattr(tokenizer, "encode_batch"):
        return sum(1 for e in tokenizer.encode_batch(list(texts)) if e.overflowing)
    ids = tokenizer(list(texts), truncation=False, padding=False, verbose=False)["input_ids"]
    return sum(1 for row in ids if len(row) > max_length)


class GenreTagger:
    """Tag batches of rows with genres: the picklable predictor that Ray Data, Spark and Dask call.

    The constructor loads the run once (per worker, when an engine builds one per worker);
    each call tags one batch exactly as ``genretag tag`` tags a chunk (`tag_frame`: same
    columns, values and decision rule)::

        tagger = GenreTagger("runs/my-run")
        tagged = tagger(pd.DataFrame({"title": ["Heat"], "overview": ["A thief and a detective ..."]}))

    A pickled tagger holds only its arguments and loads the run again where it is
    unpickled, so it can be shipped to workers; the run path must exist there.

    Args:
        model: Run directory (default: the newest under ./runs, else the bundled model).
        text_cols: Text columns to join (default: the run's own when a batch has them all,
            else the one detected in the batch's column names).
        precision: ``auto``, ``fp32``, ``bf16`` or ``int8`` (as ``tag --precision``).
        batch_size: Rows per forward pass (default: the run's own, more on a GPU).
        threshold: One threshold for every genre (default: the run's own, per genre).
        at_least_one: Give each row with a text its most likely genre when none passes
            (default: the run's setting).
        max_genres: At most this many genres per row (default: the run's setting).
        scores: Add a ``score_<genre>`` column per genre.
        backbone: Backbone to load instead of the run's own (a moved folder).
        trust_remote_code: Allow a run trained with ``trust_remote_code``.
        threads: CPU threads (default: ``OMP_NUM_THREADS`` for torch, else one per core).
        device: ``cpu``, ``cuda`` ... (default: CUDA when present, else CPU).
        force_backbone: Accept a ``backbone`` with the run's shapes but other weights.
        vocabulary: Write genre names of another vocabulary (``tmdb``, ``imdb``,
            ``movielens`` or a TOML file; as ``tag --vocabulary``).
        spreadsheet: Quote genre cells against spreadsheet formulas, as ``tag`` does for
            CSV/TSV output (False for JSONL/Parquet output).
        runtime: ``auto`` (ONNX Runtime on a CPU: the run exported once to a cache, checked
            against PyTorch; see `genretag.onnx_runtime`), ``onnx`` or ``torch`` (as ``tag --runtime``).

    Raises:
        ConfigError: An option out of range, by its parameter name.
        DataError: At call time, a missing text column.
        ModelError: The run cannot be loaded.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        text_cols: list[str] | None = None,
        precision: str = "auto",
        batch_size: int | None = None,
        *,
        threshold: float | None = None,
        at_least_one: bool | None = None,
        max_genres: int | None = None,
        scores: bool = True,
        backbone: str | None = None,
        trust_remote_code: bool = False,
        threads: int | None = None,
        device: str | None = None,
        force_backbone: bool = False,
        vocabulary: str | None = None,
        spreadsheet: bool = True,
        runtime: str = "auto",
    ):
        # What a pickle carries: the run is loaded again where the tagger is unpickled.
        self._args = dict(model=model, text_cols=text_cols, precision=precision, batch_size=batch_size,
                          threshold=threshold, at_least_one=at_least_one, max_genres=max_genres, scores=scores,
                          backbone=backbone, trust_remote_code=trust_remote_code, threads=threads, device=device,
                          force_backbone=force_backbone, vocabulary=vocabulary, spreadsheet=spreadsheet,
                          runtime=runtime)
        from .config import check_tag_options
        from .onnx_runtime import load_for_tagging
        from .rundir import resolve_model

        check_tag_options(threshold=threshold, max_genres=max_genres, precision=precision, batch_size=batch_size,
                          threads=threads)
        self.run = load_for_tagging(resolve_model(model), runtime=runtime, precision=precision, threads=threads,
                                    device=device, backbone=backbone, trust_remote_code=trust_remote_code,
                                    force_backbone=force_backbone)
        self.names = None
        if vocabulary is not None:
            from .vocabulary import output_names

            self.names = output_names(self.run.labels, vocabulary)[0]
        self.spreadsheet = spreadsheet
        self.precision, self.batch_size = precision, batch_size
        self.text_cols = list(text_cols) if text_cols else None
        self._warned_columns = False
        self.rule = self.run.rule.with_overrides(threshold=threshold, at_least_one=at_least_one, max_genres=max_genres)
        self.scores = scores

    @property
    def labels(self) -> list[str]:
        """The genres, in the order of the score columns."""
        return list(self.run.labels)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Tag one batch.

        Args:
            batch: Rows with the text column(s); any other columns are passed through.

        Returns:
            ``batch`` (same rows, order and index) with ``predicted_genres`` and, unless
            ``scores=False``, one ``score_<genre>`` column per genre appended.
        """
        chosen = data_mod.choose_text_columns(batch.columns, self.text_cols, self.run.config.text_cols)
        if not self._warned_columns:
            for warning in chosen.warnings():
                logger.warning(warning)
            self._warned_columns = True
        return tag_frame(self.run, batch, chosen.columns, rule=self.rule, precision=self.precision, batch_size=self.batch_size,
                         scores=self.scores, names=self.names, spreadsheet=self.spreadsheet).frame

    def __getstate__(self) -> dict:
        return dict(self._args)

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)


def tag_csv(
    run: Run,
    path: str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
    text_cols: list[str] | None = None,
    thresholds: np.ndarray | float | None = None,
    at_least_one: bool | None = None,
    max_genres: int | None = None,
    scores: bool = True,
    precision: str = "fp32",
    batch_size: int | None = None,
    chunksize: int = 10_000,
    on_rows: Callable[[int], None] | None = None,
    resume: bool = False,
    shard: tuple[int, int] | None = None,
    names: list[str] | None = None,
    read: formats.ReadOptions | None = None,
) -> TagSummary:
    """Tag every row of a catalogue file with genres; all input columns and the row order are kept.

    Any format `genretag.formats.sniff` reads is accepted; the output's suffix chooses
    the format written (`genretag.formats.output_format`), by default the input's own.

    Chunks are appended to ``.<out>.partial`` and counted in ``.<out>.partial.json``;
    the finished file is renamed onto ``out``. An interrupted run leaves both, and
    ``resume=True`` continues after the last complete chunk once it has checked that
    the input, the model and the options are unchanged.

    Args:
        run: A loaded run (`genretag.runs.load_run`).
        path: Input file.
        out: Output file (default `default_output`: ``<input>.tagged.<input's suffix>``).
        force: Overwrite an existing output.
        text_cols: Text columns to join (default: the run's own when the CSV has them, else detected).
        thresholds: Override the run's thresholds (one value or one per genre).
        at_least_one: Give each row with a synopsis its most likely genre when none passes
            (default: the run's setting).
        max_genres: At most this many genres per row (default: the run's setting).
        scores: Add a ``score_<genre>`` column per genre.
        precision: Prediction arithmetic: ``fp32`` (exact, the default), ``bf16``, ``int8``
            or ``auto`` (``genretag tag``'s default; its choice is then
            ``run.predictor("auto").choice``).
        batch_size: Rows per forward pass (default: the run's own, more on a GPU).
        chunksize: Rows read, predicted and written at a time (bounds memory); a resumed
            run keeps the interrupted run's value, so its chunks and output are the same.
        on_rows: Called with the number of rows finished after each chunk.
        resume: Continue an interrupted run of the same command.
        shard: ``(i, n)``: tag only the rows whose 0-based index ``% n == i`` and write them to
            `shard_output` (plus a `shard_record`); `merge_shards` puts the n shards back
            together. Interleaved rows keep the shards equally long and need no row count
            up front, so each process streams the file like an unsharded run.
        names: The name to write for each of the run's genres, in ``predicted_genres`` and the
            score columns (default: the run's own; `genretag.vocabulary.output_names` gives
            IMDb's or MovieLens' names).
        read: Separator and header options for the input, when detection cannot know.

    Returns:
        A `TagSummary`. Rows in a script the run was not trained on (`genretag.language`)
        are flagged in a ``language_warning`` column, counted and warned about.
    """
    path = Path(path)
    # Fail on an unusable file or column choice before any partial output exists.
    source = formats.sniff(path, read)
    if not out:
        note = formats.default_output_note(path, source)
        if note:
            logger.info("%s", note)
    out = Path(out) if out else default_output(path, source)
    out_format = formats.check_output(out, source=source, resume=resume, shard=shard)
    summary_dialect = formats.describe_dialect(out_format)
    merged_format = None  # the dialect merge-shards writes the whole output in: the input's, as tag keeps it
    if shard is not None:
        merged_format = formats.check_output(out, source=source, warn=False)
        out = shard_output(out, shard)
    refuse_input(out, [path])
    rule = run.rule.with_overrides(threshold=thresholds, at_least_one=at_least_one, max_genres=max_genres)
    summary = TagSummary(source=path, output=out, dialect=summary_dialect)
    names = list(run.labels) if names is None else list(names)
    t0 = time.perf_counter()
    header = list(source.columns)
    chosen = data_mod.choose_text_columns(header, text_cols, run.config.text_cols)
    text_cols = chosen.columns
    summary.text_columns, summary.text_columns_how = list(text_cols), chosen.how
    for warning in chosen.warnings():
        logger.warning(warning)
    schema = formats.parquet_schema(path) if source.kind == formats.PARQUET and out_format.kind == formats.PARQUET else None
    with resumable_path(out, marker=progress_file, force=force, resume=resume) as partial:
        tmp, record_path = partial.path, progress_file(partial.path)
        identity = {
            "format": PROGRESS_FORMAT,
            "input_fingerprint": data_mod.file_fingerprint(path),
            "model_fingerprint": run_fingerprint(run.path),
            "options": {
                "text_cols": text_cols,
                "thresholds": None if thresholds is None else np.round(np.asarray(thresholds, dtype=float), 6).tolist(),
                "at_least_one": rule.at_least_one,
                "max_genres": rule.max_genres,
                "scores": scores,
                "shard": list(shard) if shard else None,
                **({"names": names} if names != list(run.labels) else {}),
                # the same arithmetic, so that a resumed file holds the bytes an uninterrupted run writes
                "arithmetic": "onnx-fp32" if hasattr(run, "folder") else f"torch-{precision}",
            },
        }
        record = {**identity, "chunksize": chunksize, "chunks": 0, "rows": 0, "bytes": 0, "tagged": 0,
                  "empty_text": 0, "counts": [0] * len(run.labels), "other_script": {}}
        if partial.resumed:
            record = _resume_record(record_path, identity, tmp, path)
            summary.resumed_rows = record["rows"]
            chunksize = record["chunksize"]
        counts = np.asarray(record["counts"], dtype=np.int64)
        known = language.known_scripts(run.meta)
        other_script = dict(record.get("other_script") or {})
        not_synopsis = dict(record.get("not_synopsis") or {})
        language_column = LANGUAGE_COLUMN
        no_rows = True
        input_rows = 0
        writer = formats.TableWriter(tmp, out_format, schema=schema, name=out.name)
        try:
            for i, chunk in enumerate(formats.iter_tables(path, read, chunksize=chunksize, fmt=source)):
                input_rows += len(chunk)
                if shard is not None:  # the index continues the data-row numbering across chunks
                    chunk = chunk[np.asarray(chunk.index) % shard[1] == shard[0]]
                if no_rows:  # the columns were chosen from the header, before any output
                    no_rows = False
                    summary.genres_column = free_column(chunk.columns, GENRES_COLUMN)
                    warn_taken_columns(chunk.columns, names if scores else [])
                    _warn_empty_titles(chunk, text_cols)
                if i < record["chunks"]:  # written before the interruption
                    if on_rows:
                        on_rows(len(chunk))
                    continue
                # a JSON record's keys stay its own: one it lacked is not written as null
                sparse = list(chunk.columns) if source.kind in (formats.JSONL, formats.JSON) else ()
                tagged = tag_frame(run, chunk, text_cols, rule=rule, precision=precision, batch_size=batch_size,
                                   scores=scores, names=names, spreadsheet=out_format.spreadsheet)
                chunk, has_text = tagged.frame, tagged.has_text
                if source.nested:  # each record as it was, its object whole: not the fields read from it
                    chunk = chunk.drop(columns=formats.nested_fields(chunk.columns, source))
                language_column = chunk.columns[-1]
                summary.short_texts += tagged.short_texts
                for reason, n in tagged.not_synopsis.items():
                    not_synopsis[reason] = not_synopsis.get(reason, 0) + n
                summary.truncated += tagged.truncated
                counts += tagged.chosen.sum(axis=0)
                for script, n in tagged.other_script.items():
                    other_script[script] = other_script.get(script, 0) + n
                writer.write(chunk, header=i == 0, sparse=sparse)
                record.update(
                    chunks=i + 1,
                    rows=record["rows"] + len(chunk),
                    bytes=tmp.stat().st_size,
                    tagged=record["tagged"] + int(has_text.sum()),
                    empty_text=record["empty_text"] + int((~has_text).sum()) - len(tagged.header_rows),
                    header_rows=record.get("header_rows", 0) + len(tagged.header_rows),
                    header_examples=(record.get("header_examples", []) + tagged.header_rows)[:HEADER_EXAMPLES],
                    no_genre=record.get("no_genre", 0) + int((has_text & (tagged.chosen.sum(axis=1) == 0)).sum()),
                    counts=counts.tolist(),
                    other_script=other_script,
                    not_synopsis=not_synopsis,
                )
                if out_format.appendable:  # a Parquet partial cannot be resumed: no record keeps it
                    write_record(record_path, record)
                if on_rows:
                    on_rows(len(chunk))
        finally:
            writer.close()
        if no_rows:
            raise DataError(f"{path} has a header but no rows; nothing to tag")
    summary.rows, summary.tagged, summary.empty_text = record["rows"], record["tagged"], record["empty_text"]
    summary.no_genre = record.get("no_genre", 0)
    summary.header_rows = list(record.get("header_examples", []))
    summary.header_count = record.get("header_rows", 0)
    summary.shard, summary.input_rows = shard, input_rows
    if shard is not None:
        write_json(shard_record(out), {**identity, "input": str(path.resolve()), "input_rows": input_rows,
                                       "rows": record["rows"], "output": out.name,
                                       "merged_format": dataclasses.asdict(merged_format)})
    summary.seconds = time.perf_counter() - t0
    summary.genre_counts = {name: int(c) for name, c in zip(names, counts)}
    if summary.short_texts > summary.tagged // 2 and summary.tagged:
        logger.warning("%d of %d texts in %s have fewer than %d words: the model reads synopses, so their genres "
                       "are guesses (is this a title column? pass --text-col with the synopsis column)",
                       summary.short_texts, summary.tagged, ", ".join(summary.text_columns), SHORT_TEXT_WORDS)
    if summary.truncated:
        # A few long synopses are usual (3% of TMDB overviews pass 128 tokens); a file of long
        # plots (Wikipedia, CMU) is mostly read in part, and that changes its genres.
        log = logger.warning if summary.truncated > summary.tagged // 10 else logger.info
        log("%d of %d texts are longer than the model's %d tokens: it read only the start of each (a run trained "
            "with a larger --max-length, on a backbone that takes that many, reads more)", summary.truncated,
            summary.tagged, run.config.max_length)
    if summary.header_rows:
        logger.warning("left untagged %s", data_mod.header_rows_said(summary.header_rows, summary.header_count))
    summary.not_synopsis = dict(sorted(not_synopsis.items(), key=lambda x: -x[1]))
    untagged = describe_untagged(summary.not_synopsis, language_column)
    if untagged:
        logger.warning("%s", untagged)
    summary.other_script = dict(sorted(other_script.items(), key=lambda x: -x[1]))
    message = language.describe(summary.other_script, summary.tagged, known)
    if message:
        logger.warning("%s (column %s)", message, language_column)
    return summary


def written_scores(
    probs: np.ndarray,
    chosen: np.ndarray,
    rule: DecisionRule,
    *,
    digits: int = SCORE_DIGITS,
) -> np.ndarray:
    """The scores to write beside the decisions, rounded without changing any decision.

    Plain rounding can carry a probability just under its threshold up onto it (0.37116
    → 0.3712 against a threshold of 0.3712), and a reader re-applying ``thresholds.json``
    to the file would then see a genre the file does not list. Scores are rounded to
    ``digits`` decimals, but never across a threshold; a row whose rounded scores would
    still decide differently under the rule (a tie decided by the at-least-one or
    max-genres rule) keeps its exact probabilities (shortest round-trip decimals).

    Args:
        probs: ``[rows, genres]`` probabilities (NaN for rows without a synopsis).
        chosen: ``[rows, genres]`` 0/1 decisions made from ``probs`` by ``rule.apply``.
        rule: The decision rule of those decisions.
        digits: Decimal places.

    Returns:
        ``[rows, genres]`` float64 scores (NaN where ``probs`` is NaN) for which
        ``rule.apply`` gives ``chosen`` again.
    """
    exact = np.asarray(probs).astype(float)
    if exact.size == 0:
        return exact
    limits = np.broadcast_to(rule.thresholds, exact.shape)
    chosen = np.asarray(chosen).astype(bool)
    step = 10.0 ** -digits
    out = np.round(exact, digits)
    below = exact < limits
    # Largest multiple of ``step`` under the threshold / smallest one at or above it.
    under = np.round(np.ceil(limits / step - 1e-6) * step - step, digits)
    over = np.round(np.ceil(limits / step - 1e-6) * step, digits)
    out = np.where(below & (out >= limits), np.minimum(under, exact), out)
    out = np.where(~below & (out < limits), np.maximum(over, exact), out)
    finite = np.isfinite(exact).all(axis=1)
    if finite.any():
        again = rule.apply(np.nan_to_num(out[finite], nan=0.0)).astype(bool)
        differ = np.flatnonzero(finite)[(again != chosen[finite]).any(axis=1)]
        out[differ] = exact[differ]
    return out


def _resume_record(record_path: Path, identity: dict, tmp: Path, source: Path) -> dict:
    """Check an interrupted run's progress record and cut the partial output to its last chunk."""
    fix = "rerun with --force instead of --resume to start over"
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DataError(f"the progress record {record_path} is unreadable; {fix}") from None
    if not isinstance(record, dict) or record.get("format") != PROGRESS_FORMAT:
        raise DataError(f"{record_path} was written by an incompatible genretag; {fix}")
    if record.get("input_fingerprint") != identity["input_fingerprint"]:
        raise DataError(f"cannot resume: {source} changed since the interrupted run; {fix}")
    if record.get("model_fingerprint") != identity["model_fingerprint"]:
        raise ModelError(f"cannot resume: the interrupted run used another model; pass the same --model, or {fix}")
    changed = sorted(k for k, v in identity["options"].items() if record.get("options", {}).get(k) != v)
    if changed:
        raise DataError(
            f"cannot resume with other options ({', '.join(changed)}); repeat the interrupted command's, or {fix}"
        )
    size = tmp.stat().st_size
    if size < record["bytes"]:
        raise DataError(f"the partial output {tmp} is shorter than its progress record; {fix}")
    # Rows appended after the last record (a kill between the two writes) are written again.
    os.truncate(tmp, record["bytes"])
    logger.info("resuming after %d rows already tagged", record["rows"])
    return record


def _warn_empty_titles(chunk: pd.DataFrame, cols: list[str]) -> None:
    """Warn when the title column read with the synopsis is empty in every row of ``chunk``."""
    titles = [c for c in cols if c not in data_mod.synopsis_columns(cols)]
    if titles and len(chunk) and not data_mod.join_text(chunk, titles, titles=True).str.len().any():
        logger.warning("the title column %s is empty in the first %d rows: the model, trained on a title with each "
                       "synopsis, reads the synopsis alone there, which scores somewhat lower",
                       ", ".join(repr(c) for c in titles), len(chunk))


@dataclass
class MergeSummary:
    """What `merge_shards` did."""

    output: Path
    shards: list[Path]
    rows: int
    dialect: str | None = None
    """How the output differs from plain comma-separated UTF-8 (`formats.describe_dialect`)."""


_SHARD_NAME = re.compile(r"\.shard-(\d+)-of-(\d+)$")


def find_shards(out: str | Path) -> list[Path]:
    """The finished shard files of ``out`` (``<stem>.shard-i-of-n<suffix>``), by shard number."""
    out = Path(out)
    suffix = out.suffix or ".csv"
    found = []
    for file in out.parent.glob(f"{_glob_escape(out.stem)}.shard-*-of-*{suffix}"):
        match = _SHARD_NAME.search(file.name[: -len(suffix)])
        if match and file.name[: match.start()] == out.stem:
            found.append((int(match[2]), int(match[1]), file))
    return [file for _, _, file in sorted(found)]


def _glob_escape(text: str) -> str:
    """``text`` with glob's special characters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def merge_shards(out: str | Path, *, force: bool = False, remove_shards: bool = False) -> MergeSummary:
    """Put the outputs of ``tag --shard i/n`` back together as ``out``, in the input's row order.

    Checks before writing anything that all n shards are there, finished, and made from
    the same input, model and options, and that each holds exactly the rows its shard
    takes; checks while writing that rows out = rows in. Rows are copied as CSV records,
    not re-parsed as numbers, so the result is the file one unsharded run writes.

    Args:
        out: The output the shards were made for (``--out`` of the ``tag`` commands).
        force: Overwrite an existing ``out``.
        remove_shards: Delete the shard files and their records after a successful merge.

    Raises:
        DataError: A shard is missing, unfinished, from another run, or has the wrong rows.
    """
    out = Path(out)
    if formats.split_suffix(out)[1]:
        raise DataError(f"merge-shards writes plain CSV, TSV or JSON Lines, as tag --shard does, not {out.name}; "
                        f"merge into {out.with_suffix('').name} and compress that")
    shards = find_shards(out)
    if not shards:
        raise DataError(f"no shards of {out} found (expected {shard_output(out, (0, 2)).name} ...); "
                        "tag with --shard i/n --out the same file first")
    counts = {int(_SHARD_NAME.search(Path(f).stem)[2]) for f in shards}
    if len(counts) > 1:
        raise DataError(f"shards of {out} from different splits ({', '.join(f'{n} shards' for n in sorted(counts))}) "
                        "are mixed in one folder; remove those of the old split")
    n = counts.pop()
    missing = [str(i) for i in range(n) if shard_output(out, (i, n)) not in shards]
    if missing:
        raise DataError(f"shard(s) {', '.join(missing)} of {n} of {out} are missing; run "
                        f"genretag tag ... --shard {missing[0]}/{n} for each, then merge again")
    records = [_shard_record(shard_output(out, (i, n))) for i in range(n)]
    first = records[0]
    for i, record in enumerate(records):
        for key in ("input_fingerprint", "model_fingerprint", "input_rows"):
            if record.get(key) != first.get(key):
                raise DataError(f"shard {i} of {out} was made from another {key.split('_')[0]} than shard 0; "
                                "tag all shards with the same input, model and options")
        if {k: v for k, v in record["options"].items() if k != "shard"} != \
                {k: v for k, v in first["options"].items() if k != "shard"}:
            raise DataError(f"shard {i} of {out} was tagged with other options than shard 0; tag all shards alike")
        if record["options"].get("shard") != [i, n]:
            raise DataError(f"{shard_output(out, (i, n)).name} holds shard {record['options'].get('shard')}, not {i}/{n} "
                            "(renamed?); tag that shard again")
        expected = len(range(i, first["input_rows"], n))
        if record["rows"] != expected:
            raise DataError(f"shard {i} of {out} holds {record['rows']} rows, not the {expected} its share of "
                            f"{first['input_rows']} is; tag it again")
    total = first["input_rows"]
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a synopsis may exceed the 128 KiB default
    paths = [shard_output(out, (i, n)) for i in range(n)]
    out_format = formats.check_output(out, shard=(0, n))
    merged = _merged_format(first, out_format)
    with atomic_path(out, force=force) as tmp, open(tmp, "ab") as sink:
        handles = [open(p, encoding="utf-8", newline="") for p in paths]
        try:
            if out_format.kind == formats.JSONL:
                readers = [iter(h) for h in handles]  # one row per line: no header, lines copied as they are
                headers = [None]
                writer = _LineWriter(sink)
            else:
                readers = [csv.reader(h, delimiter=out_format.sep) for h in handles]
                headers = [next(r, None) for r in readers]
                writer = _RecordBatches(formats.TableWriter(tmp, merged, name=out.name))
            if any(h != headers[0] for h in headers):
                raise DataError(f"the shards of {out} have different columns; tag them all with the same options")
            if headers[0] is not None:
                writer.writeheader(headers[0])
            for row in range(total):
                record = next(readers[row % n], None)
                if record is None:
                    raise DataError(f"shard {row % n} of {out} ends early, at input row {row}; tag it again")
                writer.writerow(record)
            writer.flush()
            extra = [str(i) for i, r in enumerate(readers) if next(r, None) is not None]
            if extra:
                raise DataError(f"shard(s) {', '.join(extra)} of {out} hold more rows than recorded; tag them again")
        finally:
            for h in handles:
                h.close()
    if remove_shards:
        for p in paths:
            p.unlink(missing_ok=True)
            shard_record(p).unlink(missing_ok=True)
    return MergeSummary(output=out, shards=paths, rows=total,
                        dialect=formats.describe_dialect(merged) if out_format.kind == formats.CSV else None)


def _merged_format(record: dict, plain: formats.OutputFormat) -> formats.OutputFormat:
    """The dialect a merged file is written in: the input's, as the shards' records say
    (separator, encoding, BOM, ``sep=`` line, line ends); shards recorded before they said
    it merge as the shards are (``plain``)."""
    saved = record.get("merged_format")
    if not isinstance(saved, dict):
        return plain
    try:
        fmt = formats.OutputFormat(**saved)
    except TypeError:
        return plain
    return fmt if fmt.kind == plain.kind and not fmt.compression else plain


class _RecordBatches:
    """CSV records from the shards written through `formats.TableWriter` (in the merged
    format's dialect), in batches of `MERGE_BATCH_ROWS`: every cell is the shard's text."""

    def __init__(self, writer: formats.TableWriter):
        self.writer, self.header, self.rows, self.first = writer, None, [], True

    def writeheader(self, header: list[str]) -> None:
        self.header = header

    def writerow(self, record: list[str]) -> None:
        self.rows.append(record)
        if len(self.rows) >= MERGE_BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.header is not None and (self.rows or self.first):
            self.writer.write(pd.DataFrame(self.rows, columns=self.header, dtype=object), header=self.first)
            self.first, self.rows = False, []


#: Records merged per write (`_RecordBatches`).
MERGE_BATCH_ROWS = 10_000


class _LineWriter:
    """`csv.writer`'s ``writerow`` for JSON Lines shards: each record is one whole line."""

    def __init__(self, sink):
        self.sink = sink

    def writerow(self, line: str) -> None:
        self.sink.write(line.encode("utf-8"))

    def flush(self) -> None:
        self.sink.flush()


def _shard_record(shard_csv: Path) -> dict:
    file = shard_record(shard_csv)
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{shard_csv} has no record {file.name}: it did not finish; tag that shard again") from None
    except (OSError, ValueError):
        raise DataError(f"the shard record {file} is unreadable; tag that shard again") from None
    if not isinstance(record, dict) or record.get("format") != PROGRESS_FORMAT or "input_rows" not in record:
        raise DataError(f"the shard record {file} was not written by this genretag; tag that shard again")
    return record
