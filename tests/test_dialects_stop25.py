"""Reading and writing faults found by a new user's tries in stop 25, one test per kind, each asserting the right value."""

from __future__ import annotations

import gzip
import io
import logging
import tarfile

import pandas as pd
import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.errors import DataError
from genretag.formats import check_output, read_table, sniff
from genretag.language import looks_english

runner = CliRunner()

UNQUOTED = ("title,overview\n"
            "Amelie,A waitress, shy and dreamy, helps the people around her in Paris.\n"
            "Leon,A hitman, alone in New York, takes in a girl after her family is killed.\n"
            "Heat,Robbers and cops, one last job, a city at night.\n")


def test_an_unquoted_separator_in_the_first_row_is_refused_not_shifted(tiny_run, tmp_path):
    """pandas took the first row's extra fields for an index: "Amelie" and "A waitress" were lost, exit 0."""
    path = tmp_path / "to_tag.csv"
    path.write_text(UNQUOTED, encoding="utf-8")
    message = r"first data row has 4 fields separated by ',' and the header 2; quote fields that hold ','"
    with pytest.raises(DataError, match=message):
        sniff(path)
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run)])
    assert result.exit_code == 2 and "first data row has 4 fields" in result.output
    assert not (tmp_path / "to_tag.tagged.csv").exists()
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("title,overview,genres\nAmelie,A waitress, shy, helps people.,Comedy\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(labelled)])
    assert result.exit_code == 2 and "first data row has 5 fields" in result.output


def test_r_write_table_row_names_are_still_read(tmp_path):
    """R's write.table writes row names without a header cell: every row one wider, read as before."""
    path = tmp_path / "r.csv"
    path.write_text('"title","overview"\n"1","Amelie","A shy waitress helps people."\n'
                    '"2","Leon","A hitman takes in a girl."\n', encoding="utf-8")
    frame = read_table(path)
    assert frame["title"].tolist() == ["Amelie", "Leon"] and frame["overview"].tolist()[1] == "A hitman takes in a girl."


def test_a_percent_sign_in_quoted_file_text_is_text_in_a_warning(tmp_path, caplog):
    """The warning quoting '100% honest' was a "--- Logging error ---" traceback, and never shown."""
    path = tmp_path / "input.csv"
    path.write_bytes("title,overview\nTrue Grit,The only 100% honest marshal".encode() + b"\x92"
                     + "s deputy tracks her father's killer in Café Lune.\n".encode())
    with caplog.at_level(logging.WARNING):
        sniff(path)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"{path}: 1 byte(s) are not valid UTF-8") and "100% honest" in m for m in messages)


def _tar_gz(path, name: str, data: bytes) -> None:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def test_archives_and_zstd_are_refused_and_a_hidden_gzip_is_read(tmp_path, caplog):
    text = "title,overview\nHeat,Robbers and cops on one last job in a city at night.\n"
    tar = tmp_path / "MovieSummaries.tar.gz"
    _tar_gz(tar, "movies.csv", text.encode())
    with pytest.raises(DataError, match=r"is a tar archive, not one file; unpack it \(tar xf MovieSummaries.tar.gz\)"):
        sniff(tar)
    zst = tmp_path / "movies.csv.zst"
    zst.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 40)
    with pytest.raises(DataError, match=r"is zstd-compressed, which genretag does not read; unpack it"):
        sniff(zst)
    hidden = tmp_path / "title.basics.tsv"  # a .tsv.gz saved without its .gz
    hidden.write_bytes(gzip.compress(text.replace(",", "\t").encode()))
    with caplog.at_level(logging.WARNING):
        frame = read_table(hidden)
    assert frame["title"].tolist() == ["Heat"]
    assert "is gzip-compressed though its name does not say so; reading it decompressed" in caplog.text


