"""Stop 31's dialect faults: a few legacy-encoded cells in an English catalogue, link-only synopses,
unrecognised second headers, UTF-32 files."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.formats import read_table, sniff

runner = CliRunner()

ENGLISH = [
    ("The Last Harbor", "A retired sailor returns to his hometown to find the harbor sold to a developer."),
    ("Moon Over Tokyo", "Two strangers meet on the last train and spend one night walking the city."),
    ("Iron Verdict", "A detective hunts a serial killer who leaves riddles at every crime scene."),
    ("Laugh Track", "A failing comedian takes a job as a clown at children's parties."),
    ("Starfall", "Astronauts stranded on a dying space station must repair the ship."),
    ("The Quiet House", "A family moves into an old farmhouse where a ghost haunts the cellar."),
]


def _catalogue(tmp_path, encoding: str, titles: list[str]):
    rows = [list(r) for r in ENGLISH]
    for i, title in enumerate(titles):
        rows[i][0] = title
    path = tmp_path / f"few_{encoding}.csv"
    path.write_bytes(("title,overview\n" + "".join(f"{t},{o}\n" for t, o in rows)).encode(encoding))
    return path


# Before: Big5/GBK/Shift-JIS/Windows-1251 titles read as Windows-1252 or latin-1 mojibake ('´äÆW', '\x8d`\x92¬'),
# GBK ones as EUC-KR ('멍袞'), one Windows-1251 title as Big5 ('蹴瘔薤'), EUC-JP ones as EUC-KR.
@pytest.mark.parametrize("encoding, titles, name", [
    ("big5", ["港灣", "東京之月"], "Big5"),
    ("big5", ["港灣"], "Big5"),
    ("gbk", ["港湾", "东京之月"], "GB18030 (GBK)"),
    ("gbk", ["港湾"], "GB18030 (GBK)"),
    ("shift_jis", ["港町", "東京の月"], "Shift-JIS (cp932)"),
    ("shift_jis", ["港町"], "Shift-JIS (cp932)"),
    ("euc_jp", ["港町", "東京の月"], "EUC-JP"),
    ("euc_kr", ["항구", "도쿄의 달"], "EUC-KR (cp949)"),
    ("cp1251", ["Гавань", "Луна"], "Windows-1251"),
    ("cp1251", ["Гавань"], "Windows-1251"),
])
def test_a_few_legacy_titles_in_an_english_catalogue_are_read_in_their_code_page(tmp_path, caplog, encoding,
                                                                                  titles, name):
    caplog.set_level(logging.WARNING)
    path = _catalogue(tmp_path, encoding, titles)
    assert read_table(path)["title"].tolist()[:len(titles) + 1] == [*titles, ENGLISH[len(titles)][0]]
    words = ", ".join(repr(w) for t in titles for w in t.split())
    assert f" in {name}; reading it so (judged by its only " in caplog.text and words in caplog.text


def test_a_western_file_with_few_accents_stays_windows_1252(tmp_path):
    path = _catalogue(tmp_path, "cp1252", ["Amélie à Paris", "Café Noir", "Größe", "Año Nuevo"])
    assert sniff(path).encoding == "cp1252"
    assert read_table(path)["title"].tolist()[:4] == ["Amélie à Paris", "Café Noir", "Größe", "Año Nuevo"]


def test_an_ambiguous_short_word_says_the_other_reading(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    path = _catalogue(tmp_path, "euc_kr", ["항구"])  # its two bytes pairs are GBK's 亲备 too
    sniff(path)
    assert "EUC-KR (cp949) reads them as Korean ('항구'): if that is the file's text, save the file as UTF-8" \
        in caplog.text


def test_tag_writes_the_few_legacy_titles_back_in_their_bytes(tmp_path, tiny_run):
    path = _catalogue(tmp_path, "gbk", ["港湾", "东京之月"])
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert read_table(out)["title"].tolist()[:2] == ["港湾", "东京之月"]
    for before, after in zip(path.read_bytes().splitlines(), out.read_bytes().splitlines(), strict=True):
        assert after.startswith(before)


# --------------------------------------------------------------------------- links as a catalogue writes them

# Before: each was tagged as a movie ("Comedy|Drama|TV Movie" for the first), flagged at most as short.
LINKS = ["<https://www.imdb.com/title/tt0111161/>", "[see plot](https://en.wikipedia.org/wiki/Some_Film)",
         "imdb.com", "letterboxd.com/film/heat/", "IMDb.com, www.themoviedb.org/movie/949"]


@pytest.mark.parametrize("text", LINKS)
def test_an_angle_bracket_markdown_or_bare_domain_link_is_no_synopsis(text):
    from genretag.data.cells import clean_cell, no_synopsis_note

    assert clean_cell(text) == "" and no_synopsis_note(text) == "a link only"


@pytest.mark.parametrize("text", ["A spy visits imdb.com to find his past.", "Dr.No", "Mr.Smith goes to Washington.",
                                  "[Heat] A thief plans one last job.", "bob@example.com"])
def test_prose_holding_a_domain_stays_a_synopsis(text):
    from genretag.data.cells import clean_cell, no_synopsis_note

    expected = "an e-mail address only" if "@" in text else ""
    assert no_synopsis_note(text) == expected and clean_cell(text) == ("" if expected else text)


def test_tag_leaves_link_only_rows_untagged_and_flags_them(tiny_run, tmp_path):
    rows = [list(r) for r in ENGLISH]
    for i, link in enumerate(LINKS[:3]):
        rows[i][1] = link
    path = tmp_path / "links.csv"
    path.write_text("title,overview\n" + "".join(f'{t},"{o}"\n' for t, o in rows), encoding="utf-8")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    tagged = read_table(out)
    assert tagged["language_warning"].tolist()[:3] == ["a link only (not tagged)"] * 3
    assert tagged["predicted_genres"].tolist()[:3] == ["", "", ""]
    assert "3 tagged" in result.output and "3 with an empty synopsis left untagged" in result.output


# --------------------------------------------------------------------------- UTF-32


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-be"])
def test_a_utf32_file_with_its_byte_order_mark_is_read(tmp_path, tiny_run, encoding):
    """Before: its BOM (FF FE 00 00) was taken for UTF-16's: 'first data row has 4 fields ... and the header 3'."""
    import codecs

    text = "title,overview\n" + "".join(f'{t},"{o}"\n' for t, o in ENGLISH)
    path = tmp_path / "u32.csv"
    path.write_bytes(text.encode(encoding) if encoding == "utf-32" else codecs.BOM_UTF32_BE + text.encode(encoding))
    assert read_table(path)["title"].tolist() == [t for t, _ in ENGLISH]
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert read_table(out)["overview"].tolist() == [o for _, o in ENGLISH]


