"""Tagging on Ray Data: many workers (processes, machines, GPUs), one model load per worker.

``genretag tag ... --engine ray`` reads CSV, JSONL or Parquet (a file, a folder or a
glob; local files with genretag's own reader, as ``tag`` reads them), runs
`genretag.tagging.GenreTagger` in a fixed pool of Ray actors and writes one
file (Parquet, CSV/TSV, JSON Lines; `genretag.formats.TableWriter`, as ``tag`` writes) with
every input column and row, in input order (Ray Data's
``preserve_order``; no row-id column is added). Prediction and the output columns are
`tagging.tag_frame`'s, the code ``tag`` runs in one process.

Ray is an optional dependency (``pip install "genretag[ray]"``), imported only here.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import data as data_mod
from . import formats
from .errors import DataError, GenretagError
from .outputs import atomic_path, ensure_new, refuse_input, refuse_run_files
from .data import choose_text_columns
from .tagging import (GENRES_COLUMN, HEADER_EXAMPLES, GenreTagger, describe_untagged, free_column, untagged_notes,
                      warn_taken_columns)

logger = logging.getLogger(__name__)

ENGINES = ("ray",)
# Suffixes (lower case, compression stripped) of each input format.
FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".jsonl": "json", ".ndjson": "json", ".json": "json",
    ".parquet": "parquet", ".pq": "parquet",
}
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")
DEFAULT_BLOCK_ROWS = 1_000
INSTALL_HINT = 'pip install "genretag[ray]"'


@dataclass
class EngineSummary:
    """What `tag_with_ray` did."""

    output: Path
    inputs: list[str]
    rows: int = 0
    tagged: int = 0
    empty_text: int = 0
    workers: int = 1
    seconds: float = 0.0
    startup_seconds: float = 0.0
    """Starting (or joining) Ray, before any row is read."""
    genres_column: str = GENRES_COLUMN
    cluster: dict = field(default_factory=dict)
    text_columns: list[str] = field(default_factory=list)
    """The column(s) joined into the synopsis the model read."""
    text_columns_how: str = "detected"
    """How they were chosen (`genretag.tagging.TextColumns.how`)."""
    dialect: str | None = None
    """How a delimited output differs from plain comma-separated UTF-8 (`formats.describe_dialect`)."""
    header_count: int = 0
    """Rows that are a header, not a movie (`genretag.data.header_rows`): left untagged."""
    header_rows: list[int] = field(default_factory=list)
    """The row numbers (0-based, across the inputs in order) of the first `HEADER_EXAMPLES` of them."""
    other_script: dict[str, int] = field(default_factory=dict)
    """Synopses flagged in the language column, by script (`genretag.language.count_by_script`)."""
    language_column: str = "language_warning"
    not_synopsis: dict[str, int] = field(default_factory=dict)
    """Untagged rows whose synopsis cell prints something that is no synopsis, by reason
    (`genretag.tagging.untagged_notes`)."""

    @property
    def rows_per_second(self) -> float:
        """Rows over the whole call, Ray's start-up included."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def require_ray():
    """Import Ray Data, or raise a one-line error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise GenretagError(f"--engine ray needs Ray Data, which is not installed; {INSTALL_HINT}") from None
    return ray


def input_format(path: str) -> str | None:
    """``csv``, ``json`` (JSON lines) or ``parquet`` from a file name, else None."""
    name = path.lower()
    for ext in COMPRESSIONS:
        name = name.removesuffix(ext)
    return FORMATS.get(os.path.splitext(name)[1])


def _is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def expand_inputs(path: str | Path) -> tuple[list[str], str]:
    """The input files of ``path`` (a file, a folder or a glob; local or any fsspec URL) and their format.

    A folder gives the files under it with a known suffix, hidden ones left out; files
    are taken in sorted order, which is the order of the output rows.

    Raises:
        DataError: Nothing matches, the files mix formats, or a suffix is unknown.
    """
    path = str(path)
    if _is_remote(path):
        import fsspec

        fs, root = fsspec.core.url_to_fs(path)
        if glob.has_magic(root):
            files = fs.glob(root)
        elif fs.isdir(root):
            files = fs.find(root)
        elif fs.isfile(root):
            files = [root]
        else:
            raise DataError(f"{path} not found; give a file, a folder or a glob of CSV, JSONL or Parquet files")
        files = [fs.unstrip_protocol(f) for f in sorted(files)]
    else:
        local = path.removeprefix("file://")
        if glob.has_magic(local):
            files = sorted(f for f in glob.glob(local, recursive=True) if os.path.isfile(f))
        elif os.path.isdir(local):
            files = sorted(str(f) for f in Path(local).rglob("*") if f.is_file())
        elif os.path.isfile(local):
            files = [local]
        else:
            raise DataError(f"{path} not found; give a file, a folder or a glob of CSV, JSONL or Parquet files")
    if len(files) > 1 or files != [path.removeprefix("file://")]:
        # A folder or a glob: its data files, not _SUCCESS markers or hidden files.
        files = [f for f in files if input_format(f) and not os.path.basename(f).startswith((".", "_"))]
    if not files:
        raise DataError(f"no CSV, JSONL or Parquet files in {path}")
    # A local file named otherwise (a one-file "movies.zip", no suffix) is known by its content, as `tag` knows it.
    formats = {input_format(f) or (None if _is_remote(f) else _content_format(f)) for f in files}
    if None in formats:
        raise DataError(f"{files[0]}: unknown input format; name it .csv, .tsv, .jsonl or .parquet")
    if len(formats) > 1:
        raise DataError(f"{path} mixes input formats ({', '.join(sorted(formats))}); tag one format at a time")
    fmt = formats.pop()
    if any(map(_is_remote, files)):
        if fmt == "csv":
            raise DataError(f"{files[0]}: CSV input to --engine ray must be on this machine (genretag's reader "
                            "detects its encoding and delimiter); use Parquet or JSONL on object storage")
        if any(f.lower().endswith(".zip") for f in files):
            raise DataError(f"{files[0]}: a zip archive on object storage is not read; unpack it, or gzip the file")
    return files, fmt


def _content_format(path: str) -> str:
    kind = formats.sniff(path.removeprefix("file://")).kind
    return {formats.CSV: "csv", formats.PARQUET: "parquet"}.get(kind, "json")


def on_driver(files: list[str]) -> bool:
    """Local inputs are read by genretag's own reader on this machine, as ``tag`` reads them
    (encodings, delimiters, JSON arrays, compression, and every value's type: Ray's JSON Lines
    reader turns ``"0012"`` into 12 and epoch numbers into dates); each block then goes to
    Ray's object store. Remote JSON Lines and Parquet are read by Ray's readers on the workers."""
    return not any(map(_is_remote, files))


def input_columns(files: list[str], fmt: str) -> list[str]:
    """The column names of the first input file, read without Ray.

    Every input must hold the first one's columns (Parquet: its schema, `input_schema`): a
    file without the text column would have its rows written untagged as if their synopses
    were empty, and a delimited or Parquet output has one set of columns. JSON records may
    differ in their other keys (a JSON output keeps each record's own).

    Raises:
        DataError: The file cannot be read as ``fmt``, or the inputs' columns differ.
    """
    first = files[0]
    if fmt == "parquet":
        return list(input_schema(files).names)
    if on_driver(files):
        columns = list(formats.sniff(first).columns)
        for other in files[1:]:
            theirs = list(formats.sniff(other).columns)
            missing, extra = [c for c in columns if c not in theirs], [c for c in theirs if c not in columns]
            if theirs != columns and (fmt != "json" or missing):
                what = (f"lacks {', '.join(map(repr, missing))}" if missing else
                        f"adds {', '.join(map(repr, extra))}" if extra else "orders them otherwise")
                raise DataError(f"{other} does not have the columns of {first} (it {what}); tag files of one layout "
                                "together, or each on its own")
        return columns
    import fsspec
    import pandas as pd

    try:
        with fsspec.open(first, "rb", compression="infer") as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
            if head.startswith(b"["):
                raise DataError(f"{first} is a JSON array of records: --engine ray reads JSON arrays on this machine "
                                "only; copy it here, or write JSON Lines (one movie per line) to object storage")
            fh.seek(0)
            return [str(c) for c in pd.read_json(fh, lines=True, nrows=100, dtype=False).columns]
    except (OSError, ValueError) as exc:
        raise DataError(f"{first} cannot be read as JSON lines ({_one_line(exc)})") from None


def input_schema(files: list[str]):
    """The pyarrow schema every Parquet input shares (Ray reads files of several into an internal error).

    Raises:
        DataError: A file cannot be read as Parquet, or its schema differs from the first file's.
    """
    import fsspec
    import pyarrow.parquet as pq

    schemas = []
    for file in files:
        try:
            with fsspec.open(file, "rb") as fh:
                schemas.append(pq.read_schema(fh).remove_metadata())
        except (OSError, ValueError) as exc:
            raise DataError(f"{file} cannot be read as Parquet ({_one_line(exc)})") from None
        if schemas[-1] != schemas[0]:
            differ = [f"{f.name} ({f.type})" for f in schemas[-1] if f not in schemas[0]] or ["the order of columns"]
            raise DataError(f"{file} does not have the schema of {files[0]} (differs in {', '.join(differ[:3])}); "
                            "tag files of one schema together, or each on its own")
    return schemas[0]


def _one_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"


def default_engine_output(source: str | Path) -> Path:
    """``movies.csv`` → ``movies.tagged.parquet`` beside a single local input file."""
    path = Path(str(source))
    name = path.name
    for ext in COMPRESSIONS:
        name = name.removesuffix(ext)
    return path.with_name(f"{Path(name).stem}.tagged.parquet")


def output_format(out: str | Path, files: list[str]) -> formats.OutputFormat:
    """The format to write ``out`` in: `genretag.formats.check_output`'s, as ``tag`` writes it.

    An output of local inputs (`on_driver`) that share one dialect (separator, encoding,
    byte-order mark, Excel ``sep=`` line, line ending) keeps it, as ``tag`` does for its one
    input; inputs of several dialects keep what they share (separator, line ending ...), the
    rest is plain UTF-8 CSV's (said); remote ones give plain UTF-8.

    Raises:
        DataError: A format genretag does not write (``.xlsx``, ``.zip`` ...).
    """
    plain = formats.check_output(out)
    if not on_driver(files):
        return plain
    kept = {formats.check_output(out, source=formats.sniff(f), warn=False) for f in files}
    if len(kept) == 1:
        return kept.pop()
    settings = ("encoding", "sep", "bom", "sep_line", "newline", "quoting", "decimal")
    values = {name: {getattr(fmt, name) for fmt in kept} for name in settings}
    # What every input shares is kept; what differs is plain UTF-8 CSV's own.
    chosen = replace(plain, **{name: next(iter(v)) for name, v in values.items() if len(v) == 1})
    differ = [f"{name} ({', '.join(sorted({shown(name, value) for value in values[name]}))})"
              for name in settings[:5] if len(values[name]) > 1]
    logger.warning("the inputs differ in %s; %s is written %s-separated in %s%s", ", ".join(differ),
                   Path(out).name, shown("sep", chosen.sep), shown("encoding", chosen.encoding),
                   f" with {shown('newline', chosen.newline)} line endings" if chosen.newline else "")
    return chosen


def shown(setting: str, value) -> str:
    """A dialect setting of `formats.OutputFormat` as a person reads it: newline ``'\\n'`` is LF,
    encoding ``'cp1252'`` Windows-1252, sep ``'\\t'`` tab."""
    if setting == "encoding":
        return formats.encoding_label(value)
    if setting == "newline":
        return {"\n": "LF", "\r\n": "CRLF", "\r": "CR", None: "the format's own"}.get(value, repr(value))
    if setting == "sep":
        return "tab" if value == "\t" else repr(value)
    return "yes" if value else "no"


def worker_cpus(cluster_cpus: float, workers: int, gpus_per_worker: float) -> float:
    """CPUs one worker reserves: at most 1, and never so many that no CPU is left for reading.

    With every CPU taken by actors, Ray Data's read tasks never get scheduled and the
    pipeline hangs (ray-project/ray#44687); on a 2-core machine two workers take 0.5 each.
    """
    if gpus_per_worker:
        return 1.0 if cluster_cpus - workers >= 1 else max(0.1, (cluster_cpus - 1) / workers)
    spare = max(cluster_cpus - 1, cluster_cpus / 2)
    return max(0.1, min(1.0, spare / workers))


def tag_with_ray(
    model: str | Path | None,
    source: str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
    text_cols: list[str] | None = None,
    threshold: float | None = None,
    at_least_one: bool | None = None,
    max_genres: int | None = None,
    scores: bool = True,
    precision: str = "auto",
    runtime: str = "auto",
    batch_size: int | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    workers: int = 1,
    gpus_per_worker: float = 0,
    threads: int | None = None,
    address: str | None = None,
    backbone: str | None = None,
    trust_remote_code: bool = False,
    force_backbone: bool = False,
    vocabulary: str | None = None,
    on_rows: Callable[[int], None] | None = None,
    on_started: Callable[[dict], None] | None = None,
) -> EngineSummary:
    """Tag every row of CSV, JSONL or Parquet input on Ray Data and write one file.

    Inputs, columns and the output are checked before Ray starts. Ray is started on this
    machine unless it is already running in this process, ``address`` is given, or
    ``RAY_ADDRESS`` is set (then the cluster there is joined). Each worker (a Ray actor)
    loads the run once and tags blocks of ``block_rows`` rows; a worker that dies is
    restarted and its block tagged again, so every row is written exactly once. Output
    rows keep the input order (files in sorted order, rows in file order).

    Args:
        model: The run directory (None: as ``tag``, the newest under ./runs, else the bundled
            model); it must be readable at the same path on every node.
        source: A file, a folder or a glob of ``.csv``/``.tsv`` (local; genretag's
            reader), ``.jsonl`` or ``.parquet`` files (any pyarrow/fsspec path, e.g. ``s3://``).
        out: The output file, in any format ``tag`` writes (`output_format`; default:
            ``<input>.tagged.parquet`` beside a single local input file).
        force: Overwrite an existing output.
        text_cols, threshold, at_least_one, max_genres, scores, precision, runtime, batch_size,
            backbone, trust_remote_code, force_backbone, vocabulary: As `GenreTagger`.
        block_rows: Rows per block, the unit a worker tags (and Ray retries).
        workers: Actors in the pool (each loads the model once).
        gpus_per_worker: GPUs each actor reserves (0: CPU only).
        threads: CPUs each CPU worker reserves and its torch threads (default: at most one,
            leaving a CPU for reading; `worker_cpus`).
        address: A Ray cluster to join (``auto``, ``ray://host:10001`` ...).
        on_rows: Called with the rows written after each block.
        on_started: Called once Ray is up, with its cluster resources.

    Returns:
        An `EngineSummary`.

    Raises:
        GenretagError: Ray is not installed.
        DataError: No input, an unknown format, a missing column, or a bad option.
        OutputExistsError: ``out`` exists and ``force`` is False.
    """
    if workers < 1:
        raise DataError(f"--workers must be at least 1, got {workers}")
    if gpus_per_worker < 0:
        raise DataError(f"--gpus-per-worker must be 0 or more, got {gpus_per_worker}")
    if block_rows < 1:
        raise DataError(f"--chunksize must be at least 1, got {block_rows}")
    if threads is not None and threads < 1:
        raise DataError(f"--threads must be at least 1, got {threads}")
    from .rundir import LABELS_FILE
    from .runs import CONFIG_FILE, check_run_dir, read_json, resolve_model
    from .vocabulary import output_names

    t0 = time.perf_counter()
    # Workers may start in another folder: they get the absolute path.
    model = check_run_dir(resolve_model(model)).resolve()
    run_text_cols = read_json(model / CONFIG_FILE).get("text_cols")
    files, fmt = expand_inputs(source)
    if out is None:
        if len(files) != 1 or _is_remote(files[0]):
            raise DataError(f"{source} is not a single local file; pass --out FILE.parquet")
        out = default_engine_output(files[0])
    out = Path(out)
    out_fmt = output_format(out, files)
    summary_dialect = formats.describe_dialect(out_fmt)
    refuse_input(out, [f for f in files if not _is_remote(f)])
    refuse_run_files(out, "--out")
    ensure_new(out, force, directory=False)
    header = input_columns(files, fmt)
    chosen = choose_text_columns(header, text_cols, run_text_cols)
    cols = chosen.columns
    for warning in chosen.warnings():
        logger.warning(warning)
    labels = read_json(model / LABELS_FILE)
    warn_taken_columns(header, (output_names(labels, vocabulary)[0] if vocabulary else labels) if scores else [])
    ray = require_ray()

    summary = EngineSummary(output=out, inputs=files, workers=workers, text_columns=cols, text_columns_how=chosen.how,
                            dialect=summary_dialect)
    started_here = not ray.is_initialized()
    debug = logger.isEnabledFor(logging.DEBUG)
    ray_data_log = logging.getLogger("ray.data")
    ray_data_level = ray_data_log.level
    if not debug:  # Ray Data's own notes (execution plans, the progress-bar notice) only with -v
        ray_data_log.setLevel(logging.ERROR)
    if started_here:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING if debug else logging.ERROR,
                 log_to_driver=debug)
    try:
        summary.cluster = {k: float(v) for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU", "memory")}
        summary.startup_seconds = time.perf_counter() - t0
        if on_started:
            on_started(summary.cluster)
        cpus = float(threads) if threads else worker_cpus(summary.cluster.get("CPU", 1.0), workers, gpus_per_worker)
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # output rows in input order, whichever worker finishes first
        ctx.enable_progress_bars = False  # the CLI shows its own row count
        # Blocks stay the pandas frames genretag reads and tags: Ray's Arrow conversion would pickle a
        # field holding both numbers and text into binary cells, and give text columns Arrow dtypes.
        ctx.batch_to_block_arrow_format = False
        ctx.enable_arrow_backed_pandas_conversion = False
        dataset = _read(ray, files, fmt, block_rows)
        tagged = dataset.map_batches(
            GenreTagger,
            fn_constructor_kwargs=dict(model=str(model), text_cols=cols, precision=precision, runtime=runtime,
                                       batch_size=batch_size,
                                       threshold=threshold, at_least_one=at_least_one, max_genres=max_genres,
                                       scores=scores, backbone=backbone, trust_remote_code=trust_remote_code,
                                       threads=max(1, int(cpus)), force_backbone=force_backbone,
                                       vocabulary=vocabulary, spreadsheet=out_fmt.spreadsheet),
            batch_size=block_rows,
            batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=cpus,
            num_gpus=gpus_per_worker or None,
        )
        summary.genres_column = free_column(header, GENRES_COLUMN)
        schema = input_schema(files) if fmt == "parquet" and out_fmt.kind == formats.PARQUET else None
        added = 2 + (len(labels) if scores else 0)  # the genres, the scores, the language flags
        # fields read from each record's object (Trakt's movie.overview): the output keeps the object whole instead
        nested = formats.nested_fields(header, formats.sniff(files[0])) if fmt == "json" and on_driver(files) else []
        _write(tagged, out, out_fmt, force, cols, header, summary, on_rows, added, fmt == "json" and on_driver(files),
               schema, nested)
    except ray.exceptions.RayError as exc:
        own = _genretag_cause(exc)
        if own is not None:  # a worker refused the input or the model: its own error, its own exit code
            raise own from None
        raise GenretagError(_ray_message(exc)) from None
    finally:
        ray_data_log.setLevel(ray_data_level)
        if started_here:
            ray.shutdown()
    summary.seconds = time.perf_counter() - t0
    if summary.header_count:
        logger.warning("left untagged %s", data_mod.header_rows_said(summary.header_rows, summary.header_count))
    untagged = describe_untagged(summary.not_synopsis, summary.language_column)
    if untagged:
        logger.warning(untagged)
    message = language_message(model, summary)
    if message:
        logger.warning(message)
    return summary


def language_message(model: Path, summary: EngineSummary) -> str | None:
    """`tag`'s warning about synopses in another language than the model's, from the flags written."""
    from . import language
    from .runs import META_FILE, read_json

    meta = read_json(model / META_FILE) if (model / META_FILE).is_file() else {}
    message = language.describe(dict(sorted(summary.other_script.items(), key=lambda x: -x[1])), summary.tagged,
                                language.known_scripts(meta))
    return message and f"{message} (column {summary.language_column})"


def _read(ray, files: list[str], fmt: str, block_rows: int):
    """A Ray dataset of the input, in blocks of at most ``block_rows`` rows.

    One file is one block to Ray's readers, and one block goes to one worker: without
    the repartition a single file would keep every worker but one idle.
    """
    if on_driver(files):
        # genretag's reader (encoding, delimiter, types as `tag` reads them) on the driver;
        # each chunk goes to the object store (spilled to disk when it fills).
        refs = [ray.put(chunk.reset_index(drop=True))
                for file in files for chunk in data_mod.iter_csv_chunks(file, chunksize=block_rows)]
        return ray.data.from_pandas_refs(refs)
    reader = ray.data.read_parquet if fmt == "parquet" else lambda paths: ray.data.read_json(paths, lines=True)
    return reader(files).repartition(target_num_rows_per_block=block_rows)


def _write(tagged, out: Path, fmt: formats.OutputFormat, force: bool, cols: list[str], header: list[str],
           summary: EngineSummary, on_rows, added: int, records: bool, schema, nested: list[str] = ()) -> None:
    """Stream the tagged blocks, in order, into one file written atomically (`formats.TableWriter`);
    count the rows and the language flags as `tagging.tag_csv` does (``header``: the input's columns;
    ``added``: how many columns tagging appends; ``records``: JSON records read on this machine, whose
    absent keys a JSON output leaves out again; ``schema``: the Parquet input's, whose types a Parquet
    output keeps; ``nested``: columns read from the records' objects, not written: the objects are)."""
    from . import language

    synopsis_cols = data_mod.synopsis_columns(cols)  # as tag_frame counts a row with a title alone
    # Pandas frames (see `tag_with_ray`), written as `tag` writes its chunks.
    with atomic_path(out, force=force) as tmp:
        writer = formats.TableWriter(tmp, fmt, schema=schema, name=out.name)
        try:
            for block in tagged.iter_batches(batch_size=None, batch_format="pandas", prefetch_batches=2):
                rows = len(block)
                if rows == 0:
                    continue
                written = block.drop(columns=list(nested)) if nested else block
                # a block may join records of several files: each input column may lack a key (`tag`'s rule)
                sparse = list(written.columns[:len(written.columns) - added]) if records else ()
                writer.write(written, header=summary.rows == 0, sparse=sparse)
                summary.language_column = str(block.columns[-1])
                for script, n in language.count_by_script(block.iloc[:, -1].fillna("").astype(str).tolist()).items():
                    summary.other_script[script] = summary.other_script.get(script, 0) + n
                for reason, n in untagged_notes(block.iloc[:, -1].fillna("").astype(str).tolist()).items():
                    summary.not_synopsis[reason] = summary.not_synopsis.get(reason, 0) + n
                text = data_mod.join_text(block[synopsis_cols], synopsis_cols)
                headers = []
                if (text.str.len() <= data_mod.HEADER_CELL_CHARS).any():  # else no header row: skip the frame
                    frame = block[[c for c in header if c in block.columns]]
                    flags = data_mod.header_rows(frame, synopsis_cols, summary.rows)
                    headers = [i for i, flag in enumerate(flags) if flag]
                has_text = int((text.str.len() > 0).sum()) - sum(bool(text.iloc[i]) for i in headers)
                summary.header_rows = (summary.header_rows + [summary.rows + i for i in headers])[:HEADER_EXAMPLES]
                summary.header_count += len(headers)
                summary.rows += rows
                summary.tagged += has_text
                summary.empty_text += rows - has_text - len(headers)
                if on_rows:
                    on_rows(rows)
        finally:
            writer.close()
        if summary.rows == 0:
            raise DataError(f"{', '.join(summary.inputs[:3])} holds no rows; nothing to tag")


def _genretag_cause(exc: BaseException) -> GenretagError | None:
    """The genretag error a Ray error wraps (a task's ``cause``, an exception's ``__cause__`` or
    ``__context__``, at any depth), as the worker raised it; None when there is none."""
    import ray

    seen, stack = set(), [exc]
    while stack:
        error = stack.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        # (a Ray task error may subclass the worker's error too: that one is Ray's wrapper)
        if isinstance(error, GenretagError) and not isinstance(error, ray.exceptions.RayError):
            return error
        stack += [getattr(error, "cause", None), error.__cause__, error.__context__]
        stack += [arg for arg in getattr(error, "args", ()) if isinstance(arg, BaseException)]
    # Ray Data keeps only the worker's traceback as text ("genretag.errors.DataError: row 9 is ...").
    from . import errors

    found = _RAISED.findall(str(exc))
    for name, message in reversed(found):
        kind = getattr(errors, name, None)
        if isinstance(kind, type) and issubclass(kind, GenretagError):
            return kind(message.strip())
    return None


_RAISED = re.compile(r"genretag\.errors\.(\w+): ([^\n]+)")


def _ray_message(exc: Exception) -> str:
    """One line from a Ray error, with genretag's own message when a worker raised one."""
    text = " ".join(str(exc).split())
    return f"Ray failed: {text[:300]}"
