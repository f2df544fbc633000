"""``tag --engine ray`` over inputs of several dialects: plain UTF-8 with the line ending they share, said.

A folder of one UTF-8 and one Windows-1252 file, both LF, was written with CRLF (plain CSV's own ending)
and nothing said; every UTF-8 folder kept LF.
"""

from __future__ import annotations

import logging

from genretag.engine import output_format


def _write(path, text: str, encoding: str = "utf-8", newline: str = "\n"):
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return str(path)


def test_inputs_differing_in_encoding_keep_their_shared_line_ending_and_say_so(tmp_path, caplog):
    """Their shared separator is kept too (';' here), not only the line ending."""
    caplog.set_level(logging.WARNING)
    a = _write(tmp_path / "a.csv", "title;overview\nHeat;A thief and a cop.\n")
    b = _write(tmp_path / "b.csv", "title;overview\nCafé;A café story.\n", encoding="cp1252")
    fmt = output_format(tmp_path / "out.csv", [a, b])
    assert (fmt.encoding, fmt.sep, fmt.newline) == ("utf-8", ";", "\n")
    assert "the inputs differ in encoding (UTF-8, Windows-1252); out.csv is written ';'-separated in UTF-8 " \
           "with LF line endings" in caplog.text


def test_shared_crlf_is_kept_and_mixed_endings_give_the_format_s_own(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    a = _write(tmp_path / "a.csv", "title;overview\nHeat;A thief.\n", newline="\r\n")
    b = _write(tmp_path / "b.csv", "title,overview\nUp,A house flies.\n", newline="\r\n")
    assert output_format(tmp_path / "o1.csv", [a, b]).newline == "\r\n"
    assert "differ in sep (',', ';')" in caplog.text
    c = _write(tmp_path / "c.csv", "title,overview\nUp,A house flies.\n")
    mixed = output_format(tmp_path / "o2.csv", [a, c])
    assert mixed.newline is None and mixed.sep == ","  # ';' and ',' differ too: plain CSV's comma
    assert "newline (CRLF, LF)" in caplog.text


def test_one_dialect_is_kept_whole_without_a_word(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    a = _write(tmp_path / "a.csv", "title;overview\nHeat;A thief in Zürich.\n", encoding="cp1252")
    b = _write(tmp_path / "b.csv", "title;overview\nCafé;A café.\n", encoding="cp1252")
    fmt = output_format(tmp_path / "o.csv", [a, b])
    assert (fmt.sep, fmt.encoding) == (";", "cp1252") and "differ" not in caplog.text
