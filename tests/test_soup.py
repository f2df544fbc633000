"""Model soups: runs' weights averaged into one run, tuned on their shared validation split."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genretag import runs
from genretag.cli import app
from genretag.config import TrainConfig
from genretag.ensemble import build_ensemble
from genretag.errors import ModelError
from genretag.soup import build_soup
from genretag.training import train

runner = CliRunner()


@pytest.fixture(scope="module")
def ingredients(tmp_path_factory, movies_csv, tiny_bert):
    """Three runs from one initialisation that differ in learning rate, epochs and LoRA layers and rank."""
    root = tmp_path_factory.mktemp("soup")
    base = TrainConfig(data=str(movies_csv), backbone=str(tiny_bert), epochs=1, batch_size=16, eval_batch_size=32,
                       lr=2e-3)
    changes = [{}, {"lr": 4e-3, "epochs": 2}, {"lora_targets": ["query", "value"], "lora_r": 4, "lora_alpha": 4}]
    paths = [train(TrainConfig.from_dict({**base.to_dict(), **change}), root / f"r{k}").path
             for k, change in enumerate(changes)]
    other = train(TrainConfig.from_dict({**base.to_dict(), "seed": 5}), root / "other-split").path
    return root, paths, other


def _weights(path) -> dict[str, torch.Tensor]:
    """A run's model as it tags: backbone with its LoRA merged in, and head."""
    return {k: v.detach().clone() for k, v in runs.load_run(path).model.state_dict().items()}


def test_a_uniform_soup_is_the_mean_of_the_members_merged_weights(ingredients, tmp_path):
    _, paths, _ = ingredients
    soup = build_soup(paths, tmp_path / "uniform", recipe="uniform")
    got = _weights(soup.path)
    members = [_weights(p) for p in paths]
    changed = set()
    for name, value in got.items():
        mean = sum(m[name] for m in members) / len(members)
        torch.testing.assert_close(value, mean, atol=1e-6, rtol=1e-5)
        if not torch.equal(members[0][name], members[1][name]):
            changed.add(name.rsplit(".", 2)[-2])
    assert {"head", "query", "value"} <= changed  # the members differ, so the mean is none of them
    config = json.loads((soup.path / runs.ADAPTER_DIR / "adapter_config.json").read_text())
    assert config["r"] == config["lora_alpha"] == 8 + 8 + 4  # the default rank twice, then rank 4
    assert set(config["target_modules"]) >= {"query", "value"}
    assert all(step["kept"] for step in soup.members) and len(soup.members) == 3


def test_greedy_soup_tries_the_best_first_and_keeps_what_does_not_lower_validation(ingredients, tmp_path):
    _, paths, _ = ingredients
    soup = build_soup(paths, tmp_path / "greedy")
    own = {str(p): json.loads((p / runs.METRICS_FILE).read_text())["micro_f1"] for p in paths}
    tried = [step["val_micro_f1"] for step in soup.members]
    assert tried == sorted(own.values(), reverse=True) and soup.members[0]["kept"]
    best = soup.members[0]["soup_micro_f1"]
    for step in soup.members[1:]:  # the recipe's rule, step by step
        assert step["kept"] == (step["soup_micro_f1"] >= best)
        best = max(best, step["soup_micro_f1"]) if step["kept"] else best
    metrics = json.loads((soup.path / runs.METRICS_FILE).read_text())
    assert metrics["micro_f1"] == pytest.approx(best, abs=5e-5) and metrics["recipe"] == "greedy"
    meta = json.loads((soup.path / runs.META_FILE).read_text())
    assert len(meta["soup"]["members"]) == sum(step["kept"] for step in soup.members)
    assert not any(name.startswith("/") for name in meta["soup"]["members"])  # no path of this machine
    # The recorded score is the one the saved rule gives on validation.
    from genretag.evaluation import run_split_rows
    from genretag.metrics import summary_scores

    run = runs.load_run(soup.path)
    texts, y = run_split_rows(run, None)["validation"]
    assert summary_scores(y, run.rule.apply(run.predict_proba(texts)))["micro_f1"] == pytest.approx(
        metrics["micro_f1"], abs=1e-9)


