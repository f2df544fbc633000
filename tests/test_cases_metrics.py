"""Scores on edge cases (tests/cases/metrics-*): one genre, a genre in every row, genres
dropped by --min-support, rows the model trained on, a file of one row, written scores.

Runs use tiny random models, so these tests assert consistency (train, tune, evaluate and
tag agree on the same rows and numbers) and shapes; exact values are asserted on the
hand-checked matrices of tests/test_metrics.py.
"""

from __future__ import annotations

import re

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import real_csv_or_skip, synthetic_movies, write_csv
from typer.testing import CliRunner

from genretag import metrics
from genretag.cli import app
from genretag.config import TrainConfig
from genretag.decision import DecisionRule
from genretag.errors import DataError
from genretag.evaluation import evaluate, load_rows
from genretag.runs import HISTORY_FILE, METRICS_FILE, SPLIT_FILE, THRESHOLDS_FILE, load_run
from genretag.training import train

CASES = Path(__file__).parent / "cases"
runner = CliRunner()


def _strict_json(text: str):
    """json.loads that refuses NaN / Infinity, like strict parsers in other languages."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _train(tmp_path, data, backbone, **options) -> Path:
    out = tmp_path / "run"
    config = TrainConfig(data=str(data), backbone=str(backbone), epochs=1, batch_size=16, eval_batch_size=32, **options)
    train(config, out)
    return out


def _validation_scores(run_dir: Path) -> dict:
    """The run's own rule re-applied to its validation rows, scored with the one implementation."""
    run = load_run(run_dir, device="cpu")
    rows, _ = load_rows(run, split="validation")
    pred = run.rule.apply(run.predict_proba(rows.texts))
    return metrics.summary_scores(rows.y, pred)


@pytest.fixture(scope="module")
def tiny_run(tiny_api_run) -> Path:
    """A run on the 6-genre synthetic file (Horror among them)."""
    return tiny_api_run


# --------------------------------------------------------------------------- metrics-single-genre


def test_single_genre_train_tune_and_evaluate_agree(tmp_path, tiny_qwen):
    data = CASES / "metrics-single-genre" / "input.csv"
    run_dir = _train(tmp_path, data, tiny_qwen, min_support=20)
    assert json.loads((run_dir / "labels.json").read_text()) == ["Drama"]
    saved = json.loads((run_dir / METRICS_FILE).read_text())
    history = [json.loads(line) for line in (run_dir / HISTORY_FILE).read_text().splitlines()]
    # metrics.json and the history's epoch choice are multi-label scores of the shipped rule.
    again = _validation_scores(run_dir)
    for key in metrics.SUMMARY_KEYS:
        assert saved[key] == pytest.approx(again[key], abs=1e-12)
    assert history[saved["epoch"] - 1]["val_micro_f1"] == saved["micro_f1"]

    # evaluate --split validation works (was "cannot reshape array") and scores the same rows.
    result = runner.invoke(app, ["evaluate", "--model", str(run_dir), "--split", "validation",
                                 "--json", str(tmp_path / "ev.json")])
    assert result.exit_code == 0, result.output
    ev = _strict_json((tmp_path / "ev.json").read_text())
    assert ev["data"]["rows"] == saved["rows"]
    summary = ev["scores"]["at_run_thresholds"]["summary"]
    for key in metrics.SUMMARY_KEYS:
        assert summary[key] == pytest.approx(saved[key], abs=1e-6)
    assert ev["baseline"]["available"] is True
    assert len(ev["baseline"]["scores"]["at_0.5"]["per_genre"]) == 1

    # tune's leaderboard shows the same numbers as the trial's metrics.json.
    from genretag.tuning import LEADERBOARD_JSON, TRIALS_DIR, parse_grid, tune

    base = TrainConfig(data=str(data), backbone=str(tiny_qwen), epochs=1, batch_size=16, eval_batch_size=32,
                       min_support=20)
    tuned = tune(base, parse_grid(["1e-3"], ["16"], ["1"]), tmp_path / "tune", callback=lambda *a: None)
    row = tuned.rows[0]
    trial = json.loads((tmp_path / "tune" / TRIALS_DIR / row["trial"] / METRICS_FILE).read_text())
    assert {k: row[k] for k in metrics.SUMMARY_KEYS} == {k: trial[k] for k in metrics.SUMMARY_KEYS}
    board = json.loads((tmp_path / "tune" / LEADERBOARD_JSON).read_text())
    assert json.dumps(board, allow_nan=False)  # strict JSON
    assert trial["micro_f1"] == pytest.approx(saved["micro_f1"])  # the same training as above


