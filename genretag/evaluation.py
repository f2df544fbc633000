"""Evaluating a run: load rows → predict → score at 0.5 and under the run's rule → baseline.

`evaluate` returns one JSON-ready dict holding every number; `genretag.report` renders
the HTML page from that same dict, so the page and ``--json`` can never disagree.
"The run's rule" is what `tag` applies: the run's thresholds plus its decision options
(at least one genre per movie, at most N); the plain 0.5 is shown beside it.

Rows come from the run's saved split (``split.json``: the data file, its fingerprint and
the row ids of each part) or from any labelled CSV given with ``data=``. Genres in the
file that the model does not know are counted and left out of the scores; on another
file a row whose genres are all unknown is left out too (its truth over the known
genres is unknowable), while on the run's own file every row of the split is scored the
way `train` scored it (a row whose only genres were dropped by ``--min-support`` has no
true genre). Rows that were training examples of the model are counted and, unless
asked for, left out: by row id on the run's own file, by synopsis on any other file (its
letters and digits, whole, or windows of them from its start, end and inside, or most of a sample
of its 7-letter chunks close together: a copy re-typed, cut short, edited at both ends or with a
few letters edited anywhere is found; `genretag.data.SynopsisKeys`); when the run's
training rows cannot be read the check is reported as not made.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from . import data as data_mod
from . import language, metrics
from .decision import DecisionRule
from .errors import DataError, ModelError
from .rundir import bundled_model, own_data_file
from .runs import SPLIT_FILE, THRESHOLDS_FILE, Run, locate_data
from .vocabulary import LabelMatch, current_vocabulary, load_run_vocabulary, match_labels

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("test", "validation", "all")
#: Movies listed under "worst false positives" and "worst false negatives".
TOP_ERRORS = 10
FIXED_THRESHOLD = 0.5
#: Decimal places kept for scores in the results (the JSON stays readable and small).
DIGITS = 6


@dataclass
class EvalRows:
    """The rows to score, binarised over the model's genres."""

    texts: list[str]
    titles: list[str] | None
    row_ids: list[int]
    genres: list[list[str]]
    """Every genre of the row as read (known and unknown)."""
    y: np.ndarray
    """``[rows, labels]`` 0/1 truth over the model's genres."""
    data_path: Path
    fingerprint: str
    split: str
    own_data: bool
    """The file is the one the run was trained on (same fingerprint)."""
    unknown_genres: dict[str, int] = field(default_factory=dict)
    """Genres the model does not know → rows that have them."""
    unknown_only_rows: int = 0
    """Rows left out because every genre they have is unknown."""
    read_report: list[str] = field(default_factory=list)
    training_rows: dict = field(default_factory=dict)
    """The training-overlap check: ``checked``, ``found`` (rows that were training rows of the
    model), ``of`` (rows before leaving them out), ``left_out``, ``by`` and ``reason``
    (why it was not made)."""
    text_columns: data_mod.TextColumns | None = None
    """The columns read, and how they were chosen."""
    synopses: list[str] | None = None
    """The texts without their title (the language check reads these); None: the texts."""
    without_known_genres: int = 0
    """Rows scored with no true genre: on the run's own file, rows whose only genres the run
    does not have (dropped by ``--min-support``, or seen only outside its training split)."""

    @property
    def train_overlap(self) -> int | None:
        """Rows found to be training rows of the model; None when the check was not made."""
        return self.training_rows.get("found") if self.training_rows.get("checked") else None
    match: LabelMatch | None = None
    """How each genre of the file is scored against the model's genres."""
    file_labels: set[str] = field(default_factory=set)
    """The model genres the file uses (in any usable row, not only the chosen split)."""
    genre_lines: list[str] = field(default_factory=list)
    """The genre mappings applied while reading, one line per kind."""
    genre_applied: dict = field(default_factory=dict)
    """The same as data: name as read → what it became, its kind and rows."""
    hints: dict[str, str] = field(default_factory=dict)
    """Unknown file genre → the model genre it may be a misspelling of."""
    left_out_labels: dict[str, int] = field(default_factory=dict)
    """Model genres that only the rows left out as training rows have → those rows."""


