"""Verdicts: every check (:mod:`brainage.qc.checks`) on every scan, against the right yardstick.

Absolute limits need no yardstick and are the same on every scanner. Scanner-dependent metrics
(contrast, SNR, the bias field's direction) are compared with two yardsticks: the normative
reference (the training scanner's clean scans, :mod:`brainage.qc.reference`), which only says
*the scanner differs* (``scanner_differs``, never a warning: a clean scan of another scanner is
not a defective scan), and, from :data:`~brainage.qc.reference.SITE_MIN_SIZE` scans of a site on,
the site's own scans (leave-one-out median and MAD), against which an unusual scan warns. The
verdict is the worst finding;
the reasons list every finding, most severe first and, within a severity, in causal order, so
the first reason (``check``) names the likely cause.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainage.qc.checks import CHECKS, SEVERITY, Z_METRICS, Z_WARN, Finding
from brainage.qc.legend import LEGEND
from brainage.qc.reference import SITE_MIN_SIZE, Reference, Stats

CAUSAL_ORDER = {c.name: i for i, c in enumerate(CHECKS)}


#: ``outlier_score`` = severity x this + the worst |z| (capped below it): a failure always sorts
#: above every warning, a warning above every pass.
SCORE_PER_SEVERITY = 10.0

#: The robust z that a clean scan passes once in 1,000 on one metric when the median and MAD are
#: those of ``n`` other scans of its site (normally distributed values, 900,000 simulated draws
#: for each ``n``; ``tests/qc/test_rules.py`` re-derives them). From a few scans the MAD is itself
#: uncertain: against 9 others a clean scan passed z = 4 on 3 % of metrics, and clean simulated
#: new sites judged in batches of 10 warned on 16 % of their scans (``benchmarks/predict_warnings.py``).
#: From 49 others on, z = 4 is that rare already.
SITE_Z_ONE_IN_1000 = {9: 11.2, 11: 8.7, 14: 6.5, 19: 5.5, 24: 4.9, 29: 4.6, 39: 4.2, 49: 4.0}


def site_z_scale(n_others: int) -> float:
    """What a robust z against ``n_others`` scans of a site is multiplied by, so that
    :data:`~brainage.qc.checks.Z_WARN` is as rare for a clean scan against 9 others as against 49.

    Example:
        >>> round(site_z_scale(9), 2), round(site_z_scale(29), 2), site_z_scale(200)
        (0.36, 0.87, 1.0)
    """
    ns, limits = zip(*SITE_Z_ONE_IN_1000.items())
    limit = float(np.interp(np.log(n_others), np.log(ns), limits))  # the table's ends beyond it
    return Z_WARN / max(limit, Z_WARN)


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


def site_z(m: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Robust z of every z-judged metric against the scan's **own site**, leave-one-out (each scan
    against the median and MAD of the others), for sites of at least :data:`SITE_MIN_SIZE` scans;
    NaN elsewhere. Medians and MADs of the others: a few broken scans move neither, and a broken
    scan never sets its own yardstick. Every scan counts, whatever the absolute checks said. The
    z is scaled by :func:`site_z_scale` for the number of others, so a small site's uncertain
    spread does not make its clean scans warn."""
    z = pd.DataFrame(np.nan, index=m.index, columns=list(Z_METRICS))
    for group in groups.unique():
        idx = groups.index[groups == group]
        if len(idx) < SITE_MIN_SIZE:
            continue
        for metric, floor in Z_METRICS.items():
            if metric not in m:
                continue
            values = m.loc[idx, metric].astype(float).to_numpy()
            for position, i in enumerate(idx):
                others = np.delete(values, position)
                others = others[np.isfinite(others)]
                if len(others) < SITE_MIN_SIZE - 1 or not np.isfinite(values[position]):
                    continue
                scale = site_z_scale(len(others))
                z.at[i, metric] = Stats.of(pd.Series(others)).z(values[position], floor) * scale
    return z


def _scanner_differs(findings: list[Finding]) -> str:
    return ", ".join(dict.fromkeys(LEGEND[x.metric].label if x.metric in LEGEND else x.metric for x in findings))


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
    groups = _site_groups(m)
    z_site = site_z(m, groups)
    has_site = z_site.notna().any(axis=1)
    # Against the training scanner, a scanner-dependent metric only says the scanner differs: it
    # names the metrics (once per site in predict's report) and never makes a scan warn ...
    unlike_training = _findings(m, z_ref, ranges).map(lambda f: [x for x in f if x.metric in Z_METRICS])
    # ... a scan warns on those metrics only where it is unusual for its own site.
    site_ranges = {k: "against the other scans of its site" for k in Z_METRICS}
    findings = _findings(m, z_site, site_ranges)
    m["verdict"] = findings.map(_worst)
    m["check"] = findings.map(lambda f: f[0].check if f else "")
    m["checks"] = findings.map(lambda f: " ".join(dict.fromkeys(x.check for x in f)))
    m["reasons"] = findings.map(lambda f: "; ".join(f"{x.level}: {x.text}" for x in f))
    m["scanner_differs"] = unlike_training.map(_scanner_differs)
    m["yardstick"] = np.where(has_site, "site", "training scanner")
    z = z_site.where(has_site, z_ref)
    for metric in Z_METRICS:
        m[f"z_{metric}"] = z[metric]
    bad_z = z.abs().max(axis=1).fillna(0)
    # Sort key: failures first, then warnings, then by how far out the worst metric is.
    m["outlier_score"] = m["verdict"].map(SEVERITY) * SCORE_PER_SEVERITY + np.minimum(bad_z, SCORE_PER_SEVERITY - 0.01)
    return m
