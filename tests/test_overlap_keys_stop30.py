"""Training rows edited by a letter or a few, found by the chunk keys of key method 7 (stop 30).

A new user's probe: `evaluate` with the bundled model on 20 lightly edited training rows found 17. Missed were a
101-letter synopsis with one letter dropped, a short one with a "PLOT: " prefix and a stray letter, and one with a
letter dropped every 60 letters: every key of method 6 (the whole text, 60-letter windows at its start, end and
inside) holds an edited letter. Each case is made here of a real row; invented synopses check the same without the
data, and that similar but different synopses are not taken for each other.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from conftest import real_csv_or_skip, synthetic_movies, write_csv

from genretag.data import SYNOPSIS_KEY_METHOD, SynopsisKeys
from genretag.data.splits import CHUNK_MIN_LETTERS, CHUNKS, synopsis_chunk_key
from genretag.evaluation import evaluate, load_rows, overlap_keys
from genretag.runs import SPLIT_FILE, bundled_model, load_run


def _letter_at(text: str, k: int) -> int:
    """Position in ``text`` of its ``k``-th letter or digit (from 0)."""
    return [i for i, ch in enumerate(text) if ch.isalnum()][k]


def _dropped(text: str, *letters: int) -> str:
    """``text`` without its letters at these letter positions."""
    gone = {_letter_at(text, k) for k in letters}
    return "".join(ch for i, ch in enumerate(text) if i not in gone)


def _every_60(text: str) -> str:
    """``text`` with a letter dropped every 60 letters (the 30th, 90th, ...)."""
    n = sum(ch.isalnum() for ch in text)
    return _dropped(text, *range(29, n, 60))


def _stray(text: str, k: int, letter: str = "x") -> str:
    """``text`` with ``letter`` added before its ``k``-th letter."""
    i = _letter_at(text, k)
    return text[:i] + letter + text[i:]


def _method_6(keys: SynopsisKeys) -> SynopsisKeys:
    """The same keys without the chunk keys: what a run of method 6 stored."""
    return SynopsisKeys(keys.keys, keys.prefixes, keys.suffixes, method=6, inner=keys.inner)


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


# --------------------------------------------------------------------------- invented synopses, no data

SHORT = "Two brothers rob a bank in a small Texas town."  # 36 letters
MIDDLE = ("A retired detective is pulled back into an old case when a letter arrives from a woman who vanished "
          "in 1987.")  # 87 letters
LONG = ("Two estranged sisters inherit a failing vineyard in the hills above Mendoza and must bring in one last "
        "harvest together before the bank takes the land. As the grapes ripen, old quarrels return, a storm "
        "threatens the crop, and a buyer from Buenos Aires makes an offer that only one of them wants to accept.")  # 246


def test_synopses_edited_by_a_letter_or_a_few_are_found_and_were_not_by_method_6():
    keys = SynopsisKeys.of([SHORT, MIDDLE, LONG])
    assert keys.method == SYNOPSIS_KEY_METHOD == 7 and len(keys.chunks) == 3
    older = _method_6(keys)
    # Each edit touches the whole text and every 60-letter window method 6 keeps: it found none of them.
    edited = [
        _dropped(SHORT, 18),  # "Two brothers rob a bnk in ..."
        _stray(SHORT, 12, "e"),  # a letter added
        SHORT.replace("Texas", "Taxas"),  # a letter changed
        "PLOT: " + _stray(MIDDLE, 44),  # a prefix and a stray letter
        _dropped(MIDDLE, 40),
        _dropped(MIDDLE, 10, 70) + " (Source: TMDB)",  # two letters dropped and a source line
        _every_60(LONG),
        _dropped(_stray(LONG, 30), 70, 140, 200),  # a letter added, three dropped
    ]
    assert [keys.holds(t) for t in edited] == [True] * 8
    assert [older.holds(t) for t in edited] == [False] * 8
    # Found as they were, too, and after a title joined to them.
    assert all(keys.holds(t) for t in (SHORT, MIDDLE, LONG, "Harvest — " + _every_60(LONG)))


def test_chunk_keys_are_small_and_read_back():
    key = synopsis_chunk_key(LONG)
    assert len(key) == 2 + 3 * CHUNKS  # the length, then 16 chunks of 18 bits
    assert synopsis_chunk_key("A comedy show about a bank.") is None  # under CHUNK_MIN_LETTERS: no chunk key
    assert synopsis_chunk_key(SHORT) is not None and _letters(SHORT) == 36 >= CHUNK_MIN_LETTERS
    keys = SynopsisKeys.of([SHORT, LONG])
    again = SynopsisKeys.from_json(json.loads(json.dumps(keys.to_json())))
    assert again == keys and again.holds(_every_60(LONG)) and again.holds(_dropped(SHORT, 3))


def test_similar_but_different_synopses_are_not_taken_for_each_other():
    keys = SynopsisKeys.of([SHORT, MIDDLE, LONG,
                            "A documentary about the life and work of the jazz pianist Thelonious Monk."])
    others = [
        "Two sisters rob a bank in a small Texas town.",  # another film: two chunks differ in a short synopsis
        "A retired detective is pulled back into one last case when his daughter vanishes from a ferry to Norway.",
        "A documentary about the life and work of the jazz trumpeter Miles Davis.",
        ("Two estranged brothers inherit a failing ranch in the hills above Montana and must bring in one last "
         "herd together before winter comes."),
        "A bank in a small Texas town is robbed on the day two brothers come home from the war.",  # out of order
    ]
    assert [keys.holds(t) for t in others] == [False] * 5
    # The limit: a short synopsis with one word changed inside one of its 7-letter chunks ("abankin" of 5) is taken
    # for a copy with a letter edited there; the chunk keys cannot tell one edited letter from five.
    assert keys.holds("Two brothers rob a train in a small Texas town.")
    # A long text made of many plots holds the chunks of a keyed one scattered, never together.
    scattered = " ".join(f"{w} happened in chapter {i}." for i, w in enumerate(LONG.split()))
    assert not keys.holds(scattered)


# --------------------------------------------------------------------------- real rows of the bundled model's data

@pytest.fixture(scope="module")
def bundled():
    real_csv_or_skip()
    return load_run(bundled_model(), device="cpu")


@pytest.fixture(scope="module")
def probe(bundled):
    """The three edits the probe's evaluation missed, each of a real training row, with their rows."""
    d = pd.read_csv(real_csv_or_skip())
    train = bundled.split()["train"]
    plain = [p for p in train if d.iloc[p]["overview"].isascii()]

    def first(low: int, high: int) -> int:
        return next(p for p in plain if low <= _letters(d.iloc[p]["overview"]) <= high)

    rows = [first(101, 101), first(40, 50), first(300, 400)]
    texts = [d.iloc[p]["overview"] for p in rows]
    edited = [_dropped(texts[0], 50), "PLOT: " + _stray(texts[1], 20, "q"), _every_60(texts[2])]
    return d, rows, texts, edited


