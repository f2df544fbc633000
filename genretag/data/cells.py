"""Cell values: what counts as empty, and one cell cleaned to text.

Genre parsing and text joining share these, so "N/A" means "no value" in both.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# A whole cell (or one genre piece) equal to one of these, ignoring case, means "no value".
# Spreadsheets and OMDb exports write "N/A"; pandas round-trips write "nan".
NULL_TOKENS = frozenset({"", "nan", "none", "null", "n/a", "na", "#n/a", "[]", "()", "{}"})
# Films are called "NA", "None" and "Null": in a title column those are names, not gaps.
TITLE_NULL_TOKENS = NULL_TOKENS - {"na", "none", "null"}
# What catalogues write in a synopsis cell that has none (compared lower-cased, without final
# dots): IMDb's TSV null, dashes, TMDB's and IMDb's stock sentences. Not a plot: no genre can
# be read from them, so such rows count as having an empty synopsis.
SYNOPSIS_PLACEHOLDERS = NULL_TOKENS | frozenset({
    "\\n", "-", "--", "---", "\u2013", "\u2014", "?", "??", "...", "\u2026", "tba", "tbd", "tbc", "unknown", "coming soon",
    "no overview", "no overview found", "no overview available", "no plot", "no plot available", "plot unknown",
    "no synopsis", "no synopsis available", "no description", "no description available", "no summary",
    "no summary available", "not available", "add a plot", "plot is unknown", "storyline unknown",
    "we don't have an overview translated in english. help us expand our database by adding one",
    # IMDb's page fillers, and other stock phrases
    "it looks like we don't have a synopsis for this title yet. be the first to contribute",
    "see full summary", "see full synopsis", "more", "no plot summary available", "summary not available",
    "synopsis not available", "description not available", "plot not available", "n.a", "0", "to be announced",
    "synopsis coming soon", "plot coming soon", "story unknown", "the plot is unknown", "plot: unknown",
    "plot under wraps", "plot kept under wraps", "this movie has no description",
    # a header repeated as data
    "synopsis", "overview", "description", "plot", "summary", "storyline",
    "lorem ipsum dolor sit amet",
})
#: No placeholder is longer: a longer cell is a synopsis, judged without lower-casing it.
_LONGEST_PLACEHOLDER = max(map(len, SYNOPSIS_PLACEHOLDERS)) + 8


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' missing values (not for "" or "N/A": see `NULL_TOKENS`)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # pd.isna of an odd object can be an array or fail
        return False


def clean_cell(value: Any, *, title: bool = False) -> str:
    """One cell as text: whitespace (CR/LF included) collapsed, "" for a missing cell, a null
    token (`NULL_TOKENS`) or, in a synopsis, a placeholder (`SYNOPSIS_PLACEHOLDERS`).

    Args:
        value: The raw cell value.
        title: The cell is a title, where "NA", "None" and "Null" are names.
    """
    if not isinstance(value, str):
        if value is None or is_missing(value):
            return ""
        value = str(value)
    value = " ".join(value.split())  # also turns CR/LF inside quoted fields into spaces
    if title:
        return "" if value.lower() in TITLE_NULL_TOKENS else value
    return "" if is_placeholder(value) else value


def is_placeholder(text: str) -> bool:
    """True for a synopsis cell that holds no synopsis: "", "N/A", "\\N", "-", "No overview found." ..."""
    if len(text) > _LONGEST_PLACEHOLDER:  # every real synopsis: no copy made
        return False
    key = text.strip().lower()
    if key in SYNOPSIS_PLACEHOLDERS:
        return True
    # "Add a Plot »", "(no plot)", "[No description]", "...more", "N/A.": the phrase inside
    key = key.strip("()[]{}<>\"' ").rstrip(".!»›>… ").lstrip(".… ").strip()
    return key in SYNOPSIS_PLACEHOLDERS
