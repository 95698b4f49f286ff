"""How the ensemble's stack is fitted, compared on a finished cross-validation (nothing retrained).

The stack of a CNN and the ridge (:mod:`brainage.training.ensemble`) is fitted per (fold, seed) on
that seed's validation subjects: about 22 of them on IXI-HH-180, a convex weight for the ages and a
logistic regression on the two logits for sex. With several seeds each fold has several such sets
(each seed draws its own validation subjects), so the same weights can be fitted on all of them at
once. This reads a run's ``all_predictions.csv`` and scores, on the out-of-fold test subjects (seeds
averaged, as ``brainage train`` reports them):

* ``per seed``: each (fold, seed) its own stack (``brainage train`` as it is);
* ``pooled seeds``: one stack per fold, fitted on the validation rows of all its seeds;
* ``equal weights``: the two members' mean age, and sex by the pooled stack;
* each member alone.

    python benchmarks/stacking.py --run /work/runs/models/robust_tissue_batched_seeds --name robust_tissue_batched_seeds
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from _machine import machine_info

from brainage.evaluation.metrics import age_metrics, sex_metrics
from brainage.layout import RunDir
from brainage.training.ensemble import MEMBERS
from brainage.training.predictions import read_predictions
from brainage.training.stack import Stacker

RESULTS = Path(__file__).resolve().parent / "results"
AGES = [f"predicted_age_{m}" for m in MEMBERS]
SEXES = [f"p_male_{m}" for m in MEMBERS]


def stacked(preds: pd.DataFrame, pooled: bool, equal_ages: bool = False) -> pd.DataFrame:
    """Test rows with ``predicted_age`` and ``p_male`` from stacks fitted per (fold, seed) or per fold."""
    groups = ["fold"] if pooled else ["fold", "seed"]
    out = []
    for _, part in preds.groupby(groups):
        stacker = Stacker(AGES, SEXES).fit(part[part.role == "val"])
        if equal_ages:
            stacker.age_weights_ = np.full(len(AGES), 1 / len(AGES))
        test = part[part.role == "test"]
        out.append(test.assign(**stacker.predict(test)))
    return pd.concat(out, ignore_index=True)


def scores(test: pd.DataFrame, age: str = "predicted_age", sex: str = "p_male") -> dict:
    """Age and sex metrics of the test rows, seeds averaged per subject."""
    mean = test.groupby(["subject_id", "age", "sex"], as_index=False)[[age, sex]].mean()
    return {"age": age_metrics(mean.age, mean[age]), "sex": sex_metrics(mean.sex, mean[sex])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, type=Path, help="a finished ensemble `brainage train` run")
    p.add_argument("--name", required=True, help="written to benchmarks/results/stacking_<name>.json")
    args = p.parse_args()
    preds = read_predictions(RunDir(args.run).all_predictions)
    missing = [c for c in (*AGES, *SEXES) if c not in preds]
    if missing:
        raise SystemExit(f"{args.run}: not an ensemble run (no {', '.join(missing)})")
    test = preds[preds.role == "test"]
    rows = {
        "per seed": scores(stacked(preds, pooled=False)),
        "pooled seeds": scores(stacked(preds, pooled=True)),
        "equal weights": scores(stacked(preds, pooled=True, equal_ages=True)),
        **{f"{m} alone": scores(test, f"predicted_age_{m}", f"p_male_{m}") for m in MEMBERS},
    }
    n_val = preds[preds.role == "val"].groupby(["fold", "seed"]).size()
    print(f"{args.run}: {preds.seed.nunique()} seeds, {int(n_val.median())} validation subjects per (fold, seed)")
    print(f"{'stack':<16}{'age MAE':>9}{'r':>8}{'sex acc':>9}{'AUC':>7}{'Brier':>7}")
    for name, row in rows.items():
        a, s = row["age"], row["sex"]
        print(
            f"{name:<16}{a['mae']:>9.2f}{a['pearson_r']:>8.3f}{s['accuracy']:>9.3f}{s['roc_auc']:>7.3f}{s['brier']:>7.3f}"
        )
    result = {
        "benchmark": "stacking",
        "name": args.name,
        "run": str(args.run),
        "machine": machine_info(),
        "n_seeds": int(preds.seed.nunique()),
        "validation_subjects_per_fold_seed": int(n_val.median()),
        "variants": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"stacking_{args.name}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
