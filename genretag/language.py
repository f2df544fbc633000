"""Which writing system synopses are in, and whether it is one a run was trained on.

A model trained on English synopses gives confident nonsense for Chinese ones (the same
"Action|Drama" for every film). Telling languages apart needs a language model; telling
scripts apart needs only the Unicode blocks of the letters, which is cheap enough to run
on every row that is tagged. A run records the scripts of its training rows
(`text_profile`, in ``meta.json``); rows written mostly in another script are flagged.
Runs written before this record, and the bundled model, were trained on English: Latin.

Within the Latin script, a synopsis in Spanish, Turkish or Vietnamese is told from an English
one by its function words (`looks_english`): English synopses are about 40% words such as
"the", "of", "his"; other languages' have few of them and more of their own ("de", "und",
"bir", Finnish "ja", Hungarian "egy", Czech "že"). A run records the share of its training rows that look English; for a run trained on
English (`trained_on_english`), rows that do not are flagged too, as are rows with no letters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

PROFILE_METHOD = "scripts-v1"
#: Scripts by Unicode block (letters only; punctuation blocks are left out).
SCRIPT_RANGES = {
    "Latin": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x24F), (0x1E00, 0x1EFF),
              (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)),  # ... and full-width Latin
    "Greek": ((0x370, 0x3FF), (0x1F00, 0x1FFF)),
    "Cyrillic": ((0x400, 0x52F),),
    "Armenian": ((0x530, 0x58F),),
    "Hebrew": ((0x5D0, 0x5FF),),
    "Arabic": ((0x620, 0x6FF), (0x750, 0x77F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),  # ... and presentation forms
    "Syriac": ((0x700, 0x74F),),
    "Thaana": ((0x780, 0x7BF),),
    "Devanagari": ((0x900, 0x97F),),
    "Bengali": ((0x980, 0x9FF),),
    "Gurmukhi": ((0xA00, 0xA7F),),
    "Gujarati": ((0xA80, 0xAFF),),
    "Oriya": ((0xB00, 0xB7F),),
    "Tamil": ((0xB80, 0xBFF),),
    "Telugu": ((0xC00, 0xC7F),),
    "Kannada": ((0xC80, 0xCFF),),
    "Malayalam": ((0xD00, 0xD7F),),
    "Sinhala": ((0xD80, 0xDFF),),
    "Thai": ((0xE00, 0xE7F),),
    "Lao": ((0xE80, 0xEFF),),
    "Tibetan": ((0xF00, 0xFFF),),
    "Myanmar": ((0x1000, 0x109F),),
    "Georgian": ((0x10A0, 0x10FF),),
    "Ethiopic": ((0x1200, 0x139F),),
    "Khmer": ((0x1780, 0x17FF),),
    "Mongolian": ((0x1800, 0x18AF),),
    "Hangul": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF), (0xFFA0, 0xFFDC)),
    "Kana": ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)),  # ... and half-width katakana
    "Han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)),
    "Other": (),  # letters of every script not listed (Cherokee, Tifinagh, Adlam ...): `_TABLE`
}
SCRIPTS = tuple(SCRIPT_RANGES)
#: Characters read from the start of each row: enough to tell its script, and it bounds the cost.
SAMPLE_CHARS = 200
#: A row with fewer letters than this in known scripts is not judged (a title, a number).
MIN_LETTERS = 3
#: A script is one the run knows when at least this share of its training rows are in it.
MIN_SHARE = 0.05
#: Share of kana among a row's Han and kana letters from which the row is Japanese, not Chinese
#: (Japanese prose is about a third kana or more; Chinese has none).
KANA_SHARE = 0.1
#: What runs without a recorded profile (older runs, the bundled model) were trained on.
DEFAULT_SCRIPTS = ("Latin",)

# Script index of every code point of the Basic Multilingual Plane (-1: no letter); a letter of no
# listed script is "Other", so that a synopsis in it is flagged rather than not judged.
_OTHER = SCRIPTS.index("Other")
_TABLE = np.full(0x10000, -1, dtype=np.int8)
_TABLE[[c for c in range(0x10000) if chr(c).isalpha()]] = _OTHER
for _k, _name in enumerate(SCRIPTS):
    for _lo, _hi in SCRIPT_RANGES[_name]:
        _TABLE[_lo:_hi + 1] = _k


def script_counts(texts: Sequence[str]) -> np.ndarray:
    """Letters per script in each row's first `SAMPLE_CHARS` characters, ``[rows, len(SCRIPTS)]``.

    One vectorised pass over all rows (about 40 ms per 1,000 rows of 200 characters).
    """
    texts = [t[:SAMPLE_CHARS] if isinstance(t, str) else "" for t in texts]
    counts = np.zeros((len(texts), len(SCRIPTS)), dtype=np.int64)
    if not texts:
        return counts
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    script = _TABLE[np.minimum(codes, 0xFFFF)].astype(np.int64)
    beyond = np.flatnonzero(codes > 0xFFFF)  # Adlam, CJK extension B ...: rare, judged one by one
    script[beyond] = [_OTHER if chr(int(codes[i])).isalpha() else -1 for i in beyond]
    rows = np.repeat(np.arange(len(texts)), [len(t) for t in texts])
    inside = script >= 0
    flat = np.bincount(rows[inside] * len(SCRIPTS) + script[inside], minlength=counts.size)
    return flat.reshape(counts.shape)


def row_scripts(texts: Sequence[str]) -> list[str]:
    """The script most of each row's letters are in; ``""`` when it has too few letters to tell.

    Japanese is written in Han characters (kanji) and kana, often more of the first: a row whose
    letters are mostly Han with at least `KANA_SHARE` of kana among them is Japanese, ``"Kana"``.
    """
    counts = script_counts(texts)
    top = counts.argmax(axis=1)
    han, kana = SCRIPTS.index("Han"), SCRIPTS.index("Kana")
    japanese = (top == han) & (counts[:, kana] >= KANA_SHARE * (counts[:, han] + counts[:, kana])) & (counts[:, kana] > 0)
    top = np.where(japanese, kana, top)
    enough = counts.sum(axis=1) >= MIN_LETTERS
    return [SCRIPTS[k] if ok else "" for k, ok in zip(top, enough)]


#: Scripts written without spaces between words: a whitespace count says nothing about length.
UNSPACED_SCRIPTS = frozenset({"Thai", "Lao", "Khmer", "Myanmar", "Tibetan", "Kana", "Han"})
#: Characters per word assumed for those scripts (Chinese and Japanese words are one to three characters).
CHARS_PER_WORD = 2


def word_counts(texts: Sequence[str], scripts: Sequence[str] | None = None) -> np.ndarray:
    """Words per text (int ``[rows]``): split on whitespace, or, for a text mostly in a script
    written without spaces (`UNSPACED_SCRIPTS`), its non-space characters / `CHARS_PER_WORD`.
    ``scripts``: the texts' `row_scripts`, when the caller has them already."""
    scripts = row_scripts(texts) if scripts is None else scripts
    return np.array([sum(not c.isspace() for c in text) // CHARS_PER_WORD if script in UNSPACED_SCRIPTS
                     else len(text.split()) for text, script in zip(texts, scripts)], dtype=np.int64)