# --------------------------------------------------------------------------- metrics-min-support-rows


def test_min_support_rows_are_scored_as_train_scored_them(tmp_path, tiny_qwen):
    run_dir = _train(tmp_path, CASES / "metrics-min-support-rows" / "input.csv", tiny_qwen, min_support=9)
    saved = json.loads((run_dir / METRICS_FILE).read_text())
    split = json.loads((run_dir / SPLIT_FILE).read_text())
    results = evaluate(load_run(run_dir, device="cpu"), split="validation", baseline=False)
    assert results["data"]["rows"] == saved["rows"] == len(split["validation"])
    assert [m["row_id"] for m in results["movies"]] == split["validation"]
    summary = results["scores"]["at_run_thresholds"]["summary"]
    for key in metrics.SUMMARY_KEYS:
        assert summary[key] == pytest.approx(saved[key], abs=1e-6)
    # The rows whose only genre was dropped are counted and said.
    dropped = results["data"]["rows_without_known_genres"]
    assert dropped == sum(1 for m in results["movies"] if not m["true"]) > 0
    assert any(f"{dropped} rows have only genres the run does not score" in w for w in results["warnings"])


# --------------------------------------------------------------------------- metrics-all-positive-genre


def test_all_positive_genre_is_not_defined_not_nan(tiny_run, tmp_path):
    data = CASES / "metrics-all-positive-genre" / "horror_catalogue.csv"
    out = tmp_path / "ev.json"
    # --all-genres: genres in no row of the file are scored too (left out by default)
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(data), "--json", str(out),
                                 "--report", str(tmp_path / "ev.html"), "--all-genres"])
    assert result.exit_code == 0, result.output
    ev = _strict_json(out.read_text())  # no bare NaN
    horror = next(r for r in ev["scores"]["at_run_thresholds"]["per_genre"] if r["genre"] == "Horror")
    assert horror["support"] == 6 and horror["roc_auc"] is None
    assert horror["average_precision"] == 1.0  # every row is a positive
    # Action and Romance have no positive row: not defined either; the macro mean skips them.
    per = {r["genre"]: r for r in ev["scores"]["at_run_thresholds"]["per_genre"]}
    assert per["Action"]["roc_auc"] is None and per["Action"]["average_precision"] is None
    defined = [per[g]["roc_auc"] for g in ("Comedy", "Drama", "Western")]
    assert ev["ranking"]["macro_roc_auc"] == pytest.approx(np.mean(defined), abs=1e-5)
    assert (ev["ranking"]["macro_roc_auc_genres"], ev["ranking"]["genres"]) == (3, len(per))
    # The terminal and the report say the macro mean is over the 3 genres where it is defined.
    lines = result.output.splitlines()
    at = next(i for i, line in enumerate(lines) if "macro ROC-AUC" in line)
    assert "(3 of" in lines[at] + lines[at + 1]  # a narrow terminal wraps the label onto a second line
    assert f"Macro ROC-AUC (3 of {len(per)} genres)" in (tmp_path / "ev.html").read_text()
    assert "nan" not in result.output.lower() and "warn(" not in result.output
    assert "UndefinedMetricWarning" not in result.output
    html = (tmp_path / "ev.html").read_text().lower()
    assert ">n/a<" in html and ">nan<" not in html


# --------------------------------------------------------------------------- metrics-tiny-file


def test_one_row_file_warns_once_without_library_warnings(tiny_run, tmp_path):
    data = CASES / "metrics-tiny-file" / "one_row.csv"
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(data), "--json",
                                 str(tmp_path / "ev.json")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "mean little" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: only 1 row scored")
    assert "Warning" not in result.output and "nan" not in result.output.lower()
    table = next(line for line in result.output.splitlines() if "macro ROC-AUC" in line)
    assert "n/a" in table  # one row: no genre has both classes
    ev = _strict_json((tmp_path / "ev.json").read_text())
    assert ev["data"]["rows"] == 1 and ev["warnings"][0].startswith("only 1 row scored")
    assert ev["ranking"]["macro_roc_auc"] is None


# --------------------------------------------------------------------------- metrics-train-overlap


