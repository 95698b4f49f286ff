"""The predict page, rendered from its template: what a scan's name or warning says is shown as
text, never run as markup."""

import numpy as np
import pandas as pd

from brainage.bundle.bundle import load_bundle
from brainage.layout import PredictDir
from brainage.predict.report import write_report


def test_names_and_warnings_are_text_and_every_age_has_its_interval(tmp_path):
    hostile = '<script>alert("x")</script>'
    table = pd.DataFrame(
        {
            "subject_id": [hostile, "sub-02"],
            "site": ["a", "a"],
            "age": [61.0, np.nan],
            "predicted_age": [58.3, 70.1],
            "predicted_age_low": [45.0, 57.0],
            "predicted_age_high": [72.0, 84.0],
            "brain_age_gap": [-2.7, np.nan],
            "corrected_age": [60.2, np.nan],
            "corrected_age_low": [48.0, np.nan],
            "corrected_age_high": [71.0, np.nan],
            "corrected_gap": [-0.8, np.nan],
            "p_male": [0.8, 0.3],
            "predicted_sex": ["M", "F"],
            "qc_verdict": ["pass", "warn"],
            "warnings": ["", "<b>ghosting</b> 0.05"],
            "scanner_differs": ["SNR", ""],
        }
    )
    out = PredictDir(tmp_path / "out")
    out.root.mkdir()
    page = write_report(table, load_bundle().meta, out).read_text()
    assert hostile not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "<b>ghosting</b>" not in page and "&lt;b&gt;ghosting&lt;/b&gt; 0.05" in page
    assert '58.3 <span class="note">(45 to 72)</span>' in page and '60.2 <span class="note">(48 to 71)</span>' in page
    assert "1 of 2 scans of site a differ from the training scanner in SNR" in page
    assert page.count("<tr>") == 3  # the headings and one row per scan
