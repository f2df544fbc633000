"""What a new user met at stop 31 (README walk-through, tune, train): each fix with the value it must give."""

from __future__ import annotations

import io
import logging
from types import SimpleNamespace

from rich.console import Console
from typer.testing import CliRunner

from genretag.cli import app

runner = CliRunner()


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- tune's leaderboard on 80 columns

def _leaderboard(width: int, trial: str = "lr1e-3_b8_e1") -> str:
    from genretag.cli import tune as tune_cli

    row = {"rank": 1, "trial": trial, "lr": 1e-3, "batch": 8, "epochs": 1, "score": 0.2556, "micro_f1": 0.2556,
           "macro_f1": 0.1909, "seconds": 20.0, "status": "trained", "reused_from": "", "best_epoch": 1}
    second = {**row, "rank": 2, "trial": "lr5e-4_b8_e1", "lr": 5e-4, "score": 0.25, "micro_f1": 0.25,
              "macro_f1": 0.1911, "seconds": 29.0}
    plan = SimpleNamespace(runs=[1, 2], epochs_to_train=2, epochs_naive=2, finished=[], reuse=False)
    result = SimpleNamespace(metric="micro_f1", rows=[row, second], best=row, best_path="runs/grid/best",
                             out="runs/grid", plan=plan, seconds=51.0)
    buffer = io.StringIO()
    saved = tune_cli.console
    tune_cli.console = Console(file=buffer, width=width, soft_wrap=True, color_system=None)
    try:
        tune_cli._print_result(result, {"epochs": 2, "epochs_naive": 2})
    finally:
        tune_cli.console = saved
    return buffer.getvalue()


def test_tune_leaderboard_on_80_columns_shows_every_score_and_trial_whole():
    """At 80 columns the scores were cut to "0.2…" and "0.19…": the one number the table is for."""
    text = _leaderboard(80)
    table = text.split("best:")[0]
    assert "0.2556" in table and "0.2500" in table and "0.1909" in table and "0.1911" in table
    assert "lr1e-3_b8_e1" in table and "lr5e-4_b8_e1" in table
    assert "…" not in table
    assert max(len(line) for line in table.splitlines()) <= 80


# --------------------------------------------------------------------------- per-genre thresholds that are the global one

def test_train_says_which_genres_take_the_global_threshold(tmp_path, caplog):
    """--thresholds per-genre gave every genre the same threshold (too few validation positives),
    and nothing said why: it looked like tuning had failed."""
    from conftest import synthetic_movies, write_csv

    from genretag.config import TrainConfig
    from genretag.training import prepare

    data = write_csv(tmp_path / "m.csv", synthetic_movies(40))
    with caplog.at_level(logging.INFO, logger="genretag.training"):
        prep = prepare(TrainConfig(data=str(data), backbone="minilm", split=(0.7, 0.15, 0.15)))
    y_val = prep.targets[prep.split["validation"]]
    assert (y_val.sum(0) < 5).all()  # 6 rows of validation: no genre reaches 5
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("thresholds:")]
    assert said == ["thresholds: no genre has 5 validation positives, so every genre takes the global threshold "
                    "tuned on validation (--thresholds per-genre tunes a genre's own from 5 positives)"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="genretag.training"):
        prepare(TrainConfig(data=str(data), backbone="minilm", thresholds="global"))
    assert not [r for r in caplog.records if r.getMessage().startswith("thresholds:")]


def test_help_says_the_real_defaults_of_thresholds_and_lora_targets():
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "250"})
    said = _one_line(result.output)
    assert ("fixed, global or per-genre (tuned on validation; a genre with fewer than 5 validation positives takes "
            "the global one). [default: per-genre]") in said
    assert ("Modules to adapt [default: detected from the backbone: q_proj,v_proj; query,value (BERT); c_attn (GPT-2) "
            "...].") in said
    assert "q/v projections" not in said


# --------------------------------------------------------------------------- tune says a caution once; "1 epoch"

def test_tune_says_the_few_validation_rows_warning_once(tmp_path, tiny_bert, caplog):
    """tune printed "only N validation rows ..." twice: as a warning and again inside its "data:" line."""
    from conftest import synthetic_movies, write_csv

    data = write_csv(tmp_path / "m.csv", synthetic_movies(40))
    caution = "only 6 validation rows (--split 0.7,0.15,0.15): the thresholds and validation scores rest on them"
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, ["tune", "--data", str(data), "--backbone", str(tiny_bert), "--lr", "1e-3",
                                     "--batch", "16", "--epochs", "1", "--out", str(tmp_path / "grid")])
    assert result.exit_code == 0, result.output
    said = _one_line(result.output)
    assert "data: read 40 rows" in said  # the "data:" line is still there ...
    assert caution not in said  # ... without the caution, which is the warning below
    assert [r.getMessage() for r in caplog.records if caution in r.getMessage()] == [
        caution + ", and one movie moves them a lot"]


def test_train_says_1_epoch_not_1_epochs(tmp_path, tiny_bert):
    from conftest import synthetic_movies, write_csv

    data = write_csv(tmp_path / "m.csv", synthetic_movies(40))
    out = tmp_path / "runs" / "one"
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", str(tiny_bert), "--epochs", "1",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    said = _one_line(result.output)
    assert "genres, 1 epoch, device cpu" in said and "1 epochs" not in said
    info = runner.invoke(app, ["info", str(out)], env={"COLUMNS": "200"})
    assert "1 epoch (best 1)" in info.output and "1 epochs" not in info.output
