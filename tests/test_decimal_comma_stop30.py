"""A `;`-separated export of a comma-decimal spreadsheet (French, German Excel: ``3,5``) was tagged with
its separator kept but scores written ``0.0525``, which such a spreadsheet reads as text. Scores are
now written with the input's decimal comma, said in the ``wrote`` line."""

from __future__ import annotations

from typer.testing import CliRunner

from genretag.cli import app
from genretag.formats import sniff

runner = CliRunner()
ROWS = ["Titre;Année;Note presse;Synopsis",
        "Iron Harbor;1990;3,0;A disgraced marine and a dockworker battle smugglers in a burning port.",
        "The Last Lantern;2004;4,5;In a snowbound village a widow and her son keep their bakery open.",
        "Moon Pickle;2011;2,5;A talking pickle and his friends build a rocket to visit the moon."]


def _write(path, rows, first=""):
    path.write_bytes(("\ufeff" + first + "\r\n".join(rows) + "\r\n").encode("utf-8"))
    return path


def test_the_decimal_mark_is_read(tmp_path):
    assert sniff(_write(tmp_path / "a.csv", ROWS, "sep=;\r\n")).decimal == ","
    dotted = [r.replace("3,0", "3.0").replace("4,5", "4.5").replace("2,5", "2.5") for r in ROWS]
    assert sniff(_write(tmp_path / "b.csv", dotted)).decimal == "."
    mixed = [*ROWS, "Hollow Pines;1999;3.5;Campers at a remote lake are stalked by a masked figure."]
    assert sniff(_write(tmp_path / "c.csv", mixed)).decimal == "."  # points too: not the file's mark
    commas = [r.replace(";", ",", 3) for r in dotted]
    assert sniff(_write(tmp_path / "d.csv", commas)).decimal == "."


def test_tag_writes_scores_with_the_input_decimal_comma(tmp_path, tiny_run):
    path = _write(tmp_path / "allocine.csv", ROWS, "sep=;\r\n")
    out = tmp_path / "allocine.tagged.csv"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--text-col", "Synopsis"])
    assert result.exit_code == 0, result.output
    assert "decimal ',' in scores (as the input)" in result.output
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "sep=;"
    header, first = lines[1].split(";"), lines[2].split(";")
    assert first[:3] == ["Iron Harbor", "1990", "3,0"]
    scores = [cell for name, cell in zip(header, first, strict=True) if name.startswith("score_")]
    assert scores and all("," in s and "." not in s for s in scores if s not in ("0", "1"))
    assert all(0 <= float(s.replace(",", ".")) <= 1 for s in scores)

    plain = tmp_path / "plain.tsv"  # another separator than the input's: the format's own decimal point
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--text-col", "Synopsis", "--out",
                                 str(plain)])
    assert result.exit_code == 0, result.output
    row = plain.read_text(encoding="utf-8").splitlines()[1].split("\t")
    assert any("." in cell for cell in row[4:])
