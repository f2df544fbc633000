"""Synopsis cells that hold no synopsis, found by a new user's probe in stop 28: a site's filler,
a placeholder in another language or dressed in dots and emoji, Lorem ipsum, invisible characters
alone. Each is an empty synopsis in train, evaluate and tag, and counted as one."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import synthetic_movies, write_csv
from typer.testing import CliRunner

from genretag.cli import app
from genretag.data import load_labelled, read_csv
from genretag.data.cells import clean_cell

runner = CliRunner()

IMDB_FILLER = ('It looks like we don\'t have a Synopsis for this title yet. Be the first to contribute! Just click the '
               '"Edit page" button at the bottom of the page or learn more in the Synopsis submission guide.')
LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
         "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip.")

# F5: fillers and placeholders, whole cells
FILLERS = [
    IMDB_FILLER,
    "It looks like we don't have any Plot Summaries for this title yet.",
    ("It looks like we don't have any Plot Summaries for this title yet. Be the first to contribute! Just click the "
     '"Edit page" button at the bottom of the page or learn more in the Plot Summary submission guide.'),
    "Add a Plot »", "See full summary »", "Be the first to contribute!",
    "T.B.A.", "N / A", "n/a 🎥", "Not yet available", "Plot details are being kept under wraps.", "TBA 🎬",
    "Synopsis unavailable.", "Sorry, there is no synopsis for this movie yet.", "Synopsis: T.B.A.", "Story TBA",
    "ＮＯ ＯＶＥＲＶＩＥＷ", "🎬🍿", "—",
    # TMDB's and other catalogues' "no overview" in other languages
    "Aucun synopsis disponible.", "Pas de synopsis disponible", "Keine Beschreibung vorhanden.",
    "Keine Inhaltsangabe verfügbar.", "No hay sinopsis disponible.", "Sin sinopsis", "Nessuna trama disponibile",
    "Sinopse não disponível", "Описание отсутствует", "暂无简介", "暂无剧情简介", "暂无", "暫無簡介", "あらすじはありません",
    "줄거리 정보가 없습니다",
    # Lorem ipsum of any length, also a generator's paragraph that does not start with it
    "Lorem ipsum", "Lorem ipsum dolor sit amet...", LOREM, LOREM * 6,
    ("Pellentesque habitant morbi tristique senectus et netus et malesuada fames ac turpis egestas. Vestibulum tortor "
     "quam, feugiat vitae, ultricies eget, tempor sit amet, ante."),
]
# F6: cells of characters that print nothing
INVISIBLE = ["\u3164", "\u2800", "\ufe0f", "\u0301", "\u200b", "\ufeff", "\u115f\u1160", "\u00a0", "\uffa0",
             "\u3164 \u2800\u200b\u00a0", "\ue000", "\u3164N/A\u3164"]
# Real synopses that hold such words: kept as written.
SYNOPSES = [
    "TBA: a retired spy is pulled back for one last mission in Berlin.",
    "Unavailable for comment, a journalist digs into a senator's past.",
    "No synopsis could capture the night the circus burned.",
    "The plot details are being kept under wraps by a secret agency that hunts aliens in Nevada.",
    "Not yet available to the public, a cure for death tempts a grieving father.",
    "Lorem Ipsum, a typesetter in Rome, falls in love with a printer's daughter during the plague.",
    "Lorem ipsum dolor sit amet. A young woman fights for her village against a powerful landowner and his sons.",
    "Gallia est omnis divisa in partes tres, quarum unam incolunt Belgae, aliam Aquitani.",
    "Nessuna pietà: un killer torna a Napoli per vendicare il fratello.",
    "暂无一人生还的小岛上，侦探展开调查。",
    IMDB_FILLER[:86] + " Then a real plot follows, with a ghost in the hospital.",
]


@pytest.mark.parametrize("text", FILLERS)
def test_filler_and_placeholders_are_empty_synopses(text):
    assert clean_cell(text) == ""


@pytest.mark.parametrize("text", INVISIBLE, ids=[f"U+{ord(t[0]):04X}" for t in INVISIBLE])
def test_a_cell_of_invisible_characters_is_an_empty_synopsis(text):
    assert clean_cell(text) == ""
    assert clean_cell(text, title=True) == ""


@pytest.mark.parametrize("text", SYNOPSES)
def test_a_synopsis_that_holds_such_words_is_kept(text):
    assert clean_cell(text) == text


# --------------------------------------------------------------------------- every command

# One of each kind: a site's filler, a dressed placeholder, another language, Lorem ipsum, invisible.
KINDS = [IMDB_FILLER, "T.B.A.", "暂无简介", "Keine Inhaltsangabe verfügbar.", LOREM, "\u3164", "\u2800\ufe0f"]


def _rows(n_real: int) -> list[dict]:
    real = synthetic_movies(n_real, seed=3)
    gaps = [{"title": f"Gap {i}", "overview": text, "genres": "Drama"} for i, text in enumerate(KINDS)]
    return real[:2] + gaps + real[2:]


def test_train_drops_and_counts_filler_rows(tiny_qwen, tmp_path):
    source = write_csv(tmp_path / "gaps.csv", _rows(40))
    data, report = load_labelled(source)
    assert report.empty_text == len(KINDS) and len(data.texts) == 40
    assert not any(t.startswith(("It looks", "Lorem")) for t in data.texts)
    result = runner.invoke(app, ["train", "--data", str(source), "--backbone", str(tiny_qwen), "--epochs", "1",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert f"dropped {len(KINDS)} rows with an empty synopsis" in " ".join(result.output.split())


def test_evaluate_leaves_filler_rows_out_and_counts_them(tiny_run, tmp_path):
    source = write_csv(tmp_path / "gaps.csv", _rows(20))
    out = tmp_path / "eval.json"
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(source), "--json", str(out)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"dropped {len(KINDS)} rows with an empty synopsis" in said
    data = json.loads(out.read_text())
    assert f"dropped {len(KINDS)} rows with an empty synopsis" in data["data"]["read"]


def test_tag_leaves_filler_rows_untagged_and_counts_them(tiny_run, tmp_path):
    rows = [{"title": r["title"], "overview": r["overview"]} for r in _rows(3)]
    source = write_csv(tmp_path / "gaps.csv", rows)
    out = tmp_path / "gaps.tagged.csv"
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{len(rows)} rows, 3 tagged, {len(KINDS)} with an empty synopsis" in " ".join(result.output.split())
    tagged = read_csv(out)
    gaps = tagged["title"].str.startswith("Gap ").to_numpy()
    assert gaps.sum() == len(KINDS)
    assert (tagged.loc[gaps, "predicted_genres"] == "").all()
    # scores are blank where the model read nothing, numbers where it read a synopsis
    scores = pd.to_numeric(tagged[[c for c in tagged.columns if c.startswith("score_")]].stack(future_stack=True),
                           errors="coerce").unstack()
    assert scores[gaps].isna().all().all() and scores[~gaps].notna().all().all()