def test_a_soup_is_a_run_for_tag_evaluate_info_and_export(ingredients, movies_csv, tmp_path):
    _, paths, _ = ingredients
    result = runner.invoke(app, ["soup", *map(str, paths), "--recipe", "uniform", "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "saved soup" in result.output and "3 of 3 runs" in result.output
    out = tmp_path / "tagged.csv"
    result = runner.invoke(app, ["tag", str(movies_csv), "--model", str(tmp_path / "s"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "predicted_genres" in out.read_text().splitlines()[0]
    for args in (["evaluate", "--model", str(tmp_path / "s"), "--split", "validation"], ["info", str(tmp_path / "s")],
                 ["export", str(tmp_path / "s"), str(tmp_path / "export")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["soup", *map(str, paths), "--out", str(tmp_path / "s")])
    assert again.exit_code == 4 and "--force" in again.output


def test_soup_refusals(ingredients, tmp_path):
    root, paths, other = ingredients
    copy = tmp_path / "copy"
    shutil.copytree(paths[0], copy)
    dora = tmp_path / "dora"
    shutil.copytree(paths[1], dora)
    config_file = dora / runs.ADAPTER_DIR / "adapter_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "use_dora": True}))
    ensemble = build_ensemble(paths[:2], tmp_path / "ens").path
    cases = [
        ([paths[0]], "at least two"),
        ([paths[0], copy], "hold the same weights"),
        ([paths[0], other], "another split"),
        ([paths[0], dora], "not a plain LoRA adapter"),
        ([paths[0], ensemble], "is an ensemble"),
        ([paths[0], tmp_path / "nope"], "not found"),
    ]
    for members, message in cases:
        result = runner.invoke(app, ["soup", *map(str, members), "--out", str(tmp_path / "x")])
        assert result.exit_code == 3, result.output
        assert message in result.output and "Traceback" not in result.output
        assert not (tmp_path / "x").exists()
    with pytest.raises(ModelError, match="unknown soup recipe 'best'"):
        build_soup(paths, tmp_path / "x", recipe="best")


def test_pooling_must_match_and_other_initialisations_are_said(ingredients, movies_csv, tmp_path, caplog):
    _, paths, _ = ingredients
    base = {**runs.load_run(paths[0]).config.to_dict(), "data": str(movies_csv)}
    cls = train(TrainConfig.from_dict({**base, "pooling": "cls", "lr": 3e-3}), tmp_path / "cls").path
    with pytest.raises(ModelError, match="pools the backbone's output by 'cls'"):
        build_soup([paths[0], cls], tmp_path / "x")
    seeded = train(TrainConfig.from_dict({**base, "init_seed": 7}), tmp_path / "seeded").path
    with caplog.at_level("WARNING", logger="genretag"):
        build_soup([paths[0], seeded], tmp_path / "mixed", recipe="uniform")
    assert "start from 2 initialisations" in caplog.text and "worse than each" in caplog.text


def test_members_whose_vocabularies_differ_only_in_unused_names_combine(ingredients, tmp_path):
    """A run of an older genretag saved a smaller vocabulary; it read the split's genres the same."""
    _, paths, _ = ingredients
    for kind, change, ok in (("unused", {"zzz never seen": ["Drama"]}, True), ("used", {"horror": ["Comedy"]}, False)):
        member = tmp_path / kind
        shutil.copytree(paths[1], member)
        file = member / "vocabulary.json"
        vocabulary = json.loads(file.read_text())
        vocabulary["names"].update(change)
        file.write_text(json.dumps(vocabulary))
        labels = json.loads((member / runs.LABELS_FILE).read_text())
        assert "Horror" in labels and "Comedy" in labels
        if ok:
            assert build_soup([paths[0], member], tmp_path / f"soup-{kind}", recipe="uniform").path.is_dir()
        else:
            with pytest.raises(ModelError, match="another genre vocabulary"):
                build_ensemble([paths[0], member], tmp_path / f"ens-{kind}")
    assert not np.isnan(json.loads((tmp_path / "soup-unused" / runs.METRICS_FILE).read_text())["micro_f1"])


def test_info_says_a_soup_and_its_adapter(ingredients, tmp_path):
    _, paths, _ = ingredients
    soup = build_soup(paths, tmp_path / "s", recipe="uniform")
    result = runner.invoke(app, ["info", str(soup.path)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "weights averaged (uniform) of 3 runs" in said and "r=20, alpha=20" in said
    assert not list(tmp_path.glob(".*soup-scratch"))  # the scratch folder is gone


def test_moved_backbone_folder_and_data_file_still_combine(ingredients, movies_csv, tiny_bert, tmp_path):
    """Runs name their backbone folder as it was; the same weights in another folder are the same backbone,
    and a data file that moved is given with --data (checked by its content)."""
    _, paths, _ = ingredients
    base = runs.load_run(paths[0]).config.to_dict()
    folder = tmp_path / "models" / "tiny"
    shutil.copytree(tiny_bert, folder)
    data = tmp_path / "films.csv"
    shutil.copyfile(movies_csv, data)
    moved = train(TrainConfig.from_dict({**base, "data": str(data), "backbone": str(folder), "lr": 3e-3}),
                  tmp_path / "moved").path
    assert build_soup([paths[0], moved], tmp_path / "soup", recipe="uniform").path.is_dir()
    assert build_ensemble([paths[0], moved], tmp_path / "ens").path.is_dir()
    data.rename(tmp_path / "films-renamed.csv")
    (tmp_path / "soup").rename(tmp_path / "old-soup")
    for command in ("soup", "ensemble"):
        result = runner.invoke(app, [command, str(moved), str(paths[0]), "--out", str(tmp_path / f"x-{command}")])
        assert result.exit_code == 2 and "pass --data with the path of films.csv" in result.output, result.output
        result = runner.invoke(app, [command, str(moved), str(paths[0]), "--out", str(tmp_path / f"x-{command}"),
                                     "--data", str(tmp_path / "films-renamed.csv")])
        assert result.exit_code == 0, result.output
        wrong = runner.invoke(app, [command, str(moved), str(paths[0]), "--out", str(tmp_path / f"y-{command}"),
                                    "--data", str(tmp_path / "x-soup" / "config.json")])
        assert wrong.exit_code == 2 and "is not the run's training data films.csv" in wrong.output, wrong.output


def test_an_output_holding_a_member_is_refused_before_the_work(ingredients, tmp_path):
    root, paths, _ = ingredients
    folder = tmp_path / "runs"
    shutil.copytree(paths[0], folder / "a")
    shutil.copytree(paths[1], folder / "b")
    for command in ("soup", "ensemble"):
        result = runner.invoke(app, [command, str(folder / "a"), str(folder / "b"), "--out", str(folder), "--force"])
        assert result.exit_code != 0 and "which this command reads" in result.output, result.output
        assert "saved" not in result.output and "kept" not in result.output  # refused before any member was scored


def test_a_member_without_a_recorded_score_is_tried_last(ingredients, tmp_path):
    _, paths, _ = ingredients
    unscored = tmp_path / "unscored"
    shutil.copytree(paths[1], unscored)
    metrics = json.loads((unscored / runs.METRICS_FILE).read_text())
    del metrics["micro_f1"]
    (unscored / runs.METRICS_FILE).write_text(json.dumps(metrics))
    result = runner.invoke(app, ["soup", str(unscored), str(paths[0]), "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "(validation micro-F1 alone not recorded)" in result.output
    assert json.loads((tmp_path / "s" / runs.METRICS_FILE).read_text())["soup"][-1]["val_micro_f1"] is None
