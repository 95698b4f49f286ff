"""The ridge member's first stage on one fold, fitted in the rows' span and on every voxel.

:class:`brainage.training.classical.RowSpace` fits the ridge on the training rows' coordinates in
their own span instead of on ~150,000 voxels. This times both on one fold of a real preprocessing
(the training folds with their renditions, as ``brainage train --model scanner_robust`` gives the
ridge member) and checks they agree: the same penalties, and the inner held-out image scores and
the fitted coefficients within float rounding. Reading the volumes is timed apart (both need it).

    python benchmarks/ridge_speed.py --pre /work/runs/pre010 --splits /work/runs/ixi/splits [--fold 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _machine import machine_info
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import cross_val_predict

from brainage.layout import SplitsDir
from brainage.preprocess.cache import find_cache
from brainage.training.classical import ALPHAS, RowSpace, image_matrix, image_targets, inner_splits
from brainage.training.config import train_config_for
from brainage.training.cv import labels_table
from brainage.training.ensemble import ridge_member_config

RESULTS = Path(__file__).resolve().parent / "results"


def stage_one(x: np.ndarray, targets: dict, splits, in_span: bool) -> tuple[dict, float]:
    """Held-out scores (inner folds), penalty and coefficients per target, and the seconds it took."""
    start = time.perf_counter()
    space = RowSpace().fit(x) if in_span else None
    features = space.coordinates_ if in_span else x
    out = {}
    for name, y in targets.items():
        held_out = cross_val_predict(RidgeCV(alphas=ALPHAS), features, y, cv=splits)
        fitted = RidgeCV(alphas=ALPHAS).fit(features, y)
        model = space.to_voxels(x, fitted) if in_span else fitted
        out[name] = {"held_out": held_out, "alpha": float(model.alpha_), "coef": np.asarray(model.coef_, float)}
    return out, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pre", required=True, type=Path, help="a scanner-robust `brainage preprocess` folder")
    p.add_argument("--splits", required=True, type=Path, help="its `brainage split` folder")
    p.add_argument("--fold", type=int, default=0)
    args = p.parse_args()
    config = ridge_member_config(train_config_for("scanner_robust"))
    table = labels_table(find_cache(args.pre), SplitsDir.folds_csv(args.splits), None, renditions=True)
    rest = table[table.fold != args.fold].reset_index(drop=True)
    start = time.perf_counter()
    x = image_matrix(rest, config)
    read_seconds = time.perf_counter() - start
    x = x[:, x.std(axis=0) > 0]
    targets = dict(zip(("age", "sex"), image_targets(rest)))
    splits = inner_splits(rest, seed=0)
    voxels, voxel_seconds = stage_one(x, targets, splits, in_span=False)
    span, span_seconds = stage_one(x, targets, splits, in_span=True)
    agreement = {
        name: {
            "alpha_voxels": voxels[name]["alpha"],
            "alpha_span": span[name]["alpha"],
            "largest_held_out_difference": float(np.abs(voxels[name]["held_out"] - span[name]["held_out"]).max()),
            "held_out_spread": float(voxels[name]["held_out"].std()),
            "largest_coef_difference_relative": float(
                np.abs(voxels[name]["coef"] - span[name]["coef"]).max() / np.abs(voxels[name]["coef"]).max()
            ),
        }
        for name in targets
    }
    print(f"fold {args.fold}: {x.shape[0]} rows x {x.shape[1]} voxels; reading them {read_seconds:.1f} s")
    print(f"{'first stage (age and sex, 5 inner folds)':<44}{'seconds':>9}")
    print(f"{'scikit-learn RidgeCV on every voxel':<44}{voxel_seconds:>9.1f}")
    print(f"{'the same in the rows span (RowSpace)':<44}{span_seconds:>9.1f}")
    for name, a in agreement.items():
        print(
            f"{name}: alpha {a['alpha_voxels']:g} / {a['alpha_span']:g}, held-out scores differ by at most "
            f"{a['largest_held_out_difference']:.2e} (their SD {a['held_out_spread']:.3g}), coefficients by "
            f"{a['largest_coef_difference_relative']:.1e} of the largest"
        )
    result = {
        "benchmark": "ridge_speed",
        "machine": machine_info(),
        "fold": args.fold,
        "rows": int(x.shape[0]),
        "voxels": int(x.shape[1]),
        "read_seconds": round(read_seconds, 1),
        "voxel_seconds": round(voxel_seconds, 1),
        "span_seconds": round(span_seconds, 1),
        "agreement": agreement,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ridge_speed.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
