"""Real-catalogue faults found by a new user's tries in stop 28 (after the filler, dialect, backbone and
vocabulary fixes of that stop), one test per kind, each asserting the right value."""

from __future__ import annotations

import json
import logging
import re

import pytest
from conftest import synthetic_movies, write_csv
from typer.testing import CliRunner

from genretag.cli import app
from genretag.data import load_labelled
from genretag.data.cells import clean_cell
from genretag.data.genres import parse_genres
from genretag.errors import DataError
from genretag.formats import read_table, sniff
from genretag.vocabulary import current_vocabulary

runner = CliRunner()

# --------------------------------------------------------------------------- synopsis cells that hold none

OTHER_FILLERS = [
    # MyAnimeList's first sentence alone (Kaggle anime dumps keep only it)
    "No synopsis information has been added to this title.",
    "This movie doesn't have a description yet.", "This film has no synopsis yet.", "Please add a synopsis",
    # a template's or a form's own text, a script's leftovers
    "Description goes here", "Insert synopsis here", "Your story goes here", "TODO", "placeholder", "undefined",
    "To be updated",
    # lipsum.com's explanation, and the "Sed ut perspiciatis" passage generators offer
    "Lorem Ipsum is simply dummy text of the printing and typesetting industry.",
    ("Lorem Ipsum is simply dummy text of the printing and typesetting industry. Lorem Ipsum has been the "
     "industry's standard dummy text ever since the 1500s, when an unknown printer took a galley of type and "
     "scrambled it to make a type specimen book."),
    "Sed ut perspiciatis unde omnis iste natus error sit voluptatem accusantium doloremque laudantium.",
    ("Sed ut perspiciatis unde omnis iste natus error sit voluptatem accusantium doloremque laudantium, totam rem "
     "aperiam, eaque ipsa quae ab illo inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo. "
     "Nemo enim ipsam voluptatem quia voluptas sit aspernatur aut odit aut fugit."),
    # Wikipedia's empty-section template, scraped with a plot section
    "This section is empty. You can help by adding to it.",
    "This section is empty. You can help by adding to it. (January 2024)",
    # moviepilot's, Kinopoisk's
    "Zu diesem Film gibt es noch keine Inhaltsangabe.", "Описание фильма отсутствует",
]
# Real synopses that begin as such filler does, or hold its words: kept as written.
STILL_SYNOPSES = [
    ("It looks like we don't have a way out, whispers Sarah as the cave floods; six friends on a spelunking trip "
     "must find another exit before the water, and something living in the dark, reaches them."),
    ("This section is empty, reads the note on the last page of a dead detective's notebook, and his daughter "
     "sets out to fill it: who killed him, and why did the city want it forgotten? A noir mystery in Seattle."),
    "Description goes here, says the sign on the door of an empty gallery where a painter hides from her debts.",
    "Please add a synopsis of your life, says the app, and a lonely man starts to write the truth.",
    "This film has no plot, says its director, but three sisters in Ohio find one anyway.",
    "Zu diesem Film gibt es keine Handlung, sagt der Regisseur, aber drei Schwestern finden eine.",
    "Undefined by labels, a drifter crosses America on foot.",
    "Todo cambia cuando un niño encuentra un perro en la playa.",
    "In March 2024 a storm hits a fishing town in Maine.",
    "No plot information was given to the agents sent to the island, only a name.",
]


@pytest.mark.parametrize("text", OTHER_FILLERS)
def test_more_site_and_template_fillers_are_empty_synopses(text):
    assert clean_cell(text) == ""


@pytest.mark.parametrize("text", STILL_SYNOPSES)
def test_synopses_that_begin_as_filler_does_are_kept(text):
    assert clean_cell(text) == text


def test_train_and_evaluate_read_such_filler_as_an_empty_synopsis(tmp_path):
    real = synthetic_movies(10, seed=5)
    gaps = [{"title": f"Gap {i}", "overview": t, "genres": "Drama"} for i, t in enumerate(OTHER_FILLERS[:5])]
    source = write_csv(tmp_path / "anime.csv", real[:3] + gaps + real[3:])
    data, report = load_labelled(source)
    assert report.empty_text == len(gaps) and data.texts == [r["overview"] for r in real]


# --------------------------------------------------------------------------- subgenres