def load_rows(
    run: Run,
    *,
    data: str | Path | None = None,
    split: str | None = None,
    text_cols: list[str] | None = None,
    genres_col: str | None = None,
    include_training_rows: bool = False,
    genre_map: str | Path | None = None,
    read: data_mod.ReadOptions | None = None,
    title_col: str | None = None,
) -> tuple[EvalRows, data_mod.LabelledData | None]:
    """Pick the rows to evaluate.

    The run's own file is read with the genre vocabulary the run was trained with (none for
    runs written before vocabularies), so its saved split applies unchanged; any other file
    with that vocabulary (else the bundled one) plus ``genre_map``.

    Args:
        run: A loaded run.
        data: A labelled CSV (default: the file the run was trained on).
        split: ``test``, ``validation`` or ``all``. Default: ``test`` on the run's own
            file, ``all`` on any other file.
        text_cols: Text columns (default: the run's own on its file, else detected).
        genres_col: Genre column (default: the run's own on its file, else detected).
        include_training_rows: Keep rows that were training examples of the model
            (they are always counted, in ``training_rows``).
        genre_map: A ``--genre-map`` TOML file of genre aliases (other files only).
        read: Separator and header options (default: the run's own on its file, else detected).
        title_col: Title column for the report (default: detected).

    Returns:
        The rows, and every usable row of the run's own file when it was read (the
        baseline trains on it), else None.

    Raises:
        DataError: The file is missing or changed, the split cannot be used with it, or
            every row was a training row (and ``include_training_rows`` is off).
    """
    if split is not None and split not in SPLITS:
        raise DataError(f"--split must be one of {', '.join(SPLITS)}, got '{split}'")
    saved = run.split() if (run.path / SPLIT_FILE).is_file() else None
    run_file = locate_data(run.path, saved) if saved and saved.get("data") else None
    path = Path(data) if data is not None else own_data_file(run.path, saved)
    fingerprint = data_mod.file_fingerprint(path)
    own = saved is not None and fingerprint == saved.get("fingerprint")
    if data is None and not own:
        raise DataError(
            f"{path} changed since the run was trained (fingerprint differs), so its saved split no longer applies; "
            f"restore the original file, or evaluate it as new data with --data {path} --split all"
        )
    split = split or ("test" if own else "all")
    if split != "all" and not own:
        raise DataError(
            f"--split {split} needs the file the run was trained on ({run_file or (saved or {}).get('data') or 'unknown'}), and {path} is a "
            f"different file (fingerprint differs); use --split all to evaluate every row of it"
        )
    vocabulary = load_run_vocabulary(run.path)
    columns = None
    if own:
        how = "given" if text_cols else "the model's"
        text_cols = text_cols or saved.get("text_cols")
        genres_col = genres_col or saved.get("genres_col")
        read = read or data_mod.ReadOptions.of(run.config)
        from .formats import sniff

        # The columns as read: the given ones matched, else the run's (detected in training, found so again).
        text_cols = data_mod.detect_columns(sniff(path, read).columns, text_cols=text_cols, genres_col=genres_col)[0]
        columns = data_mod.TextColumns(text_cols, how)
        if genre_map:
            logger.warning("--genre-map is not applied to the run's own data: it is read as in training")
    else:
        # Another file: the run's own table only when it holds a --genre-map of its own; else
        # today's bundled table, whose aliases (Rom-Com, Dark Comedy ...) grew after the run.
        today = current_vocabulary()
        if vocabulary is None or tuple(vocabulary.sources) == tuple(today.sources):
            vocabulary = today
        elif vocabulary.format < today.format:  # its own names, read by today's rules (subgenres, categories)
            vocabulary = vocabulary.with_rules_of(today)
        if genre_map:
            vocabulary = vocabulary.with_genre_map(genre_map)
        from .formats import sniff

        # Read as `tag` reads it: the run's own columns, or its title + synopsis under other names.
        columns = data_mod.choose_text_columns(sniff(path, read).columns, text_cols, run.config.text_cols)
        text_cols = columns.columns
    full, report = data_mod.load_labelled(path, text_cols=text_cols, genres_col=genres_col, vocabulary=vocabulary,
                                          read=read, title_col=title_col)
    if split == "all":
        chosen = full
    else:
        chosen = full.subset(_positions(full, saved.get(split) or [], run, split))
        if not len(chosen):
            raise DataError(f"the run has no {split} rows (trained with split {run.config.split}); use --split validation or --split all")
    own_full = full if own else None
    is_training, check = _training_rows(run, chosen, saved, own=own)
    check.update(of=len(chosen), left_out=False)
    if check["checked"] and check["found"] and not include_training_rows:
        if check["found"] == len(chosen):
            raise DataError(
                f"all {len(chosen)} rows of {path} were training examples of the model, so their scores would say "
                f"nothing about new movies; evaluate other rows, or pass --include-training-rows to score them anyway"
            )
        left_out = chosen.subset([i for i, hit in enumerate(is_training) if hit])
        chosen = chosen.subset([i for i, hit in enumerate(is_training) if not hit])
        check["left_out"] = True
    # On the run's own file, score every row of the split as `train` did (a row whose genres
    # the run dropped as rare has no true genre); elsewhere such a row's truth is unknowable.
    # Another file's genres are those of the rows scored: a genre found only in the training
    # rows left out above has no positive to score, so it is left out and listed, not a 0 in macro-F1.
    rows = _binarise(chosen, run.labels, vocabulary=vocabulary, file_genres=full.genres if own else chosen.genres, path=path,
                     fingerprint=fingerprint, split=split, own=own, keep_all=own,
                     training_left_out=check["found"] if check["left_out"] else 0)
    if check["left_out"] and not own:
        # Model genres only those rows have: left out with them, and said as such (not "the file never uses").
        match = match_labels((g for row in left_out.genres for g in row), run.labels, vocabulary)
        counts = Counter(label for row in left_out.genres for label in match.labels_of(row))
        rows.left_out_labels = {g: n for g, n in sorted(counts.items()) if g not in rows.file_labels}
    rows.read_report = report.lines()
    rows.text_columns = columns
    if report.genres is not None:
        rows.genre_lines, rows.genre_applied = report.genres.lines(), report.genres.to_dict()
    rows.training_rows = check
    return rows, own_full


