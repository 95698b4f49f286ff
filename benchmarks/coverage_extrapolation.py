"""Does the interval hold past the training range? Coverage on the extrapolation benchmark.

A model trained on IXI-HH up to 65 (``benchmarks/extrapolation.py``) predicts the 30 older people.
Their intervals are built as a model file builds them (:func:`brainage.bundle.intervals.interval_columns`):

* **base**: split-conformal bands fitted on out-of-fold residuals of people **up to 65 only**
  (from a cross-validation of the same configuration, ``--cv``: the residuals a model trained
  on that range can know), no widening;
* **widened**: the same, plus the model file's widening for every year beyond the training
  range, at rates measured on **another** model's extrapolation result (``--widen-from``; the
  shipped configuration's), so that the older group does not set its own interval.

Coverage (the share of true ages inside) over the older group and per band, for the predicted
and the bias-corrected age, at 80/90/95 %, is printed and written with the machine to
``benchmarks/results/coverage_extrapolation_<name>.json`` (key ``coverage``).

    python benchmarks/coverage_extrapolation.py --cv /work/runs/ixi/models_fast/robust_tissue \
        --extrapolation /work/runs/extrapolation/robust_tissue \
        --widen-from benchmarks/results/extrapolation_scanner_robust.json --name robust_tissue
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
from _machine import machine_info

from brainage.bundle.intervals import interval_columns, outside_range_rates
from brainage.layout import RunDir
from brainage.training.intervals import AgeIntervals, coverage_table
from brainage.training.predictions import read_predictions

RESULTS = Path(__file__).parent / "results"
COVERAGES = (0.8, 0.9, 0.95)
#: Bands of the older group (as the extrapolation benchmark reports it).
OLD_BANDS = (65, 72, 200)


def coverage_past_the_range(
    cv_oof: pd.DataFrame, old: pd.DataFrame, max_train_age: float, widen_from: dict, coverage: float
) -> dict:
    """Base and widened coverage of ``coverage`` intervals on the older group ``old``."""
    young = cv_oof[cv_oof.age <= max_train_age]
    record = {
        "calibration": AgeIntervals.fit(
            young, f"CV residuals of the {len(young)} people <= {max_train_age:g}"
        ).to_dict()
    }
    cohort = {"age_min": float(young.age.min()), "age_max": float(max_train_age)}
    widened_record = record | {
        "outside_range": outside_range_rates(widen_from, old.age.to_numpy(float) - max_train_age)
    }
    out = {"coverage_asked": coverage}
    for name, rec, ages in (("base", record, {}), ("widened", widened_record, cohort)):
        columns = interval_columns(old, old["age"], rec, ages, coverage=coverage)
        out[name] = {
            column: coverage_table(old.age, columns[f"{column}_low"], columns[f"{column}_high"], OLD_BANDS)
            for column in ("predicted_age", "corrected_age")
        }
    out["widening_rates"] = widened_record["outside_range"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cv", type=Path, required=True, help="a cross-validated run of the same configuration")
    parser.add_argument("--extrapolation", type=Path, required=True, help="the extrapolation benchmark's run folder")
    parser.add_argument("--widen-from", type=Path, required=True, help="another model's extrapolation JSON")
    parser.add_argument("--max-train-age", type=float, default=65.0)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    need = ("subject_id", "age", "predicted_age", "corrected_age")
    cv_oof = read_predictions(RunDir(args.cv).oof_predictions, required=need)
    old = read_predictions(RunDir(args.extrapolation).oof_predictions, required=need)
    old = old[old.age > args.max_train_age].reset_index(drop=True)
    widen_from = json.loads(args.widen_from.read_text())
    result = {
        "benchmark": "coverage_extrapolation",
        "name": args.name,
        "machine": machine_info(),
        "cv_run": str(args.cv),
        "extrapolation_run": str(args.extrapolation),
        "widening_measured_on": str(args.widen_from),
        "n_old": int(len(old)),
        "coverage": {
            f"{c:.0%}": coverage_past_the_range(cv_oof, old, args.max_train_age, widen_from, c) for c in COVERAGES
        },
    }
    print(f"coverage past {args.max_train_age:g} y ({len(old)} people; base / widened):")
    for level, res in result["coverage"].items():
        for column in ("predicted_age", "corrected_age"):
            cells = "  ".join(
                f"{b['band']} {b['coverage']:.2f}/{w['coverage']:.2f} ({b['mean_width']:.0f}/{w['mean_width']:.0f} y)"
                for b, w in zip(res["base"][column], res["widened"][column])
            )
            print(f"  {level} {column:14s} {cells}")
    path = RESULTS / f"coverage_extrapolation_{args.name}.json"
    path.write_text(json.dumps(result, indent=2, default=float))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
