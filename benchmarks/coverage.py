"""How often does the interval beside a predicted age hold? Coverage in cross-validation.

For a cross-validated ``brainage train`` run, every subject's interval is calibrated on the
out-of-fold residuals of the **other** folds only (cross-conformal: the same split-conformal
bands by predicted age that a model file carries, :mod:`brainage.training.intervals`), and the
share of subjects whose age lies inside it is counted, over all and per age band, for the
predicted and the bias-corrected age, at several coverages. Written to
``benchmarks/results/coverage_<name>.json`` (key ``coverage``) with the machine.

With ``--bundle`` (a bundle whose calibration came from this run) the bundle's own intervals
are also scored on the run's out-of-fold predictions: in-sample for the calibration, so only a
check that the file reproduces the run, not an estimate.

    python benchmarks/coverage.py --run /work/runs/ixi/models/ensemble_anchor_renditions --name scanner_robust
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
from _machine import machine_info

from brainage.layout import RunDir
from brainage.training.intervals import interval_coverage
from brainage.training.predictions import read_predictions

RESULTS = Path(__file__).parent / "results"
COVERAGES = (0.8, 0.9, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a cross-validated `brainage train` folder")
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    oof = read_predictions(RunDir(args.run).oof_predictions, required=("subject_id", "age", "predicted_age", "fold"))
    coverage = {f"{c:.0%}": interval_coverage(oof, c) for c in COVERAGES}
    for asked, result in coverage.items():
        for column in ("predicted_age", "corrected_age"):
            if result and column in result:
                table = pd.DataFrame(result[column])
                print(f"{asked} intervals, {column.replace('_', ' ')}:")
                print(table.to_string(index=False))
    out = RESULTS / f"coverage_{args.name}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "coverage",
                "name": args.name,
                "run": str(args.run),
                "n_subjects": int(len(oof)),
                "method": "cross-conformal: each fold's intervals calibrated on the other folds' residuals",
                "machine": machine_info(),
                "coverage": coverage,
            },
            indent=1,
        )
    )
    print(f"written: {out}")


if __name__ == "__main__":
    main()
