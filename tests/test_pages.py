"""Every HTML page a stage writes, opened in a real browser at 1400 px (``tests/browser.py``):
no horizontal overflow, no image that fails to load, no broken link, no unreadable text.

``BRAINAGE_DEMO=results/demo pytest tests/test_pages.py`` also checks every page of a finished
demo (its index and each page it links), which is too slow to produce inside the test suite.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brainage.cli import main as brainage
from brainage.evaluation.report import evaluate
from brainage.layout import PredictDir
from brainage.models.network import ModelConfig
from brainage.training.config import RunOptions, TrainConfig
from brainage.training.cv import train_cv
from tests.browser import page_problems


def test_the_evaluation_page(browser, tiny_run, tmp_path):
    config = TrainConfig(model=ModelConfig(name="sfcn", width=0.25, dropout=0.0), max_epochs=1, batch_size=4)
    train_cv(tiny_run / "cache" / "2mm", tiny_run / "splits", tmp_path / "run", config, RunOptions(num_workers=0))
    evaluate(tmp_path / "run")
    assert page_problems(browser, tmp_path / "run" / "evaluation" / "index.html") == []


def test_the_qc_report(browser, qc_result):
    _, qc_dir, _ = qc_result
    assert page_problems(browser, qc_dir / "index.html") == []


def test_the_predict_and_explain_pages(browser, predicted_synth, tiny_bundle):
    folder = PredictDir(predicted_synth)
    if not folder.explain.report.is_file():
        assert brainage(["explain", str(predicted_synth), "--model", str(tiny_bundle[0]), "--subjects", "1"]) == 0
    assert page_problems(browser, folder.report) + page_problems(browser, folder.explain.report) == []


def test_the_predict_page_of_the_shipped_model(browser, predicted_shipped):
    """The shipped model's long description and every column of its table fit a 1400 px window."""
    out, table = predicted_shipped
    assert table.predicted_age.notna().all()
    assert page_problems(browser, PredictDir(out).report) == []


def test_a_page_with_defects_is_caught(browser, tmp_path):
    """The checker itself can fail: each defect it looks for, on one page."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<html><body><div style="width:2000px">wide</div><img src="missing.png">'
        '<a href="nowhere.html">x</a><span style="font-size:5px">tiny</span></body></html>'
    )
    problems = page_problems(browser, page)
    assert len(problems) == 4, problems


DEMO = os.environ.get("BRAINAGE_DEMO")


@pytest.mark.skipif(not DEMO, reason="set BRAINAGE_DEMO to a finished `brainage demo` folder to check its pages")
def test_every_page_of_a_finished_demo(browser):
    from tests.browser import linked_pages

    index = Path(DEMO) / "index.html"
    pages = [index, *linked_pages(index)]
    names = {p.parent.name for p in pages[1:]}
    assert {"qc", "evaluation", "predict", "explain"} <= names, pages
    assert [p for page in pages for p in page_problems(browser, page)] == []
