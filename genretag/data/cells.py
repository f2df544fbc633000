"""Cell values: what counts as empty, and one cell cleaned to text.

Genre parsing and text joining share these, so "N/A" means "no value" in both.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

import pandas as pd

# A whole cell (or one genre piece) equal to one of these, ignoring case, means "no value".
# Spreadsheets and OMDb exports write "N/A"; pandas round-trips write "nan".
# "<NA>": how pandas writes a missing value of its nullable types; "#VALUE!" ...: spreadsheet errors.
NULL_TOKENS = frozenset({"", "nan", "none", "null", "n/a", "na", "#n/a", "[]", "()", "{}", "<na>", "#value!",
                         "#ref!", "#name?", "#div/0!", "#null!", "#num!", "#error!"})
# Films are called "NA", "None" and "Null": in a title column those are names, not gaps.
TITLE_NULL_TOKENS = NULL_TOKENS - {"na", "none", "null"}
# What catalogues write in a synopsis cell that has none (compared as `placeholder_key`s: case,
# accents, punctuation, emoji and spaces ignored): IMDb's TSV null, dashes, TMDB's and IMDb's stock
# sentences; `is_placeholder` adds phrase patterns in several languages and Lorem ipsum. Not a plot: no genre can
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
    # more stock phrases: a title without a synopsis yet
    "not yet available", "not available yet", "unavailable", "currently unavailable", "pending", "n a",
    "plot details are being kept under wraps", "details are being kept under wraps", "no info", "no information",
    "no details", "information not available", "details to come", "no data", "empty", "blank", "missing",
    "add synopsis", "add a synopsis", "add an overview", "edit page", "read more", "see more", "show more",
    # a template's or a script's leftovers: "TODO", JavaScript's "undefined"
    "placeholder", "placeholder text", "todo", "undefined", "to be updated", "dummy text",
})


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
    synopsis, a placeholder (`SYNOPSIS_PLACEHOLDERS`) or a cell without a synopsis's text
    (`not_a_synopsis`: no letters, a link or an e-mail address alone). A whole number read
    as a float (a title "1917" in a column pandas made float) is written without ".0".

    Args:
        value: The raw cell value.
        title: The cell is a title, where "NA", "None" and "Null" are names.
    """
    if not isinstance(value, str):
        if value is None or is_missing(value):
            return ""
        value = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    value = _printed(value)
    if not value:
        return ""
    if title:
        return "" if value.lower() in TITLE_NULL_TOKENS else value
    return "" if is_placeholder(value) or not_a_synopsis(value) else value


def _printed(value: str) -> str:
    """``value`` as `clean_cell` reads it: tags, entities, invisible characters and padding undone;
    "" for a cell that prints nothing."""
    value = strip_tags(value)
    if "&" in value:
        value = unescape_entities(value)
    value = " ".join(value.translate(ZERO_WIDTH).split())  # also turns CR/LF inside quoted fields into spaces
    if value and (value[0] in INVISIBLE_FILLERS or value[-1] in INVISIBLE_FILLERS):
        value = value.strip(INVISIBLE_FILLERS + " ")  # "\u3164N/A\u3164": pasted around a value as padding
    return "" if is_blank(value) else value  # "\u2800", a lone U+FE0F or U+0301: a cell that prints nothing


#: A letter of any script (CJK and Hangul included); digits and ``_`` are not.
_LETTER = re.compile(r"[^\W\d_]")
_URL = r"(?:https?://|www\.)[^\s<>()\[\]]+"
#: A bare domain of a common top-level domain, with or without a path: "imdb.com", "letterboxd.com/film/x".
_DOMAIN = (r"(?:[a-z0-9][a-z0-9-]*\.)+(?:com|org|net|edu|gov|io|tv|co|info|biz|me|ly|to|uk|de|fr|jp|ru|es|it|nl|"
           r"ca|au|in|cn|kr|br)(?:/[^\s<>]*)?")
