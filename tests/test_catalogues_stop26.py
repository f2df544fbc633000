"""Real-catalogue faults found by a new user's tries in stop 26, one test per kind, each asserting the right value."""

from __future__ import annotations

import bz2
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import synthetic_movies, write_csv
from genretag.cli import app
from genretag.data import detect_columns, detect_title_column, read_csv
from genretag.data.genres import parse_genres
from genretag.errors import DataError
from genretag.formats import sniff
from genretag.language import row_scripts
from genretag.vocabulary import current_vocabulary
from test_catalogues_stop24 import SYNOPSES

runner = CliRunner()


def _mapped(cell: str) -> tuple[list[str], list[str]]:
    rows, report = current_vocabulary().apply([parse_genres(cell)])
    return rows[0], report.lines()


# --------------------------------------------------------------------------- text in other scripts

OTHER_SCRIPTS = {
    "Telugu": "శివుడు అనే యువకుడు తన తల్లిని బందీగా ఉంచిన క్రూరమైన రాజుతో యుద్ధం చేస్తాడు.",
    "Malayalam": "ഒരു കേബിൾ ടിവി ഓപ്പറേറ്റർ തന്റെ കുടുംബത്തെ ഒരു കേസിൽ നിന്ന് രക്ഷിക്കാൻ ശ്രമിക്കുന്നു.",
    "Kannada": "ಒಬ್ಬ ಯುವಕ ತನ್ನ ಹಳ್ಳಿಯನ್ನು ಉಳಿಸಲು ಶಕ್ತಿಶಾಲಿ ಭೂಮಾಲೀಕನ ವಿರುದ್ಧ ಹೋರಾಡುತ್ತಾನೆ.",
    "Gurmukhi": "ਇੱਕ ਨੌਜਵਾਨ ਆਪਣੇ ਪਿੰਡ ਨੂੰ ਬਚਾਉਣ ਲਈ ਇੱਕ ਤਾਕਤਵਰ ਜ਼ਿਮੀਂਦਾਰ ਨਾਲ ਲੜਦਾ ਹੈ।",
    "Gujarati": "એક યુવાન પોતાના ગામને બચાવવા માટે એક શક્તિશાળી જમીનદાર સામે લડે છે.",
    "Ethiopic": "አንድ ወጣት መንደሩን ለማዳን ከኃይለኛ የመሬት ባለቤት ጋር ይዋጋል።",
    "Sinhala": "තරුණයෙක් තම ගම බේරා ගැනීමට බලවත් ඉඩම් හිමියෙකු සමඟ සටන් කරයි.",
    "Myanmar": "လူငယ်တစ်ဦးသည် မိမိရွာကို ကယ်တင်ရန် အင်အားကြီးသော မြေပိုင်ရှင်နှင့် တိုက်ခိုက်သည်။",
    "Khmer": "យុវជនម្នាក់ប្រយុទ្ធជាមួយម្ចាស់ដីដ៏មានអំណាចដើម្បីសង្គ្រោះភូមិរបស់គាត់។",
}


def test_synopses_in_more_scripts_are_told_apart():
    """Telugu, Malayalam ... had no script: never judged, tagged without a warning."""
    assert row_scripts(list(OTHER_SCRIPTS.values())) == list(OTHER_SCRIPTS)


def test_tag_flags_synopses_in_scripts_the_model_never_read(tiny_run, tmp_path, caplog):
    rows = [{"title": f"Movie {i}", "overview": text} for i, text in enumerate(OTHER_SCRIPTS.values())]
    rows.append({"title": "English", "overview": synthetic_movies(1)[0]["overview"]})
    source = write_csv(tmp_path / "indian.csv", rows)
    out = tmp_path / "indian.tagged.csv"
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    flags = read_csv(out)["language_warning"].tolist()
    assert all(flags[:-1]) and flags[-1] == ""
    said = " ".join(caplog.text.split())
    assert f"{len(OTHER_SCRIPTS)} of {len(rows)} synopses do not look like the model's language" in said


# --------------------------------------------------------------------------- encodings and JSON shapes

def test_mac_roman_with_curly_apostrophes_is_read_as_mac_roman(tmp_path):
    """Mac Roman's ’ (0xD5) inside "father’s" made the file Windows-1250/1252 ("fatherÕs", "AmŽlie")."""
    cells = [("Amélie", "Amélie, a shy waitress in Montmartre, changes the lives of those around her."),
             ("Niño", "A boy in Sevilla dreams of flamenco despite his father’s wishes – and “wins”.")]
    source = tmp_path / "mac.csv"
    source.write_bytes(("Title,Overview\r" + "".join(f'{t},"{o}"\r' for t, o in cells)).encode("mac_roman"))
    assert sniff(source).encoding == "mac_roman"
    assert list(read_csv(source).itertuples(index=False, name=None)) == cells


