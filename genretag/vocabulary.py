"""Genre vocabularies: one canonical name per genre, and the spellings of other sources.

The table is data, ``genretag/vocabulary.toml`` (read once, shipped in the wheel); a user's
``--genre-map FILE`` adds or overrides entries. A `Vocabulary` is used at three places:

- reading labelled rows (`apply`): aliases, Wikipedia-style compounds ("romantic comedy"),
  subgenres read as their genre ("erotic thriller" → Thriller, `Vocabulary.heads`), names with
  a part in brackets ("Comedy (romantic)" → Comedy + Romance), placeholders that mean "no genre"
  (``unknown``, ``(no genres listed)``, ``\\N``), TMDB's numeric genre ids, and one spelling per
  genre whatever its case;
- scoring a file against a model (`match_labels`): a file genre is scored as the model genre
  of the same canonical name, or a related one where the model has none (said);
- writing genres in another vocabulary (`output_names`, ``tag --vocabulary imdb``).

A run saves the vocabulary it was trained with as ``vocabulary.json``, so its own data is read
back the same way even after this file changes; runs written before vocabularies have none
and are read as before (`load_run_vocabulary` returns None).
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .data.cells import ZERO_WIDTH, placeholder_key
from .data.genres import canonical_genre
from .errors import DataError

logger = logging.getLogger(__name__)

#: The bundled table.
VOCABULARY_TOML = Path(__file__).with_name("vocabulary.toml")
#: The vocabulary a run was trained with, in its run directory.
RUN_VOCABULARY_FILE = "vocabulary.json"
#: Names accepted by ``tag --vocabulary`` besides a file.
OUTPUT_VOCABULARIES: tuple[str, ...] = ("tmdb", "imdb", "movielens")
#: 2: subgenres and names with a part in brackets are read as their genres (`Vocabulary.resolve`); a run's
#: vocabulary of format 1 reads its own data without them, as it was trained.
#: 3: catalogue categories that are no genre ("International Movies", "British TV Shows", "IMAX") are read as
#: none, a modifier alone ("Comedy, Dark") as none, a breadcrumb ("Comedy › Romantic") as the genres of its
#: parts; a run's vocabulary of format 2 or less reads its own data without them.
#: 4: placeholders written as phrases ("None listed") or punctuation alone (".") are read as none, and the parts of
#: a name joined by "&" that are no genre are left out ("Sports & Fitness" → Sport, not Sport + "Fitness"); a run's
#: vocabulary of format 3 or less reads its own data without them.
FORMAT = 4

# Every Unicode dash is "-": hyphen (U+2010), non-breaking hyphen (U+2011), figure dash, en and em
# dash, horizontal bar, minus sign (U+2212), small and full-width hyphen-minus.
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"))
# "-" or "_" between two letters is a space: "Sci-Fi" = "sci fi", "comedy-drama" = "comedy drama".
_INNER_DASH = re.compile(r"(?<=\w)(?:[-_]|\s+-\s+)(?=\w)")  # "comedy-drama", "Comedy – Drama"
# A full stop (or "!", ":", "…") after a name ends the sentence it was copied from: "horror." = "horror".
_TRAILING_PUNCT = re.compile(r"(?<=\w)[.!:\u2026]+$")
# A TMDB genre id as a cell holds it: "18", or "18.0" where pandas made the column float (NaN);
# any other number ("-1", "2.5") is no genre id either (`Vocabulary.apply`).
_TMDB_ID = re.compile(r"([0-9]+)(?:\.0*)?")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)")
# Words that name a kind of title, not a genre: they never drive a "did you mean" on their own
# ("Cult Movies" is no misspelling of "TV Movies").
_GENERIC_WORDS = frozenset({"movie", "movies", "film", "films", "series", "show", "shows", "tv"})
_COMPOUND_SPLIT = re.compile(r"[\s&/+,]+")
# The marks that list genres inside one name ("Drama/Lgbt", "剧情 / 传记", "Drama & LGBTQ", Filmaffinity's
# "Drama. Romance"); a name the table does not know is read as its parts when one is a genre (`Vocabulary.apply`).
_LIST_MARKS = re.compile(r"\s*[/&+]\s*|\.\s+")
_LIST_MARKS_BUT_AMPERSAND = re.compile(r"\s*[/+]\s*|\.\s+")
_AMPERSAND = re.compile(r"\s*&\s*")
# A placeholder written with a slash between two letters ("N/A", "n/d", "S/D"): one part, not two names.
_SLASHED_PLACEHOLDER = re.compile(r"(?:^|(?<=[\s/&+]))([^\W\d_])/([^\W\d_])(?=$|[\s/&+.])")
# A cell's own label before its genres ("Genre: Horror", Douban's "类型: 剧情"): read past it.
_LABEL = re.compile(r"^\s*(?:genres?|genre\(s\)|g[eéê]neros?|genere|generi|类型|類型|ジャンル|жанры?|장르)\s*[:：]\s*",
                    re.IGNORECASE)
# A whole name that says a title has no genre (compared as `placeholder_key`s: case, punctuation and spacing
# ignored): "None listed", "Genre not available", "No genres given", "Not specified"; the table lists single words
# ("unknown", "n/a", "tba"). A name of punctuation or symbols alone (".", "*", "...") is no genre either.
_NO_GENRE = re.compile(
    r"(?:(?:no|without) genres?(?: (?:listed|given|available|specified|found|assigned|set|provided|entered))?"
    r"|genres? (?:(?:is |are )?not (?:yet )?(?:available|listed|given|known|specified|assigned|set|found|provided)"
    r"|unknown|missing|pending|unavailable|n a|tba|tbd|none)"
    r"|none (?:listed|given|specified|found|assigned|provided|available|yet)"
    r"|not (?:applicable|available|listed|specified|known|given|provided|assigned|set))")
#: Numbers that are no TMDB id are strays (`Vocabulary.apply`) when the rows holding them are at most
#: 1 for this many rows with a genre name or TMDB id; more are a column of other numbers, refused.
STRAY_SHARE = 4
#: The `KINDS` of names read as no genre: their report names them as the file writes them.
NO_GENRE_KINDS = ("placeholder", "category", "modifier", "stray number")
#: Kinds of mapping, in the order they are reported.
KINDS = ("tmdb id", "label", "split", "alias", "subgenre", "bracket", "breadcrumb", "spelling", "placeholder",
         "category", "modifier", "stray number")
# The marks of a breadcrumb, a path from a genre to a narrower one: "Comedy › Romantic", "Comedy > Romantic".
_BREADCRUMB = re.compile(r"\s*[›>»]\s*")
# "<Language>-Language Movies" (as `genre_key` writes it): a category, whatever the language.
_LANGUAGE = re.compile(r"[^\W\d_]+(?: [^\W\d_]+)? language")
# A name with a part in brackets: "comedy (romantic)", "sci fi (science fiction)" (as `genre_key` writes it).
_BRACKETED = re.compile(r"(.*?[^\s(])\s*\(([^()]+)\)")
# Words that join two names or deny the one after them: "X and Drama", "non horror" are no subgenre of a genre.
_NO_MODIFIER = frozenset({"and", "or", "not", "non", "no", "anti", "un", "without"})


def genre_key(name: str) -> str:
    """The identity of a genre name: case-folded, accents dropped, any dash read as "-", inner dashes
    as spaces, spaces collapsed, a final full stop dropped.

    ``"Sci-Fi"``, ``"sci\u2011fi"``, ``"sci fi"`` and ``"SCI_FI"`` share the key ``"sci fi"``;
    ``"Comédie"`` and ``"COMEDIE"`` share ``"comedie"``; ``"horror."`` is ``"horror"``; ``"-"`` and ``"–"`` are ``"-"``.
    """
    text = unicodedata.normalize("NFKD", str(name).replace("\u2019", "'").translate(ZERO_WIDTH))
    text = unicodedata.normalize("NFC", "".join(c for c in text if not unicodedata.combining(c)))
    text = " ".join(text.split()).casefold().translate(_DASHES)
    return _INNER_DASH.sub(" ", _TRAILING_PUNCT.sub("", text))


@dataclass
class GenreReport:
    """What `Vocabulary.apply` changed: name as read → ``{"to": [...], "kind": ..., "rows": n}``.

    ``kind`` is one of `KINDS`; ``rows`` counts the rows holding the name.
    """

    applied: dict[str, dict] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """One human line per kind of mapping that happened, with row counts."""
        heads = {
            "tmdb id": "TMDB genre ids read as names",
            "label": "labels before genre names read past",
            "split": "names listing genres read as their parts",
            "alias": "genres mapped",
            "subgenre": "subgenres read as their genre",
            "bracket": "names with a part in brackets read as their genres",
            "breadcrumb": "breadcrumbs read as the genres of their parts",
            "spelling": "spellings merged",
            "placeholder": "placeholders read as no genre",
            "category": "categories that are no genre, read as none",
            "modifier": "modifiers alone read as no genre",
            "stray number": "numbers that are no TMDB genre id, among genre names or ids, read as no genre",
        }
        out = []
        for kind in KINDS:
            items = [(name, a) for name, a in self.applied.items() if a["kind"] == kind]
            if not items:
                continue
            items.sort(key=lambda kv: (-kv[1]["rows"], kv[0]))
            if kind in NO_GENRE_KINDS:  # named as the file writes them: "(no genres listed)", not "No Genres Listed"
                parts = [f"{a.get('written', name)} ({_rows(a['rows'])})" for name, a in items]
            else:
                parts = [f"{name} → {' + '.join(a['to'])}{_left_out(a.get('dropped'))} ({_rows(a['rows'])})"
                         for name, a in items]
            out.append(f"{heads[kind]}: {', '.join(parts)}")
        return out

    def to_dict(self) -> dict:
        """JSON-ready copy."""
        return {name: dict(a) for name, a in self.applied.items()}


def _left_out(names: list[str] | None) -> str:
    """What a "split" entry left out, as its line says it."""
    if not names:
        return ""
    return f", {' and '.join(names)} left out ({'no genre' if len(names) == 1 else 'no genres'} of the vocabulary)"


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


@dataclass(frozen=True)
class Vocabulary:
    """A genre table: canonical names, aliases, placeholders, related genres and TMDB ids."""

    names: dict[str, tuple[str, ...]]
    """`genre_key` of a name → the canonical genres it means (``()``: a placeholder, no genre)."""
    related: dict[str, str] = field(default_factory=dict)
    """Key of a canonical genre → the genre to score it as where a model lacks it."""
    tmdb_ids: dict[str, str] = field(default_factory=dict)
    """TMDB genre id (as text) → TMDB's name."""
    ignore: frozenset[str] = frozenset()
    """Words skipped when a compound label is split ("film", "and")."""
    sources: tuple[str, ...] = ()
    """Where the entries came from (the bundled table, genre-map files)."""
    heads: frozenset[str] = frozenset()
    """Keys of the genres a subgenre is read as: "erotic thriller", "coming-of-age drama" end in one
    (Thriller, Drama); a genre not listed ("royal family", "young adult", "live action") is not."""
    format: int = FORMAT
    """1: a vocabulary saved before subgenres and brackets were read (`resolve` reads neither); 2: before
    categories, modifiers alone and breadcrumbs were read."""
    categories: frozenset[str] = frozenset()
    """Keys of catalogue categories that are no genre ("international movies", "imax"), read as none (format 3)."""
    category_words: frozenset[str] = frozenset()
    """Keys of the words that make "<word> <kind>" such a category ("british" in "British TV Shows")."""
    category_kinds: frozenset[str] = frozenset()
    """Keys of the kinds of title those words qualify ("movies", "tv shows")."""
    new_genres: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    """``--genre-map`` entries whose genre no vocabulary has: (name, genre). Said by `apply` when
    no row has that genre either (a typo makes a new genre), never saved."""

    # ------------------------------------------------------------------ building

    @classmethod
    def bundled(cls) -> Vocabulary:
        """The table shipped in ``genretag/vocabulary.toml``."""
        return _bundled()

    def with_genre_map(self, path: str | Path) -> Vocabulary:
        """This vocabulary with the entries of a ``--genre-map`` TOML file added or overriding.

        Each line is ``alias = "Canonical"``, ``"X" = ["A", "B"]`` (one file genre, several
        genres) or ``"X" = []`` (a placeholder: no genre), at the top level or under an
        ``[aliases]`` table as in the bundled ``vocabulary.toml`` (whose ``format = 1`` line is
        allowed too). A value is itself read through this vocabulary ("Sci-Fi" on the right means
        Science Fiction) unless it is the alias itself.

        Raises:
            DataError: The file is missing, not TOML, holds another table, or a value is not a
                name or a list of names.
        """
        path = Path(path)
        raw = _read_toml(path, "genre map")
        # The bundled file's form: a version line, and the aliases under [aliases].
        if isinstance(raw.get("format"), int):
            del raw["format"]
        aliases = raw.pop("aliases") if isinstance(raw.get("aliases"), dict) else {}
        table = next((k for k, v in raw.items() if isinstance(v, dict)), None)
        if table is not None:
            raise DataError(f"genre map {path}: '{table}' must be a genre name or a list of names, not a table; "
                            "write alias = \"Genre\" lines at the top level or under [aliases]")
        entries = {**raw, **aliases}  # TOML puts a table after the top-level lines: it wins
        names = dict(self.names)
        new: list[tuple[str, str]] = []
        seen: dict[str, str] = {}
        for alias, value in entries.items():
            if genre_key(alias) in seen and seen[genre_key(alias)] != alias:
                # Names are compared without case: "Ecchi" and "ecchi" are one genre, given twice.
                raise DataError(f"genre map {path}: '{seen[genre_key(alias)]}' and '{alias}' are the same genre name "
                                f"(case and spacing are ignored); keep one line for it")
            seen[genre_key(alias)] = alias
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
                raise DataError(f"genre map {path}: '{alias}' must be a genre name or a list of names "
                                f"(\"X\" = \"A\" or \"X\" = [\"A\", \"B\"]), got {value!r}")
            key = genre_key(alias)
            if not key:
                raise DataError(f"genre map {path}: an empty genre name on the left; quote it, e.g. \"-\" = []")
            target: list[str] = []
            for v in values:
                v = " ".join(v.split())
                genres = (v,) if genre_key(v) == key else self.resolve(v)
                if genres is None:  # no vocabulary has it: a new genre, or a typo (`apply` says which)
                    new.append((alias, v))
                target.extend(genres or (v,))
            names[key] = tuple(dict.fromkeys(target))
        known = {genre_key(a) for a, _ in new}
        return Vocabulary(names=names, related=self.related, tmdb_ids=self.tmdb_ids, ignore=self.ignore,
                          sources=self.sources + (str(path.resolve()),), heads=self.heads, format=self.format,
                          categories=self.categories, category_words=self.category_words,
                          category_kinds=self.category_kinds,
                          new_genres=tuple(e for e in self.new_genres if genre_key(e[0]) not in known) + tuple(new))

    def to_dict(self) -> dict:
        """JSON-ready form, the content of a run's ``vocabulary.json`` (with `GenreReport` beside it)."""
        return {
            "format": self.format,
            "sources": list(self.sources),
            "names": {k: list(v) for k, v in sorted(self.names.items())},
            "related": dict(sorted(self.related.items())),
            "tmdb_ids": dict(sorted(self.tmdb_ids.items(), key=lambda kv: int(kv[0]))),
            "ignore": sorted(self.ignore),
            "heads": sorted(self.heads),
            "categories": sorted(self.categories),
            "category_words": sorted(self.category_words),
            "category_kinds": sorted(self.category_kinds),
        }

    @classmethod
    def from_dict(cls, values: dict) -> Vocabulary:
        """Rebuild from `to_dict` output.

        Raises:
            ValueError: Not a vocabulary of a format this genretag reads.
        """
        if (not isinstance(values, dict) or values.get("format") not in range(1, FORMAT + 1)
                or not isinstance(values.get("names"), dict)):
            raise ValueError(f"not a genretag vocabulary of format 1 to {FORMAT}")
        return cls(
            names={k: tuple(v) for k, v in values["names"].items()},
            related=dict(values.get("related") or {}),
            tmdb_ids={str(k): v for k, v in (values.get("tmdb_ids") or {}).items()},
            ignore=frozenset(values.get("ignore") or ()),
            sources=tuple(values.get("sources") or ()),
            heads=frozenset(values.get("heads") or ()),
            format=int(values["format"]),
            categories=frozenset(values.get("categories") or ()),
            category_words=frozenset(values.get("category_words") or ()),
            category_kinds=frozenset(values.get("category_kinds") or ()),
        )

    def with_rules_of(self, today: Vocabulary) -> Vocabulary:
        """This vocabulary's names read by the rules of ``today`` (a newer format): its subgenre heads,
        categories and words skipped in compounds. Used for files other than a run's own data, which keeps the rules it was trained with."""
        if self.format >= today.format:
            return self
        return replace(self, format=today.format, heads=today.heads, categories=today.categories,
                       ignore=self.ignore | today.ignore,  # "series", "tv" of format 4: "Comedy Series" is Comedy
                       category_words=today.category_words, category_kinds=today.category_kinds)

    # ------------------------------------------------------------------ reading

    def resolve(self, name: str) -> tuple[str, ...] | None:
        """The canonical genres a name means: ``("Science Fiction",)`` for "sci-fi", ``()`` for a
        placeholder, the genres of each word for a compound ("romantic comedy" → Romance,
        Comedy), None for a name the table does not know.

        Format 2 also reads a subgenre as its genre, the genre its last words name when that is
        one of `heads` ("erotic thriller", "coming-of-age drama" → Thriller, Drama; not "young
        adult", "live action", "non-horror"), and a name with a part in brackets as the genres
        of its parts, a part the table does not know dropped ("comedy (romantic)" → Comedy,
        Romance; "Sci-Fi (Science Fiction)" → Science Fiction; "Thriller (erotic)" → Thriller).

        Format 3 also reads a catalogue category that is no genre as none ("International Movies",
        "Spanish-Language TV Shows", "IMAX"), a modifier alone as none ("Dark" of "Comedy, Dark"), and a
        breadcrumb as the genres of its parts, as brackets are ("Comedy › Romantic" → Comedy, Romance).
        """
        return self._resolve(name)[0]

    def _resolve(self, name: str) -> tuple[tuple[str, ...] | None, str | None]:
        """`resolve`, and the rule that read the name where one did: ``"subgenre"``, ``"bracket"``,
        ``"breadcrumb"``, ``"category"`` or ``"modifier"``."""
        key = genre_key(name)
        if key in self.names:
            return self.names[key], None
        if self.format >= 4 and (not (bare := placeholder_key(name)) or _NO_GENRE.fullmatch(bare)):
            return (), None  # "." or "None listed": a placeholder
        found = self._compound(key)
        if found is None and (bare := _LABEL.sub("", name, count=1)) != name and bare.strip():
            return self._resolve(bare)
        if found is not None or self.format < 2:
            return found, None
        if self.format >= 3:
            if self._category(key):
                return (), "category"
            # "dark", "teen" alone (a cell "Comedy, Dark"): a modifier of no genre; not "film" or "and" alone,
            # which modify nothing
            if key in self.ignore and key not in _GENERIC_WORDS and key not in _NO_MODIFIER:
                return (), "modifier"
            if found := self._breadcrumb(key):
                return found, "breadcrumb"
        if found := self._bracketed(key):
            return found, "bracket"
        if found := self._head(key):
            return found, "subgenre"
        return None, None

    def _bracketed(self, key: str) -> tuple[str, ...] | None:
        """The genres of "X (Y)": of X and of Y, either dropped when the table does not know it."""
        match = _BRACKETED.fullmatch(key)
        if not match:
            return None
        # a modifier the compound rule skips ("dark", "teen", "psychological") says no genre of its own here
        # either: "Thriller (psychological)" is Thriller, as "psychological thriller" is
        parts = [part.strip() for part in match.groups() if part.strip() not in self.ignore]
        found = [g for part in parts for g in self.resolve(part) or ()]
        return tuple(dict.fromkeys(found)) or None

    def _category(self, key: str) -> bool:
        """True for a catalogue category that is no genre: one of `categories`, "<word> <kind>" with a word of
        `category_words` ("british tv shows"), or "<language> language <kind>" ("spanish language tv shows")."""
        if key in self.categories:
            return True
        for kind in self.category_kinds:
            if key.endswith(" " + kind):
                qualifier = key[: -len(kind) - 1].strip()
                if qualifier in self.category_words or _LANGUAGE.fullmatch(qualifier):
                    return True
        return False

    def _breadcrumb(self, key: str) -> tuple[str, ...] | None:
        """The genres of "X › Y" (or "X > Y"): of each part, as `_bracketed` reads "X (Y)"; a part the table
        does not know, or a modifier ("Comedy › Dark"), is dropped."""
        parts = [p for p in _BREADCRUMB.split(key) if p]
        if len(parts) < 2:
            return None
        found = [g for part in parts if part not in self.ignore for g in self.resolve(part) or ()]
        return tuple(dict.fromkeys(found)) or None

    def _head(self, key: str) -> tuple[str, ...] | None:
        """The genre the last words of one name name ("erotic thriller" → Thriller), when it is one of
        `heads` and the words before it only qualify it: none joins or denies ("and", "non"), none is
        a genre itself ("romantic erotic thriller", "young adult romance": left as they are)."""
        if _LIST_MARKS.search(key) or "," in key:
            return None  # "Drama/Legal Thriller" lists names: read as its parts (`_split_lists`)
        words = key.split()
        if _NO_MODIFIER.intersection(words):
            return None
        for i in range(1, len(words)):  # the longest known tail: "hard science fiction" is Science Fiction
            tail = " ".join(words[i:])
            genres = self.names.get(tail) or self._compound(tail)
            if genres:
                if any(self.names.get(w) for w in words[:i]) or not all(genre_key(g) in self.heads for g in genres):
                    return None
                return genres
        return None

    def _compound(self, key: str) -> tuple[str, ...] | None:
        words = [w for w in _COMPOUND_SPLIT.split(key) if w]
        found: list[str] = []
        i = 0
        while i < len(words):
            # The longest phrase first ("science fiction", not "science"); a skipped word ("film", "and",
            # "psychological") alone is skipped, but not inside a longer name ("TV Movie").
            last = i + 1 if words[i] in self.ignore else i
            for j in range(len(words), last, -1):
                genres = self.names.get(" ".join(words[i:j]))
                if genres:
                    found.extend(genres)
                    i = j
                    break
            else:
                if words[i] not in self.ignore:
                    return None  # a word that is no genre: not a compound of genres, keep the name
                i += 1
        return tuple(dict.fromkeys(found)) or None

    def apply(self, rows: list[list[str]], *, where: str = "",
              written: dict[str, str] | None = None) -> tuple[list[list[str]], GenreReport]:
        """Map every row's genre names to canonical ones.

        Known names become their canonical genres; placeholders disappear (a row left with
        none has no genres); TMDB numeric ids (``18``, or ``18.0`` from a float column) become
        TMDB's names; names the table does not know are merged case-insensitively under their
        most frequent spelling (first seen on a tie). Row order and length are kept; each row
        is de-duplicated.

        Args:
            rows: Genre names per row (as `genretag.data.parse_genres` gives them).
            where: Named in errors, e.g. ``"movies.csv column 'genre_ids'"``.
            written: Name → as the file writes it (`genretag.data.parse_genres`): the report
                names what it reads as no genre so (``"written"`` of its entry).

        Returns:
            The mapped rows and a `GenreReport` of what changed.

        Raises:
            DataError: Numeric genre cells that are not TMDB genre ids, in more than 1 row for
                `STRAY_SHARE` rows with known genres (fewer are read as no genre: "stray number").
        """
        rows, applied = self._split_lists(rows)
        rows_with = Counter(n for row in rows for n in dict.fromkeys(row))
        id_of = {n: str(int(m.group(1))) if (m := _TMDB_ID.fullmatch(n)) else n
                 for n in rows_with if _NUMBER.fullmatch(n)}
        ids = sorted(id_of, key=lambda n: (float(id_of[n].replace(",", ".")), n))
        unknown_ids = [i for i in ids if id_of[i] not in self.tmdb_ids]
        # A few numbers among names or TMDB ids ("0", a retired id) are strays, read as no genre
        # and said; a column of other numbers (another site's ids, years) is refused.
        unknown_set = set(unknown_ids)
        bad_rows = sum(1 for row in rows if unknown_set.intersection(row))
        known_rows = sum(1 for row in rows if any(n not in unknown_set for n in row))
        stray = bool(unknown_ids) and bad_rows * STRAY_SHARE <= known_rows
        if unknown_ids and not stray:
            shown = ", ".join(ids[:6]) + (", ..." if len(ids) > 6 else "")
            bad = ", ".join(unknown_ids[:6]) + (", ..." if len(unknown_ids) > 6 else "")
            raise DataError(
                f"the genre cells{' of ' + where if where else ''} are numeric ids ({shown}), not genre names, and "
                f"{bad} {'is not a TMDB genre id' if len(unknown_ids) == 1 else 'are not TMDB genre ids'}; "
                "map the ids to genre names "
                "first (TMDB's ids are read as names), or pass --genres-col with a column of names"
            )
        result: dict[str, tuple[str, ...]] = {}
        unknown: dict[str, list[str]] = {}  # key -> spellings, first seen first
        for name in rows_with:
            kind = None
            if stray and name in unknown_ids:
                result[name] = ()
                applied[name] = {"to": [], "kind": "stray number", "rows": rows_with[name]}
                continue
            if name in id_of:
                tmdb = self.tmdb_ids[id_of[name]]
                genres, kind = self.resolve(tmdb) or (tmdb,), "tmdb id"
            else:
                genres, rule = self._resolve(name)
                if genres is None:
                    # one genre however written: case, dashes, and a word naming a kind of title ("Silent Film" is
                    # "Silent", "Kaiju Movies" is "Kaiju"), when the file writes both
                    key = genre_key(name)
                    unknown.setdefault((_content_words(key) or key) if self.format >= 4 else key, []).append(name)
                    continue
                if genres == ():
                    kind = rule if rule in ("category", "modifier") else "placeholder"
                elif genres != (name,):
                    same = len(genres) == 1 and genre_key(genres[0]) == genre_key(name)
                    kind = "spelling" if same else rule or "alias"
            result[name] = genres
            if kind:
                applied[name] = {"to": list(genres), "kind": kind, "rows": rows_with[name]}
        for spellings in unknown.values():
            # the most rows; on a tie the name without a kind of title ("Kaiju", not "Kaiju Movies"), then the first
            chosen = max(spellings, key=lambda s: (rows_with[s], _content_words(genre_key(s)) == genre_key(s)))
            for name in spellings:
                result[name] = (chosen,)
                if name != chosen:
                    applied[name] = {"to": [chosen], "kind": "spelling", "rows": rows_with[name]}
        for name, entry in applied.items():
            if entry["kind"] in NO_GENRE_KINDS and (written or {}).get(name, name) != name:
                entry["written"] = written[name]
        mapped = [list(dict.fromkeys(g for n in row for g in result[n])) for row in rows]
        self._say_new_genres(rows_with, result)
        return mapped, GenreReport(applied)

    def _say_new_genres(self, rows_with: Counter, result: dict[str, tuple[str, ...]]) -> None:
        """Warn of each ``--genre-map`` genre that no vocabulary has and no row names but through
        that entry: most likely a typo ("Scince Fiction"), which would train as a genre of its own."""
        if not self.new_genres:
            return
        read = {genre_key(n) for n in rows_with}
        made = {genre_key(g) for _, g in self.new_genres}
        canonical = sorted({g for genres in self.names.values() for g in genres if genre_key(g) not in made})
        for alias, genre in self.new_genres:
            if genre_key(genre) in read or not any(genre in result.get(n, ()) for n in rows_with):
                continue  # the rows name it themselves (a genre of the file), or no row gets it
            close = difflib.get_close_matches(genre, canonical, n=1, cutoff=0.8)
            logger.warning("--genre-map maps '%s' to '%s', a genre no row and no vocabulary has%s; it becomes a "
                           "genre of its own", alias, genre, f" (did you mean '{close[0]}'?)" if close else "")

    def _split_lists(self, rows: list[list[str]]) -> tuple[list[list[str]], dict[str, dict]]:
        """Rows with each unknown name that lists genres ("Drama/Lgbt", "传记 / 喜剧") replaced by its
        parts, when one part is a genre; the unknown parts stay names of their own. A cell's label
        before an unknown name ("Жанр: биография") is read past. Also the report entries ("split",
        "label") of the names rewritten."""
        parts_of: dict[str, tuple[list[str], str]] = {}
        dropped_of: dict[str, list[str]] = {}
        for name in dict.fromkeys(n for row in rows for n in row):
            if self.resolve(name) is not None:
                continue
            bare = _LABEL.sub("", name, count=1).strip()
            kept = _SLASHED_PLACEHOLDER.sub("\\1\u2215\\2", bare)  # a division slash until split
            parts = [canonical_genre(p.replace("\u2215", "/")) for p in _LIST_MARKS.split(kept) if p.strip()]
            if len(parts) > 1 and any(self.resolve(p) is not None for p in parts):
                parts, dropped = self._joined_parts(kept) if self.format >= 4 else (parts, [])
                parts_of[name] = (list(dict.fromkeys(parts)), "split")
                if dropped:
                    dropped_of[name] = dropped
            elif bare and bare != name:
                parts_of[name] = ([canonical_genre(bare)], "label")
        if not parts_of:
            return rows, {}
        split = [[p for n in row for p in parts_of.get(n, ((n,),))[0]] for row in rows]
        counts = Counter(n for row in rows for n in dict.fromkeys(row) if n in parts_of)
        return split, {n: {"to": parts, "kind": kind, "rows": counts[n], **({"dropped": dropped_of[n]} if n in dropped_of
                                                                             else {})}
                       for n, (parts, kind) in parts_of.items()}

    def _joined_parts(self, text: str) -> tuple[list[str], list[str]]:
        """The parts of a name listing genres (`_LIST_MARKS`), and those left out: "A & B" is one category of its
        catalogue (Netflix's "Sci-Fi & Fantasy", "Sports & Fitness"), whose parts that are no genre ("Fitness") are
        not genres of their own; "/" and "+" list names of the file, kept ("Drama/Lgbt", "剧情 / 同性")."""
        parts: list[str] = []
        dropped: list[str] = []
        for piece in _LIST_MARKS_BUT_AMPERSAND.split(text):
            piece = piece.replace("\u2215", "/").strip()
            joined = [canonical_genre(s) for s in _AMPERSAND.split(piece) if s.strip()]
            if len(joined) > 1 and any(self.resolve(s) is not None for s in joined):
                parts += [s for s in joined if self.resolve(s) is not None]
                dropped += [s for s in joined if self.resolve(s) is None]
            elif piece:
                parts.append(canonical_genre(piece))
        return parts, dropped

    # ------------------------------------------------------------------ scoring

    def known(self, name: str) -> bool:
        """True when the table knows the name (as a genre, alias, compound or placeholder)."""
        return self.resolve(name) is not None

    def suggest(self, name: str, labels: Iterable[str]) -> str | None:
        """A "did you mean" for a name neither the model nor the table knows: a close model genre."""
        labels = list(labels)
        if self.known(name):
            return None
        by_key: dict[str, str] = {genre_key(l): l for l in labels}
        for key, genres in self.names.items():
            if len(genres) == 1 and genre_key(genres[0]) in by_key:
                by_key.setdefault(key, by_key[genre_key(genres[0])])
        # Compared without generic words: "Cult Movies" is not close to "TV Movies".
        wanted = _content_words(genre_key(name))
        by_content: dict[str, str] = {}
        for key, label in by_key.items():
            if content := _content_words(key):
                by_content.setdefault(content, label)
        close = difflib.get_close_matches(wanted, list(by_content), n=1, cutoff=0.75) if wanted else []
        return by_content[close[0]] if close else None


