"""The README's walk-through runs as written, against a copy of examples/.

Every ``genretag ...`` line between the ``<!-- walkthrough:start -->`` and
``<!-- walkthrough:end -->`` markers runs through the CLI in a temporary folder holding a
copy of ``examples/``, then every ``python`` block runs in a fresh interpreter there.

One substitution keeps it under two minutes on a CPU: ``train`` lines get ``--epochs 1``
appended (a typed option wins over ``examples/run.toml``). The backbone is the real
offline ``minilm`` the walk-through names, not a tiny fixture. ``pip install`` lines are
skipped: the test runs where genretag is already installed. Any other shell command fails
the test, so the walk-through stays pasteable and tested.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genretag.cli import app

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- walkthrough:start -->", "<!-- walkthrough:end -->"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)
TEST_SUBSTITUTIONS = {"train": ["--epochs", "1"]}


def walkthrough_text() -> str:
    """The marked section of README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    if START in text and END in text:
        return text.split(START, 1)[1].split(END, 1)[0]
    pytest.fail(f"no walk-through between {START} and {END} in README.md")


def walkthrough_blocks() -> tuple[list[list[str]], list[str]]:
    """``(shell commands as argv lists, python blocks)`` of the walk-through, in order."""
    commands, python = [], []
    for lang, body in FENCE.findall(walkthrough_text()):
        if lang in ("bash", "sh", "shell", "console"):
            for line in body.splitlines():
                argv = shlex.split(line.removeprefix("$ "), comments=True)
                if argv:
                    commands.append(argv)
        elif lang == "python":
            python.append(body)
    return commands, python


def test_walkthrough_is_well_formed():
    commands, python = walkthrough_blocks()
    programs = {argv[0] for argv in commands}
    assert programs <= {"pip", "genretag"}, f"only pip and genretag lines can be tested: {programs}"
    names = [argv[1] for argv in commands if argv[0] == "genretag" and not argv[1].startswith("-")]
    assert {"train", "info", "tag", "evaluate", "export"} <= set(names)
    assert python


@pytest.mark.slow
def test_walkthrough_runs(tmp_path, monkeypatch):
    commands, python = walkthrough_blocks()
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for argv in commands:
        if argv[0] == "pip":
            continue
        args = argv[1:] + TEST_SUBSTITUTIONS.get(argv[1], [])
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{shlex.join(argv)} failed ({result.exit_code}):\n{result.output[-2000:]}"
        if "--json" in args and args[args.index("--json") + 1 :][:1] in ([], ["--force"]):
            json.loads(result.stdout)  # --json without a file argument prints JSON on stdout

    saved = json.loads((tmp_path / "runs" / "demo" / "config.json").read_text())
    assert saved["epochs"] == 1 and saved["backbone"] == "minilm"
    assert saved["data"] == "movies.csv"  # the run names its data; split.json says where it is from the run
    split = json.loads((tmp_path / "runs" / "demo" / "split.json").read_text())
    assert (tmp_path / "runs" / "demo" / split["data_relative"]).resolve() == (tmp_path / "examples" / "movies.csv").resolve()
    for produced in ("to_tag.tagged.csv", "report.html", "exported/demo/config.json", "exported/demo-adapter/adapter_config.json"):
        assert (tmp_path / produced).is_file(), produced

    for code in python:
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip()