@pytest.mark.parametrize("text", [
    "يكتشف شاب في القاهرة سرا عائليا قديما يقوده في رحلة خطيرة عبر الصحراء.",
    "Молодой врач приезжает в маленькую деревню и влюбляется в дочь местного священника.",
])
def test_utf16_without_a_bom_in_arabic_or_cyrillic_is_read(tmp_path, text):
    """Letters whose high byte is 0x04 or 0x06 are not zero: the file was read as UTF-8 (columns "t i t l e")."""
    source = tmp_path / "u16.csv"
    source.write_bytes(f"title,overview\r\nOne,{text}\r\nTwo,{text[::-1]}\r\n".encode("utf-16-le"))
    assert sniff(source).encoding == "utf-16-le"
    frame = read_csv(source)
    assert list(frame.columns) == ["title", "overview"] and frame["overview"].tolist() == [text, text[::-1]]


def test_a_nul_byte_or_two_keeps_a_file_utf8(tmp_path):
    source = tmp_path / "nul.csv"
    source.write_bytes("title,overview\nA,A cowboy rides\x00 into town.\n".encode("utf-8"))
    assert sniff(source).encoding == "utf-8"


@pytest.mark.parametrize("name", ["movies.json", "movies.txt"])
def test_json_lines_with_a_bom_under_another_suffix_is_json_lines(tmp_path, name):
    """PowerShell writes a BOM: the file was read as CSV ("the first row looks like data")."""
    records = [{"title": "Heat", "overview": SYNOPSES[0], "genres": ["Crime"]},
               {"title": "Up", "overview": SYNOPSES[1], "genres": ["Animation"]}]
    source = tmp_path / name
    source.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\r\n" for r in records).encode("utf-8"))
    frame = read_csv(source)
    assert list(frame.columns) == ["title", "overview", "genres"] and frame["title"].tolist() == ["Heat", "Up"]


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".jsonl.bz2"])
def test_json_lines_whose_first_line_is_longer_than_the_sniffed_bytes(tmp_path, suffix):
    """A first record over 1 MiB was "line 1 is not valid JSON (Unterminated string)"."""
    long = "A long plot. " * 100_000
    text = json.dumps({"title": "Huge", "overview": long}) + "\n" + json.dumps({"title": "Up", "overview": "Up."}) + "\n"
    source = tmp_path / f"huge{suffix}"
    source.write_bytes(bz2.compress(text.encode()) if suffix.endswith(".bz2") else text.encode())
    frame = read_csv(source)
    assert frame["title"].tolist() == ["Huge", "Up"] and frame["overview"].iloc[0] == long


# --------------------------------------------------------------------------- outputs

def test_a_file_without_csv_quoting_is_written_without_it(tiny_run, tmp_path):
    """IMDb-style TSVs whose quotes are characters came back with "a ""busy"" summer" cells."""
    source = tmp_path / "plots.tsv"
    source.write_text('id\toverview\n1002\tTwo planners fall in love during a "busy" summer.\n'
                      '1003\t"Heat" is a film where a crew of thieves plans one last heist.\n', encoding="utf-8")
    out = tmp_path / "plots.tagged.tsv"
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out), "--no-scores"])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith('1002\tTwo planners fall in love during a "busy" summer.\t')
    assert lines[2].startswith('1003\t"Heat" is a film where a crew of thieves plans one last heist.\t')
    # A comma-separated output of it is CSV: quoted, so that any CSV reader reads the cells back.
    out = tmp_path / "plots.tagged.csv"
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out), "--no-scores"])
    assert result.exit_code == 0, result.output
    assert '\n1003,"""Heat"" is a film' in out.read_text(encoding="utf-8").replace("\r\n", "\n")
    assert pd.read_csv(out)["overview"].tolist()[1] == '"Heat" is a film where a crew of thieves plans one last heist.'


def test_an_unquoted_output_quotes_a_chunk_whose_cells_need_it_and_says_so(tmp_path, caplog):
    from genretag.formats import CSV, OutputFormat, TableWriter

    path = tmp_path / "out.tsv"
    writer = TableWriter(path, OutputFormat(kind=CSV, sep="\t", quoting=False))
    writer.write(pd.DataFrame({"a": ['a "b" c'], "b": ["x"]}), header=True)
    writer.write(pd.DataFrame({"a": ['a "b"\tc'], "b": ["y"]}), header=False)
    assert path.read_bytes().decode().split("\r\n") == ["a\tb", 'a "b" c\tx', '"a ""b""\tc"\ty', ""]
    assert "out.tsv: a cell holds the separator or a line break" in caplog.text