def text_profile(texts: Sequence[str]) -> dict:
    """What a run records about its training text: the share of rows in each script, and of
    the Latin rows long enough to judge, the share that look English (`looks_english`).

    Returns:
        ``{"method", "rows", "scripts": {name: share of judged rows}, "english": share or None}``,
        shares rounded to 4 places.
    """
    row_script = row_scripts(texts)
    scripts = [s for s in row_script if s]
    names, counts = np.unique(np.array(scripts, dtype=object), return_counts=True) if scripts else ((), ())
    shares = {str(name): round(int(c) / len(scripts), 4) for name, c in sorted(zip(names, counts), key=lambda x: -x[1])}
    judged = [looks_english(t) for t, s in zip(texts, row_script) if s == "Latin"]
    judged = [j for j in judged if j is not None]
    english = round(sum(judged) / len(judged), 4) if judged else None
    return {"method": PROFILE_METHOD, "rows": len(texts), "scripts": shares, "english": english}


#: Frequent English function and story words (synopses of the TMDB file: median 44% of words).
ENGLISH_WORDS = frozenset("""
the a an of to and in is his her with on for as at by who that from after their he she it they when but into are was
be has have this its them him one two while about must out up until himself herself where what which all not no young
new man woman life world family story years own finds find becomes help during being there then before between only
more than other over through so love friends friend""".split())
#: Frequent function words of other languages written in the Latin script (none of them English words).
OTHER_WORDS = frozenset("""
de la el los las le les des du une un et est il elle ils dans pour pas qui que avec sur der das und ein eine einer einen
ist nicht mit sich dem den zu von auf für auch y en con por para una del al se su sus es lo como pero más di della
delle nel per che non sono gli het een van niet voor och att är på som för med ett não uma com os às pela pelo dos das
também o e ao aos na nas nos em seu sua seus suas ele ela eles elas mas quando depois sobre muito até enquanto
precisa vida dele dela pelos pelas onde entre bir ve bu ile için olan çok của một và những các là người trong được có không yang dan ke dari untuk dengan
tidak ini itu
ja että hänen hänet hän ei kun mutta joka jonka tai myös kanssa
egy és hogy meg kell nem az van volt aki ami ez fel mint csak már után
se v že byl byla je na ve z k jeho její který která které aby ale jak když jsou před sa bol
da u za od svoj mora bil
et see ta tema kui mis oma aga kes või ning teda tal
die nie vir wat hy sy om deur word haar
og er til af ikke han hun som være blev efter
și în cu pe este care lui să nu din sau
i w się jest jego jej oraz gdy
ir ar ka savā viņš viņam kas lai kad su į buvo savo jis jo kuris
seu seva amb als dels eta bat batean du bere baten ere dute zen
að á í sem hann hún við um sínum
einem im zum zur vom beim nach wird wurde werden seine seiner seinen ihre ihren ihrer als wie aber oder wenn dass
muss kann noch nur sehr unter gegen durch bei aus""".split()) - ENGLISH_WORDS
#: Words of `OTHER_WORDS` that also begin names ("Jan de Vries", "Ludwig van Beethoven", "Maria del Carmen").
NAME_PARTICLES = frozenset({"de", "del", "della", "di", "da", "do", "dos", "das", "du", "des", "la", "le", "van",
                            "von", "der", "den", "y", "los", "las", "el"})
