"""Catalogue files in and out: CSV dialects, compression, JSON Lines and Parquet.

One reading path for every command: `sniff` recognises a file by its content and its
suffix, `read_table` and `iter_tables` return it as pandas frames, and `TableWriter`
writes the format an output's name asks for. Supported:

- delimited text: ``,`` tab ``;`` ``|`` (detected), any other separator such as
  `` ::: `` (IMDb genre-classification files; detected when every first line has it),
  an Excel ``sep=;`` first line, a block of lines above the table ended by a blank line
  (Letterboxd's list export; kept above a tagged table), and headerless files (`ReadOptions`);
  quotes that are not CSV quoting (IMDb's TSVs: ``"Once upon a time" in the west``,
  ``The "Bad" Guy``) are read and written as characters; only LF and CRLF end a record;
- compression: ``.gz``, ``.bz2``, ``.xz``, and ``.zip`` with one member (read only);
- JSON Lines (``.jsonl``, ``.ndjson``, or a ``.json`` holding one object per line);
- a JSON array of records (``[{"title": ...}, ...]``, pandas' ``orient="records"``; read
  record by record, never whole), written back as one when an output is named ``.json``;
  one JSON object holding its records under a key (``{"name": ..., "movies": [...]}``; read
  whole), written back around the tagged records; a JSON number keeps its text (`JsonNumber`);
- records whose movie is an object inside them (Trakt's ``{"rank": 1, "movie": {"title": ..., "overview":
  ...}}``), when no field of the record itself is a synopsis: that object's fields are read as dotted
  columns too (``movie.overview``), and `tag` writes each record back as it was (`nested_fields`);
- Parquet (``.parquet``, ``.pq``), through pyarrow; a named pandas index is read as a column.

Text is decoded as UTF-8 (with or without BOM), UTF-16 (with a BOM, or ASCII-range without one),
or, for a file that is not UTF-8: a legacy code page of a non-Latin script (Shift-JIS, GBK, Big5,
EUC-KR, Windows-1251/1253/1255/1256 ..., as charset-normalizer judges it; a file with only a few
non-ASCII words, as those words read best: `_few_cells_encoding`), Mac Roman, Windows-1250
or Windows-1254 where the letters inside its words are theirs, else Windows-1252 (else latin-1);
each said. A UTF-8 file with a few stray single-byte characters keeps its UTF-8 cells exactly; only
the invalid bytes are decoded as Windows-1252, and counted in a warning.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import functools
import gzip
import io
import json
import logging
import lzma
import math
import os
import re
import threading
import unicodedata
import warnings
import zipfile
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError

logger = logging.getLogger(__name__)

CSV, JSONL, JSON, PARQUET = "csv", "jsonl", "json", "parquet"
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
"""Suffix → compression; ``zip`` is read, never written."""
_KIND_SUFFIXES = {".parquet": PARQUET, ".pq": PARQUET, ".jsonl": JSONL, ".ndjson": JSONL, ".json": JSON}
_TAB_SUFFIXES = (".tsv", ".tab")
_WRITABLE = "write .csv, .tsv, .jsonl, .json or .parquet (optionally .gz, .bz2 or .xz)"
#: Suffixes of formats genretag reads as something else or not at all, and what to write instead.
UNWRITABLE_SUFFIXES = {
    **dict.fromkeys((".xlsx", ".xls", ".xlsm", ".ods"),
                    f"{_WRITABLE}; spreadsheets open .csv and .tsv files"),
    **dict.fromkeys((".feather", ".arrow", ".orc", ".avro", ".xml", ".html", ".htm", ".pkl", ".pickle", ".h5",
                     ".hdf5", ".sqlite", ".db", ".dta", ".sav"), _WRITABLE),
    **dict.fromkeys((".tar", ".tgz", ".zst", ".zstd", ".7z", ".rar"), _WRITABLE),
}
_DELIMITERS = (",", "\t", ";", "|")
# Multi-character separators found in real files, detected when every sampled line has them
# (and MovieLens' "::", when every line has it as often).
_LONG_SEPARATORS = (" ::: ",)
_SNIFF_BYTES = 1 << 20
_BLOCK_BYTES = 1 << 20
_SAMPLE_LINES = 51
_OPENERS = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
#: The first bytes of each compression genretag reads: a file whose name does not say so is read by them.
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
# Excel's "sep=;" line; LibreOffice re-saves it padded to the header's width ("sep=;;;") or quoted ('"sep=;"').
_EXCEL_SEP = re.compile(r'^\ufeff?"?sep=(.)"?\1*\s*$', re.IGNORECASE)

REPAIR_ERRORS = "genretag-cp1252"
"""Name of the codec error handler that decodes bytes invalid in UTF-8 as Windows-1252."""


# --------------------------------------------------------------------------- options and format


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file where detection cannot know (the ``--sep``, ``--no-header``, ``--columns`` options).

    Raises:
        DataError: An empty separator, ``columns`` without ``header=False`` (or the reverse),
            or repeated column names.
    """

    sep: str | None = None
    """Field separator of a delimited file (one or more characters); None: detect."""
    header: bool = True
    """False when the first row is data, not column names."""
    columns: tuple[str, ...] | None = None
    """Column names of a headerless file, one per field."""

    def __post_init__(self) -> None:
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(str(c).strip() for c in self.columns))
        if self.sep is not None and self.sep == "":
            raise DataError("--sep must not be empty; give the separator, e.g. --sep ';' or --sep ' ::: '")
        if self.sep is not None and self.sep.strip() == "" and self.sep not in ("\t", " "):
            raise DataError(f"--sep {self.sep!r} is only spaces; give the separator, e.g. --sep '\\t'")
        if self.header and self.columns:
            raise DataError("--columns names the columns of a file without a header row; add --no-header")
        if not self.header and not self.columns:
            raise DataError("--no-header needs --columns NAME,NAME,... with one name per field, "
                            "e.g. --columns id,title,genres,overview")
        if self.columns:
            if any(not c for c in self.columns):
                raise DataError("--columns has an empty name; give one name per field, e.g. id,title,genres,overview")
            dupes = sorted(c for c, n in Counter(self.columns).items() if n > 1)
            if dupes:
                raise DataError(f"--columns repeats {', '.join(dupes)}; give each field its own name")

    @classmethod
    def of(cls, config: Any) -> ReadOptions:
        """The options a `genretag.config.TrainConfig` (or anything with ``sep``/``no_header``/``columns``) holds."""
        return cls(sep=getattr(config, "sep", None), header=not getattr(config, "no_header", False),
                   columns=tuple(getattr(config, "columns", None) or ()) or None)


@dataclass(frozen=True)
class FileFormat:
    """What `sniff` found out about a file."""

    kind: str
    """``csv`` (any delimited text), ``jsonl``, ``json`` (an array of records) or ``parquet``."""
    columns: list[str]
    """Column names (from the header, the options, the first JSON objects or the Parquet schema)."""
    compression: str | None = None
    """``gzip``, ``bz2``, ``xz``, ``zip`` or None."""
    member: str | None = None
    """The file read inside a ``.zip``."""
    encoding: str = "utf-8"
    """Text encoding (csv and jsonl)."""
    repair: bool = False
    """Bytes invalid in UTF-8 are decoded as Windows-1252 (a mostly-UTF-8 file)."""
    sep: str = ","
    """Field separator (csv)."""
    header: bool = True
    """The file's first record holds the column names (csv)."""
    skip_lines: int = 0
    """Lines before the header (an Excel ``sep=;`` line, a title line)."""
    title_lines: int = 0
    """Of those, a title above the header ("My watchlist export"): read past, not written back."""
    quoting: bool = True
    """``"`` opens a quoted field (CSV quoting; csv); False: the file's quotes are plain characters
    (IMDb's TSVs, CMU's plot summaries), read as they are."""
    inner_suffix: str = ""
    """Suffix of the data once decompressed: ``.csv`` for ``movies.csv.gz``."""
    newline: str | None = None
    """How its first line ends, ``"\\r\\n"`` or ``"\\n"`` (csv and jsonl); None: unknown."""
    blank_columns: tuple[str, ...] = ()
    """Names given to empty header cells (``Unnamed: 2``, as pandas names them): written back empty (csv)."""
    trailing_sep: bool = False
    """Every data row ends with a separator the header lacks (an empty last field): read without it (csv)."""
    sep_line: bool = False
    """The file starts with Excel's ``sep=X`` line (csv)."""
    preamble: str = ""
    """Lines above the table, ended by a blank line (Letterboxd's list export: a title, the list's own
    header and row), as written: read past, and written back above a tagged table (csv)."""
    bare_cr: bool = False
    """A bare CR is inside a cell of a file whose lines end with LF or CRLF: it ends no record (csv)."""
    decimal: str = "."
    """The decimal mark of its numbers: ``,`` in a file not separated by commas whose numbers are
    all written so (``3,5``: a French or German spreadsheet's export), else ``.`` (csv)."""
    records_key: tuple[str, ...] = ()
    """Where the records are in a file that is one JSON object (json): its key path; () for an array."""
    wrapper: tuple[str, str, str] | None = None
    """That object's text (json): before the first record, between two records, after the last."""
    nested: tuple[str, ...] = ()
    """Keys of the records' objects whose fields are read as dotted columns (json, jsonl): a Trakt export's
    ``{"movie": {"title": ..., "overview": ...}}`` as ``movie.title``, ``movie.overview`` (`nested_fields`)."""


# --------------------------------------------------------------------------- encodings


_repairs = threading.local()


