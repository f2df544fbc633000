"""The Jinja2 templates in the top-level templates/ reach a built wheel and are found from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("build")
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    wheels = list(out.glob("genretag-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_contains_the_templates(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    templates = sorted(p.name for p in (ROOT / "templates").glob("*.j2"))
    assert templates, "no templates in the repository's templates/"
    for name in templates:
        assert f"genretag/templates/{name}" in names
    assert "genretag/report.py" in names


def test_wheel_ships_every_module_and_subpackage(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "genretag").rglob("*.py")
                     if "__pycache__" not in p.parts)
    assert "genretag/data/__init__.py" in modules and "genretag/tuning/__init__.py" in modules
    assert [m for m in modules if m not in names] == []


def test_report_finds_templates_from_an_unpacked_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import genretag, genretag.report as r;"
        "t = r.environment().get_template(r.TEMPLATE);"
        "print(genretag.__file__); print(t.filename)"
    )
    # A clean interpreter in another folder, so the editable checkout is not picked up first.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code, str(site)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    package_file, template_file = proc.stdout.split()
    assert Path(package_file).resolve().is_relative_to(site.resolve())
    assert Path(template_file).resolve() == (site / "genretag" / "templates" / "report.html.j2").resolve()


def test_wheel_ships_the_default_model(wheel):
    from genretag.rundir import ENSEMBLE_FILE, ENSEMBLE_REQUIRED_FILES, REQUIRED_FILES

    names = set(zipfile.ZipFile(wheel).namelist())
    root = "genretag/default_model"
    if f"{root}/{ENSEMBLE_FILE}" not in names:  # one model: a complete run directory
        for name in (*REQUIRED_FILES, "thresholds.json", "split.json"):
            assert f"{root}/{name}" in names
        return
    for name in ENSEMBLE_REQUIRED_FILES:
        assert f"{root}/{name}" in names
    members = json.loads(zipfile.ZipFile(wheel).read(f"{root}/{ENSEMBLE_FILE}"))["members"]
    assert len(members) >= 2
    for member in members:  # every member a complete run
        for name in REQUIRED_FILES:
            assert f"{root}/{member}/{name}" in names


def test_wheel_ships_the_genre_vocabulary(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / "genretag" / "vocabulary.toml").is_file()
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from genretag.vocabulary import Vocabulary, VOCABULARY_TOML;"
            "print(VOCABULARY_TOML); print(Vocabulary.bundled().resolve('Sci-Fi')[0])")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code, str(site)], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    toml_path, name = proc.stdout.splitlines()
    assert Path(toml_path).resolve().is_relative_to(site.resolve()) and name == "Science Fiction"
