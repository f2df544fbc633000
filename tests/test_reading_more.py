"""Reading faults found by a user probe: quotes that are not CSV quoting, a header repeated in
the middle of a file, a Parquet file with a named index, column names with spaces around them."""

from __future__ import annotations

import csv
import io
import json
import logging

import pandas as pd
import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.data.columns import _resolve, detect_columns
from genretag.errors import DataError
from genretag.formats import ReadOptions, iter_tables, read_table, sniff

runner = CliRunner()

# --------------------------------------------------------------------------- quotes as characters

IMDB_ROWS = [
    ("tt0000000", "Cinema Paradiso", "Drama,Romance", "A filmmaker recalls his childhood in the village theater."),
    ("tt0000001", "Life Is Beautiful", "Comedy,Drama", "A touching story of an Italian book seller."),
    ("tt0000002", "Once Upon a Time in the West", "Drama,Western",
     '"Once upon a time" in the west: As the railroad builders advance, Jill arrives.'),
    ("tt0000003", "Rocky", "Drama,Sport", '"Rocky Balboa, a small-time boxer, gets a shot at the title.'),
    ("tt0000004", "Satantango", "Drama", "Inhabitants of a small village in Hungary deal with the fall."),
    ("tt0000005", "Investigation", "Drama,Thriller", 'He said "no. Rome, Italy. A senior police officer.'),
    ("tt0000006", "Enough", "Drama,Thriller", '"enough! she cries, and runs.'),
    ("tt0000007", "Black Beauty", "Drama", "Born free in the American West, Black Beauty is a horse."),
]
IMDB_HEADER = ("tconst", "primaryTitle", "genres", "plot")


def _plain_lines(rows, sep: str = "\t", header=IMDB_HEADER) -> str:
    """Rows joined as the files without CSV quoting are written: no quoting, no escaping."""
    return "".join(sep.join(r) + "\n" for r in [header, *rows])


def _quote_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "not CSV quoting" in r.getMessage()]