#: Fewer words than this and a row is not judged (a title, a tagline).
MIN_WORDS = 8
_WORD = re.compile(r"[^\W\d_]+")


def looks_english(text: str) -> bool | None:
    """Whether a Latin-script text reads as English: no fewer English function words than other
    languages' (`ENGLISH_WORDS`, `OTHER_WORDS`: a tie is English, as in "Maria de los Santos
    falls for him in Manila"), and some. None for fewer than `MIN_WORDS` words, and for a list
    of names (most words capitalised, no function word of any language).

    On the 9,393 synopses of the TMDB file it is False for 2 (one French, one Italian).
    """
    tokens = _WORD.findall(text[:SAMPLE_CHARS * 3])
    if len(tokens) < MIN_WORDS:
        return None
    words = [w.lower() for w in tokens]
    english = sum(w in ENGLISH_WORDS for w in words)
    # A name particle is not the language: "Jan de Vries", "Pieter van den Berg", "Maria del Carmen":
    # between two capitalised words. German capitalises its nouns: "in der Nachtschicht" is German.
    particle = [False] * (len(words) + 1)
    for i in range(len(words) - 1, -1, -1):
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        first = i
        while first > 0 and words[first - 1] in NAME_PARTICLES:
            first -= 1
        named_before = first == 0 or tokens[first - 1][:1].isupper()  # "Las Vegas", "El Paso" open a list
        particle[i] = words[i] in NAME_PARTICLES and named_before and (after[:1].isupper() or particle[i + 1])
    other = sum(w in OTHER_WORDS and not particle[i] for i, w in enumerate(words))
    if english == other == 0 and sum(t[:1].isupper() for t in tokens) >= 0.6 * len(tokens):
        return None  # names alone ("Mario, Luigi, Peach …", "Las Vegas, Los Angeles …"): no language to tell
    return english >= other and english >= 0.05 * len(words)


