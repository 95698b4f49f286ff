"""Which predictions deserve a warning, and which differences are only the scanner's.

A warning on every scan is a warning on none. So a scan is warned about only where something
is known to move its prediction:

* **QC**: a failed or warned check, with its reason. Scanner-dependent metrics (contrast, SNR,
  the direction of the bias field) unlike the training scanner's are no warning
  (:func:`brainage.qc.rules.judge` passes such a scan): that is said once per site in the report
  (:func:`site_notes`).
* **Voxel geometry**: only a geometry that the invariance benchmark (``benchmarks/invariance.py``)
  shows to move predictions. Where the bundle carries that benchmark's result, the warning quotes
  this model's own measured shift for the matching rendition (slices several times thicker than
  wide, voxels finer or coarser than the training scans') and stays silent below
  :data:`TOLERATED_SHIFT_YEARS`; without it, the geometries that moved every model measured so
  far are warned about. The stored axis order never is: preprocessing reorients every scan, and
  no model moved on the benchmark's reordered headers.
* **Age**: a chronological or predicted age outside the training range.

Example:
    >>> geometry_warning([1.0, 1.0, 4.0], [2.0, 2.0, 2.0], None).split(":")[0]
    'slices 4 mm thick (1x1x4 mm voxels)'
    >>> inv = {"variants": {"restored_1mm": {"mean_shift_years": 0.3}}}
    >>> geometry_warning([1.0, 1.0, 1.0], [2.0, 2.0, 2.0], inv) == ""
    True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: A rendition's mean shift on the invariance benchmark above which its geometry is warned about.
TOLERATED_SHIFT_YEARS = 1.0
#: Largest over smallest voxel edge from which a scan counts as thick-sliced.
THICK_SLICE_RATIO = 2.5
#: A voxel edge this many times the training scans' (or smaller by the same factor) counts as another resolution.
RESOLUTION_RATIO = 1.5


def _rendition(voxel_mm: np.ndarray, training_mm: np.ndarray) -> tuple[str, str] | None:
    """The invariance benchmark's variants that match this geometry (a name prefix) and its description."""
    shown = "x".join(f"{v:g}" for v in voxel_mm)
    if voxel_mm.max() >= THICK_SLICE_RATIO * voxel_mm.min():
        return "thick_slices", f"slices {voxel_mm.max():g} mm thick ({shown} mm voxels)"
    ratio = np.median(voxel_mm) / np.median(training_mm)
    if ratio <= 1 / RESOLUTION_RATIO:
        return "restored_1mm", f"voxels {shown} mm, finer than the training scans' {np.median(training_mm):g} mm"
    if ratio >= RESOLUTION_RATIO:
        return "low_resolution", f"voxels {shown} mm, coarser than the training scans' {np.median(training_mm):g} mm"
    return None


def geometry_warning(voxel_mm, training_mm, invariance: dict | None) -> str:
    """The warning a scan's voxel geometry deserves with this model (``""``: none)."""
    voxel, training = np.asarray(voxel_mm, float), np.asarray(training_mm if training_mm else voxel_mm, float)
    if not np.isfinite(voxel).all():
        return ""
    match = _rendition(voxel, training)
    if match is None:
        return ""
    prefix, described = match
    if not invariance:
        cause = "thick slices" if prefix == "thick_slices" else "resolution"
        return (
            f"{described}: {cause} moved the predictions of every model measured on the invariance benchmark "
            "by years (this model's shift was not measured)"
        )
    shifts = [v["mean_shift_years"] for name, v in invariance.get("variants", {}).items() if name.startswith(prefix)]
    if not shifts:
        return ""
    worst = max(shifts, key=abs)
    if abs(worst) <= TOLERATED_SHIFT_YEARS:
        return ""
    return f"{described}: such versions of the same brains moved this model's prediction by {worst:+.1f} y on average"


def qc_warning(verdict: str, reasons: str) -> str:
    """``QC warn: <reasons>`` (or fail); nothing for a pass."""
    if verdict not in ("warn", "fail"):
        return ""
    return f"QC {verdict}: {reasons}" if reasons else f"QC {verdict}"


def site_notes(table: pd.DataFrame) -> list[str]:
    """One line per site whose scans differ from the training scanner only in scanner-dependent
    metrics: what differs and in how many scans, instead of a warning on each."""
    notes = []
    differs = table[table.scanner_differs.fillna("") != ""]
    for site, rows in differs.groupby("site"):
        metrics = sorted({m.strip() for names in rows.scanner_differs for m in names.split(",")})
        notes.append(
            f"{len(rows)} of {int((table.site == site).sum())} scans of site {site} differ from the training "
            f"scanner in {', '.join(metrics)}: a property of the scanner, not a defect of the scans"
        )
    return notes