def _training_rows(run: Run, chosen: data_mod.LabelledData, saved: dict | None, *,
                   own: bool) -> tuple[list[bool], dict]:
    """Which of ``chosen`` were training examples of the model, and how that was checked.

    ``saved`` is the run's ``split.json`` (None when it has none). On the run's own file
    (``own``) the saved row ids decide; on any other file a row is a training row when its
    synopsis key is one of the run's training rows'. ``limited``: why the check could only use
    an older run's keys (some edited copies of a training synopsis are then not found), else None;
    ``key_method``, only then: the method of those keys.
    """
    if own:
        train_ids, val_ids = set(saved.get("train") or []), set(saved.get("validation") or [])
        hits = [r in train_ids for r in chosen.row_ids]
        return hits, {"checked": True, "by": "row id", "found": sum(hits), "reason": None, "limited": None,
                      "validation": sum(r in val_ids for r in chosen.row_ids)}
    keys = overlap_keys(run, saved)
    if isinstance(keys["train"], str):
        return [False] * len(chosen), {"checked": False, "by": None, "found": None, "reason": keys["train"]}
    # Keyed by the synopsis without its title and by title + synopsis (a file joining them).
    pairs = list(zip(chosen.synopsis_texts, chosen.texts))
    texts, val_keys = keys["train"], keys["validation"]
    hits = [texts.holds(s) or texts.holds(t) for s, t in pairs]
    validation = None
    if val_keys is not None:  # rows that chose the run's epoch, thresholds and blend: said, not left out
        validation = sum(not hit and (val_keys.holds(s) or val_keys.holds(t)) for hit, (s, t) in zip(hits, pairs))
    check = {"checked": True, "by": "synopsis", "found": sum(hits), "reason": None,
             "limited": keys["limited"], "validation": validation}
    if keys["limited"]:
        check["key_method"] = texts.method  # what the older keys cannot find depends on their method
    return hits, check


def _limited_warning(limited: str, method: int | None) -> str:
    """What a check with older keys (``method``, `overlap_keys`'s ``limited`` said why) cannot find."""
    if method is not None and method >= 6:  # inner windows, no chunk keys
        return (f"training overlap checked by whole synopses and 60-letter windows of them only ({limited}): a training "
                "synopsis with a letter edited in each window (a short one edited once) is not found")
    return (f"training overlap checked by the start and end of each synopsis only ({limited}): a training synopsis "
            "edited at both ends is not found")


def training_synopses(run: Run, saved: dict | None = None) -> data_mod.SynopsisKeys | str:
    """Keys (`genretag.data.SynopsisKeys`) of the synopses of the run's training rows, or why
    they cannot be had (`overlap_keys`).

    Args:
        run: The run.
        saved: Its ``split.json`` when the caller has read it (else read here).

    Returns:
        The keys, or a one-line reason.
    """
    return overlap_keys(run, saved)["train"]


#: Keys `overlap_keys` made from a run's data file: (run folder, data fingerprint, its rows) → keys.
_FRESH_KEYS: dict[tuple, dict] = {}


def overlap_keys(run: Run, saved: dict | None = None) -> dict:
    """Keys of the synopses of the run's training and validation rows, by the current key method
    where that can be had.

    Runs keep them in ``split.json`` (``train_synopses``, ``validation_synopses``). Keys of an
    older method (before `genretag.data.SYNOPSIS_KEY_METHOD`: before 7 no chunk keys, so a copy with a
    letter edited in each 60-letter window is not found; before 6 no inner windows either, so neither is
    a copy edited at both ends) and runs written before stored keys are keyed afresh from the run's
    data file (``split.json`` names it, its fingerprint and the row ids of each part), with the
    run's own text columns; where that file is not here, older stored keys are used as they are.

    Args:
        run: The run.
        saved: Its ``split.json`` when the caller has read it (else read here).

    Returns:
        ``train``: the keys, or a one-line reason why there are none; ``validation``: the keys or
        None; ``limited``: None, or why older keys were used as they are.
    """
    if saved is None:
        saved = run.split() if (run.path / SPLIT_FILE).is_file() else None
    if not saved or not saved.get("train"):
        return {"train": f"the run has no saved training split ({SPLIT_FILE})", "validation": None, "limited": None}
    stored = {part: data_mod.SynopsisKeys.from_json(saved[f"{part}_synopses"])
              for part in ("train", "validation") if saved.get(f"{part}_synopses")}
    if "train" in stored and all(k.method >= data_mod.SYNOPSIS_KEY_METHOD for k in stored.values()):
        return {"train": stored["train"], "validation": stored.get("validation"), "limited": None}
    cache_key = (str(Path(run.path).resolve()), str(saved.get("fingerprint")), hash(tuple(saved["train"])),
                 hash(tuple(saved.get("validation") or ())))
    if cache_key in _FRESH_KEYS:  # keyed once a process: the bundled model's 7,779 rows take seconds
        return _FRESH_KEYS[cache_key]
    full = run_data(run, saved)
    if isinstance(full, str):
        if "train" not in stored:
            return {"train": full, "validation": None, "limited": None}
        name = Path(saved.get("data") or "?").name
        logger.debug("training-row keys of method %d used as stored: %s", stored["train"].method, full)
        return {"train": stored["train"], "validation": stored.get("validation"),
                "limited": f"the run keeps keys of method {stored['train'].method}, and its training data {name} "
                           "is not here to key afresh"}
    fresh = {}
    for part in ("train", "validation"):
        rows = _positions(full, saved.get(part) or [], run, part)
        fresh[part] = data_mod.SynopsisKeys.of([full.synopsis_texts[i] for i in rows], [full.texts[i] for i in rows])
    _FRESH_KEYS.clear()  # one run at a time: a tune folder's trials would otherwise pile up
    _FRESH_KEYS[cache_key] = {"train": fresh["train"], "limited": None,
                              "validation": fresh["validation"] if saved.get("validation") else None}
    return _FRESH_KEYS[cache_key]