#: A link as catalogues write one: a URL, a bare domain, ``<https://...>``, a Markdown link ``[see plot](https://...)``.
_LINK = rf"(?:<{_URL}>|\[[^\]\n]{{0,80}}\]\({_URL}\)|{_URL}|{_DOMAIN})"
_EMAIL = r"(?:mailto:)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
#: Links or e-mail addresses alone, one or several (separated by spaces, commas ...).
_ADDRESSES_ONLY = re.compile(rf"(?:{_LINK}|{_EMAIL})(?:[\s,;|]+(?:{_LINK}|{_EMAIL}))*[.,;]?", re.IGNORECASE)


def not_a_synopsis(text: str) -> str:
    """Why a synopsis cell that prints something holds no synopsis, or "": ``"no letters"`` (emoji,
    numbers, symbols, punctuation alone), ``"a link only"``, ``"an e-mail address only"``. Such a
    cell is an empty synopsis in every command (`clean_cell`); ``tag`` flags its row with the reason.
    A placeholder ("N/A", "TBA") is `is_placeholder`'s, not this.

    Args:
        text: The cell as `clean_cell` reads it (tags and invisible characters undone).
    """
    if _LETTER.search(text) is None:
        return "no letters"
    if "." in text and _ADDRESSES_ONLY.fullmatch(text):
        return "a link only" if re.search(_LINK, re.sub(_EMAIL, "", text), re.IGNORECASE) else "an e-mail address only"
    return ""


def no_synopsis_note(value: Any) -> str:
    """`not_a_synopsis` of a raw cell: the reason its synopsis is empty though the cell prints
    something; "" for a synopsis, an empty cell or a placeholder ("N/A", "-").

    Punctuation alone ("-", "...") is a placeholder; emoji, digits and symbols are "no letters".
    """
    if not isinstance(value, str):
        return ""
    text = _printed(value)
    if not text or (_LETTER.search(text) is None
                    and not any(c.isdigit() or unicodedata.category(c)[0] == "S" for c in text)):
        return ""
    return not_a_synopsis(text)


def is_placeholder(text: str) -> bool:
    """True for a synopsis cell that holds no synopsis: "", "N/A", "\\\\N", "-", "No overview found.", "T.B.A.",
    "TBA 🎬", "Aucun synopsis disponible.", "暂无简介", IMDb's "It looks like we don't have a Synopsis ..."
    filler, Lorem ipsum of any length, a cell of punctuation or emoji alone.

    The whole cell is compared, after `placeholder_key` (case, accents, punctuation, emoji and spacing
    ignored): a synopsis that merely holds such words ("TBA: a retired spy ...") is a synopsis.
    """
    if len(text) > _LONGEST_PLACEHOLDER and not _may_be_long_filler(text):  # every real synopsis: no copy made
        return False
    key = text.strip().lower().replace("\u2019", "'")
    if key in SYNOPSIS_PLACEHOLDERS:
        return True
    # "Add a Plot »", "(no plot)", "[No description]", "...more", "N/A.", "Synopsis: N/A", "... [Written by MAL
    # Rewrite]": the phrase inside, without a label before it or a credit after it
    spaced = placeholder_key(_CREDIT.sub("", _LABEL.sub("", key)))
    return (spaced.replace(" ", "") in _PLACEHOLDER_KEYS or _NO_SYNOPSIS.fullmatch(spaced) is not None
            or _SITE_FILLER.fullmatch(spaced) is not None or is_lorem_ipsum(spaced))


_LABEL = re.compile(r"^(?:synopsis|plot|overview|description|summary|storyline)\s*:\s*")
_CREDIT = re.compile(r"\s*[\[(](?:written by|source)[^\])]*[\])]\s*$")


#: Characters that print as nothing though Unicode files them as letters or symbols: the Hangul
#: fillers and the blank Braille pattern, pasted where a form refuses an empty field.
INVISIBLE_FILLERS = "\u3164\uffa0\u115f\u1160\u2800"
#: Categories of characters that print nothing alone: combining marks (a lone U+0301, the emoji
#: variation selector U+FE0F), format characters (zero widths, U+FEFF), spaces, controls, private
#: use (icon-font glyphs scraped as text), unassigned and surrogates.
_INVISIBLE_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Zs", "Zl", "Zp", "Cc", "Co", "Cn", "Cs"})