@pytest.fixture(scope="module")
def bundled():
    from genretag.runs import bundled_model

    real_csv_or_skip()
    return load_run(bundled_model(), device="cpu")


def _tmdb_rows(tmp_path, positions: list[int], name: str) -> Path:
    """Rows of the shared TMDB file with the column names other TMDB-derived catalogues use."""
    d = pd.read_csv(real_csv_or_skip()).iloc[positions]
    out = d.rename(columns={"title": "name", "overview": "plot", "genre_ids": "genres"})[["name", "genres", "plot"]]
    out.to_csv(tmp_path / name, index=False)
    return tmp_path / name


def test_training_rows_are_counted_reported_and_left_out(bundled, tmp_path):
    saved = bundled.split()
    train_rows, test_rows = [3, 4, 7, 8, 9], saved["test"][:2]
    assert set(train_rows) <= set(saved["train"])  # the case's rows: training rows of the bundled model
    only = _tmdb_rows(tmp_path, train_rows, "from_training_split.csv")
    with pytest.raises(DataError, match=r"all 5 rows .* --include-training-rows"):
        load_rows(bundled, data=only)
    rows, _ = load_rows(bundled, data=only, include_training_rows=True)
    assert len(rows.texts) == 5 and rows.train_overlap == 5
    assert rows.training_rows == {"checked": True, "by": "synopsis", "found": 5, "reason": None, "of": 5, "validation": 0,
                                  "left_out": False, "limited": None}

    # Whitespace and case do not hide a training row.
    mixed = _tmdb_rows(tmp_path, train_rows + test_rows, "mixed.csv")
    frame = pd.read_csv(mixed)
    frame.loc[0, "plot"] = "  " + frame.loc[0, "plot"].upper().replace(" ", "\n  ")
    frame.to_csv(mixed, index=False)
    results = evaluate(bundled, data=mixed, baseline=False)
    assert results["data"]["rows"] == 2 and results["data"]["train_overlap"] == 5
    assert results["data"]["training_rows"]["left_out"] is True
    assert "5 of 7 rows were in the model's training split; left out" in results["warnings"]
    assert {m["title"] for m in results["movies"]} == set(frame["name"].iloc[5:])


def test_training_rows_retyped_escaped_or_cut_short_are_still_found(bundled, tmp_path):
    # The same synopsis as a training row, as other catalogues write it: curly quotes, HTML
    # entities, other dashes, a source line added, cut short with "...". Each is a training row.
    import html

    saved = bundled.split()
    positions = [p for p in saved["train"][:200] if "'" in pd.read_csv(real_csv_or_skip()).iloc[p]["overview"]][:2]
    positions += saved["train"][200:204]
    path = _tmdb_rows(tmp_path, positions, "retyped.csv")
    frame = pd.read_csv(path)
    frame.loc[0, "plot"] = frame.loc[0, "plot"].replace("'", "\u2019")
    frame.loc[1, "plot"] = html.escape(frame.loc[1, "plot"])
    frame.loc[2, "plot"] = frame.loc[2, "plot"].replace(" - ", " \u2013 ").replace(",", " ,")
    frame.loc[3, "plot"] = frame.loc[3, "plot"] + " (Source: TMDB)"
    frame.loc[4, "plot"] = frame.loc[4, "plot"][:150] + "..."
    frame.loc[5, "plot"] = ("A retired pilot teaches his granddaughter to fly over the mountains of Patagonia "
                            "before the first snow of winter closes the pass.")  # another synopsis: scored
    frame.to_csv(path, index=False)
    rows, _ = load_rows(bundled, data=path, include_training_rows=True)
    assert rows.training_rows["found"] == 5
    assert load_rows(bundled, data=path)[0].titles == [frame.loc[5, "name"]]


def test_training_rows_with_accents_stripped_or_mojibake_are_found(bundled, tmp_path):
    """A copy of training rows with their accents stripped (an ASCII export) scored 0.82 micro-F1
    as new movies; as UTF-8 read as Windows-1252 or latin-1 (``CafÃ©``) too."""
    import unicodedata

    d = pd.read_csv(real_csv_or_skip())
    saved = bundled.split()
    accented = [p for p in saved["train"] if re.search("[À-ÿ]", str(d.iloc[p]["overview"])[:70])][:12]
    assert len(accented) == 12
    path = _tmdb_rows(tmp_path, accented, "ascii.csv")
    frame = pd.read_csv(path)

    def fold(text: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))

    frame["plot"] = [fold(t) if i < 6 else t.encode("utf-8").decode("cp1252" if i < 9 else "latin-1", errors="ignore")
                     for i, t in enumerate(frame["plot"])]
    frame["name"] = frame["name"].map(fold)
    assert not frame["plot"].str.contains("[À-ÿ]").iloc[:6].any()  # the accents are gone
    frame.to_csv(path, index=False)
    rows, _ = load_rows(bundled, data=path, include_training_rows=True)
    assert rows.training_rows["found"] == 12


