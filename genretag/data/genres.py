"""Genre cells: parsing every common way of writing a genre list, and canonical names.

Names are only parsed here; aliases, placeholders and TMDB ids are
`genretag.vocabulary`'s job.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .cells import NULL_TOKENS, ZERO_WIDTH, is_missing, strip_tags, unescape_entities

# Separators for genre strings. "/" and "&" are deliberately absent: names such as
# "Sci-Fi/Fantasy" or "Action & Adventure" (TMDB TV) contain them.
# Bullets and middle dots ("Action • Adventure", "Drama · Romance"), CJK list commas
# ("、", "，") and full-width bars separate genres on web pages too.
_GENRE_SPLIT = re.compile("[,|;\t\r\n\u2022\u00b7\u2027\u2219\u22c5\u25e6\u25cf\u25aa\u2e31\u1427\u30fb"
                          "\uff65\u3001\uff0c\uff5c\uff1b]+")
_GENRE_STRIP = " \t\r\n'\"[](){}"
# Recovers names from a truncated TMDB JSON cell such as '[{"id": 28, "name": "Acti'.
_JSON_NAME = re.compile(r"""["']name["']\s*:\s*["']([^"']*)["']?""")
# A word for title-casing: letters/digits, with inner apostrophes ("children's").
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
# Words that keep their capitals when an all-lower or ALL-UPPER name is title-cased.
_ACRONYMS = {"tv": "TV", "imax": "IMAX", "lgbt": "LGBT", "lgbtq": "LGBTQ", "lgbtqia": "LGBTQIA", "3d": "3D"}
# More brackets than this and a cell is not a genre list (a TMDB list of 20 genres has 21);
# skipping the literal parse keeps json and ast.literal_eval away from pathological nesting,
# which exhausts the recursion limit well below 1000 levels when called from a deep stack.
_MAX_BRACKETS = 100
# Deeper than this, a real list (a JSON Lines value) is not a genre list either: no names.
_MAX_DEPTH = 32


def canonical_genre(name: str) -> str:
    """Return the canonical spelling of one genre name.

    Whitespace is stripped and collapsed, characters that print as nothing (zero-width space,
    soft hyphen ... of pages copied from the web) dropped. An all-lower or ALL-UPPER name becomes
    Title Case ("science fiction" -> "Science Fiction", "TV MOVIE" -> "TV Movie");
    a mixed-case name ("Sci-Fi", "TV Movie") is kept as written.

    Args:
        name: A genre name.

    Returns:
        The canonical name, or "" for a blank name.
    """
    name = " ".join(str(name).translate(ZERO_WIDTH).split())
    if name.islower() or name.isupper():
        # "İ" (Turkish capital dotted I) lowers to "i" plus a combining dot, which splits a word in two.
        name = _WORD.sub(_title_word, name.replace("İ", "i").lower())
    return name


def _title_word(match: re.Match) -> str:
    word = match.group(0)
    # str.title() would give "Children'S"; capitalise whole words instead.
    # title() rather than upper() on the first letter: "ß" -> "Ss", not "SS" (which
    # would itself be ALL-UPPER, so canonical_genre would not be idempotent).
    return _ACRONYMS.get(word, word[:1].title() + word[1:])


def parse_genres(cell: Any, written: dict[str, str] | None = None) -> list[str]:
    """Parse one genre cell into canonical genre names.

    Accepted forms: a Python-list string ``"['Action', 'Drama']"``, a JSON list of
    strings or of objects (TMDB ``{"id": .., "name": ..}``, or a ``genre``, ``genre_name``,
    ``label`` … key), an id -> name map (CMU's Freebase ``{"/m/07s9rl0": "Drama"}``), a map
    of flags (``{"Action": true}``), a real list or tuple, and text separated by ``,``
    ``|`` ``;`` (or tabs/newlines) such as ``"Action|Drama"``. Names are only parsed here;
    aliases, placeholders and TMDB ids are `genretag.vocabulary`'s job.
    ``/`` and ``&`` are not separators because genre names contain them. HTML character
    references of scraped pages ("Action &amp; Adventure") are decoded first. Missing
    values (None, NaN, "", "[]", "N/A") give ``[]``. A malformed cell never raises:
    its text is split after brackets and quotes are stripped (so is a cell nested far
    deeper than any genre list; such a real list gives ``[]``).

    Args:
        cell: The raw cell value.
        written: Filled with each canonical name → the name as the cell wrote it (the first
            spelling seen), for messages: ``"No Genres Listed"`` → ``"(no genres listed)"``.

    Returns:
        Canonical genre names in their original order, without duplicates.
    """
    if written is None:
        return _dedupe(canonical_genre(n) for n in _raw_genres(cell))
    shown: dict[str, str] = {}
    names = list(_raw_genres(cell, shown))
    for name in names:
        written.setdefault(canonical_genre(name), " ".join(shown.get(name, name).split()))
    return _dedupe(canonical_genre(n) for n in names)


def _raw_genres(cell: Any, shown: dict[str, str] | None = None) -> Iterator[str]:
    """The names of a genre cell; ``shown`` gets a split piece's text before its brackets and
    quotes were stripped (name → as written)."""
    if isinstance(cell, np.ndarray):
        cell = cell.tolist()
    if isinstance(cell, (list, tuple)):
        yield from _names_from_object(cell)
        return
    if not isinstance(cell, str):
        if is_missing(cell):
            return
        yield from _names_from_object(cell)
        return
    text = strip_tags(_unescape(cell), block=",").strip()  # scraped: '<a href="...">Horror</a>, <a ...'
    if text.lower() in NULL_TOKENS:
        return
    if _NUMPY_LIST.fullmatch(text):  # a numpy array's repr, as pandas writes a list column to CSV
        yield from (_unquote(q) for q in _QUOTED.findall(text))
        return
    if _NUMPY_NUMBERS.fullmatch(text):  # ... of numbers: TMDB's genre_ids, "[878  53]"
        yield from text.strip("[] \t\r\n").split()
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
    text = _FOOTNOTE.sub("", text)  # Wikipedia: "drama[1]", "comedy [citation needed]"
    for piece in _GENRE_SPLIT.split(text):
        name = _QUALIFIER.sub("", piece.strip(_GENRE_STRIP)).strip(_GENRE_STRIP)
        if name.count("(") == name.count(")") + 1 and piece.rstrip().endswith(")"):
            name += ")"  # "Comedy (romantic)": the strip took the bracket the name closes with
        if shown is not None:
            shown.setdefault(name, piece.strip())
        yield name


# A numpy array of strings as text: "['Action' 'Drama']" (no commas; Python would read one string,
# "ActionDrama"), wrapped onto more lines when long.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*"')
_NUMPY_LIST = re.compile(rf"\[\s*(?:{_QUOTED.pattern})(?:\s+(?:{_QUOTED.pattern}))+\s*\]")
_NUMPY_NUMBERS = re.compile(r"\[\s*\d+(?:\s+\d+)+\s*\]")


def _unquote(quoted: str) -> str:
    try:
        return str(ast.literal_eval(quoted))
    except (ValueError, SyntaxError):  # an escape Python does not know ("\\N")
        return quoted[1:-1]


# Footnote marks and "(film)" qualifiers copied from wiki pages along with a genre name.
_FOOTNOTE = re.compile(r"\[\s*(?:\d+|[a-z]|citation needed|note \d+|nb \d+)\s*\]", re.IGNORECASE)
_QUALIFIER = re.compile(r"\s*\((?:film|films|movie|movies|genre)\)?\s*$", re.IGNORECASE)


def _unescape(text: str) -> str:
    """HTML character references decoded, until none is left ("&amp;amp;" of a page escaped
    twice is "&"), so that the result reads back as itself."""
    while "&" in text:
        decoded = unescape_entities(text)
        if decoded == text:
            break
        text = decoded
    return text


def _parse_literal(text: str) -> Any:
    """JSON first (TMDB), then a Python literal (pandas str() of a list); None if neither."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to be a genre list
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
    if not text or text[0] not in "[{" or text.lower() in NULL_TOKENS:
        return False
    if text.count("[") + text.count("{") > _MAX_BRACKETS:
        return True
    if _NUMPY_LIST.fullmatch(text) or _NUMPY_NUMBERS.fullmatch(text):  # a numpy repr: well formed
        return False
    return _parse_literal(text) is None


# Keys that hold the name in a genre object, in the order they are tried (case-insensitive):
# TMDB/MAL {"id", "name"}, AniList {"genre"}, Wikidata-style {"label"}, {"genre_name"}, ...
_NAME_KEYS = ("name", "genre", "genres", "genre_name", "genrename", "genre_names", "names", "label", "labels", "title",
              "value", "values", "text", "tag", "tags")
# Keys that hold TMDB ids, where no key holds a name: {"id": 28}, {"genre_ids": [18, 35]}; then a slug
# ({"slug": "science-fiction"}), read as a name.
_ID_KEYS = ("id", "ids", "genre_id", "genre_ids")
# The flags of a map of genres to whether each applies: {"Action": 1, "Drama": 0}, {"Action": "yes"}.
_FLAG_TRUE = frozenset({"1", "1.0", "true", "yes", "y", "x"})
_FLAG_FALSE = frozenset({"0", "0.0", "false", "no", "n", ""})


def _names_from_object(obj: Any, depth: int = 0) -> Iterator[str]:
    if depth > _MAX_DEPTH:
        return  # not a genre list; recursing on would exhaust the stack (RecursionError)
    if isinstance(obj, str):
        # a list item may be markup too: '<a href="...">Drama</a>'; or a list itself: {"genres": "Action|Drama"}
        yield from (name.strip() for name in _GENRE_SPLIT.split(strip_tags(_unescape(obj))) if name.strip())
    elif isinstance(obj, dict):
        yield from _names_from_dict(obj, depth)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj
        for item in items:
            yield from _names_from_object(item, depth + 1)
    elif isinstance(obj, bool) or is_missing(obj):
        return
    elif isinstance(obj, (int, np.integer)):
        yield str(int(obj))
    elif isinstance(obj, (float, np.floating)):
        yield str(int(obj)) if float(obj).is_integer() else str(obj)
    else:
        yield str(obj)


def _names_from_dict(obj: dict, depth: int = 0) -> Iterator[str]:
    """One genre object (``{"id": 28, "name": "Action"}``), or a map of several genres."""
    by_key = {str(k).strip().lower(): v for k, v in obj.items()}
    for key in _NAME_KEYS:
        if key in by_key and by_key[key] is not None:
            yield from _names_from_object(by_key[key], depth + 1)
            return
    for key, value in by_key.items():  # {"genreName": ...}, {"movie_genre_name": ...}
        if key.endswith("name") and isinstance(value, str):
            yield _unescape(value)
            return
    values = list(obj.values())
    flags = [_flag(v) for v in values]
    if values and None not in flags and not set(_ID_KEYS) & set(by_key):
        # {"Action": true, "Drama": false}, {"Action": 1, "Drama": 0}: the keys are the genres, the flags say which apply.
        yield from (_unescape(str(k)) for k, flag in zip(obj, flags) if flag)
    elif values and all(isinstance(v, str) for v in values) and not {"id", "slug", "url", "type"} & set(by_key):
        # An id -> name map, e.g. CMU's Freebase {"/m/07s9rl0": "Drama", "/m/01z4y": "Comedy"}.
        yield from map(_unescape, values)
    else:  # {"id": 28}, {"genre_ids": [18, 35]}: TMDB ids, named by the vocabulary
        key = next((k for k in (*_ID_KEYS, "slug") if by_key.get(k) is not None), None)
        if key is not None:
            yield from _names_from_object(by_key[key], depth + 1)


def _flag(value: Any) -> bool | None:
    """True or False for a flag of a map of genres (true, 1, 1.0, "yes", "x"; false, 0, "no", ""), else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _FLAG_TRUE else False if text in _FLAG_FALSE else None
    return None


def _dedupe(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        if name.lower() not in NULL_TOKENS:
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
