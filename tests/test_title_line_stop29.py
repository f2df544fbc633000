"""A title line above a ';'- or '|'-separated table (a French or German spreadsheet's export) is read past.

It was "cannot parse v2.csv: Error tokenizing data. C error: Expected 1 fields in line 3, saw 7": the
delimiter was judged on the title line, which has none, so ',' was taken. Comma and tab tables were read.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.data import read_csv
from genretag.formats import sniff
from test_catalogues_stop24 import SYNOPSES

runner = CliRunner()


@pytest.mark.parametrize("sep", [";", "|"])
def test_a_title_line_above_a_semicolon_or_pipe_table_is_read_past_and_said(tiny_run, tmp_path, caplog, sep):
    source = tmp_path / "catalogue.csv"
    rows = [sep.join(["id", "title", "overview"]), sep.join(["1", "Heat", SYNOPSES[0]]),
            sep.join(["2", "Up", SYNOPSES[1]])]
    source.write_text("Catalogue des films\n" + "\n".join(rows) + "\n", encoding="utf-8")
    fmt = sniff(source)
    assert (fmt.sep, fmt.columns, fmt.title_lines) == (sep, ["id", "title", "overview"], 1)
    frame = read_csv(source)
    assert frame["title"].tolist() == ["Heat", "Up"] and frame["overview"].tolist() == SYNOPSES[:2]
    assert "line 1 (Catalogue des films) is a title above the header; reading the header from line 2" in caplog.text
    out = tmp_path / "catalogue.tagged.csv"
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(sep.join(["id", "title", "overview", "predicted_genres"]))
    assert [line.split(sep)[1] for line in lines[1:]] == ["Heat", "Up"]


def test_a_windows_1252_excel_export_with_a_title_line_is_read_for_evaluate_too(tiny_run, tmp_path):
    source = tmp_path / "films.csv"
    text = ("Liste des films\r\nTitre;Résumé;Genres\r\n"
            f"Heat;{SYNOPSES[0]} « Un polar »;Action|Crime\r\nUp;{SYNOPSES[1]};Animation|Comedy\r\n")
    source.write_bytes(text.encode("cp1252"))
    frame = read_csv(source)
    assert list(frame.columns) == ["Titre", "Résumé", "Genres"] and frame["Genres"].tolist() == ["Action|Crime",
                                                                                                  "Animation|Comedy"]
    assert frame["Résumé"].iloc[0].endswith("« Un polar »")
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(source), "--no-baseline"])
    assert result.exit_code == 0, result.output
    assert "2 rows" in result.output or "2 movies" in result.output, result.output


def test_a_one_column_file_whose_synopses_hold_semicolons_stays_one_column(tmp_path):
    source = tmp_path / "one.csv"
    texts = [f"{s}; then more" for s in SYNOPSES[:3]]
    source.write_text("overview\n" + "\n".join(texts) + "\n", encoding="utf-8")
    assert read_csv(source)["overview"].tolist() == texts