def is_blank(text: str) -> bool:
    """True when no character of ``text`` prints (`INVISIBLE_FILLERS`, `_INVISIBLE_CATEGORIES`): "",
    spaces, "\\u3164", "\\u2800", a lone combining mark or variation selector. Stops at the first
    visible character, so a real text costs one look-up."""
    return all(c in INVISIBLE_FILLERS or unicodedata.category(c) in _INVISIBLE_CATEGORIES for c in text)


_NON_WORD = re.compile(r"[\W_]+")
_HIDDEN = dict.fromkeys(map(ord, INVISIBLE_FILLERS), " ")


def _fold(text: str) -> str:
    """``text`` without accents (NFKD, combining marks dropped, recomposed): "não" → "nao",
    "ｎ／ａ" → "n/a"; Hangul syllables come back whole."""
    if text.isascii():
        return text
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", bare)


def placeholder_key(text: str) -> str:
    """``text`` as placeholders are compared: case-folded, accents dropped, every run of
    punctuation, symbols (emoji), spaces and invisible characters one space: "T.B.A. 🎬" → "t b a",
    "Sinopse não disponível." → "sinopse nao disponivel"."""
    return _NON_WORD.sub(" ", _fold(text.casefold().translate(_HIDDEN))).strip()


def _regex(*alternatives: str) -> re.Pattern:
    """One pattern of ``alternatives``, written with accents and matched on `placeholder_key`s."""
    return re.compile("|".join(f"(?:{_fold(a)})" for a in alternatives))


# What a synopsis is called, in `placeholder_key` form ("plot summaries", "plot details").
_NOUN = (r"(?:(?:plot |story |movie |film )?(?:synopsis|synopses|overview|description|summary|summaries|outline|"
         r"info|information|details)|plot|storyline|story line|story|premise|content)")
_FOR_THIS = r"(?: (?:for|of|on|to) (?:this|the) (?:title|movie|film|show|series|episode|entry|item|page|anime))?"
_WHEN = r"(?: (?:yet|currently|still|at (?:this|the) (?:time|moment)|right now|for now|so far|at present))*"
_NOT_THERE = (r"(?:not (?:yet |currently )?(?:available|known|provided|added|written|listed|given)|unavailable|"
              r"unknown|missing|pending|tba|tbd|tbc|n a|coming soon|to come|to be (?:announced|added|confirmed|"
              r"determined|revealed|updated))")
