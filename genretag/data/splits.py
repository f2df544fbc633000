"""Splits: stratified train / validation / test rows, and the keys that tie a split to its data.

A run's ``split.json`` (`genretag.rundir.SPLIT_FILE`) stores row ids with the data file's
`file_fingerprint`; `SynopsisKeys` lets evaluation find a run's training synopses in
another file.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..formats import os_error
from .cells import clean_cell

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


# --------------------------------------------------------------------------- keys

_BLOCK_BYTES = 1 << 20


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


#: How `synopsis_key` normalises a synopsis; ``split.json`` records it beside the keys.
#: 1: whitespace and case only (runs written before 2026-11-30 evening). 2: `_letters`.
#: 3: `_letters` of the text with mojibake repaired and accents folded (runs from stop 22).
#: 4: also literal JSON escapes undone, and a lossy copy's key (`_lossy_letters`) beside the text's.
#: 5: also suffix keys (the last `PREFIX_LETTERS` letters and digits): a copy whose first sentences were dropped, a short
#: synopsis after a title (runs from stop 24).
#: 6: also inner keys (`synopsis_inner_keys`): a copy edited at both ends, its first and last words
#: changed (runs from stop 28).
#: 7: also chunk keys (`synopsis_chunk_key`): a copy with a few letters dropped, added or changed anywhere, a short
#: one edited once, a letter dropped every 60 letters (runs from stop 30).
SYNOPSIS_KEY_METHOD = 7
#: A synopsis whose first this many letters and digits equal a training synopsis's is that
#: synopsis cut short ("...") or with a line added ("(Source: TMDB)"). About 12 words: on the
#: bundled model's 1,614 validation and test rows, no false match against its 7,779 training rows.
PREFIX_LETTERS = 60


#: A training synopsis is found where it starts within this many letters and digits of a text: after a
#: title joined to it, a tagline, a credits line ("Directed by ... Starring ..."), a prompt's "Title: ...
#: Year: ... Plot:" (method 4; method 3 and older: 60, a title).
SCAN_LETTERS = 2000


def _letters(text: str, method: int = SYNOPSIS_KEY_METHOD) -> str:
    """Letters and digits only, case folded, after HTML markup and entities and Unicode forms
    are undone: the same synopsis with curly quotes, ``&#x27;``, ``<p>``, other dashes or
    other spacing is one text. Method 3 also repairs mojibake (UTF-8 read as Windows-1252,
    ``CafÃ©``, also twice) and folds accents (``Café`` = ``Cafe``, ``Łódź`` = ``Lodz``: a copy
    whose accents were stripped). Method 4 also undoes literal JSON escapes (``chef\\u2019s``,
    ``\\n``: a copy taken from a JSON dump as text)."""
    if method >= 4 and isinstance(text, str) and "\\" in text:
        text = _json_unescaped(text)
    if method >= 3 and isinstance(text, str):
        text = _repaired(text)
    text = clean_cell(text, title=True)
    if method >= 3:
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
        text = text.translate(_ASCII_LETTERS)
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|([nrt])|([\"\\/]))")


def _json_unescaped(text: str) -> str:
    """``text`` with literal JSON escapes read: ``\\u2019`` → ``’``, ``\\n`` → a space, ``\\"`` → ``"``."""
    def read(match: re.Match) -> str:
        if match.group(1):
            return chr(int(match.group(1), 16))
        return " " if match.group(2) else match.group(3)

    return _JSON_ESCAPE.sub(read, text)


#: Words a lossy copy may have lost (a non-ASCII letter written "?" or "\ufffd") may be at most this
#: share of a synopsis's words for it to get a lossy key: more (a French synopsis) and the words left
#: are too few to tell one synopsis from another.
LOSSY_SHARE = 0.2
_LOSSY_WORD = re.compile(r"[^\x00-\x7f]|\?|\ufffd")


def _lossy_letters(text: str) -> str | None:
    """`_letters` (method 4) of ``text`` without its words that a lossy copy changes: words with a
    non-ASCII character, "?" or U+FFFD (``Café`` and ``Caf?`` alike); None when there are none, or
    more than `LOSSY_SHARE` of the words."""
    if not isinstance(text, str):
        return None
    words = clean_cell(_repaired(_json_unescaped(text) if "\\" in text else text), title=True).split()
    kept = [w for w in words if not _LOSSY_WORD.search(w)]
    if len(kept) == len(words) or len(words) - len(kept) > LOSSY_SHARE * len(words):
        return None
    return _letters(" ".join(kept), 4)


def _byte_of(ch: str) -> int | None:
    """The byte a character of mojibake stands for: its Windows-1252 byte, or its latin-1 one."""
    try:
        return ch.encode("cp1252")[0]
    except UnicodeEncodeError:
        return ord(ch) if ord(ch) < 0x100 else None


#: UTF-8 bytes read as Windows-1252 or latin-1 (``CafÃ©``, ``â€™``): a lead byte's character
#: (0xC2-0xF4) and one to three continuation bytes' (0x80-0xBF).
_CONTINUATION = "".join(sorted({chr(c) for c in range(0x80, 0xC0)} | {
    bytes([b]).decode("cp1252", errors="ignore") for b in range(0x80, 0xC0)} - {""}))
_MOJIBAKE = re.compile("[\u00c2-\u00f4][" + re.escape(_CONTINUATION) + "]{1,3}")


#: Letters that accents folding leaves as they are, as ASCII exports write them ("Łódź" → "Lodz").
_ASCII_LETTERS = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H",
                                "ı": "i", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "TH",
                                "ð": "d", "Ð": "D", "ß": "ss"})
#: ``í`` as mojibake is ``Ã`` and a soft hyphen, which readers drop as invisible: ``HermÃnia``.
_LOST_SOFT_HYPHEN = re.compile("\u00c3(?=[a-z])")


def _repaired(text: str) -> str:
    """``text`` with its mojibake undone (`_unmangled`), as often as it was made (a file garbled twice)."""
    for _ in range(3):  # first: a soft hyphen (0xAD) in it is a byte of a letter; twice garbled, twice undone
        text, before = _unmangled(text), text
        if text == before:
            break
    return text


def _unmangled(text: str) -> str:
    """``text`` with each run of mojibake that decodes as UTF-8 put back (``CafÃ©`` → ``Café``)."""
    if "\u00c3" in text:
        text = _LOST_SOFT_HYPHEN.sub("\u00ed", text)
    if not _MOJIBAKE.search(text):
        return text

    def fix(match: re.Match) -> str:
        raw = bytes(b for b in map(_byte_of, match.group()) if b is not None)
        for end in range(len(raw), 1, -1):  # the longest UTF-8 character at the start of the run
            try:
                return raw[:end].decode("utf-8") + match.group()[end:]
            except UnicodeDecodeError:
                continue
        return match.group()

    return _MOJIBAKE.sub(fix, text)


def _hash(text: str, digits: int = 16) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:digits]


def synopsis_key(text: str) -> str:
    """A short fingerprint of a synopsis for training-overlap checks (`SYNOPSIS_KEY_METHOD`).

    Only letters and digits count (`_letters`), so the same synopsis re-typed, re-wrapped,
    HTML-escaped or with other quotes gets the same key. Returns 16 hex digits of its SHA-1
    (64 bits: collisions are negligible for catalogues of millions of rows).
    """
    return _hash(_letters(text))


def _synopsis_key_v1(text: str) -> str:
    """`synopsis_key` of method 1, to read the keys of runs written before method 2."""
    return _hash(" ".join(str(text).split()).casefold())


#: A synopsis of fewer letters and digits than this has no suffix key: too short to be told from another's end.
SUFFIX_MIN_LETTERS = 20
#: A text is a whole short synopsis with a title and a source line when it has at most this many other letters.
SHORT_EXTRA_LETTERS = 40


#: Where the inner windows of a synopsis start: centred on a quarter, the middle and three quarters of its
#: letters and digits. A copy edited at both ends ("In this film, ..." before it, "... and more." for its
#: last sentence) keeps one of them whole unless the edits reach that far in; three, not one, so that an
#: edit in the middle too leaves one.
INNER_AT: tuple[float, ...] = (0.25, 0.5, 0.75)
#: Inner windows are looked for in a text's first this many letters and digits: the quarter window of a
#: plot of up to about 30,000, at about 3 ms a 1,000 letters (a TMDB overview has 270).
INNER_SCAN_LETTERS = 8_000


def synopsis_inner_keys(text: str, letters: int = PREFIX_LETTERS) -> list[str]:
    """Keys of the ``letters`` letters and digits around a quarter, the middle and three quarters of a
    synopsis (`INNER_AT`); none for a synopsis of at most ``letters`` (its whole key covers it)."""
    return _inner_keys(_letters(text), letters)


def _inner_keys(kept: str, letters: int = PREFIX_LETTERS) -> list[str]:
    if len(kept) <= letters:
        return []
    starts = (min(max(round(len(kept) * at - letters / 2), 0), len(kept) - letters) for at in INNER_AT)
    return list(dict.fromkeys(_hash(kept[k:k + letters]) for k in starts))


#: Letters and digits of a chunk (`synopsis_chunk_key`). An edit changes the chunk it falls in and no other, so
#: a copy with E letters edited lacks at most E chunks; 7 letters ("aboutth", "eirlive") are seldom in another
#: plot at the right place.
CHUNK_LETTERS = 7
#: Chunks kept of a synopsis: those with the smallest hashes, a sample that periodic edits (a letter dropped
#: every 60) do not line up with, as evenly spaced chunks would.
CHUNKS = 16
#: A synopsis shorter than this has no chunk key (5 chunks): fewer letters tell too little from another's.
CHUNK_MIN_LETTERS = 35
_CHUNK_BITS = 18  # 3 base-64 digits: a text of 8,000 letters holds a given chunk's hash by chance 3% of the time
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_VALUE = {ch: i for i, ch in enumerate(_B64)}
_LENGTH_DIGITS = 2  # the synopsis's letters before its chunks
_LONGEST = 4095  # a length of 2 base-64 digits: this or more


def _gram_hashes(kept: str) -> np.ndarray:
    """The `_CHUNK_BITS`-bit hash of the `CHUNK_LETTERS` letters starting at each position of ``kept``
    (int64, one per start); the same on every machine: a polynomial of code points mixed as splitmix64."""
    n = CHUNK_LETTERS
    codes = np.frombuffer(kept.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    starts = len(codes) - n + 1
    if starts <= 0:
        return np.zeros(0, dtype=np.int64)
    h = np.zeros(starts, dtype=np.uint64)
    with np.errstate(over="ignore"):  # wrapping is the hash
        for j in range(n):
            h = h * np.uint64(1099511628211) + codes[j:j + starts]
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xC4CEB9FE1A85EC53)
        h ^= h >> np.uint64(33)
    return (h >> np.uint64(64 - _CHUNK_BITS)).astype(np.int64)


def _b64(value: int, digits: int) -> str:
    return "".join(_B64[(value >> (6 * k)) & 63] for k in reversed(range(digits)))


def _b64_value(text: str) -> int:
    value = 0
    for ch in text:
        value = value << 6 | _B64_VALUE[ch]
    return value


def synopsis_chunk_key(text: str) -> str | None:
    """The chunk key of a synopsis: its length and a sample of its `CHUNK_LETTERS`-letter chunks, which find it
    again with a few letters edited anywhere (`SynopsisKeys`).

    Its letters and digits (`_letters`) are cut into chunks of `CHUNK_LETTERS` from the start; the `CHUNKS` with
    the smallest hashes are kept (all, for a synopsis of at most 118 letters), in the order they come. Returns 2
    base-64 digits of its length in letters (at most 4,095) then 3 (18 bits) for each chunk kept, as ``split.json``
    stores it: 50 characters for most synopses; None for one of fewer than `CHUNK_MIN_LETTERS` letters and digits.
    """
    return _chunk_key(_letters(text))


def _chunk_key(kept: str) -> str | None:
    if len(kept) < CHUNK_MIN_LETTERS:
        return None
    cells = _gram_hashes(kept)[::CHUNK_LETTERS][:len(kept) // CHUNK_LETTERS].tolist()
    kept_cells = set(sorted(set(cells))[:CHUNKS])
    in_order = [h for h in dict.fromkeys(cells) if h in kept_cells]  # as they come in the synopsis: order is checked
    return _b64(min(len(kept), _LONGEST), _LENGTH_DIGITS) + "".join(_b64(h, 3) for h in in_order)


def _chunks_missed(size: int) -> int:
    """Chunks of a synopsis's ``size`` kept that a copy may lack: one edit each, a third of them, one at least."""
    return max(1, size // 3)


#: Hex digits of a stored key (48 bits): with 20,000 keys, one row in about 10^10 matches by chance.
KEY_DIGITS = 12


@dataclass(frozen=True)
class SynopsisKeys:
    """Keys of the texts of some rows of a run (its training rows): which rows of another
    file the run has seen.

    A row is one of them when its whole text has one of their keys (its synopsis, or title +
    synopsis: a file that joins them in one column), or, for a synopsis of at least
    ``prefix_letters`` letters, when the ``prefix_letters`` letters and digits that start at any of
    its first `SCAN_LETTERS` are a keyed synopsis's first: the same text cut short, with a source
    line added, or after a title, tagline or credits; or (method 5) when ``prefix_letters``
    letters starting there are a keyed synopsis's last, or a short text holds a whole short keyed
    synopsis: the same text with its first sentences dropped (and a line added), a short
    synopsis between a title and a source line; or (method 6) when ``prefix_letters`` letters
    anywhere in its first `INNER_SCAN_LETTERS` are one of a keyed synopsis's inner windows
    (`synopsis_inner_keys`): the same text edited at both ends; or (method 7) when all but a third of a
    keyed synopsis's chunks (`synopsis_chunk_key`, one missed at least) are in its first
    `INNER_SCAN_LETTERS`, in its order and within its length and a quarter: the same text with a few
    letters dropped, added or changed anywhere, a short one edited once, a letter dropped every 60.
    """

    keys: frozenset[str]
    prefixes: frozenset[str] = frozenset()
    suffixes: frozenset[str] = frozenset()
    method: int = SYNOPSIS_KEY_METHOD
    prefix_letters: int = PREFIX_LETTERS
    digits: int = KEY_DIGITS
    inner: frozenset[str] = frozenset()
    chunks: frozenset[str] = frozenset()

    @classmethod
    def of(cls, synopses: Iterable[str], joined: Iterable[str] = ()) -> SynopsisKeys:
        """The keys of ``synopses`` (without titles) and of ``joined`` (title + synopsis) texts."""
        synopses, joined = [t for t in synopses if t], [t for t in joined if t]
        keys, prefixes, suffixes, inner, chunks = set(), set(), set(), set(), set()
        for text in synopses + joined:
            if lossy := _lossy_letters(text):
                keys.add(_hash(lossy)[:KEY_DIGITS])
        for text in joined:
            keys.add(synopsis_key(text)[:KEY_DIGITS])
        for text in synopses:
            kept = _letters(text)  # once: every key of a synopsis is made of it
            keys.add(_hash(kept)[:KEY_DIGITS])
            if len(kept) >= PREFIX_LETTERS:
                prefixes.add(_hash(kept[:PREFIX_LETTERS])[:KEY_DIGITS])
            if len(kept) >= SUFFIX_MIN_LETTERS:
                suffixes.add(_hash(kept[-PREFIX_LETTERS:])[:KEY_DIGITS])
            inner.update(k[:KEY_DIGITS] for k in _inner_keys(kept))
            if chunk := _chunk_key(kept):
                chunks.add(chunk)
        return cls(frozenset(keys), frozenset(prefixes), frozenset(suffixes), inner=frozenset(inner),
                   chunks=frozenset(chunks))

    @classmethod
    def from_json(cls, saved: dict | list) -> SynopsisKeys:
        """Read ``split.json``'s ``train_synopses``: a dict (method 2; keys as lists or one
        space-separated string), or a list of method-1 keys."""
        if isinstance(saved, list):
            return cls(frozenset(saved), frozenset(), method=1, digits=16)

        def keys(value) -> frozenset[str]:
            return frozenset(value.split() if isinstance(value, str) else value or ())

        return cls(keys(saved["keys"]), keys(saved.get("prefixes")), keys(saved.get("suffixes")),
                   method=int(saved["method"]),
                   prefix_letters=int(saved.get("prefix_letters", 100)), digits=int(saved.get("digits", 16)),
                   inner=keys(saved.get("inner")), chunks=keys(saved.get("chunks")))

    def to_json(self) -> dict:
        """What ``split.json`` stores: sorted keys in one string each (compact, and stable)."""
        return {"method": self.method, "prefix_letters": self.prefix_letters, "digits": self.digits,
                "keys": " ".join(sorted(self.keys)), "prefixes": " ".join(sorted(self.prefixes)),
                "suffixes": " ".join(sorted(self.suffixes)), "inner": " ".join(sorted(self.inner)),
                "chunks": " ".join(sorted(self.chunks))}

    def holds(self, text: str) -> bool:
        """Whether ``text`` is one of the texts keyed (see the class)."""
        if self.method == 1:
            return _synopsis_key_v1(text) in self.keys
        letters = _letters(text, self.method)  # once: the whole-text key and every window key are made of it
        if _hash(letters)[:self.digits] in self.keys:
            return True
        if self.method >= 4 and (lossy := _lossy_letters(text)) and _hash(lossy)[:self.digits] in self.keys:
            return True
        n = self.prefix_letters
        # The synopsis may start after other text ("WALL·E — In the distant future …", a tagline, credits):
        # try the prefix from each of the first `SCAN_LETTERS` letters (1.4 ms for 1,500 letters).
        scan = SCAN_LETTERS if self.method >= 4 else 60
        # A window may also be a synopsis's last letters: its first sentences dropped, a line added after it;
        # or one of its inner windows, anywhere: its first and last words edited.
        last = min(max(scan, INNER_SCAN_LETTERS if self.inner else 0), len(letters) - n)
        for k in range(last + 1):
            window = _hash(letters[k:k + n])[:self.digits]
            if window in self.inner or (k <= scan and (window in self.prefixes or window in self.suffixes)):
                return True
        if self.chunks and self._holds_chunks(letters[:INNER_SCAN_LETTERS]):
            return True
        if not self.suffixes:
            return False
        # A short text may be a whole short synopsis (keyed whole) with a title before it and a source line after
        # it: at most `SHORT_EXTRA_LETTERS` other letters, so that a phrase inside another plot is not taken.
        return any(_hash(letters[k:k + size])[:self.digits] in self.suffixes
                   for size in range(max(SUFFIX_MIN_LETTERS, len(letters) - SHORT_EXTRA_LETTERS), min(n, len(letters) + 1))
                   for k in range(len(letters) - size + 1))

    @cached_property
    def _chunk_index(self) -> tuple[dict[int, list[int]], list[tuple[int, list[int], int]]]:
        """``chunks`` read once: chunk hash → synopses that have it, and each synopsis's length, chunk hashes (in
        its order) and how many of them a text must hold."""
        index: dict[int, list[int]] = {}
        synopses = []
        for i, key in enumerate(sorted(self.chunks)):
            cells = [_b64_value(key[k:k + 3]) for k in range(_LENGTH_DIGITS, len(key), 3)]
            synopses.append((_b64_value(key[:_LENGTH_DIGITS]), cells, len(cells) - _chunks_missed(len(cells))))
            for h in set(cells):
                index.setdefault(h, []).append(i)
        return index, synopses

    def _holds_chunks(self, letters: str) -> bool:
        """Whether ``letters`` hold all but `_chunks_missed` chunks of a keyed synopsis in its order, within its
        length and a quarter: the chunks of a copy stay together and in order, those of a plot that shares some
        words with it, or tells the same things in another order, do not."""
        index, synopses = self._chunk_index
        grams = _gram_hashes(letters)
        found: list[int] = []
        for h in np.unique(grams).tolist():
            found.extend(index.get(h, ()))
        for i, count in Counter(found).items():
            length, cells, need = synopses[i]
            span = length + length // 4 if length < _LONGEST else len(grams)
            if count >= need and _chunks_in_order(grams, cells, span) >= need:
                return True
        return False


def _chunks_in_order(grams: np.ndarray, cells: list[int], span: int) -> int:
    """The most of ``cells`` found in ``grams`` (hashes by position) in their order, within ``span`` positions."""
    rank = {h: r for r, h in enumerate(cells)}
    at = sorted((int(p), rank[h]) for h in rank for p in np.flatnonzero(grams == h))
    best = 0
    for first, (start, _) in enumerate(at):
        tails: list[int] = []  # longest rising run of ranks, by patience sorting
        for p, r in at[first:]:
            if p - start > span:
                break
            k = bisect.bisect_left(tails, r)
            tails[k:k + 1] = [r]
        best = max(best, len(tails))
    return best
