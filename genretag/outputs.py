"""Writing outputs safely: to a temporary name, then renamed into place.

A crash or Ctrl-C leaves either the old file or the new one, never half of one, and
nothing is overwritten unless the user said ``--force``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError, GenretagError, OutputExistsError

try:  # POSIX only; elsewhere two writers of one output are not detected
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

logger = logging.getLogger(__name__)


def physical_path(target: str | Path) -> Path:
    """Where the file system puts ``target``: absolute, ``.`` and ``..`` applied, links in its
    folders followed; a link as the last name is kept (writing replaces the link itself).

    ``new/../old.csv`` is ``old.csv`` even before ``new`` exists, which ``Path.exists``
    cannot see (it asks the OS, which fails on the missing ``new``).
    """
    target = Path(target)
    if target.name in ("", ".", ".."):  # Path(".").name is "", Path("a/..").name is ".."
        return Path(os.path.realpath(target))
    return Path(os.path.realpath(target.parent)) / target.name


def ensure_new(target: str | Path, force: bool, *, directory: bool | None = None, option: str | None = None,
               inputs: Iterable = ()) -> Path:
    """Refuse to overwrite ``target`` without ``force``, and a file output onto a folder ever.

    Checked where the output will land (`physical_path`), so ``new/../old.csv`` is seen
    to exist. Replacing a folder deletes it, so a file output never replaces one, and a
    folder output never replaces the current folder or one above it.

    Args:
        target: The output as the user gave it (named so in messages).
        force: Allow replacing an existing output of the same kind.
        directory: True for a folder output, False for a file; None checks existence only
            (the caller's `atomic_path` checks the kind before writing).
        option: The flag that named ``target``, for messages (``--json``).
        inputs: Files or folders the command reads: a folder output holding one is never replaced.

    Returns:
        ``target`` as a Path.

    Raises:
        DataError: ``target`` is a folder for a file output, or a file or the current
            folder (or one above it) for a folder output.
        OutputExistsError: ``target`` exists without ``force``.
    """
    target = Path(target)
    where = physical_path(target)
    named = f"{option} {target}" if option else str(target)
    if directory is False and where.is_dir():
        raise DataError(f"{named} is a directory; give a file name")
    if directory:
        if where == Path.cwd().resolve() or where in Path.cwd().resolve().parents:
            raise DataError(f"{named} is the current folder or one above it; give a new folder's name")
        if where.exists() and not where.is_dir():
            raise DataError(f"{named} is a file, not a folder; give a folder's name")
        if where.is_dir() and force:
            _check_replaceable(where, named, inputs)
    if where.exists() and not where.is_file() and not where.is_dir():
        raise DataError(f"{named} is a {_special_kind(where)}, not a file; give a file name (an output replaces "
                        "what is there)")
    if where.exists() and not force:
        raise OutputExistsError(f"{target} already exists; pass --force to overwrite it")
    check_writable(where, named)
    return target


def _special_kind(path: Path) -> str:
    """What a path that is neither a file nor a folder is: "device", "named pipe (FIFO)", "socket"."""
    if path.is_char_device() or path.is_block_device():
        return "device"
    if path.is_fifo():
        return "named pipe (FIFO)"
    return "socket" if path.is_socket() else "special file"


def check_writable(where: Path, named: str) -> None:
    """Refuse an output whose folder (or the nearest one that exists) takes no new file, before the work.

    A file is made there and removed: permissions alone miss read-only mounts, ``/proc`` and root.

    Raises:
        DataError: Naming the folder and the system's reason.
    """
    folder = next((f for f in (where.parent, *where.parent.parents) if f.exists()), None)
    if folder is None or not folder.is_dir():
        return  # _make_parent says which part is a file
    try:
        fd, probe = tempfile.mkstemp(prefix=".genretag-", suffix=".probe", dir=folder)
    except OSError as exc:
        raise DataError(f"cannot write {named}: the folder {folder} takes no new files "
                        f"({exc.strerror or exc.__class__.__name__}); choose another path") from None
    os.close(fd)
    os.unlink(probe)


#: The model shipped inside the package (`genretag.rundir.bundled_model`): no output goes there.
BUNDLED_MODEL = Path(__file__).resolve().parent / "default_model"
#: What a run folder holds that genretag reads back (`genretag.rundir`): an output never replaces one.
_RUN_FILES = frozenset({"meta.json", "config.json", "labels.json", "thresholds.json", "head.safetensors",
                        "split.json", "history.jsonl", "metrics.json", "blend.json", "blend.safetensors",
                        "ensemble.json", "vocabulary.json", "genretag_head.json", "README.md"})
_RUN_FOLDERS = frozenset({"adapter", "members", "checkpoints", "trials", "best"})


def refuse_run_files(target: str | Path, option: str | None = None) -> None:
    """Refuse an output the user named in the model shipped inside the package, or onto a file or
    folder of a run (``evaluate --json RUN/metrics.json``: `genretag info` would show the file's
    numbers as the run's), even with ``--force``. For the outputs a command's options name, not
    the files genretag writes into its own runs.

    Raises:
        DataError: ``target`` is (in) the bundled model, or an existing file of a genretag run folder.
    """
    where = physical_path(target)
    named = f"{option} {target}" if option else str(target)
    bundled = BUNDLED_MODEL.resolve()
    if where == bundled or bundled in where.parents:
        raise DataError(f"{named} is in the model shipped with genretag (part of the installed package); "
                        "write elsewhere")
    for up, folder in enumerate(list(where.parents)[:3]):
        if not any((folder / m).is_file() for m in _OWN_MARKERS):
            continue
        inside = where.relative_to(folder).parts
        if where.exists() and ((up == 0 and inside[0] in _RUN_FILES) or inside[0] in _RUN_FOLDERS):
            raise DataError(f"{named} is a file genretag reads back from the run {folder}; write elsewhere")
        return


#: Files that mark a folder as genretag's own output: a run or ensemble (``meta.json``), an
#: adapter export (``genretag_head.json``); a transformers export says so in its ``config.json``.
_OWN_MARKERS = ("meta.json", "genretag_head.json")


def _check_replaceable(folder: Path, named: str, inputs: Iterable) -> None:
    """Refuse to replace (delete) a folder that holds an input of the command or that genretag
    did not write: ``--force`` replaces genretag's own runs and exports, never a user's folder."""
    entries = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if not entries:
        return
    for source in inputs:
        if source is None or not Path(source).exists():
            continue
        inside = physical_path(Path(source))
        if inside == folder:
            raise DataError(f"{named} is {source}, which this command reads; choose another folder")
        if folder in inside.parents:
            raise DataError(f"{named} holds {source}, which this command reads; --force would delete it with the "
                            "folder: choose another folder")
    if any((folder / m).is_file() for m in _OWN_MARKERS) or _genretag_config(folder / "config.json"):
        return
    shown = ", ".join(entries[:4]) + (f" and {len(entries) - 4} more" if len(entries) > 4 else "")
    raise DataError(f"{named} is a folder genretag did not write (it holds {shown}); --force replaces only "
                    "genretag's own runs and exports, deleting them first: give a new folder's name")


def _genretag_config(path: Path) -> bool:
    try:
        return path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("model_type") == "genretag"
    except (OSError, ValueError, AttributeError):
        return False


def refuse_input(target: str | Path, inputs, option: str = "--out") -> None:
    """Refuse an output that is one of the ``inputs`` (the same file, through links and
    ``..`` too): ``--force`` allows replacing an old output, never the data a command reads.

    Raises:
        DataError: ``target`` is an input.
    """
    where = os.path.realpath(target)  # a link as the last name too: writing would not touch the file
    for source in inputs:
        if source is None or not Path(source).exists():
            continue
        if where == os.path.realpath(source) or (os.path.exists(where) and os.path.samefile(where, source)):
            raise DataError(f"{option} {target} is the input file {source}; choose another {option}")


@contextlib.contextmanager
def atomic_path(target: str | Path, *, force: bool = False, directory: bool = False,
                inputs: Iterable = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    Args:
        target: Final file or folder.
        force: Allow replacing an existing ``target`` (a folder only when genretag wrote it
            and it holds none of ``inputs``: `ensure_new`).
        directory: Yield an (empty, created) folder instead of a file name.
        inputs: What the command reads.
    """
    ensure_new(target, force, directory=directory, inputs=inputs)
    target = physical_path(target)  # written where it was checked
    _make_parent(target)
    # Same folder as the target, so the final rename stays on one file system.
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
    # mkstemp/mkdtemp make private (0600/0700) entries; outputs get the usual umask mode.
    os.chmod(tmp, (0o777 if directory else 0o666) & ~_umask())
    try:
        yield tmp
        if directory:
            _usual_modes(tmp)
        _replace(tmp, target, directory=directory)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise


def _make_parent(target: Path) -> None:
    for folder in (target.parent, *target.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise GenretagError(f"cannot write {target}: {folder} is a file, not a folder; choose another path")
            break
    target.parent.mkdir(parents=True, exist_ok=True)


def write_text(target: str | Path, text: str, *, force: bool = True) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_path(target, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, data, *, force: bool = True) -> None:
    """Write JSON atomically, pretty-printed, keys in insertion order."""
    write_text(target, json.dumps(data, indent=2, ensure_ascii=False) + "\n", force=force)


def write_record(path: str | Path, data) -> None:
    """Replace a small JSON progress record atomically, through the fixed name ``<path>.tmp``.

    A fixed name, unlike `write_json`'s random one, means a kill mid-write leaves no stray
    file that nobody would clean up: the next write or `resumable_path` replaces it.
    """
    path = Path(path)
    tmp = _record_tmp(path)
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _record_tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def partial_path(target: str | Path) -> Path:
    """The stable temporary name of ``target`` while it is written: ``.<name>.partial`` beside it."""
    target = Path(target)
    return target.with_name(f".{target.name}.partial")


@dataclass
class Partial:
    """What `resumable_path` yields: where to write, and whether earlier work is being continued."""

    path: Path
    resumed: bool


def refuse_finished(target: str | Path, *, marker: Callable[[Path], Path], force: bool, resume: bool) -> None:
    """Refuse ``--resume`` of an output that exists with no resumable partial beside it (complete,
    or something else), saying so: `ensure_new`'s "pass --force" would throw it away.

    Called by `resumable_path`, and by a command that checks its output before the slow part.

    Args:
        target: Final file or folder, as the user named it.
        marker: Maps the partial path to its progress file (as for `resumable_path`).
        force: ``--force`` was given: the output is redone, nothing to refuse.
        resume: ``--resume`` was given.

    Raises:
        OutputExistsError: ``target`` exists with nothing to resume, and ``resume`` without ``force``.
    """
    if resume and not force and physical_path(target).exists() and not marker(partial_path(target)).is_file():
        raise OutputExistsError(f"{target} exists with nothing unfinished to resume (an interrupted run leaves "
                                f"{marker(partial_path(target)).name} beside it); to redo it from the start, pass "
                                "--force without --resume")


def refuse_unresumed(target: str | Path, *, marker: Callable[[Path], Path], force: bool, resume: bool) -> None:
    """Refuse to start again over resumable work an interrupted run left for ``target`` when neither
    ``--resume`` nor ``--force`` is given: hours of training or tagging are not thrown away by a rerun
    that forgot ``--resume``. Commands call it before loading a model, so the refusal comes at once.

    Raises:
        OutputExistsError: A partial with its progress record is waiting.
    """
    tmp = partial_path(physical_path(target))
    if not resume and not force and tmp.exists() and marker(tmp).is_file():
        raise OutputExistsError(f"an interrupted run left resumable work in {tmp}; pass --resume to continue "
                                "it, or --force to start again")


@contextlib.contextmanager
def resumable_path(
    target: str | Path,
    *,
    marker: Callable[[Path], Path],
    force: bool = False,
    resume: bool = False,
    directory: bool = False,
    inputs: Iterable = (),
) -> Iterator[Partial]:
    """Like `atomic_path`, but under a stable name that survives a crash, so work can resume.

    The partial output lives at `partial_path` (``.<name>.partial``). The caller records its
    progress in ``marker(partial)``; a partial with a marker is kept when the work stops
    (Ctrl-C, a kill, a full disk), so a later call with ``resume=True`` continues it; a
    user error (`GenretagError`) discards a fresh partial, whose input must change anyway.
    Without ``resume`` a leftover partial is replaced, with a warning. On success the
    partial is renamed onto ``target`` and the marker removed.

    Args:
        target: Final file or folder.
        marker: Maps the partial path to the progress file that makes it resumable.
        force: Allow replacing an existing ``target``.
        resume: Continue a leftover partial when there is one.
        directory: The output is a folder (created empty unless resumed).
        inputs: What the command reads (`ensure_new`).

    Raises:
        OutputExistsError: ``target`` exists without ``force``, or another process is
            writing the same output right now.
        DataError: ``target`` is a folder for a file output, or the reverse (`ensure_new`).
    """
    refuse_finished(target, marker=marker, force=force, resume=resume)
    ensure_new(target, force, directory=directory, inputs=inputs)
    target = physical_path(target)  # written where it was checked
    _make_parent(target)
    tmp = partial_path(target)
    if tmp.is_dir() != directory and tmp.exists():  # not ours to delete
        raise OutputExistsError(f"{tmp} is in the way of writing {target}; move it away")
    with _exclusive(tmp, target):
        progress = marker(tmp)
        resumed = resume and tmp.exists() and progress.is_file()
        if resumed:
            logger.info("resuming the interrupted output in %s", tmp)
        else:
            refuse_unresumed(target, marker=marker, force=force, resume=resume)
            if tmp.exists() or progress.exists():
                hint = "; it could not be resumed" if resume else " (--force)"
                logger.warning("replacing %s left by an interrupted run%s", tmp, hint)
            elif resume:
                logger.warning("nothing to resume for %s; starting from the beginning", target)
            _remove(tmp)
            _remove(progress)
            _remove(_record_tmp(progress))
            if directory:
                tmp.mkdir()
        try:
            yield Partial(path=tmp, resumed=resumed)
            if directory:
                _usual_modes(tmp)
            _replace(tmp, target, directory=directory)
            _remove(marker(target) if directory else progress)
            _remove(_record_tmp(progress))
        except BaseException as exc:
            if isinstance(exc, GenretagError):
                # Bad input: its fix changes the input, so a fresh partial could not be
                # resumed anyway; a resumed one is kept (the message says what to do).
                if not resumed:
                    _remove(tmp)
                    _remove(progress)
                    _remove(_record_tmp(progress))
            elif progress.is_file():
                logger.warning("kept the unfinished output in %s; rerun with --resume to continue it%s", tmp,
                               " (a tune trial: rerun the same tune command)" if directory else "")
            else:
                _remove(tmp)  # nothing worth resuming yet
            raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _usual_modes(folder: Path) -> None:
    """Give the files and folders written inside ``folder`` the usual umask modes: some
    writers (safetensors) make their files private (0600)."""
    mask = _umask()
    for path in folder.rglob("*"):
        if path.is_symlink():
            continue
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


def _replace(tmp: Path, target: Path, *, directory: bool) -> None:
    """Rename ``tmp`` onto ``target``; an old folder output is moved aside first, so some
    complete version exists at every moment (``os.replace`` cannot replace a folder)."""
    if target.is_dir() and not target.is_symlink():
        if not directory:  # `ensure_new` refused it; a folder made since is still not ours to delete
            raise DataError(f"{target} is a directory; give a file name")
        old = target.with_name(f".{target.name}.old")
        _remove(old)
        os.replace(target, old)
        os.replace(tmp, target)
        _remove(old)
    else:
        os.replace(tmp, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def exclusive_lock(lock: Path, busy: str) -> Iterator[None]:
    """Hold an ``flock`` on ``lock`` (created, removed after), or raise `OutputExistsError` ``busy``.

    The kernel drops the lock when its process dies, so a killed run never blocks the next.
    """
    if fcntl is None:  # pragma: no cover - not POSIX: two writers go undetected
        yield
        return
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputExistsError(busy) from None
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def _exclusive(partial: Path, target: Path):
    """A lock beside ``partial``, so two processes never write one partial output."""
    return exclusive_lock(partial.with_name(partial.name + ".lock"),
                          f"another genretag process is writing {target} right now; wait for it or choose another output")