def _repair_handler(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    # cp1252 leaves 5 bytes undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D): latin-1 maps those.
    text = "".join(bytes([b]).decode("cp1252", errors="strict") if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
                   else chr(b) for b in bad)
    counter = getattr(_repairs, "counter", None)
    if counter is not None:
        counter["bytes"] += len(bad)
        if "example" not in counter:
            _repairs.counter = None  # the context is decoded as the file is, without counting it twice
            try:
                before = _whole_characters(exc.object[max(0, exc.start - 24):exc.start], start=exc.start > 24)
                after = _whole_characters(exc.object[exc.end:exc.end + 24], end=True)
                counter["example"] = " ".join((before.decode("utf-8", errors=REPAIR_ERRORS) + text
                                               + after.decode("utf-8", errors=REPAIR_ERRORS)).split())
            finally:
                _repairs.counter = counter
    return text, exc.end


def _whole_characters(data: bytes, *, start: bool = False, end: bool = False) -> bytes:
    """``data`` without the UTF-8 character cut at its ``start`` (continuation bytes) or ``end``
    (a lead byte without all of its continuation bytes)."""
    if start:
        k = 0
        while k < min(3, len(data)) and 0x80 <= data[k] < 0xC0:
            k += 1
        data = data[k:]
    if end:
        for back in range(1, min(4, len(data) + 1)):
            byte = data[-back]
            if byte >= 0xC0:  # a lead byte: 0xC0-0xDF take 2 bytes, 0xE0-0xEF 3, 0xF0- 4
                need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
                return data[:-back] if need > back else data
            if byte < 0x80:
                break
    return data


codecs.register_error(REPAIR_ERRORS, _repair_handler)


def decode_repairing(data: bytes) -> tuple[str, int]:
    """Decode UTF-8 bytes, reading each invalid byte as Windows-1252.

    Returns:
        The text and the number of bytes repaired.
    """
    _repairs.counter = Counter()
    try:
        text = data.decode("utf-8", errors=REPAIR_ERRORS)
        return text, _repairs.counter["bytes"]
    finally:
        _repairs.counter = None


def _detect_encoding(path: Path, fmt: FileFormat, head: bytes) -> tuple[str, bool]:
    """Pick the codec for the whole file, streaming it in blocks: (encoding, repair)."""
    if head.startswith(codecs.BOM_UTF8):
        utf8 = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00 starts both
        return "utf-32", False
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", False
    elif (utf16 := _utf16_without_bom(head)) and _decodes(path, fmt, utf16):
        _warn_once(path, f"%s has no byte-order mark but its zero bytes are UTF-16's: reading it as {utf16.upper()}")
        return utf16, False
    else:
        utf8 = "utf-8"
    if _decodes(path, fmt, utf8):
        return utf8, False
    bad, example, valid = _scan_utf8(path, fmt)
    # Shift-JIS, GBK, EUC-KR or Windows-1251 bytes make a few valid UTF-8 pairs by chance: a
    # file with more invalid bytes than valid characters is asked whether it is one of those.
    legacy = _legacy_encoding(path, fmt) if bad > valid else None
    if valid >= bad and valid:
        # Mostly UTF-8: a cell pasted from a Windows program. Decoding the whole file as
        # cp1252 would garble every correct accented letter, so repair only the bad bytes.
        # (More invalid bytes than valid characters is a legacy file whose bytes made a valid
        # UTF-8 pair or two by chance, as Windows-1252's "É”" does: read in its code page below,
        # so that its output keeps its bytes.)
        _warn_once(path, f"%s: {bad} byte(s) are not valid UTF-8 in an otherwise UTF-8 file; read them as "
                         f"Windows-1252 (first: '{example}'); every other cell is read unchanged")
        return utf8, True
    if legacy is not None:
        encoding, language, note = legacy
        _warn_once(path, f"%s is not UTF-8: its text reads as {language} in {_ENCODING_NAMES.get(encoding, encoding)}; "
                         f"reading it so{note}")
        return encoding, False
    inside = _in_word_bytes(path, fmt)  # read once for the single-byte code pages' tests below
    if _looks_mac_roman(inside):
        _warn_once(path, "%s is not valid UTF-8, and the bytes inside its words are Mac Roman's accented letters "
                         "(an old Mac export, Excel's 'CSV (Macintosh)'): reading it as Mac Roman")
        return "mac_roman", False
    if _looks_cp1250(inside) and _decodes(path, fmt, "cp1250"):
        _warn_once(path, "%s is not valid UTF-8, and the bytes inside its words are Central European letters (ł ą ż "
                         "ś ť ...): reading it as Windows-1250")
        return "cp1250", False
    if _looks_turkish(inside) and _decodes(path, fmt, "cp1254"):
        _warn_once(path, "%s is not valid UTF-8, and its words read as Turkish in Windows-1254 (ş ı ğ İ, which "
                         "Windows-1252 reads as þ ý ð Ý): reading it so")
        return "cp1254", False
    if _decodes(path, fmt, "cp1252"):
        _warn_once(path, "%s is not valid UTF-8; reading it as Windows-1252 (cp1252)")
        return "cp1252", False
    if _looks_cp1250(inside, least=1) and _decodes(path, fmt, "cp1250"):  # a byte Windows-1252 lacks (ť 0x9D, Ť 0x8D, Ź 0x8F) is Central European
        _warn_once(path, "%s is neither UTF-8 nor Windows-1252, and a byte inside its words is a Central European "
                         "letter: reading it as Windows-1250")
        return "cp1250", False
    # latin-1 maps every byte, so it cannot fail; the text may still be partly wrong.
    _warn_once(path, "%s is neither UTF-8 nor Windows-1252; reading it as latin-1")
    return "latin-1", False


_ENCODING_NAMES = {"cp932": "Shift-JIS (cp932)", "shift_jis": "Shift-JIS", "euc_jp": "EUC-JP", "gb18030": "GB18030 (GBK)",
                   "gbk": "GBK", "gb2312": "GB2312", "big5": "Big5", "cp949": "EUC-KR (cp949)", "euc_kr": "EUC-KR",
                   "cp1251": "Windows-1251", "koi8_r": "KOI8-R", "cp1253": "Windows-1253", "cp1255": "Windows-1255",
                   "cp1256": "Windows-1256", "cp874": "Windows-874", "iso8859_5": "ISO-8859-5"}
#: The share of a text's non-ASCII letters that must be of non-Latin scripts for `_legacy_encoding`.
_SCRIPT_SHARE = 0.9
_WORD = re.compile(r"[^\W\d_]+")


def _legacy_encoding(path: Path, fmt: FileFormat) -> tuple[str, str, str] | None:
    """``(codec, language, note)`` for a file in a legacy encoding of a non-Latin script (Shift-JIS,
    GBK, Big5, EUC-KR, Windows-1251 ...), as charset-normalizer judges its first megabyte, when
    the whole file decodes so and at least 90% of its non-ASCII letters are of non-Latin
    scripts; else None (Latin-script files are judged by genretag's own rules: charset-normalizer
    tells Windows-1252 from its many Latin cousins less reliably). A file with few non-ASCII bytes is
    judged by `_few_cells_encoding` instead, whose ``note`` says on what."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a dependency; without it, files are read as before
        return None
    with open_binary(path, fmt) as f:
        sample = f.read(_BLOCK_BYTES)
    if len(sample) - len(sample.translate(None, bytes(range(0x80, 0x100)))) < _FEW_BYTES:
        few = _few_cells_encoding(sample)
        return few if few is None or _decodes(path, fmt, few[0]) else None
    best = from_bytes(sample).best()
    if best is None or best.encoding in ("ascii", "utf_8"):
        return None
    letters = [c for c in str(best) if ord(c) > 127 and c.isalpha()]
    scripts = Counter(unicodedata.name(c, "?").split(" ")[0] for c in letters)  # CJK, HIRAGANA, CYRILLIC ...
    other = len(letters) - scripts["LATIN"]
    if not letters or other < _SCRIPT_SHARE * len(letters):
        return None
    # Its words are of that script: a Western file read as Windows-1251 has Cyrillic letters inside Latin words
    # ("Amйlie"), where a Russian text has whole Cyrillic words.
    words = [w for w in _WORD.findall(str(best)) if not w.isascii()]
    mixed = sum(1 for w in words if re.search("[A-Za-z]", w))
    if mixed > 0.1 * len(words) or not _decodes(path, fmt, best.encoding):
        return None
    encoding = _windows_sibling(best.encoding, sample)
    script = max((n, s) for s, n in scripts.items() if s != "LATIN")[1]
    # The language only where the script tells it (a short Russian text was "Bulgarian"; Cyrillic, Greek and
    # Arabic letters write several languages): Japanese kana, Korean Hangul, Chinese in a Chinese code page.
    if best.language and best.language != "Unknown" and script in ("HIRAGANA", "KATAKANA", "HANGUL", "CJK"):
        return encoding, best.language, ""
    return encoding, script.title() + " script", ""


#: Fewer non-ASCII bytes than this in a file's first megabyte and charset-normalizer's guess is a coin toss
#: (two Big5 titles in an English catalogue read as Windows-1252, two GBK ones as EUC-KR): `_few_cells_encoding`
#: judges such a file by its non-ASCII runs instead.
_FEW_BYTES = 2000
#: Code pages of non-Latin scripts `_few_cells_encoding` tries, most used first (the order breaks ties), and what
#: their text is.
_FEW_CANDIDATES = {"gb18030": "Chinese", "cp932": "Japanese", "big5": "Chinese", "cp949": "Korean", "euc_jp": "Japanese",
                   "cp1251": "Cyrillic script", "koi8_r": "Cyrillic script", "cp1253": "Greek script",
                   "cp1255": "Hebrew script", "cp1256": "Arabic script"}
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
#: Windows-1252's typography, found alone between words (’ “ ” – — … « » ¡ ¿ ° € £ © ® ™ · • × ½, no-break space).
_LATIN_MARKS = frozenset("\u2019\u2018\u201c\u201d\u2013\u2014\u2026\u00ab\u00bb\u00a1\u00bf\u00b0\u20ac\u00a3\u00a9"
                         "\u00ae\u2122\u00b7\u2022\u00d7\u00bd\u00a0\u201e\u201a\u2039\u203a")
#: CJK punctuation and full-width forms: neither evidence for nor against a CJK code page.
_CJK_NEUTRAL = re.compile(r"[\u3000-\u303f\uff01-\uff60\u30fb\u30fc\u2014\u2026\u201c\u201d\u2018\u2019\u00b7]")
#: Syllables that end Korean words (particles: 의 는 은 을 를 이 가 에 로 와 과 도 다 ...), and the most frequent ones.
_KOREAN_ENDINGS = frozenset("의는은을를이가에로와과도다고서한기으년대사시리인스일")
_KANA = re.compile("[\u3041-\u3096\u30a1-\u30fa]")


def _rows_of(codec: str, leads: range, trails: tuple[range, ...]) -> frozenset[str]:
    """The characters of ``codec``'s two-byte codes with those lead and trail bytes."""
    out = set()
    for lead in leads:
        for part in trails:
            for trail in part:
                try:
                    out.add(bytes([lead, trail]).decode(codec))
                except UnicodeDecodeError:
                    pass
    return frozenset(out)


@functools.lru_cache(maxsize=1)
def _common_characters() -> dict[str, frozenset[str]]:
    """Per CJK code page, the characters of its first, common level (GB2312 level 1, Big5's
    common characters, JIS level 1 and kana, the 2,350 Hangul syllables of KS X 1001): a
    legacy text read in its own code page is of these; one read in another is partly rare ones."""
    high = (range(0xA1, 0xFF),)
    kana = frozenset(chr(c) for c in range(0x3041, 0x3097)) | frozenset(chr(c) for c in range(0x30A1, 0x30FB))
    japanese = _rows_of("euc_jp", range(0xB0, 0xD0), high) | kana
    return {"gb18030": _rows_of("gb2312", range(0xB0, 0xD8), high),
            "big5": _rows_of("big5", range(0xA4, 0xC7), (range(0x40, 0x7F), range(0xA1, 0xFF))),
            "cp932": japanese, "euc_jp": japanese,
            "cp949": _rows_of("euc_kr", range(0xB0, 0xC9), high)}


def _run_score(codec: str, run: str, before: str, after: str) -> float | None:
    """How plausible one run of non-ASCII characters is as text of ``codec`` (0-1), None for no
    evidence (CJK punctuation alone); ``before``, ``after``: the characters beside it."""
    common = _common_characters().get(codec)
    if common is not None:
        letters = [c for c in _CJK_NEUTRAL.sub("", run)]
        if not letters:
            return None
        if codec == "cp949" and any(not ("\uac00" <= c <= "\ud7a3") for c in letters):
            return 0.0  # Hangul mixed with Hanja or signs: no modern Korean text
        if codec in ("gb18030", "big5") and any("\u3040" <= c <= "\u30ff" for c in letters):
            return 0.0  # kana: Japanese, not Chinese
        return sum(c in common for c in letters) / len(letters)
    if codec == "cp1252":
        if all(c in _LATIN_MARKS for c in run) and len(run) <= 3:
            return 1.0
        return 1.0 if (run.isalpha() and len(run) <= 2 and (before.isalpha() or after.isalpha() or len(run) == 1)
                       and not any(a.islower() and b.isupper() for a, b in zip(run, run[1:]))) else 0.0
    # one-byte code pages of other scripts: whole words of its letters, in lower, Title or UPPER case
    script = _FEW_CANDIDATES[codec].split()[0].upper()
    letters = [c for c in run if c.isalpha()]
    if not letters or before.isalpha() or after.isalpha() or any(
            not unicodedata.name(c, "").startswith(script) for c in letters):
        return 0.0
    word = "".join(letters)
    return 1.0 if word.islower() or word.isupper() or word.istitle() or len(word) == 1 else 0.0


def _few_cells_encoding(sample: bytes) -> tuple[str, str, str] | None:
    """``(codec, language, note)`` for a file whose few non-ASCII bytes (`_FEW_BYTES`) read best in a code page
    of a non-Latin script (each run of them judged by `_run_score`); None when Windows-1252 reads
    them as well (a Western file). ``note`` names the words it was judged by, and another code page
    that reads them as well, if any (a short Korean word is valid GBK)."""
    def score(codec: str) -> tuple[float, int, list[str]] | None:
        try:
            text = sample.decode(codec)
        except UnicodeDecodeError:
            return None
        runs = list(_NON_ASCII_RUN.finditer(text))
        if not runs:
            return None
        scored = [(m, _run_score(codec, m.group(), text[m.start() - 1:m.start()], text[m.end():m.end() + 1]))
                  for m in runs]
        runs = [m for m, value in scored if value is not None]
        scores = [value for _, value in scored if value is not None]
        if not scores:
            return None
        # Korean words end in particles, which Chinese read as Korean rarely does;
        # Japanese text has kana, which Chinese and Korean text read as Japanese lacks
        if codec == "cp949":
            evidence = sum(m.group()[-1] in _KOREAN_ENDINGS for m in runs)
        elif codec in ("cp932", "euc_jp"):
            evidence = sum(bool(_KANA.search(m.group())) for m in runs)
        else:
            evidence = 0
        return sum(scores) / len(scores), evidence, [m.group() for m in runs]

    latin = score("cp1252")
    found = {codec: s for codec in _FEW_CANDIDATES if (s := score(codec)) is not None and s[0] >= 0.8}
    if not found:
        return None
    ranked = sorted(found, key=lambda c: (-found[c][0], -found[c][1], list(_FEW_CANDIDATES).index(c)))
    codec = ranked[0]
    if latin is not None and latin[0] >= found[codec][0] - 0.2:
        return None
    words = list(dict.fromkeys(found[codec][2]))
    note = (f" (judged by its only {len(words)} non-ASCII word{'s' if len(words) > 1 else ''}: "
            f"{', '.join(repr(w) for w in words[:3])}{', ...' if len(words) > 3 else ''})")
    other = next((c for c in ranked[1:] if found[c][0] == found[codec][0]
                  and _FEW_CANDIDATES[c] != _FEW_CANDIDATES[codec]), None)
    if other is not None:
        note += (f"; {_ENCODING_NAMES.get(other, other)} reads them as {_FEW_CANDIDATES[other]} "
                 f"({', '.join(repr(w) for w in list(dict.fromkeys(found[other][2]))[:3])}): if that is the file's "
                 "text, save the file as UTF-8")
    return codec, _FEW_CANDIDATES[codec], note


#: ISO 8859 code pages and the Windows code page of the same script that spreadsheets write.
_WINDOWS_SIBLINGS = {"iso8859_7": "cp1253", "iso8859_8": "cp1255", "iso8859_6": "cp1256", "iso8859_5": "cp1251",
                     "iso8859_9": "cp1254", "iso8859_2": "cp1250", "cp1125": "cp866"}


def _windows_sibling(encoding: str, sample: bytes) -> str:
    """The Windows (or DOS) code page of ``encoding``'s script when ``sample`` reads as more letters in it: the two
    share most bytes, and charset-normalizer may name the ISO one for a Windows file (``Ά`` read as ``’``)."""
    sibling = _WINDOWS_SIBLINGS.get(encoding)
    if sibling is None:
        return encoding

    def letters(codec: str) -> int:
        try:
            text = sample.decode(codec)
        except UnicodeDecodeError:
            return -1
        return sum(c.isalpha() for c in text if ord(c) > 127)

    return sibling if letters(sibling) > letters(encoding) else encoding


# Non-ASCII bytes after a letter, before a letter or a word's end: an accented letter ("Am\x8elie", "caf\x8e").
_IN_WORD = re.compile(rb"(?<=[A-Za-z])[\x80-\xff]{1,2}(?=[a-z]|[\s.,;:!?])")
# Windows-1252's punctuation that is found inside words: ' " " ' (0x91-0x94), dashes (0x96, 0x97), "..." (0x85).
_CP1252_IN_WORD = frozenset(b"\x85\x91\x92\x93\x94\x96\x97")


def _in_word_bytes(path: Path, fmt: FileFormat, limit: int = 8 * _BLOCK_BYTES) -> list[int]:
    """The non-ASCII bytes inside words (`_IN_WORD`) of a file's first ``limit`` bytes: what tells
    its single-byte code page."""
    with open_binary(path, fmt) as f:
        data = f.read(limit)
    return [byte for run in _IN_WORD.findall(data) for byte in run]


#: Mac Roman's punctuation found inside words: … – — “ ” ‘ ’ (0xC9, 0xD0-0xD5; "father\xd5s"), capitals in Windows-1252,
#: and its ß (0xA7, "gr\x9a\xa7ere"), Windows-1252's §.
_MAC_ROMAN_IN_WORD = frozenset(b"\xa7\xc9\xd0\xd1\xd2\xd3\xd4\xd5")


def _looks_mac_roman(inside: list[int]) -> bool:
    """True for a single-byte file whose bytes inside words (`_in_word_bytes`) are all 0x80-0x9F or Mac
    Roman punctuation (`_MAC_ROMAN_IN_WORD`), at least two of them no Windows-1252 punctuation: Mac Roman's
    lower-case accented letters (é 0x8E, ñ 0x96, ü 0x9F) sit where Windows-1252 has punctuation and Ž,
    while Windows-1252's are 0xE0-0xFF."""
    high = sum(byte >= 0xA0 and byte not in _MAC_ROMAN_IN_WORD for byte in inside)
    low = sum(byte < 0xA0 and byte not in _CP1252_IN_WORD for byte in inside)
    return low >= 2 and high == 0


def _letter_bytes(encoding: str, other: str) -> frozenset[int]:
    """Bytes 0x80-0xFF that are letters in ``encoding`` and not in ``other`` (undefined or a sign there)."""
    def letter(b: int, codec: str) -> bool:
        return bytes([b]).decode(codec, errors="replace").isalpha()
    return frozenset(b for b in range(0x80, 0x100) if letter(b, encoding) and not letter(b, other))


_CP1250_LETTERS = _letter_bytes("cp1250", "cp1252")  # ł 0xB3, ą 0xB9, ż 0xBF, Ł 0xA3, ť 0x9D ... (³ ¹ ¿ £ in cp1252)
_CP1252_LETTERS = _letter_bytes("cp1252", "cp1250")


def _looks_cp1250(inside: list[int], least: int = 2) -> bool:
    """True for a single-byte file with at least ``least`` bytes inside its words (`_in_word_bytes`) that
    are letters in Windows-1250 (Central European: Polish, Czech, Slovak, Hungarian ...) but signs or
    nothing in Windows-1252, and none the other way round."""
    central = sum(byte in _CP1250_LETTERS for byte in inside)
    western = sum(byte in _CP1252_LETTERS for byte in inside)
    return central >= least and western == 0


#: Bytes that are Turkish letters in Windows-1254 (ğ Ğ İ ı ş Ş) and Icelandic ones in Windows-1252 (ð Ð Ý ý þ Þ).
_TURKISH_BYTES = frozenset(b"\xf0\xd0\xdd\xfd\xfe\xde")
#: Icelandic's other letters (á é í ó ú æ and capitals), which Turkish does not write.
_ICELANDIC_BYTES = frozenset(b"\xe1\xe9\xed\xf3\xfa\xe6\xc1\xc9\xcd\xd3\xda\xc6")


def _looks_turkish(inside: list[int]) -> bool:
    """True for a single-byte file with at least two of `_TURKISH_BYTES` inside its words (`_in_word_bytes`)
    and none of `_ICELANDIC_BYTES` there (an Icelandic Windows-1252 file writes both)."""
    turkish = sum(byte in _TURKISH_BYTES for byte in inside)
    return turkish >= 2 and not any(byte in _ICELANDIC_BYTES for byte in inside)


def _utf16_without_bom(head: bytes) -> str | None:
    """"utf-16-le" / "utf-16-be" for UTF-16 text without a BOM, as some exporters write it, else None.

    Its ASCII characters (header, spaces, digits, line ends) have a zero byte on one side of each
    pair: every other byte in English, at least a tenth of them in Cyrillic or Arabic text, whose
    letters' high bytes (0x04, 0x06) are not zero. UTF-8 text has no zero bytes (a stray NUL or two)."""
    sample = head[:4096]
    sample = sample[:len(sample) // 2 * 2]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if odd >= 0.1 * half and even <= 0.01 * half:
        return "utf-16-le"
    if even >= 0.1 * half and odd <= 0.01 * half:
        return "utf-16-be"
    return None


def _decodes(path: Path, fmt: FileFormat, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open_binary(path, fmt) as f:
            while block := f.read(_BLOCK_BYTES):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _scan_utf8(path: Path, fmt: FileFormat) -> tuple[int, str, int]:
    """Bytes invalid in UTF-8, the first one in context, and valid multi-byte characters."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors=REPAIR_ERRORS)
    _repairs.counter = Counter()
    non_ascii = odd = 0
    try:
        with open_binary(path, fmt) as f:
            while True:
                block = f.read(_BLOCK_BYTES)
                text = decoder.decode(block, final=not block)
                non_ascii += len(text) - len(text.encode("ascii", errors="ignore"))
                odd += len(_CHANCE_UTF8.findall(text))
                if not block:
                    break
        counter = _repairs.counter
    finally:
        _repairs.counter = None
    # Each repaired byte became one non-ASCII character (or a control character below 0x80:
    # never, cp1252 maps 0x80-0xFF above ASCII); what is left was valid UTF-8, less the
    # characters that legacy bytes make by chance.
    return counter["bytes"], counter.get("example", ""), max(0, non_ascii - counter["bytes"] - odd)


#: Characters that two bytes of a legacy encoding (Big5, EUC-KR, Windows-1252's "É”") make as valid
#: UTF-8 by chance, and catalogues almost never hold: IPA letters and modifiers, Syriac to NKo.
_CHANCE_UTF8 = re.compile("[\u0250-\u02ff\u0700-\u07ff]")


_warned: set[tuple] = set()


def _warn_once(path: Path, message: str) -> None:
    """Log a warning once per version of a file (a command may sniff it twice); ``message`` names the file
    by its first ``%s`` and may quote the file's text (a "%" in it is text, not a format)."""
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns, message)
    except OSError:
        key = (str(path), message)
    if key not in _warned:
        _warned.add(key)
        logger.warning("%s", message.replace("%s", str(path), 1))


# --------------------------------------------------------------------------- sniffing


def split_suffix(path: str | Path) -> tuple[str, str | None]:
    """``movies.csv.gz`` → ``(".csv", "gzip")``; ``movies.tsv`` → ``(".tsv", None)`` (lower-case)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), compression


def open_binary(path: str | Path, fmt: FileFormat):
    """Open the (decompressed) bytes of a file as `sniff` found it."""
    if fmt.compression == "zip":
        archive = zipfile.ZipFile(path)
        try:
            return _ZipMember(archive, archive.open(fmt.member))
        except BaseException:
            archive.close()
            raise
    return _OPENERS.get(fmt.compression, open)(path, "rb")


class _ZipMember(io.BufferedIOBase):
    """A member stream that closes its archive with it."""

    def __init__(self, archive: zipfile.ZipFile, stream):
        self._archive, self._stream = archive, stream

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def read1(self, size: int = -1) -> bytes:
        return self._stream.read1(size)

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
            self._archive.close()
        super().close()


def open_text(path: str | Path, fmt: FileFormat, *, lines: bool = False) -> io.TextIOWrapper:
    """Open a csv or jsonl file as text, decoded as `sniff` decided (newlines untranslated).

    ``lines``: iterating it gives the file's records line by line, each ended by ``\n`` only (a
    bare CR or U+2028 inside a synopsis stays in its line), or by CR in a file without any LF
    (an old Mac file).
    """
    errors = REPAIR_ERRORS if fmt.repair else "strict"
    newline = "\n" if lines and fmt.newline is not None else ""
    return io.TextIOWrapper(open_binary(path, fmt), encoding=fmt.encoding, errors=errors, newline=newline)


def _physical_lines(text: str) -> list[str]:
    """``text`` split into its lines as files end them: at ``\n`` (a CRLF's CR dropped), or at CR in
    a text without any LF (an old Mac file). Unlike `str.splitlines`, the line separators of Unicode
    (U+2028, U+0085, ``\x0b``, ``\x1c`` ...) and a bare CR inside a synopsis stay in their line."""
    if "\n" not in text:
        return text.split("\r") if "\r" in text else [text]
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _zip_member(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()
                     and not i.filename.startswith("__MACOSX/") and not Path(i.filename).name.startswith(".")]
    except zipfile.BadZipFile:
        raise DataError(f"{path} is not a readable zip archive (damaged or cut off?); test it with unzip -t") from None
    if len(names) != 1:
        listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise DataError(f"{path} holds {len(names)} files ({listed or 'none'}); genretag reads a zip with one file: "
                        "unzip it and pass the file you mean")
    return names[0]


def sniff(path: str | Path, options: ReadOptions | None = None) -> FileFormat:
    """Check a file and find its format, encoding, separator and column names.

    Args:
        path: The file.
        options: What the user said about it (separator, header); detected otherwise.

    Returns:
        The `FileFormat`.

    Raises:
        DataError: Missing, a folder, empty, unreadable, a zip of several files, duplicate
            column names, or ``--columns`` of the wrong length.
    """
    path = Path(path)
    options = options or ReadOptions()
    if not path.exists():
        raise DataError(f"file not found: {path}; check the path")
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a CSV file; pass the path of a file")
    suffix, compression = split_suffix(path)
    member = None
    if compression == "zip":
        member = _zip_member(path)
        suffix, inner = split_suffix(member)
        if inner:
            raise DataError(f"{path} holds {member}, itself compressed; unpack it and pass the file inside")
    base = FileFormat(kind=CSV, columns=[], compression=compression, member=member, inner_suffix=suffix)
    head = _head(path, base)
    hidden = next((c for magic, c in _MAGIC.items() if head.startswith(magic)), None) if compression is None else None
    if hidden:  # "title.basics.tsv.gz" saved as ".tsv": read as what it is, and said
        _warn_once(path, f"%s is {hidden}-compressed though its name does not say so; reading it decompressed")
        base = FileFormat(**{**base.__dict__, "compression": hidden})
        head = _head(path, base)
    elif compression is None and head.startswith(b"PK\x03\x04") and b"xl/" not in head and b"mimetype" not in head[:80]:
        member = _zip_member(path)  # a zip of several files is refused here, saying which
        inner_suffix, inner = split_suffix(member)
        if not inner and (inner_suffix in _KIND_SUFFIXES or inner_suffix in _TAB_SUFFIXES
                          or inner_suffix in (".csv", ".txt")):  # a one-file zip saved under the file's own name
            _warn_once(path, f"%s is a zip archive holding {member}, though its name does not say so; reading that file")
            suffix, base = inner_suffix, FileFormat(**{**base.__dict__, "compression": "zip", "member": member,
                                                        "inner_suffix": inner_suffix})
            head = _head(path, base)
    if not head.strip():
        raise DataError(f"{path} is empty; expected a header row and data rows")
    _refuse_binary_document(path, head)

    kind = _KIND_SUFFIXES.get(suffix)
    if kind == JSON:  # the content decides: a ".json" file is as often JSON Lines
        kind = None
    probe = _as_utf8(head)  # JSON is recognised by its first characters, in any encoding
    shape = _json_shape(path, probe)
    if shape is not None:
        kind = shape
    if kind is None and head.startswith(b"PAR1"):
        kind = PARQUET
    if kind is None and _starts_with_json_object(probe):
        kind = JSONL
    if kind in (JSONL, JSON, _DOCUMENT, PARQUET) and (options.sep is not None or not options.header):
        what = {JSONL: "JSON Lines", JSON: "a JSON array", _DOCUMENT: "JSON", PARQUET: "Parquet"}[kind]
        given = "--sep" if options.sep is not None else "--no-header/--columns"
        raise DataError(f"{given} is for delimited text; {path} is {what}, whose fields are named: leave {given} out "
                        "(choose columns with --text-col and --genres-col)")
    if kind == PARQUET:
        return _sniff_parquet(path, base)
    try:
        encoding, repair = _detect_encoding(path, base, head)
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as e:
        raise os_error(path, e) from e
    base = FileFormat(**{**base.__dict__, "encoding": encoding, "repair": repair})
    truncated = len(head) == _SNIFF_BYTES
    errors = REPAIR_ERRORS if repair else "replace"
    text = codecs.getincrementaldecoder(encoding)(errors=errors).decode(head, final=not truncated)
    base = FileFormat(**{**base.__dict__, "newline": _line_ending(text)})
    if kind == JSONL:
        return _sniff_jsonl(path, base, text, truncated)
    if kind == JSON:
        return _sniff_json_array(path, base)
    if kind == _DOCUMENT:
        return _sniff_json_document(path, base)
    return _sniff_delimited(path, base, text, truncated, options)


def _head(path: Path, fmt: FileFormat) -> bytes:
    """The first `_SNIFF_BYTES` of the file's (decompressed) bytes."""
    try:
        with open_binary(path, fmt) as f:
            return f.read(_SNIFF_BYTES)
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as e:
        raise os_error(path, e) from e


_SAVE_AS_CSV = ("genretag reads CSV/TSV, JSON Lines and Parquet: save the sheet as CSV (Excel: File > Save As > "
                "CSV UTF-8) and pass that file")


def _refuse_binary_document(path: Path, head: bytes) -> None:
    """A workbook (or any zip) under a text name would be read as garbled text: say what it is.
    Known by its first bytes, not its suffix: an ".xls" export that is really tab-separated
    text is read as text."""
    if head.startswith(b"PK\x03\x04"):
        what = "an Excel workbook" if b"xl/" in head[:_SNIFF_BYTES] else "a zip archive (a spreadsheet?)"
        raise DataError(f"{path} is {what}, not text; {_SAVE_AS_CSV}")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise DataError(f"{path} is an Excel 97-2003 workbook (.xls), not text; {_SAVE_AS_CSV}")
    if head[257:262] == b"ustar":  # CMU's MovieSummaries.tar.gz
        raise DataError(f"{path} is a tar archive, not one file; unpack it (tar xf {path.name}) and pass the file "
                        "inside")
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        raise DataError(f"{path} is zstd-compressed, which genretag does not read; unpack it (unzstd {path.name}) "
                        "or compress it with gzip")


_TO_JSONL = "write one movie per line (JSON Lines; pandas: df.to_json('movies.jsonl', orient='records', lines=True))"


def _as_utf8(head: bytes) -> bytes:
    """The first bytes of a file as UTF-8 where a byte-order mark says they are UTF-16 (else as they are)."""
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, errors="ignore").encode("utf-8")
    return head


_DOCUMENT = "document"
"""What `_json_shape` calls a file that is one JSON object holding its records under a key (`_sniff_json_document`)."""


def _json_shape(path: Path, head: bytes) -> str | None:
    """`JSON` for a JSON array of records, `_DOCUMENT` for one JSON object (pretty-printed, or alone on
    its line with a list of movies inside), else None. A whole-file JSON document of another shape
    (pandas' default object of columns) is not a table of movies: say so, rather than read it as one
    row or as a header without rows."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if re.match(rb"\[\s*(\{|\])", text):
        return JSON
    first = text.split(b"\n", 1)[0]
    if not first.startswith(b"{"):
        return None
    try:
        value = json.loads(first.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):  # RecursionError: nested too deeply; _json_object says so
        return _DOCUMENT if first.strip() == b"{" else None  # an object pretty-printed over several lines
    # A movie has a synopsis string; an object of only lists or maps is a table stored by column
    # (pandas' orients "columns" and "index": maps, "split": lists), unless more objects follow
    # on the next lines: JSON Lines whose movies hold nested objects, or pages of an API's answers.
    if re.search(rb"\n\s*\{", text) is not None or not isinstance(value, dict):
        _refuse_api_page(path, value)
        return None
    if _holds_movies(value) or (_API_PAGE_KEYS & set(value) and _record_lists(value)):
        return _DOCUMENT
    if value and all(isinstance(v, (dict, list)) for v in value.values()):
        raise DataError(f"{path} holds one JSON object of columns (pandas' to_json default), not one movie per "
                        f"line; {_TO_JSONL}")
    return None


def _record_lists(value: dict, keys: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], list]]:
    """The lists of objects (records) in a JSON object and the objects inside it, with their key paths;
    not those inside records (a movie's cast)."""
    found = []
    for key, item in value.items():
        if isinstance(item, list) and item and all(isinstance(r, dict) for r in item):
            found.append(((*keys, str(key)), item))
        elif isinstance(item, dict) and len(keys) < 8:
            found.extend(_record_lists(item, (*keys, str(key))))
    return found


def _holds_movies(value: dict) -> bool:
    """Whether a JSON object alone in its file holds movies under a key rather than being one movie (whose
    cast or genres are lists of objects too): the records of one of its lists have a longer text (a synopsis,
    of 6 words at least) than any of its own (a list's name or description; a movie's synopsis)."""
    own = max(5, _most_words(value.values()))
    return any(_most_words(v for r in records[:20] for v in r.values()) > own for _, records in _record_lists(value))


def _most_words(values) -> int:
    return max((len(v.split()) for v in values if isinstance(v, str)), default=0)


def _key_path(keys: tuple[str, ...]) -> str:
    """A key path as jq writes it: ``.data.movies``, ``.["my movies"]``."""
    return "".join(f".{k}" if re.fullmatch(r"[A-Za-z_]\w*", k) else f'.["{k}"]' for k in keys)


def _sniff_json_document(path: Path, base: FileFormat) -> FileFormat:
    """A file that is one JSON object: its records are read from the one list of records in it
    (``{"name": "My list", "movies": [...]}``, ``{"data": {"movies": [...]}}``), and its text around
    that list is kept (`FileFormat.wrapper`) for a ``.json`` output. The file is read whole.

    Raises:
        DataError: Not valid JSON, no list of records or several (naming them), an API page.
    """
    with open_text(path, base) as fh:
        text = fh.read()
    try:
        document = _loads(text)
    except RecursionError:
        raise DataError(f"cannot parse {path}: it nests brackets too deeply to be a list of movies") from None
    except ValueError as e:
        raise DataError(f"{path} is one JSON document over several lines, not JSON Lines, and not valid JSON "
                        f"({getattr(e, 'msg', _one_line(e))} at line {getattr(e, 'lineno', '?')}); {_TO_JSONL}") from None
    lists = _record_lists(document) if isinstance(document, dict) else []  # one API page: its 'results
    name = Path(path).name
    if len(lists) > 1:
        shown = ", ".join(f"'{_key_path(k)[1:]}' ({len(r)})" for k, r in lists[:6]) + (", ..." if len(lists) > 6 else "")
        raise DataError(f"{path} is one JSON object holding {len(lists)} lists of records: {shown}; genretag reads "
                        f"one list: list its records one per line first, e.g. jq -c '{_key_path(lists[0][0])}[]' "
                        f"{name} > movies.jsonl")
    if not lists:
        raise DataError(f"{path} is one JSON document over several lines, not JSON Lines; {_TO_JSONL}")
    keys, records = lists[0]
    start, end = _value_span(text, keys)
    inner = text[start + 1:end - 1]
    lead, trail = inner[:len(inner) - len(inner.lstrip())], inner[len(inner.rstrip()):]
    columns: dict[str, None] = {}
    for record in records[:_SAMPLE_LINES]:
        columns.update(dict.fromkeys(str(k) for k in record))
    if not columns:
        raise DataError(f"{path}: the records under the key '{_key_path(keys)[1:]}' have no keys; expected one "
                        "object per movie with named fields")
    _warn_once(path, f"%s is one JSON object: read its {len(records)} record{'s' * (len(records) != 1)} from the key '{_key_path(keys)[1:]}' "
                     "(a .json output keeps the object around them)")
    nested, dotted = _nested_objects(path, records[:_SAMPLE_LINES], list(columns))
    return FileFormat(**{**base.__dict__, "kind": JSON, "columns": [*columns, *dotted], "records_key": keys,
                         "wrapper": (text[:start + 1] + lead, "," + (lead or " "), trail + text[end - 1:]),
                         "nested": nested})


def _nested_objects(path: Path, records: list[dict], columns: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The keys of the records' objects read as dotted columns, and those columns: when no field of the
    records is a synopsis (by its name, `genretag.data.names.TEXT_COLUMN_CANDIDATES`) and an object in
    them has one (Trakt's ``{"rank": 1, "type": "movie", "movie": {"title": ..., "overview": ...}}``,
    other APIs' ``"show"``, ``"film"``, ``"media"``). Said in one line."""
    from .data.names import TEXT_COLUMN_CANDIDATES, name_candidates as _candidates  # its package imports this module

    if _candidates(columns, TEXT_COLUMN_CANDIDATES):
        return (), []
    fields: dict[str, dict[str, None]] = {}
    for record in records:
        for key, value in record.items():
            if isinstance(value, dict) and "." not in str(key):
                fields.setdefault(str(key), {}).update(dict.fromkeys(str(k) for k in value))
    nested = tuple(key for key, names in fields.items() if _candidates(list(names), TEXT_COLUMN_CANDIDATES))
    taken = set(columns)
    dotted = {key: [f"{key}.{name}" for name in fields[key] if f"{key}.{name}" not in taken] for key in nested}
    if nested:
        _warn_once(path, "%s: read the fields of each record's " + "; of its ".join(
            f"'{key}' object: {', '.join(dotted[key])}" for key in nested))
    return nested, [name for key in nested for name in dotted[key]]


def nested_fields(columns, fmt: FileFormat) -> list[str]:
    """Of ``columns``, those read from the records' objects (`FileFormat.nested`), which the records
    themselves do not have: left out of a tagged output, which keeps each object as it was."""
    prefixes = tuple(f"{key}." for key in fmt.nested)
    return [c for c in columns if prefixes and str(c).startswith(prefixes)]


def _value_span(text: str, keys: tuple[str, ...]) -> tuple[int, int]:
    """Where the value at the key path ``keys`` of the JSON object ``text`` starts and ends."""
    decoder = json.JSONDecoder()

    def space(pos: int) -> int:
        return _JSON_SPACE.match(text, pos).end()

    pos = space(0)
    for key in keys:
        pos += 1  # the object's "{"
        while True:
            name, pos = decoder.raw_decode(text, space(pos))
            pos = space(space(pos) + 1)  # past the ":"
            if name == key:
                break
            _, pos = decoder.raw_decode(text, pos)
            pos = space(pos) + 1  # past the ","
    _, end = decoder.raw_decode(text, pos)
    return pos, end


_API_PAGE_KEYS = frozenset({"page", "total_pages", "total_results", "next"})


def _refuse_api_page(path: Path, value) -> None:
    """Pages of an API's search saved one per line (TMDB's ``{"page": 1, "results": [movies], "total_pages": ...}``)
    hold their movies one level down: say where, and how to list them one per line. (A file of one page is one
    JSON object holding its records under a key: read from there, `_sniff_json_document`.)"""
    if not isinstance(value, dict) or not _API_PAGE_KEYS & set(value):
        return
    for key, records in value.items():
        if isinstance(records, list) and records and all(isinstance(r, dict) for r in records[:20]):
            raise DataError(f"{path} holds API response pages: the movies are in each page's '{key}' list, not one "
                            f"per line; list them one per line first, e.g. jq -c '.{key}[]' {Path(path).name} > "
                            "movies.jsonl")


def _starts_with_json_object(head: bytes) -> bool:
    """The first line is a JSON object (a JSON Lines file under another suffix; PowerShell writes a BOM).
    A first line longer than the sniffed bytes is taken for one when it opens as an object does."""
    first = head.removeprefix(codecs.BOM_UTF8).lstrip().split(b"\n", 1)[0]
    if not first.startswith(b"{"):
        return False
    if len(head) == _SNIFF_BYTES and b"\n" not in head.lstrip():
        return re.match(rb'\{\s*"', first) is not None
    try:
        return isinstance(json.loads(first.decode("utf-8", errors="replace")), dict)
    except (ValueError, RecursionError):
        return False


def _sniff_parquet(path: Path, base: FileFormat) -> FileFormat:
    if base.compression:
        raise DataError(f"{path} is a compressed Parquet file; decompress it first (Parquet compresses its own data)")
    pq = _pyarrow_parquet()
    try:
        schema = pq.read_schema(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ...
        raise DataError(f"cannot read {path} as Parquet: {_one_line(e)}; check the file") from None
    columns = _parquet_columns(schema)
    _check_unique(path, columns)
    return FileFormat(**{**base.__dict__, "kind": PARQUET, "columns": columns})


def _sniff_jsonl(path: Path, base: FileFormat, text: str, truncated: bool) -> FileFormat:
    lines = _physical_lines(text)
    if truncated and len(lines) > 1:
        lines = lines[:-1]
    alone = not truncated and sum(bool(line.strip()) for line in lines) == 1
    if truncated and len(lines) == 1:  # a first line longer than the sniffed bytes (a very long synopsis): read it whole
        with open_text(path, base, lines=True) as fh:
            lines = [fh.readline()]
            alone = not any(line.strip() for line in fh)
    columns: dict[str, None] = {}
    sample = []
    for number, line in enumerate(lines[:_SAMPLE_LINES], start=1):
        if line.strip():
            value = _json_object(path, line, number)
            if alone and _holds_movies(value):
                return _sniff_json_document(path, base)  # one object, longer than the bytes `_json_shape` saw
            columns.update(dict.fromkeys(str(k) for k in value))
            sample.append(value)
    if not columns:
        raise DataError(f"{path} holds JSON objects without keys; expected one movie per line with named fields")
    nested, dotted = _nested_objects(path, sample, list(columns))
    return FileFormat(**{**base.__dict__, "kind": JSONL, "columns": [*columns, *dotted], "nested": nested})


_JSON_BLOCK = 1 << 20
_JSON_SPACE = re.compile(r"[ \t\r\n]*")


class JsonNumber(float):
    """A JSON number whose text a float would not write back the same ("1E5", "7.10", ``NaN``,
    ``Infinity``): a float for every computation, written back as its text (JSON, CSV) so that an
    untouched value stays as the input wrote it, and a ``NaN`` the input holds is not taken for a
    missing key."""

    __slots__ = ("text",)

    def __init__(self, text: str):  # float.__new__ reads the number from the text
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __reduce__(self):
        return JsonNumber, (self.text,)


def _json_float(text: str) -> float:
    number = float(text)
    return number if repr(number) == text else JsonNumber(text)


_JSON_DECODER = json.JSONDecoder(parse_float=_json_float, parse_constant=JsonNumber)


#: JSON nested deeper than this is no movie: refused as too deep (RecursionError) whatever the interpreter's
#: recursion limit (a library may raise it: torch's inductor sets 2000), so every reader says the same.
MAX_JSON_DEPTH = 200


def _loads(text: str):
    """``json.loads`` keeping the text of numbers a float would write otherwise (`JsonNumber`).

    Raises:
        RecursionError: Nested deeper than `MAX_JSON_DEPTH`.
        ValueError: Not JSON.
    """
    return _shallow(_JSON_DECODER.decode(text), text)


def _shallow(value, text: str):
    """``value``, parsed from ``text``, unless nested deeper than `MAX_JSON_DEPTH` (RecursionError); looked at
    only when ``text`` has that many brackets, walked without recursion."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return value
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise RecursionError(f"JSON nested deeper than {MAX_JSON_DEPTH}")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return value


def _json_array_records(path: Path, fmt: FileFormat) -> Iterator[dict]:
    """The records of a JSON array file, one at a time (the file is read in blocks, never whole).

    Raises:
        DataError: Not an array, an element that is not an object, or invalid JSON (its record number).
    """
    if fmt.records_key:  # one JSON object holding them (`_sniff_json_document`), read whole
        with open_text(path, fmt) as fh:
            records = _loads(fh.read())
        for key in fmt.records_key:
            records = records[key]
        yield from records
        return
    decoder = _JSON_DECODER
    with open_text(path, fmt) as fh:
        buf, pos, ended = fh.read(_JSON_BLOCK).lstrip("\ufeff"), 0, False

        def more() -> bool:
            nonlocal buf, pos, ended
            block = "" if ended else fh.read(_JSON_BLOCK)
            ended = not block
            buf, pos = buf[pos:] + block, 0
            return not ended

        def skip_space() -> str:
            nonlocal pos
            while True:
                pos = _JSON_SPACE.match(buf, pos).end()
                if pos < len(buf) or not more():
                    return buf[pos:pos + 1]

        if skip_space() != "[":
            raise DataError(f"cannot parse {path}: not a JSON array of records")
        pos += 1
        number = 0
        while True:
            char = skip_space()
            if char == "]":
                pos += 1
                if skip_space():
                    raise DataError(f"cannot parse {path}: text after the JSON array's closing ']'")
                return
            if number:
                if char != ",":
                    raise DataError(f"cannot parse {path}: record {number + 1} of the JSON array does not follow a "
                                    f"',' (found {char!r}{' (the file ends early)' if not char else ''})")
                pos += 1
                skip_space()
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                    _shallow(value, buf[pos:end])
                    break
                except RecursionError:
                    raise DataError(f"cannot parse {path}: record {number + 1} nests brackets too deeply to be a "
                                    "movie") from None
                except ValueError as e:
                    if not more():  # the whole rest of the file is there, and it is not JSON
                        raise DataError(f"cannot parse {path}: record {number + 1} of the JSON array is not valid "
                                        f"JSON ({getattr(e, 'msg', _one_line(e))})") from None
            number += 1
            if not isinstance(value, dict):
                raise DataError(f"cannot parse {path}: record {number} of the JSON array is a JSON "
                                f"{type(value).__name__}, not an object; expected one object per movie")
            pos = end
            yield value


def _sniff_json_array(path: Path, base: FileFormat) -> FileFormat:
    columns: dict[str, None] = {}
    records = _json_array_records(path, base)
    sample = [record for _, record in zip(range(_SAMPLE_LINES), records)]
    records.close()
    for record in sample:
        columns.update(dict.fromkeys(str(k) for k in record))
    if not columns:
        raise DataError(f"{path} is a JSON array without records (or records without keys); expected one object "
                        "per movie with named fields")
    nested, dotted = _nested_objects(path, sample, list(columns))
    return FileFormat(**{**base.__dict__, "kind": JSON, "columns": [*columns, *dotted], "nested": nested})


def _json_array_chunks(path: Path, fmt: FileFormat, chunksize: int) -> Iterator[pd.DataFrame]:
    records: list[dict] = []
    known = list(fmt.columns)
    for record in _json_array_records(path, fmt):
        records.append(record)
        if len(records) >= chunksize:
            yield _records_frame(records, known, fmt.nested)
            records = []
    if records:
        yield _records_frame(records, known, fmt.nested)


def _json_object(path: Path, line: str, number: int) -> dict:
    try:
        value = _loads(line)
    except RecursionError:
        raise DataError(f"cannot parse {path}: line {number} nests brackets too deeply to be a movie; "
                        "expected one JSON object per line") from None
    except ValueError as e:
        hint = " (a JSON array: write one object per line, JSON Lines)" if line.lstrip().startswith("[") else ""
        raise DataError(f"cannot parse {path}: line {number} is not valid JSON ({_one_line(e)}){hint}; "
                        "expected one JSON object per line") from None
    if not isinstance(value, dict):
        raise DataError(f"cannot parse {path}: line {number} holds a JSON {type(value).__name__}, not an object; "
                        "expected one JSON object per line")
    return value


_BARE_CR = re.compile(r"\r(?=[^\n])")
#: At most this many records above a table, ended by a blank line, are a preamble (`_preamble`).
_PREAMBLE_RECORDS = 10


def _sniff_delimited(path: Path, base: FileFormat, text: str, truncated: bool, options: ReadOptions) -> FileFormat:
    skip = 0
    sep = options.sep
    # Only LF and CRLF end records: a bare CR inside a cell (text pasted from an old Mac program) is
    # read as part of it (`_delimited_chunks`); here it is a space, so that csv.reader splits no record at it.
    bare_cr = "\n" in text and _BARE_CR.search(text) is not None
    raw = text
    if bare_cr:
        text = _BARE_CR.sub(" ", text)
    first_line = text.split("\n", 1)[0].rstrip("\r")
    excel = _EXCEL_SEP.match(first_line)
    if excel:  # Excel writes "sep=;" as the first line of a CSV for other locales
        skip = 1
        cut = text.find("\n") + 1 if "\n" in text else len(text)
        text, raw = text[cut:], raw[cut:]
        if sep is None:
            sep = excel.group(1)
    if sep is None and base.inner_suffix in _TAB_SUFFIXES:
        sep = "\t"
    preamble, records = "", 0
    if options.header and (found := _preamble(text, sep, truncated)):
        end, records = found
        preamble, text, raw = raw[:end], text[end:], raw[end:]
        lines = preamble.count("\n")
        _warn_once(path, f"%s: lines {skip + 1}-{skip + lines} ({_shorten(preamble.split(chr(10))[0].strip(), 40)} "
                         f"...) are a block above the table, ended by a blank line; reading the table from line "
                         f"{skip + lines + 1} (a delimited output keeps those lines above the tagged table)")
    if sep is None:
        sep = _detect_long_separator(text, truncated) or _detect_delimiter(text, truncated)
    skip += records if len(sep) == 1 else preamble.count("\n")  # a long separator has no quoting: lines
    quoting = True
    if len(sep) == 1 and (evidence := _literal_quotes(text, sep, truncated)):
        quoting = False
        line, field = evidence
        _warn_once(path, f"%s: its quotes are not CSV quoting (line {line + skip}: {_shorten(field)}); "
                         f'reading every " as a character')
    elif sep == "\t" and (evidence := _inner_quotes(text, truncated)):
        quoting = False
        line, field = evidence
        _warn_once(path, f"%s: its quotes are inside fields, never around one (line {line + skip}: "
                         f"{_shorten(field)}): tab-separated without CSV quoting, as IMDb's files are; reading "
                         'every " as a character')
    header = _first_record(text, sep, quoting)
    title_lines = 0
    if options.header and sum(bool(c.strip()) for c in header) == 1 and "\n" in text:
        second = _records(text, sep, limit=2, quoting=quoting)[1:]
        title = next(c for c in header if c.strip())
        names = second[0] if second else []
        if sum(bool(c.strip()) for c in names) >= 2 and looks_like_header(names) and "\n" not in title:
            _warn_once(path, f"%s: line {skip + 1} ({_shorten(title, 60)}) is a title above the header; reading the "
                             f"header from line {skip + 2} (the title line is not written to outputs)")
            text, skip, title_lines = text.split("\n", 1)[1], skip + 1, 1
            header = _first_record(text, sep, quoting)
    if not header:
        raise DataError(f"{path} is empty; expected a header row and data rows")
    blank: tuple[str, ...] = ()
    trailing = False
    header_row = options.header
    if header_row and (layout := _imdb_layout(header, sep)):
        header_row = False
        _warn_once(path, f"%s: no header row (its first line is a movie: '{header[0].strip()}' is a number); reading "
                         f"its {len(layout)} ' ::: ' fields as IMDb's genre-classification layout: {', '.join(layout)} "
                         "(pass --no-header --columns to name them otherwise)")
        options = ReadOptions(sep=options.sep, header=False, columns=layout)
    if header_row:
        # Names are kept as written ("Genre " stays "Genre "): the output's header is the file's own.
        # Matching a name (`genretag.data.columns`) ignores case and surrounding spaces.
        columns = [c.lstrip("\ufeff") for c in header]
        if sum(not c.strip() for c in columns) > 1:  # a spreadsheet's trailing empty cells "a,b,,", named as pandas
            blank = tuple(f"Unnamed: {i}" for i, c in enumerate(columns) if not c.strip())
            columns = [c if c.strip() else f"Unnamed: {i}" for i, c in enumerate(columns)]
        _check_unique(path, columns)
        trailing = len(sep) == 1 and _check_first_rows(path, text, sep, quoting, truncated, len(header),
                                                       given=options.sep is not None)
    else:
        columns = list(options.columns)
        if looks_like_header(header):
            _warn_once(path, f"%s: its first row ({_shorten(', '.join(header), 60)}) looks like a header, and "
                             "--no-header reads it as a movie; leave --no-header out if the file has a header row")
        # Split on a long separator, the last field takes the rest of the line (see _split_chunks): a synopsis may
        # hold the separator, but when every line has more fields than names, a name is missing.
        lines = [line for line in _physical_lines(text)[:_SAMPLE_LINES] if line.strip()]
        fewest = min((line.count(sep) + 1 for line in lines), default=len(header)) if len(sep) > 1 else len(header)
        if len(header) != len(columns) and not (len(sep) > 1 and len(columns) < len(header) and fewest <= len(columns)):
            found = _detect_long_separator(text, truncated) or _detect_delimiter(text, truncated)
            hint = (", or pass --sep" if options.sep is None else
                    f", or the file looks {found!r}-separated: pass --sep {found!r}" if found != sep else "")
            raise DataError(f"--columns gives {len(columns)} names but the first row of {path} has {len(header)} "
                            f"fields (separator {sep!r}); give one name per field{hint}")
    return FileFormat(**{**base.__dict__, "kind": CSV, "columns": columns, "sep": sep, "header": header_row,
                         "skip_lines": skip, "title_lines": title_lines, "quoting": quoting, "blank_columns": blank,
                         "trailing_sep": options.header and trailing, "sep_line": excel is not None,
                         "preamble": preamble, "bare_cr": bare_cr and len(sep) == 1,
                         "decimal": _decimal_mark(text, sep, quoting, columns if header_row else None),
                         "newline": _record_ending(text, sep, quoting) or base.newline})


_COMMA_NUMBER = re.compile(r"[-+]?\d+,\d+")
_DOT_NUMBER = re.compile(r"[-+]?\d+\.\d+")


def _decimal_mark(text: str, sep: str, quoting: bool, columns: list[str] | None) -> str:
    """``,`` when a file not separated by commas writes its decimal numbers with a comma (``3,5``)
    and none with a point, in the sampled rows; else ``.`` (see `FileFormat.decimal`)."""
    if sep == ",":
        return "."
    rows = _records(text, sep, _SAMPLE_LINES, quoting)[1 if columns is not None else 0:]
    cells = [c.strip() for row in rows for c in row]
    comma = sum(1 for c in cells if _COMMA_NUMBER.fullmatch(c))
    dot = sum(1 for c in cells if _DOT_NUMBER.fullmatch(c))
    return "," if comma and not dot else "."


#: IMDb's genre-classification files (Kaggle "Genre Classification Dataset IMDb": ``train_data.txt``,
#: ``test_data.txt``, ``test_data_solution.txt``) have no header row: ``id ::: title ::: genre ::: description``,
#: the test file without the genre.
_IMDB_LAYOUTS = {4: ["id", "title", "genres", "overview"], 3: ["id", "title", "overview"]}


def _imdb_layout(first: list[str], sep: str) -> list[str] | None:
    """The column names of a header-less IMDb `` ::: `` file whose first record is ``first``, or None.

    Only when the first field is a number and the last reads as a sentence: a file with a header
    row of its own (``id ::: title ::: genre ::: description``) keeps it.
    """
    if sep != " ::: " or len(first) not in _IMDB_LAYOUTS:
        return None
    cells = [c.strip() for c in first]
    if not re.fullmatch(r"\d+", cells[0]) or len(cells[-1].split()) < 4:
        return None
    return list(_IMDB_LAYOUTS[len(cells)])


def _preamble(text: str, sep: str | None, truncated: bool) -> tuple[int, int] | None:
    """A short block of lines above the table, ended by a blank line: Letterboxd's list export (a title
    line, then the list's own header and row), a report's title and date above a wider table. Returns
    where the table starts in ``text`` and the CSV records before it (blank lines too), or None.

    The line after the blank one must look like a header (`looks_like_header`) with a row below it, and
    not every line of the block may be as wide as the table: a table split by a blank line is no preamble.
    """
    buffer = io.StringIO(text, newline="")
    reader = csv.reader(buffer, delimiter=sep if sep and len(sep) == 1 else ",")
    widths: list[int] = []
    end = None
    try:
        for row in reader:
            if not row:
                if not widths:
                    return None  # a blank first line: pandas skips it
                end = buffer.tell()
                break
            widths.append(len(row))
            if len(widths) > _PREAMBLE_RECORDS:
                return None
    except csv.Error:
        return None
    if end is None:
        return None
    records = len(widths) + 1
    while text.startswith(("\n", "\r\n"), end):  # more blank lines
        end, records = text.index("\n", end) + 1, records + 1
    table = text[end:]
    if sep is None:
        sep = _detect_long_separator(table, truncated) or _detect_delimiter(table, truncated)
    rows = _records(table, sep, limit=2)
    if len(rows) < 2 or len(rows[0]) < 2 or not looks_like_header(rows[0]):
        return None
    if len(sep) > 1:
        widths = [len(line.split(sep)) for line in _physical_lines(text[:end]) if line.strip()]
    elif sep != ",":
        widths = [len(r) for r in _records(text[:end], sep, limit=_PREAMBLE_RECORDS + 1)]
    if all(w == len(rows[0]) for w in widths):
        return None
    return end, records


def _record_ending(text: str, sep: str, quoting: bool) -> str | None:
    """How the first record (the header) of delimited ``text`` ends, ``"\r\n"`` or ``"\n"``: a line
    break inside a quoted header cell is not its end (Excel writes LF inside cells of a CRLF file)."""
    if not quoting or len(sep) > 1 or '"' not in text.split("\n", 1)[0]:
        return _line_ending(text)
    buffer = io.StringIO(text, newline="")
    try:
        next(csv.reader(buffer, delimiter=sep))
    except (csv.Error, StopIteration):
        return _line_ending(text)
    record = text[:buffer.tell()]
    return "\r\n" if record.endswith("\r\n") else "\n" if record.endswith("\n") else None


def _inner_quotes(text: str, truncated: bool) -> tuple[int, str] | None:
    """Where a tab-separated sample holds a ``"`` though no field starts with one: (line, field), else None.

    IMDb's TSVs quote nothing (``The "Bad" Guy``); read with CSV quoting such a cell is right, but it would
    be written back quoted (``"The ""Bad"" Guy"``). A field that starts with a quote is CSV quoting (or
    the cases of `_literal_quotes`): then None.
    """
    if '"' not in text:
        return None
    if truncated:
        text = text[: text.rfind("\n") + 1] or text
    evidence = None
    for number, line in enumerate(_physical_lines(text), start=1):
        for field in line.split("\t"):
            if field.startswith('"'):
                return None
            if evidence is None and '"' in field:
                evidence = (number, field)
    return evidence


def _check_first_rows(path: Path, text: str, sep: str, quoting: bool, truncated: bool, width: int, *,
                      given: bool = False) -> bool:
    """Refuse a first data row wider than the header: pandas would take its first fields for an index
    and shift the rest under the wrong names (an unquoted comma in a synopsis). Every row one wider is
    R's ``write.table`` (row names without a header cell), which pandas reads right, or, when that
    last field is empty in every row, rows ending with a separator: True then (read without it)."""
    rows = _records(text, sep, _SAMPLE_LINES, quoting)[1:]
    if truncated and len(rows) > 1:
        rows = rows[:-1]  # may be cut off
    if not rows or len(rows[0]) <= width:
        return False
    if all(len(r) == width + 1 for r in rows):
        return all(not r[-1].strip() for r in rows)
    if len(rows[0]) == width + 1 and not rows[0][-1].strip():  # rows ending with a separator, and one that is off
        odd = next(i for i, r in enumerate(rows) if len(r) != width + 1)
        raise DataError(f"cannot parse {path}: its rows end with a separator ({width + 1} fields, the last empty) "
                        f"but row {odd + 2} has {len(rows[odd])} fields separated by {sep!r}; quote fields that hold "
                        f"{sep!r} (\"a, b\"), or pass --sep")
    if given:  # --sep was passed: name the separator the file seems to have instead
        found = _detect_long_separator(text, truncated) or _detect_delimiter(text, truncated)
        hint = (f"the file looks {found!r}-separated: pass --sep {found!r} or leave --sep out" if found != sep
                else f"quote fields that hold {sep!r}")
        raise DataError(f"cannot parse {path}: with --sep {sep!r} its first data row has {len(rows[0])} fields and "
                        f"the header {width}; {hint}")
    raise DataError(f"cannot parse {path}: its first data row has {len(rows[0])} fields separated by {sep!r} and "
                    f"the header {width}; quote fields that hold {sep!r} (\"a, b\"), or pass --sep")


#: Words of the column names of movie files: a first row of short cells holding one looks like a header.
_HEADER_WORDS = frozenset("""id title name movie film overview synopsis plot description summary genre genres
year tconst imdb tmdb storyline story text tags categories category""".split())


def looks_like_header(cells: list[str]) -> bool:
    """True for a row of short, non-numeric cells, one of them a column name of movie files
    ("Movie title", "plot_summary", "genres")."""
    cleaned = [c.strip().lstrip("\ufeff") for c in cells]
    if not cleaned or any(not c or len(c.split()) > 3 or c.replace(".", "", 1).isdigit() for c in cleaned):
        return False
    return any(w in _HEADER_WORDS for c in cleaned for w in re.split(r"[\s_\-]+", c.lower()))


def _check_unique(path: Path, columns: list[str]) -> None:
    dupes = sorted(c for c, n in Counter(columns).items() if n > 1)
    if dupes:
        # pandas would silently rename them to "x.1"; a user means one column per name.
        raise DataError(f"{path} has duplicate column names: {', '.join(dupes)}; rename them so each is unique")


def _records(text: str, sep: str, limit: int, quoting: bool = True) -> list[list[str]]:
    if len(sep) > 1:
        return [line.split(sep) for line in _physical_lines(text) if line.strip()][:limit]
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep,
                              quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE):
            if row:
                rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:  # a truncated quoted field at the end of the sample
        pass
    return rows


def _first_record(text: str, sep: str, quoting: bool = True) -> list[str]:
    rows = _records(text, sep, limit=1, quoting=quoting)
    return rows[0] if rows else []


_QUOTED_FIELD = re.compile(r'"(?:[^"]|"")*"\s*', re.DOTALL)


def _literal_quotes(text: str, sep: str, truncated: bool) -> tuple[int, str] | None:
    """Where the double quotes of a sample are plain characters, not CSV quoting: (line, field), or None.

    Files written without CSV quoting (IMDb's TSVs, CMU's plot summaries) hold synopses like
    ``"Once upon a time" in the west``; read with CSV quoting, such a quote is dropped or
    swallows the rows up to the next one. They are told apart from CSV by three checks, all
    needed: a strict CSV parse fails (or gives rows of other widths), every line split
    without quoting has the header's width, and a field starts with a quote it does not close.
    A CSV file whose quoted fields hold separators or newlines fails the second check.
    """
    if '"' not in text:
        return None
    if truncated:  # complete lines only; a quoted field cut at the end proves nothing
        text = text[: text.rfind("\n") + 1] or text
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    widths, start = set(), 1
    try:
        for row in reader:
            if row:
                widths.add(len(row))
            start = reader.line_num + 1
        broken = len(widths) > 1
    except csv.Error as e:
        # A field still open where the sample is cut may be a long quoted synopsis; one open
        # over more lines than a synopsis ever has is a stray quote.
        open_at_cut = truncated and "end of data" in str(e)
        broken = not open_at_cut or text.count("\n") - start > _SAMPLE_LINES
    if not broken:
        return None
    evidence = None
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=csv.QUOTE_NONE)
        width = None
        for row in reader:
            if not row:
                continue
            width = width or len(row)
            if len(row) != width:
                return None
            if evidence is None:
                field = next((f for f in row if f.startswith('"') and not _QUOTED_FIELD.fullmatch(f)), None)
                if field is not None:
                    evidence = (reader.line_num, field)
    except csv.Error:
        return None
    return evidence


def _detect_long_separator(text: str, truncated: bool) -> str | None:
    """A multi-character separator that every sampled line holds, or None.

    Only known ones are tried (`` ::: ``), so ordinary text is never split on a guess.
    """
    lines = [line for line in _physical_lines(text) if line.strip()][:_SAMPLE_LINES]
    if truncated and len(lines) > 1:
        lines = lines[:-1]
    for sep in _LONG_SEPARATORS:
        # Every line, not an equal count: a synopsis may itself hold the separator.
        if lines and all(sep in line for line in lines):
            return sep
    # MovieLens' .dat files ("1::Toy Story (1995)::Animation|Comedy"): "::" as often on every line.
    counts = {line.count("::") for line in lines}
    if len(lines) > 1 and len(counts) == 1 and counts != {0} and ":::" not in text:
        return "::"
    return None


def _detect_delimiter(text: str, truncated: bool) -> str:
    """Choose the delimiter that splits the header widest with consistent rows after it.

    csv.Sniffer guesses badly on synopses full of commas and quotes; counting fields per
    record over the first rows is simpler and sees quoted newlines correctly. A first line
    with no delimiter at all above rows that have one (a title line above the header, as a
    spreadsheet exports it) is judged by the rows below it.
    """
    best, key = _widest_delimiter(text, truncated)
    if key == (False, 1) and "\n" in text:
        first, below = text.split("\n", 1)
        if not any(sep in first for sep in _DELIMITERS):
            under, under_key = _widest_delimiter(below, truncated)
            # Consistent rows of two or more fields, headed by names: not a one-column file's own rows.
            if under_key[0] and looks_like_header(_first_record(below, under, True)):
                return under
    return best


def _widest_delimiter(text: str, truncated: bool) -> tuple[str, tuple[bool, int]]:
    """``(delimiter, (rows consistent, header width))`` of the widest consistent split; ``(",", (False, 1))``
    when no delimiter splits the first record."""
    best, best_key = ",", (False, 1)
    for sep in _DELIMITERS:
        rows = _records(text, sep, limit=_SAMPLE_LINES)
        if truncated and len(rows) > 1:
            rows = rows[:-1]  # the last record may be cut off
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = all(len(r) == width for r in rows[1:])
        if not consistent and '"' in text:  # quotes that are not CSV quoting (`_literal_quotes`)
            plain = _records(text, sep, limit=_SAMPLE_LINES, quoting=False)
            plain = plain[:-1] if truncated and len(plain) > 1 else plain
            consistent = len(plain[0]) == width and all(len(r) == width for r in plain[1:])
        key = (consistent, width)
        if key > best_key:  # ties keep the earlier, more common delimiter
            best, best_key = sep, key
    return best, best_key


# --------------------------------------------------------------------------- reading


def read_table(path: str | Path, options: ReadOptions | None = None, *, nrows: int | None = None,
               fmt: FileFormat | None = None) -> pd.DataFrame:
    """Read a whole catalogue file (any format `sniff` knows).

    Delimited text comes back with every column as ``str`` and empty cells as ""; JSON
    Lines and Parquet keep their values' types (a number stays a number, a list a list).

    Args:
        path: The file.
        options: Separator and header, when detection cannot know.
        nrows: Read at most this many data rows (0 reads only the column names).
        fmt: The file's `sniff` result, when already known.

    Returns:
        The data, indexed by data-row number (0 = the first data row).

    Raises:
        DataError: As `sniff`; also a header without rows, and rows that cannot be parsed.
    """
    fmt = fmt or sniff(path, options)
    if nrows == 0:
        return pd.DataFrame(columns=fmt.columns, dtype=object)
    chunks = []
    left = nrows
    tables = iter_tables(path, options, chunksize=100_000 if nrows is None else max(1, min(nrows, 100_000)), fmt=fmt)
    with contextlib.closing(tables):  # stopped early: its messages are said now, not at garbage collection
        for chunk in tables:
            if left is not None:
                chunk = chunk.iloc[:left]
                left -= len(chunk)
            chunks.append(chunk)
            if left is not None and left <= 0:
                break
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks)


def iter_tables(path: str | Path, options: ReadOptions | None = None, *, chunksize: int = 10_000,
                fmt: FileFormat | None = None) -> Iterator[pd.DataFrame]:
    """Yield a catalogue file as frames of at most ``chunksize`` rows (memory stays bounded).

    Each chunk's index continues the data-row numbering. Types are as in `read_table`. Rows
    of a delimited file that repeat its header (files joined with ``cat``) are left out, and
    said in one warning when the reading ends.

    Args:
        path: The file.
        options: Separator and header, when detection cannot know.
        chunksize: Largest number of rows per chunk.
        fmt: The file's `sniff` result, when already known.

    Raises:
        DataError: As `read_table`, also when a later chunk cannot be parsed, or when a
            row repeats the header with its columns in another order.
    """
    if chunksize < 1:
        raise ValueError(f"chunksize must be >= 1, got {chunksize}")
    path = Path(path)
    fmt = fmt or sniff(path, options)
    reader = {CSV: _delimited_chunks, JSONL: _jsonl_chunks, JSON: _json_array_chunks, PARQUET: _parquet_chunks}[fmt.kind]
    repeats = _HeaderRepeats(path, fmt) if fmt.kind == CSV and fmt.header else None
    start = 0
    try:
        for chunk in reader(path, fmt, chunksize):
            if repeats is not None:
                chunk = repeats.drop(chunk, records_before=start + repeats.count)
            if chunk.empty:
                continue
            chunk.index = pd.RangeIndex(start, start + len(chunk))
            start += len(chunk)
            yield chunk
    except (pd.errors.ParserError, csv.Error, UnicodeError, ValueError) as e:
        raise parse_error(path, e) from e
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as e:
        raise os_error(path, e) from e
    finally:
        if repeats is not None:
            repeats.report()
    if start == 0:
        raise DataError(f"{path} has a header but no data rows; add rows below the header")


def _delimited_chunks(path: Path, fmt: FileFormat, chunksize: int) -> Iterator[pd.DataFrame]:
    if len(fmt.sep) > 1:
        yield from _split_chunks(path, fmt, chunksize)
        return
    # na_filter=False keeps every cell a str: "" for empty, and a synopsis that reads
    # "NA" or "null" is not silently turned into NaN.
    options: dict[str, Any] = {"sep": fmt.sep, "dtype": str, "na_filter": False, "engine": "c",
                               "skiprows": fmt.skip_lines, "chunksize": chunksize,
                               "quoting": csv.QUOTE_MINIMAL if fmt.quoting else csv.QUOTE_NONE}
    if not fmt.header:
        options.update(header=None, names=list(fmt.columns))
    if fmt.trailing_sep:  # "a,b,c," under "x,y,z": the empty last field is no column (pandas: no index)
        options["index_col"] = False
    if fmt.bare_cr:  # pandas ends a record at a bare CR too: only LF may (a CRLF's CR is cut by _without_crs)
        options["lineterminator"] = "\n"
    crlf = fmt.bare_cr and fmt.newline == "\r\n"

    def tidy(chunk: pd.DataFrame) -> pd.DataFrame:
        return _name_columns(_without_eof_mark(_without_crs(chunk) if crlf else chunk), fmt)

    short = None if fmt.trailing_sep else _ShortRecords(path, fmt)
    try:
        with _lost_field_unsaid() if fmt.trailing_sep else contextlib.nullcontext():
            if fmt.repair or fmt.compression == "zip":
                with open_text(path, fmt) as fh, pd.read_csv(fh, **options) as reader:
                    chunks = (tidy(chunk) for chunk in reader)
                    yield from short.mend(chunks) if short else chunks
            else:  # pandas decodes (and decompresses) faster by itself
                with pd.read_csv(path, encoding=fmt.encoding, compression=fmt.compression, **options) as reader:
                    chunks = (tidy(chunk) for chunk in reader)
                    yield from short.mend(chunks) if short else chunks
    finally:
        if short is not None:
            short.close()


class _ShortRecords:
    """Records of a delimited file with fewer fields than its header. pandas pads them with empty
    cells at the end, so without a word their cells land in other columns (Kaggle's
    ``movies_metadata.csv``: three records broken over two lines, their production companies read
    as genres).

    A record broken by a line break inside an unquoted field is two short records between full
    ones whose fields add up to the header's plus one, the first ending in prose (the field the
    break cut): they are joined into one record (the break kept in the field), said. Other short
    records are read as pandas pads them, said with their lines; so are all of a chunk whose short
    rows are many (another layout, not broken records). The fields of each record are counted by
    Python's csv module over the same text, in step with pandas' rows, and a row is changed only
    when its cells are the record's; where the two readings disagree the check stops (said).
    """

    EXAMPLES = 3
    PROSE_WORDS = 4  # the cut field of a broken record is a synopsis-like text
    MANY = 0.05  # share of a chunk's rows: more short rows than this are a layout of their own

    def __init__(self, path: Path, fmt: FileFormat):
        self.path, self.width = path, len(fmt.columns)
        self.fh = open_text(path, fmt)
        quoting = csv.QUOTE_MINIMAL if fmt.quoting else csv.QUOTE_NONE
        self.records = csv.reader(self.fh, delimiter=fmt.sep, quoting=quoting)
        self.aligned = True
        self.joined: list[int] = []  # last lines of the records joined' first parts
        self.padded: list[int] = []  # lines of the other short records
        for _ in range(fmt.skip_lines + bool(fmt.header)):
            next(self.records, None)

    def close(self) -> None:
        self.fh.close()
        self.report()

    def _next(self, n: int) -> list[tuple[list[str], int]] | None:
        """``(fields, last line)`` of the next ``n`` records that pandas reads as rows, or None."""
        out = []
        while len(out) < n:
            record = next(self.records, None)
            if record is None:
                return None
            if record and not (len(record) == 1 and not record[0].strip()):  # pandas skips blank lines
                out.append((record, self.records.line_num))
        return out

    @staticmethod
    def _same(cells: list, record: list[str]) -> bool:
        """True when a row's cells are ``record``'s fields (padded with empty cells); CRs aside."""
        cells = ["" if c is None else str(c).replace("\r", "") for c in cells]
        fields = [f.replace("\r", "") for f in record]
        return cells[: len(fields)] == fields and not any(cells[len(fields):])

    def _lost(self) -> None:
        if self.aligned:
            logger.debug("%s: field counts out of step with pandas' rows; short records not checked", self.path)
        self.aligned = False

    def mend(self, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """``chunks`` with broken records joined and short ones counted (see the class)."""
        held: tuple[pd.DataFrame, list, bool] | None = None  # a chunk's last short rows, which the next may continue
        for chunk in chunks:
            records = self._next(len(chunk)) if self.aligned else None
            if records is None or (len(chunk) and not self._same(chunk.iloc[-1].tolist(), records[-1][0])):
                self._lost()
                if held is not None:
                    yield held[0]
                    held = None
                yield chunk
                continue
            after_short = False  # the row before the chunk's first was short
            if held is not None:
                chunk, records, after_short = pd.concat([held[0], chunk]), [*held[1], *records], held[2]
                held = None
            tail = 0
            while tail < min(2, len(records)) and len(records[-1 - tail][0]) < self.width:
                tail += 1
            if tail:
                before = len(records) > tail and len(records[-1 - tail][0]) < self.width
                held = (chunk.iloc[-tail:], records[-tail:], before or (len(records) == tail and after_short))
                chunk, records = chunk.iloc[:-tail], records[:-tail]
            yield self._join(chunk, records, after_short)
        if held is not None:
            yield self._join(*held)

    def _join(self, chunk: pd.DataFrame, records: list[tuple[list[str], int]], after_short: bool = False
              ) -> pd.DataFrame:
        short = [i for i, (record, _) in enumerate(records) if len(record) < self.width]
        if not short:
            return chunk
        many = len(short) > max(2, self.MANY * len(records))
        chunk, drop, done = chunk.copy(), [], set()
        for i in short:
            if i in done:
                continue
            first, line = records[i]
            pair = not many and i + 1 < len(records) and len(records[i + 1][0]) < self.width and \
                len(first) + len(records[i + 1][0]) == self.width + 1 and \
                (not after_short if i == 0 else len(records[i - 1][0]) >= self.width) and \
                (i + 2 >= len(records) or len(records[i + 2][0]) >= self.width) and \
                len(first[-1].split()) >= self.PROSE_WORDS
            if pair and self._same(chunk.iloc[i].tolist(), first) and \
                    self._same(chunk.iloc[i + 1].tolist(), records[i + 1][0]):
                second = chunk.iloc[i + 1].tolist()[: len(records[i + 1][0])]
                second[-1] = str(second[-1]).removesuffix("\r")  # a CRLF line's CR, as pandas' last cell loses it
                chunk.iloc[i] = [*chunk.iloc[i].tolist()[: len(first) - 1],
                                 f"{chunk.iat[i, len(first) - 1]}\n{second[0]}", *second[1:]]
                drop.append(i + 1)
                done.add(i + 1)
                self.joined.append(line)
                continue
            last = chunk.iat[i, len(first) - 1]
            if isinstance(last, str) and last.endswith("\r"):  # a CRLF line's CR, as pandas' last cell loses it
                chunk.iat[i, len(first) - 1] = last[:-1]
            self.padded.append(line)
        return chunk.drop(index=chunk.index[drop]) if drop else chunk

    def report(self) -> None:
        """Say what was joined and what was padded (once per file version)."""
        width = self.width
        if self.joined:
            lines = ", ".join(f"{n}-{n + 1}" for n in self.joined[: self.EXAMPLES])
            more = ", ..." if len(self.joined) > self.EXAMPLES else ""
            _warn_once(self.path, f"%s: {len(self.joined)} record(s) broken over two lines by a line break inside an "
                                  f"unquoted field (lines {lines}{more}); each read as one record of the header's "
                                  f"{width} fields, the break kept in the field")
        if self.padded:
            more = ", ..." if len(self.padded) > self.EXAMPLES else ""
            lines = ", ".join(map(str, self.padded[: self.EXAMPLES])) + more
            _warn_once(self.path, f"%s: {len(self.padded)} row(s) have fewer fields than the header's {width} (line "
                                  f"{lines}): read with the missing cells empty at the end; if a field is missing "
                                  "inside a row, its cells are in the wrong columns: fix those lines")


def _without_crs(chunk: pd.DataFrame) -> pd.DataFrame:
    """A chunk of a CRLF file read with LF as the only record end: without the CR each record's last cell
    then ends with, nor the rows that were blank lines (a lone CR)."""
    first = chunk.iloc[:, 0]
    blank = (first == "\r") & (chunk.iloc[:, 1:] == "").all(axis=1)
    chunk = chunk.copy()
    chunk.iloc[:, -1] = chunk.iloc[:, -1].str.removesuffix("\r")
    return chunk[~blank.to_numpy()]


@contextlib.contextmanager
def _lost_field_unsaid():
    """pandas' index_col=False warns of "a loss of data": the field lost is the empty one after the last separator."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Length of header or names does not match", pd.errors.ParserWarning)
        yield


def _without_eof_mark(chunk: pd.DataFrame) -> pd.DataFrame:
    """``chunk`` less a last row that is only DOS's end-of-file mark (Ctrl-Z, 0x1A), as old Windows tools end a file."""
    if len(chunk) and str(chunk.iat[-1, 0]).strip() == "\x1a" and not "".join(map(str, chunk.iloc[-1, 1:])).strip():
        return chunk.iloc[:-1]
    return chunk


def _split_chunks(path: Path, fmt: FileFormat, chunksize: int) -> Iterator[pd.DataFrame]:
    """Lines split on a multi-character separator (no quoting, as in the files that use one).

    The last field takes the rest of the line, so a synopsis that itself holds the
    separator stays whole.
    """
    width = len(fmt.columns)
    rows: list[list[str]] = []
    header_pending = fmt.header
    with open_text(path, fmt, lines=True) as fh:
        for number, line in enumerate(fh, start=1):
            if number <= fmt.skip_lines:
                continue
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if header_pending:
                header_pending = False
                continue
            fields = line.split(fmt.sep, width - 1)
            if len(fields) < width:
                raise DataError(f"cannot parse {path}: line {number} has {len(fields)} fields separated by "
                                f"{fmt.sep!r}, expected {width}; check the separator")
            rows.append([f.strip() for f in fields])
            if len(rows) >= chunksize:
                yield pd.DataFrame(rows, columns=fmt.columns, dtype=object)
                rows = []
    if rows:
        yield pd.DataFrame(rows, columns=fmt.columns, dtype=object)


class _HeaderRepeats:
    """Finds the data rows of a delimited file that repeat its header: two files joined with
    ``cat`` (``head -1 a.csv`` in the middle). Such a row is no movie: it is left out and
    counted. A row of the header's names in another order joins parts whose columns differ,
    which no row-by-row reading can fix: an error."""

    def __init__(self, path: Path, fmt: FileFormat):
        self.path = path
        generated = {f"Unnamed: {i}" for i in range(len(fmt.columns))}
        self.names = [c.strip() if c not in generated else "" for c in fmt.columns]
        # Cheap first pass on one column (the first one with a name): its cell must be a name.
        self.key = next((i for i, n in enumerate(self.names) if n), None)
        self.cells = {v for n in self.names if n for v in (n, "\ufeff" + n)} | set(fmt.columns)
        self.count, self.first = 0, 0

    def drop(self, chunk: pd.DataFrame, records_before: int) -> pd.DataFrame:
        """``chunk`` without its header repeats; ``records_before``: data records read before it."""
        if self.key is None or len(chunk.columns) != len(self.names):
            return chunk
        column = chunk.iloc[:, self.key]
        hits = np.flatnonzero(column.isin(self.cells).to_numpy())
        if not len(hits):
            return chunk
        repeats = []
        for i in hits:
            cells = [str(c).strip().lstrip("\ufeff").strip() for c in chunk.iloc[i].tolist()]
            row = records_before + int(i) + 2  # as a spreadsheet numbers it: the header is row 1
            if cells == self.names:
                repeats.append(i)
                self.first = self.first or row
            elif sorted(cells) == sorted(self.names):
                raise DataError(f"{self.path}: row {row} repeats the header with the columns in another order "
                                f"({', '.join(cells[:6])}{', ...' if len(cells) > 6 else ''}): the file joins parts "
                                "with other column orders; split it at that row and read each part on its own")
        if not repeats:
            return chunk
        self.count += len(repeats)
        return chunk.drop(index=chunk.index[repeats])

    def report(self) -> None:
        """Say what was left out (once per file version and message)."""
        if self.count == 1:
            _warn_once(self.path, f"%s: row {self.first} repeats the header (joined files?); left out")
        elif self.count:
            _warn_once(self.path, f"%s: {self.count} rows repeat the header (joined files?), the first at row "
                                  f"{self.first}; left out")


def _jsonl_chunks(path: Path, fmt: FileFormat, chunksize: int) -> Iterator[pd.DataFrame]:
    records: list[dict] = []
    known = list(fmt.columns)
    with open_text(path, fmt, lines=True) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            records.append(_json_object(path, line, number))
            if len(records) >= chunksize:
                yield _records_frame(records, known, fmt.nested)
                records = []
    if records:
        yield _records_frame(records, known, fmt.nested)


def _records_frame(records: list[dict], known: list[str], nested: tuple[str, ...] = ()) -> pd.DataFrame:
    if nested:  # the fields of each record's object (`_nested_objects`) as dotted columns too
        records = [_with_fields_of(record, nested) for record in records]
    # dtype=object keeps each value as JSON gave it: 1 stays 1 (not 1.0 beside a null).
    frame = pd.DataFrame(records, dtype=object)
    frame.columns = [str(c) for c in frame.columns]
    for name in frame.columns:
        if name not in known:
            known.append(name)  # a key first seen here: later chunks list it too
    return frame.reindex(columns=known)


def _with_fields_of(record: dict, nested: tuple[str, ...]) -> dict:
    """``record`` with the fields of its objects under ``nested`` keys added as ``key.field`` (the object stays)."""
    out = dict(record)
    for key in nested:
        value = record.get(key)
        if isinstance(value, dict):
            for name, item in value.items():
                out.setdefault(f"{key}.{name}", item)
    return out


def _parquet_chunks(path: Path, fmt: FileFormat, chunksize: int) -> Iterator[pd.DataFrame]:
    pq = _pyarrow_parquet()
    try:
        source = pq.ParquetFile(path)
    except Exception as e:
        raise DataError(f"cannot read {path} as Parquet: {_one_line(e)}; check the file") from None
    with source:
        for batch in source.iter_batches(batch_size=chunksize):
            # integer_object_nulls: an int column with a null stays ints (1999), not floats (1999.0)
            yield _index_as_columns(batch.to_pandas(integer_object_nulls=True), fmt.columns)


def _parquet_columns(schema) -> list[str]:
    """The columns a Parquet file's frames have (`_index_as_columns`): a named pandas index
    (``df.set_index("title").to_parquet(...)``) first, as ``reset_index`` puts it, then the
    other columns; an unnamed index (``__index_level_0__``, row numbers) is not a column."""
    meta = schema.pandas_metadata or {}
    fields = {c.get("field_name"): c.get("name") for c in meta.get("columns", []) if isinstance(c, dict)}
    index = [f for f in meta.get("index_columns", []) if isinstance(f, str) and f in schema.names]
    named = [str(fields[f]) for f in index if fields.get(f) is not None]
    return named + [str(n) for n in schema.names if n not in index]


def _index_as_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A frame pyarrow rebuilt with the file's pandas index, with a named index as columns again."""
    named = [n for n in frame.index.names if n is not None]
    if named:
        frame = frame.reset_index(level=named)
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    if list(frame.columns) != columns and sorted(frame.columns) == sorted(columns):
        frame = frame[columns]
    return frame


def _name_columns(df: pd.DataFrame, fmt: FileFormat) -> pd.DataFrame:
    # Our own header parse has the un-mangled names (as written, spaces kept); fall back to
    # pandas' names should the two parses ever disagree on the column count.
    if len(df.columns) == len(fmt.columns):
        df.columns = fmt.columns
    else:
        df.columns = [str(c).lstrip("\ufeff") for c in df.columns]
    return df


def parquet_schema(path: str | Path):
    """The pyarrow schema of a Parquet file (to write its columns back with their types)."""
    return _pyarrow_parquet().read_schema(path)


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - a declared dependency
        raise DataError("reading or writing Parquet needs pyarrow: pip install pyarrow") from None
    return pq


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def parse_error(path: str | Path, error: Exception) -> DataError:
    """The one-line error for a file whose rows cannot be parsed."""
    if isinstance(error, DataError):
        return error
    return DataError(f"cannot parse {path}: {_one_line(error)}; check the delimiter and quoting")


def os_error(path: str | Path, error: Exception) -> DataError:
    """The one-line error for a file that cannot be read."""
    detail = getattr(error, "strerror", None) or _one_line(error)
    return DataError(f"cannot read {path}: {detail}; check the file")


def looks_like_data(columns: list[str]) -> str | None:
    """Why a header row looks like a data row (a number, a sentence), or None.

    Used to say "the first row is data" instead of listing a synopsis as a column name.
    """
    for name in columns:
        text = str(name).strip()
        if re.fullmatch(r"[-+]?\d+(\.\d+)?", text):
            return f"'{text}' is a number"
        if len(text) > 60 or len(text.split()) > 8:
            return f"'{_shorten(text)}' is a sentence"
    return None


@functools.lru_cache(maxsize=1)
def _genre_words() -> re.Pattern:
    """The genre names and aliases of the bundled vocabulary, as whole words ("Science Fiction",
    "Drama", "sci-fi"; not its placeholders), any case, words joined by a space, hyphen or none."""
    from .vocabulary import Vocabulary

    table = Vocabulary.bundled().names
    names = {g for genres in table.values() for g in genres} | {k for k, genres in table.items() if genres}
    words = {r"[\s\-]?".join(map(re.escape, n.split())) for n in names if any(ch.isalpha() for ch in n)}
    return re.compile(r"\b(" + "|".join(sorted(words, key=len, reverse=True)) + r")\b", re.IGNORECASE)


_ID_CELL = re.compile(r"[-+]?\d+|/m/\w+|tt\d+|[0-9a-f]{8}-[0-9a-f-]{27}", re.IGNORECASE)
_OTHER_CELL = re.compile(r"[-+]?\d+([.,]\d+)?|\d{4}(-\d\d){0,2}|\d\d?/\d\d?/\d{2,4}|")  # numbers, dates, empty


def example_columns(columns: list[str]) -> list[str]:
    """Names to suggest for a headerless file whose first row is ``columns`` (``id``, ``title``,
    ``genres``, ``overview``, else ``colN``), so the error message shows a ready ``--columns``
    value: the longest prose field is the overview, the field naming most genres the genres,
    a leading number or catalogue id (``/m/0x0``, ``tt0111161``) the id, and the first other
    short text the title; numbers, dates and empty fields are ``colN``."""
    cells = [str(c).strip() for c in columns]
    names = [""] * len(cells)
    # A synopsis is prose: words, not a JSON/Python object or list (CMU's genre dicts are long too).
    prose = [i for i, cell in enumerate(cells) if len(cell.split()) > 3 and cell[:1] not in "{[("]
    if prose:
        names[max(prose, key=lambda i: len(cells[i]))] = "overview"
    genre_hits = {i: len(_genre_words().findall(cell)) for i, cell in enumerate(cells) if not names[i]}
    if genre_hits and max(genre_hits.values()) > 0:
        names[max(genre_hits, key=lambda i: (genre_hits[i], -i))] = "genres"
    for i, cell in enumerate(cells):
        if names[i]:
            continue
        if _ID_CELL.fullmatch(cell) and "id" not in names and "title" not in names:
            names[i] = "id"
        elif "title" not in names and not _OTHER_CELL.fullmatch(cell) and cell[:1] not in "{[(" and \
                not _ID_CELL.fullmatch(cell) and any(ch.isalpha() for ch in cell):
            names[i] = "title"
        else:
            names[i] = f"col{i + 1}"
    return names


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class OutputFormat:
    """The file format an output's name asks for."""

    kind: str
    """``csv``, ``jsonl``, ``json`` (an array of records) or ``parquet``."""
    sep: str = ","
    """Field separator (csv)."""
    compression: str | None = None
    """``gzip``, ``bz2``, ``xz`` or None."""
    encoding: str = "utf-8"
    """Text encoding (csv): the input's when it was a spreadsheet program's (`output_format`)."""
    bom: bool = False
    """Start the file with the encoding's byte-order mark (csv)."""
    sep_line: bool = False
    """Start the file with Excel's ``sep=X`` line, as the input did (csv)."""
    newline: str | None = None
    """Line ending (csv and jsonl): the input's, for an input of the same kind (`output_format`);
    None: the format's own, CRLF for delimited text (RFC 4180), LF for JSON Lines."""
    blank_columns: tuple[str, ...] = ()
    """Columns whose name the input's header left empty: their header cell is written empty (csv)."""
    quoting: bool = True
    """CSV quoting (csv). False for an output in the separator of an input whose quotes were plain
    characters (IMDb's TSVs), or tab-separated from one (the ``:::`` files): a ``"`` is written as it
    was, unless a cell holds the separator or a line break. A ``.csv`` of them is CSV-quoted."""
    preamble: str = ""
    """The input's lines above its table (`FileFormat.preamble`), written as they were above the header (csv)."""
    wrapper: tuple[str, str, str] | None = None
    """The input's JSON object around its records (`FileFormat.wrapper`), written around the records (json)."""
    decimal: str = "."
    """The decimal mark of the numbers genretag writes (scores): the input's when it wrote ``3,5`` (csv)."""

    @property
    def spreadsheet(self) -> bool:
        """Text a spreadsheet program opens, where a cell starting with ``=`` runs as a formula."""
        return self.kind == CSV

    @property
    def appendable(self) -> bool:
        """Chunks can be appended to a partial file (so an interrupted write can resume)."""
        return self.kind not in (PARQUET, JSON)


def output_format(path: str | Path, source: FileFormat | None = None) -> OutputFormat:
    """The format to write to ``path``, from its suffix.

    ``.csv`` is comma-separated, ``.tsv``/``.tab`` tab-separated, ``.jsonl``/``.ndjson``
    JSON Lines, ``.parquet``/``.pq`` Parquet, each optionally ``.gz``/``.bz2``/``.xz``.
    Any other suffix (``.txt``) keeps the input's format when it is known (its separator
    when that is one character, else tab), else comma-separated.

    One rule for every delimited output of a delimited input (``source``), whatever its
    suffix: the separator comes from the suffix (a ``.csv`` keeps a ``;`` or ``|`` input's
    separator), the encoding, byte-order mark and Excel ``sep=`` line from the input
    (`_as_input`). Text outputs of an input of their own kind keep its line ending.

    Raises:
        DataError: A ``.zip`` output (a zip cannot be appended chunk by chunk), a compressed
            Parquet file, or a format genretag does not write (`UNWRITABLE_SUFFIXES`:
            ``.xlsx``, ``.json`` …), which would otherwise be written as CSV under its name.
    """
    suffix, compression = split_suffix(path)
    if compression == "zip":
        raise DataError(f"genretag does not write .zip files ({path}); use .gz, e.g. --out movies.tagged.csv.gz")
    if suffix in UNWRITABLE_SUFFIXES:
        raise DataError(f"genretag does not write {suffix} files ({Path(path).name}); {UNWRITABLE_SUFFIXES[suffix]}")
    kind = _KIND_SUFFIXES.get(suffix)
    if kind == JSON and source is not None and source.kind == JSONL:
        kind = JSONL  # a ".json" holding JSON Lines, tagged to a ".json": as the input was
    if kind == PARQUET and compression:
        raise DataError(f"{path}: Parquet compresses its own data; write {Path(path).with_suffix('').name} instead")
    if kind:
        wrapper = source.wrapper if kind == JSON and source is not None and source.kind == JSON else None
        return OutputFormat(kind=kind, compression=compression, newline=_kept_newline(kind, source), wrapper=wrapper)
    if suffix in _TAB_SUFFIXES:
        sep = "\t"
    elif source is None or (source.kind != CSV and suffix == ".csv"):
        sep = ","
    elif suffix == ".csv":
        # A ".csv" keeps the input's ";" (Excel where "," is the decimal mark) or "|", not its tab.
        sep = source.sep if source.sep in (";", "|") else ","
    elif source.kind != CSV:
        return OutputFormat(kind=source.kind, compression=compression, newline=_kept_newline(source.kind, source),
                            wrapper=source.wrapper if source.kind == JSON else None)
    else:
        sep = source.sep if len(source.sep) == 1 else "\t"
    fmt = OutputFormat(kind=CSV, sep=sep, compression=compression)
    return fmt if source is None else _as_input(fmt, source)


#: Input encodings a delimited output keeps (with its BOM), so the spreadsheet program that
#: wrote the input opens the output alike; any other input gives UTF-8.
_KEPT_ENCODINGS = {**{codec: (codec, False) for codec in _ENCODING_NAMES}, "cp1250": ("cp1250", False),
                   "cp1254": ("cp1254", False), **{codec: (codec, False) for codec in _WINDOWS_SIBLINGS.values()},
                   "utf-8-sig": ("utf-8", True), "utf-16": ("utf-16-le", True), "cp1252": ("cp1252", False),
                   "latin-1": ("latin-1", False), "mac_roman": ("mac_roman", False), "utf-16-le": ("utf-16-le", False), "utf-16-be": ("utf-16-be", False)}


def _as_input(fmt: OutputFormat, source: FileFormat) -> OutputFormat:
    """``fmt`` (delimited) in the input's encoding, BOM, Excel ``sep=`` line and line ending, where it had them."""
    if source.kind != CSV:
        return fmt
    # A mostly-UTF-8 input with a few Windows bytes (``repair``) is UTF-8, with or without
    # its BOM: its repaired bytes are written as the UTF-8 of the characters they were.
    encoding, bom = _KEPT_ENCODINGS.get(source.encoding, ("utf-8", False) if source.encoding.lower().startswith("utf")
                                        else (source.encoding, False))  # any legacy code page detected is kept
    return OutputFormat(kind=fmt.kind, sep=fmt.sep, compression=fmt.compression, encoding=encoding, bom=bom,
                        sep_line=source.sep_line and fmt.sep == source.sep,
                        newline=_kept_newline(CSV, source),
                        blank_columns=tuple(source.blank_columns),
                        quoting=(source.quoting and len(source.sep) == 1) or fmt.sep not in (source.sep, "\t"),
                        preamble=source.preamble if fmt.sep == source.sep else "",
                        decimal=source.decimal if fmt.sep == source.sep and fmt.sep != "," else ".")


def _kept_newline(kind: str, source: FileFormat | None) -> str | None:
    """The input's line ending for an output of its own kind of text; else None (the format's own)."""
    return source.newline if source is not None and source.kind == kind else None


def _line_ending(text: str) -> str | None:
    """How the first line of ``text`` ends: ``"\\r\\n"``, ``"\\n"``, or None when no line ends in it."""
    end = text.find("\n")
    if end < 0:
        return None
    return "\r\n" if end > 0 and text[end - 1] == "\r" else "\n"


def describe_dialect(fmt: OutputFormat) -> str | None:
    """How a delimited output differs from plain comma-separated UTF-8, e.g. "';'-separated,
    Windows-1252 (as the input)"; None when it does not."""
    if fmt.kind != CSV:
        return None
    parts = []
    if fmt.sep not in (",", "\t"):
        parts.append(f"{fmt.sep!r}-separated")
    if fmt.sep_line:
        parts.append(f"an Excel 'sep={fmt.sep}' first line")
    if fmt.encoding != "utf-8" or fmt.bom:
        parts.append(encoding_label(fmt.encoding) + (" with a byte-order mark" if fmt.bom else ""))
    if fmt.decimal != ".":
        parts.append(f"decimal {fmt.decimal!r} in scores")
    return f"{', '.join(parts)} (as the input)" if parts else None


def encoding_label(encoding: str) -> str:
    """A codec as people name it: ``cp1252`` is "Windows-1252", ``utf-8`` "UTF-8"."""
    names = {**_ENCODING_NAMES, "cp1252": "Windows-1252", "cp1250": "Windows-1250", "latin-1": "latin-1",
             "utf-16-le": "UTF-16", "utf-16-be": "UTF-16 (big-endian)", "mac_roman": "Mac Roman", "utf-8": "UTF-8"}
    return names.get(encoding, encoding)


def default_output(path: str | Path, source: FileFormat | None = None) -> Path:
    """Where ``tag`` writes by default: beside the input, in the input's format.

    ``movies.csv`` → ``movies.tagged.csv``, ``movies.tsv.gz`` → ``movies.tagged.tsv.gz``,
    ``movies.parquet`` → ``movies.tagged.parquet``. A suffix that names no format genretag
    writes takes the suffix of what is written, one rule for every such input
    (`default_output_note` says it): a text file (``.txt``, ``.dat``) is replaced
    (``plot_summaries.txt`` with tabs and IMDb's ``train_data.txt`` with `` ::: `` both give
    ``.tagged.tsv``, a multi-character separator being written as a tab), another suffix kept in
    the name (``movies.2020`` → ``movies.2020.tagged.csv``), a file without one given one. A
    ``.zip`` input gives a ``.gz`` output (``movies.csv.zip`` → ``movies.tagged.csv.gz``).
    """
    return _default_output(Path(path), source)[0]


def default_output_note(path: str | Path, source: FileFormat | None = None) -> str | None:
    """The line saying how `default_output` named the output when its suffix is not the input's
    (``train_data.tagged.tsv: tab-separated, named .tsv rather than the input's .txt``), else None."""
    return _default_output(Path(path), source)[1]


#: Suffixes of plain text files: the default output takes its format's suffix instead.
_TEXT_SUFFIXES = (".txt", ".text", ".dat", ".data")


def _default_output(path: Path, source: FileFormat | None) -> tuple[Path, str | None]:
    _, compression = split_suffix(path)
    packed = path.suffix if compression else ""
    base = path.name[: len(path.name) - len(packed)]
    ext = Path(base).suffix
    stem = base[: len(base) - len(ext)]
    why = []
    if compression == "zip":
        ext, packed = ext or (source.inner_suffix if source else ""), ".gz"
        why.append("gzip-compressed, as genretag does not write .zip")
    if not (ext.lower() in _KIND_SUFFIXES or ext.lower() in _TAB_SUFFIXES or ext.lower() == ".csv"):
        kind = source.kind if source else CSV
        sep = source.sep if source and kind == CSV else ","
        new = {JSONL: ".jsonl", JSON: ".json", PARQUET: ".parquet"}.get(kind, ".csv" if sep in (",", ";", "|")
                                                                     else ".tsv")
        if not ext:
            why.append(f"named {new}: the input's name has no suffix")
        elif ext.lower() in _TEXT_SUFFIXES:
            why.append(f"named {new} rather than the input's {ext}")
        else:  # "movies.2020": a part of the name, kept
            why.append(f"named {new}, the input's {ext} kept in the name (not a suffix genretag knows)")
            stem = base
        if kind == CSV and len(sep) > 1:
            why.append(f"its {sep!r} separator written as a tab")
        ext = new
    out = path.with_name(f"{stem}.tagged{ext}{packed}")
    if not why:
        return out, None
    fmt = output_format(out, source)
    what = {JSONL: "JSON Lines", JSON: "a JSON array", PARQUET: "Parquet"}.get(
        fmt.kind, "tab-separated" if fmt.sep == "\t" else "comma-separated" if fmt.sep == "," else
        f"separated by {fmt.sep!r}")
    return out, f"{out.name}: {what}, {'; '.join(why)}"


def check_output(out: str | Path, *, source: FileFormat | None = None, resume: bool = False,
                 shard: tuple[int, int] | None = None, warn: bool = True) -> OutputFormat:
    """The format ``tag`` writes to ``out``, or a `DataError` for a combination it cannot write.

    Checked before a model is loaded: a ``.zip`` output, ``--resume`` of a Parquet output (a
    Parquet file cannot be appended to) and ``--shard`` into anything but plain CSV/TSV or
    JSON Lines (what `merge_shards` joins) are refused. ``warn``: say which format an unknown
    suffix gets (the CLI checks early without it; `tag_csv` says it once).
    """
    if str(out).endswith(("/", os.sep)):
        raise DataError(f"--out {out} names a folder; give a file name, e.g. --out {out}movies.tagged.csv")
    if str(out) == "-":
        raise DataError("--out - (standard output) is not written to: tag writes a file, atomically, so that an "
                        "interrupted run leaves nothing half-written; pass a file name")
    # Shards are plain UTF-8 with the suffix's separator: `merge_shards` reads them so.
    fmt = output_format(out, source if shard is None else None)
    suffix, _ = split_suffix(out)
    known = suffix in _KIND_SUFFIXES or suffix in _TAB_SUFFIXES or suffix == ".csv"
    if not known and warn:  # a guess: say it
        what = {CSV: "tab-separated" if fmt.sep == "\t" else f"CSV (separator {fmt.sep!r})", JSONL: "JSON Lines",
                JSON: "a JSON array",
                PARQUET: "Parquet"}.get(fmt.kind, fmt.kind)
        logger.warning("%s: %s; writing %s, %s", Path(out).name,
                       f"{suffix} is not a suffix genretag knows" if suffix else "no suffix",
                       what, "the input's format" if source is not None else "the default")
    if warn and source is not None and source.preamble and not fmt.preamble:
        logger.warning("%s: writing the table only; the lines above the input's table are kept by a delimited "
                       "output with its separator %r", Path(out).name, source.sep)
    if warn and source is not None and source.wrapper and not fmt.wrapper:
        logger.warning("%s: writing the records only; the JSON object around them in the input is kept by a .json "
                       "output", Path(out).name)
    if resume and not fmt.appendable:
        what = "Parquet" if fmt.kind == PARQUET else "JSON array"
        raise DataError(f"--resume is not available for {what} output ({Path(out).name}): a {what} file cannot "
                        "be appended to; rerun without --resume, or write .csv/.jsonl to be able to resume")
    if shard is not None and (fmt.kind in (PARQUET, JSON) or fmt.compression):
        raise DataError(f"--shard writes plain CSV, TSV or JSON Lines shards, not {Path(out).name}; "
                        "pass --out NAME.csv (or .tsv, .jsonl) and compress or convert the merged file")
    return fmt


def _encode_cells(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding``; a character it cannot hold is a one-line error, not a crash."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as e:
        raise DataError(f"the output is written in the input's encoding ({encoding}), which cannot hold "
                        f"{e.object[e.start:e.end]!r}; write it as UTF-8 with --out NAME.jsonl") from None


def _as_text_cell(value):
    """A cell of a column written as text: None stays None, lists and objects as JSON, others as str."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class TableWriter:
    """Append frames to one output file in an `OutputFormat`.

    Delimited text uses minimal quoting and CRLF line ends (RFC 4180: a cell holding a bare
    CR then round-trips), or the format's ``newline`` (LF: cells holding a CR are quoted
    still); a list or dict cell (from JSON Lines or Parquet) is written as JSON. Each chunk
    of a compressed file is its own gzip/bz2/xz member, so a partial file can be cut back
    to its last whole chunk and appended to. JSON Lines writes one object per row (NaN as
    null, numbers with full precision). Parquet is written through one pyarrow writer; the
    columns of the input (``schema``) keep their types.

    Args:
        path: The file to write (created or appended to).
        fmt: The format.
        schema: A pyarrow schema whose fields the matching Parquet columns take.
        name: The file's final name, when ``path`` is a temporary one: gzip records it in
            each member's header (``gunzip -N`` restores it), so the temporary name must not.
    """

    def __init__(self, path: str | Path, fmt: OutputFormat, *, schema=None, name: str | None = None):
        self.path, self.fmt, self.schema_hint = Path(path), fmt, schema
        self.name = name or self.path.name
        self.columns: list[str] | None = None
        self._parquet = None
        self._json_rows = 0  # records of a JSON array written so far

    def write(self, chunk: pd.DataFrame, *, header: bool, sparse: Collection[str] = ()) -> None:
        """Append ``chunk``; ``header`` writes the column names first (csv only).

        ``sparse``: columns read from JSON records (`iter_tables`), where a float NaN is a key the
        record did not have (a null it had is None): a JSON output leaves that key out again.
        """
        if self.columns is None:
            self.columns = [str(c) for c in chunk.columns]
        elif [str(c) for c in chunk.columns] != self.columns and self.fmt.kind not in (JSONL, JSON):  # records: own keys
            extra = [str(c) for c in chunk.columns if str(c) not in self.columns]
            raise DataError(f"rows of the input have fields the first rows do not ({', '.join(extra)}); "
                            "write JSON Lines (--out NAME.jsonl), which keeps each row's own fields")
        if self.fmt.kind == PARQUET:
            self._write_parquet(chunk)
            return
        if self.fmt.kind in (JSONL, JSON):
            newline = self.fmt.newline or "\n"
            sparse = frozenset(sparse)
            # Not to_dict("records"): it turns each float into a plain one, and a `JsonNumber` would lose its text.
            names = [str(c) for c in chunk.columns]
            kept = [_json_record(dict(zip(names, row)), sparse)
                    for row in _shortest_floats(chunk).itertuples(index=False, name=None)]
            self._say_non_standard(kept)
            records = [_json_text(r) for r in kept]
            if self.fmt.kind == JSONL:
                text = "".join(record + newline for record in records)
            elif self.fmt.wrapper:  # the input's object around the records (`_sniff_json_document`)
                before, between, _ = self.fmt.wrapper
                text = "".join((before if self._json_rows + k == 0 else between) + record
                               for k, record in enumerate(records))
                self._json_rows += len(records)
            else:  # the array's "[" before its first record, a "," between records, "]" at `close`
                text = "".join(("[" if self._json_rows + k == 0 else ",") + newline + record
                               for k, record in enumerate(records))
                self._json_rows += len(records)
            data = text.encode("utf-8")
        else:
            # Written with CRLF, which has the writer quote every cell holding a CR or an LF
            # (Python's csv quotes only the characters of its line terminator), then re-ended.
            first = bool(header)
            if header and self.fmt.blank_columns:  # the input's empty header cells stay empty
                header = ["" if str(c) in self.fmt.blank_columns else str(c) for c in chunk.columns]
            text, quoted = _delimited(_nested_as_json(chunk), self.fmt, header, self.name)
            if self.fmt.newline not in (None, "\r\n"):
                text = _end_records_with(text, self.fmt.newline, quoted=quoted)
            if first:  # the input's lines above its header, as they were
                sep_line = f"sep={self.fmt.sep}{self.fmt.newline or chr(13) + chr(10)}" if self.fmt.sep_line else ""
                text = sep_line + self.fmt.preamble + text
            data = _encode_cells(text, self.fmt.encoding)
            if header and self.fmt.bom:
                data = "\ufeff".encode(self.fmt.encoding) + data
        self._append(data)

    def _append(self, data: bytes) -> None:
        opener = _OPENERS.get(self.fmt.compression)
        with open(self.path, "ab") as raw:
            if opener is None:
                raw.write(data)
            else:
                with self._member(opener, raw) as packed:  # a new member, appended after the last
                    packed.write(data)
            raw.flush()
            os.fsync(raw.fileno())  # the rows are on disk before a progress record says so

    def _member(self, opener, raw):
        if self.fmt.compression != "gzip":
            return opener(raw, "wb")
        # gzip stores the name less one ".gz" (as gzip(1) does); any case of the suffix is dropped.
        stem = self.name[:-3] if self.name.lower().endswith(".gz") else self.name
        # No timestamp (0): a resumed file is byte for byte the one an uninterrupted run writes.
        return gzip.GzipFile(filename=stem + ".gz", mode="wb", fileobj=raw, mtime=0)

    _as_text: set = frozenset()

    def _write_parquet(self, chunk: pd.DataFrame) -> None:
        import pyarrow as pa

        pq = _pyarrow_parquet()
        try:
            if self._parquet is None:
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                hint = self.schema_hint
                fields = [hint.field(f.name) if hint is not None and f.name in hint.names else f for f in table.schema]
                # A column of nulls only in the first chunk (a sparse JSON key) has no type yet: text, so
                # that later values of any kind fit (written as text: a file's schema is fixed at its start).
                self._as_text = {f.name for f in fields if pa.types.is_null(f.type)}
                fields = [pa.field(f.name, pa.string()) if f.name in self._as_text else f for f in fields]
                if self._as_text:
                    logger.warning("%s: column(s) %s hold only nulls in the first %d rows: written to Parquet as text",
                                   self.name, ", ".join(repr(n) for n in sorted(self._as_text)), len(chunk))
                schema = pa.schema(fields)
                table = table.cast(schema) if schema != table.schema else table
                self._parquet = pq.ParquetWriter(self.path, schema)
            else:
                for name in self._as_text & set(map(str, chunk.columns)):
                    chunk = chunk.assign(**{name: chunk[name].map(_as_text_cell)})
                table = pa.Table.from_pandas(chunk, schema=self._parquet.schema, preserve_index=False)
            self._parquet.write_table(table)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise DataError(f"cannot write {self.name or self.path} as Parquet: {_one_line(e)}; write CSV or JSON Lines instead") from None
        except OverflowError:  # a JSON number past 64 bits (an id): Arrow has no integer type for it
            big = next((str(c) for c in chunk.columns if chunk[c].map(
                lambda v: isinstance(v, int) and not -2**63 <= v < 2**63).any()), "?")
            raise DataError(f"cannot write {self.name or self.path} as Parquet: column {big!r} holds a whole number larger than "
                            "64 bits; write CSV or JSON Lines instead (they keep it as written)") from None

    def close(self) -> None:
        """Finish the file (Parquet writes its footer here, a JSON array its closing bracket)."""
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self.fmt.kind == JSON and self._json_rows >= 0:
            newline = self.fmt.newline or "\n"
            if self.fmt.wrapper:
                before, _, after = self.fmt.wrapper
                self._append(((before if not self._json_rows else "") + after).encode("utf-8"))
            else:
                self._append((f"{newline}]{newline}" if self._json_rows else f"[]{newline}").encode("utf-8"))
            self._json_rows = -1  # closed: a second close writes nothing

    _said_non_standard = False

    def _say_non_standard(self, records: list[dict]) -> None:
        """Say once that NaN or Infinity, which strict JSON lacks, are written (as the input wrote them)."""
        if not self._said_non_standard and any(isinstance(v, float) and not math.isfinite(v)
                                               for r in records for v in r.values()):
            self._said_non_standard = True
            logger.warning("%s: NaN or Infinity values are written as the input has them; genretag and Python's json "
                           "read them, strict JSON readers (jq, JavaScript) do not", self.name)


def _end_records_with(text: str, newline: str, *, quoted: bool = True) -> str:
    """Delimited ``text`` with ``newline`` in place of each CRLF that ends a record.

    A CRLF inside a quoted cell stays: it is inside quotes when an odd number of quote
    characters precede it (a quote inside a quoted cell is doubled, and unquoted cells hold none).
    Text written without quoting (``quoted`` False) holds no CRLF inside a cell, and its quotes are
    characters of the cells: every CRLF ends a record.
    """
    if '"' not in text or not quoted:
        return text.replace("\r\n", newline)
    parts = text.split("\r\n")
    out, quotes = [], 0
    for part in parts[:-1]:
        quotes += part.count('"')
        out.append(part + (newline if quotes % 2 == 0 else "\r\n"))
    out.append(parts[-1])
    return "".join(out)


_NESTED = (list, tuple, dict, np.ndarray)


def _nested_as_json(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each list, dict or boolean cell (JSON Lines, Parquet) as JSON text, ``["Drama",
    "Romance"]``, ``false``, which genretag and other tools read back; pandas would write Python's
    ``['Drama', 'Romance']`` and ``False``."""
    out = frame
    for name in frame.columns:
        column = frame[name]
        booleans = column.dtype == bool or str(column.dtype) == "boolean"  # numpy's, pandas' nullable one
        if booleans or (column.dtype == object and column.map(_json_cell).any()):
            if out is frame:
                out = frame.copy()
            out[name] = column.map(lambda v: json.dumps(v, ensure_ascii=False, default=_json_default)
                                   if _json_cell(v) else v)
    return out


def _json_cell(value) -> bool:
    return isinstance(value, (*_NESTED, bool, np.bool_))


def _shortest_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with float32 and float16 columns (Parquet) as the shortest decimals that read back to them:
    7.9, not the float64 widening's 7.900000095367432 (missing values stay NaN)."""
    wide = [name for name in frame.columns if frame[name].dtype in (np.float32, np.float16)]
    if not wide:
        return frame
    return frame.assign(**{str(name): pd.Series([float(str(v)) if v == v else v for v in frame[name].to_numpy()],
                                                index=frame.index, dtype=object) for name in wide})


def _delimited(frame: pd.DataFrame, fmt: OutputFormat, header, name: str) -> tuple[str, bool]:
    """``frame`` as delimited text with CRLF line ends, and whether it is CSV-quoted: minimal CSV quoting,
    or none for an output whose input did not quote (`OutputFormat.quoting`) while no cell holds the
    separator or a line break."""
    if not fmt.quoting:
        try:
            return frame.to_csv(sep=fmt.sep, header=header, index=False, lineterminator="\r\n",
                                quoting=csv.QUOTE_NONE, quotechar=None, decimal=fmt.decimal), False
        except csv.Error:  # "need to escape": a cell holds the separator or a line break
            _warn_once(Path(name), "%s: a cell holds the separator or a line break, which the input's unquoted "
                                   "layout cannot hold: the rows written with it are CSV-quoted")
    return frame.to_csv(sep=fmt.sep, header=header, index=False, lineterminator="\r\n", decimal=fmt.decimal), True


def _json_text(value) -> str:
    """``value`` as JSON text, as `json.dumps` writes it, with each `JsonNumber` as its input's text."""
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, dict) and _holds_kept_number(value):
        return "{" + ", ".join(json.dumps(str(k), ensure_ascii=False) + ": " + _json_text(v)
                               for k, v in value.items()) + "}"
    if isinstance(value, list) and _holds_kept_number(value):
        return "[" + ", ".join(_json_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _holds_kept_number(value) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, JsonNumber) or (isinstance(v, (dict, list)) and _holds_kept_number(v)) for v in items)


def _json_record(record: dict, sparse: frozenset[str] = frozenset()) -> dict:
    """``record`` for `_json_text`: NaN as null, or left out in a ``sparse`` column (a key the input lacked);
    a NaN the input wrote (a `JsonNumber`) stays."""
    out = {}
    for key, value in record.items():
        if isinstance(value, float) and math.isnan(value) and not isinstance(value, JsonNumber):
            if key in sparse:
                continue
            value = None
        out[str(key)] = value
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
