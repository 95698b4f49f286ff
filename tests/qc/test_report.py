"""The QC page's legend states the limits the checks use, so it cannot contradict a verdict."""

import numpy as np

from brainage.qc.checks import CHECKS
from brainage.qc.legend import LEGEND, show
from brainage.qc.reference import Reference
from brainage.qc.report import legend_rows


def test_the_legend_shows_every_limit_the_checks_use():
    page = " | ".join(row["limits"] for row in legend_rows(list(LEGEND), Reference.load()))
    for check in CHECKS:
        for s in check.signals:
            if s.kind == "value":
                side = "above" if s.bad == "high" else "below"
                assert f"warn {side} {show(s.metric, s.warn)}" in page, s.metric
                if np.isfinite(s.fail):
                    assert f"fail {side} {show(s.metric, s.fail)}" in page, s.metric
    assert "above 0 =" not in page  # the old legend said the orientation tests flag above 0; they flag above 0.02
