"""Why does blur move the prediction? Probes of a ridge on the tissue-anchored T1, on cached data.

Each probe changes one thing about how a ridge (the classical member's model: pooled 4 mm
voxels plus head-size covariates) is trained or fed, and is scored like the invariance benchmark:
per-rendition mean shift of the predicted age and the within-brain SD, on the held-out brains of
``benchmarks/invariance.py`` (each fold's ridge on its own held-out brains), beside its 5-fold CV
MAE on the originals. Everything comes from caches already on disk, so the table takes minutes:

* ``baseline``: as trained and fed by brainage;
* ``original_mask``: each rendition's values only inside the original's brain mask (does the
  mask re-extracted on each rendition move the age?);
* ``original_covariates``: each rendition with the original's brain volume and determinant;
* ``smoothed_inputs``: every input smoothed (FWHM 6 mm) before pooling, training and test alike;
* ``blur_augmented``: training on each scan plus copies blurred on the model grid (sigma 0.6 and
  1.0 voxel) with the same age;
* ``pipeline_renditions``: training on each scan plus its training renditions (blur, slices,
  gamma, noise or contrast, :mod:`brainage.preprocess.renditions`) preprocessed by the same
  recipe, where the training cache has them (``brainage preprocess --renditions 1``).

Example:
    python benchmarks/invariance_probe.py --train-cache /work/runs/ixi/pre_anchor/cache/2mm \\
        --renditions-cache /work/runs/invariance/pre_2f44741d2c6ac9ad/cache/2mm \\
        --folds /work/runs/ixi/splits/folds.csv
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _machine import machine_info
from scipy.ndimage import gaussian_filter
from sklearn.linear_model import RidgeCV

from brainage.preprocess.cache import is_original, read_cache_index

RESULTS = Path(__file__).parent / "results"
ALPHAS = np.logspace(-1, 6, 22)
COVARIATES = ["brain_volume_ml", "affine_det"]


def volume(cache: Path, name: str) -> np.ndarray:
    return np.load(cache / name).astype(np.float32) / 255


def pooled(v: np.ndarray) -> np.ndarray:
    """Average-pooled by 2 (the 4 mm inputs of the default model's members)."""
    x, y, z = (s // 2 for s in v.shape)
    return v[: 2 * x, : 2 * y, : 2 * z].reshape(x, 2, y, 2, z, 2).mean((1, 3, 5)).ravel()


def features(volumes: list[np.ndarray], table: pd.DataFrame, transform=None) -> np.ndarray:
    images = [pooled(transform(v) if transform else v) for v in volumes]
    return np.column_stack([np.stack(images), table[COVARIATES].to_numpy(float) / [1000.0, 1.0]])


def tissue_levels(rend: pd.DataFrame, cache: Path, rvols: list[np.ndarray]) -> dict:
    """Mean cached intensity of each rendition inside its original's white-matter core (> 0.95),
    grey-matter core (> 0.8) and CSF (> 0.5), per rendition: where an image change lands."""
    out = {}
    originals = rend[rend.v == 0].set_index("brain")
    levels = []
    for i, row in rend.iterrows():
        tissue = np.load(cache / originals.at[row.brain, "tissue_path"]).astype(np.float32) / 255
        masks = {"csf": tissue[0] > 0.5, "grey": tissue[1] > 0.8, "white": tissue[2] > 0.95}
        levels.append({"v": row.v, **{k: float(rvols[i][m].mean()) if m.any() else np.nan for k, m in masks.items()}})
    for v, group in pd.DataFrame(levels).groupby("v"):
        out[int(v)] = {k: round(float(group[k].mean()), 4) for k in ("csf", "grey", "white")}
    return out


def score(train_x, train_y, train_fold, x_orig, age, fold, x_rend, rend) -> dict:
    """Per-fold ridge: CV MAE on the originals, shifts of the held-out renditions."""
    oof, pred = np.zeros(len(age)), np.zeros(len(rend))
    for f in np.unique(fold):
        model = RidgeCV(alphas=ALPHAS).fit(train_x[train_fold != f], train_y[train_fold != f])
        oof[fold == f] = model.predict(x_orig[fold == f])
        pred[rend.fold.to_numpy() == f] = model.predict(x_rend[rend.fold.to_numpy() == f])
    table = rend.assign(pred=pred)
    base = table[table.v == 0].set_index("brain").pred
    table["shift"] = table.pred - table.brain.map(base)
    return {
        "cv_mae": float(np.abs(oof - age).mean()),
        "cv_r": float(np.corrcoef(oof, age)[0, 1]),
        "within_brain_sd_years": float(table.groupby("brain").pred.std().mean()),
        "mean_shift_years": {int(v): float(s) for v, s in table.groupby("v")["shift"].mean().items()},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-cache", required=True, type=Path, help="model cache of the training scans (anchored T1)")
    p.add_argument("--renditions-cache", required=True, type=Path, help="the invariance benchmark's cache, same recipe")
    p.add_argument("--folds", required=True, type=Path, help="folds.csv of the split")
    p.add_argument("--name", default="anchored_ridge")
    args = p.parse_args()
    start = time.perf_counter()
    folds = pd.read_csv(args.folds, dtype={"subject_id": str}).set_index("subject_id").fold
    cached = read_cache_index(args.train_cache)
    train, extra = cached[is_original(cached)].reset_index(drop=True), cached[~is_original(cached)]
    rend = read_cache_index(args.renditions_cache)
    rend["brain"] = rend.subject_id.str.rsplit("-v", n=1).str[0]
    rend["v"] = rend.subject_id.str.rsplit("-v", n=1).str[1].astype(int)
    rend["fold"] = rend.brain.map(folds)
    age, fold = train.age.to_numpy(float), train.subject_id.map(folds).to_numpy()
    vols = [volume(args.train_cache, name) for name in train.path]
    rvols = [volume(args.renditions_cache, name) for name in rend.path]
    x = features(vols, train)
    xr = features(rvols, rend)
    original = {b: i for i, b in zip(rend.index, rend.brain) if rend.v[i] == 0}
    probes = {"baseline": score(x, age, fold, x, age, fold, xr, rend)}

    masked = [np.where(rvols[original[b]] > 0, v, 0) for v, b in zip(rvols, rend.brain)]
    probes["original_mask"] = score(x, age, fold, x, age, fold, features(masked, rend), rend)
    same_cov = rend.copy()
    same_cov[COVARIATES] = rend.loc[[original[b] for b in rend.brain], COVARIATES].to_numpy()
    probes["original_covariates"] = score(x, age, fold, x, age, fold, features(rvols, same_cov), rend)

    def smooth(v):
        return gaussian_filter(v, 6.0 / 2.355 / 2.0)  # FWHM 6 mm on the 2 mm grid

    xs = features(vols, train, smooth)
    probes["smoothed_inputs"] = score(xs, age, fold, xs, age, fold, features(rvols, rend, smooth), rend)
    blurred = [features(vols, train, lambda v, s=s: np.where(v > 0, gaussian_filter(v, s), 0)) for s in (0.6, 1.0)]
    probes["blur_augmented"] = score(
        np.concatenate([x, *blurred]), np.tile(age, 3), np.tile(fold, 3), x, age, fold, xr, rend
    )
    if len(extra):
        extra_fold = extra.source_subject.map(folds).to_numpy()
        xe = features([volume(args.train_cache, name) for name in extra.path], extra)
        probes["pipeline_renditions"] = score(
            np.concatenate([x, xe]),
            np.concatenate([age, extra.age.to_numpy(float)]),
            np.concatenate([fold, extra_fold]),
            x,
            age,
            fold,
            xr,
            rend,
        )
        probes["pipeline_renditions"]["n_training_renditions"] = int(len(extra))

    names = rend[["v", "subject_id"]].drop_duplicates("v").set_index("v")
    print(f"{'probe':22s} {'CV MAE':>7s} {'r':>6s} {'SD':>5s}  mean shift per rendition (v01..v17)")
    for name, res in probes.items():
        shifts = " ".join(f"{res['mean_shift_years'][v]:+.1f}" for v in sorted(res["mean_shift_years"]) if v)
        print(f"{name:22s} {res['cv_mae']:7.2f} {res['cv_r']:6.3f} {res['within_brain_sd_years']:5.2f}  {shifts}")
    levels = tissue_levels(rend, args.renditions_cache, rvols)
    print("mean cached intensity in the original's CSF / grey / white matter, per rendition:")
    for v, lv in levels.items():
        print(f"  v{v:02d} {lv['csf']:.3f} {lv['grey']:.3f} {lv['white']:.3f}")
    out = {
        "machine": machine_info(),
        "n_brains": int(rend.brain.nunique()),
        "renditions": len(names),
        "probes": probes,
        "tissue_levels": levels,
        "seconds": time.perf_counter() - start,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"invariance_probe_{args.name}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
