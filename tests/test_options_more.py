"""Options a user gets wrong: refused in one line before the slow work."""

import json
import re

import pandas as pd
import pytest
from conftest import synthetic_movies
from typer.testing import CliRunner

from genretag.cli import app
from genretag.device import check_device
from genretag.errors import ConfigError, DataError, ModelError


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name, message", [
    ("bogus", "--device must be cpu, cuda, cuda:N or mps, got 'bogus'"),
    ("cuda:x", "--device must be cpu, cuda, cuda:N or mps"),
])
def test_a_device_torch_does_not_know_is_refused(name, message):
    with pytest.raises(DataError, match=message):
        check_device(name)
    assert check_device("CPU") == "cpu" and check_device(None) is None


def test_a_cuda_device_on_a_machine_without_one_is_refused_before_training(movies_csv, tiny_bert, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    for command in (["train", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--epochs", "1"],
                    ["tune", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--epochs", "1"]):
        result = CliRunner().invoke(app, [*command, "--out", str(tmp_path / command[0]), "--device", "cuda"])
        assert result.exit_code == 2 and "--device cuda: no CUDA GPU on this machine" in _flat(result.output)
        assert not (tmp_path / command[0]).exists()


@pytest.mark.parametrize("target, kind", [("LayerNorm", "LayerNorm"), ("attention", "BertAttention"),
                                          # trained, then the run could not be loaded ("corrupt")
                                          ("word_embeddings", "Embedding")])
def test_lora_targets_that_are_no_linear_layer_are_named(tiny_bert, target, kind):
    from genretag.config import ModelSpec
    from genretag.modeling import build_model

    spec = ModelSpec(backbone=str(tiny_bert), num_labels=3, lora_targets=[target])
    article = "an" if kind[0] in "AEIOU" else "a"  # "an Embedding"
    with pytest.raises(ConfigError, match=rf"lora_targets {target}: '.*{target}' is {article} {kind}, not a linear layer; "
                                         r"linear layers of this backbone: .*query"):
        build_model(spec)


@pytest.mark.parametrize("target", ["ry", "QUERY"])
def test_lora_targets_that_only_end_a_layer_name_or_differ_in_case_are_named(tiny_bert, target):
    """"ry" passed the check (it ends "query") and failed inside peft as an internal error."""
    from genretag.config import ModelSpec
    from genretag.modeling import build_model

    spec = ModelSpec(backbone=str(tiny_bert), num_labels=3, lora_targets=[target])
    with pytest.raises(ConfigError, match=rf"lora_targets names no layer of this backbone: {target}; its linear layers: "
                                         r".*query.*\(names are case-sensitive\)"):
        build_model(spec)


def test_a_tuned_run_whose_thresholds_landed_on_0_5_is_still_called_tuned(tiny_run, tmp_path):
    import json
    import shutil

    from genretag.evaluation import _tuning
    from genretag.runs import load_run

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    labels = json.loads((run_dir / "labels.json").read_text())
    (run_dir / "thresholds.json").write_text(json.dumps({g: 0.5 for g in labels}))
    config = json.loads((run_dir / "config.json").read_text())
    config["thresholds"] = "per-genre"
    (run_dir / "config.json").write_text(json.dumps(config))
    assert _tuning(load_run(run_dir, device="cpu")) == (True, "per-genre")
    (run_dir / "thresholds.json").unlink()  # a run written before tuning existed
    assert _tuning(load_run(run_dir, device="cpu")) == (False, "fixed")


def test_min_support_says_which_genres_it_dropped(movies_csv, tiny_bert):
    from genretag.config import TrainConfig
    from genretag.training import prepare

    full = prepare(TrainConfig(data=str(movies_csv), backbone=str(tiny_bert)))
    counts = full.targets[full.split["train"]].sum(0)
    support = int(counts.min()) + 1  # drops the rarest genre(s), keeps the others
    prep = prepare(TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), min_support=support))
    [line] = [x for x in prep.dropped if x.startswith(f"--min-support {support} dropped")]
    rarest = [g for g, n in zip(full.labels, counts) if n < support]
    assert prep.rare == rarest and all(f"{g} ({int(counts[full.labels.index(g)])} training rows)" in line for g in rarest)


def test_a_backbone_folder_without_its_tokenizer_is_refused(tiny_bert, tmp_path):
    import shutil

    from genretag.config import ModelSpec
    from genretag.modeling import build_model

    bare = tmp_path / "no-tokenizer"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_bert / name, bare / name)
    with pytest.raises(ModelError, match=r"the tokenizer of backbone .* has \d+ tokens and its model \d+: the folder's "
                                         r"tokenizer files are missing"):
        build_model(ModelSpec(backbone=str(bare), num_labels=3))
    build_model(ModelSpec(backbone=str(tiny_bert), num_labels=3))  # with its tokenizer: fine


def test_ensemble_of_runs_whose_backbone_folder_moved_takes_backbone(movies_csv, tiny_bert, tmp_path):
    import shutil

    backbone = tmp_path / "bert"
    shutil.copytree(tiny_bert, backbone)
    runs = []
    for seed in (1, 2):
        out = tmp_path / f"run{seed}"
        result = CliRunner().invoke(app, ["train", "--data", str(movies_csv), "--backbone", str(backbone), "--epochs", "1",
                                          "--init-seed", str(seed), "--out", str(out)])
        assert result.exit_code == 0, result.output
        runs.append(str(out))
    moved = backbone.rename(tmp_path / "bert-moved")
    result = CliRunner().invoke(app, ["ensemble", *runs, "--out", str(tmp_path / "ens")])
    assert result.exit_code == 3 and "pass --backbone with its new location" in _flat(result.output)
    result = CliRunner().invoke(app, ["ensemble", *runs, "--out", str(tmp_path / "ens"), "--backbone", str(moved)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["soup", *runs, "--out", str(tmp_path / "soup"), "--recipe", "uniform",
                                      "--backbone", str(moved)])
    assert result.exit_code == 0, result.output
    # Both record where the backbone is now (they wrote the old folder, and tag then failed on it).
    for config in ["ens/config.json", "ens/members/1/config.json", "ens/members/2/config.json", "soup/config.json"]:
        assert json.loads((tmp_path / config).read_text())["backbone"] == str(moved)
    for model in ("ens", "soup"):
        result = CliRunner().invoke(app, ["tag", str(movies_csv), "--model", str(tmp_path / model),
                                          "--out", str(tmp_path / f"{model}.csv")])
        assert result.exit_code == 0, result.output


def test_a_config_file_setting_a_command_line_option_says_so(tmp_path):
    from genretag.configfile import load_config_file

    path = tmp_path / "run.toml"
    path.write_text('out = "runs/x"\nepochs = 1\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"'out' is an option of this command, not of the training recipe; .*pass --out"):
        load_config_file(path)


def test_an_empty_backbone_and_a_data_file_as_test_from_are_named(movies_csv, tmp_path):
    result = CliRunner().invoke(app, ["train", "--data", str(movies_csv), "--backbone", "", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "backbone must name a model" in _flat(result.output).replace("--", "")
    result = CliRunner().invoke(app, ["train", "--data", str(movies_csv), "--backbone", "minilm", "--test-from",
                                      str(movies_csv), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "pass a run directory or its split.json" in _flat(result.output)


def test_a_threshold_the_threshold_mode_does_not_use_is_said(movies_csv, caplog):
    """``train --threshold 0.9`` under the default per-genre thresholds was ignored silently."""
    import logging

    from genretag.cli.options import config_from_options

    with caplog.at_level(logging.WARNING):
        config_from_options({"data": movies_csv, "threshold": 0.9}, given={"data", "threshold"})
    assert "--threshold 0.9 is not used: with --thresholds per-genre the thresholds are tuned" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        config_from_options({"data": movies_csv, "threshold": 0.9, "thresholds": "fixed"},
                            given={"data", "threshold", "thresholds"})
    assert "is not used" not in caplog.text
    with caplog.at_level(logging.WARNING):
        config_from_options({"data": movies_csv, "distill_alpha": 0.3}, given={"data", "distill_alpha"})
    assert "--distill-alpha 0.3 is not used: it mixes a --teacher's probabilities" in caplog.text


def test_oversample_max_caps_the_repeats_and_is_said_when_oversampling_is_off(movies_csv, caplog):
    import logging

    import numpy as np

    from genretag.cli.options import config_from_options
    from genretag.config import ConfigError
    from genretag.training import oversample_rows

    targets = np.array([[1, 0]] * 36 + [[0, 1]], dtype=np.float32)  # sqrt(36 / 1) = 6 repeats uncapped
    assert np.bincount(oversample_rows(targets))[-1] == 4
    assert np.bincount(oversample_rows(targets, 8))[-1] == 6
    with caplog.at_level(logging.WARNING):
        config = config_from_options({"data": movies_csv, "oversample_max": 6}, given={"data", "oversample_max"})
    assert config.oversample_max == 6 and "--oversample-max 6 is not used: it caps --oversample" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        config_from_options({"data": movies_csv, "oversample": True, "oversample_max": 6},
                            given={"data", "oversample", "oversample_max"})
    assert "is not used" not in caplog.text
    with pytest.raises(ConfigError, match="must be at least 1, got 0"):
        config_from_options({"data": movies_csv, "oversample": True, "oversample_max": 0},
                            given={"data", "oversample", "oversample_max"})


@pytest.mark.parametrize("command", ["tag", "evaluate", "export"])
def test_an_empty_backbone_override_is_refused(command, tiny_run, movies_csv, tmp_path):
    """``tag --backbone ""`` ran with the run's own backbone without a word."""
    args = {"tag": ["tag", str(movies_csv), "--model", str(tiny_run), "--out", str(tmp_path / "o.csv")],
            "evaluate": ["evaluate", "--model", str(tiny_run), "--data", str(movies_csv), "--no-baseline"],
            "export": ["export", str(tiny_run), str(tmp_path / "exp")]}[command]
    result = CliRunner().invoke(app, args + ["--backbone", " "])
    assert result.exit_code == 2 and "--backbone must name a model" in _flat(result.output)
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "exp").exists()


@pytest.mark.parametrize(("command", "args"), [
    ("train", ["--seed", "-5"]), ("train", ["--init-seed", "-1"]), ("tune", ["--seed", "18446744073709551616"]),
])
def test_a_seed_out_of_range_is_refused_naming_it(command, args, movies_csv, tiny_bert, tmp_path):
    """numpy's generator took it as an internal error ("expected non-negative integer"), tune after its plan."""
    result = CliRunner().invoke(app, [command, "--data", str(movies_csv), "--backbone", str(tiny_bert), "--epochs",
                                      "1", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 2, result.output
    assert f"{args[0]} must be a whole number from 0 to 4294967295, got {args[1]}" in _flat(result.output)
    assert not (tmp_path / "out").exists()


def test_a_split_leaving_few_training_or_validation_rows_says_what_it_costs(tiny_bert, tmp_path, caplog):
    """Genres only in validation/test vanished without a word; 1 validation row tuned the thresholds unsaid;
    a 1-row training split blamed the file ("movies of several genres"). The cautions are warnings (so --quiet
    shows them): here the test's log capture holds them."""
    path = tmp_path / "movies.csv"
    pd.DataFrame(synthetic_movies(60)).to_csv(path, index=False)
    train = ["train", "--data", str(path), "--backbone", str(tiny_bert), "--epochs", "1", "--out"]
    result = CliRunner().invoke(app, [*train, str(tmp_path / "a"), "--split", "0.04,0.9,0.06"])
    assert result.exit_code == 0, result.output
    said = re.search(r"(\d) genre\(s\) have no training row after --split 0.04,0.9,0.06 \(2 training rows\), so the "
                     r"model cannot learn them: ([\w ,]+)", _flat(caplog.text))
    labels = json.loads((tmp_path / "a" / "labels.json").read_text())
    assert said and int(said[1]) == len(said[2].split(", ")) and not set(said[2].split(", ")) & set(labels)
    result = CliRunner().invoke(app, [*train, str(tmp_path / "b"), "--split", "0.96,0.02,0.02"])
    assert result.exit_code == 0 and "only 1 validation row (--split 0.96,0.02,0.02)" in _flat(caplog.text)
    result = CliRunner().invoke(app, [*train, str(tmp_path / "c"), "--split", "0.02,0.96,0.02"])
    assert result.exit_code == 2 and "--split 0.02,0.96,0.02 leaves 1 training row of 60" in _flat(result.output)


def test_small_option_slips_are_read_as_meant():
    from genretag.config import TrainConfig

    assert TrainConfig(lora_targets=["q_proj", "q_proj", "v_proj"]).lora_targets == ["q_proj", "v_proj"]


def test_tune_max_length_past_the_backbone_s_limit_is_a_bad_option(movies_csv, tiny_bert, tmp_path):
    """Refused before any trial, but with the 'model cannot be loaded' exit code 3."""
    result = CliRunner().invoke(app, ["tune", "--data", str(movies_csv), "--backbone", str(tiny_bert), "--epochs", "1",
                                      "--max-length", "64,1024", "--out", str(tmp_path / "t")])
    assert result.exit_code == 2, result.output
    assert "--max-length 1024: backbone" in _flat(result.output) and "reads at most 512 tokens" in _flat(result.output)
    assert not (tmp_path / "t" / "trials").exists()