def test_json_output_writes_float32_as_written_and_csv_writes_booleans_as_json(tiny_run, tmp_path):
    """Parquet's float32 7.9 became 7.900000095367432 in JSON Lines; JSON's false became Python's False in CSV."""
    source = tmp_path / "movies.parquet"
    pd.DataFrame({"title": ["A", "B"], "overview": SYNOPSES[:2], "rating": np.array([7.9, np.nan], dtype="float32"),
                  "adult": [False, True]}).to_parquet(source)
    out = tmp_path / "movies.jsonl"
    assert runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out)]).exit_code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["rating"] for r in records] == [7.9, None] and '"rating": 7.9,' in out.read_text()
    assert [r["adult"] for r in records] == [False, True]
    csv_out = tmp_path / "movies.csv"
    assert runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(csv_out)]).exit_code == 0
    frame = read_csv(csv_out)
    assert frame["adult"].tolist() == ["false", "true"] and frame["rating"].tolist() == ["7.9", ""]


# --------------------------------------------------------------------------- column names in other languages

@pytest.mark.parametrize(("columns", "text", "genres", "title"), [
    (["Titel", "Handlung", "Genre"], ["Handlung"], "Genre", "Titel"),
    (["titre", "résumé", "genres"], ["résumé"], "genres", "titre"),
    (["título", "sinopsis", "géneros"], ["sinopsis"], "géneros", "título"),
    (["название", "описание", "жанр"], ["описание"], "жанр", "название"),
    (["片名", "剧情简介", "类型"], ["剧情简介"], "类型", "片名"),
])
def test_column_names_in_other_languages_are_found(columns, text, genres, title):
    assert detect_columns(columns) == (text, genres)
    assert detect_title_column(columns) == title


# --------------------------------------------------------------------------- genre cells

@pytest.mark.parametrize(("cell", "genres"), [
    ("Horror / N/A", ["Horror"]),  # was Horror + N + A, learnt by train as genres
    ("Crime/N/A", ["Crime"]),
    ("Drama/N/D", ["Drama"]),
    ("Comedy/NA", ["Comedy"]),  # was Comedy + Na
    ("A/B Testing", ["A/B Testing"]),  # no genre in it: one unknown name, as before
])
def test_a_slashed_placeholder_in_a_list_is_no_genre(cell, genres):
    assert _mapped(cell)[0] == genres


@pytest.mark.parametrize("cell", ["未分类", "Sin clasificar", "Non classé", "Non classifié", "Nicht kategorisiert",
                                  "Sem categoria", "Без жанра"])
def test_more_placeholders_in_other_languages_are_no_genre(cell):
    genres, said = _mapped(cell)
    assert genres == [] and any("placeholders read as no genre" in line for line in said)


@pytest.mark.parametrize(("cell", "genres", "said"), [
    ("Genre: Horror, Thriller", ["Horror", "Thriller"], "Genre: Horror → Horror"),
    ("Genres: Crime", ["Crime"], "Genres: Crime → Crime"),
    ("类型: 剧情 / 爱情", ["Drama", "Romance"], "类型: 剧情 / 爱情 → Drama + Romance"),  # Douban's info line
])
def test_a_genre_label_in_the_cell_is_read_past_and_said(cell, genres, said):
    got, lines = _mapped(cell)
    assert got == genres and any(said in line for line in lines)


@pytest.mark.parametrize(("cell", "genres"), [
    ("Horrorfilm", ["Horror"]), ("Kriminalfilm", ["Crime"]), ("Abenteuerfilm", ["Adventure"]),
    ("Kinderfilm", ["Family"]), ("Animationsfilm", ["Animation"]),
    ("Comédie romantique", ["Comedy", "Romance"]), ("Film de guerre", ["War"]), ("Arts martiaux", ["Martial Arts"]),
    ("Comedia dramática", ["Comedy", "Drama"]), ("Drama romántico", ["Drama", "Romance"]),
    ("period drama", ["History", "Drama"]), ("TV Drama", ["Drama"]), ("Made-for-TV", ["TV Movie"]),
    ("Adult Animation", ["Animation"]),  # Netflix: animation for adults, not IMDb's "Adult"
])
def test_more_genre_names(cell, genres):
    assert _mapped(cell)[0] == genres