def test_no_validation_or_test_row_is_taken_for_a_training_row(bundled):
    """The keys are loose (accents, markup, prefixes): on the bundled model's own split not one
    validation or test row matches a training row's keys."""
    from genretag.evaluation import run_data, training_synopses

    saved = bundled.split()
    keys = training_synopses(bundled, saved)
    assert keys.method == 7 and keys.suffixes and keys.inner and keys.chunks  # inner windows and chunk keys too
    full = run_data(bundled, saved)
    position = {r: i for i, r in enumerate(full.row_ids)}
    others = [position[r] for r in saved["validation"] + saved["test"]]
    assert len(others) == 1614
    assert sum(keys.holds(full.synopsis_texts[i]) or keys.holds(full.texts[i]) for i in others) == 0


def test_training_rows_joined_with_their_title_shortened_or_in_markup_are_found(bundled, tmp_path):
    d = pd.read_csv(real_csv_or_skip())
    saved = bundled.split()
    train, validation = saved["train"][300:306], saved["validation"][:3]
    frame = pd.DataFrame({"text": [f"{d.iloc[p]['title']}. {d.iloc[p]['overview']}" for p in train + validation],
                          "labels": d.iloc[train + validation]["genre_ids"].tolist()})
    frame.loc[1, "text"] = d.iloc[train[1]]["overview"][:90] + "..."  # cut short: still 60 letters and more
    frame.loc[2, "text"] = "<p>" + d.iloc[train[2]]["overview"].replace(". ", ".<br/>") + "</p>"
    frame.loc[3, "text"] = f"{d.iloc[train[3]]['title']} \u2014 {d.iloc[train[3]]['overview'][:85]}..."  # joined and cut
    path = tmp_path / "joined.csv"
    frame.to_csv(path, index=False)
    results = evaluate(bundled, data=path, baseline=False)
    assert results["data"]["train_overlap"] == 6 and results["data"]["rows"] == 3
    # The validation rows chose the thresholds: kept, and said.
    assert results["data"]["training_rows"]["validation"] == 3
    assert ("3 of the rows scored were the model's validation rows, which chose its epoch, thresholds and blend: "
            "their scores are somewhat optimistic") in results["warnings"]


def test_genres_only_in_left_out_training_rows_are_not_scored(bundled, tmp_path):
    # Three Horror/Music training rows are left out: Horror and Music have no positive among
    # the rows scored, so they join the unused genres instead of scoring 0 in macro-F1.
    saved = bundled.split()
    d = pd.read_csv(real_csv_or_skip())
    horror = [p for p in saved["train"] if d.iloc[p]["Horror"] == 1 and d.iloc[p][["Music", "Comedy"]].sum() == 0][:2]
    test = [p for p in saved["test"] if d.iloc[p][["Horror", "Music"]].sum() == 0][:30]
    path = _tmdb_rows(tmp_path, horror + test, "mixed_genres.csv")
    results = evaluate(bundled, data=path, baseline=False)
    assert results["data"]["train_overlap"] == 2 and results["data"]["rows"] == 30
    scored = {r["genre"] for r in results["scores"]["at_run_thresholds"]["per_genre"]}
    assert {"Horror", "Music"} <= set(results["unused_genres"]["genres"]) and not scored & {"Horror", "Music"}