# Whole cells that say "no synopsis", by the stock phrases of catalogues in their languages (TMDB's,
# IMDb's, Douban's ...). Each is a whole cell: "No synopsis" is a placeholder, "No synopsis could
# capture the night the circus burned" a synopsis.
_NO_SYNOPSIS = _regex(
    # English
    rf"(?:sorry )?(?:there (?:is|are|s) )?(?:currently |still |yet )?(?:no|not any) {_NOUN}(?: information| info)?"
    rf"(?: (?:is|are|has been|have been) (?:yet )?(?:available|found|provided|added|given|listed|written|known))?"
    rf"(?: (?:available|found|provided|added|given|listed|written|known|yet|here))*{_FOR_THIS}{_WHEN}",
    rf"(?:(?:it looks like|sorry|unfortunately) )?we (?:don t|do not) (?:yet )?have (?:a|an|any) {_NOUN}"
    rf"(?: (?:translated )?in english)?{_FOR_THIS}{_WHEN}",
    rf"(?:the )?{_NOUN} (?:(?:is|are) )?(?:currently |still )?{_NOT_THERE}{_FOR_THIS}{_WHEN}",
    rf"(?:this|the) (?:title|movie|film|show|series|episode|entry|item|page|anime) (?:currently |still )?"
    rf"(?:has no|does not have (?:a|an|any)|doesn t have (?:a|an|any)) {_NOUN}{_WHEN}",
    rf"(?:currently |still )?(?:not (?:yet |currently )?available|unavailable|not yet known){_WHEN}",
    rf"(?:the )?(?:{_NOUN} )?(?:(?:is|are) )?(?:being |still |currently )*(?:kept )?under wraps{_WHEN}",
    rf"(?:the )?{_NOUN} (?:(?:is|are) )?(?:being |still |currently )*(?:kept (?:a )?secret|undisclosed|"
    rf"not (?:yet )?(?:disclosed|revealed)){_WHEN}",
    r"(?:details )?(?:t b a|t b d|t b c|to be (?:announced|added|confirmed|determined|revealed|updated)|coming soon|tk)",
    rf"(?:please )?(?:add|write|submit|contribute) (?:a|an|the) {_NOUN}{_FOR_THIS}",
    # a form's or template's own text left in the cell: "Description goes here", "Insert synopsis here"
    rf"(?:(?:insert|enter|add|write|type|your) )?(?:(?:the|a|an|your) )?{_NOUN} (?:goes )?here",
    # French
    r"(?:il n y a )?(?:aucun|aucune|pas de|sans|pas encore de) (?:synopsis|résumé|description|intrigue|sommaire)"
    r"(?: (?:n est |n a été )?(?:disponible|trouvé|trouvée|fourni|fournie|renseigné|renseignée|pour le moment|"
    r"pour l instant|actuellement|encore|en français))*",
    r"(?:le |la )?(?:synopsis|résumé|description|intrigue) (?:est )?(?:non disponible|indisponible|à venir|inconnu|"
    r"inconnue|bientôt disponible|pas encore disponible|non communiqué|non communiquée)",
    r"(?:non disponible|indisponible|à venir|bientôt disponible|pas encore disponible)",
    r"nous n avons pas (?:encore )?de (?:synopsis|résumé)(?: (?:traduit )?en français)?"
    r"(?: (?:aidez nous|vous pouvez nous aider) [a-z ]*)?",
    # German
    r"(?:(?:zu|für|über) (?:diesem|diesen|dieser) (?:film|titel|serie) )?(?:(?:es (?:ist|gibt)|gibt es|ist) )?"
    r"(?:noch |leider |derzeit )*(?:keine|kein) (?:deutsche |deutschen )?(?:beschreibung|"
    r"inhaltsangabe|handlung|zusammenfassung|inhaltsbeschreibung|handlungsbeschreibung|inhalt|angaben|"
    r"informationen|info|synopsis|überblick)(?: (?:vorhanden|verfügbar|gefunden|bekannt|angegeben|hinterlegt|"
    r"eingetragen|noch|bisher|derzeit|leider|zu diesem film))*",
    r"(?:die )?(?:beschreibung|inhaltsangabe|handlung|inhalt|zusammenfassung) (?:(?:ist|noch) )*(?:nicht (?:verfügbar|"
    r"vorhanden|bekannt)|folgt|unbekannt)",
    r"(?:noch )?nicht verfügbar|folgt in kürze|inhalt folgt",
    r"wir haben (?:noch )?keine (?:deutsche )?(?:inhaltsangabe|beschreibung|übersetzung)(?: [a-zäöüß ]*)?",
    # Spanish
    r"(?:no hay|sin|ninguna|no existe|no se encontró|no tenemos|todavía no hay|aún no hay) (?:una |ninguna )?"
    r"(?:sinopsis|descripción|argumento|resumen|información)(?: (?:disponible|disponibles|todavía|aún|"
    r"por el momento|por ahora|en español))*",
    r"(?:la |el )?(?:sinopsis|descripción|argumento|resumen) (?:no disponible|aún no disponible|pendiente|"
    r"próximamente|desconocido|desconocida)",
    r"(?:no disponible|próximamente)",
    # Italian
    r"(?:nessuna|nessun|non c è|senza|non è disponibile|non disponiamo di) (?:una )?(?:trama|descrizione|sinossi|"
    r"riassunto|sommario)(?: (?:disponibile|al momento|per ora|ancora|in italiano))*",
    r"(?:la |il )?(?:trama|descrizione|sinossi|riassunto) (?:non disponibile|non ancora disponibile|in arrivo|"
    r"sconosciuta|sconosciuto)",
    r"(?:non disponibile|prossimamente)",
    # Portuguese
    r"(?:sem|nenhuma|nenhum|não há|não temos|ainda não há) (?:uma )?(?:sinopse|descrição|resumo|enredo)"
    r"(?: (?:disponível|disponíveis|ainda|no momento|por enquanto|em português))*",
    r"(?:a |o )?(?:sinopse|descrição|resumo|enredo) (?:não disponível|indisponível|ainda não disponível|em breve|"
    r"desconhecida|desconhecido)",
    r"(?:não disponível|indisponível|em breve)",
    # Dutch, Polish, Turkish, Russian
    r"(?:nog )?geen (?:beschrijving|samenvatting|omschrijving|synopsis|plot)(?: (?:beschikbaar|gevonden|bekend))*",
    r"niet beschikbaar",
    r"(?:brak|nie ma) (?:opisu|fabuły|streszczenia)(?: filmu)?",
    r"(?:opis|fabuła) (?:niedostępny|niedostępna|wkrótce)",
    r"(?:henüz )?(?:özet|açıklama|konu) (?:yok|mevcut değil|bulunamadı)",
    r"(?:описание|сюжет|синопсис|аннотация)(?: (?:фильма|сериала|мультфильма))? (?:отсутствует|недоступно|недоступен|не найдено|не найден|"
    r"пока не добавлено|появится позже|скоро появится)",
    r"(?:нет|пока нет|отсутствует) (?:описания|сюжета|синопсиса|аннотации)(?: (?:фильма|сериала|мультфильма))?",
    # Chinese (Douban's 暂无简介), Japanese, Korean
    r"(?:暂无|暫無|暂时没有|暫時沒有|还没有|還沒有|没有|沒有|无|無)(?:相关)?(?:的)?(?:剧情|劇情|内容|內容|影片|电影|電影)?"
    r"(?:简介|簡介|介绍|介紹|描述|信息|資訊|资料|資料|概要|梗概|剧情|劇情)?(?:信息)?",
    r"(?:剧情|劇情)?(?:简介|簡介|介绍|介紹|描述)(?:暂无|暫無|待补充|待補充|待定|未知)",
    r"待定|敬请期待|敬請期待",
    r"(?:あらすじ|ストーリー|概要|内容|作品紹介|解説)(?:は|が|の情報は)? ?(?:まだ)?(?:ありません|ないです|ない|なし|"
    r"無し|未定|準備中|未登録|登録されていません)",
    r"情報なし|未定|準備中|調査中",
    r"(?:등록된 )?(?:줄거리|시놉시스|소개|내용)(?: 정보)?(?:가|이|는)? ?(?:없습니다|없음|준비중|준비 중입니다|준비중입니다)",
)
# A site's page furniture copied with the cell: IMDb's "It looks like we don't have any Plot
# Summaries for this title yet. Be the first to contribute! Just click the "Edit page" button ...",
# in any order and number of its sentences.
_SITE_FILLER = _regex(
    r"(?:(?:it looks like we don t have (?:a|an|any) [a-z ]{1,40}? for this title yet|be the first to contribute|"
    r"just click the edit page button at the bottom of the page(?: or learn more in the [a-z ]{1,40}? guide)?|"
    r"learn more in the [a-z ]{1,40}? guide|add a plot(?: in your language)?|add a synopsis|"
    r"see full (?:summary|synopsis)|edit page|read more|see more|this section is empty|"
    r"you can help by adding to it|this (?:section|article) needs (?:a plot summary|expansion)|"
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december) \d{4}) ?)+"
    # lipsum.com's explanation of Lorem ipsum, pasted for it: English words, so not `is_lorem_ipsum`'s
    r"|lorem ipsum is (?:simply )?(?:the )?dummy text\b.*"
)
_PLACEHOLDER_KEYS = frozenset(placeholder_key(p).replace(" ", "") for p in SYNOPSIS_PLACEHOLDERS)
#: No placeholder is longer (a label before, a "[Written by ...]" after): a longer cell is a
#: synopsis unless it starts as a site's filler or Lorem ipsum does (`_may_be_long_filler`).
_LONGEST_PLACEHOLDER = 200
_LONG_FILLER_STARTS = ("it looks like we", "be the first to", "just click the", "lorem ipsum", "sed ut perspiciatis",
                       "this section is empty")

