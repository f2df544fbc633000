"""Anime exports carry a romanised title and an English one (Jikan: ``title`` / ``title_english`` /
``title_japanese``; MyAnimeList's Kaggle file: ``Name`` / ``English name`` / ``Other name``): the
romaji one was read, without a word of the English one beside it, while AniList's objects were read
through their English title. The English title is read where the original-language one sits beside it."""

from __future__ import annotations

from typer.testing import CliRunner

from genretag.cli import app
from genretag.data import detect_title_column
from genretag.data.columns import choose_text_columns

runner = CliRunner()


def test_the_english_title_beside_a_romanised_one_is_the_title():
    assert detect_title_column(["title", "title_english", "title_japanese", "synopsis"]) == "title_english"
    assert detect_title_column(["Name", "English name", "Other name", "Synopsis"]) == "English name"
    assert detect_title_column(["titleEnglish", "titleRomaji", "titleNative", "description"]) == "titleEnglish"
    # A movie file's own title and original title: the title stays (it is the English or release title).
    assert detect_title_column(["title", "original_title", "overview"]) == "title"
    assert detect_title_column(["title", "title_english", "overview"]) == "title"  # no original-language sibling
    assert detect_title_column(["电影名称", "剧情简介"]) == "电影名称"  # Douban's export


def test_tag_reads_the_english_title_with_the_synopsis(tmp_path, tiny_run):
    path = tmp_path / "anime.csv"
    path.write_text("Name,English name,Other name,Genres,Synopsis\n"
                    "Shingeki no Kyojin,Attack on Titan,進撃の巨人,\"Action, Drama\",Mankind was slaughtered by giant "
                    "creatures called titans and now a boy vows revenge.\n", encoding="utf-8")
    chosen = choose_text_columns(["Name", "English name", "Other name", "Genres", "Synopsis"],
                                 run_text_cols=["title", "overview"])
    assert chosen.columns == ["English name", "Synopsis"]
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