def _content_words(key: str) -> str:
    """A genre key without the words that name a kind of title (`_GENERIC_WORDS`)."""
    return " ".join(w for w in key.split() if w not in _GENERIC_WORDS)


@functools.lru_cache(maxsize=1)
def _bundled() -> Vocabulary:
    raw = _read_toml(VOCABULARY_TOML, "genre vocabulary")
    names: dict[str, tuple[str, ...]] = {}
    for group in raw["genres"].values():
        for name in group:
            names[genre_key(name)] = (name,)
    for alias, value in raw["aliases"].items():
        names[genre_key(alias)] = tuple([value] if isinstance(value, str) else value)
    related = {genre_key(k): v for k, v in raw.get("related", {}).items()}
    ids = {str(int(k)): v for k, v in raw.get("tmdb_ids", {}).items()}
    ignore = frozenset(genre_key(w) for w in raw.get("compound", {}).get("ignore", ()))
    heads = frozenset(genre_key(w) for w in raw.get("compound", {}).get("heads", ()))
    categories = raw.get("categories", {})
    return Vocabulary(names=names, related=related, tmdb_ids=ids, ignore=ignore, sources=("bundled vocabulary.toml",),
                      heads=heads, categories=frozenset(genre_key(n) for n in categories.get("names", ())),
                      category_words=frozenset(genre_key(w) for w in categories.get("words", ())),
                      category_kinds=frozenset(genre_key(k) for k in categories.get("kinds", ())))