@pytest.mark.parametrize(("out", "message"), [
    ("-", r"--out - \(standard output\) is not written to"),
    ("movies.tar.gz", r"genretag does not write .tar files"),
    ("movies.zst", r"genretag does not write .zst files"),
    ("movies.tgz", r"genretag does not write .tgz files"),
    ("outdir/", r"--out outdir/ names a folder; give a file name"),  # wrote a file named "outdir"
])
def test_outputs_genretag_cannot_write_are_refused(out, message):
    """Each was written as CSV (or gzip CSV) under a name that says otherwise; "-" became a file named "-"."""
    with pytest.raises(DataError, match=message):
        check_output(out)


PORTUGUESE = [  # TMDB overviews fetched with language=pt-BR (invented)
    "No Rio dos anos 60, a vida de Buscapé muda quando a guerra entre traficantes chega à favela onde ele mora.",
    "A ex-professora Dora escreve cartas para analfabetos na estação e acaba viajando com um menino pelo sertão.",
    "O capitão Nascimento precisa encontrar um substituto antes do nascimento do filho, enquanto a polícia enfrenta o "
    "tráfico no morro.",
    "Um grupo de amigos viaja para uma cabana isolada na floresta, mas a noite se transforma em pesadelo.",
    "No futuro, a Terra está devastada e a humanidade depende de uma nave que procura um novo planeta habitável.",
    "A detetive Helena investiga uma série de assassinatos no Rio e percebe que o assassino a conhece muito bem.",
    "Durante a ditadura militar, um jornalista arrisca a vida para denunciar a tortura nos porões do regime.",
]


def test_portuguese_synopses_do_not_read_as_english():
    """'a' and 'no' are English words too: 6 of 9 Portuguese rows passed as English."""
    assert [looks_english(t) for t in PORTUGUESE] == [False] * len(PORTUGUESE)
    assert looks_english("Paul Atreides, a brilliant and gifted young man, must travel to the most dangerous planet "
                         "in the universe to ensure the future of his family.") is True


def test_tag_flags_portuguese_rows(tiny_run, tmp_path):
    path = tmp_path / "pt.csv"
    pd.DataFrame({"title": [f"Filme {i}" for i in range(len(PORTUGUESE))], "overview": PORTUGUESE}).to_csv(
        path, index=False)
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run)])
    assert result.exit_code == 0, result.output
    tagged = pd.read_csv(tmp_path / "pt.tagged.csv")
    assert (tagged["language_warning"] == "not English (model: English)").all()


@pytest.mark.parametrize(("sep", "name"), [(",", "movies.csv"), ("\t", "movies.tsv")])
def test_rows_ending_with_a_separator_are_read_in_their_columns(tmp_path, sep, name):
    """Every row one wider with an empty last field: pandas took the ids for an index and shifted the rest."""
    path = tmp_path / name
    rows = [("1", "Heat", "A detective hunts a crew of thieves in Los Angeles.", "Crime|Action"),
            ("2", "Jaws", "A great white shark terrorizes a small beach town.", "Horror|Thriller")]
    path.write_text(sep.join(("id", "title", "overview", "genres")) + "\n"
                    + "".join(sep.join(r) + sep + "\n" for r in rows), encoding="utf-8")
    frame = read_table(path)
    assert list(frame.columns) == ["id", "title", "overview", "genres"]
    assert frame.values.tolist() == [list(r) for r in rows]


def test_a_gzip_output_has_no_timestamp_so_a_resumed_one_is_the_same_bytes(tmp_path):
    """Each chunk's gzip header held the time it was written: a resumed .csv.gz differed from byte 5."""
    from genretag.formats import OutputFormat, TableWriter

    frame = pd.DataFrame({"title": ["Heat"], "overview": ["Thieves in Los Angeles."]})
    outputs = []
    for name in ("a.csv.gz", "b.csv.gz"):
        writer = TableWriter(tmp_path / name, OutputFormat(kind="csv", compression="gzip"), name="movies.csv.gz")
        writer.write(frame, header=True)
        writer.close()
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0][4:8] == b"\x00\x00\x00\x00" and outputs[0] == outputs[1]
    assert gzip.decompress(outputs[0]).decode().startswith("title,overview")
