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


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' missing values (not for "" or "N/A": see `NULL_TOKENS`)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # pd.isna of an odd object can be an array or fail
        return False


def clean_cell(value: Any, *, title: bool = False) -> str:
    """One cell as text: whitespace (CR/LF included) collapsed, "" for a missing or null-token cell.

    Args:
        value: The raw cell value.
        title: The cell is a title, where "NA", "None" and "Null" are names.
    """
    if not isinstance(value, str):
        if value is None or is_missing(value):
            return ""
        value = str(value)
    value = " ".join(value.split())  # also turns CR/LF inside quoted fields into spaces
    return "" if value.lower() in (TITLE_NULL_TOKENS if title else NULL_TOKENS) else value