def trained_on_english(meta: dict | None) -> bool:
    """A run trained on English: 90% of its judged Latin training rows look English, or a run
    without that record whose scripts are unknown (older runs and the bundled model, trained on
    English). Runs that recorded scripts but not English are not judged."""
    profile = (meta or {}).get("text_profile")
    if not isinstance(profile, dict) or profile.get("method") != PROFILE_METHOD:
        return True
    english = profile.get("english")
    return isinstance(english, (int, float)) and english >= 0.9


def known_scripts(meta: dict | None) -> tuple[str, ...]:
    """The scripts a run was trained on (`MIN_SHARE` of its rows or more), from its ``meta.json``."""
    profile = (meta or {}).get("text_profile")
    if not isinstance(profile, dict) or profile.get("method") != PROFILE_METHOD:
        return DEFAULT_SCRIPTS
    known = tuple(name for name, share in profile.get("scripts", {}).items() if share >= MIN_SHARE)
    return known or DEFAULT_SCRIPTS


def script_warnings(texts: Sequence[str], known: Sequence[str], scripts: Sequence[str] | None = None, *,
                    english: bool = False) -> list[str]:
    """Per row, ``""`` or a note: ``"Han script (model: Latin)"`` for a row in another script;
    with ``english`` (`trained_on_english`), ``"not English (model: English)"`` for a Latin row
    that does not look English, and ``"no letters (model: Latin)"`` for a text without letters
    (emoji, numbers). ``scripts``: the texts' `row_scripts`, when the caller has them already."""
    model = "/".join(known)
    scripts = row_scripts(texts) if scripts is None else scripts
    notes = []
    for text, script in zip(texts, scripts):
        if script and script not in known:
            notes.append(f"{script} script (model: {model})")
        elif english and script == "Latin" and looks_english(text) is False:
            notes.append("not English (model: English)")
        elif english and not script and text and not _WORD.search(text):
            notes.append(f"no letters (model: {model})")
        else:
            notes.append("")
    return notes


def count_by_script(warnings: Sequence[str]) -> dict[str, int]:
    """Flagged rows per script (most first), from `script_warnings` output."""
    # only the language notes: a row's column may hold another note (`genretag.tagging.SHORT_NOTE`)
    flagged = [w.split(" (model", 1)[0].removesuffix(" script") for w in warnings if w and " (model: " in w]
    if not flagged:
        return {}
    names, counts = np.unique(np.array(flagged, dtype=object), return_counts=True)
    return {str(name): int(n) for name, n in sorted(zip(names, counts), key=lambda x: -x[1])}


def describe(by_script: dict[str, int], rows: int, known: Sequence[str]) -> str | None:
    """One line counting the flagged rows by script, or None when none is flagged."""
    if not by_script:
        return None
    listed = ", ".join(f"{n} {name}" for name, n in by_script.items())
    if set(by_script) <= set(SCRIPTS):
        return (f"{sum(by_script.values())} of {rows} synopses do not look like the model's language: they are not in "
                f"the {'/'.join(known)} script it was trained on ({listed}); their genres are unreliable")
    return (f"{sum(by_script.values())} of {rows} synopses do not look like the model's language ({listed}; it was "
            f"trained on English, {'/'.join(known)} script); their genres are unreliable")
