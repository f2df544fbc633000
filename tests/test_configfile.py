"""`train --config run.toml`: checked file values, typed options win, the run saves the merge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genretag.cli import app
from genretag.configfile import load_config_file
from genretag.errors import DataError

runner = CliRunner()


def _toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_values_are_typed_and_paths_relative_to_the_file(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "backbones" / "tiny").mkdir(parents=True)
    file = _toml(folder / "run.toml", '''
data = "movies.csv"
backbone = "backbones/tiny"
teacher = "runs/ensemble"
genre_map = "aliases.toml"
text_cols = "title, overview"
split = [0.8, 0.1, 0.1]
lr = 1
epochs = 3
oversample = true
head_dropout = 0.2
''')
    monkeypatch.chdir(tmp_path)  # paths must not depend on where the command runs
    values = load_config_file("conf/run.toml")
    assert values["data"] == str(folder.resolve() / "movies.csv")
    assert values["backbone"] == str(folder.resolve() / "backbones" / "tiny")
    assert values["teacher"] == str(folder.resolve() / "runs" / "ensemble")
    assert values["genre_map"] == str(folder.resolve() / "aliases.toml")
    assert values["text_cols"] == ["title", "overview"]
    assert values["split"] == (0.8, 0.1, 0.1)
    assert values["lr"] == 1.0 and isinstance(values["lr"], float)
    assert values["epochs"] == 3 and values["oversample"] is True and values["head_dropout"] == 0.2
    assert load_config_file(_toml(file, 'backbone = "minilm"'))["backbone"] == "minilm"  # a preset stays a name


@pytest.mark.parametrize(
    "text, message",
    [
        ("learning_rate = 0.001", "unknown key 'learning_rate'"),
        ("epoch = 2", "did you mean 'epochs'?"),
        ('epochs = "four"', "'epochs' must be a whole number"),
        ("epochs = 2.5", "'epochs' must be a whole number"),
        ("oversample = 1", "'oversample' must be true or false"),
        ('split = ["a", "b", "c"]', "'split' must be a list of numbers"),
        ("text_cols = [1, 2]", "'text_cols' must be a list of strings"),
        ("epochs = ", "not valid TOML"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(DataError, match=message.replace("?", r"\?")) as info:
        load_config_file(_toml(tmp_path / "run.toml", text))
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_config_file(tmp_path / "nope.toml")


def test_typed_options_override_the_file_and_the_run_saves_the_merge(tmp_path, movies_csv, tiny_bert):
    file = _toml(tmp_path / "run.toml", f'''
data = "{movies_csv.as_posix()}"
backbone = "{tiny_bert.as_posix()}"
epochs = 3
lr = 0.001
batch_size = 32
max_length = 32
head_dropout = 0.2
thresholds = "fixed"
oversample = true
''')
    out = tmp_path / "run"
    # --lr is typed with its default value: typed still beats the file; so does an "off" flag.
    result = runner.invoke(app, ["train", "--config", str(file), "--epochs", "1", "--lr", "0.0005", "--no-oversample",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "config.json").read_text())
    assert saved["epochs"] == 1 and saved["lr"] == 0.0005 and saved["oversample"] is False  # typed
    assert saved["batch_size"] == 32 and saved["head_dropout"] == 0.2 and saved["thresholds"] == "fixed"  # file
    assert saved["max_length"] == 32 and saved["data"] == movies_csv.name and saved["backbone"] == str(tiny_bert)
    split = json.loads((out / "split.json").read_text())
    assert (out / split["data_relative"]).resolve() == movies_csv.resolve()  # the file's path, relative to the run
    assert saved["seed"] == 42  # neither: the default


def test_train_cli_errors(tmp_path, movies_csv):
    no_data = runner.invoke(app, ["train", "--out", str(tmp_path / "a")])
    assert no_data.exit_code == 2 and "no training data" in no_data.output
    unknown = runner.invoke(app, ["train", "--config", str(_toml(tmp_path / "a.toml", "batch = 8"))])
    assert unknown.exit_code == 2 and "unknown key 'batch'" in unknown.output
    invalid = runner.invoke(app, ["train", "--config", str(_toml(tmp_path / "b.toml", f'data = "{movies_csv.as_posix()}"\nlr = -1'))])
    assert invalid.exit_code == 2 and "b.toml: 'lr' must be a positive finite number, got -1.0" in invalid.output
    for result in (no_data, unknown, invalid):
        assert "Traceback" not in result.output
    assert not (tmp_path / "a").exists()


def test_merging_is_core_code_told_which_settings_were_given(tmp_path):
    from genretag.config import TrainConfig
    from genretag.configfile import apply_config_file

    file = _toml(tmp_path / "run.toml", "epochs = 3\nlr = 0.001\n")
    merged = apply_config_file(file, TrainConfig(epochs=1, lr=5e-4), given={"epochs"})
    assert merged.epochs == 1 and merged.lr == 0.001  # given > file > default
    assert apply_config_file(None, TrainConfig(epochs=2)).epochs == 2
    with pytest.raises(DataError, match=r"run.toml: 'lr' must be a positive finite number, got -1.0$"):
        apply_config_file(_toml(tmp_path / "run.toml", "lr = -1"), TrainConfig())
    code = "import sys, genretag.configfile; assert not {'typer', 'click'} & set(sys.modules), 'a CLI library imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
