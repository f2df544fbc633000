"""`genretag export`: a Hugging Face folder that transformers alone loads, with the run's probabilities."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genretag.cli import app
from genretag.config import TrainConfig
from genretag.export import export_run
from genretag.runs import load_run
from genretag.training import train
from tiny_backbones import save_tiny

TEXTS = [
    "A lonely sheriff rides into a desert town where outlaws rule the saloon.",
    "Ghost.",
    "Two clumsy friends crash a wedding party and fall in love with the bride's sister, "
    "while a haunted house at the edge of town hides a demon that screams every night; "
    + "the family must face grief, loss and a long court battle over the ranch. " * 6,
    "The couple write love letters all summer.",
]

# Loads each exported folder with transformers alone: importing genretag is made to fail.
LOADER = r"""
import json, sys
sys.modules["genretag"] = None  # any `import genretag` now raises ImportError
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

texts = json.loads(sys.argv[1])
result = {}
for folder in sys.argv[2:]:
    try:
        AutoModelForSequenceClassification.from_pretrained(folder)
        refused = None
    except Exception as exc:
        refused = str(exc)
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    padded = {}
    with torch.no_grad():
        for side in ("right", "left"):
            tokenizer.padding_side = side
            batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
            padded[side] = torch.sigmoid(model(**batch).logits).tolist()
    tagger = pipeline("text-classification", model=folder, trust_remote_code=True, top_k=None,
                      function_to_apply="sigmoid")
    rows = tagger(texts, truncation=True)
    result[folder] = {
        "refused": refused,
        "padded": padded,
        "pipeline": [{d["label"]: d["score"] for d in row} for row in rows],
        "config": model.config.to_dict(),
    }
print("\nRESULT " + json.dumps(result))  # the refused load may print a prompt first
"""


def _train(data: Path, backbone: Path, out: Path, **changes) -> Path:
    config = TrainConfig(
        data=str(data), backbone=str(backbone), epochs=1, batch_size=16, eval_batch_size=32, max_length=32, **changes
    )
    return train(config, out).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, movies_csv, tiny_qwen, tiny_bert) -> dict[str, Path]:
    """Tiny runs, one per pooling: last (Qwen3), mean and cls (BERT); and T5, whose backbone is its encoder alone."""
    root = tmp_path_factory.mktemp("export-runs")
    return {
        "last": _train(movies_csv, tiny_qwen, root / "qwen"),
        "mean": _train(movies_csv, tiny_bert, root / "bert-mean"),
        "cls": _train(movies_csv, tiny_bert, root / "bert-cls", pooling="cls"),
        "t5": _train(movies_csv, save_tiny("t5", root / "t5-backbone"), root / "t5"),
    }


@pytest.fixture(scope="module")
def exported(runs, tmp_path_factory) -> dict[str, Path]:
    """Each run exported as a merged model folder."""
    root = tmp_path_factory.mktemp("exported")
    return {pooling: export_run(run, root / pooling).output for pooling, run in runs.items()}


@pytest.fixture(scope="module")
def loaded(exported) -> dict:
    """What a process without genretag gets from each exported folder."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", LOADER, json.dumps(TEXTS), *map(str, exported.values())],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("\nRESULT ", 1)[1])
    return {pooling: result[str(folder)] for pooling, folder in exported.items()}


@pytest.mark.parametrize("pooling", ["last", "mean", "cls", "t5"])  # T5 was "cannot rebuild t5 for export"
def test_transformers_alone_gives_the_run_probabilities(pooling, runs, loaded):
    run = load_run(runs[pooling], device="cpu")
    expected = run.predict_proba(TEXTS)
    got = loaded[pooling]
    # Decoders count positions over real tokens, so any padding side works; BERT's absolute
    # positions need right padding, as genretag pads and as the saved tokenizer is set to.
    for side in ("right", "left") if pooling == "last" else ("right",):
        np.testing.assert_allclose(np.array(got["padded"][side]), expected, atol=1e-4, rtol=0)
    from_pipeline = np.array([[row[label] for label in run.labels] for row in got["pipeline"]])
    np.testing.assert_allclose(from_pipeline, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_config_carries_labels_thresholds_and_refuses_without_remote_code(pooling, runs, loaded):
    run = load_run(runs[pooling], device="cpu")
    config = loaded[pooling]["config"]
    assert config["problem_type"] == "multi_label_classification"
    assert [config["id2label"][str(i)] for i in range(len(run.labels))] == run.labels
    assert config["label2id"] == {label: i for i, label in enumerate(run.labels)}
    assert config["thresholds"] == pytest.approx({label: float(t) for label, t in zip(run.labels, run.rule.thresholds)})
    assert config["pooling"] == pooling and config["max_text_tokens"] == 32
    # Without trust_remote_code transformers must refuse, never build a different head.
    assert loaded[pooling]["refused"] and "trust_remote_code" in loaded[pooling]["refused"]


def test_exported_folder_files(exported):
    folder = exported["last"]
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "modeling_genretag.py", "README.md", "tokenizer_config.json"} <= names
    assert not any(name.startswith(".") for name in names)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "genretag"
    assert config["auto_map"]["AutoModelForSequenceClassification"] == "modeling_genretag.GenretagForSequenceClassification"
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as fh:
        keys = set(fh.keys())
    assert {"classifier.weight", "classifier.bias"} <= keys
    assert not any("lora" in key for key in keys)  # merged, not carried


