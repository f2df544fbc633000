"""Writing outputs safely: to a temporary name, then renamed into place.

A crash or Ctrl-C leaves either the old file or the new one, never half of one, and
nothing is overwritten unless the user said ``--force``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputExistsError


def ensure_new(target: str | Path, force: bool) -> Path:
    """Refuse to overwrite ``target`` without ``force``; returns it as a Path."""
    target = Path(target)
    if target.exists() and not force:
        raise OutputExistsError(f"{target} already exists; pass --force to overwrite it")
    return target


@contextlib.contextmanager
def atomic_path(target: str | Path, *, force: bool = False, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    Args:
        target: Final file or folder.
        force: Allow replacing an existing ``target``.
        directory: Yield an (empty, created) folder instead of a file name.
    """
    target = ensure_new(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target, so the final rename stays on one file system.
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if directory:
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(tmp, target)
        else:
            os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise


def write_text(target: str | Path, text: str, *, force: bool = True) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_path(target, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, data, *, force: bool = True) -> None:
    """Write JSON atomically, pretty-printed, keys in insertion order."""
    write_text(target, json.dumps(data, indent=2, ensure_ascii=False) + "\n", force=force)
