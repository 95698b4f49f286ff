"""The evaluation page writes counts as whole numbers."""

import pandas as pd

from brainage.evaluation.report import _with_counts


def test_counts_are_whole_numbers_on_the_page():
    table = pd.DataFrame(
        {
            "task": ["sex", "age"],
            "n": [180.0, 180.0],
            "MAE (y)": [None, 6.1234],
            "F called F": [82.0, None],
            "M called M": [77.0, None],
        }
    )
    page = _with_counts(table).to_html(index=False, na_rep="", float_format=lambda v: f"{v:.3f}")
    assert "<td>82</td>" in page and "<td>180</td>" in page and "82.000" not in page and "6.123" in page
    assert "NA" not in page  # a count that does not apply (age rows) is blank
