"""Verdicts: every check (:mod:`brainage.qc.checks`) on every scan, against the right yardstick.

Absolute limits need no yardstick; scanner-dependent metrics are compared with the normative
reference (:mod:`brainage.qc.reference`), joined by the site's own distribution only where the
site is large and mostly passes the absolute checks, and then a scan is flagged on them only
when it is unusual on both yardsticks. The verdict is the worst finding;
the reasons list every finding, most severe first and, within a severity, in causal order, so
the first reason (``check``) names the likely cause.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainage.qc.checks import CHECKS, SEVERITY, Z_METRICS, Finding
from brainage.qc.legend import LEGEND
from brainage.qc.reference import Reference, Stats, batch_is_trusted

CAUSAL_ORDER = {c.name: i for i, c in enumerate(CHECKS)}


#: ``outlier_score`` = severity x this + the worst |z| (capped below it): a failure always sorts
#: above every warning, a warning above every pass.
SCORE_PER_SEVERITY = 10.0


def fail_score(measured: bool = True) -> float:
    """The lowest ``outlier_score`` of a failure; one that could not be measured sorts above all."""
    return (SEVERITY["fail"] + (0 if measured else 1)) * SCORE_PER_SEVERITY


def _site_groups(m: pd.DataFrame) -> pd.Series:
    """Scans compared with each other: one site, whole heads and stripped inputs apart."""
    site = m["site"].astype(str) if "site" in m else pd.Series("all", index=m.index)
    return site + np.where(_stripped(m), "|stripped", "")


def _stripped(m: pd.DataFrame) -> pd.Series:
    if "input_skull_stripped" not in m:
        return pd.Series(False, index=m.index)
    return m["input_skull_stripped"].fillna(False).astype(bool)


def reference_z(m: pd.DataFrame, reference: Reference) -> pd.DataFrame:
    """Robust z of every z-judged metric against the reference (NaN where it has no statistics)."""
    return pd.DataFrame(
        {
            k: reference.stats[k].z(m[k].astype(float), floor) if k in reference.stats and k in m else np.nan
            for k, floor in Z_METRICS.items()
        },
        index=m.index,
    )


def _findings(m: pd.DataFrame, z: pd.DataFrame, ranges: dict) -> pd.Series:
    """Every scan's findings, most severe first, then in causal order. ``z`` may be all-NaN
    (absolute checks only)."""
    stripped = _stripped(m)
    out = {}
    for i in m.index:
        values, zi = m.loc[i].to_dict(), z.loc[i].to_dict()
        found = [f for c in CHECKS if (f := c.judge(values, zi, bool(stripped[i]), ranges))]
        out[i] = sorted(found, key=lambda f: (-SEVERITY[f.level], CAUSAL_ORDER[f.check]))
    return pd.Series(out, dtype=object)


def _worst(findings: list[Finding]) -> str:
    return findings[0].level if findings else "pass"


def combined_z(m: pd.DataFrame, z_ref: pd.DataFrame, trusted: pd.Series) -> pd.DataFrame:
    """Where a scan's site is trusted, each metric's z on whichever yardstick (reference or site)
    finds it less unusual, so only scans unusual on both are flagged."""
    z = z_ref.copy()
    groups = _site_groups(m)
    for group in groups[trusted].unique():
        idx = groups.index[groups == group]
        for metric, floor in Z_METRICS.items():
            if metric not in m or m.loc[idx, metric].notna().sum() < 3:
                continue
            z_site = Stats.of(m.loc[idx, metric]).z(m.loc[idx, metric].astype(float), floor)
            ref = z_ref.loc[idx, metric]
            z.loc[idx, metric] = np.where(ref.isna() | (z_site.abs() < ref.abs()), z_site, ref)
    return z


def judge(metrics: pd.DataFrame, reference: Reference | None = None) -> pd.DataFrame:
    """Verdict, reasons, headline check, yardstick and robust z-scores of every scan.

    Example:
        >>> row = pd.DataFrame([{"subject_id": "a", "site": "x", "noise_ratio": 0.2, "below_brainstem_ml": 0.0}])
        >>> judge(row).loc[0, ["verdict", "check"]].tolist()
        ['fail', 'noise']
    """
    reference = reference or Reference.load()
    m = metrics.reset_index(drop=True)
    ranges = {k: f"clean scans {reference.clean_range(k)}" for k in Z_METRICS if k in reference.stats}
    z_ref = reference_z(m, reference)
    absolute = _findings(m, z_ref * np.nan, ranges).map(_worst)
    groups = _site_groups(m)
    trusted_groups = {
        g
        for g in groups.unique()
        if batch_is_trusted(int((groups == g).sum()), int(((groups == g) & (absolute == "pass")).sum()))
    }
    trusted = groups.isin(trusted_groups)
    z = combined_z(m, z_ref, trusted) if trusted.any() else z_ref
    findings = _findings(m, z, ranges)
    m["verdict"] = findings.map(_worst)
    m["check"] = findings.map(lambda f: f[0].check if f else "")
    m["checks"] = findings.map(lambda f: " ".join(dict.fromkeys(x.check for x in f)))
    m["reasons"] = findings.map(lambda f: "; ".join(f"{x.level}: {x.text}" for x in f))
    # Only the scanner-dependent (reference-judged) metrics are unusual (named here; "" otherwise):
    # the scanner differs from IXI-HH's, which says nothing about this scan (predict reports it
    # once per site, not per scan).
    m["scanner_differs"] = findings.map(
        lambda f: (
            ", ".join(dict.fromkeys(LEGEND[x.metric].label if x.metric in LEGEND else x.metric for x in f))
            if f and all(x.metric in Z_METRICS for x in f)
            else ""
        )
    )
    m["yardstick"] = np.where(trusted, "reference and site", "reference")
    for metric in Z_METRICS:
        m[f"z_{metric}"] = z[metric]
    bad_z = z.abs().max(axis=1).fillna(0)
    # Sort key: failures first, then warnings, then by how far out the worst metric is.
    m["outlier_score"] = m["verdict"].map(SEVERITY) * SCORE_PER_SEVERITY + np.minimum(bad_z, SCORE_PER_SEVERITY - 0.01)
    return m