def test_the_three_edits_the_probe_missed_are_found_by_the_bundled_model_keys(bundled, probe):
    _, _, texts, edited = probe
    saved = bundled.split()
    keys = overlap_keys(bundled, saved)
    # Stored with the bundled model: found without its data file (an installed wheel).
    assert saved["train_synopses"]["method"] == 7 and keys["train"].method == 7 and keys["limited"] is None
    assert [keys["train"].holds(t) for t in edited] == [True, True, True]
    # Method 6's keys of the same rows find none of them: every key holds an edited letter.
    assert [_method_6(SynopsisKeys.of(texts)).holds(t) for t in edited] == [False, False, False]


def test_evaluate_leaves_out_training_rows_edited_by_a_letter(bundled, probe, tmp_path):
    d, rows, _, edited = probe
    test = bundled.split()["test"][:6]
    frame = pd.DataFrame({"plot": edited + d.iloc[test]["overview"].tolist(),
                          "labels": d.iloc[rows + test]["genre_ids"].tolist()})
    frame.to_csv(tmp_path / "edited.csv", index=False)
    checked, _ = load_rows(bundled, data=tmp_path / "edited.csv")
    assert checked.training_rows["found"] == 3 and checked.training_rows["left_out"] is True
    assert len(checked.texts) == 6


def test_no_validation_or_test_row_nor_an_edited_copy_of_one_is_taken_for_a_training_row(bundled):
    """The chunk keys are loose: on the bundled model's own split, its 750 test rows (the protocol's) and 864
    validation rows, each as it is, with a letter dropped, and 30 of them joined in one long text, match no
    training row's keys."""
    d = pd.read_csv(real_csv_or_skip())
    saved = bundled.split()
    keys = overlap_keys(bundled, saved)["train"]
    others = d.iloc[saved["validation"] + saved["test"]]
    plots = others["overview"].tolist()
    joined = [f"{t}. {p}" for t, p in zip(others["title"], plots)]
    assert len(plots) == 1614
    assert sum(keys.holds(p) or keys.holds(j) for p, j in zip(plots, joined)) == 0
    edited = [_dropped(p, _letters(p) // 2) for p in plots if _letters(p) >= CHUNK_MIN_LETTERS]
    assert sum(keys.holds(p) for p in edited) == 0
    assert sum(keys.holds(" ".join(plots[k:k + 30])) for k in range(0, len(plots), 30)) == 0


# --------------------------------------------------------------------------- runs with keys of method 6

def test_a_run_with_method_6_keys_is_keyed_afresh_or_says_what_its_keys_miss(tiny_run, movies_csv, tmp_path):
    copy = shutil.copytree(tiny_run, tmp_path / "run")
    split = json.loads((copy / SPLIT_FILE).read_text())
    old = {**split["train_synopses"], "method": 6}  # as runs of stop 28 and 29 stored them
    old.pop("chunks")
    split.update(train_synopses=old, data=str(movies_csv))
    split.pop("validation_synopses")
    (copy / SPLIT_FILE).write_text(json.dumps(split))
    keys = overlap_keys(load_run(copy, device="cpu"))
    assert keys["train"].method == 7 and keys["train"].chunks and keys["limited"] is None  # from its data file
    copy = shutil.copytree(copy, tmp_path / "moved")  # its data file gone (a copy of the run elsewhere)
    split["data"] = str(tmp_path / "gone.csv")
    (copy / SPLIT_FILE).write_text(json.dumps(split))
    keys = overlap_keys(load_run(copy, device="cpu"))
    assert keys["train"].method == 6 and not keys["train"].chunks
    assert keys["limited"] == "the run keeps keys of method 6, and its training data gone.csv is not here to key afresh"
    other = write_csv(tmp_path / "other.csv", synthetic_movies(6, seed=91))
    results = evaluate(load_run(copy, device="cpu"), data=other, baseline=False)
    assert ("training overlap checked by whole synopses and 60-letter windows of them only (the run keeps keys of "
            "method 6, and its training data gone.csv is not here to key afresh): a training synopsis with a letter "
            "edited in each window (a short one edited once) is not found") in results["warnings"]
