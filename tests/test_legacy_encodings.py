"""Files in a legacy encoding (Excel and old exports outside Western Europe) are read in it, never as
"UTF-8 with stray bytes" or Windows-1252 mojibake, and a delimited output keeps it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.formats import read_table, sniff

runner = CliRunner()

TEXTS = {
    "cp932": ("夜勤", "古い病院で夜勤をする若い看護師が、閉鎖された病棟から声を聞く。", "ホラー",
              "十回のデート", "二人のライバルのウェディングプランナーが夏に恋に落ちる。", "コメディ, ロマンス"),
    "gb18030": ("夜班", "一名年轻护士在旧医院的夜班中听到封闭病房里传来的声音。", "恐怖",
                "十次约会", "两个互为对手的婚礼策划师在夏天坠入爱河。", "喜剧, 爱情"),
    "cp949": ("기생충", "가난한 가족이 부유한 가정에 위장 취업하면서 벌어지는 이야기.", "코미디, 스릴러",
              "올드보이", "십오 년 동안 갇혀 있던 남자가 풀려나 복수를 시작한다.", "스릴러"),
    "cp1251": ("Ночная смена", "Молодая медсестра в старой больнице слышит голоса из закрытого крыла.", "Ужасы",
               "Десять свиданий", "Два соперника-организатора свадеб влюбляются друг в друга летом.", "Комедия, Мелодрама"),
    "cp1253": ("Άγγελος", "Ένας νεαρός άνδρας στην Αθήνα ζει μια διπλή ζωή. Άλλοι δεν ξέρουν τίποτα.", "Δράμα",
               "Ο θίασος", "Ένας θίασος περιοδεύει στην Ελλάδα κατά τη διάρκεια του πολέμου. Άνθρωποι χάνονται.",
               "Δράμα, Ιστορία"),
    "cp1254": ("Savaş", "A soldier walks home across a ruined country after the war.", "Savaş, Dram",
               "Vahşi Batı", "A retired marshal rides back into a lawless town.", "Vahşi Batı, Aksiyon"),
    "cp1250": ("Nóż w wodzie", "Zamożne małżeństwo zabiera na jacht młodego autostopowicza.", "Dramat",
               "Dekalog", "Profesor w Warszawie ufa komputerowi, który oblicza, czy lód na jeziorze wytrzyma.", "Dramat"),
}


def _write(path, encoding: str, rows: tuple) -> None:
    text = "title,overview,genres\n" + "".join(f'{rows[i]},"{rows[i + 1]}","{rows[i + 2]}"\n' for i in (0, 3))
    path.write_bytes(text.encode(encoding))


@pytest.mark.parametrize("encoding", sorted(TEXTS))
def test_a_legacy_encoding_is_read_as_written(tmp_path, caplog, encoding):
    path = tmp_path / f"{encoding}.csv"
    _write(path, encoding, TEXTS[encoding])
    assert sniff(path).encoding == encoding
    frame = read_table(path)
    assert frame["title"].tolist() == [TEXTS[encoding][0], TEXTS[encoding][3]]
    assert frame["overview"].tolist() == [TEXTS[encoding][1], TEXTS[encoding][4]]
    assert "reading it" in caplog.text and "otherwise UTF-8" not in caplog.text


def test_a_czech_letter_windows_1252_lacks_is_central_european_not_latin_1(tmp_path):
    path = tmp_path / "cz.csv"
    path.write_bytes("title,overview,genres\nAť žije duch!,A rock band fights the party officials.,Comedy\n"
                     .encode("cp1250"))
    assert sniff(path).encoding == "cp1250" and read_table(path)["title"][0] == "Ať žije duch!"


@pytest.mark.parametrize("text", [
    "Amélie,A shy waitress in Paris decides to change the lives of those around her.,Comedy\n",
    "Nuit,Une jeune infirmière entend des voix dans l’aile fermée de l'hôpital.,Horror\n"
    "Café,A café owner in a small town falls for a stranger who arrives on a rainy night.,Romance\n",
    "Smørrebrød,En kok i København åbner en restaurant på Nørrebro.,Comedy\n",
    "Hross í oss,Það er saga um hesta og fólk í sveitinni á Íslandi.,Drama\n",  # Icelandic: þ ð ý are its own
])
def test_western_files_with_few_accents_stay_windows_1252(tmp_path, text):
    path = tmp_path / "w.csv"
    path.write_bytes(("title,overview,genres\n" + text).encode("cp1252"))
    assert sniff(path).encoding == "cp1252"


def test_tag_keeps_the_text_and_the_encoding(tiny_run, tmp_path):
    path = tmp_path / "ja.csv"
    _write(path, "cp932", TEXTS["cp932"])
    out = tmp_path / "ja.tagged.csv"
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Shift-JIS (cp932) (as the input)" in " ".join(result.output.split())
    lines = out.read_bytes().decode("cp932").splitlines()
    assert lines[1].startswith("夜勤,古い病院で夜勤をする") and "predicted_genres" in lines[0]
    jsonl = tmp_path / "ja.jsonl"  # JSON is UTF-8
    assert runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(jsonl)]).exit_code == 0
    assert '"title": "夜勤"' in jsonl.read_text(encoding="utf-8")
