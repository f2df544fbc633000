"""Tests for genretag.data: genre parsing, CSV reading, column detection, drops, splits."""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from genretag.data import (
    GENRE_COLUMN_CANDIDATES,
    TEXT_COLUMN_CANDIDATES,
    DropReport,
    LabelledData,
    canonical_genre,
    detect_columns,
    drop_genres,
    file_fingerprint,
    is_malformed_list,
    iter_csv_chunks,
    join_text,
    load_labelled,
    parse_genres,
    rare_genres,
    read_csv,
    split_indices,
)
from genretag.errors import DataError

REAL_CSV_NAME = "tmdb-movie-genres-9k.csv"


def shared_data_file(name: str) -> Path:
    """Path of a file in ../shared/data; skip (or fail in CI) when it is absent."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / name
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared data not found at {path} (required in CI)")
        pytest.skip(f"shared data not found at {path}")
    return path


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- parse_genres


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("['Action', 'Drama']", ["Action", "Drama"]),
        ('[{"id": 28, "name": "Action"}, {"id": 878, "name": "Science Fiction"}]', ["Action", "Science Fiction"]),
        ("[{'id': 28, 'name': 'Action'}]", ["Action"]),
        ('["Comedy", "Romance"]', ["Comedy", "Romance"]),
        ("Action, Drama", ["Action", "Drama"]),
        ("Action|Drama", ["Action", "Drama"]),
        ("Action; Drama", ["Action", "Drama"]),
        ("Action | Adventure | Sci-Fi", ["Action", "Adventure", "Sci-Fi"]),
        ("Drama", ["Drama"]),
        ("Sci-Fi/Fantasy", ["Sci-Fi/Fantasy"]),
        ("Action & Adventure, War & Politics", ["Action & Adventure", "War & Politics"]),
        ("[Action, Drama]", ["Action", "Drama"]),
        (["Action", "Drama"], ["Action", "Drama"]),
        (("Action",), ["Action"]),
        ([{"id": 1, "name": "Horror"}], ["Horror"]),
        (float("nan"), []),
        (None, []),
        (pd.NA, []),
        ("", []),
        ("   ", []),
        ("[]", []),
        ("N/A", []),
        ("nan", []),
    ],
)
def test_parse_genres_formats(cell, expected):
    assert parse_genres(cell) == expected


def test_parse_genres_malformed_list_falls_back_to_splitting():
    assert parse_genres("['Action', 'Dra") == ["Action", "Dra"]
    assert parse_genres("['Action', 'Drama'") == ["Action", "Drama"]
    assert parse_genres('[{"id": 28, "name": "Action"}, {"id": 18, "na') == ["Action"]
    assert parse_genres("[[[") == []


def test_parse_genres_canonicalises_and_dedupes():
    assert parse_genres("science fiction|DRAMA|Drama|  drama ") == ["Science Fiction", "Drama"]
    assert parse_genres("['Comedy', 'Comedy', 'Action']") == ["Comedy", "Action"]
    assert parse_genres("Action, , Drama,") == ["Action", "Drama"]


def test_parse_genres_never_evaluates_code(tmp_path):
    marker = tmp_path / "evaluated"
    names = parse_genres(f"[open({str(marker)!r}, 'w'), 'Drama']")
    assert not marker.exists()
    assert names[-1] == "Drama"


def test_canonical_genre():
    assert canonical_genre("science fiction") == "Science Fiction"
    assert canonical_genre("DRAMA") == "Drama"
    assert canonical_genre("  Sci-Fi ") == "Sci-Fi"
    assert canonical_genre("TV Movie") == "TV Movie"
    assert canonical_genre("TV MOVIE") == "TV Movie"
    assert canonical_genre("sci-fi") == "Sci-Fi"
    assert canonical_genre("children's") == "Children's"
    assert canonical_genre("Film   Noir") == "Film Noir"
    assert canonical_genre("BİLİM-KURGU") == "Bilim-Kurgu"  # Turkish: not "Bi̇Li̇M-Kurgu"
    assert canonical_genre("GİZEM") == canonical_genre("gizem") == "Gizem"
    assert canonical_genre("") == ""


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="[]{}()'\",|;:\\ nameidAa0123456789")))
def test_parse_genres_never_raises(cell):
    names = parse_genres(cell)
    assert all(isinstance(n, str) and n == canonical_genre(n) and n for n in names)
    assert len(names) == len(set(names))


NULL_WORDS = {"nan", "none", "null", "n/a", "na"}  # parse_genres reads these as "no value"
safe_names = (
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ -&'", min_size=1, max_size=20)
    .map(canonical_genre)
    .filter(lambda n: n and n[0] not in "-&'" and n[-1] not in "-&'" and n.lower() not in NULL_WORDS)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(safe_names, min_size=1, max_size=8, unique=True))
def test_parse_genres_pipe_round_trip(names):
    assert parse_genres(" | ".join(names)) == names
    assert parse_genres(repr(names)) == names


# --------------------------------------------------------------------------- read_csv


def test_read_csv_basic_all_str(tmp_path):
    path = write_bytes(tmp_path, "a.csv", b"overview,genres,year\nA film.,Drama,1999\nAnother.,,\n")
    df = read_csv(path)
    assert list(df.columns) == ["overview", "genres", "year"]
    assert df.to_dict("records") == [
        {"overview": "A film.", "genres": "Drama", "year": "1999"},
        {"overview": "Another.", "genres": "", "year": ""},
    ]
    assert list(df.index) == [0, 1]
    assert len(read_csv(path, nrows=1)) == 1
    assert list(read_csv(path, nrows=0).columns) == ["overview", "genres", "year"]


def test_read_csv_utf8_bom(tmp_path):
    path = write_bytes(tmp_path, "bom.csv", "\ufeffoverview,genres\nCafé story,Drama\n".encode())
    df = read_csv(path)
    assert list(df.columns) == ["overview", "genres"]
    assert df.loc[0, "overview"] == "Café story"


def test_read_csv_latin1_falls_back_with_warning(tmp_path, caplog):
    path = write_bytes(tmp_path, "l1.csv", "overview,genres\nAmélie à Paris,Comédie\n".encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="genretag.data"):
        df = read_csv(path)
    assert df.loc[0, "overview"] == "Amélie à Paris"
    assert "not valid UTF-8" in caplog.text


def test_read_csv_bytes_undefined_in_cp1252_use_latin1(tmp_path):
    path = write_bytes(tmp_path, "x.csv", b"overview,genres\nA\x81B,Drama\n")
    assert read_csv(path).loc[0, "overview"] == "A\x81B"


def test_read_csv_utf16_with_bom(tmp_path):
    # Excel's "Unicode text" export: UTF-16 with a BOM, tab-separated.
    path = write_bytes(tmp_path, "u16.txt", "overview\tgenres\nÉté, hiver\tDrama\n".encode("utf-16"))
    assert read_csv(path).to_dict("records") == [{"overview": "Été, hiver", "genres": "Drama"}]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("t.tsv", b"overview\tgenres\nA, b, and c.\tDrama|Comedy\n"),
        ("t.txt", b"overview\tgenres\nA, b, and c.\tDrama|Comedy\n"),
        ("s.csv", b"overview;genres\nA, b, and c.;Drama|Comedy\n"),
        ("p.csv", b"overview|genres\nA, b, and c.|Drama, Comedy\n"),
        ("c.csv", b'overview,genres\n"A, b; and c.","Drama|Comedy"\n'),
    ],
)
def test_read_csv_detects_delimiter(tmp_path, name, data):
    df = read_csv(write_bytes(tmp_path, name, data))
    assert list(df.columns) == ["overview", "genres"]
    assert df.loc[0, "overview"].startswith("A, b")


def test_read_csv_quoted_newlines_in_crlf_file(tmp_path):
    data = b'overview,genres\r\n"line one\rline two",Drama\r\n"a\r\nb",Comedy\r\nplain,Action\r\n'
    df = read_csv(write_bytes(tmp_path, "crlf.csv", data))
    assert len(df) == 3
    assert df["overview"].tolist() == ["line one\rline two", "a\r\nb", "plain"]
    assert df["genres"].tolist() == ["Drama", "Comedy", "Action"]


def test_read_csv_keeps_column_names_as_written_and_still_finds_them(tmp_path):
    # The output keeps the file's own header; matching a name ignores the spaces around it.
    from genretag.data import detect_columns

    df = read_csv(write_bytes(tmp_path, "a.csv", b" overview , genres\nx,Drama\n"))
    assert list(df.columns) == [" overview ", " genres"]
    assert detect_columns(list(df.columns)) == ([" overview "], " genres")


def test_read_csv_duplicate_columns(tmp_path):
    path = write_bytes(tmp_path, "d.csv", b"overview,genres,overview\nx,Drama,y\n")
    with pytest.raises(DataError, match="duplicate column names: overview") as excinfo:
        read_csv(path)
    one_line_error(excinfo)


def test_read_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found") as excinfo:
        read_csv(tmp_path / "nope.csv")
    one_line_error(excinfo)


def test_read_csv_directory(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        read_csv(tmp_path)


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n"])
def test_read_csv_empty_file(tmp_path, data):
    with pytest.raises(DataError, match="is empty"):
        read_csv(write_bytes(tmp_path, "e.csv", data))


def test_read_csv_header_only(tmp_path):
    path = write_bytes(tmp_path, "h.csv", b"overview,genres\n")
    with pytest.raises(DataError, match="header but no data rows"):
        read_csv(path)
    with pytest.raises(DataError, match="header but no data rows"):
        list(iter_csv_chunks(path))


def test_read_csv_bad_row_is_a_data_error(tmp_path):
    path = write_bytes(tmp_path, "bad.csv", b"overview,genres\nx,Drama\nx,Drama,extra,more\n")
    with pytest.raises(DataError, match="cannot parse") as excinfo:
        read_csv(path)
    one_line_error(excinfo)


def test_read_csv_gzip(tmp_path):
    import gzip

    path = tmp_path / "a.csv.gz"
    path.write_bytes(gzip.compress("overview;genres\nÉté;Drama\n".encode()))
    assert read_csv(path).to_dict("records") == [{"overview": "Été", "genres": "Drama"}]


def test_iter_csv_chunks_matches_read_csv(tmp_path):
    rows = "".join(f'"Plot {i};\nmore",Drama\n' for i in range(25))
    path = write_bytes(tmp_path, "big.csv", ("\ufeffoverview,genres\n" + rows).encode())
    chunks = list(iter_csv_chunks(path, chunksize=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert list(chunks[2].index) == list(range(20, 25))
    assert all(list(c.columns) == ["overview", "genres"] for c in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks), read_csv(path))


def test_file_fingerprint(tmp_path):
    path = write_bytes(tmp_path, "f.csv", b"abc")
    assert file_fingerprint(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(DataError, match="file not found"):
        file_fingerprint(tmp_path / "missing.csv")


# --------------------------------------------------------------------------- columns


def test_detect_columns_found():
    assert detect_columns(["Title", "Overview", "Generes", "Rating"]) == (["Overview"], "Generes")
    assert detect_columns(["genre_ids", "overview", "title"]) == (["overview"], "genre_ids")
    assert detect_columns(["Plot Summary", "Genre"]) == (["Plot Summary"], "Genre")


def test_detect_columns_given():
    cols = ["title", "overview", "genres", "tags"]
    given = detect_columns(cols, text_cols=["title", "overview"], genres_col="genres")
    assert given == (["title", "overview"], "genres")
    assert detect_columns(cols, text_cols=["OVERVIEW"], genres_col="Tags") == (["overview"], "tags")
    with pytest.raises(DataError, match="matches several columns: Plot, plot"):
        detect_columns(["Plot", "plot", "genres"], text_cols=["PLOT"])


def test_detect_columns_unknown_given():
    with pytest.raises(DataError, match=r"column 'plot' .*not found \(columns: title, overview, genres\)"):
        detect_columns(["title", "overview", "genres"], text_cols=["plot"])
    with pytest.raises(DataError, match="--genres-col"):
        detect_columns(["title", "overview", "genres"], genres_col="labels")


def test_detect_columns_none_found():
    with pytest.raises(DataError, match=r"no synopsis column found \(columns: a, b, c\); pass --text-col NAME"):
        detect_columns(["a", "b", "c"])
    with pytest.raises(DataError, match=r"no genre column found \(columns: overview, b\); pass --genres-col NAME"):
        detect_columns(["overview", "b"])
    assert detect_columns(["overview", "b"], need_genres=False) == (["overview"], None)


def test_detect_columns_ambiguous():
    with pytest.raises(DataError, match="several possible synopsis columns: synopsis, plot; pass --text-col"):
        detect_columns(["plot", "synopsis", "genres"])
    assert detect_columns(["plot", "synopsis", "genres"], text_cols=["plot"]) == (["plot"], "genres")
    with pytest.raises(DataError, match="several possible genre columns: genres, genre"):
        detect_columns(["overview", "genre", "genres"])
    assert detect_columns(["overview", "genre", "genres"], need_genres=False) == (["overview"], None)


def test_detect_columns_refuses_genres_as_text():
    with pytest.raises(DataError, match="both as text and as genres"):
        detect_columns(["overview", "genres"], text_cols=["overview", "genres"], genres_col="genres")


def test_candidate_names_are_normalised():
    for name in TEXT_COLUMN_CANDIDATES + GENRE_COLUMN_CANDIDATES:
        assert name == name.lower().replace(" ", "_")
    assert not set(TEXT_COLUMN_CANDIDATES) & set(GENRE_COLUMN_CANDIDATES)


other_columns = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12).filter(
        lambda c: c not in TEXT_COLUMN_CANDIDATES and c not in GENRE_COLUMN_CANDIDATES
    ),
    max_size=8,
    unique=True,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    others=other_columns,
    case=st.sampled_from(["overview", "Overview", "OVERVIEW", "oVeRvIeW", " Overview "]),
    data=st.data(),
)
def test_detect_columns_finds_overview_anywhere(others, case, data):
    columns = list(others)
    columns.insert(data.draw(st.integers(0, len(columns))), case)
    columns.append("genres")
    assert detect_columns(columns) == ([case], "genres")


# --------------------------------------------------------------------------- join_text


def test_join_text():
    df = pd.DataFrame(
        {
            "title": ["Alien", "Who?", None, "  ", "N/A"],
            "overview": ["In space\r\nno one\n hears.", "A doctor.", "Only text.", float("nan"), ""],
        }
    )
    assert join_text(df, ["title", "overview"]).tolist() == [
        "Alien. In space no one hears.",
        "Who? A doctor.",
        "Only text.",
        "",
        "",
    ]
    assert join_text(df, ["overview"]).tolist() == ["In space no one hears.", "A doctor.", "Only text.", "", ""]


# --------------------------------------------------------------------------- load_labelled


SMALL_CSV = (
    "title,overview,genres\n"
    "A,First plot.,\"['Drama']\"\n"  # 0 kept
    "B,,\"['Comedy']\"\n"  # 1 empty text
    "C,Third plot.,[]\n"  # 2 no genres
    "D,  ,\n"  # 3 empty text (and no genres: counted once)
    "E,First   plot.,\"['Action']\"\n"  # 4 duplicate of row 0 after whitespace clean-up
    'F,"Sixth\r\nplot.","Horror, comedy"\n'  # 5 kept
    "G,Seventh plot.,N/A\n"  # 6 no genres
    "H,Eighth plot.,drama|war\n"  # 7 kept
)


def test_load_labelled_drop_counts(tmp_path):
    path = write_bytes(tmp_path, "small.csv", SMALL_CSV.encode())
    data, report = load_labelled(path)
    assert report == DropReport(total=8, empty_text=2, no_genres=2, duplicate_text=1, kept=3, other_genres=1)
    assert data.row_ids == [0, 5, 7]
    assert data.texts == ["First plot.", "Sixth plot.", "Eighth plot."]
    assert data.genres == [["Drama"], ["Horror", "Comedy"], ["Drama", "War"]]
    assert data.titles == ["A", "F", "H"]
    assert data.genre_counts() == {"Drama": 2, "Comedy": 1, "Horror": 1, "War": 1}
    assert report.lines() == [
        "read 8 rows: synopsis from 'overview', genres from 'genres'",  # the columns it guessed, said
        "dropped 2 rows with an empty synopsis",
        "dropped 2 rows with no genres",
        "dropped 1 row repeating an earlier synopsis (1 with other genres than the row kept, which keeps its own)",
        "kept 3 rows",
    ]


def test_load_labelled_joined_text_columns(tmp_path):
    path = write_bytes(tmp_path, "small.csv", SMALL_CSV.encode())
    data, report = load_labelled(path, text_cols=["title", "overview"])
    # The title is joined into the text, but a title alone is not a synopsis (rows 1 and 3) and
    # row 4 repeats row 0's synopsis under another title: the same rows as without the title.
    assert report == DropReport(total=8, empty_text=2, no_genres=2, duplicate_text=1, kept=3, other_genres=1)
    assert data.texts == ["A. First plot.", "F. Sixth plot.", "H. Eighth plot."]
    assert data.synopses == ["First plot.", "Sixth plot.", "Eighth plot."]
    assert data.row_ids == load_labelled(path)[0].row_ids


def test_load_labelled_a_synopsis_in_other_case_or_spacing_is_a_duplicate(tmp_path):
    path = write_bytes(tmp_path, "dup.csv", (
        "overview,genres\nA ghost haunts a house.,Horror\n  A GHOST   haunts a house. ,Horror\nOther plot.,Drama\n").encode())
    data, report = load_labelled(path)
    assert report.duplicate_text == 1 and data.row_ids == [0, 2]


def test_load_labelled_title_twins_are_duplicates(tmp_path):
    # "Loro 1" and "Loro 2" share one synopsis in the TMDB file: one row, not a leak between splits.
    path = write_bytes(tmp_path, "twins.csv", (
        "title,overview,genres\nLoro 1,A period film in two parts.,Drama\nLoro 2,A period film in two parts.,Drama\n"
        "Other,Another plot.,Comedy\n").encode())
    data, report = load_labelled(path, text_cols=["title", "overview"])
    assert report.duplicate_text == 1
    assert data.row_ids == [0, 2]
    assert data.subset([1]).synopses == ["Another plot."]
    # Overview alone: no title part, so the synopses are the texts.
    plain, _ = load_labelled(path, text_cols=["overview"])
    assert plain.synopses is None and plain.synopsis_texts == plain.texts


def test_load_labelled_sample(tmp_path, caplog):
    rows = "".join(f"Plot number {i}.,{'Drama' if i % 2 else 'Comedy'}\n" for i in range(50))
    path = write_bytes(tmp_path, "s.csv", ("overview,genre\n" + rows).encode())
    a, report = load_labelled(path, sample=10, seed=1)
    b, _ = load_labelled(path, sample=10, seed=1)
    c, _ = load_labelled(path, sample=10, seed=2)
    assert a == b and a != c
    assert len(a) == 10 and a.row_ids == sorted(a.row_ids)
    assert (report.kept, report.sampled_out) == (10, 40)
    assert "left out 40 rows by sampling" in report.lines()
    with caplog.at_level(logging.WARNING, logger="genretag.data"):
        everything, report = load_labelled(path, sample=100)
    assert len(everything) == 50 and report.sampled_out == 0
    assert "only 50 are usable" in caplog.text
    with pytest.raises(DataError, match="sample must be a positive"):
        load_labelled(path, sample=0)


def test_load_labelled_no_usable_rows(tmp_path):
    path = write_bytes(tmp_path, "n.csv", b"overview,genres\nx,\ny,[]\n")
    with pytest.raises(DataError, match="no usable rows") as excinfo:
        load_labelled(path)
    one_line_error(excinfo)


def test_labelled_data_subset():
    data = LabelledData(texts=["a", "b", "c"], genres=[["X"], ["Y"], ["X", "Y"]], row_ids=[3, 5, 9], titles=None)
    sub = data.subset(np.array([2, 0]))
    assert (sub.texts, sub.genres, sub.row_ids, sub.titles) == (["c", "a"], [["X", "Y"], ["X"]], [9, 3], None)
    assert data.subset([False, True, False]).row_ids == [5]
    with pytest.raises(ValueError):
        LabelledData(texts=["a"], genres=[], row_ids=[0], titles=None)


# --------------------------------------------------------------------------- min support


def test_rare_and_drop_genres():
    train = [["Drama", "War"], ["Drama"], ["Drama", "Western"], ["War"]]
    assert rare_genres(train, 2) == ["Western"]
    assert rare_genres(train, 3) == ["War", "Western"]
    assert rare_genres(train, 0) == []
    with pytest.raises(ValueError):
        rare_genres(train, -1)
    # A row that loses all its genres stays, as an all-negative example.
    assert drop_genres([["Western"], ["Drama", "War"]], {"Western", "War"}) == [[], ["Drama"]]


# --------------------------------------------------------------------------- splits


def random_genres(n: int, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    pool = [f"G{i}" for i in range(12)]
    weights = np.linspace(1, 0.05, len(pool))
    weights /= weights.sum()
    return [sorted(set(rng.choice(pool, size=rng.integers(1, 4), p=weights))) for _ in range(n)]


def check_partition(splits: dict[str, np.ndarray], n: int) -> None:
    assert set(splits) == {"train", "validation", "test"}
    for idx in splits.values():
        assert np.all(np.diff(idx) > 0)  # sorted, no repeats
    assert np.array_equal(np.sort(np.concatenate(list(splits.values()))), np.arange(n))


def test_split_deterministic_disjoint_covering():
    genres = random_genres(600)
    a = split_indices(genres, seed=7)
    b = split_indices(genres, seed=7)
    c = split_indices(genres, seed=8)
    check_partition(a, 600)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_split_sizes_5000():
    splits = split_indices(random_genres(5000), seed=42)
    assert {k: len(v) for k, v in splits.items()} == {"train": 3500, "validation": 750, "test": 750}


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 10, 33])
@pytest.mark.parametrize("ratios", [(0.7, 0.15, 0.15), (0.8, 0.1, 0.1), (0.5, 0.5, 0.0), (1.0, 0.0, 0.0)])
def test_split_sizes_small(n, ratios):
    splits = split_indices(random_genres(n, seed=n), ratios=ratios, seed=0)
    check_partition(splits, n)
    for name, ratio in zip(("train", "validation", "test"), ratios):
        assert abs(len(splits[name]) - n * ratio) < 1
        if ratio == 0:
            assert len(splits[name]) == 0


def test_split_rare_genre_in_every_split():
    genres = [["Drama"]] * 94 + [["Drama", "Western"]] * 3 + [["Western"]] * 3
    splits = split_indices(genres, seed=3)
    for idx in splits.values():
        assert sum("Western" in genres[i] for i in idx) >= 1
    three = [["Drama"]] * 97 + [["Western"]] * 3
    for idx in split_indices(three, seed=0).values():
        assert sum("Western" in three[i] for i in idx) == 1


def test_split_rows_without_genres():
    genres = [[], ["Drama"], [], ["Comedy"], []] * 4
    check_partition(split_indices(genres, seed=1), 20)


@pytest.mark.parametrize("ratios", [(0.7, 0.3), (0.7, 0.2, 0.2), (1.1, -0.05, -0.05), (float("nan"), 0.5, 0.5)])
def test_split_bad_ratios(ratios):
    with pytest.raises(ValueError, match="ratios"):
        split_indices([["Drama"]] * 10, ratios=ratios)


# --------------------------------------------------------------------------- real data


def test_real_tmdb_file_reference_protocol():
    path = shared_data_file(REAL_CSV_NAME)
    raw = read_csv(path)
    assert raw.shape == (9400, 21)
    # README pitfalls, counted independently: 4 empty genre lists, 2 empty overviews
    # (one row has both), 4 overviews with a CR inside the quoted field.
    assert (raw["genre_ids"] == "[]").sum() == 4
    assert (raw["overview"].str.strip() == "").sum() == 2
    assert raw["overview"].str.contains("\r").sum() == 4

    data, report = load_labelled(path)
    # The row with both an empty overview and no genres is counted once, as empty text.
    # Charlotte's Web (1973, 2006) share a synopsis with other genres: the first keeps its own.
    assert report == DropReport(total=9400, empty_text=2, no_genres=3, duplicate_text=2, kept=9393, other_genres=1)
    counts = data.genre_counts()
    assert len(counts) == 18
    assert list(counts)[:3] == ["Drama", "Comedy", "Thriller"]
    assert counts["TV Movie"] == 144 and counts["Science Fiction"] == 983
    assert data.titles is not None and data.titles[0] == "The Godfather"
    assert not any("\r" in t or "\n" in t for t in data.texts)

    sampled, report = load_labelled(path, sample=5000, seed=42)
    assert (report.kept, report.sampled_out) == (5000, 4393)
    splits = split_indices(sampled.genres, seed=42)
    assert {k: len(v) for k, v in splits.items()} == {"train": 3500, "validation": 750, "test": 750}
    check_partition(splits, 5000)
    for idx in splits.values():
        assert len(Counter(g for i in idx for g in sampled.genres[i])) == 18


# --------------------------------------------------------------------------- more properties
# The parser meets whatever a user's export holds; these state what must hold for any cell.


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="[]{}()'\",|;: nameAa01\\")))
def test_parse_genres_is_idempotent(cell):
    names = parse_genres(cell)
    assert parse_genres(names) == names  # its own output (a list) reads back as itself


@settings(max_examples=150, deadline=None)
@given(st.lists(safe_names, min_size=1, max_size=6, unique=True), st.sampled_from([",", "|", ";", "\t", " | ", ", "]))
def test_parse_genres_every_format_gives_the_same_names(names, sep):
    # "A&lt" + ";" + "A" is "A&lt;A", which scraped pages write for "A<A": no parser can tell them apart.
    assume(not (sep.strip() == ";" and any(re.search(r"&[A-Za-z][A-Za-z0-9]*$", n) for n in names[:-1])))
    forms = [
        sep.join(names),  # separated text
        json.dumps(names),  # JSON list
        json.dumps([{"id": i, "name": n} for i, n in enumerate(names)]),  # TMDB objects
        str(names),  # pandas' str() of a list
        tuple(names),  # a real sequence
        np.array(names, dtype=object),
    ]
    for form in forms:
        assert parse_genres(form) == names, form


def test_parse_genres_cut_off_object_lists_and_postgres_arrays():
    assert parse_genres('[{"id": 28, "na') == []  # no complete name: nothing, not "Id: 28"
    assert parse_genres('[{"i') == parse_genres("[ {") == []
    assert parse_genres('{Action,"Science Fiction"}') == ["Action", "Science Fiction"]  # a Postgres array


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["", "nan", "NaN", "None", "null", "N/A", "na", "#N/A", "[]", "()", "{}"]),
    st.text(alphabet=" \t", max_size=3),
)
def test_parse_genres_missing_values_are_empty(token, pad):
    assert parse_genres(pad + token + pad) == []
    assert parse_genres(None) == parse_genres(float("nan")) == []


@settings(max_examples=150, deadline=None)
@given(st.lists(safe_names, min_size=1, max_size=5, unique=True), st.data())
def test_cut_off_lists_are_flagged_and_read_as_name_prefixes(names, data):
    whole = data.draw(st.sampled_from([str(names), json.dumps([{"id": 1, "name": n} for n in names])]))
    assert not is_malformed_list(whole)
    cut = whole[: data.draw(st.integers(1, len(whole) - 1))]
    assert is_malformed_list(cut)
    lowered = [n.lower() for n in names]
    for name in parse_genres(cut):  # never raises; yields at most cut-off versions of real names
        assert any(full.startswith(name.lower()) for full in lowered), (cut, name)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(others=other_columns, pair=st.sets(st.sampled_from(TEXT_COLUMN_CANDIDATES), min_size=2, max_size=2),
       data=st.data())
def test_detect_columns_never_guesses_between_two_synopsis_columns(others, pair, data):
    columns = list(others)
    for name in sorted(pair):
        columns.insert(data.draw(st.integers(0, len(columns))), name.upper())
    with pytest.raises(DataError, match="--text-col") as err:
        detect_columns(columns + ["genres"])
    assert all(name.upper() in str(err.value) for name in pair)
    chosen = sorted(pair)[0]
    assert detect_columns(columns + ["genres"], text_cols=[chosen]) == ([chosen.upper()], "genres")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(others=other_columns.filter(lambda cols: 0 < len(cols) <= 20))
def test_detect_columns_without_candidates_lists_every_column(others):
    with pytest.raises(DataError) as err:
        detect_columns(others)
    message = str(err.value)
    assert "no synopsis column found" in message and "--text-col" in message
    assert message.count(",") >= len(others) - 1 and all(c in message for c in others)
    with pytest.raises(DataError, match="no genre column found") as err:
        detect_columns(others + ["overview"])
    assert all(c in str(err.value) for c in others)


def test_an_entity_that_stands_for_a_symbol_is_kept_as_written():
    """``A&Lt;B`` (a genre "A&Lt" then ";") became "A≪B": a named reference is read only where it is a
    letter or text punctuation (``&eacute;``, ``&amp;``, ``&rsquo;``); numeric ones always."""
    from genretag.data.cells import clean_cell

    assert parse_genres("A&Lt;B") == ["A&Lt", "B"] and parse_genres("Action &amp; Adventure") == ["Action & Adventure"]
    assert clean_cell("Tom &amp; Jerry&#x27;s caf&eacute; &hellip; &copy;") == "Tom & Jerry's café … &copy;"