@pytest.mark.parametrize("name, sep", [("imdb.tsv", "\t"), ("imdb.txt", "\t"), ("imdb.csv", "|")])
def test_quotes_that_are_not_csv_quoting_are_read_as_characters(tmp_path, caplog, name, sep):
    path = tmp_path / name
    path.write_text(_plain_lines(IMDB_ROWS, sep), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        fmt = sniff(path)
        df = read_table(path)
    assert fmt.sep == sep and fmt.quoting is False
    assert list(df.columns) == list(IMDB_HEADER)
    # Every film its own row, every cell as written: the quotes kept, nothing merged.
    assert df.values.tolist() == [list(r) for r in IMDB_ROWS]
    assert _quote_warnings(caplog) == [
        (f'{path}: its quotes are not CSV quoting (line 4: "Once upon a time" in the west: As the …); '
         'reading every " as a character')]


def test_every_chunk_reads_quotes_as_characters(tmp_path):
    path = tmp_path / "imdb.tsv"
    path.write_text(_plain_lines(IMDB_ROWS), encoding="utf-8")
    chunks = list(iter_tables(path, chunksize=3))
    assert [len(c) for c in chunks] == [3, 3, 2]
    assert pd.concat(chunks)["plot"].tolist() == [r[3] for r in IMDB_ROWS]
    assert pd.concat(chunks).index.tolist() == list(range(8))


def test_one_unmatched_quote_reads_instead_of_eof_inside_string(tmp_path, caplog):
    rows = [r for r in IMDB_ROWS if r[0] != "tt0000006"]
    path = tmp_path / "one.tsv"
    path.write_text(_plain_lines(rows), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        df = read_table(path)
    assert len(df) == 7 and df.loc[3, "plot"] == rows[3][3]
    assert "(line 4: " in _quote_warnings(caplog)[0]


def test_a_headerless_file_reads_its_quotes_as_characters(tmp_path):
    # CMU's plot_summaries.txt: wikipedia id, tab, summary; no header, no quoting
    path = tmp_path / "plot_summaries.txt"
    path.write_text('1001\t"Shane" rides into the valley.\n1002\tA quiet town.\n1003\tHe says "go.\n',
                    encoding="utf-8")
    df = read_table(path, ReadOptions(header=False, columns=("wikipedia_id", "summary")))
    assert df.values.tolist() == [["1001", '"Shane" rides into the valley.'], ["1002", "A quiet town."],
                                  ["1003", 'He says "go.']]


@pytest.mark.parametrize("quoted", ["every", "one"])
def test_quotes_past_the_sniffed_sample_are_characters_too(tmp_path, quoted):
    # More than the 1 MiB sniffed: the choice made on the sample holds for every chunk. With
    # "one", the only quote of the sample never closes: no synopsis runs over thousands of lines.
    many = [(f"tt{i:07d}", f"Film {i}", "Drama", f"Plot {i} goes on and on, " + "x" * 200) for i in range(6000)]
    if quoted == "every":
        many = [(*r[:3], f'"Quote {i}" opens a plot.' + r[3]) for i, r in enumerate(many)]
    else:
        many[5] = (*many[5][:3], '"An opening quote that never closes')
    many[5500] = ("tt0005500", "Late", "Drama", '"An unmatched quote near the end')
    path = tmp_path / "big.tsv"
    path.write_text(_plain_lines(many), encoding="utf-8")
    assert path.stat().st_size > 1 << 20
    fmt = sniff(path)
    assert fmt.quoting is False
    df = pd.concat(iter_tables(path, chunksize=1000, fmt=fmt))
    assert len(df) == 6000
    assert df["plot"].tolist() == [r[3] for r in many]


@pytest.mark.parametrize("text, expected", [
    # quoted fields with separators, newlines and doubled quotes: CSV quoting, read as today
    ('title,overview,genres\nA,"One, two ""three""",Drama\nB,"line one\nline two",Comedy\n',
     [["A", 'One, two "three"', "Drama"], ["B", "line one\nline two", "Comedy"]]),
    ('title\toverview\tgenres\n"A"\t"tab\tinside"\t"Drama"\nB\tplain\tComedy\n',
     [["A", "tab\tinside", "Drama"], ["B", "plain", "Comedy"]]),
    # every field quoted, none holding a separator: still CSV quoting (the quotes go)
    ('"title"\t"overview"\t"genres"\n"A"\t"Plain text."\t"Drama"\n', [["A", "Plain text.", "Drama"]]),
    # a single-column file of quoted multi-line synopses
    ('overview\n"first line\nsecond line"\n"another"\n', [["first line\nsecond line"], ["another"]]),
])
def test_files_that_use_csv_quoting_read_as_before(tmp_path, caplog, text, expected):
    path = tmp_path / ("m.tsv" if "\t" in text else "m.csv")
    path.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        fmt = sniff(path)
        df = read_table(path)
    assert fmt.quoting is True and df.values.tolist() == expected
    assert not _quote_warnings(caplog)


def test_tag_keeps_every_film_of_an_imdb_tsv(tiny_run, tmp_path, caplog):
    path = tmp_path / "imdb_raw.tsv"
    path.write_text(_plain_lines(IMDB_ROWS), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run)])
    assert result.exit_code == 0, result.output
    assert "imdb_raw.tagged.tsv: 8 rows, 8 tagged" in " ".join(result.output.split())
    assert len(_quote_warnings(caplog)) == 1 and "(line 4: " in _quote_warnings(caplog)[0]  # said once
    out = read_table(tmp_path / "imdb_raw.tagged.tsv")
    assert out["plot"].tolist() == [r[3] for r in IMDB_ROWS]


# --------------------------------------------------------------------------- a repeated header


MOVIES = [(f"Movie {i}", f"A story number {i}.", "Drama|Comedy" if i % 2 else "Action") for i in range(20)]


def _joined(parts: list[list[tuple]], headers: list[tuple]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for header, rows in zip(headers, parts):
        writer.writerow(header)
        writer.writerows(rows)
    return out.getvalue()


def _header_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "repeats the header" in r.getMessage()
            or "repeat the header" in r.getMessage()]