@functools.lru_cache(maxsize=1)
def _output_tables() -> dict[str, dict]:
    return _read_toml(VOCABULARY_TOML, "genre vocabulary").get("output", {})


def _read_toml(path: Path, what: str) -> dict:
    try:
        import tomllib  # Python >= 3.11
    except ImportError:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{what} {path} not found; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{what} {path} is a directory; pass a TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {what} {path}: {exc.__class__.__name__}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{what} {path} is not valid TOML ({exc}); write one alias = \"Genre\" per line") from None


def current_vocabulary(genre_map: str | Path | None = None) -> Vocabulary:
    """The bundled vocabulary, with ``genre_map``'s entries when given."""
    vocabulary = Vocabulary.bundled()
    return vocabulary.with_genre_map(genre_map) if genre_map else vocabulary


# --------------------------------------------------------------------------- runs


def save_run_vocabulary(run_dir: str | Path, vocabulary: Vocabulary, report: GenreReport | None) -> Path:
    """Write ``vocabulary.json`` (the table and what it changed in the training data) into a run."""
    path = Path(run_dir) / RUN_VOCABULARY_FILE
    content = {**vocabulary.to_dict(), "applied": report.to_dict() if report else {}}
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_run_vocabulary(run_dir: str | Path) -> Vocabulary | None:
    """The vocabulary a run was trained with, or None for a run written before vocabularies.

    Raises:
        DataError: The file exists but is not a vocabulary.
    """
    path = Path(run_dir) / RUN_VOCABULARY_FILE
    if not path.is_file():
        return None
    try:
        return Vocabulary.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        from .errors import ModelError

        raise ModelError(f"run file {path} is corrupt ({exc.__class__.__name__}); train the run again") from None