def test_evaluate_says_the_training_rows_it_left_out_when_no_known_genre_remains(tiny_run, movies_csv, tmp_path):
    """Three training rows and one of unknown genres: the error blamed the file's genre names alone."""
    rows = read_csv(movies_csv).head(40).to_dict("records")
    split = json.loads((tiny_run / "split.json").read_text())
    train = [rows[i] for i in split["train"] if i < len(rows)][:3]
    train.append({"title": "Cafe Days", "overview": SYNOPSES[2], "genres": "Slice of Life|Ecchi"})
    source = write_csv(tmp_path / "mixed.csv", train)
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(source), "--no-baseline"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "the 3 row(s) that were training examples of the model were left out first" in said
    assert "--include-training-rows" in said and "Traceback" not in result.output


# --------------------------------------------------------------------------- lines above the header

@pytest.mark.parametrize("line", ["sep=;;;", '"sep=;"', "SEP=;"])  # LibreOffice re-saves, a quoted one, capitals
def test_excel_sep_line_variants_are_read_and_kept(tiny_run, tmp_path, line):
    source = tmp_path / "excel.csv"
    source.write_bytes(f"{line}\r\nTitel;Handlung\r\nHeat;{SYNOPSES[0]}\r\nUp;{SYNOPSES[1]}\r\n".encode("cp1252"))
    fmt = sniff(source)
    assert (fmt.sep, fmt.columns, fmt.skip_lines) == (";", ["Titel", "Handlung"], 1)
    out = tmp_path / "excel.tagged.csv"
    assert runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out)]).exit_code == 0
    assert out.read_bytes().startswith(b"sep=;\r\nTitel;Handlung;predicted_genres;")


@pytest.mark.parametrize("first", ["My Movies export 2024,,", "My watchlist export"])
def test_a_title_line_above_the_header_is_read_past_and_said(tiny_run, tmp_path, caplog, first):
    """It was "no synopsis column found (columns: My Movies export 2024, Unnamed: 1 ...)"."""
    source = tmp_path / "export.csv"
    source.write_text(f'{first}\ntitle,year,overview\nHeat,1995,"{SYNOPSES[0]}"\nUp,2009,"{SYNOPSES[1]}"\n',
                      encoding="utf-8")
    frame = read_csv(source)
    assert list(frame.columns) == ["title", "year", "overview"] and frame["title"].tolist() == ["Heat", "Up"]
    out = tmp_path / "export.tagged.csv"
    assert runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("title,year,overview,predicted_genres,")  # no title, no sep=
    assert f"line 1 ({first.rstrip(',')}) is a title above the header; reading the header from line 2" in caplog.text


def test_a_one_column_file_is_no_title_line(tmp_path):
    source = tmp_path / "one.csv"
    source.write_text(f"overview\n{SYNOPSES[0]}\n{SYNOPSES[1]}\n", encoding="utf-8")
    assert read_csv(source)["overview"].tolist() == SYNOPSES[:2]


def test_a_one_file_zip_under_the_file_s_own_name_is_read_and_said(tmp_path, caplog):
    """Read as gzip/bz2/xz without their suffix are; it was refused as "a zip archive (a spreadsheet?)"."""
    import zipfile

    source = tmp_path / "movies.csv"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("movies.csv", f'title,overview\nHeat,"{SYNOPSES[0]}"\n')
    assert read_csv(source)["overview"].tolist() == [SYNOPSES[0]]
    assert "movies.csv is a zip archive holding movies.csv, though its name does not say so" in caplog.text
    several = tmp_path / "two.csv"
    with zipfile.ZipFile(several, "w") as archive:
        archive.writestr("a.csv", "title\nA\n")
        archive.writestr("b.csv", "title\nB\n")
    with pytest.raises(DataError, match=r"holds 2 files \(a.csv, b.csv\)"):
        read_csv(several)


# --------------------------------------------------------------------------- second round (a fresh user's re-check)

