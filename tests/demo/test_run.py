"""The demo's index page: what its numbers mean, links to every stage's report, readable in a browser."""

import pandas as pd

from brainage.bundle.bundle import load_bundle
from brainage.demo.run import DEMO_MODEL, _index_page
from brainage.layout import DemoDir
from tests.browser import page_problems


def _demo_folder(tmp_path) -> DemoDir:
    """A demo folder holding every file the index links to (empty stand-ins: the index is under test)."""
    demo = DemoDir(tmp_path / "demo")
    run = demo.run(DEMO_MODEL)
    for path in (
        demo.ingest.summary_png,
        demo.ingest.summary_text,
        demo.preprocessed.report,
        demo.preprocessed.qc.report,
        demo.splits.fold_balance,
        run.evaluation.report,
        demo.bundle(f"{DEMO_MODEL}-fold0"),
        demo.predict.report,
        run.explain.report,
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    return demo


def _index(tmp_path) -> tuple[DemoDir, str]:
    demo = _demo_folder(tmp_path)
    metrics = {
        "n_subjects": 44,
        "age_uncorrected": {"mae": 6.52, "pearson_r": 0.925},
        "sex": {"accuracy": 0.932, "roc_auc": 0.967},
        "baselines": {"sex_volume_only": {"accuracy": 0.705}},
    }
    injected = pd.DataFrame({"participant_id": ["sub-001"], "injected_failure": ["cut_fov"]})
    predictions = pd.DataFrame({"brain_age_gap": [2.0, -4.0], "qc_verdict": ["pass", "warn"]})
    page = _index_page(
        demo, {"synth": 42.0, "preprocess": 274.0}, metrics, [], injected, pd.Series({"sub-001": "fail"}), predictions
    )
    return demo, page.read_text()


def test_the_index_says_what_its_numbers_mean_against_the_baseline_and_real_data(tmp_path):
    _, page = _index(tmp_path)
    assert "What the numbers mean" in page and "93%" in page and "70%" in page  # model vs brain volume alone
    assert "1 of 2 pass QC" in page
    # the shipped model's real-data figures, read from its file
    meta = load_bundle().meta
    assert "IXI-HH" in page and f"{meta.cv_metrics['age_uncorrected']['mae']:.2f} years" in page
    assert f"varies by {meta.invariance['within_brain_sd_years']:.1f} years" in page


def test_the_index_in_a_browser(browser, tmp_path):
    demo, _ = _index(tmp_path)
    assert page_problems(browser, demo.index) == []
