"""Reliability: bad input gets a clear one-line answer, nothing is ever lost, runs repeat.

Every case goes through the real command line (typer's CliRunner, which keeps stderr
apart in ``result.stderr`` and mixes both streams in ``result.output``); the kill tests
start ``python -m genretag`` in a subprocess and SIGKILL it half-way.
"""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from conftest import synthetic_movies, write_csv
from genretag import checkpoints, runs
from genretag.cli import app
from genretag.config import TrainConfig
from genretag.errors import DataError
from genretag.outputs import partial_path
from genretag.tagging import progress_file, tag_csv
from genretag.training import train

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread, as in the subprocesses (OMP_NUM_THREADS=1): the same float
    reductions in both, and no thread thrashing on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _config(csv_path, backbone, **kw) -> TrainConfig:
    return TrainConfig(data=str(csv_path), backbone=str(backbone), **{"epochs": 1, "batch_size": 16,
                                                                      "eval_batch_size": 32, **kw})


@pytest.fixture(scope="module")
def run_dir(tiny_api_run) -> Path:
    return tiny_api_run


def assert_clean_error(result, code: int, *words: str) -> str:
    """Non-zero exit, no traceback, exactly one ``error:`` line on stderr containing ``words``."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "error:" not in result.stdout
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def files_in(folder: Path) -> set[str]:
    """Every name in ``folder``, hidden partial and lock files included."""
    return {p.name for p in folder.iterdir()}


def read_rows(path: Path) -> list[list[str]]:
    """A CSV as the csv module reads it (header first), with its encoding detected as genretag does."""
    from genretag.formats import open_text, sniff

    fmt = sniff(path)
    with open_text(path, fmt) as fh:
        return list(csv.reader(fh, delimiter=fmt.sep))


def _tag(args: list[str]):
    return runner.invoke(app, ["tag", *args])


# --------------------------------------------------------------------------- bad CSV input

BAD_INPUTS = {
    # name: (file bytes or None for missing / "DIR" for a folder, exit code, words of the error)
    "missing file": (None, 2, ["not found", "give the path"]),
    "a folder": ("DIR", 2, ["is a directory", "pass the path of a file"]),
    "empty file": (b"", 2, ["is empty", "header row"]),
    "blank lines only": (b"\n\n  \n", 2, ["is empty"]),
    "header only": (b"title,overview,genres\n", 2, ["no data rows", "add rows"]),
    "no text column": (b"name,year,rating\nA,1999,5\n", 2, ["no synopsis column", "columns: name, year, rating",
                                                          "--text-col"]),
    "two text columns": (b"plot,summary,genres\nA plot.,A summary.,Drama\n", 2, ["plot, summary", "--text-col"]),
    "duplicate columns": (b"overview,overview,genres\nA.,B.,Drama\n", 2, ["duplicate column names: overview",
                                                                        "rename"]),
    "ragged row": (b"overview,genres\nA film.,Drama\nB film.,Drama,extra,more\n", 2,
                   ["cannot parse", "Expected 2 fields in line 3, saw 4", "delimiter and quoting"]),
    "zip archive": (b"PK\x03\x04", 2, ["zip archive", "unzip"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_tag_bad_csv_is_one_line_error_and_leaves_nothing(case, run_dir, tmp_path):
    content, code, words = BAD_INPUTS[case]
    src = tmp_path / ("in.zip" if case == "zip archive" else "in.csv")
    if content == "DIR":
        src = tmp_path / "folder.csv"
        src.mkdir()
    elif content is not None:
        src.write_bytes(content)
    before = files_in(tmp_path)
    out = tmp_path / "out.csv"
    assert_clean_error(_tag([str(src), "--model", str(run_dir), "--out", str(out)]), code, *words)
    assert files_in(tmp_path) == before  # no output, no partial, no lock file


def test_train_bad_csv_is_one_line_error_and_leaves_nothing(tiny_qwen, tmp_path):
    cases = [
        ("no genre column", "title,overview\nA,A film.\n", ["no genre column", "columns: title, overview",
                                                            "--genres-col"]),
        ("two genre columns", "overview,genres,tags\nA film.,Drama,x\n", ["genres, tags", "--genres-col"]),
        ("given column missing", "overview,genres\nA film.,Drama\n", ["'plot' given by --text-col not found",
                                                                      "columns: overview, genres"]),
        ("no usable rows", "overview,genres\nA film.,\n,Drama\n", ["no usable rows", "--genres-col"]),
        ("too few rows", "overview,genres\nA film.,Drama\nB film.,Comedy\n", ["only 2 usable rows", "at least 10"]),
    ]
    for name, text, words in cases:
        src = tmp_path / "in.csv"
        src.write_text(text, encoding="utf-8")
        extra = ["--text-col", "plot"] if name == "given column missing" else []
        result = runner.invoke(app, ["train", "--data", str(src), "--backbone", str(tiny_qwen), "--epochs", "1",
                                     "--out", str(tmp_path / "run"), *extra])
        assert_clean_error(result, 2, *words)
        assert files_in(tmp_path) == {"in.csv"}, name


def test_unwritable_output_is_one_line_error(run_dir, movies_csv, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = _tag([str(movies_csv), "--model", str(run_dir), "--out", str(blocker / "sub" / "out.csv")])
    assert_clean_error(result, 1, f"{blocker} is a file, not a folder", "choose another path")
    assert files_in(tmp_path) == {"file"}

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out.csv"))

    monkeypatch.setattr("genretag.tagging.tag_csv", disk_full)
    result = _tag([str(movies_csv), "--model", str(run_dir), "--out", str(tmp_path / "out.csv")])
    assert_clean_error(result, 1, "No space left on device", "free disk space")


# --------------------------------------------------------------------------- usable odd CSV input


def _check_tagged(result, src: Path, out: Path, text_column: str = "overview"):
    """Exit 0; every input row and cell is in the output, unchanged, plus genretag's columns."""
    assert result.exit_code == 0, result.output
    rows_in, rows_out = read_rows(src), read_rows(out)
    assert len(rows_out) == len(rows_in)
    width = len(rows_in[0])
    assert [r[:width] for r in rows_out[1:]] == [r[:width] for r in rows_in[1:]]
    assert rows_out[0][width] == "predicted_genres"
    return rows_out


