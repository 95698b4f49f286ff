"""Warnings only where something is known to move a prediction."""

import pandas as pd
import pytest

from brainage.predict.warnings import geometry_warning, qc_warning, site_notes

IXI = [2.0, 2.0, 2.0]


@pytest.mark.parametrize(
    "voxel, expected",
    [
        ([2.0, 2.0, 2.0], ""),
        ([1.8, 1.8, 2.2], ""),
        ([1.0, 1.0, 4.0], "slices 4 mm thick"),
        ([1.0, 1.0, 1.0], "finer than the training scans' 2 mm"),
        ([3.0, 3.0, 3.0], "coarser than the training scans' 2 mm"),
    ],
)
def test_geometry_without_a_measured_model(voxel, expected):
    warning = geometry_warning(voxel, IXI, None)
    assert (expected in warning and "not measured" in warning) if expected else warning == ""


def test_geometry_quotes_the_models_own_measured_shift_and_tolerates_small_ones():
    invariance = {
        "variants": {
            "restored_1mm": {"mean_shift_years": 0.4},
            "thick_slices_left-right": {"mean_shift_years": 0.8},
            "thick_slices_top-bottom": {"mean_shift_years": -2.6},
            "low_resolution": {"mean_shift_years": 3.1},
        }
    }
    assert geometry_warning([1.0, 1.0, 1.0], IXI, invariance) == ""
    assert "by -2.6 y on average" in geometry_warning([1.0, 4.0, 1.0], IXI, invariance)
    assert "by +3.1 y" in geometry_warning([3.0, 3.0, 3.0], IXI, invariance)
    assert geometry_warning([float("nan")] * 3, IXI, invariance) == ""


def test_a_scanner_that_differs_is_said_once_per_site_not_per_scan():
    assert qc_warning("warn", "warn: noisy image") == "QC warn: warn: noisy image"
    assert qc_warning("fail", "fail: brain cut off") == "QC fail: fail: brain cut off"
    assert qc_warning("pass", "") == ""
    table = pd.DataFrame(
        {
            "site": ["A", "A", "A", "B"],
            "qc_verdict": ["pass", "warn", "pass", "warn"],
            "scanner_differs": ["CNR, CJV", "CNR", "", ""],
        }
    )
    assert site_notes(table) == [
        "2 of 3 scans of site A differ from the training scanner in CJV, CNR: a property of "
        "the scanner, not a defect of the scans"
    ]