@pytest.mark.parametrize("chunksize", [100_000, 5, 10, 11])
def test_a_repeated_header_row_is_left_out_and_said(tmp_path, caplog, chunksize):
    # head -11 a.csv; head -1 a.csv; sed -n 12,21p a.csv
    path = tmp_path / "concat.csv"
    header = ("title", "overview", "genres")
    path.write_text(_joined([MOVIES[:10], MOVIES[10:]], [header, header]), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        df = pd.concat(iter_tables(path, chunksize=chunksize))
    assert df.values.tolist() == [list(m) for m in MOVIES]
    assert df.index.tolist() == list(range(20))
    assert _header_warnings(caplog) == [f"{path}: row 12 repeats the header (joined files?); left out"]


def test_several_repeated_headers_are_counted(tmp_path, caplog):
    path = tmp_path / "three.tsv"
    header = ("title", "overview", "genres")
    text = _joined([MOVIES[:5], MOVIES[5:12], MOVIES[12:]], [header] * 3).replace(",", "\t")
    # a file joined with its byte-order mark repeats it: "\ufefftitle" is the header too
    path.write_text("\ufeff" + text.replace("\ntitle", "\n\ufefftitle", 1), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        df = read_table(path)
    assert df.values.tolist() == [list(m) for m in MOVIES]
    said = f"{path}: 2 rows repeat the header (joined files?), the first at row 7; left out"
    assert _header_warnings(caplog) == [said]


def test_a_row_that_only_starts_like_the_header_is_data(tmp_path, caplog):
    path = tmp_path / "title.csv"
    path.write_text("title,overview,genres\ntitle,A film called Title.,Drama\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        df = read_table(path)
    assert df.values.tolist() == [["title", "A film called Title.", "Drama"]]
    assert not _header_warnings(caplog)


def test_a_repeated_header_in_another_column_order_is_an_error(tmp_path):
    path = tmp_path / "swapped.csv"
    path.write_text(_joined([MOVIES[:4], [(m[1], m[0], m[2]) for m in MOVIES[4:]]],
                            [("title", "overview", "genres"), ("overview", "title", "genres")]), encoding="utf-8")
    with pytest.raises(DataError) as excinfo:
        read_table(path)
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: row 6 repeats the header with the columns in another order "
                              "(overview, title, genres): the file joins parts with other column orders")


def test_a_repeated_header_in_a_multi_character_separator_file(tmp_path, caplog):
    path = tmp_path / "train.txt"
    lines = ["id ::: title ::: genre ::: description"] + [f"{i} ::: Film {i} ::: drama ::: Plot {i} here." for i in
                                                           range(3)]
    path.write_text("\n".join(lines + lines[:1] + lines[1:]) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        df = read_table(path)
    assert len(df) == 6 and "id" not in df["id"].tolist()
    assert _header_warnings(caplog) == [f"{path}: row 5 repeats the header (joined files?); left out"]


def test_tag_leaves_a_repeated_header_out(tiny_run, tmp_path, caplog):
    path = tmp_path / "concat.csv"
    header = ("title", "overview", "genres")
    path.write_text(_joined([MOVIES[:10], MOVIES[10:]], [header, header]), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run)])
    assert result.exit_code == 0, result.output
    # said once, though the command reads the file's head first and then the whole file
    assert _header_warnings(caplog) == [f"{path}: row 12 repeats the header (joined files?); left out"]
    assert "concat.tagged.csv: 20 rows, 20 tagged, 0 with an empty synopsis" in " ".join(result.output.split())
    assert read_table(tmp_path / "concat.tagged.csv")["title"].tolist() == [m[0] for m in MOVIES]
    evaluated = runner.invoke(app, ["evaluate", "--data", str(path), "--model", str(tiny_run)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "empty synopsis" not in evaluated.output and "on 20 rows" in " ".join(evaluated.output.split())


# --------------------------------------------------------------------------- Parquet with an index


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"Series_Title": ["Heat", "Up", "Alien", "Fargo", "Rocky"],
                         "Genre": ["Crime", "Animation", "Horror", "Crime, Drama", "Drama"],
                         "Overview": [f"A film about thing {i}, told well." for i in range(5)]})


@pytest.mark.parametrize("chunksize", [100_000, 2])
def test_a_named_parquet_index_is_read_back_as_a_column(tmp_path, chunksize):
    path = tmp_path / "idx.parquet"
    _frame().set_index("Series_Title").to_parquet(path)
    fmt = sniff(path)
    df = pd.concat(iter_tables(path, chunksize=chunksize))
    assert fmt.columns == list(df.columns) == ["Series_Title", "Genre", "Overview"]
    assert df.values.tolist() == _frame().values.tolist()
    assert df.index.tolist() == list(range(5))
    assert read_table(path).equals(df)


def test_a_parquet_multi_index_and_an_unnamed_index(tmp_path):
    multi = tmp_path / "multi.parquet"
    _frame().set_index(["Series_Title", "Genre"]).to_parquet(multi)
    assert sniff(multi).columns == list(read_table(multi).columns) == ["Series_Title", "Genre", "Overview"]
    assert read_table(multi).values.tolist() == _frame().values.tolist()
    # An unnamed index of row labels (a filtered frame) is not a column, in the schema or the frame.
    unnamed = tmp_path / "unnamed.parquet"
    _frame().iloc[[4, 0, 2]].to_parquet(unnamed)
    assert sniff(unnamed).columns == list(read_table(unnamed).columns) == ["Series_Title", "Genre", "Overview"]
    assert read_table(unnamed)["Series_Title"].tolist() == ["Rocky", "Heat", "Alien"]


def test_tag_and_evaluate_a_parquet_file_with_a_named_index(tiny_run, tmp_path):
    path = tmp_path / "idx.parquet"
    _frame().set_index("Series_Title").to_parquet(path)
    tagged = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run)])
    assert tagged.exit_code == 0, tagged.output
    out = pd.read_parquet(tmp_path / "idx.tagged.parquet")
    assert out["Series_Title"].tolist() == ["Heat", "Up", "Alien", "Fargo", "Rocky"]
    evaluated = runner.invoke(app, ["evaluate", "--data", str(path), "--model", str(tiny_run)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "not found" not in evaluated.output


# --------------------------------------------------------------------------- names with spaces


def test_column_names_keep_their_spaces(tmp_path):
    path = tmp_path / "spaces.csv"
    path.write_text("Series_Title,Genre ,Overview \nHeat,Crime,A heist goes wrong.\n", encoding="utf-8")
    assert sniff(path).columns == list(read_table(path).columns) == ["Series_Title", "Genre ", "Overview "]
    # matching a name ignores the spaces (and the case)
    assert detect_columns(sniff(path).columns) == (["Overview "], "Genre ")
    assert _resolve("genre", sniff(path).columns, "--genres-col") == "Genre "


def test_names_that_differ_only_in_spaces_are_two_columns(tmp_path):
    path = tmp_path / "both.csv"
    path.write_text("Series_Title,Genre,Overview,Overview \nHeat,Crime,Short plot.,Long plot.\n", encoding="utf-8")
    df = read_table(path)
    assert list(df.columns) == ["Series_Title", "Genre", "Overview", "Overview "]
    assert df.loc[0, "Overview"] == "Short plot." and df.loc[0, "Overview "] == "Long plot."
    assert _resolve("Overview ", list(df.columns), "--text-col") == "Overview "
    with pytest.raises(DataError, match="several possible synopsis columns: Overview, Overview "):
        detect_columns(list(df.columns))
    with pytest.raises(DataError, match="column 'overview' given by --text-col matches several columns: "
                                        "Overview, Overview "):
        detect_columns(list(df.columns), text_cols=["overview"])


def test_a_name_repeated_exactly_is_still_refused(tmp_path):
    path = tmp_path / "dupe.csv"
    path.write_text("Genre,Overview,Overview\nCrime,A.,B.\n", encoding="utf-8")
    with pytest.raises(DataError, match="duplicate column names: Overview;"):
        sniff(path)


@pytest.mark.parametrize("out_name", ["spaces.tagged.csv", "spaces.tagged.jsonl"])
def test_tag_writes_the_files_own_column_names(tiny_run, tmp_path, out_name):
    path = tmp_path / "spaces.csv"
    path.write_text("title,Genre ,Overview \nHeat,Crime,A heist goes wrong.\nUp,Animation,A house flies away.\n",
                    encoding="utf-8")
    out = tmp_path / out_name
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    if out_name.endswith(".csv"):
        names = next(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    else:
        names = list(json.loads(out.read_text(encoding="utf-8").splitlines()[0]))
    assert names[:3] == ["title", "Genre ", "Overview "]


# --------------------------------------------------------------------------- list cells

LIST_ROWS = [
    {"title": "Alien", "overview": ["A crew aboard a commercial spaceship answers a distress call.",
                                    "An alien stalks them one by one."], "genres": ["Horror"]},
    {"title": ["Toy Story", "Toy Story (1995)"], "overview": ["A cowboy doll feels threatened by a spaceman toy."],
     "genres": ["Comedy"]},
    {"title": "Heat", "overview": "A detective hunts a crew of bank robbers.", "genres": ["Drama"]},
]


def test_list_cells_are_read_as_their_text_not_python_repr(tiny_run, tmp_path, caplog):
    """A synopsis of paragraphs in a JSON list is read as the paragraphs joined (the model read
    brackets and quotes before: ``['A crew …', 'An alien …']``), a list of titles as its first;
    said once per column. The scores equal those of the same rows written as plain text."""
    from genretag.data import join_text

    frame = pd.DataFrame(LIST_ROWS)
    with caplog.at_level(logging.WARNING):
        text = join_text(frame, ["title", "overview"]).tolist()
    assert text == ["Alien. A crew aboard a commercial spaceship answers a distress call. An alien stalks them one by one.",
                    "Toy Story. A cowboy doll feels threatened by a spaceman toy.",
                    "Heat. A detective hunts a crew of bank robbers."]
    assert "column 'overview' holds lists (2 cells); read each one's items joined" in caplog.text
    assert "title column 'title' holds lists (1 cells); read each one's first item" in caplog.text

    listed = tmp_path / "listed.jsonl"
    listed.write_text("".join(json.dumps(r) + "\n" for r in LIST_ROWS))
    plain = tmp_path / "plain.csv"
    pd.DataFrame({"title": ["Alien", "Toy Story", "Heat"], "overview": [t.split(". ", 1)[1] for t in text]}).to_csv(
        plain, index=False)
    scores = []
    for source, out in ((listed, tmp_path / "a.csv"), (plain, tmp_path / "b.csv")):
        result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--precision", "fp32",
                                     "--text-col", "title,overview", "--out", str(out)])
        assert result.exit_code == 0, result.output
        scores.append(pd.read_csv(out).filter(like="score_").to_numpy())
    assert scores[0].shape == (3, scores[0].shape[1]) and (abs(scores[0] - scores[1]) < 1e-6).all()


def test_a_synopsis_list_of_objects_is_refused(tmp_path):
    from genretag.data import join_text

    frame = pd.DataFrame({"overview": [[{"lang": "en", "text": "A plot."}], ["Another plot."]]})
    with pytest.raises(DataError, match="column 'overview' holds objects"):
        join_text(frame, ["overview"])


def test_no_header_on_a_file_with_a_header_is_said(tmp_path, caplog):
    """``--no-header`` on a file that has one read "title, overview" as a movie, without a word."""
    with_header = tmp_path / "with_header.csv"
    with_header.write_text("Movie title,Plot summary,genres\nAlien,A crew meets a creature on a ship.,Horror\n")
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("Alien,A crew meets a creature on a ship.,Horror\nHeat,A detective hunts robbers.,Crime\n")
    options = ReadOptions(header=False, columns=("title", "overview", "genres"))
    with caplog.at_level(logging.WARNING):
        sniff(with_header, options)
    assert "its first row (Movie title, Plot summary, genres) looks like a header, and --no-header reads it" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        sniff(headerless, options)
    assert "looks like a header" not in caplog.text


# --------------------------------------------------------------------------- a header inside the file


def _joined_exports(tmp_path):
    """Three exports joined with ``cat``: a header of other names is a row (the same names are left out
    when the file is read, said)."""
    from conftest import synthetic_movies

    movies = synthetic_movies(60, seed=5)
    lines = ["id,title,overview,genres"]
    for i, m in enumerate(movies):
        if i == 20:
            lines.append("ID,Movie title,Plot summary,Genres")
        if i == 40:
            lines.append("id,title,overview,genres")
        lines.append(",".join([str(i), m["title"], '"' + m["overview"] + '"', '"' + m["genres"] + '"']))
    path = tmp_path / "joined.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_header_inside_the_file_is_no_movie_for_train_and_evaluate(tmp_path):
    """``cat a.csv b.csv``: the second header ("ID,Movie title,Plot summary,Genres") was a movie with the
    synopsis "Plot summary" and the genre "Genres", learnt as a genre of its own."""
    from genretag.data import load_labelled

    data, report = load_labelled(_joined_exports(tmp_path))
    assert report.header_rows == [20] and len(data) == 60 and report.total == 61
    assert not any(g.casefold() == "genres" for row in data.genres for g in row)
    assert "dropped 1 row that is a header, not a movie (data row 21: files joined one after another?)" \
        in report.lines()
    # A short synopsis with a column word among others is a movie's ("Plot number 1.").
    short = tmp_path / "short.csv"
    short.write_text("overview,genre\nPlot number 1.,Drama\nStory,Comedy\nA long story of two brothers.,Drama\n",
                     encoding="utf-8")
    data, report = load_labelled(short)
    assert report.header_rows == [1] and data.texts == ["Plot number 1.", "A long story of two brothers."]


def test_a_header_inside_the_file_is_left_untagged_and_said(tiny_run, tmp_path, caplog):
    source = _joined_exports(tmp_path)
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(tmp_path / "o.csv", dtype=str, keep_default_na=False)
    assert len(got) == 61 and got.loc[20, "title"] == "Movie title" and got.loc[20, "predicted_genres"] == ""
    assert (got.drop(index=[20])["predicted_genres"] != "").all()
    said = " ".join((caplog.text + result.output).split())
    assert "left untagged 1 row that is a header, not a movie (data row 21: files joined one after another?)" in said
    assert "60 tagged, 0 with an empty synopsis" in said