ODD_BUT_USABLE = {
    "utf-8 BOM": "\ufefftitle,overview,genres\nA,A cowboy rides.,Western\n".encode("utf-8"),
    "tab-separated": b"title\toverview\tgenres\nA\tA film, with commas; and more.\tDrama\n",
    "semicolon-separated": b"title;overview;genres\nA;A film, with commas.;Drama\n",
    "quoted newlines": b'title,overview,genres\nA,"A film\nover two lines, yes.",Drama\nB,"One\r\nmore",x\n',
    "CRLF line ends": b"title,overview,genres\r\nA,A film.,Drama\r\nB,Another.,x\r\n",
}


@pytest.mark.parametrize("case", list(ODD_BUT_USABLE))
def test_tag_reads_odd_but_usable_csv(case, run_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(ODD_BUT_USABLE[case])
    out = tmp_path / "out.csv"
    rows = _check_tagged(_tag([str(src), "--model", str(run_dir), "--out", str(out)]), src, out)
    assert rows[0][:3] == ["title", "overview", "genres"]  # BOM gone from the header
    assert all(r[3] for r in rows[1:])  # every row got a genre


def test_tag_latin1_warns_and_works(run_dir, tmp_path, caplog):
    src = tmp_path / "in.csv"
    src.write_bytes("title,overview,genres\nCafé,Un café très noir à Paris.,Drame\n".encode("latin-1"))
    out = tmp_path / "out.csv"
    with caplog.at_level(logging.WARNING):
        result = _tag([str(src), "--model", str(run_dir), "--out", str(out)])
    rows = _check_tagged(result, src, out)
    assert "not valid UTF-8" in caplog.text
    assert rows[1][1] == "Un café très noir à Paris."  # decoded right, written as UTF-8


def test_tag_keeps_and_counts_empty_synopses(run_dir, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("title,overview,genres\nA,,x\nB,NaN,x\nC,   ,x\nD,N/A,x\nE,A real film.,x\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = _tag([str(src), "--model", str(run_dir), "--out", str(out)])
    rows = _check_tagged(result, src, out)
    assert "5 rows, 1 tagged, 4 with an empty synopsis" in result.stdout
    assert [r[3] for r in rows[1:5]] == ["", "", "", ""] and rows[5][3]
    assert all(cell == "" for r in rows[1:5] for cell in r[4:])  # no scores either


def test_tag_truncates_a_100k_character_synopsis(run_dir, tmp_path):
    long = ("A cowboy rides a horse into the desert town " * 2300)[:100_000]
    src = write_csv(tmp_path / "in.csv", [{"title": "Long", "overview": long}, {"title": "Short", "overview": "Love."}])
    out = tmp_path / "out.csv"
    rows = _check_tagged(_tag([str(src), "--model", str(run_dir), "--out", str(out)]), src, out)
    assert len(rows[1][1]) == 100_000 and rows[1][2]


def test_train_survives_malformed_mixed_and_unknown_genre_cells(tiny_qwen, tmp_path, caplog):
    rows = synthetic_movies(60, seed=5)
    for i, row in enumerate(rows):
        names = row["genres"].split("|")
        row["genres"] = [
            repr(names),  # Python list
            json.dumps([{"id": 1, "name": n} for n in names]),  # TMDB JSON
            ", ".join(n.lower() for n in names),  # comma text, lower case
            "['" + names[0] + "', 'Weste",  # a broken (cut off) list
            names[0] + "|Mumblecore",  # a genre nobody has heard of: a new label
        ][i % 5]
    for i in range(0, 60, 10):
        rows[i]["overview"] = ["", "NaN", "  "][i % 3]
    src = write_csv(tmp_path / "mixed.csv", rows)
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, ["train", "--data", str(src), "--backbone", str(tiny_qwen), "--epochs", "1",
                                     "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "dropped 6 rows with an empty synopsis" in result.stderr
    assert "broken genre list" in result.stderr and "look like broken lists" in caplog.text
    labels = json.loads((tmp_path / "run" / runs.LABELS_FILE).read_text())
    assert {"Action", "Comedy", "Drama", "Horror", "Romance", "Western", "Mumblecore"} <= set(labels)


# --------------------------------------------------------------------------- bad run directories


def _break(run: Path, case: str) -> list[str]:
    """Damage a copy of a run in one way; returns extra CLI arguments for the case."""

    def edit_json(name, change):
        data = json.loads((run / name).read_text())
        change(data)
        (run / name).write_text(json.dumps(data))

    if case == "truncated head":
        (run / runs.HEAD_FILE).write_bytes((run / runs.HEAD_FILE).read_bytes()[:60])
    elif case == "empty head":
        (run / runs.HEAD_FILE).write_bytes(b"")
    elif case == "truncated adapter":
        file = run / runs.ADAPTER_WEIGHTS
        file.write_bytes(file.read_bytes()[:100])
    elif case == "missing adapter weights":
        (run / runs.ADAPTER_WEIGHTS).unlink()
    elif case == "broken config JSON":
        (run / runs.CONFIG_FILE).write_text('{"lr": 0.1,')
    elif case == "broken labels JSON":
        (run / runs.LABELS_FILE).write_text('["Action", "Dra')
    elif case == "broken adapter config":
        (run / runs.ADAPTER_DIR / "adapter_config.json").write_text("{")
    elif case == "missing meta":
        (run / runs.META_FILE).unlink()
    elif case == "newer run format":
        edit_json(runs.META_FILE, lambda m: m.update(format=99))
    elif case == "config from a newer genretag":
        edit_json(runs.CONFIG_FILE, lambda c: c.update(some_new_option=True))
    elif case == "label count != head":
        edit_json(runs.LABELS_FILE, lambda labels: labels.pop())
    elif case == "bad thresholds":
        edit_json(runs.THRESHOLDS_FILE, lambda t: t.update(Action="high"))
    elif case == "backbone folder moved":
        edit_json(runs.CONFIG_FILE, lambda c: c.update(backbone="/nowhere/tiny-qwen3"))
    return []


BAD_RUNS = {
    "truncated head": ["head.safetensors is corrupt", "train the run again"],
    "empty head": ["head.safetensors is corrupt"],
    "truncated adapter": ["cannot load the adapter", "train it again"],
    "missing adapter weights": ["not a complete genretag run", "adapter/adapter_model.safetensors", "train it again"],
    "broken config JSON": ["config.json is corrupt", "train the run again"],
    "broken labels JSON": ["labels.json is corrupt"],
    "broken adapter config": ["cannot load the adapter", "train it again"],
    "missing meta": ["missing meta.json"],
    "newer run format": ["incompatible genretag", "run format 99", "retrain"],
    "config from a newer genretag": ["unknown config keys: some_new_option", "train the run again"],
    "label count != head": ["head has 6 outputs but labels.json lists 5 genres"],
    "bad thresholds": ["thresholds.json must map each genre to a number"],
    "backbone folder moved": ["/nowhere/tiny-qwen3", "not there any more", "--backbone"],
}


@pytest.mark.parametrize("case", list(BAD_RUNS))
def test_tag_with_a_broken_run_is_one_line_error(case, run_dir, movies_csv, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    extra = _break(broken, case)
    before = files_in(tmp_path)
    result = _tag([str(movies_csv), "--model", str(broken), "--out", str(tmp_path / "out.csv"), *extra])
    assert_clean_error(result, 3, *BAD_RUNS[case])
    assert files_in(tmp_path) == before


def test_moved_backbone_is_found_again_with_backbone_option(run_dir, movies_csv, tiny_qwen, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(run_dir, moved)
    _break(moved, "backbone folder moved")
    out = tmp_path / "o.csv"
    result = _tag([str(movies_csv), "--model", str(moved), "--backbone", str(tiny_qwen), "--out", str(out)])
    assert result.exit_code == 0, result.output


def test_run_trained_on_another_backbone_is_refused(run_dir, movies_csv, tiny_bert, tmp_path):
    out = tmp_path / "o.csv"
    result = _tag([str(movies_csv), "--model", str(run_dir), "--backbone", str(tiny_bert), "--out", str(out)])
    assert_clean_error(result, 3, "trained on a different backbone", "qwen3", "bert", "--backbone")
    assert files_in(tmp_path) == set()


def test_unfinished_training_given_as_model_says_resume(run_dir, movies_csv, tmp_path):
    partial = tmp_path / ".run.partial"
    (partial / checkpoints.CHECKPOINT_DIR).mkdir(parents=True)
    result = _tag([str(movies_csv), "--model", str(partial), "--out", str(tmp_path / "o.csv")])
    assert_clean_error(result, 3, "unfinished training", "--resume", str(tmp_path / "run"))


# --------------------------------------------------------------------------- nothing lost: atomic, --force


def test_tag_writes_under_a_temporary_name_then_renames(run_dir, movies_csv, tmp_path):
    out = tmp_path / "out.csv"
    seen = []

    def on_rows(n):
        seen.append((out.exists(), partial_path(out).exists(), progress_file(partial_path(out)).exists()))

    summary = tag_csv(runs.load_run(run_dir, device="cpu"), movies_csv, out, chunksize=50, on_rows=on_rows)
    assert seen == [(False, True, True)] * 3  # 120 rows in chunks of 50
    assert summary.rows == 120 and out.exists()
    assert files_in(tmp_path) == {"out.csv"}  # partial, progress record and lock are gone


def test_train_writes_under_a_temporary_name_then_renames(movies_csv, tiny_qwen, tmp_path):
    out = tmp_path / "run"
    seen = []

    def callback(event, info):
        if event == "epoch":
            seen.append((out.exists(), checkpoints.marker(partial_path(out)).is_file()))

    train(_config(movies_csv, tiny_qwen, epochs=2), out, callback=callback)
    assert seen == [(False, True), (False, True)]
    assert files_in(tmp_path) == {"run"}
    assert not (out / checkpoints.CHECKPOINT_DIR).exists()  # optimizer state is not part of a run


def test_nothing_is_overwritten_without_force(run_dir, movies_csv, tiny_qwen, tmp_path):
    out = tmp_path / "tagged.csv"
    out.write_text("precious\n")
    assert_clean_error(_tag([str(movies_csv), "--model", str(run_dir), "--out", str(out)]), 4, "--force")
    assert out.read_text() == "precious\n"
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["train", "--data", str(movies_csv), "--backbone", str(tiny_qwen), "--out", str(run)])
    assert_clean_error(result, 4, "already exists", "--force")
    assert files_in(run) == {"notes.txt"}
    assert files_in(tmp_path) == {"tagged.csv", "run"}


def test_failed_forced_overwrite_keeps_the_old_output(run_dir, movies_csv, tmp_path):
    out = tmp_path / "tagged.csv"
    out.write_text("precious\n")
    src = tmp_path / "bad.csv"
    src.write_text("name,year\nA,1999\n")
    result = _tag([str(src), "--model", str(run_dir), "--out", str(out), "--force"])
    assert_clean_error(result, 2, "no synopsis column")
    assert out.read_text() == "precious\n" and files_in(tmp_path) == {"tagged.csv", "bad.csv"}


def test_outputs_get_the_usual_permissions_and_folders_are_swapped_whole(tmp_path):
    import stat

    from genretag.outputs import atomic_path, write_text

    mask = os.umask(0)
    os.umask(mask)
    write_text(tmp_path / "a.txt", "x")  # mkstemp alone would make it 0600
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~mask
    for content in ("old", "new"):
        with atomic_path(tmp_path / "d", directory=True, force=True) as folder:
            (folder / "f").write_text(content)
            (folder / "meta.json").write_text("{}")  # a run's marker: --force replaces only genretag's folders
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o777 & ~mask
    assert (tmp_path / "d" / "f").read_text() == "new" and files_in(tmp_path) == {"a.txt", "d"}
    # Files a library writes private (safetensors: 0600) get the usual mode too.
    import torch
    from safetensors.torch import save_file

    with atomic_path(tmp_path / "w", directory=True) as folder:
        save_file({"weight": torch.zeros(2)}, str(folder / "head.safetensors"))
    assert stat.S_IMODE((tmp_path / "w" / "head.safetensors").stat().st_mode) == 0o666 & ~mask


def test_second_writer_of_the_same_output_is_refused(run_dir, movies_csv, tmp_path):
    import fcntl

    out = tmp_path / "out.csv"
    lock = partial_path(out).with_name(partial_path(out).name + ".lock")
    with open(lock, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running genretag holds it
        result = _tag([str(movies_csv), "--model", str(run_dir), "--out", str(out)])
    assert_clean_error(result, 4, "another genretag process is writing")
    assert not out.exists()


# --------------------------------------------------------------------------- nothing lost: resume in-process


def test_tag_interrupted_then_resumed_equals_uninterrupted(run_dir, tmp_path, caplog):
    src = write_csv(tmp_path / "in.csv", synthetic_movies(300, seed=2))
    run = runs.load_run(run_dir, device="cpu")
    tag_csv(run, src, tmp_path / "ref.csv", chunksize=40)
    out = tmp_path / "out.csv"
    done = []

    def stop_after_three_chunks(n):
        done.append(n)
        if len(done) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tag_csv(run, src, out, chunksize=40, on_rows=stop_after_three_chunks)
    assert not out.exists() and "rerun with --resume" in caplog.text
    record = json.loads(progress_file(partial_path(out)).read_text())
    assert (record["rows"], record["chunks"]) == (120, 3)
    # Rows appended after the last progress record (a kill between the two writes) are dropped on resume.
    with open(partial_path(out), "a", encoding="utf-8") as fh:
        fh.write("half a row,")
    # tag_csv from Python predicts in fp32 with PyTorch: the resumed run must too (the CLI's default is ONNX Runtime)
    result = _tag([str(src), "--model", str(run_dir), "--out", str(out), "--resume", "--chunksize", "7",
                   "--runtime", "torch", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    assert "300 rows" in result.stdout and "120 rows kept from the interrupted run" in result.stdout
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert files_in(tmp_path) == {"in.csv", "ref.csv", "out.csv"}


def test_ctrl_c_is_one_line_and_keeps_progress(run_dir, movies_csv, tmp_path, monkeypatch, caplog):
    calls = []
    original = runs.Run.predict_proba

    def interrupted_on_second_chunk(self, texts, **kw):
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, texts, **kw)

    monkeypatch.setattr(runs.Run, "predict_proba", interrupted_on_second_chunk)
    out = tmp_path / "o.csv"
    result = _tag([str(movies_csv), "--model", str(run_dir), "--out", str(out), "--chunksize", "50", "--runtime", "torch"])
    assert_clean_error(result, 130, "interrupted", "intact")
    assert "kept the unfinished output" in caplog.text and "--resume" in caplog.text
    assert not out.exists() and json.loads(progress_file(partial_path(out)).read_text())["rows"] == 50


def test_tag_resume_refuses_a_changed_input_or_options_and_keeps_the_partial(run_dir, tmp_path, caplog):
    src = write_csv(tmp_path / "in.csv", synthetic_movies(100, seed=2))
    out = tmp_path / "out.csv"
    n = []

    def stop(rows):
        n.append(rows)
        if len(n) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tag_csv(runs.load_run(run_dir, device="cpu"), src, out, chunksize=30, on_rows=stop)
    partial = partial_path(out).read_bytes()
    same = ["--runtime", "torch", "--precision", "fp32"]  # what tag_csv used
    result = _tag([str(src), "--model", str(run_dir), "--out", str(out), "--resume", "--threshold", "0.3", *same])
    assert_clean_error(result, 2, "cannot resume with other options (thresholds)", "with --force instead of --resume")
    result = _tag([str(src), "--model", str(run_dir), "--out", str(out), "--resume"])  # ONNX Runtime
    assert_clean_error(result, 2, "cannot resume with other options (arithmetic)", "with --force instead of --resume")
    with open(src, "a", encoding="utf-8") as fh:
        fh.write("Movie X,A new row.,Drama\n")
    result = _tag([str(src), "--model", str(run_dir), "--out", str(out), "--resume", *same])
    assert_clean_error(result, 2, "changed since the interrupted run", "with --force instead of --resume")
    assert partial_path(out).read_bytes() == partial  # the earlier work is still there
    result = _tag([str(src), "--model", str(run_dir), "--out", str(out)])  # no --resume: the work is kept, said
    assert_clean_error(result, 4, "resumable work", "--force to start again")
    assert partial_path(out).read_bytes() == partial
    result = _tag([str(src), "--model", str(run_dir), "--out", str(out), "--force"])  # start over
    assert result.exit_code == 0, result.output
    assert "replacing" in caplog.text and "(--force)" in caplog.text
    assert len(read_rows(out)) == 102


def test_resume_with_nothing_to_resume_starts_fresh(run_dir, movies_csv, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        result = _tag([str(movies_csv), "--model", str(run_dir), "--out", str(tmp_path / "o.csv"), "--resume"])
    assert result.exit_code == 0 and "nothing to resume" in caplog.text


def test_train_interrupted_then_resumed_gives_the_same_weights(movies_csv, tiny_qwen, tmp_path, caplog):
    config = _config(movies_csv, tiny_qwen, epochs=3)
    ref = train(config, tmp_path / "ref")

    def stop_after_epoch_2(event, info):
        if event == "epoch" and info["epoch"] == 2:
            raise KeyboardInterrupt

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, out, callback=stop_after_epoch_2)
    assert not out.exists() and "rerun with --resume" in caplog.text
    saved = json.loads(checkpoints.marker(partial_path(out)).read_text())
    assert saved["epoch"] == 2 and len(saved["history"]) == 2
    assert {p.name for p in (partial_path(out) / "checkpoint").iterdir()} == {
        "checkpoint.json", "state-2.safetensors", "optimizer-2.safetensors"}  # epoch 1's files replaced
    with pytest.raises(DataError, match=r"other settings \(lr\)"):
        train(_config(movies_csv, tiny_qwen, epochs=3, lr=1e-3), out, resume=True)
    result = train(config, out, resume=True)
    _assert_same_run(ref.path, result.path)
    assert [h["epoch"] for h in result.history] == [1, 2, 3]


def test_train_resume_handles_missing_stale_and_corrupt_checkpoints(movies_csv, tiny_qwen, tmp_path, caplog):
    base = ["train", "--data", str(movies_csv), "--backbone", str(tiny_qwen), "--epochs", "1"]
    assert_clean_error(runner.invoke(app, [*base, "--resume"]), 2, "--resume needs --out")
    out = tmp_path / "run"
    marker = checkpoints.marker(partial_path(out))
    marker.parent.mkdir(parents=True)
    marker.write_text("{not json")
    result = runner.invoke(app, [*base, "--out", str(out), "--resume"])
    assert_clean_error(result, 3, "checkpoint", "cannot be read", "with --force instead of --resume")
    assert marker.read_text() == "{not json"  # kept: the user decides
    # A rerun that forgot --resume does not throw the interrupted work away; --force does.
    assert_clean_error(runner.invoke(app, [*base, "--out", str(out)]), 4, "resumable work", "--force to start again")
    assert marker.read_text() == "{not json"
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, [*base, "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert "replacing" in caplog.text and "(--force)" in caplog.text
    assert files_in(tmp_path) == {"run"}


def _assert_same_run(a: Path, b: Path) -> None:
    for name in (runs.HEAD_FILE, runs.ADAPTER_WEIGHTS):
        ta, tb = load_file(a / name), load_file(b / name)
        assert ta.keys() == tb.keys()
        for key in ta:
            assert torch.equal(ta[key], tb[key]), (name, key)
    for name in (runs.THRESHOLDS_FILE, runs.LABELS_FILE, runs.METRICS_FILE, runs.SPLIT_FILE):
        assert (a / name).read_text() == (b / name).read_text(), name


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_data_same_weights_and_predictions(movies_csv, tiny_qwen, tmp_path):
    config = _config(movies_csv, tiny_qwen, epochs=2)
    first, second = train(config, tmp_path / "a"), train(config, tmp_path / "b")
    _assert_same_run(first.path, second.path)
    for name in ("a", "b"):
        result = _tag([str(movies_csv), "--model", str(tmp_path / name), "--out", str(tmp_path / f"{name}.csv")])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


# --------------------------------------------------------------------------- kill -9 and resume


def _genretag(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "genretag", "--quiet", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120.0) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` holds; fail if it ends first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"genretag ended (exit {proc.returncode}) before it could be killed: {err.decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("genretag made no progress in time")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_kill_during_tag_then_resume(run_dir, tmp_path):
    rows = synthetic_movies(5000, seed=4)
    for i in range(0, len(rows), 97):
        rows[i]["overview"] = ""
    src = write_csv(tmp_path / "big.csv", rows)
    out = tmp_path / "tagged.csv"
    out.write_text("an earlier result\n")  # must survive the kill untouched
    args = ["tag", str(src), "--model", str(run_dir), "--out", str(out), "--chunksize", "100", "--force"]
    record = progress_file(partial_path(out))

    def two_chunks_done():
        try:
            return json.loads(record.read_text())["chunks"] >= 2
        except (OSError, ValueError):
            return False

    _kill_when(_genretag(args, tmp_path), two_chunks_done)
    assert out.read_text() == "an earlier result\n"
    kept = json.loads(record.read_text())
    assert 2 <= kept["chunks"] < 50 and partial_path(out).stat().st_size >= kept["bytes"]

    result = _tag([*args[1:], "--resume"])
    assert result.exit_code == 0, result.output
    reference = tmp_path / "reference.csv"
    assert _tag([str(src), "--model", str(run_dir), "--out", str(reference), "--chunksize", "100"]).exit_code == 0
    assert out.read_bytes() == reference.read_bytes()
    assert len(read_rows(out)) == len(rows) + 1
    assert files_in(tmp_path) == {"big.csv", "tagged.csv", "reference.csv"}


@pytest.mark.slow
def test_kill_during_train_then_resume(tiny_qwen, tmp_path):
    src = write_csv(tmp_path / "movies.csv", synthetic_movies(1500, seed=6))
    out = tmp_path / "run"
    out.mkdir()
    (out / "meta.json").write_text("{}\n")  # an earlier run (--force replaces genretag's own folders only) ...
    (out / "earlier.txt").write_text("an earlier run\n")  # ... which must survive the kill untouched
    args = ["train", "--data", str(src), "--backbone", str(tiny_qwen), "--epochs", "3", "--out", str(out), "--force"]
    marker = checkpoints.marker(partial_path(out))
    _kill_when(_genretag(args, tmp_path), marker.is_file)
    assert (out / "earlier.txt").read_text() == "an earlier run\n"
    assert json.loads(marker.read_text())["epoch"] < 3

    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    reference = tmp_path / "reference"
    result = runner.invoke(app, [*args[:-3], "--out", str(reference)])
    assert result.exit_code == 0, result.output
    _assert_same_run(reference, out)
    assert files_in(tmp_path) == {"movies.csv", "run", "reference"}
