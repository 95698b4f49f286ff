"""Verdict rules: which metric values make a subject ``warn`` or ``fail``, and why.

Absolute limits catch gross failures whatever the cohort; robust z-scores within site (median
and MAD, so the failures themselves do not shift the reference) catch scans that are unusual
for their scanner. Limits were set on the synthetic cohort and on the even-numbered IXI-HH
subjects only; the QC benchmark reports on the odd-numbered ones (see benchmarks/qc.py).
``wm_bias_range`` limits: even-numbered clean IXI-HH scans span 0.19-0.44 (mean 0.30, sd 0.06).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SEVERITY = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Limit:
    """``metric`` beyond ``warn``/``fail`` (above when ``high`` else below) triggers ``message``."""

    metric: str
    warn: float
    fail: float
    high: bool
    message: str

    def judge(self, value: float) -> str:
        if value is None or np.isnan(value):
            return "pass"
        beyond = (lambda t: value > t) if self.high else (lambda t: value < t)
        return "fail" if beyond(self.fail) else "warn" if beyond(self.warn) else "pass"


ABSOLUTE_LIMITS = (
    Limit("border_contact_mm2", 150.0, 600.0, True, "brain mask touches the edge of the field of view ({v:.0f} mm2): brain cut off?"),
    Limit("below_brainstem_ml", 2.0, 5.0, True, "{v:.1f} ml of mask hangs below the brainstem (tissue left off the medulla)"),
    Limit("outside_template_ml", 25.0, 60.0, True, "{v:.0f} ml of mask lies outside the brain (skull, scalp or eyes left in)"),
    Limit("holes_ml", 2.0, 10.0, True, "brain mask has {v:.1f} ml of holes"),
    Limit("n_components", 1.5, 3.5, True, "brain mask is in {v:.0f} pieces"),
    Limit("dice_template", 0.90, 0.85, False, "registration to MNI poor: mask Dice with template {v:.3f}"),
    Limit("ncc_template", 0.40, 0.30, False, "registration to MNI poor: correlation with template {v:.2f}"),
    Limit("rotation_deg", 40.0, 60.0, True, "head rotated {v:.0f} deg from MNI: wrong orientation in the header?"),
    Limit("mirrored", 0.5, 0.5, True, "registration needed a mirror flip: left-right orientation wrong in the header?"),
    Limit("inu_range", 0.8, 1.2, True, "strong intensity non-uniformity (bias field range {v:.2f} of median)"),
    Limit("wm_bias_range", 0.5, 0.75, True, "strong intensity gradient across white matter (log range {v:.2f})"),
    Limit("brain_volume_ml", 900.0, 700.0, False, "brain volume {v:.0f} ml is implausibly small"),
    Limit("brain_volume_ml_high", 2000.0, 2300.0, True, "brain volume {v:.0f} ml is implausibly large"),
)

#: Metrics compared with the rest of their site: (metric, sign, floor). ``sign`` says which tail is
#: bad (+1 high, -1 low, 0 both); ``floor`` is the smallest spread used for the z-score, so a
#: site whose scans are nearly identical (a phantom, a synthetic cohort) does not turn tiny
#: differences into huge z.
SITE_Z_METRICS = (
    ("snr_total", -1, 0.5), ("snrd_total", -1, 2.0), ("cnr", -1, 0.1), ("cjv", +1, 0.02), ("efc", +1, 0.01),
    ("fber", -1, 100.0), ("wm2max", 0, 0.02), ("air_fraction_bright", +1, 0.002), ("brain_volume_ml", 0, 50.0),
    ("inu_range", +1, 0.03), ("wm_bias_range", +1, 0.03),
)
Z_WARN, Z_FAIL = 4.0, 6.0
#: Robust z needs a reference: sites with fewer subjects are compared with the whole cohort.
MIN_SITE_SIZE = 8


def robust_z(values: pd.Series, groups: pd.Series, floor: float = 0.0) -> pd.Series:
    """(x - median) / max(1.4826 * MAD, floor) within each group (whole cohort for small groups)."""
    out = pd.Series(np.nan, index=values.index)
    sizes = groups.map(groups.value_counts())
    small = sizes < MIN_SITE_SIZE
    for key, idx in [(g, values.index[(groups == g) & ~small]) for g in groups[~small].unique()] + [("pooled", values.index[small])]:
        if len(idx) == 0:
            continue
        ref = values if key == "pooled" else values.loc[idx]
        if ref.isna().all():  # e.g. air-based metrics of already-stripped inputs
            continue
        med = np.nanmedian(ref)
        mad = 1.4826 * np.nanmedian(np.abs(ref - med))
        scale = max(mad, floor, 1e-9)
        out.loc[idx] = (values.loc[idx] - med) / scale
    return out


def judge(metrics: pd.DataFrame) -> pd.DataFrame:
    """Verdict, human-readable reasons and a site-aware outlier score per subject."""
    m = metrics.copy()
    m["brain_volume_ml_high"] = m.get("brain_volume_ml")
    site = m["site"].astype(str) if "site" in m else pd.Series("all", index=m.index)
    if "input_skull_stripped" in m:
        # Stripped inputs lack scalp and air, which shifts intensity statistics by construction:
        # compare them with other stripped inputs of their site, not with whole heads.
        site = site + np.where(m["input_skull_stripped"].fillna(False).astype(bool), "|stripped", "")
    verdicts = pd.Series("pass", index=m.index)
    reasons = pd.Series([[] for _ in range(len(m))], index=m.index)
    for limit in ABSOLUTE_LIMITS:
        if limit.metric not in m:
            continue
        for i, v in m[limit.metric].items():
            level = limit.judge(float(v) if pd.notna(v) else np.nan)
            if level != "pass":
                reasons[i].append(f"{level}: " + limit.message.format(v=float(v)))
                if SEVERITY[level] > SEVERITY[verdicts[i]]:
                    verdicts[i] = level
    zcols = []
    for metric, sign, floor in SITE_Z_METRICS:
        if metric not in m or m[metric].isna().all():
            continue
        z = robust_z(m[metric].astype(float), site, floor)
        m[f"z_{metric}"] = z
        zcols.append(f"z_{metric}")
        bad = z if sign > 0 else -z if sign < 0 else z.abs()
        for i, b in bad.items():
            if pd.isna(b) or b <= Z_WARN:
                continue
            level = "fail" if b > Z_FAIL else "warn"
            direction = "high" if z[i] > 0 else "low"
            reasons[i].append(f"{level}: {metric} unusually {direction} for its site (robust z {z[i]:+.1f})")
            if SEVERITY[level] > SEVERITY[verdicts[i]]:
                verdicts[i] = level
    m = m.drop(columns=["brain_volume_ml_high"])
    m["verdict"] = verdicts
    m["reasons"] = reasons.map(lambda r: "; ".join(r))
    zmax = m[zcols].abs().max(axis=1).fillna(0) if zcols else 0
    # Sort key: failures first, then warnings, then by how far out the worst metric is.
    m["outlier_score"] = m["verdict"].map(SEVERITY) * 10 + np.minimum(zmax, 9.99)
    return m