@pytest.mark.parametrize(("cell", "genres"), [
    ("space opera", ["Science Fiction"]),
    ("Space Opera", ["Science Fiction"]),
    ("Space opera film", ["Science Fiction"]),
    # a modifier the compound rule skips is no genre in brackets either, as "psychological thriller" is Thriller
    ("Thriller (psychological)", ["Thriller"]),
    ("Horror (psychological)", ["Horror"]),
    ("Drama (teen)", ["Drama"]),
    ("Comedy (dark)", ["Comedy"]),
    # what was right stays so
    ("psychological thriller", ["Thriller"]),
    ("Psychological", ["Psychological"]),
    ("comedy (romantic)", ["Comedy", "Romance"]),
    ("Thriller (Neo-noir)", ["Thriller", "Crime"]),
])
def test_more_subgenre_spellings_are_read_as_their_genres(cell, genres):
    rows, _ = current_vocabulary().apply([parse_genres(cell)])
    assert rows == [genres]


def test_evaluate_scores_a_space_opera_as_science_fiction(tmp_path):
    rows = synthetic_movies(6, seed=4)
    rows[0]["genres"] = "space opera"
    data, _ = load_labelled(write_csv(tmp_path / "wiki.csv", rows), vocabulary=current_vocabulary())
    assert data.genres[0] == ["Science Fiction"]


# --------------------------------------------------------------------------- one saved page of an API's answers

MOVIES = [{"id": i, "title": r["title"], "overview": r["overview"], "genre_ids": [27, 53]}
          for i, r in enumerate(synthetic_movies(4, seed=6))]
PAGE = {"page": 1, "results": MOVIES, "total_pages": 12, "total_results": 231}


@pytest.mark.parametrize("indent", [None, 2])
def test_one_saved_tmdb_page_is_read_from_its_results(tmp_path, caplog, indent):
    """Refused as "API response pages" although Jikan's {"data": [...]} and OMDb's {"Search": [...]} were read."""
    path = tmp_path / "popular.json"
    path.write_text(json.dumps(PAGE, indent=indent) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert read_table(path)["title"].tolist() == [m["title"] for m in MOVIES]
    assert f"{path} is one JSON object: read its 4 records from the key 'results'" in caplog.text
    data, _ = load_labelled(path, vocabulary=current_vocabulary())
    assert data.genres == [["Horror", "Thriller"]] * 4


def test_a_page_of_one_short_record_is_read_and_said_in_the_singular(tmp_path, caplog):
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"page": 1, "results": [{"title": "A", "overview": "Ghosts."}], "total_pages": 3}),
                    encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert read_table(path)["overview"].tolist() == ["Ghosts."]
    assert "read its 1 record from the key 'results'" in caplog.text


def test_pages_saved_one_per_line_are_still_refused_saying_where_the_movies_are(tmp_path):
    path = tmp_path / "pages.jsonl"
    path.write_text(json.dumps(PAGE) + "\n" + json.dumps({**PAGE, "page": 2}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"each page's 'results' list.*jq -c '.results\[\]' pages.jsonl"):
        sniff(path)


def test_tag_keeps_the_page_around_its_tagged_results(tiny_run, tmp_path):
    path = tmp_path / "popular.json"
    path.write_text(json.dumps(PAGE, indent=2) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", str(path), "--model", str(tiny_run), "--no-scores"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "popular.tagged.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in document.items() if k != "results"} == {"page": 1, "total_pages": 12,
                                                                       "total_results": 231}
    assert [m["genre_ids"] for m in document["results"]] == [[27, 53]] * 4
    assert all("predicted_genres" in m for m in document["results"])


# --------------------------------------------------------------------------- counts in the singular

def test_evaluate_of_one_row_says_row_not_rows(tiny_run, tmp_path):
    source = write_csv(tmp_path / "one.csv", synthetic_movies(1, seed=2))
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(source), "--no-baseline"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "predicting 1 row (" in said and re.search(r"(?<![\d.])1 rows", said) is None  # not "27.1 rows/s"


def test_tag_of_one_row_says_row_not_rows(tiny_run, tmp_path):
    source = write_csv(tmp_path / "one.csv", [{k: v for k, v in synthetic_movies(1, seed=2)[0].items() if k != "genres"}])
    result = runner.invoke(app, ["tag", str(source), "--model", str(tiny_run), "--no-scores"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "one.tagged.csv: 1 row, 1 tagged" in said and re.search(r"(?<![\d.])1 rows", said) is None