# --------------------------------------------------------------------------- model genres


@dataclass
class LabelMatch:
    """How the genres of a file are scored against a model's genres."""

    scored_as: dict[str, list[str]]
    """File genre → the model genres it counts as ([]: none, unscorable)."""
    notes: dict[str, str]
    """File genre → how it was matched, where not under its own name."""

    def labels_of(self, row: Iterable[str]) -> list[str]:
        """The model genres of one row, each once."""
        return list(dict.fromkeys(label for g in row for label in self.scored_as.get(g, ())))


def match_labels(genres: Iterable[str], labels: list[str], vocabulary: Vocabulary | None) -> LabelMatch:
    """Match file genres to a model's genres.

    Without a vocabulary (a run's own data, for runs written before vocabularies) a genre
    counts only under its exact name. With one, a genre counts as the model genre of the
    same canonical name, whatever either is spelled ("Sci-Fi" as a model's "Science
    Fiction", and as "Sci-Fi" for a model trained on IMDb names); where the model has no
    such genre, as its related genre (Musical as Music), said in ``notes``.
    """
    exact = set(labels)
    scored: dict[str, list[str]] = {}
    notes: dict[str, str] = {}
    if vocabulary is None:
        for g in dict.fromkeys(genres):
            scored[g] = [g] if g in exact else []
        return LabelMatch(scored, notes)
    index: dict[str, str] = {}
    for label in labels:
        index.setdefault(genre_key(label), label)
    for label in labels:
        canonical = vocabulary.resolve(label)
        if canonical and len(canonical) == 1:
            index.setdefault(genre_key(canonical[0]), label)
    for g in dict.fromkeys(genres):
        if g in exact:
            scored[g] = [g]
            continue
        found, missing, via = [], [], []
        for c in vocabulary.resolve(g) or (g,):
            label = index.get(genre_key(c))
            related = vocabulary.related.get(genre_key(c))
            if label is None and related is not None and genre_key(related) in index:
                label = index[genre_key(related)]
                via.append(f"{c} as {label} (the model has no {c})")
            if label is None:
                missing.append(c)
            else:
                found.append(label)
        scored[g] = list(dict.fromkeys(found))
        if found:
            how = via[:] or [f"scored as {' + '.join(scored[g])}"]
            if missing:
                how.append(f"the model has no {', '.join(missing)}")
            notes[g] = "; ".join(how)
    return LabelMatch(scored, notes)


