"""The HTML report: every section, self-contained, hostile text escaped, templates found."""

from __future__ import annotations

import copy
import json
import re
import shutil

import pytest
from conftest import synthetic_movies, write_csv

from genretag.config import TrainConfig
from genretag.errors import OutputExistsError
from genretag.evaluation import evaluate
from genretag.report import SECTION_IDS, TEMPLATE, environment, render_report, template_dirs, write_report
from genretag.runs import THRESHOLDS_FILE, load_run
from genretag.training import train

# Cells are read with their HTML tags removed (`clean_cell`), once: these become
# "<script>alert(1)</script>" and '"><img src=x onerror=alert(2)>' after that, and the
# report must still show them as text.
HOSTILE_TITLE = "<scr<script>ipt>alert(1)</scr</script>ipt>"
HOSTILE_GENRE = "Western<3>"  # markup in a genre cell is stripped (a scraped link); "<3>" is no tag: text
HOSTILE_TEXT = '"><im<b>g src=x onerror=alert(2)>'


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, tiny_qwen):
    """A tiny run trained on movies whose titles, synopses and a genre name are markup."""
    root = tmp_path_factory.mktemp("report")
    rows = synthetic_movies(120, seed=3)
    for i, row in enumerate(rows):
        row["title"] = HOSTILE_TITLE if i % 2 else f"{HOSTILE_TITLE} {i}"
        row["overview"] = f"{row['overview']} {HOSTILE_TEXT}"
        row["genres"] = row["genres"].replace("Western", HOSTILE_GENRE)
    data = write_csv(root / "hostile.csv", rows)
    out = root / "run"
    train(TrainConfig(data=str(data), backbone=str(tiny_qwen), epochs=1, batch_size=16, eval_batch_size=32), out)
    return out


@pytest.fixture(scope="module")
def results(hostile_run):
    return evaluate(load_run(hostile_run, device="cpu"))


@pytest.fixture(scope="module")
def html(results):
    return render_report(results)


def test_every_section_is_there(html, results):
    for section in SECTION_IDS:
        assert f'<section id="{section}"' in html, section
    assert html.count("<svg") == 6  # per-genre F1, confusion, heat map, PR, threshold, genres per movie
    head = html[html.index('<section id="header"'):html.index('<section id="summary"')]
    for text in (results["model"]["path"], results["model"]["backbone"], results["data"]["fingerprint"][:16],
                 results["data"]["path"], results["genretag_version"], results["date"], "test"):
        assert text in head
    assert f"<dd>{results['data']['rows']}" in head


def test_per_genre_table_is_sortable(html, results):
    table = html[html.index('id="genre-table"'):html.index("</table>", html.index('id="genre-table"'))]
    assert table.count("<tr>") == len(results["labels"]) + 1
    assert "Sort by F1" in html and "Sort by support" in html and "data-sort-col" in html


def test_hostile_text_is_escaped(html, results):
    assert HOSTILE_GENRE in results["labels"]  # the markup really reached the model's labels
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text in the worst-mistakes / movies tables
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html  # synopsis in the worst mistakes
    assert HOSTILE_GENRE not in html
    assert "Western&lt;3&gt;" in html  # genre name in tables and in the SVG figures
    # Only the report's own sorting script is a script.
    assert html.count("<script>") == 1


def test_self_contained(html):
    # No element loads anything: no external src/href, CSS url() or @import, no link/iframe.
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", html, re.I)
    assert "@import" not in html
    assert not re.search(r"<(?:link|iframe|object|embed|img|audio|video|source)\b", html, re.I)
    # The only http(s) strings left are XML namespace names of the inline SVGs (never fetched).
    leftovers = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert leftovers <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, leftovers


def test_tuned_thresholds_side_by_side(hostile_run, tmp_path):
    copy_dir = tmp_path / "tuned"
    shutil.copytree(hostile_run, copy_dir)
    labels = json.loads((copy_dir / "labels.json").read_text())
    (copy_dir / THRESHOLDS_FILE).write_text(json.dumps({g: 0.35 for g in labels}))
    page = render_report(evaluate(load_run(copy_dir, device="cpu"), data=hostile_run.parent / "hostile.csv", baseline=False))
    assert "Model, run's rule" in page and "F1 @run" in page
    assert "No baseline" in page
    for section in SECTION_IDS:
        assert f'<section id="{section}"' in page


def test_plain_run_shows_one_rule(hostile_run, tmp_path):
    # Thresholds all 0.5 and no at-least-one rule: the run's rule is the plain 0.5.
    copy_dir = tmp_path / "plain"
    shutil.copytree(hostile_run, copy_dir)
    labels = json.loads((copy_dir / "labels.json").read_text())
    (copy_dir / THRESHOLDS_FILE).write_text(json.dumps({g: 0.5 for g in labels}))
    config = json.loads((copy_dir / "config.json").read_text())
    config.update(at_least_one=False, max_genres=None, thresholds="fixed", threshold=0.5)
    (copy_dir / "config.json").write_text(json.dumps(config))
    results = evaluate(load_run(copy_dir, device="cpu"), data=hostile_run.parent / "hostile.csv")
    assert results["decision"]["differs_from_fixed"] is False
    assert results["scores"]["at_0.5"] == results["scores"]["at_run_thresholds"]
    page = render_report(results)
    assert "Model, run's rule" not in page and "F1 @run" not in page
    assert "Baseline at 0.5" in page and "Baseline, own thresholds" not in page and "Baseline, run's rule" not in page


def test_renders_without_baseline_titles_or_known_genres(results):
    changed = copy.deepcopy(results)
    changed["baseline"] = {"available": False, "reason": "the run's training data x.csv is not on this machine"}
    changed["unknown_genres"] = {"genres": {"Musical": 4, "<b>Noir</b>": 1}, "rows_left_out": 2}
    for movie in changed["movies"]:
        movie["title"] = f"data row {movie['row_id']}"
    page = render_report(changed)
    assert "x.csv is not on this machine" in page
    assert "Musical" in page and "&lt;b&gt;Noir&lt;/b&gt;" in page
    assert "Baseline at 0.5" not in page


def test_write_report_is_atomic_and_refuses_overwrite(results, tmp_path):
    target = tmp_path / "report.html"
    write_report(results, target)
    first = target.read_text(encoding="utf-8")
    assert first.startswith("<!DOCTYPE html>") and first.rstrip().endswith("</html>")
    with pytest.raises(OutputExistsError):
        write_report(results, target)
    write_report(results, target, force=True)
    assert not list(tmp_path.glob(".*partial"))


def test_templates_found_in_the_repository():
    dirs = template_dirs()
    assert dirs[0].name == "templates" and dirs[0].parent.name == "genretag"  # installed wheel first
    template = environment().get_template(TEMPLATE)
    assert template.filename.endswith(TEMPLATE)
    assert environment().autoescape is True
