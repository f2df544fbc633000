"""Column names: what a synopsis column is called, and finding columns by such names.

Column names are compared after lower-casing and turning runs of spaces, "_" and "-" into "_",
so "Plot Summary", "plot_summary" and "PLOT-SUMMARY" are one name. Its own module, below
`genretag.data.columns` and `genretag.formats` (which reads a record's nested object when a field
of it is a synopsis), so neither imports the other for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TEXT_COLUMN_CANDIDATES: tuple[str, ...] = (
    "overview",
    "synopsis",
    "plot_synopsis",
    "plot",
    "plot_summary",
    "description",
    "summary",
    "storyline",
    "text",
    "extract",  # Wikipedia's page summaries (wikipedia-movie-data's movies.json)
    "movie_info",  # Rotten Tomatoes
    "sypnopsis",  # MyAnimeList's anime_with_synopsis.csv (Kaggle), spelled so
    # Catalogues exported in other languages (after every English name: an English column wins)
    "handlung", "inhalt", "beschreibung", "zusammenfassung",  # German
    "résumé", "intrigue",  # French ("synopsis", "description" above)
    "sinopsis", "argumento", "trama", "descripción", "descripcion", "resumen",  # Spanish, Italian "trama"
    "sinossi", "descrizione",  # Italian
    "sinopse", "enredo", "descrição", "descricao",  # Portuguese
    "описание", "сюжет",  # Russian
    "剧情简介", "简介", "あらすじ", "줄거리",  # Chinese (Douban), Japanese, Korean
    "劇情簡介", "簡介", "ストーリー", "概要", "시놉시스",  # Traditional Chinese, Japanese, Korean
    "resume", "samenvatting", "beschrijving", "opis", "fabuła", "özet", "konu", "beskrivning",  # fr, nl, pl, tr, sv
)


def norm_name(name: str) -> str:
    """A column name as names are compared: "Plot Summary" -> "plot_summary"."""
    return re.sub(r"[\s_\-]+", "_", str(name).strip().lower()).strip("_")


def norm_words(name: str) -> str:
    """`norm_name` with camelCase split into words: "primaryTitle" -> "primary_title"."""
    return norm_name(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name).strip()))


def name_candidates(columns: list[str], candidates: tuple[str, ...], exclude: Iterable[str] = ()) -> list[str]:
    """The ``columns`` whose names are among ``candidates``, in the candidates' order (a name as
    `norm_name` makes it; camelCase by its words when its plain form matches nothing), except
    ``exclude``. The object a record's fields were read from ("movie" of "movie.overview") is
    none; when no column matches, dotted fields match by their own name."""
    exclude = set(exclude)
    rank = {c: i for i, c in enumerate(candidates)}

    def key(name: str) -> str:  # a camelCase name counts by its words only when its plain form matches nothing
        return norm_name(name) if norm_name(name) in rank else norm_words(name)

    # An object in each record whose fields are read as dotted columns ("movie" of "movie.overview") is no candidate.
    containers = {c.split(".", 1)[0] for c in columns if DOTTED.fullmatch(c) and not c.rsplit(".", 1)[1].isdigit()}
    containers &= set(columns)  # (not "title" of "title.1", a second column so named)
    keys = {c: key(c) for c in columns if c not in containers}
    found = [c for c in keys if keys[c] in rank and c not in exclude]
    if not found:  # those fields by their own name ("movie.overview" is an overview)
        keys = {c: key(c.split(".", 1)[1]) for c in columns if DOTTED.fullmatch(c)}
        found = [c for c in keys if keys[c] in rank and c not in exclude]
    return sorted(found, key=lambda c: rank[keys[c]])


#: A field read from a record's object: "movie.overview".
DOTTED = re.compile(r"\w+\.\w[\w -]*")
