"""Cell values: what counts as empty, and one cell cleaned to text.

Genre parsing and text joining share these, so "N/A" means "no value" in both.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

# A whole cell (or one genre piece) equal to one of these, ignoring case, means "no value".
# Spreadsheets and OMDb exports write "N/A"; pandas round-trips write "nan".
# "<NA>": how pandas writes a missing value of its nullable types; "#VALUE!" ...: spreadsheet errors.
NULL_TOKENS = frozenset({"", "nan", "none", "null", "n/a", "na", "#n/a", "[]", "()", "{}", "<na>", "#value!",
                         "#ref!", "#name?", "#div/0!", "#null!", "#num!", "#error!"})
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
    # MyAnimeList's and AniList's, and other sites' "nothing yet"
    "no synopsis information has been added to this title. help improve our database by adding a synopsis here",
    "no synopsis has been added for this series yet. click here to update this information",
    "no synopsis has been added for this title yet", "no description available for this anime",
    "no description available for this movie", "no description available for this title", "no description yet",
    "no synopsis yet", "no plot yet", "synopsis to come", "plot to come", "description to come",
    "the plot is unknown at this time", "plot unknown at this time", "plot is unknown at this time",
    "no description has been provided", "no overview has been provided", "no synopsis provided",
    "no synopsis information has been added yet", "there is currently no synopsis for this title",
    "this entry currently doesn't have a synopsis. check back soon", "no synopsis available at this time",
    # a header repeated as data
    "synopsis", "overview", "description", "plot", "summary", "storyline",
    "lorem ipsum dolor sit amet",
})
#: No placeholder is longer: a longer cell is a synopsis, judged without lower-casing it.
_LONGEST_PLACEHOLDER = max(map(len, SYNOPSIS_PLACEHOLDERS)) + 48  # a label before, a "[Written by ...]" after


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' missing values (not for "" or "N/A": see `NULL_TOKENS`)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # pd.isna of an odd object can be an array or fail
        return False


#: Characters that print as nothing: a cell of them (and spaces) is empty.
ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
#: HTML markup scraped with a synopsis (``<p>``, ``<br/>``, ``<i lang="fr">``, comments); a
#: "<" not followed by a tag name ("a <3 story", "x < y") is text.
_TAG = re.compile(r"<(?:/?([A-Za-z][A-Za-z0-9]*)(?:\s[^<>]*)?/?|!--.*?--)>", re.S)
#: Tags that break a line or a block: a space where they were; inline ones (<i>, <a>) join.
_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "table", "blockquote", "hr",
                         "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "dd", "dt"})


def strip_tags(text: str, block: str = " ") -> str:
    """``text`` without its HTML tags (`_TAG`): a block tag (``<br>``, ``<li>``) or a comment becomes
    ``block``, an inline one (``<a>``, ``<i>``) nothing."""
    def untag(match: re.Match) -> str:
        return block if (match.group(1) or "").lower() in _BLOCK_TAGS or match.group(1) is None else ""

    return _TAG.sub(untag, text) if "<" in text else text


_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_URL_ONLY = re.compile(r"(?:https?://|www\.)\S+")


#: What a named entity may stand for to be read as one: letters and the punctuation of text.
_TEXT_PUNCT = frozenset("&<>\"' \u00a0\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u00b7\u00ab\u00bb")


def _unescaped(match: re.Match) -> str:
    """An HTML entity's character: any numeric one (``&#x27;``), a named one that is a letter or
    text punctuation (``&eacute;``, ``&amp;``); a name standing for a symbol (``&Lt;``, "≪") is
    more likely a genre or word with ";" after it (``A&Lt;B``), kept as written."""
    entity = match.group()
    char = html.unescape(entity)
    if entity.startswith("&#") or (len(char) == 1 and (char.isalpha() or char in _TEXT_PUNCT)):
        return char
    return entity


def unescape_entities(text: str) -> str:
    """``text`` with its HTML character references read (`_unescaped`: ``&amp;`` → ``&``, ``&#x27;`` → ``'``)."""
    return _ENTITY.sub(_unescaped, text) if "&" in text else text


def clean_cell(value: Any, *, title: bool = False) -> str:
    """One cell as text, as the model read its training synopses: HTML tags and entities
    undone (``<p>A&#x27;s</p>`` → ``A's``), invisible characters dropped, whitespace (CR/LF
    included) collapsed; "" for a missing cell, a null token (`NULL_TOKENS`) or, in a
    synopsis, a placeholder (`SYNOPSIS_PLACEHOLDERS`) or a link alone. A whole number read
    as a float (a title "1917" in a column pandas made float) is written without ".0".

    Args:
        value: The raw cell value.
        title: The cell is a title, where "NA", "None" and "Null" are names.
    """
    if not isinstance(value, str):
        if value is None or is_missing(value):
            return ""
        value = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    value = strip_tags(value)
    if "&" in value:
        value = unescape_entities(value)
    value = " ".join(value.translate(ZERO_WIDTH).split())  # also turns CR/LF inside quoted fields into spaces
    if title:
        return "" if value.lower() in TITLE_NULL_TOKENS else value
    return "" if is_placeholder(value) or _URL_ONLY.fullmatch(value) else value


def is_placeholder(text: str) -> bool:
    """True for a synopsis cell that holds no synopsis: "", "N/A", "\\N", "-", "No overview found." ..."""
    if len(text) > _LONGEST_PLACEHOLDER:  # every real synopsis: no copy made
        return False
    key = text.strip().lower().replace("\u2019", "'")
    if key in SYNOPSIS_PLACEHOLDERS:
        return True
    # "Add a Plot »", "(no plot)", "[No description]", "...more", "N/A.", "Synopsis: N/A", "... [Written by MAL
    # Rewrite]": the phrase inside, without a label before it or a credit after it
    key = _CREDIT.sub("", _LABEL.sub("", key))
    key = key.strip("()[]{}<>\"' ").rstrip(".!»›>… ").lstrip(".… ").strip()
    return key in SYNOPSIS_PLACEHOLDERS


_LABEL = re.compile(r"^(?:synopsis|plot|overview|description|summary|storyline)\s*:\s*")
_CREDIT = re.compile(r"\s*[\[(](?:written by|source)[^\])]*[\])]\s*$")
