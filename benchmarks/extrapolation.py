"""Ages past the training range: train on IXI-HH subjects up to ``--max-train-age``, predict the older ones.

IXI-HH ends at 82; users' cohorts do not. A model trained up to 65 and shown the over-65s says
what happens past the edge of a training range: regression to the mean predicts them too young,
and a bias correction fitted on the training range may or may not carry on past it. The split is
one "fold": test = everyone older than the limit, train (with the usual validation carve-out and
held-out predictions for the age-bias correction) = everyone else. Reported on the old group:
mean gap (predicted - true) and MAE, uncorrected and bias-corrected, and the slope of
predicted on true age (1 = follows the ageing, 0 = flat).

Example:
    python benchmarks/extrapolation.py --pre /work/runs/ixi/pre --out /work/runs/extrapolation --name ensemble
    python benchmarks/extrapolation.py --pre /work/runs/ixi/pre --out /work/runs/extrapolation --name ridge \
        -- --model ridge
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _machine import machine_info

from brainage.data.manifest import included, read_manifest

RESULTS = Path(__file__).parent / "results"
OLD_FOLD, YOUNG_FOLD = 0, 1


def write_age_split(manifest: Path, max_train_age: float, splits: Path) -> pd.DataFrame:
    people = included(read_manifest(manifest))
    folds = pd.DataFrame(
        {
            "subject_id": people.subject_id,
            "fold": np.where(people.age > max_train_age, OLD_FOLD, YOUNG_FOLD),
            "split": "train",
        }
    )
    splits.mkdir(parents=True, exist_ok=True)
    folds.to_csv(splits / "folds.csv", index=False)
    return folds


def group_figures(test: pd.DataFrame) -> dict:
    gap = test.predicted_age - test.age
    out = {
        "n": int(len(test)),
        "age_range": [float(test.age.min()), float(test.age.max())],
        "mean_gap_years": float(gap.mean()),
        "mae": float(gap.abs().mean()),
        "slope_predicted_on_age": float(np.polyfit(test.age, test.predicted_age, 1)[0]),
    }
    if "corrected_age" in test and test.corrected_age.notna().all():
        corrected = test.corrected_age - test.age
        out |= {"mean_gap_corrected_years": float(corrected.mean()), "mae_corrected": float(corrected.abs().mean())}
    if "p_male" in test:
        out["sex_accuracy"] = float(((test.p_male > 0.5) == (test.sex == "M")).mean())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pre", required=True, type=Path, help="a `brainage preprocess` folder of IXI-HH")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--name", required=True, help="results/extrapolation_<name>.json and OUT/<name>/")
    p.add_argument("--max-train-age", type=float, default=65.0)
    p.add_argument("train_args", nargs="*", help="after --: more `brainage train` options (e.g. --model ridge)")
    args = p.parse_args()
    splits = args.out / "splits"
    folds = write_age_split(args.pre / "manifest.csv", args.max_train_age, splits)
    run = args.out / args.name
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "brainage.cli",
            "train",
            str(args.pre),
            "--splits",
            str(splits),
            "--out",
            str(run),
            "--folds",
            str(OLD_FOLD),
            *args.train_args,
        ],
        check=True,
    )
    seconds = time.perf_counter() - start
    oof = pd.read_csv(run / "oof_predictions.csv", dtype={"subject_id": str})
    old = group_figures(oof[oof.fold == OLD_FOLD])
    bands = {
        f"{lo}-{hi}": group_figures(g)
        for (lo, hi) in ((65, 72), (72, 90))
        if len(g := oof[(oof.fold == OLD_FOLD) & (oof.age > lo) & (oof.age <= hi)]) >= 3
    }
    print(
        f"\ntrained on {int((folds.fold == YOUNG_FOLD).sum())} subjects <= {args.max_train_age:g} y, "
        f"predicted {old['n']} older ones ({old['age_range'][0]:.0f}-{old['age_range'][1]:.0f} y):"
    )
    print(pd.DataFrame({"all": old, **bands}).T.drop(columns="age_range").round(2).to_string())
    result = {
        "machine": machine_info(),
        "name": args.name,
        "train_args": args.train_args,
        "max_train_age": args.max_train_age,
        "n_train": int((folds.fold == YOUNG_FOLD).sum()),
        "old_group": old,
        "bands": bands,
        "seconds": seconds,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"extrapolation_{args.name}.json").write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