# --------------------------------------------------------------------------- a second header of unknown names


@pytest.mark.parametrize("second", ["film_id,name,blurb", "id,name,about", "tmdb_id,original_title,tagline",
                                    "id,title,logline"])
def test_a_second_header_of_unknown_names_is_left_untagged(tmp_path, tiny_run, caplog, second):
    """Before: the row was tagged as a movie named 'name' whose synopsis is 'blurb'."""
    lines = ["id,title,overview"] + [f'{i},{t},"{o}"' for i, (t, o) in enumerate(ENGLISH, 1)]
    lines.insert(4, second)
    path = tmp_path / "joined.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    tagged = read_table(out)
    assert tagged["predicted_genres"].iloc[3] == "" and (tagged["predicted_genres"].drop(index=3) != "").all()
    assert "left untagged 1 row that is a header, not a movie (data row 4" in caplog.text


@pytest.mark.parametrize("row", [["tt01", "Name", "Untitled"], ["abc", "Film Story", "Documentary"],
                                 ["7", "Movie", "Plot"]])
def test_a_short_movie_row_is_no_header(row):
    import pandas as pd

    from genretag.data.columns import header_rows

    frame = pd.DataFrame([["1", "Heat", "A thief plans one last job in Los Angeles."], row],
                         columns=["id", "title", "overview"])
    assert header_rows(frame, ["overview"]).tolist() == [False, False]
