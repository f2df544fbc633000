"""A Windows-1252 file whose "É”" happens to be a valid UTF-8 pair (C9 94, "ɔ") was read as UTF-8
with stray bytes: "CAFÉ”" became "CAFɔ", and the output was written in UTF-8 (every accented cell's
bytes changed). The same with a few Big5 titles in an English catalogue (空心松 written back as
mojibake). More invalid bytes than plausible valid characters now means the legacy code page,
whose output keeps the input's bytes."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.formats import read_table, sniff

runner = CliRunner()


@pytest.fixture(autouse=True)
def warnings_captured(caplog):
    caplog.set_level(logging.WARNING)


def _french(tmp_path):
    rows = ["Titre;Synopsis;Genre",
            "Dernière séance;Un projectionniste ferme son cinéma après quarante ans de métier.;Drame",
            "Le Café;Au “CAFÉ” du port, une serveuse découvre un secret de famille.;Comédie",
            "Été indien;Deux frères réparent une vieille maison et se réconcilient.;Drame"]
    path = tmp_path / "allocine.csv"
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1252"))
    return path


def test_a_windows_1252_file_with_a_chance_utf8_pair_is_read_as_windows_1252(tmp_path, caplog):
    path = _french(tmp_path)
    assert sniff(path).encoding == "cp1252"
    frame = read_table(path)
    assert frame["Synopsis"].iloc[1] == "Au “CAFÉ” du port, une serveuse découvre un secret de famille."
    assert "reading it as Windows-1252" in caplog.text and "otherwise UTF-8" not in caplog.text


def test_tag_keeps_the_input_bytes(tmp_path, tiny_run):
    path = _french(tmp_path)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--text-col", "Synopsis", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for before, after in zip(path.read_bytes().splitlines(), out.read_bytes().splitlines(), strict=True):
        assert after.startswith(before)  # every input cell as it was, the new columns after it


def test_a_few_big5_titles_in_an_english_catalogue_keep_their_bytes(tmp_path, tiny_run):
    lines = ["title,overview,genres"]
    for i in range(20):
        lines.append(f"Film {i},A detective follows a trail of clues across the city number {i}.,Crime")
    lines[3] = "空心松,Campers at a remote lake are stalked by a masked figure.,Horror"
    lines[9] = "龍門客棧,A swordsman defends an inn against the emperor's eunuch.,Action"
    lines[15] = "大醉俠,A heroine rescues her brother from a gang of bandits.,Action"
    path = tmp_path / "catalogue.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("big5"))
    assert sniff(path).repair is False  # read in one code page, not as UTF-8 with stray bytes
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for before, after in zip(path.read_bytes().splitlines(), out.read_bytes().splitlines(), strict=True):
        assert after.startswith(before)


def test_a_utf8_file_with_a_stray_windows_1252_byte_is_still_repaired(tmp_path, caplog):
    path = tmp_path / "mixed.csv"
    path.write_bytes("title,overview\nAmélie,Crème brûlée for a shy waitress".encode() + b"\x92" + b"s friends.\n")
    fmt = sniff(path)
    assert fmt.encoding == "utf-8" and fmt.repair is True
    assert read_table(path)["overview"].iloc[0] == "Crème brûlée for a shy waitress’s friends."