def run_data(run: Run, saved: dict, data: str | Path | None = None) -> data_mod.LabelledData | str:
    """Every usable row of the file the run was trained on, read as training read it, or why
    it cannot be had (not on this machine where ``split.json`` says, or changed since).
    ``data``: where that file is now (``--data``), checked by its fingerprint."""
    name = Path(saved.get('data') or '?').name
    run_file = Path(data) if data is not None else locate_data(run.path, saved)
    if run_file is None:
        return (f"the run's training data {name} is not on this machine where the run recorded it "
                f"(pass --data with the path of {name})")
    if run_file.is_dir():
        return f"--data {run_file} is a folder; pass the path of the run's training data file {name}"
    if not run_file.is_file():
        return f"{run_file} not found (--data)"
    if data_mod.file_fingerprint(run_file) != saved.get("fingerprint"):
        if data is not None:
            return f"{run_file} is not the run's training data {name}: its content differs (fingerprint)"
        return f"the run's training data {run_file} changed since training"
    full, _ = data_mod.load_labelled(run_file, text_cols=saved.get("text_cols"), genres_col=saved.get("genres_col"),
                                     vocabulary=load_run_vocabulary(run.path), read=data_mod.ReadOptions.of(run.config))
    return full


def _positions(full: data_mod.LabelledData, ids: list[int], run: Run, part: str) -> list[int]:
    where = {row_id: i for i, row_id in enumerate(full.row_ids)}
    missing = [r for r in ids if r not in where]
    if missing:
        raise ModelError(
            f"{run.path / SPLIT_FILE} lists {len(missing)} {part} rows that are not usable rows of the data "
            f"(first: data row {missing[0]}); the run and its data disagree, train it again"
        )
    return [where[r] for r in ids]


def _binarise(chosen: data_mod.LabelledData, labels: list[str], *, vocabulary=None, file_genres=None,
              keep_all: bool = False, **info) -> EvalRows:
    index = {g: j for j, g in enumerate(labels)}
    file_genres = chosen.genres if file_genres is None else file_genres
    match = match_labels((g for row in file_genres for g in row), labels, vocabulary)
    unknown = Counter(g for row in chosen.genres for g in row if not match.scored_as.get(g))
    row_labels = [match.labels_of(row) for row in chosen.genres]
    known = [bool(row) for row in row_labels]
    keep = list(range(len(chosen))) if keep_all else [i for i, hit in enumerate(known) if hit]
    if not any(known):
        hints = {g: vocabulary.suggest(g, labels) for g in unknown} if vocabulary is not None else {}
        seen = ", ".join(f"{g} (did you mean {hints[g]}?)" if hints.get(g) else g for g in list(unknown)[:5])
        # Sentences where genre names should be: the genre and synopsis columns are swapped.
        sentences = sum(len(str(g).split()) >= 5 for g in unknown)
        what = ("its genre cells hold sentences, not genre names: are the genre and synopsis columns swapped? name "
                "them with --genres-col and --text-col" if unknown and sentences * 2 >= len(unknown) else
                "check --genres-col, add the file's names with --genre-map, or evaluate another model")
        if sentences * 2 >= len(unknown) and unknown:
            seen = ", ".join(f"'{str(g)[:40]}…'" if len(str(g)) > 40 else f"'{g}'" for g in list(unknown)[:2])
        if info.get("training_left_out"):  # the rows that had such genres were the model's training examples
            what = (f"the {info['training_left_out']} row(s) that were training examples of the model were left out "
                    "first (--include-training-rows scores them anyway); " + what)
        raise DataError(
            f"no row of {info['path']} has a genre the model knows ({', '.join(labels[:8])}"
            f"{', ...' if len(labels) > 8 else ''}; the file has {seen or 'none'}); {what}"
        )
    kept = chosen.subset(keep)
    y = np.zeros((len(kept), len(labels)), dtype=np.int8)
    for i, pos in enumerate(keep):
        for g in row_labels[pos]:
            y[i, index[g]] = 1
    hints = {}
    if vocabulary is not None:
        hints = {g: h for g in unknown if (h := vocabulary.suggest(g, labels))}
    return EvalRows(
        texts=kept.texts, titles=kept.titles, row_ids=kept.row_ids, genres=kept.genres, y=y,
        synopses=kept.synopsis_texts,
        data_path=Path(info["path"]), fingerprint=info["fingerprint"], split=info["split"], own_data=info["own"],
        unknown_genres=dict(sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0]))),
        unknown_only_rows=len(chosen) - len(keep),
        without_known_genres=sum(1 for i in keep if not known[i]),
        match=match,
        file_labels={label for targets in match.scored_as.values() for label in targets},
        hints=hints,
    )


def run_split_rows(run: Run, own_full: data_mod.LabelledData | None,
                   data: str | Path | None = None) -> dict[str, tuple[list[str], np.ndarray]] | str:
    """Texts and 0/1 targets of the run's train and validation rows, or why they cannot be had.

    Args:
        run: A loaded run.
        own_full: Every usable row of the run's own file when already read (saves a read).
        data: Where the run's data file is now, when it moved (`run_data`).

    Returns:
        ``{"train": (texts, y), "validation": (texts, y)}`` over the run's genres, or a
        one-line reason (no saved split, data file missing or changed).
    """
    saved = run.split() if (run.path / SPLIT_FILE).is_file() else None
    if not saved or not saved.get("train"):
        return f"the run has no saved training split ({SPLIT_FILE})"
    full = own_full if own_full is not None else run_data(run, saved, data)
    if isinstance(full, str):
        return full
    index = {g: j for j, g in enumerate(run.labels)}
    out = {}
    for part in ("train", "validation"):
        rows = full.subset(_positions(full, saved.get(part) or [], run, part))
        y = np.zeros((len(rows), len(run.labels)), dtype=np.int8)
        for i, genres in enumerate(rows.genres):
            for g in genres:
                if g in index:
                    y[i, index[g]] = 1
        out[part] = (rows.texts, y)
    return out