def test_training_overlap_not_checked_is_said(tiny_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    split = json.loads((copy / SPLIT_FILE).read_text())
    split["data"] = str(tmp_path / "gone.csv")
    other = write_csv(tmp_path / "other.csv", [
        {"title": "A", "overview": "A ghost haunts the night shift.", "genres": "Horror"},
        {"title": "B", "overview": "A cowboy and a sheriff in the desert.", "genres": "Western"},
    ])
    # A run keeps keys of its training synopses: the check is made without its data file.
    (copy / SPLIT_FILE).write_text(json.dumps(split))
    results = evaluate(load_run(copy, device="cpu"), data=other, baseline=False)
    assert results["data"]["training_rows"]["checked"] is True and results["data"]["train_overlap"] == 0
    # A run written before that (no keys) whose data file is gone: not checked, and said so.
    split.pop("train_synopses")
    (copy / SPLIT_FILE).write_text(json.dumps(split))
    results = evaluate(load_run(copy, device="cpu"), data=other, baseline=False)
    assert results["data"]["train_overlap"] is None  # never 0 for a check that was not made
    assert results["data"]["training_rows"]["checked"] is False
    assert any(w.startswith("training overlap not checked: the run's training data") for w in results["warnings"])


# --------------------------------------------------------------------------- titles


def test_na_none_null_titles_are_kept(tiny_run, tmp_path):
    rows = [{"title": t, "overview": f"A ghost haunts the night shift {i}.", "genres": "Horror"}
            for i, t in enumerate(["NA", "None", "Null"])]
    data = write_csv(tmp_path / "titles.csv", rows)
    results = evaluate(load_run(tiny_run, device="cpu"), data=data, baseline=False)
    assert [m["title"] for m in results["movies"]] == ["NA", "None", "Null"]
    from genretag.data import join_text, load_labelled
    from genretag.report import render_report

    assert ">Null<" in render_report(results)
    labelled, _ = load_labelled(data, text_cols=["title", "overview"])
    assert labelled.titles == ["NA", "None", "Null"]
    assert labelled.texts[0] == "NA. A ghost haunts the night shift 0."
    # A synopsis that reads "N/A" or "None" is still an empty synopsis, and so is a title "N/A".
    frame = pd.DataFrame({"title": ["None", "N/A"], "overview": ["N/A", "None"]})
    assert join_text(frame, ["title", "overview"]).tolist() == ["None", ""]
    assert join_text(frame, ["overview"]).tolist() == ["", ""]


# --------------------------------------------------------------------------- tag: written scores


def test_written_scores_never_cross_a_threshold():
    from genretag.tagging import written_scores

    # Plain rounding would write 0.3712 for 0.37116, on the threshold: the file would say "chosen".
    probs = np.array([[0.37116, 0.2], [0.37125, 0.9]], dtype=np.float32)
    rule = DecisionRule(np.array([0.3712, 0.5]))
    chosen = rule.apply(probs)
    out = written_scores(probs, chosen, rule)
    assert out[0, 0] == 0.3711 and out[1, 0] == 0.3713 and out[1, 1] == 0.9
    np.testing.assert_array_equal(rule.apply(out), chosen)
    # At least one genre: a tie after rounding would pick the first genre, so the row keeps its exact values.
    probs = np.array([[0.30001, 0.30004]], dtype=np.float32)
    rule = DecisionRule.fixed(0.5, 2, at_least_one=True)
    chosen = rule.apply(probs)
    assert chosen.tolist() == [[0, 1]]
    out = written_scores(probs, chosen, rule)
    assert out.tolist() == probs.astype(float).tolist()
    np.testing.assert_array_equal(rule.apply(out), chosen)
    # Rows without a synopsis stay empty.
    assert np.isnan(written_scores(np.full((1, 2), np.nan, dtype=np.float32), np.zeros((1, 2)), rule)).all()


def test_tagged_file_reapplies_to_its_own_decisions(tiny_run, tmp_path, movies_csv):
    from genretag.tagging import GENRES_COLUMN, SCORE_PREFIX, tag_csv

    run = load_run(tiny_run, device="cpu")
    texts = pd.read_csv(movies_csv)["overview"].tolist()
    probs = run.predict_proba(texts)
    # Thresholds placed where plain 4-decimal rounding crosses them: on the rounded value of a
    # probability just under it (0.37116 under 0.3712).
    rounded = np.round(probs.astype(float), 4)
    limits = np.array([rounded[np.argmax(rounded[:, j] > probs[:, j]), j] for j in range(probs.shape[1])])
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    (copy / THRESHOLDS_FILE).write_text(json.dumps(dict(zip(run.labels, limits.tolist()))))
    run = load_run(copy, device="cpu")
    out = tmp_path / "tagged.csv"
    tag_csv(run, movies_csv, out)
    tagged = pd.read_csv(out, keep_default_na=False)
    saved = json.loads((copy / THRESHOLDS_FILE).read_text())
    scores = np.array([[float(x) for x in tagged[SCORE_PREFIX + g]] for g in run.labels]).T
    again = DecisionRule(np.array([saved[g] for g in run.labels]), run.config.at_least_one,
                         run.config.max_genres).apply(scores)
    written = [set(filter(None, cell.split("|"))) for cell in tagged[GENRES_COLUMN]]
    assert [{run.labels[j] for j in np.flatnonzero(r)} for r in again] == written
    assert ((probs < limits) & (rounded >= limits)).any(axis=0).all()  # every genre has a row on the edge


def test_overlap_keys_fold_ascii_transliterations_and_double_mojibake():
    """``Władysław Mørck`` exported as ASCII (``Wladyslaw Morck``) or garbled twice (UTF-8 read
    as Windows-1252, then again) is the same synopsis; another synopsis is not."""
    from genretag.data import SynopsisKeys

    text = "Władysław Mørck, a café owner in Kraków, finds Brooklyn’s strangest œuvre in his cellar one night."
    keys = SynopsisKeys.of([text])
    twice = text.encode("utf-8").decode("cp1252", errors="ignore").encode("utf-8").decode("cp1252", errors="ignore")
    assert "Ã" in twice
    for copy in ("Wladyslaw Morck, a cafe owner in Krakow, finds Brooklyn's strangest oeuvre in his cellar one night.",
                 twice, text.upper()):
        assert keys.holds(copy), copy
    assert not keys.holds("Wladyslaw Morck, a baker in Lodz, loses his shop to a fire and starts again by the sea.")


def test_overlap_keys_find_lossy_and_json_escaped_copies(bundled, tmp_path):
    """A copy whose accented letters became "?" or "\ufffd" (an export to ASCII or a lossy re-encode), or
    taken from a JSON dump with its escapes as text (``chef\\u2019s``, ``\\n``), scored as new movies."""
    from genretag.data import SynopsisKeys

    text = "Amélie, a shy waitress in Paris, decides to change the lives of those around her while she is alone."
    keys = SynopsisKeys.of([text])
    for copy in (text.replace("é", "?"), text.replace("é", "\ufffd"), text.replace("shy", "sh\\u00fd").replace(
            "Paris, ", "Paris,\\n")):
        assert keys.holds(copy), copy
    # A synopsis most of whose words a lossy copy would change gets no such key: too few words are left.
    french = SynopsisKeys.of(["Après la fête, Hélène découvre à l'école qu'une élève a volé ses lettres d'été."])
    assert len(french.keys) == 1  # its own key only
    assert not keys.holds("Caf? au lait is another film entirely, about coffee and love in a small city.")
    # On the real file: training rows copied with "?" for every non-ASCII letter are found.
    d = pd.read_csv(real_csv_or_skip())
    saved = bundled.split()
    accented = [p for p in saved["train"] if re.search("[À-ÿ]", str(d.iloc[p]["overview"]))][:10]
    path = _tmdb_rows(tmp_path, accented, "lossy.csv")
    frame = pd.read_csv(path)
    frame["plot"] = frame["plot"].str.replace("[^\x00-\x7f]", "?", regex=True)
    frame["name"] = frame["name"].str.replace("[^\x00-\x7f]", "?", regex=True)
    frame.to_csv(path, index=False)
    rows, _ = load_rows(bundled, data=path, include_training_rows=True)
    assert rows.training_rows["found"] == 10


def test_a_file_of_one_genre_says_what_scores_leave_out(tiny_run, tmp_path):
    """Every row "Western": the model's other genres were left out of the scores, so a random
    model scored micro-F1 1.0 with no word from 30 rows up; the report never showed the scores
    with every genre."""
    rows = [dict(m, genres="Western") for m in synthetic_movies(40, seed=33)]
    data = write_csv(tmp_path / "westerns.csv", rows)
    results = evaluate(load_run(tiny_run), data=data, baseline=False)
    every = results["unused_genres"]["scores_with_them"]
    assert results["labels"] == ["Western"] and every is not None
    warning = next(w for w in results["warnings"] if w.startswith("the file's rows use only 1 of the model's genres"))
    assert f"with every genre micro-F1 is {every['micro_f1']:.3f}" in warning
    report = tmp_path / "r.html"
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(data), "--no-baseline",
                                 "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "the file's rows use only 1 of the model's genres" in " ".join(result.output.split())
    assert f"With them (every genre of the model, the run's rule): micro-F1 {every['micro_f1']:.3f}" in report.read_text()


def test_training_synopses_after_credits_a_tagline_or_a_prompt_are_found(bundled, tmp_path):
    """Training synopses after a credits line, a long tagline column or a "Title: ... Plot:" prompt in one column
    were scored as new movies (micro-F1 0.77 to 0.82, "0 training rows")."""
    d = pd.read_csv(real_csv_or_skip())
    saved = bundled.split()
    # Synopses of 60 letters and more (`PREFIX_LETTERS`): a shorter one is found only as a whole text.
    train = [p for p in saved["train"][500:530] if len(re.sub(r"\W", "", d.iloc[p]["overview"])) >= 60][:12]
    test = saved["test"][:6]
    rows = train + test
    credits = ["Directed by Someone Important. Starring Famous Actor, Another Actor and A Third Person. "
               + d.iloc[p]["overview"] for p in rows]
    prompt = [f"Title: {d.iloc[p]['title']}\nYear: 1999\nDirector: A Famous Director Name\nPlot: {d.iloc[p]['overview']}"
              for p in rows]
    tagline = "The most astonishing and unforgettable journey ever put on the screen in our time"
    for name, frame, extra in (
            ("credits.csv", pd.DataFrame({"plot": credits, "labels": d.iloc[rows]["genre_ids"].tolist()}), []),
            ("prompt.csv", pd.DataFrame({"text": prompt, "labels": d.iloc[rows]["genre_ids"].tolist()}), []),
            ("tagline.csv", pd.DataFrame({"tagline": [tagline] * len(rows), "synopsis": d.iloc[rows]["overview"].tolist(),
                                          "labels": d.iloc[rows]["genre_ids"].tolist()}), ["tagline", "synopsis"])):
        path = tmp_path / name
        frame.to_csv(path, index=False)
        loaded, _ = load_rows(bundled, data=path, include_training_rows=True, text_cols=extra or None)
        assert loaded.training_rows["found"] == 12, name


def test_a_file_of_one_genre_per_row_says_why_precision_reads_low(bundled, tiny_run, tmp_path):
    """A "primary genre" column (one genre per row) scored precision 0.31 with no word: the model's right extra
    genres count as false positives."""
    import ast

    d = pd.read_csv(real_csv_or_skip())
    rows = bundled.split()["test"][:60]
    primary = pd.DataFrame({"title": d.iloc[rows]["title"].tolist(), "plot": d.iloc[rows]["overview"].tolist(),
                            "genre": [ast.literal_eval(g)[0].lower() for g in d.iloc[rows]["genre_ids"]]})
    primary.to_csv(tmp_path / "primary.csv", index=False)
    results = evaluate(bundled, data=tmp_path / "primary.csv", baseline=False)
    said = [w for w in results["warnings"] if w.startswith("every row of the file lists one genre")]
    recall = results["scores"]["at_run_thresholds"]["summary"]["micro_recall"]
    assert said and float(re.search(r"gives (\d+\.\d) per row", said[0]).group(1)) >= 1.5
    assert f"for {recall:.1%} of the rows (micro recall)" in said[0]
    many = [dict(m) for m in synthetic_movies(40, seed=41)]  # several genres a row: no such warning
    assert not any(w.startswith("every row of the file lists one genre")
                   for w in evaluate(load_run(tiny_run), data=write_csv(tmp_path / "many.csv", many),
                                     baseline=False)["warnings"])


def test_a_text_column_that_names_the_genres_is_said(tiny_run, tmp_path, caplog):
    """``--text-col title,keywords,overview`` with keywords "Drama, Romance" scored 0.78 against 0.705 without it,
    with no word: the model read the answers."""
    import logging

    rows = [dict(m, keywords=m["genres"].replace("|", ", ")) for m in synthetic_movies(40, seed=43)]
    data = write_csv(tmp_path / "leak.csv", rows)
    with caplog.at_level(logging.WARNING):
        evaluate(load_run(tiny_run), data=data, text_cols=["title", "keywords", "overview"], baseline=False)
    assert "text column 'keywords' names the row's own genres in 40 of 40 rows" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        evaluate(load_run(tiny_run), data=data, text_cols=["title", "overview"], baseline=False)
    assert "names the row's own genres" not in caplog.text
