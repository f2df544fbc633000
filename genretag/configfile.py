"""TOML config files for ``train --config run.toml``: file values under command-line options.

A config file holds `TrainConfig` fields at its top level, e.g.::

    data = "movies.csv"          # relative paths are relative to this file
    backbone = "minilm"
    epochs = 8
    text_cols = ["title", "overview"]
    split = [0.7, 0.15, 0.15]

An option given on the command line wins over the file, the file wins over the option's
default, and the merged `TrainConfig` is what the run saves in its ``config.json``. Which
options were given is the caller's to say (`apply_config_file`'s ``given``): this module
knows nothing of a command line.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Collection
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .errors import ConfigError, DataError

#: Fields holding a path, resolved against the config file's folder.
PATH_FIELDS = ("data", "genre_map", "teacher")
#: Fields that may hold a path (resolved when it names a folder there) or a name (a hub id, a preset).
PATH_OR_NAME_FIELDS = ("backbone",)
#: Options of `train` about where and how this command runs, not about the recipe a run records.
_COMMAND_LINE_ONLY = frozenset({"out", "device", "force", "resume", "config", "quiet", "verbose", "threads"})


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read and check a TOML config file.

    Args:
        path: The ``.toml`` file.

    Returns:
        Field name → value, typed as `TrainConfig` expects; the `PATH_FIELDS` (and the
        `PATH_OR_NAME_FIELDS` when they name an existing folder) made absolute against the
        file's folder.

    Raises:
        DataError: Missing or malformed file, unknown key or wrongly typed value.
    """
    path = Path(path)
    tomllib = _toml_reader()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"config file {path} not found; pass --config with a TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read config file {path}: {exc.__class__.__name__}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"config file {path} is not valid TOML: {exc}") from None
    hints = typing.get_type_hints(TrainConfig)
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    values = {}
    for key, value in raw.items():
        if key not in hints and key.replace("_", "-") in _COMMAND_LINE_ONLY:
            raise DataError(f"{path}: '{key}' is an option of this command, not of the training recipe; it cannot be "
                            f"set in a config file: pass --{key.replace('_', '-')} on the command line")
        if key not in hints:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise DataError(f"{path}: unknown key '{key}'{hint}; keys are the recipe options of 'genretag train', with _ for -")
        values[key] = _coerce(path, key, value, hints[key])
    base = path.resolve().parent
    for key in PATH_FIELDS:
        if values.get(key):
            values[key] = str(base / Path(values[key]).expanduser())
    for key in PATH_OR_NAME_FIELDS:
        if values.get(key) and (base / values[key]).is_dir():
            values[key] = str(base / values[key])
    return values


def _toml_reader():
    try:
        import tomllib  # Python >= 3.11
    except ImportError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise DataError("--config needs Python 3.11+, or on 3.10: pip install tomli") from None
    return tomllib


def apply_config_file(config_file: str | Path | None, config: TrainConfig, *,
                      given: Collection[str] = ()) -> TrainConfig:
    """Merge a config file under the settings given explicitly.

    Args:
        config_file: The ``.toml`` file, or None.
        config: The settings, defaults included (e.g. a command's options).
        given: Fields set explicitly (typed on the command line): they keep ``config``'s value;
            every other field the file holds takes the file's.

    Returns:
        A validated `TrainConfig`: given values > file values > defaults.

    Raises:
        DataError: A bad file (`load_config_file`), or a value of the file out of range,
            named by its key.
    """
    if not config_file:
        return config
    changes = {key: value for key, value in load_config_file(config_file).items() if key not in given}
    try:
        return dataclasses.replace(config, **changes)
    except ConfigError as exc:
        if not set(exc.params) & set(changes):
            raise
        raise DataError(f"{config_file}: {exc.describe(lambda key: repr(key))}") from None


def _coerce(path: Path, key: str, value, hint):
    """Check one TOML value against the field's type; returns it as the field wants it."""
    options = [a for a in typing.get_args(hint) if a is not type(None)] if _is_union(hint) else [hint]
    for option in options:
        ok, converted = _convert(value, option)
        if ok:
            return converted
    wanted = " or ".join(_describe(o) for o in options)
    raise DataError(f"{path}: '{key}' must be {wanted}, got {value!r}")


def _is_union(hint) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _convert(value, hint) -> tuple[bool, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return number, float(value) if number else value
    if hint is str:
        return isinstance(value, str), value
    if origin is list and args == (str,):
        if isinstance(value, str):  # "title,overview", as on the command line
            items = [v.strip() for v in value.split(",") if v.strip()]
            return bool(items), items
        return isinstance(value, list) and all(isinstance(v, str) for v in value), value
    if origin is tuple:
        numbers = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        return numbers, tuple(float(v) for v in value) if numbers else value
    return False, value


def _describe(hint) -> str:
    origin = typing.get_origin(hint)
    if hint is bool:
        return "true or false"
    if hint in (int, float):
        return "a whole number" if hint is int else "a number"
    if hint is str:
        return "a string"
    if origin is list:
        return "a list of strings"
    if origin is tuple:
        return "a list of numbers"
    return str(hint)
