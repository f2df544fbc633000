"""The failing cases of /work/shared/cases about backbones and options, through the real CLI.

Inputs are copied in ``tests/cases/<case>/``; backbones are tiny random models
(`tests/conftest.py`, `tests/tiny_backbones.py`), so these check behaviour, not scores.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from genretag.cli import app
from tiny_backbones import save_tiny

runner = CliRunner()
CASES = Path(__file__).resolve().parent / "cases"


@pytest.fixture(autouse=True)
def warnings_captured(caplog):
    """genretag's warnings go through logging (the CLI prints them on stderr); caplog sees them."""
    caplog.set_level(logging.WARNING)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _train(data: Path, backbone, out: Path, *extra: str):
    return runner.invoke(app, ["train", "--data", str(data), "--backbone", str(backbone), "--epochs", "1",
                               "--out", str(out), *extra])


def _config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def _meta(run: Path) -> dict:
    return json.loads((run / "meta.json").read_text())


def _edit(path: Path, **changes) -> None:
    values = json.loads(path.read_text())
    values.update(changes)
    path.write_text(json.dumps(values))


# backbone-gpt2-targets: GPT-2's attention is a Conv1D, which the old scan ignored.

def test_gpt2_trains_with_lora_on_its_conv1d_attention(tmp_path):
    gpt2 = save_tiny("gpt2", tmp_path / "tiny-gpt2")
    run = tmp_path / "run"
    result = _train(CASES / "backbone-gpt2-targets" / "train.csv", gpt2, run)
    assert result.exit_code == 0, result.output
    assert "LoRA on c_attn, last pooling" in result.stderr
    assert _config(run)["lora_targets"] == ["c_attn"]
    adapter = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert adapter["target_modules"] == ["c_attn"] and adapter["fan_in_fan_out"] is True
    tagged = tmp_path / "tagged.csv"
    result = runner.invoke(app, ["tag", str(CASES / "backbone-max-length" / "to_tag.csv"), "--model", str(run),
                                 "--out", str(tagged)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tagged)["predicted_genres"].notna().all()


# backbone-max-length: --max-length above the position limit crashed train (long rows) or tag.

def test_max_length_above_the_position_limit_is_clamped_at_train_and_tag(tmp_path, tiny_bert, caplog):
    case = CASES / "backbone-max-length"
    run = tmp_path / "run"
    result = _train(case / "train.csv", tiny_bert, run, "--max-length", "1024")
    assert result.exit_code == 0, result.output
    assert f"--max-length 1024 is more than backbone {tiny_bert} takes (512 tokens); using 512" in caplog.text
    assert _config(run)["max_length"] == 512
    tagged = tmp_path / "tagged.csv"
    result = runner.invoke(app, ["tag", str(case / "to_tag.csv"), "--model", str(run), "--out", str(tagged)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tagged)
    assert list(frame["title"]) == ["Short One", "Long One"] and frame["predicted_genres"].notna().all()


def test_long_synopses_train_with_a_too_large_max_length(tmp_path, tiny_bert, caplog):
    result = _train(CASES / "backbone-max-length" / "train_long.csv", tiny_bert, tmp_path / "run", "--max-length", "1024")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "using 512" in caplog.text


def test_a_run_saved_with_a_too_large_max_length_tags_with_a_warning(tmp_path, tiny_bert, caplog):
    """Runs trained before the clamp (short training rows) kept max_length 1024; tag crashed on long rows."""
    case = CASES / "backbone-max-length"
    run = tmp_path / "run"
    assert _train(case / "train.csv", tiny_bert, run).exit_code == 0
    _edit(run / "config.json", max_length=1024)
    for command in (["tag", str(case / "to_tag.csv"), "--out", str(tmp_path / "t.csv")],
                    ["evaluate", "--data", str(case / "train.csv"), "--no-baseline"]):
        result = runner.invoke(app, [*command, "--model", str(run)])
        assert result.exit_code == 0, result.output
        assert f"{run}'s max length 1024 is more than backbone {tiny_bert} takes (512 tokens); using 512" in caplog.text
        caplog.clear()


# backbone-relative-path: a relative folder was stored as given, then looked up on the hub.

def test_a_relative_backbone_folder_is_stored_resolved(tmp_path, tiny_bert, monkeypatch):
    case = CASES / "backbone-relative-path"
    home, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    shutil.copytree(tiny_bert, home / "models" / "tiny")
    elsewhere.mkdir()
    monkeypatch.chdir(home)
    assert _train(case / "train.csv", "models/tiny", home / "run").exit_code == 0
    assert _config(home / "run")["backbone"] == str(home / "models" / "tiny")

    monkeypatch.chdir(elsewhere)  # the run loads from any working directory
    result = runner.invoke(app, ["tag", str(case / "to_tag.csv"), "--model", str(home / "run"), "--out", "a.csv"])
    assert result.exit_code == 0, result.output

    shutil.move(home / "models", tmp_path / "moved")
    result = runner.invoke(app, ["tag", str(case / "to_tag.csv"), "--model", str(home / "run"), "--out", "b.csv"])
    assert result.exit_code == 3
    assert (f"was trained on the backbone folder {home / 'models' / 'tiny'}, which is not there any more; "
            "pass --backbone with its new location") in result.stderr
    assert "Hugging Face" not in result.stderr and not Path("b.csv").exists()
    result = runner.invoke(app, ["tag", str(case / "to_tag.csv"), "--model", str(home / "run"), "--out", "b.csv",
                                 "--backbone", str(tmp_path / "moved" / "tiny")])
    assert result.exit_code == 0, result.output


def test_an_old_run_with_a_relative_folder_says_to_pass_backbone(tmp_path, tiny_bert, monkeypatch):
    case = CASES / "backbone-relative-path"
    run = tmp_path / "run"
    assert _train(case / "train.csv", tiny_bert, run).exit_code == 0
    _edit(run / "config.json", backbone="models/tiny")  # as written before folders were resolved
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["tag", str(case / "to_tag.csv"), "--model", str(run), "--out", "a.csv"])
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert "cannot load backbone 'models/tiny': no such folder here" in result.stderr
    assert "for a local folder pass --backbone with its path" in result.stderr


# backbone-same-shape: another model of the same architecture was accepted silently.

def test_a_backbone_with_the_same_shapes_but_other_weights_is_refused(tmp_path, tiny_bert, caplog):
    case = CASES / "backbone-same-shape"
    run = tmp_path / "run"
    assert _train(case / "train.csv", tiny_bert, run).exit_code == 0
    assert _meta(run)["backbone_fingerprint"].startswith("sampled-bf16-v1:")
    other = tmp_path / "other-bert"
    shutil.copytree(tiny_bert, other)
    weights = other / "model.safetensors"
    from safetensors.torch import load_file, save_file
    tensors = load_file(weights)
    tensors = {k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(tensors, weights, metadata={"format": "pt"})

    tag = ["tag", str(case / "to_tag.csv"), "--model", str(run), "--backbone", str(other)]
    result = runner.invoke(app, [*tag, "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 3 and not (tmp_path / "a.csv").exists()
    assert f"backbone {other} has the architecture {run} was trained on but other weights" in result.stderr
    assert "--force-backbone" in result.stderr
    result = runner.invoke(app, ["evaluate", "--model", str(run), "--backbone", str(other), "--data",
                                 str(case / "train.csv"), "--no-baseline"])
    assert result.exit_code == 3 and "other weights" in result.stderr
    result = runner.invoke(app, [*tag, "--out", str(tmp_path / "b.csv"), "--force-backbone"])
    assert result.exit_code == 0, result.output
    assert "has other weights than" in caplog.text and (tmp_path / "b.csv").exists()

    copy = tmp_path / "same-bert"  # the same weights in another folder: accepted
    shutil.copytree(tiny_bert, copy)
    result = runner.invoke(app, ["tag", str(case / "to_tag.csv"), "--model", str(run), "--backbone", str(copy),
                                 "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output


def _tokenizer_edited(backbone: Path, folder: Path, edit) -> Path:
    """A copy of ``backbone`` whose ``tokenizer.json`` (as a dict) ``edit`` has changed in place."""
    shutil.copytree(backbone, folder)
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    edit(tokenizer)
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    return folder


def test_a_backbone_with_the_same_weights_but_another_tokenizer_is_refused(tmp_path, tiny_bert, caplog):
    case = CASES / "backbone-same-shape"
    run = tmp_path / "run"
    assert _train(case / "train.csv", tiny_bert, run).exit_code == 0
    assert len(_meta(run)["tokenizer_fingerprint"]) == 64

    def trade_two_ids(tokenizer: dict) -> None:  # two tokens trade ids: same size, other ids
        vocab = tokenizer["model"]["vocab"]
        words = [w for w in vocab if w.isalpha()][:2]
        vocab[words[0]], vocab[words[1]] = vocab[words[1]], vocab[words[0]]

    other = _tokenizer_edited(tiny_bert, tmp_path / "other-tokenizer", trade_two_ids)

    tag = ["tag", str(case / "to_tag.csv"), "--model", str(run), "--backbone", str(other), "--runtime", "torch"]
    result = runner.invoke(app, [*tag, "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 3 and not (tmp_path / "a.csv").exists()
    assert f"backbone {other} has another tokenizer than {run} was trained with" in result.stderr
    result = runner.invoke(app, [*tag, "--out", str(tmp_path / "b.csv"), "--force-backbone"])
    assert result.exit_code == 0 and "has another tokenizer than" in caplog.text


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_a_tokenizer_of_the_same_vocabulary_that_no_longer_lower_cases_is_refused(tmp_path, tiny_bert, runtime):
    """The vocabulary fingerprint alone accepted it: capitalised words became [UNK] and genres changed."""
    case = CASES / "backbone-same-shape"
    run = tmp_path / "run"
    assert _train(case / "train.csv", tiny_bert, run).exit_code == 0
    assert len(_meta(run)["tokenizer_probe"]) == 64
    cased = _tokenizer_edited(tiny_bert, tmp_path / "cased", lambda t: t["normalizer"].update(lowercase=False))
    settings = json.loads((cased / "tokenizer_config.json").read_text())
    (cased / "tokenizer_config.json").write_text(json.dumps({**settings, "do_lower_case": False}))
    result = runner.invoke(app, ["tag", str(case / "to_tag.csv"), "--model", str(run), "--backbone", str(cased),
                                 "--runtime", runtime, "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 3 and not (tmp_path / "a.csv").exists()
    assert f"backbone {cased} has another tokenizer than {run} was trained with" in result.stderr


def test_runs_without_a_fingerprint_still_load(tmp_path, tiny_bert):
    case = CASES / "backbone-same-shape"
    run = tmp_path / "run"
    assert _train(case / "train.csv", tiny_bert, run).exit_code == 0
    meta = _meta(run)
    del meta["backbone_fingerprint"], meta["text_profile"], meta["tokenizer_probe"]  # as written before these
    (run / "meta.json").write_text(json.dumps(meta))
    result = runner.invoke(app, ["tag", str(case / "to_tag.csv"), "--model", str(run), "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 0, result.output


# options-empty-split: an epoch trained, then "Found empty input array" (or "lower --min-support").

@pytest.mark.parametrize("split, counts, empty", [
    ("0.98,0.01,0.01", "30 train, 0 validation, 0 test", "validation and test splits"),
    ("0.01,0.98,0.01", "0 train, 30 validation, 0 test", "train and test splits"),
    ("0.9,0.1,0.0", None, None),
])
def test_a_split_with_an_empty_part_is_refused_before_training(tmp_path, tiny_qwen, split, counts, empty):
    data = CASES / "options-empty-split" / "input.csv"
    result = _train(data, tiny_qwen, tmp_path / "run", "--split", split)
    if counts is None:  # no test split asked for: fine
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2 and "epoch 1" not in result.output
    assert (f"--split {split} leaves the {empty} empty (30 usable rows: {counts}); give each a fraction of "
            "at least 0.033 (1 row in 30)") in result.stderr
    assert not (tmp_path / "run").exists()
    result = runner.invoke(app, ["tune", "--data", str(data), "--backbone", str(tiny_qwen), "--epochs", "1",
                                 "--lr", "1e-3", "--batch", "8", "--split", split, "--out", str(tmp_path / "tune")])
    assert result.exit_code == 2 and f"--split {split} leaves the {empty} empty" in result.stderr


# text-non-english: Chinese synopses got "Action|Drama" from the English model, without a word.

def test_synopses_in_another_script_are_flagged_and_counted(tmp_path, monkeypatch, caplog):
    case = tmp_path / "non_english.csv"
    shutil.copy(CASES / "text-non-english" / "non_english.csv", case)
    monkeypatch.chdir(tmp_path)  # no ./runs: the bundled (English) model
    result = runner.invoke(app, ["tag", str(case)])
    assert result.exit_code == 0, result.output
    assert ("5 of 5 synopses do not look like the model's language: they are not in the Latin script it was "
            "trained on (5 Han); their genres are unreliable (column language_warning)") in caplog.text
    frame = pd.read_csv(tmp_path / "non_english.tagged.csv")
    assert (frame["language_warning"] == "Han script (model: Latin)").all()
    # Chinese has no spaces between words: a synopsis of 30 characters is not "one word, a title?"
    assert "fewer than" not in caplog.text


def test_words_of_unspaced_scripts_are_counted_by_characters():
    from genretag.language import word_counts

    texts = ["一名年轻护士在老医院值夜班时听到封闭病房传来的声音", "夜班", "A nurse hears a voice.", "夜班 夜班 夜班 夜班 夜班 夜班 夜班",
             "ผีในโรงพยาบาลเก่า", ""]
    assert word_counts(texts).tolist() == [12, 1, 5, 7, 8, 0]


def test_evaluate_warns_about_synopses_in_another_script(tmp_path, tiny_qwen, movies_csv, caplog):
    run = tmp_path / "run"
    assert _train(movies_csv, tiny_qwen, run).exit_code == 0
    assert _meta(run)["text_profile"]["scripts"] == {"Latin": 1.0}
    chinese = pd.read_csv(CASES / "text-non-english" / "non_english.csv")
    english = pd.read_csv(movies_csv).head(5)
    labelled = pd.concat([english.rename(columns={"overview": "summary"})[["title", "summary", "genres"]],
                          chinese.assign(genres=["Horror", "Romance", "Action", "Action", "Comedy"])])
    labelled.to_csv(tmp_path / "mixed.csv", index=False)
    out = tmp_path / "ev.json"
    # the English rows are training rows of the run: kept so that the count covers all 10
    result = runner.invoke(app, ["evaluate", "--model", str(run), "--data", str(tmp_path / "mixed.csv"),
                                 "--no-baseline", "--include-training-rows", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: 5 of 10 synopses do not look like the model's language" in " ".join(result.output.split())
    results = json.loads(out.read_text())
    assert results["data"]["other_script"] == {"Han": 5}
    assert any(w.startswith("5 of 10 synopses do not look like the model's language") for w in results["warnings"])
