"""Security: run directories are data, never code; genretag's CSV cells never run as formulas."""

from __future__ import annotations

import ast
import csv
import inspect
import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from conftest import synthetic_movies, write_csv
from genretag import runs
from genretag.cli import app
from genretag.cli.tag import tag_cli
from genretag.cli.train import train_cli
from genretag.config import TrainConfig
from genretag.modeling import ModelSpec, build_model
from genretag.tagging import FORMULA_STARTS, safe_cell
from genretag.training import train

runner = CliRunner()
PACKAGE = Path(__file__).resolve().parents[1] / "genretag"
SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, movies_csv, tiny_qwen) -> Path:
    out = tmp_path_factory.mktemp("sec") / "run"
    train(TrainConfig(data=str(movies_csv), backbone=str(tiny_qwen), epochs=1, batch_size=16, eval_batch_size=32), out)
    return out


UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "shelve", "marshal", "cloudpickle"}


def _unsafe_uses(tree: ast.AST) -> list[str]:
    """Lines of code (not strings or comments) that could run code hidden in a file."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            kwargs = {k.arg: k.value for k in node.keywords}
            if func in ("eval", "exec", "builtins.eval", "builtins.exec", "compile"):
                found.append(f"{func}() at line {node.lineno}")
            if func.endswith("torch.load") or func == "load" and "weights_only" in kwargs:
                value = kwargs.get("weights_only")
                if not (isinstance(value, ast.Constant) and value.value is True):
                    found.append(f"{func}() without weights_only=True at line {node.lineno}")
            for name, bad in (("trust_remote_code", True), ("allow_pickle", True), ("use_safetensors", False)):
                value = kwargs.get(name)
                if isinstance(value, ast.Constant) and value.value is bad:
                    found.append(f"{name}={bad} at line {node.lineno}")
    return found


def test_package_source_never_unpickles_or_evaluates():
    assert len(SOURCES) > 10, PACKAGE
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        assert _unsafe_uses(tree) == [], path


def test_the_source_scan_catches_what_it_should():
    bad = (
        "import pickle\nfrom dill import loads\nimport torch\ntorch.load(f)\ntorch.load(f, weights_only=False)\n"
        "eval(x)\nAutoModel.from_pretrained(p, trust_remote_code=True)\nnp.load(f, allow_pickle=True)\n"
    )
    assert len(_unsafe_uses(ast.parse(bad))) == 7
    good = "import ast\nast.literal_eval(x)\ntorch.load(f, weights_only=True)\nf(trust_remote_code=flag)\n"
    assert _unsafe_uses(ast.parse(good)) == []


def test_loading_and_tagging_never_touch_pickle(run_dir, movies_csv, tmp_path, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, name, refuse)
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(run_dir), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output


def test_a_pickled_adapter_is_refused_not_loaded(run_dir, movies_csv, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / runs.ADAPTER_WEIGHTS).rename(run / runs.ADAPTER_DIR / "adapter_model.bin")
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(run), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 3 and "missing adapter/adapter_model.safetensors" in result.output


# --------------------------------------------------------------------------- trust_remote_code


def test_trust_remote_code_is_off_by_default():
    assert TrainConfig().trust_remote_code is False
    assert ModelSpec(backbone="x", num_labels=1).trust_remote_code is False
    for command in (train_cli, tag_cli):
        assert inspect.signature(command).parameters["trust_remote_code"].default is False
    assert inspect.signature(runs.load_run).parameters["trust_remote_code"].default is False


def test_trust_remote_code_warns_when_on(tiny_qwen, caplog):
    with caplog.at_level(logging.WARNING):
        build_model(ModelSpec(backbone=str(tiny_qwen), num_labels=2))
    assert "trust_remote_code" not in caplog.text
    with caplog.at_level(logging.WARNING):
        build_model(ModelSpec(backbone=str(tiny_qwen), num_labels=2, trust_remote_code=True))
    assert "trust_remote_code is on" in caplog.text and "will run on this machine" in caplog.text


def test_a_run_directory_cannot_switch_trust_remote_code_on(run_dir, movies_csv, tmp_path, caplog):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    config = json.loads((run / runs.CONFIG_FILE).read_text())
    (run / runs.CONFIG_FILE).write_text(json.dumps({**config, "trust_remote_code": True}))
    args = ["tag", str(movies_csv), "--model", str(run), "--out", str(tmp_path / "o.csv")]
    result = runner.invoke(app, args)
    assert result.exit_code == 3 and "--trust-remote-code" in result.output and "Traceback" not in result.output
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(app, [*args, "--trust-remote-code"])
    assert result.exit_code == 0, result.output
    assert "trust_remote_code is on" in caplog.text


# --------------------------------------------------------------------------- spreadsheet formulas


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_safe_cell_quotes_formula_starts(text):
    assert safe_cell(text) == "'" + text
    assert not safe_cell(text).startswith(FORMULA_STARTS)


@pytest.mark.parametrize("text", ["", "Action|Drama", "Sci-Fi", "'quoted", "1+1"])
def test_safe_cell_leaves_plain_text(text):
    assert safe_cell(text) == text


def test_genretag_cells_never_start_a_formula_and_input_cells_pass_through(tiny_qwen, tmp_path):
    # Genres that would be formulas become labels: "=Cmd", "+Plus", "-Minus", "@At" sort first.
    rows = synthetic_movies(60, seed=7)
    for i, row in enumerate(rows):
        row["genres"] += "|" + ["=cmd", "+plus", "-minus", "@at"][i % 4]
    data = write_csv(tmp_path / "train.csv", rows)
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", str(tiny_qwen), "--epochs", "1",
                                 "--out", str(run)])
    assert result.exit_code == 0, result.output
    labels = json.loads((run / runs.LABELS_FILE).read_text())
    assert {"=Cmd", "+Plus", "-Minus", "@At"} <= set(labels)

    hostile = [
        "=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2", "@SUM(A1)", "  padded  ", 'a "quoted" word', "two\nlines",
        "NA", "null", "", "007", "ünïcödé ✓", "1,5", "tab\there", "\r", "'",
    ]
    src = tmp_path / "in.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "overview", "note"])
        for i, cell in enumerate(hostile):
            writer.writerow([f"{i:03d}", cell, f"A cowboy and a ghost {i}. {cell}", cell])
    out = tmp_path / "out.csv"
    # A tiny threshold picks every genre, so the joined cell starts with a formula-like label.
    result = runner.invoke(app, ["tag", str(src), "--model", str(run), "--out", str(out), "--threshold", "0.0001"])
    assert result.exit_code == 0, result.output

    with open(src, newline="", encoding="utf-8") as fh:
        rows_in = list(csv.reader(fh))
    with open(out, newline="", encoding="utf-8") as fh:
        rows_out = list(csv.reader(fh))
    assert len(rows_out) == len(rows_in)
    assert [r[:4] for r in rows_out] == rows_in  # input cells byte-for-byte, header included
    header = rows_out[0]
    for row in rows_out[1:]:
        for name, cell in zip(header[4:], row[4:]):  # genretag's own columns
            assert not cell.startswith(FORMULA_STARTS), (name, cell)
        assert row[4].startswith("'+Plus|-Minus|=Cmd|@At|")  # sorted labels, quoted once at the start
    assert all(not name.startswith(FORMULA_STARTS) for name in header)