# --------------------------------------------------------------------------- output vocabularies


def output_names(labels: list[str], vocabulary: str | Path) -> tuple[list[str], list[str]]:
    """Names to write for a model's genres in another vocabulary (``tag --vocabulary``).

    Args:
        labels: The model's genres.
        vocabulary: ``tmdb``, ``imdb``, ``movielens``, or a TOML file of ``"Model genre" = "Name"``
            lines (genres it does not list keep their name).

    Returns:
        ``(name per label, labels written as they are because the named vocabulary has no name
        for them)``; with a file, genres it does not list keep their name and are not listed.

    Raises:
        DataError: Unknown vocabulary, unreadable file, a value that is not a name, or two
            genres given the same name.
    """
    base = Vocabulary.bundled()
    tables = _output_tables()
    if str(vocabulary).lower() in OUTPUT_VOCABULARIES:
        table = tables[str(vocabulary).lower()]
        rename = {genre_key(n): n for n in table.get("genres", ())}
        rename.update({genre_key(k): v for k, v in table.get("rename", {}).items()})
    else:
        path = Path(vocabulary)
        if not path.suffix and not path.exists():
            raise DataError(f"unknown --vocabulary '{vocabulary}'; choose {', '.join(OUTPUT_VOCABULARIES)} "
                            "or a TOML file")
        raw = _read_toml(path, "vocabulary")
        bad = [k for k, v in raw.items() if not isinstance(v, str) or not v.strip()]
        if bad:
            raise DataError(f"vocabulary {path}: '{bad[0]}' must be a genre name (\"Science Fiction\" = \"Sci-Fi\")")
        joined = [v for v in raw.values() if "|" in v]
        if joined:
            raise DataError(f"vocabulary {path}: '{joined[0]}' holds '|', which separates the genres tag writes; "
                            "give each genre one name")
        rename = {genre_key(k): " ".join(v.split()) for k, v in raw.items()}
        for k, v in raw.items():  # "Sci-Fi" = "SF" renames the genre Sci-Fi means (Science Fiction)
            canonical = base.resolve(k)
            if canonical and len(canonical) == 1:
                rename.setdefault(genre_key(canonical[0]), " ".join(v.split()))
        label_keys = {genre_key(x) for label in labels for x in (label, *(base.resolve(label) or ()))}
        unused = [k for k in raw if genre_key(k) not in label_keys
                  and not {genre_key(c) for c in base.resolve(k) or ()} & label_keys]
        if unused:
            logger.warning("vocabulary %s: %s %s no genre of the model; not used", path,
                           ", ".join(repr(k) for k in unused[:5]), "is" if len(unused) == 1 else "are")
    named = str(vocabulary).lower() in OUTPUT_VOCABULARIES
    names, unnamed = [], []
    for label in labels:
        canonical = base.resolve(label)
        keys = [genre_key(label)] + ([genre_key(canonical[0])] if canonical and len(canonical) == 1 else [])
        name = next((rename[k] for k in keys if k in rename), None)
        if name is None:
            if named:  # a user's file names only the genres it renames
                unnamed.append(label)
            name = label
        names.append(name)
    # Compared as genre names are everywhere ("mystery" is "Mystery"): two such columns would be one genre.
    clash = [k for k, c in Counter(map(genre_key, names)).items() if c > 1]
    if clash:
        both = [label for label, n in zip(labels, names) if genre_key(n) == clash[0]]
        shown = " / ".join(dict.fromkeys(n for n in names if genre_key(n) == clash[0]))
        raise DataError(f"--vocabulary gives {' and '.join(both)} the same name '{shown}' (case and spacing "
                        "are ignored); give each genre its own name")
    return names, unnamed