@pytest.mark.parametrize(("text", "script"), [
    ("ᎠᏂᏫᏍᏗ ᎠᏍᎦᏯ ᎤᏓᏅᏘ ᎤᏍᏆᏂᎩᏗ", "Other"),  # Cherokee: letters of no listed script were not judged at all
    ("ⵢⴰⵏ ⵓⵎⴻⵥⵢⴰⵏ ⵢⴻⵏⵏⵓⵖⵏ ⴷ ⵜⴰⵔⴱⴰⵄⵜ", "Other"),  # Tifinagh
    ("𞤱𞤫𞤼𞤫 𞤲𞤣𞤫𞤪 𞤸𞤢𞤴𞤪𞤫", "Other"),  # Adlam, beyond the Basic Multilingual Plane
    ("ｱﾙ ｵﾄｺ ｶﾞ ｶｿﾞｸ ｦ ﾏﾓﾙ", "Kana"),  # half-width katakana
    ("ﻳﻘﺎﺗﻞ ﺷﺎﺏ ﻋﺼﺎﺑﺔ ﻗﻮﻳﺔ", "Arabic"),  # presentation forms
    ("Ａ ｙｏｕｎｇ ｍａｎ ｆｉｇｈｔｓ ａ ｇａｎｇ", "Latin"),  # full-width Latin
    ("A man in Hawaiʻi fights a gang of thieves.", "Latin"),  # an ʻokina (a letter of no listed block) is one letter
])
def test_every_letter_counts_toward_a_script(text, script):
    assert row_scripts([text]) == [script]


def test_mac_roman_german_with_eszett_is_read_as_mac_roman(tmp_path):
    """ß is Mac Roman's 0xA7 (Windows-1252's §): the file was read as Windows-1252 ("schŸtzen, grš§ere")."""
    text = "Um seine Mutter zu schützen, täuscht Alex ihr vor, die DDR existiere noch: größere Lügen."
    source = tmp_path / "de.csv"
    source.write_bytes(f'title,overview\r\nGood Bye Lenin,"{text}"\r\n'.encode("mac_roman"))
    assert sniff(source).encoding == "mac_roman" and read_csv(source)["overview"].tolist() == [text]


@pytest.mark.parametrize(("cell", "genres"), [
    ("アニメ", ["Animation"]), ("恋愛", ["Romance"]), ("西部劇", ["Western"]), ("動畫", ["Animation"]),
    ("喜劇", ["Comedy"]), ("驚悚", ["Thriller"]), ("Drammatico", ["Drama"]), ("Orrore", ["Horror"]),
    ("Commedia drammatica", ["Comedy", "Drama"]), ("Película de terror", ["Horror"]),
    ("Costume drama", ["History", "Drama"]), ("Actionkomödie", ["Action", "Comedy"]),
    ("Thriller psychologique", ["Thriller"]), ("Жанр: биография", ["Biography"]),
    ("なし", []), ("Ohne Genre", []), ("없음", []),
])
def test_still_more_genre_names(cell, genres):
    assert _mapped(cell)[0] == genres


def test_a_label_before_an_unknown_name_is_read_past_and_said():
    """"ジャンル: 恋愛" was learnt by train as a genre of its own beside "恋愛"."""
    genres, said = _mapped("ジャンル: Slice of Life, ジャンル: Iyashikei")
    assert genres == ["Slice of Life", "Iyashikei"]
    assert any(line.startswith("labels before genre names read past: ジャンル: Iyashikei → Iyashikei") for line in said)


def test_parquet_float16_and_nullable_booleans_are_written_as_written(tiny_run, tmp_path):
    source = tmp_path / "movies.parquet"
    pd.DataFrame({"title": ["A", "B"], "overview": SYNOPSES[:2], "f": np.array([0.1, np.nan], dtype="float16"),
                  "b": pd.array([True, None], dtype="boolean")}).to_parquet(source)
    out, csv_out = tmp_path / "movies.jsonl", tmp_path / "movies.csv"
    for target in (out, csv_out):
        assert runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(target)]).exit_code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["f"], r["b"]) for r in records] == [(0.1, True), (None, None)]
    assert read_csv(csv_out)[["f", "b"]].values.tolist() == [["0.1", "true"], ["", ""]]


@pytest.mark.parametrize(("columns", "text", "genres", "title"), [
    (["片名", "劇情簡介", "類型"], ["劇情簡介"], "類型", "片名"),  # Traditional Chinese
    (["titre", "resume", "genre"], ["resume"], "genre", "titre"),
    (["titel", "samenvatting", "genre"], ["samenvatting"], "genre", "titel"),  # Dutch
    (["tytuł", "opis", "gatunek"], ["opis"], "gatunek", "tytuł"),  # Polish
    (["başlık", "özet", "tür"], ["özet"], "tür", "başlık"),  # Turkish
    (["作品名", "ストーリー", "ジャンル"], ["ストーリー"], "ジャンル", "作品名"),
])
def test_column_names_in_still_more_languages_are_found(columns, text, genres, title):
    assert detect_columns(columns) == (text, genres) and detect_title_column(columns) == title
