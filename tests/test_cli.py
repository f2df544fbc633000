"""The command line end to end: train on a small CSV, then tag another."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from genretag.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tiny_run):
    return tiny_run


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_tag_keeps_columns_and_order_and_adds_genres(trained, tmp_path):
    src = tmp_path / "to_tag.csv"
    rows = [
        {"id": "007", "title": "A", "synopsis": "A cowboy and a sheriff ride a horse in the desert.", "genres": "Western"},
        {"id": "2", "title": "B", "synopsis": "", "genres": ""},
        {"id": "3", "title": "C", "synopsis": "A ghost haunts a house; a scream at night.", "genres": "x"},
    ]
    with open(src, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(app, ["tag", str(src), "--model", str(trained)])
    assert result.exit_code == 0, result.output
    assert f"model: {trained}" in result.output
    assert "3 rows, 2 tagged, 1 with an empty synopsis" in result.output
    out = _read(tmp_path / "to_tag.tagged.csv")
    labels = ["Action", "Comedy", "Drama", "Horror", "Romance", "Western"]
    assert list(out[0]) == (["id", "title", "synopsis", "genres", "predicted_genres"] + [f"score_{g}" for g in labels]
                            + ["language_warning"])
    assert [r["language_warning"] for r in out] == ["", "", ""]
    assert [r["id"] for r in out] == ["007", "2", "3"]  # order and leading zeros kept
    assert [r["genres"] for r in out] == ["Western", "", "x"]  # the existing genres column is untouched
    assert out[1]["predicted_genres"] == "" and out[1]["score_Drama"] == ""
    for row in (out[0], out[2]):
        assert row["predicted_genres"]  # at-least-one rule: every synopsis gets a genre
        assert set(row["predicted_genres"].split("|")) <= set(labels)
        assert all(0 <= float(row[f"score_{g}"]) <= 1 for g in labels)


def test_tag_refuses_to_overwrite_without_force(trained, tmp_path, movies_csv):
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--out", str(out)])
    assert result.exit_code == 4 and "--force" in result.output
    assert out.read_text() == "precious\n"
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--out", str(out), "--force",
                                 "--no-scores", "--threshold", "0.5"])
    assert result.exit_code == 0, result.output
    tagged = _read(out)
    assert len(tagged) == 120 and "score_Action" not in tagged[0]


def test_never_clobbers_an_existing_prediction_column(trained, tmp_path):
    src = tmp_path / "m.csv"
    src.write_text("overview,predicted_genres\nA cowboy rides.,keep me\n", encoding="utf-8")
    result = runner.invoke(app, ["tag", str(src), "--model", str(trained), "--max-genres", "1"])
    assert result.exit_code == 0, result.output
    row = _read(tmp_path / "m.tagged.csv")[0]
    assert row["predicted_genres"] == "keep me" and len(row["predicted_genres_2"].split("|")) == 1


def test_model_defaults_to_newest_run(trained, tmp_path, movies_csv, monkeypatch):
    monkeypatch.chdir(trained.parent.parent)  # the folder holding ./runs/tiny
    result = runner.invoke(app, ["tag", str(movies_csv), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    assert "model: runs/tiny" in result.output


def test_user_mistakes_are_one_line_errors(tmp_path, movies_csv, tiny_bert, trained):
    cases = [
        (["train", "--data", str(tmp_path / "nope.csv"), "--backbone", str(tiny_bert)], 2, "not found"),
        (["train", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--lr", "-1"], 2, "--lr must be a positive finite number, got -1.0"),
        (["tag", str(movies_csv), "--model", str(tmp_path / "no-run")], 3, "not found"),
        (["tag", str(tmp_path / "nope.csv"), "--model", str(trained)], 2, "not found"),
    ]
    for args, code, words in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == code, (args, result.output)
        assert words in result.output and "Traceback" not in result.output
        assert result.output.strip().count("\n") == 0 or "model:" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("genretag ")


def test_tag_uses_the_runs_own_text_columns(tmp_path, movies_csv, tiny_bert):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--epochs", "1",
                                 "--text-col", "title,overview", "--out", str(run)])
    assert result.exit_code == 0, result.output
    implicit, explicit, overview_only = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    for out, extra in ((implicit, []), (explicit, ["--text-col", "title,overview"]), (overview_only, ["--text-col", "overview"])):
        result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(run), "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
    assert implicit.read_bytes() == explicit.read_bytes()
    assert implicit.read_bytes() != overview_only.read_bytes()  # the title really is part of the input


def test_tag_batch_size_reaches_the_model_and_zero_is_refused(trained, movies_csv, tmp_path, monkeypatch):
    from genretag import predict

    sizes = []
    real = predict.predict_logits

    def spy(*args, batch_size=64, **kwargs):
        sizes.append(batch_size)
        return real(*args, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(predict, "predict_logits", spy)
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--out", str(tmp_path / "a.csv"),
                                 "--batch-size", "5", "--precision", "fp32", "--runtime", "torch"])
    assert result.exit_code == 0, result.output
    assert sizes and set(sizes) == {5}
    sizes.clear()
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--out", str(tmp_path / "b.csv"),
                                 "--precision", "fp32", "--runtime", "torch"])
    assert result.exit_code == 0, result.output
    assert set(sizes) == {64}  # the run's eval batch size on a CPU
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--out", str(tmp_path / "c.csv"),
                                 "--batch-size", "0"])
    assert result.exit_code != 0 and "--batch-size must be at least 1, got 0" in result.output
    assert not (tmp_path / "c.csv").exists()


def test_a_bad_setting_names_the_parameter_in_python_and_its_flag_on_the_command_line(movies_csv, tmp_path):
    from genretag.config import TrainConfig
    from genretag.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^batch_size must be at least 1, got 0$") as info:
        TrainConfig(batch_size=0)
    assert info.value.params == ("batch_size",) and isinstance(info.value, ValueError)  # as a dataclass's check is
    train = runner.invoke(app, ["train", "--data", str(movies_csv), "--batch", "0", "--out", str(tmp_path / "run")])
    assert train.exit_code == 2 and train.stderr.strip() == "error: --batch-size must be at least 1, got 0"
    # Each command names its own first flag of the parameter: tune's is --batch.
    tune = runner.invoke(app, ["tune", "--data", str(movies_csv), "--batch-size", "0", "--out", str(tmp_path / "grid")])
    assert tune.exit_code == 2 and tune.stderr.strip() == "error: --batch values must be at least 1, got [0]"
    result = runner.invoke(app, ["tag", str(movies_csv), "--threshold", "1.5"])
    assert result.exit_code == 2 and "error: --threshold must be above 0 and below 1, got 1.5" in result.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "grid").exists()


def test_a_bug_is_an_internal_error_not_a_user_error(movies_csv, tmp_path, monkeypatch):
    from genretag.cli import train as train_cmd

    def broken(config):
        raise ValueError("a bug, not the user's input")

    monkeypatch.setattr(train_cmd, "check_data", broken)
    args = ["train", "--data", str(movies_csv), "--out", str(tmp_path / "run")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == ("error: internal error: ValueError: a bug, not the user's input "
                                     "(please report it; run with genretag --verbose for the traceback)")
    verbose = runner.invoke(app, ["--verbose", *args])
    assert verbose.exit_code == 1 and isinstance(verbose.exception, ValueError)  # raised: Python prints the traceback


def test_evaluate_finds_the_runs_missing_data_before_loading_the_model(trained, tmp_path):
    import json
    import shutil

    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(trained, moved)
    split = json.loads((moved / "split.json").read_text())
    split.update(data="gone.csv", data_relative="../gone.csv")  # a file not on this machine
    (moved / "split.json").write_text(json.dumps(split))
    (moved / "head.safetensors").write_bytes(b"not weights")  # loading the model would fail on this first
    result = runner.invoke(app, ["evaluate", "--model", str(moved)])
    assert result.exit_code == 2, result.output
    assert "data file gone.csv is not on this machine where the run recorded it; pass --data" in " ".join(result.output.split())


def test_quiet_and_verbose_work_after_the_command_too(trained, tmp_path, movies_csv):
    loud = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--out", str(tmp_path / "a.csv")])
    quiet = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--out", str(tmp_path / "b.csv"), "-q"])
    assert loud.exit_code == 0 and quiet.exit_code == 0, quiet.output
    assert "model:" in loud.output and "model:" not in quiet.output
    assert "wrote" in quiet.output  # the result stays
    # After "--" a "-q" is an argument, not the flag: here a file name that does not exist.
    literal = runner.invoke(app, ["tag", "--model", str(trained), "--", "-q"])
    assert literal.exit_code == 2 and "-q not found" in literal.output


def test_evaluate_never_writes_over_its_data_even_with_force(trained, tmp_path, movies_csv):
    import shutil

    data = tmp_path / "victim.csv"
    shutil.copy(movies_csv, data)
    before = data.read_bytes()
    for option in ("--json", "--report"):
        result = runner.invoke(app, ["evaluate", "--model", str(trained), "--data", str(data), option, str(data), "--force"])
        assert result.exit_code == 2 and f"{option} {data} is the input file" in " ".join(result.output.split())
    assert data.read_bytes() == before


def test_tag_chunksize_zero_is_a_user_error(trained, movies_csv, tmp_path):
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--out", str(tmp_path / "o.csv"),
                                 "--chunksize", "0"])
    assert result.exit_code == 2 and "--chunksize must be at least 1, got 0" in result.output


def test_a_run_given_as_backbone_is_named_as_a_run(trained, movies_csv, tmp_path):
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--backbone", str(trained),
                                 "--out", str(tmp_path / "o.csv"), "--runtime", "torch"])
    assert result.exit_code == 3 and "is a genretag run (a trained model), not a backbone; pass it as --model" in \
        " ".join(result.output.split())


def test_small_option_mistakes_are_said(trained, movies_csv, tmp_path, caplog):
    empty = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--text-col", " ",
                                "--out", str(tmp_path / "a.csv")])
    assert empty.exit_code == 2 and "--text-col is empty" in empty.output
    swapped = runner.invoke(app, ["evaluate", "--model", str(trained), "--data", str(movies_csv), "--genres-col", "overview"])
    assert swapped.exit_code == 2 and "--genres-col overview names the synopsis column" in " ".join(swapped.output.split())
    caplog.clear()
    odd = runner.invoke(app, ["tag", str(movies_csv), "--model", str(trained), "--out", str(tmp_path / "a.txt"),
                              "--runtime", "torch"])
    assert odd.exit_code == 0, odd.output
    assert sum("is not a suffix genretag knows" in r.getMessage() for r in caplog.records) == 1  # said once


def test_logged_warnings_are_marked_on_the_terminal():
    import logging

    from genretag.cli import _Formatter

    def line(level, text):
        return _Formatter().format(logging.LogRecord("genretag", level, __file__, 1, text, None, None))

    assert line(logging.WARNING, "3 of 5 synopses do not look like the model's language") == \
        "warning: 3 of 5 synopses do not look like the model's language"
    assert line(logging.INFO, "model: runs/x") == "model: runs/x"  # status lines stay as they are
    assert line(logging.WARNING, "warning: already marked") == "warning: already marked"
