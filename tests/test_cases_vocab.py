"""The vocab-* cases of tests/cases (from ../shared/cases): genre cells in real files' shapes,
aliases, case, placeholders, files that use a subset of the model's genres, TMDB numeric ids.

Each case is one kind of fault, checked wherever genres are read: train (and tune, through
the same `prepare`), evaluate, tag, ensemble, info. Evaluations against "MODEL" use the
bundled model (TMDB's genres); trainings use the tiny random backbones of conftest.py.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genretag import training
from genretag.cli import app
from genretag.config import TrainConfig
from genretag.evaluation import evaluate
from genretag.runs import bundled_model, load_run

CASES = Path(__file__).resolve().parent / "cases"
runner = CliRunner()


@pytest.fixture(scope="module")
def bundled():
    return load_run(bundled_model())


def _train(data: Path, out: Path, backbone: Path, *extra: str):
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", str(backbone), "--epochs", "1",
                                 "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result


def _per_genre(results: dict, block: str = "at_run_thresholds") -> dict:
    return {r["genre"]: r for r in results["scores"][block]["per_genre"]}


# --------------------------------------------------------------------------- vocab-freebase-dict


def test_freebase_dict_cells_are_read_as_genres():
    prep = training.prepare(TrainConfig(data=str(CASES / "vocab-freebase-dict" / "cmu_style_12.tsv")))
    assert len(prep.data) == 12  # was "no usable rows: 12 without genres"
    assert prep.data.genres[:5] == [
        ["Thriller", "Science Fiction", "Horror", "Adventure"],
        ["Drama", "World cinema"],
        ["Romance", "Comedy"],  # "Romantic comedy" + "Romance Film" + "Comedy"
        ["Horror"],
        ["Crime", "Action", "Thriller"],  # "Crime Fiction"
    ]
    assert all(row == ["Drama", "Family"] for row in prep.data.genres[5:])  # "Family Film"
    assert prep.genre_report.applied["Family Film"] == {"to": ["Family"], "kind": "alias", "rows": 7}
    assert prep.genre_report.applied["Romantic comedy"]["to"] == ["Romance", "Comedy"]


def test_freebase_dict_file_trains(tmp_path, tiny_bert):
    out = tmp_path / "run"
    result = _train(CASES / "vocab-freebase-dict" / "cmu_style_12.tsv", out, tiny_bert)
    labels = json.loads((out / "labels.json").read_text())
    assert {"Drama", "Family"} <= set(labels)
    assert not {"Family Film", "Romance Film", "Crime Fiction"} & set(labels)
    assert "genres mapped: Family Film → Family (7 rows)" in result.stderr
    saved = json.loads((out / "vocabulary.json").read_text())
    assert saved["applied"]["Family Film"]["rows"] == 7


# --------------------------------------------------------------------------- vocab-case


@pytest.fixture(scope="module")
def case_run(tmp_path_factory, tiny_qwen):
    out = tmp_path_factory.mktemp("vocab-case") / "run"
    result = _train(CASES / "vocab-case" / "input.csv", out, tiny_qwen)
    return out, result


def test_case_variants_are_one_genre(case_run):
    out, result = case_run
    assert json.loads((out / "labels.json").read_text()) == ["Comedy", "Science Fiction", "TV Movie"]
    assert "spellings merged: Science fiction → Science Fiction (5 rows), Tv Movie → TV Movie (2 rows)" in result.stderr


def test_info_shows_the_runs_vocabulary(case_run):
    out, _ = case_run
    result = runner.invoke(app, ["info", str(out)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "bundled vocabulary.toml" in result.output
    assert "Science fiction → Science Fiction (5 rows)" in result.output
    as_json = json.loads(runner.invoke(app, ["info", str(out), "--json"]).stdout)
    assert as_json["vocabulary"]["applied"]["Tv Movie"] == {"to": ["TV Movie"], "kind": "spelling", "rows": 2}


def test_evaluate_reads_the_runs_own_split_with_its_vocabulary(case_run):
    out, _ = case_run
    results = evaluate(load_run(out), baseline=False)
    assert results["data"]["split"] == "test"
    assert results["labels"] == ["Comedy", "Science Fiction", "TV Movie"]
    assert results["unknown_genres"]["genres"] == {}
    assert results["unused_genres"]["genres"] == {}  # the run's own file uses all its genres


def test_tag_writes_another_vocabulary(case_run, tmp_path, caplog):
    out, _ = case_run
    src = tmp_path / "to_tag.csv"
    src.write_text("title,overview\nA,A robot crew repairs a starship.\nB,A clown runs for mayor.\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", str(src), "--model", str(out), "--vocabulary", "imdb"])
    assert result.exit_code == 0, result.output
    assert "Science Fiction → Sci-Fi" in result.stderr
    assert "vocabulary imdb has no name for TV Movie; written as the model names them" in caplog.text
    with open(tmp_path / "to_tag.tagged.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[3:] == ["score_Comedy", "score_Sci-Fi", "score_TV Movie", "language_warning"]
    for row in rows:
        assert row["predicted_genres"] and set(row["predicted_genres"].split("|")) <= {"Comedy", "Sci-Fi", "TV Movie"}
    bad = runner.invoke(app, ["tag", str(src), "--model", str(out), "--vocabulary", "letterboxd", "--force"])
    assert bad.exit_code == 2 and "unknown --vocabulary 'letterboxd'" in bad.output


def test_ensemble_keeps_the_members_vocabulary(case_run, tmp_path, tiny_qwen):
    out, _ = case_run
    other = tmp_path / "other"
    _train(CASES / "vocab-case" / "input.csv", other, tiny_qwen, "--init-seed", "7")
    result = runner.invoke(app, ["ensemble", str(out), str(other), "--out", str(tmp_path / "ens")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ens" / "vocabulary.json").read_bytes() == (out / "vocabulary.json").read_bytes()
    results = evaluate(load_run(tmp_path / "ens"), baseline=True)  # the baseline re-reads the training rows
    assert results["baseline"]["available"] and results["labels"] == ["Comedy", "Science Fiction", "TV Movie"]


# --------------------------------------------------------------------------- vocab-placeholders


def test_placeholder_rows_count_as_without_genres():
    prep = training.prepare(TrainConfig(data=str(CASES / "vocab-placeholders" / "placeholders.csv")))
    assert prep.labels == ["Comedy", "Crime", "Drama", "Horror", "Romance", "Thriller"]
    assert "dropped 18 rows with no genres" in prep.dropped
    assert {n: a["rows"] for n, a in prep.genre_report.applied.items()} == \
        {"Unknown": 6, "No Genres Listed": 6, "\\N": 6}


PLACEHOLDER_CELLS = ["TBD", "TBA", "N.A.", "Uncategorized", "Not specified", "Unspecified", "Undefined",
                     "Genre unknown", "No genre", "unknown genre", "various", "null", "??", "Genre: unknown",
                     "Not categorized", "Pending", "N.D.", "Misc",
                     # spreadsheet errors, pandas' missing value, Netflix's "filed under nothing", other languages
                     "#VALUE!", "<NA>", "#REF!", "No genre listed", "Other", "Movies", "TV Shows", "Uncategorized Movies",
                     "Unbekannt", "Inconnu", "Desconocido", "Sconosciuto"]


def test_other_placeholders_are_no_genre_either(tmp_path):
    """Placeholders of other catalogues were learnt as genres ("Tbd", "Genre Unknown" ...)."""
    rows = [["title", "overview", "genres"]]
    for i in range(60):
        rows.append([f"Film {i}", f"A story number {i} of love and loss in a small town.", ["Drama", "Comedy|Romance"][i % 2]])
    for i, cell in enumerate(PLACEHOLDER_CELLS):
        rows.append([f"Odd {i}", f"A story about a man named {i} who waits for a train.", cell])
    path = tmp_path / "odd.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    prep = training.prepare(TrainConfig(data=str(path)))
    assert prep.labels == ["Comedy", "Drama", "Romance"]
    assert f"dropped {len(PLACEHOLDER_CELLS)} rows with no genres" in prep.dropped
    # Beside a genre, "Movies" is no genre either: "Dramas, Movies" is Drama.
    assert training.prepare(TrainConfig(data=str(path))).vocabulary.apply([["Dramas", "Movies"]])[0] == [["Drama"]]


def test_runs_written_before_vocabularies_behave_as_before(tmp_path, tiny_bert, monkeypatch):
    # A run trained before this change: no vocabulary.json, placeholders learnt as genres.
    monkeypatch.setattr(training, "current_vocabulary", lambda genre_map=None: None)
    out = tmp_path / "old"
    _train(CASES / "vocab-placeholders" / "placeholders.csv", out, tiny_bert)
    monkeypatch.undo()
    assert not (out / "vocabulary.json").exists()
    labels = json.loads((out / "labels.json").read_text())
    assert {"Unknown", "No Genres Listed", "\\N"} <= set(labels)
    # Its own split still lines up with its data (read without a vocabulary), and scores as before.
    results = evaluate(load_run(out), baseline=True)
    assert results["labels"] == labels and results["baseline"]["available"]
    assert sum(r["support"] for r in _per_genre(results).values() if r["genre"] == "Unknown") >= 1


# --------------------------------------------------------------------------- vocab-tmdb-numeric-ids


def test_tmdb_numeric_ids_are_read_as_tmdb_names(bundled):
    results = evaluate(bundled, data=CASES / "vocab-tmdb-numeric-ids" / "tmdb_api_style.csv", baseline=False)
    support = {g: r["support"] for g, r in _per_genre(results).items()}
    assert support == {"Action": 1, "Comedy": 1, "Crime": 1, "Horror": 2, "Romance": 1, "Science Fiction": 1,
                       "Thriller": 2}
    assert results["unknown_genres"]["genres"] == {}
    assert results["genre_mappings"]["lines"][0].startswith("TMDB genre ids read as names: 27 → Horror (2 rows), "
                                                            "53 → Thriller (2 rows)")


def test_numeric_ids_that_are_not_tmdb_ids_are_refused(tmp_path, tiny_bert):
    src = (CASES / "vocab-tmdb-numeric-ids" / "tmdb_api_style.csv").read_text(encoding="utf-8")
    bad = tmp_path / "ids.csv"
    # Another site's ids in every row: refused.
    bad.write_text(src.replace('"[27, 53]"', '"[1, 2]"').replace('"[35, 10749]"', '"[3]"')
                   .replace('"[80, 28, 53]"', '"[4, 5]"').replace('"[878, 27]"', '"[6, 27]"'), encoding="utf-8")
    result = runner.invoke(app, ["train", "--data", str(bad), "--backbone", str(tiny_bert), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "are numeric ids (1, 2, 3, 4, 5, 6, ...), not genre names, and 1, 2, 3, 4, 5, 6 are not TMDB genre ids" \
        in result.output
    assert "Traceback" not in result.output and not (tmp_path / "r").exists()


def test_one_id_that_is_no_tmdb_id_among_tmdb_ids_is_no_genre_and_said(tmp_path):
    """A stray (a new or mistyped id) in one row of TMDB ids no longer refuses the file."""
    src = (CASES / "vocab-tmdb-numeric-ids" / "tmdb_api_style.csv").read_text(encoding="utf-8")
    rows = src.splitlines()
    bad = tmp_path / "ids.csv"
    bad.write_text("\n".join([rows[0]] + [r.replace('"[27, 53]"', '"[27, 99999]"') for r in rows[1:]] * 3) + "\n",
                   encoding="utf-8")
    assert bad.read_text().count('"[27, 99999]"') == 3
    from genretag.data import load_labelled
    from genretag.vocabulary import current_vocabulary

    data, report = load_labelled(bad, vocabulary=current_vocabulary())
    assert [g for g in data.genres if "Horror" in g][0] == ["Horror"]  # 27 kept, 99999 read as no genre
    assert not any("99999" in g for row in data.genres for g in row)
    assert "numbers that are no TMDB genre id, among genre names or ids, read as no genre: 99999 (3 rows)" in report.genres.lines()


# --------------------------------------------------------------------------- vocab-alias-scifi


def test_sci_fi_rows_count_as_science_fiction_positives(bundled, tmp_path):
    results = evaluate(bundled, data=CASES / "vocab-alias-scifi" / "imdb_style.csv", baseline=False)
    sf = _per_genre(results)["Science Fiction"]
    assert sf["support"] == 3 and sf["fp"] == 0  # was: 3 false positives, "Sci-Fi" unknown
    assert results["unknown_genres"]["genres"] == {}
    assert results["genre_mappings"]["read"] == {"Sci-Fi": {"to": ["Science Fiction"], "kind": "alias", "rows": 3}}
    # A --genre-map adds the file's own names ("Space Opera" is Science Fiction since stop 28: another name).
    mapped = tmp_path / "imdb_plus.csv"
    mapped.write_text((CASES / "vocab-alias-scifi" / "imdb_style.csv").read_text(encoding="utf-8")
                      .replace("Sci-Fi", "Tokusatsu"), encoding="utf-8")
    unknown = evaluate(bundled, data=mapped, baseline=False)
    assert unknown["unknown_genres"]["genres"] == {"Tokusatsu": 3}
    genre_map = tmp_path / "map.toml"
    genre_map.write_text('"Tokusatsu" = "Sci-Fi"\n', encoding="utf-8")
    fixed = evaluate(bundled, data=mapped, baseline=False, genre_map=genre_map)
    assert _per_genre(fixed)["Science Fiction"]["support"] == 3 and fixed["unknown_genres"]["genres"] == {}


def test_localised_tmdb_genre_names_are_read_as_tmdb_genres_and_said(bundled, tmp_path, tiny_bert):
    """A catalogue exported from a German, French or Spanish TMDB ("Komödie", "Comédie", "Ciencia ficción") had
    every genre unknown: evaluate scored nothing of it and train learnt "Komödie" as a genre of its own."""
    src = tmp_path / "tmdb_de.csv"
    text = (CASES / "vocab-alias-scifi" / "imdb_style.csv").read_text(encoding="utf-8")
    src.write_text(text.replace("Sci-Fi", "Science-Fiction").replace("Drama", "Drame").replace("Action", "Acción")
                   .replace("Thriller", "Suspenso"), encoding="utf-8")
    results = evaluate(bundled, data=src, baseline=False)
    assert results["unknown_genres"]["genres"] == {}
    read = results["genre_mappings"]["read"]
    assert read["Drame"] == {"to": ["Drama"], "kind": "alias", "rows": 2}
    assert read["Acción"]["to"] == ["Action"] and read["Suspenso"]["to"] == ["Thriller"]
    assert _per_genre(results)["Science Fiction"]["support"] == 3 and _per_genre(results)["Drama"]["support"] == 2
    # train: the same names, without accents or in capitals, are the model's TMDB genres, and it says so.
    rows = [{"title": f"M{i}", "overview": f"story number {i} about things", "genres": g}
            for i, g in enumerate(["Komödie|Krimi", "KOMODIE", "Liebesfilm|Drama", "Kriegsfilm", "Krimi"] * 8)]
    data = tmp_path / "de.csv"
    with data.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["title", "overview", "genres"])
        writer.writeheader()
        writer.writerows(rows)
    result = _train(data, tmp_path / "run", tiny_bert)
    labels = json.loads((tmp_path / "run" / "labels.json").read_text(encoding="utf-8"))
    assert sorted(labels) == ["Comedy", "Crime", "Drama", "Romance", "War"]
    said = " ".join(result.output.split())
    assert "Komödie → Comedy" in said and "Komodie → Comedy" in said  # capitals read as "Komodie", as for any name


def test_unknown_genres_get_a_did_you_mean(bundled, tmp_path):
    src = tmp_path / "typos.csv"
    src.write_text((CASES / "vocab-alias-scifi" / "imdb_style.csv").read_text(encoding="utf-8")
                   .replace("Sci-Fi", "Sci-Fy").replace("Drama,", "Documentary,"), encoding="utf-8")
    results = evaluate(bundled, data=src, baseline=False)
    assert results["unknown_genres"]["genres"] == {"Sci-Fy": 3, "Documentary": 2}
    assert results["genre_mappings"]["did_you_mean"] == {"Sci-Fy": "Science Fiction"}  # Documentary: known, not in the model


# --------------------------------------------------------------------------- vocab-file-subset


def test_genres_the_file_never_uses_are_left_out_and_listed(bundled):
    data = CASES / "vocab-file-subset" / "anime_style.csv"
    subset = evaluate(bundled, data=data, baseline=False)
    every = evaluate(bundled, data=data, baseline=False, all_genres=True)
    assert subset["labels"] == ["Action", "Comedy", "Drama", "Fantasy", "Romance"]
    assert len(every["labels"]) == 18
    unused = subset["unused_genres"]
    assert unused["left_out"] is True and not every["unused_genres"]["left_out"]
    assert set(unused["genres"]) == set(every["labels"]) - set(subset["labels"])
    # The counts listed are the model's predictions of those genres (at its own rule).
    predicted = {g: sum(g in m["predicted"] for m in every["movies"]) for g in unused["genres"]}
    assert unused["genres"] == predicted and predicted["Animation"] >= 1
    # Each movie's predictions are what `tag` writes, left-out genres included and named as such.
    assert [m["predicted"] for m in subset["movies"]] == [m["predicted"] for m in every["movies"]]
    assert any("Animation" in m["not_scored"] for m in subset["movies"])
    assert all(set(m["not_scored"]) == set(m["predicted"]) - set(subset["labels"]) for m in subset["movies"])
    # Never hidden: the scores with them are given beside, equal to --all-genres's, and a few-rows warning says so.
    with_them, all_scored = unused["scores_with_them"], every["scores"]["at_run_thresholds"]["summary"]
    assert with_them["micro_f1"] == pytest.approx(all_scored["micro_f1"], abs=1e-6)
    assert with_them["macro_f1"] == pytest.approx(all_scored["macro_f1"], abs=1e-6)
    assert any("that may be chance" in w for w in subset["warnings"]) and every["unused_genres"]["scores_with_them"] is None
    # Left out, the false positives of Animation no longer lower the precision.
    fp = lambda r: r["scores"]["at_run_thresholds"]["per_genre"]  # noqa: E731
    assert sum(x["fp"] for x in fp(subset)) == sum(x["fp"] for x in fp(every) if x["genre"] in subset["labels"])
    assert subset["scores"]["at_run_thresholds"]["summary"]["micro_precision"] > \
        every["scores"]["at_run_thresholds"]["summary"]["micro_precision"]


def test_evaluate_prints_mappings_and_left_out_genres(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./runs here: the bundled model
    data = tmp_path / "anime.csv"
    shutil.copy(CASES / "vocab-file-subset" / "anime_style.csv", data)
    with open(data, "a", encoding="utf-8") as fh:
        fh.write('Idol Stage,Musical;Sci-Fi,"A shy girl joins an idol group and sings on a space station."\n')
    result = runner.invoke(app, ["evaluate", "--data", str(data), "--no-baseline"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "genres mapped: Sci-Fi → Science Fiction (1 row)" in out
    assert "file genres scored as model genres: Musical: Musical as Music (the model has no Musical) (1 row)" in out
    listed = out.split("model genres the file never uses, left out of the scores (predictions they got): ")[1]
    assert "Animation (" in listed.split(";")[0]  # listed with the predictions it got, most predicted first
    assert "--all-genres scores them" in out