def test_adapter_only_loads_with_peft(runs, tmp_path, tiny_qwen):
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    out = export_run(runs["last"], tmp_path / "adapter", adapter_only=True).output
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "head.safetensors", "labels.json",
            "thresholds.json", "genretag_head.json", "README.md"} <= names

    base = AutoModel.from_pretrained(str(tiny_qwen), dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(out)).eval()
    head = load_file(str(out / "head.safetensors"))
    spec = json.loads((out / "genretag_head.json").read_text())
    assert spec["pooling"] == "last" and spec["decoder"] is True
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_qwen))
    probs = []
    with torch.no_grad():
        for text in TEXTS:  # one at a time: no padding, the last token is the last real one
            ids = tokenizer(text, truncation=True, max_length=spec["max_length"], return_tensors="pt")
            hidden = model(**ids).last_hidden_state[:, -1]
            probs.append(torch.sigmoid(hidden @ head["weight"].T + head["bias"])[0].numpy())
    run = load_run(runs["last"], device="cpu")
    np.testing.assert_allclose(np.array(probs), run.predict_proba(TEXTS), atol=1e-4, rtol=0)
    assert json.loads((out / "labels.json").read_text()) == run.labels


def test_cli_export_refuses_to_overwrite(runs, tmp_path):
    runner = CliRunner()
    out = tmp_path / "model"
    result = runner.invoke(app, ["export", str(runs["mean"]), str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").is_file()
    again = runner.invoke(app, ["export", str(runs["mean"]), str(out)])
    assert again.exit_code == 4
    assert "--force" in again.output
    forced = runner.invoke(app, ["export", str(runs["mean"]), str(out), "--force", "--adapter-only"])
    assert forced.exit_code == 0, forced.output
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()


def test_cli_export_errors_are_one_line(tmp_path, runs):
    runner = CliRunner()
    missing = runner.invoke(app, ["export", str(tmp_path / "nope"), str(tmp_path / "out")])
    assert missing.exit_code == 3
    assert "Traceback" not in missing.output
    bad = runner.invoke(app, ["export", str(runs["mean"]), str(tmp_path / "out"), "--dtype", "int8"])
    assert bad.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_half_precision_export(runs, tmp_path):
    from safetensors import safe_open

    out = export_run(runs["last"], tmp_path / "bf16", dtype="bfloat16").output
    with safe_open(str(out / "model.safetensors"), "pt") as fh:
        assert {fh.get_tensor(key).dtype for key in fh.keys()} == {torch.bfloat16}
    assert "bfloat16" in (out / "README.md").read_text()


def test_an_export_given_as_a_run_is_named_as_such(exported, tmp_path):
    runner = CliRunner()
    folder = next(iter(exported.values()))
    for args in (["tag", str(tmp_path / "x.csv"), "--model", str(folder)], ["info", str(folder)]):
        (tmp_path / "x.csv").write_text("overview\nA ghost haunts a house.\n", encoding="utf-8")
        result = runner.invoke(app, args)
        assert result.exit_code != 0
        assert "is a genretag export (for transformers and peft), not a run" in " ".join(result.output.split()), args


def test_cards_say_what_text_the_model_read(exported):
    """An export of a title + overview run (the bundled model's) never said its input was
    "Title. Overview"; a user would feed it synopses alone."""
    from types import SimpleNamespace

    from genretag.export import _input_line

    assert "Input: one synopsis per text." in (exported["last"] / "README.md").read_text()
    for typed in (["title", "overview"], ["title,overview"], ["title, overview"]):  # however it was typed
        run = SimpleNamespace(path=Path("/nonexistent"), config=SimpleNamespace(text_cols=typed))
        titled = _input_line(run)
        assert "the columns 'title', 'overview' joined as one text" in titled and '"Alien. A crew' in titled