# Lorem ipsum: the words of the classic passage and of the generators (lipsum.com) that continue it.
_LOREM_TEXT = """
lorem ipsum dolor sit amet consectetur consectetuer adipiscing adipisicing elit sed do eiusmod tempor incididunt ut
labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea
commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum eu fugiat nulla pariatur excepteur
sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum
a ac accumsan aenean aliquam aliquet ante arcu at auctor augue bibendum blandit condimentum congue convallis cras
curabitur cursus dapibus diam dictum dictumst dignissim donec dui efficitur egestas eget eleifend elementum erat
eros etiam euismod facilisi facilisis fames faucibus felis fermentum feugiat finibus fringilla fusce gravida
habitant habitasse hac hendrerit iaculis imperdiet integer interdum justo lacinia lacus laoreet lectus leo libero
ligula lobortis luctus maecenas massa mattis mauris metus mi molestie mollis morbi nam nec neque netus nibh nisl
nullam nunc odio orci ornare pellentesque pharetra phasellus placerat platea porta porttitor posuere potenti
praesent pretium primis proin pulvinar purus quam quisque rhoncus risus rutrum sagittis sapien scelerisque
semper senectus sociosqu sodales sollicitudin suscipit suspendisse tellus tempus tincidunt tortor tristique
turpis ultrices ultricies urna varius vehicula vel velit venenatis vestibulum vitae vivamus viverra volutpat
vulputate perspiciatis unde omnis iste natus error voluptatem accusantium doloremque laudantium totam rem aperiam
eaque ipsa quae ab illo inventore veritatis quasi architecto beatae vitae dicta explicabo nemo ipsam quia voluptas
aspernatur aut odit fugit consequuntur magni dolores eos ratione sequi nesciunt neque porro quisquam dolorem
numquam eius modi tempora incidunt magnam quaerat
"""
LOREM_WORDS = frozenset(_LOREM_TEXT.split())
#: Share of Lorem words above which a cell is Lorem ipsum: 0.8 without "lorem ipsum" first, so a
#: Latin synopsis is not one; 0.5 after it, so filler that a real plot follows is kept.
_LOREM_SHARE, _LOREM_SHARE_AFTER_START = 0.8, 0.5
#: Words that only Lorem ipsum has (Latin has "et", "in", "non" ...): one must be there.
_LOREM_MARKS = frozenset({"lorem", "ipsum", "amet", "consectetur", "consectetuer", "adipiscing", "adipisicing",
                          "eiusmod", "incididunt", "pellentesque", "vestibulum", "curabitur", "aenean",
                          # the "Sed ut perspiciatis" passage that generators offer as well
                          "perspiciatis", "doloremque", "laudantium", "accusantium"})


def is_lorem_ipsum(key: str) -> bool:
    """True when the `placeholder_key` ``key`` is Lorem ipsum, of any length: most of its words
    (`LOREM_WORDS`) are the placeholder's, and one is only the placeholder's (`_LOREM_MARKS`)."""
    words = key.split()
    if not words or not _LOREM_MARKS.intersection(words):
        return False
    share = sum(w in LOREM_WORDS for w in words) / len(words)
    return share >= (_LOREM_SHARE_AFTER_START if words[:2] == ["lorem", "ipsum"] else _LOREM_SHARE)


def _may_be_long_filler(text: str) -> bool:
    """Whether a cell longer than any placeholder may still be filler: it begins as a site's
    filler or Lorem ipsum does (a look at its first words, no copy of a real synopsis)."""
    head = text[:24].casefold().lstrip(" \"'([")
    if head.startswith(_LONG_FILLER_STARTS):
        return True
    first = _NON_WORD.sub(" ", head).split()
    return bool(first) and first[0] in _LOREM_MARKS