def evaluate(
    run: Run,
    *,
    data: str | Path | None = None,
    split: str | None = None,
    text_cols: list[str] | None = None,
    genres_col: str | None = None,
    read: data_mod.ReadOptions | None = None,
    title_col: str | None = None,
    baseline: bool = True,
    include_training_rows: bool = False,
    batch_size: int | None = None,
    top_errors: int = TOP_ERRORS,
    on_stage: Callable[[str], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    genre_map: str | Path | None = None,
    all_genres: bool = False,
) -> dict:
    """Score a run on labelled rows and return every number as a JSON-ready dict.

    Args:
        run: A loaded run (`genretag.runs.load_run`).
        data: A labelled CSV (default: the run's own file and saved split).
        split: ``test``, ``validation`` or ``all`` (see `load_rows`).
        text_cols: Text columns to join (default: the run's own / detected).
        genres_col: Genre column (default: the run's own / detected).
        read: Separator and header options of ``data`` (default: the run's own / detected).
        title_col: Title column for the report (default: detected).
        baseline: Also fit and score the TF-IDF baseline on the run's training rows.
        include_training_rows: Score rows that were training examples of the model too
            (by default they are counted and left out).
        batch_size: Rows per forward pass (default: the run's eval batch size).
        top_errors: Movies to list as worst false positives and false negatives.
        on_stage: Called with a short status line before each slow step.
        on_batch: Called with the rows done after each prediction batch.
        genre_map: A TOML file of genre aliases for reading ``data`` (see `load_rows`).
        all_genres: Score every model genre. By default the genres the file never uses
            (no "Animation" label in a file of anime) are left out of every score and
            listed under ``unused_genres`` with the predictions they got.

    Returns:
        A dict with ``model``, ``data``, ``labels``, ``thresholds``, ``decision``,
        ``scores`` (``at_0.5``: plain threshold 0.5; ``at_run_thresholds``: the run's
        thresholds and decision rule, as `tag` applies them), ``ranking`` (threshold-free),
        ``baseline`` (the same blocks at 0.5 and at its own tuned thresholds), ``curves``,
        ``genres_per_movie``, ``unknown_genres``, ``unused_genres``, ``genre_mappings``,
        ``worst``, ``movies``, ``timing`` and ``warnings`` (one-line cautions about what the
        scores mean: few rows, training rows, a check not made). ``labels`` and every
        per-genre block hold the scored genres only. Undefined scores are ``None``, never NaN.
    """
    stage = on_stage or (lambda message: None)
    t0 = time.perf_counter()
    rows, own_full = load_rows(run, data=data, split=split, text_cols=text_cols, genres_col=genres_col, read=read,
                               title_col=title_col, include_training_rows=include_training_rows, genre_map=genre_map)
    t_read = time.perf_counter() - t0

    read_from = f"; synopsis from {rows.text_columns.describe()}" if rows.text_columns is not None else ""
    stage(f"predicting {len(rows.texts)} row{'s' * (len(rows.texts) != 1)} ({rows.split} split of {rows.data_path.name}{read_from})")
    t1 = time.perf_counter()
    probs = run.predict_proba(rows.texts, batch_size=batch_size, on_batch=on_batch)
    t_predict = time.perf_counter() - t1

    labels = list(run.labels)
    run_limits = run.rule.thresholds
    tuned, mode = _tuning(run)
    # The fixed 0.5 is the plain reference; the run's own rule is what `tag` would output.
    pred_fixed = DecisionRule.fixed(FIXED_THRESHOLD, len(labels)).apply(probs)
    pred_run = run.rule.apply(probs)
    # Decide over every genre, as `tag` does, then score only the genres the file uses.
    scored = [j for j, g in enumerate(labels) if all_genres or g in rows.file_labels]
    unused = {g: int(pred_run[:, j].sum()) for j, g in enumerate(labels) if g not in rows.file_labels}
    unused = dict(sorted(unused.items(), key=lambda kv: (-kv[1], kv[0])))  # the most predicted first
    with_unused = None
    every_label, every_pred = list(labels), pred_run  # what `tag` writes, left-out genres included
    if len(scored) < len(labels):
        # What leaving genres out changes, so that it is never hidden: the run's rule over every genre.
        every = metrics.multilabel_scores(rows.y, pred_run)
        with_unused = _rounded({k: every[k] for k in ("micro_f1", "macro_f1", "micro_precision")})
        labels = [labels[j] for j in scored]
        probs, pred_fixed, pred_run = probs[:, scored], pred_fixed[:, scored], pred_run[:, scored]
        run_limits = run_limits[scored]
        rows.y = rows.y[:, scored]

    baseline_block, t_baseline = {"available": False, "reason": "not asked for (--no-baseline)"}, 0.0
    if baseline:
        stage("fitting the TF-IDF baseline on the run's training rows")
        t2 = time.perf_counter()
        baseline_block = _baseline(run, rows, own_full, scored)
        t_baseline = time.perf_counter() - t2

    results = {
        "genretag_version": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": _model_info(run),
        "data": _data_info(rows),
        "labels": labels,
        "thresholds": {
            "fixed": FIXED_THRESHOLD,
            "run": {g: round(float(t), 4) for g, t in zip(labels, run_limits)},
            "tuned": tuned,
            "mode": mode,
        },
        "decision": {
            "at_least_one": run.rule.at_least_one,
            "max_genres": run.rule.max_genres,
            "differs_from_fixed": bool(tuned or run.rule.at_least_one or run.rule.max_genres is not None),
        },
        "scores": {
            "at_0.5": _block(rows.y, pred_fixed, probs, labels, FIXED_THRESHOLD),
            "at_run_thresholds": _block(rows.y, pred_run, probs, labels, run_limits),
        },
        "ranking": _rounded(metrics.ranking_scores(rows.y, probs)),
        "baseline": baseline_block,
        "curves": {
            "precision_recall": {g: metrics.pr_curve(rows.y[:, j], probs[:, j]) for j, g in enumerate(labels)},
            "f1_by_threshold": _rounded(metrics.f1_by_threshold(rows.y, probs)),
        },
        "genres_per_movie": _genres_per_movie(rows.y, pred_run, baseline_block),
        "unknown_genres": {"genres": rows.unknown_genres, "rows_left_out": rows.unknown_only_rows},
        "unused_genres": {"genres": unused, "left_out": not all_genres, "scores_with_them": with_unused,
                          # of them, those only rows left out as training rows have (genre → those rows)
                          "only_in_training_rows": {g: n for g, n in rows.left_out_labels.items() if g in unused}},
        "genre_mappings": {"read": rows.genre_applied, "lines": rows.genre_lines,
                           "scored_as": _scored_as(rows), "did_you_mean": rows.hints},
        "worst": _worst(rows, probs, pred_run, labels, run_limits, top_errors),
        "movies": _movies(rows, pred_run, labels, every_pred, every_label),
        "timing": {
            "read_seconds": round(t_read, 3),
            "predict_seconds": round(t_predict, 3),
            "rows_per_second": round(len(rows.texts) / max(t_predict, 1e-9), 2),
            "baseline_seconds": round(t_baseline, 3),
            "total_seconds": round(time.perf_counter() - t0, 3),
        },
        "warnings": cautions(rows),
    }
    # A genre's score with nothing to divide by is not defined: n/a (null), left out of the macro averages, said.
    rule = "under the run's rule" if results["decision"]["differs_from_fixed"] else "at 0.5"
    results["warnings"].extend(undefined_scores(results["scores"]["at_run_thresholds"]["per_genre"], rule))
    # Scores on synopses in a script the model never saw say little about the model.
    known = language.known_scripts(run.meta)
    results["data"]["other_script"] = language.count_by_script(
        language.script_warnings(rows.synopses or rows.texts, known, english=language.trained_on_english(run.meta)))
    message = language.describe(results["data"]["other_script"], len(rows.texts), known)
    if message:  # printed with the other warnings, and in the JSON and the report
        results["warnings"].append(message)
    if with_unused is not None and len(rows.texts) < metrics.FEW_ROWS:
        results["warnings"].append(
            f"{len(unused)} model genre{'s' if len(unused) != 1 else ''} left out because none of the "
            f"{len(rows.texts)} row{'s' * (len(rows.texts) != 1)} has {'them' if len(unused) != 1 else 'it'}; with so few "
            f"rows that may be chance, not the file's vocabulary: with them micro-F1 is {with_unused['micro_f1']:.3f} "
            "(--all-genres)")
    elif with_unused is not None and len(labels) <= FEW_GENRES:
        # One genre set for every row ("Western"): the model's other genres are left out, so its
        # false positives there count nowhere, and a model tagging everything scores 1.0.
        results["warnings"].append(
            f"the file's rows use only {len(labels)} of the model's genres ({', '.join(labels)}): scores over them "
            f"alone cannot count the model's false positives in its other {len(unused)} genres; with every genre "
            f"micro-F1 is {with_unused['micro_f1']:.3f}, macro-F1 {with_unused['macro_f1']:.3f} (--all-genres)")
    listed = rows.y.sum(axis=1)
    if len(listed) >= metrics.FEW_ROWS and (listed == 1).all() and pred_run.sum(axis=1).mean() >= ONE_GENRE_PREDICTED:
        # A "primary genre" column (Wikipedia plots, Kaggle files): the model's right extra genres count as errors.
        results["warnings"].append(
            f"every row of the file lists one genre, and the model gives {pred_run.sum(axis=1).mean():.1f} per row: "
            "its other genres, right or wrong, count as false positives, so precision and micro-F1 read low; the "
            f"listed genre is among its predictions for {float((rows.y * pred_run).sum(axis=1).mean()):.1%} of the "
            "rows (micro recall)")
    for line in results["warnings"]:
        logger.debug("evaluate: %s", line)
    return results


#: A file using at most this many of the model's genres is scored with a warning (`evaluate`).
FEW_GENRES = 2
#: A file listing one genre per row is scored with a warning when the model gives this many per row or more.
ONE_GENRE_PREDICTED = 1.5


def cautions(rows: EvalRows) -> list[str]:
    """One-line cautions about what scores on ``rows`` can say (shown by the CLI and the report)."""
    out = []
    n = len(rows.texts)
    if rows.text_columns is not None:
        out.extend(rows.text_columns.warnings())
    if n < metrics.FEW_ROWS:
        out.append(f"only {n} row{'s' if n != 1 else ''} scored: scores from fewer than {metrics.FEW_ROWS} rows mean little "
                   f"(one movie moves them a lot, and ranking scores may be not defined)")
    check = rows.training_rows
    if not check.get("checked"):
        out.append(f"training overlap not checked: {check.get('reason')}; some rows may have been training "
                   f"examples of the model")
    elif check["found"]:
        what = "left out" if check["left_out"] else "kept (--include-training-rows), so the scores are optimistic"
        out.append(f"{check['found']} of {check['of']} rows were in the model's training split; {what}")
    if check.get("checked") and check.get("limited"):
        out.append(_limited_warning(check["limited"], check.get("key_method")))
    if check.get("validation") and rows.split != "validation":
        out.append(f"{check['validation']} of the rows scored were the model's validation rows, which chose its epoch, "
                   f"thresholds and blend: their scores are somewhat optimistic")
    if rows.without_known_genres:
        out.append(f"{rows.without_known_genres} rows have only genres the run does not score (dropped by "
                   f"--min-support, or absent from its training split): scored with no true genre, as train scored them")
    return out


def undefined_scores(per_genre: list[dict], rule: str = "") -> list[str]:
    """One line per kind of per-genre score that is not defined in ``per_genre`` (records of
    `genretag.metrics.per_genre_scores`): shown as n/a, null in the JSON, and left out of the macro
    averages. ``rule`` names the decision rule the predictions were made under."""
    none = [r["genre"] for r in per_genre if r["f1"] is None]
    no_row = [f"{r['genre']} ({r['predicted']})" for r in per_genre if r["recall"] is None and r["f1"] is not None]
    never = [r["genre"] for r in per_genre if r["precision"] is None and r["f1"] is not None]
    under = f" {rule}" if rule else ""
    out = []
    if none:
        out.append(f"precision, recall and F1 are not defined for {_genres(none)} that no scored row has and the "
                   f"model never predicts{under} ({', '.join(none)}): shown as n/a, left out of the macro averages")
    if no_row:
        out.append(f"recall is not defined for {_genres(no_row)} that no scored row has (predictions{under}: "
                   f"{', '.join(no_row)}): shown as n/a, left out of macro recall; "
                   f"{'its' if len(no_row) == 1 else 'their'} F1 is 0")
    if never:
        out.append(f"precision is not defined for {_genres(never)} the model never predicts{under} "
                   f"({', '.join(never)}): shown as n/a, left out of macro precision; "
                   f"{'its' if len(never) == 1 else 'their'} recall and F1 are 0")
    return out


def _genres(items: list) -> str:
    return "1 genre" if len(items) == 1 else f"{len(items)} genres"


def _block(y: np.ndarray, pred: np.ndarray, probs: np.ndarray, labels: list[str], limits) -> dict:
    """Set-based scores, per-genre records and the genre-to-genre confusion at one decision rule."""
    return {
        "summary": _rounded(metrics.multilabel_scores(y, pred)),
        "per_genre": [_rounded(r) for r in metrics.per_genre_scores(y, pred, probs, labels, limits)],
        "confusion_between_genres": np.round(metrics.confusion_between_genres(y, pred), 4).tolist(),
    }


def _scored_as(rows: EvalRows) -> dict:
    """File genres counted as another model genre: ``{genre: {"as": [...], "how": ..., "rows": n}}``."""
    if rows.match is None:
        return {}
    counts = Counter(g for row in rows.genres for g in row)
    return {g: {"as": rows.match.scored_as[g], "how": how, "rows": counts[g]}
            for g, how in rows.match.notes.items() if counts[g]}


def _baseline(run: Run, rows: EvalRows, own_full, columns: list[int] | None = None) -> dict:
    """Fit the TF-IDF baseline on the run's training rows and score it on ``rows``.

    It is scored twice, like the model: at the plain 0.5, and under the run's own rule
    with thresholds tuned on the run's validation rows the way the run's were (same
    mode), so the comparison is like for like. It decides over every genre, then only
    ``columns`` (the scored genres, default all) are scored, as for the model.
    """
    from .tfidf import NAME, TfidfBaseline

    parts = run_split_rows(run, own_full)
    if isinstance(parts, str):
        logger.debug("no baseline: %s", parts)  # the result says why; the CLI prints it once
        return {"available": False, "reason": parts}
    (texts, y_train), (val_texts, y_val) = parts["train"], parts["validation"]
    model = TfidfBaseline(seed=run.config.seed)
    try:
        model.fit(texts, y_train)
    except ValueError as exc:  # e.g. an empty vocabulary on a degenerate training split
        return {"available": False, "reason": f"the baseline could not be fitted: {exc}"}
    probs = model.predict_proba(rows.texts)
    # Tune the baseline only as far as the run was tuned (`_tuning`).
    tuned, mode = _tuning(run)
    try:
        own_rule = DecisionRule.tune(y_val, model.predict_proba(val_texts), mode, fixed=run.config.threshold,
                                     at_least_one=run.rule.at_least_one, max_genres=run.rule.max_genres)
    except ValueError:  # a mode this genretag does not know: keep the run's fixed threshold
        own_rule = run.rule.with_overrides(threshold=run.config.threshold)
    own = own_rule.thresholds
    pred_own = own_rule.apply(probs)
    pred_fixed = DecisionRule.fixed(FIXED_THRESHOLD, len(run.labels)).apply(probs)
    columns = list(range(len(run.labels))) if columns is None else list(columns)
    labels = [run.labels[j] for j in columns]
    probs, pred_own, pred_fixed, own = probs[:, columns], pred_own[:, columns], pred_fixed[:, columns], own[columns]
    return {
        "available": True,
        "name": NAME,
        "params": model.params,
        "train_rows": len(texts),
        "validation_rows": len(val_texts),
        "thresholds": {g: round(float(t), 4) for g, t in zip(labels, own)},
        "scores": {
            "at_0.5": _block(rows.y, pred_fixed, probs, labels, FIXED_THRESHOLD),
            "at_own_thresholds": _block(rows.y, pred_own, probs, labels, own),
        },
        "ranking": _rounded(metrics.ranking_scores(rows.y, probs)),
        "f1_by_threshold": _rounded(metrics.f1_by_threshold(rows.y, probs)),
        "genres_per_movie": metrics.genres_per_row(pred_own),
    }


def _tuning(run: Run) -> tuple[bool, str]:
    """Whether the run's thresholds were tuned on validation, and how ("global", "per-genre",
    "fixed"). Its config says so; a run written before tuning existed has no thresholds file,
    and one whose tuning landed on its fixed value everywhere was tuned all the same."""
    mode = getattr(run.config, "thresholds", "fixed")
    saved = (Path(run.path) / THRESHOLDS_FILE).is_file()
    tuned = mode != "fixed" and (saved or not np.allclose(run.rule.thresholds, run.config.threshold))
    return tuned, mode if tuned else "fixed"


def _model_info(run: Run) -> dict:
    meta = run.meta or {}
    path = Path(run.path).resolve()
    # The bundled model keeps the trial id it was trained under; users know it as the bundled model.
    name = "bundled model" if path == bundled_model() else meta.get("name", path.name)
    return {
        "path": str(path),
        "name": name,
        "backbone": run.config.backbone,
        "pooling": meta.get("pooling", run.config.pooling),
        "trained": meta.get("finished"),
        "best_epoch": meta.get("best_epoch"),
        "max_length": run.config.max_length,
        "versions": meta.get("versions", {}),
    }


def _data_info(rows: EvalRows) -> dict:
    return {
        "path": str(rows.data_path.resolve()),
        "fingerprint": rows.fingerprint,
        "split": rows.split,
        "own_data": rows.own_data,
        "rows": len(rows.texts),
        "read": rows.read_report,
        "train_overlap": rows.train_overlap,
        "training_rows": rows.training_rows,
        # None of their genres scored: on the run's own file they are scored with no true genre
        # (without_known_genres), on another file left out (unknown_only_rows); one is always 0.
        "rows_without_known_genres": rows.without_known_genres + rows.unknown_only_rows,
        "has_titles": rows.titles is not None,
        "text_columns": None if rows.text_columns is None else rows.text_columns.columns,
        "text_columns_how": None if rows.text_columns is None else rows.text_columns.how,
    }


def _genres_per_movie(y: np.ndarray, pred: np.ndarray, baseline_block: dict) -> dict:
    top = max(int(y.sum(axis=1).max(initial=0)), int(pred.sum(axis=1).max(initial=0)))
    if baseline_block.get("available"):
        top = max(top, len(baseline_block["genres_per_movie"]) - 1)
    out = {"true": metrics.genres_per_row(y, top), "predicted": metrics.genres_per_row(pred, top)}
    if baseline_block.get("available"):
        counts = baseline_block["genres_per_movie"]
        out["baseline"] = counts + [0] * (top + 1 - len(counts))
    return out


def _title(rows: EvalRows, i: int) -> str:
    title = rows.titles[i] if rows.titles is not None else ""
    return title or f"data row {rows.row_ids[i]}"


def _worst(rows: EvalRows, probs, pred, labels, limits, top: int) -> dict:
    """The movies with the most confident wrong genre and the most missed true genre."""
    y = rows.y.astype(bool)
    chosen = pred.astype(bool)
    fp_score = np.where(chosen & ~y, probs, -1.0).max(axis=1)
    fn_score = np.where(~chosen & y, probs, 2.0).min(axis=1)
    limits = np.broadcast_to(np.asarray(limits, dtype=float), (len(labels),))
    def entry(i: int, genres_mask: np.ndarray) -> dict:
        return {
            "row_id": int(rows.row_ids[i]),
            "title": _title(rows, i),
            "text": rows.texts[i],
            "errors": [
                {"genre": labels[j], "probability": round(float(probs[i, j]), 4), "threshold": round(float(limits[j]), 4)}
                for j in np.argsort(-probs[i]) if genres_mask[j]
            ],
            "true": [labels[j] for j in np.flatnonzero(y[i])],
            "unknown": _unscorable(rows, i),
            "predicted": [labels[j] for j in np.flatnonzero(chosen[i])],
        }

    fps = [int(i) for i in np.argsort(-fp_score, kind="stable") if fp_score[i] >= 0][:top]
    fns = [int(i) for i in np.argsort(fn_score, kind="stable") if fn_score[i] <= 1][:top]
    return {
        "false_positives": [entry(i, chosen[i] & ~y[i]) for i in fps],
        "false_negatives": [entry(i, ~chosen[i] & y[i]) for i in fns],
    }


def _movies(rows: EvalRows, pred, labels, every_pred, every_label) -> list[dict]:
    """True vs predicted genres (at the run's thresholds) of every evaluated movie.

    ``predicted`` is every genre the model gave the movie, as `tag` writes it; ``not_scored``
    those of them left out of the scores (genres the file never uses).
    """
    scored = set(labels)
    movies = []
    for i in range(len(rows.texts)):
        predicted = [every_label[j] for j in np.flatnonzero(every_pred[i])]
        movies.append({
            "row_id": int(rows.row_ids[i]),
            "title": _title(rows, i),
            "true": [labels[j] for j in np.flatnonzero(rows.y[i])],
            "unknown": _unscorable(rows, i),
            "predicted": predicted,
            "not_scored": [g for g in predicted if g not in scored],
        })
    return movies


def _unscorable(rows: EvalRows, i: int) -> list[str]:
    """The genres of row ``i`` that no model genre stands for."""
    if rows.match is None:
        return []
    return [g for g in rows.genres[i] if not rows.match.scored_as.get(g)]


def _rounded(obj):
    if isinstance(obj, float):
        return round(obj, DIGITS) if np.isfinite(obj) else None  # strict JSON has no NaN
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj
