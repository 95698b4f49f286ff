"""IXI-HH-180 5-fold cross-validation of named configurations on this machine's CPU.

Each configuration is a `brainage train` command line; every run is
resumable (finished folds are skipped), timed, evaluated, and written to
``benchmarks/results/ixi_cv_cpu_<name>.json``; a table of all results is printed at the end.

Prepare once (repo root), about 25 minutes with 2 workers:
    brainage ingest ixi ../shared/data/ixi-hh --out results/ixi
    brainage split results/ixi/manifest.csv --out results/ixi/splits --seed 42
    brainage preprocess results/ixi/manifest.csv --out results/ixi/pre --workers 2
Then:
    python benchmarks/ixi_cv_cpu.py --pre results/ixi/pre --splits results/ixi/splits --out results/ixi/models \
        --configs ridge ensemble
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from _machine import machine_info

from brainage.cli import main as brainage
from brainage.evaluation.metrics import age_metrics, sex_metrics
from brainage.evaluation.report import evaluate
from brainage.training.predictions import read_predictions

RESULTS = Path(__file__).resolve().parent / "results"

#: name -> arguments after `brainage train PRE --splits S --out OUT/<name>`
#: The scanner-robust ensemble's settings (the registry's ``scanner_robust``, under another name).
ANCHOR_CONFIG = Path(__file__).resolve().parent / "configs" / "ensemble_anchor.yaml"
#: The same with the partial-volume tissue maps back in the CNN (and the ridge on them).
TISSUE_CONFIG = Path(__file__).resolve().parent / "configs" / "robust_tissue.yaml"
CONFIGS = {
    # the classical baseline: ridge on GM/WM/CSF maps at 4 mm, then head-size covariates; and its ablations
    "ridge": "--model ridge --downsample 2",
    "ridge_modulated": "--model ridge --downsample 2 --modulate",
    "ridge_no_covariates": "--model ridge --downsample 2 --covariates none",
    "ridge_t1": "--model ridge --downsample 2 --inputs t1",
    # the earlier CPU-scale CNN (T1 only, modulation irrelevant), for reference
    "seresnet": "--model seresnet --width 0.5 --downsample 2 --epochs 30 --patience 100 --workers 1",
    # the recommended model (`brainage train`'s default): SE-ResNet on T1 + tissue maps with head-size
    # covariates and ridge, trained per fold and stacked on the CNN's validation subjects
    "ensemble": "--model ensemble --width 0.5 --downsample 2 --epochs 30 --patience 100 --workers 1",
    # lever 1 on the CPU: the same model with bf16 autocast (a run option: a separate output folder)
    "ensemble_bf16": "--model ensemble --width 0.5 --downsample 2 --epochs 30 --patience 100 --workers 1 "
    "--precision bf16-mixed",
    # lever 5: a 3-seed ensemble of the bf16 model (seeds averaged per fold before the bias correction)
    "ensemble_bf16_seeds": "--model ensemble --width 0.5 --downsample 2 --epochs 30 --patience 100 --workers 1 "
    "--precision bf16-mixed --seeds 0,1,2",
    # scanner robustness (0.4): the default model as the registry now defines it (domain randomisation of
    # the T1 channel) on 0.4 preprocessing (2 mm working resolution, partial-volume tissue maps), one seed
    "ensemble_robust": "--seeds 0",
    # the ridge model alone on the 2 mm grid (its registry default), to compare tissue segmentations:
    # run once on a `--segmentation atropos` preprocessing and once on the default
    "ridge_2mm": "--model ridge",
    # the SE ablation of the ensemble's CNN member: the same network without squeeze-and-excitation
    "resnet_tissue_cov": "--model resnet --width 0.5 --downsample 2 --epochs 30 --patience 100 --workers 1 "
    "--inputs t1,tissue --no-modulate --covariates brain_volume_ml,affine_det",
    # scanner robustness, tissue-anchored intensities (run on a `brainage preprocess --working-voxel-mm 2
    # --segmentation partial-volume --intensity-reference tissue` folder): the ridge on the anchored T1,
    # and the ensemble reading only the anchored T1 with domain randomisation (its ridge member follows it)
    "ridge_anchor": "--model ridge --downsample 2 --inputs t1",
    "ensemble_anchor_t1": f"--config {ANCHOR_CONFIG} --seeds 0 --workers 1",
    # scanner robustness (0.7), training renditions: the same model trained also on one preprocessed
    # rendition of every training scan (run on a folder preprocessed as above plus `--renditions 1`)
    "ensemble_anchor_renditions": f"--config {ANCHOR_CONFIG} --renditions --seeds 0 --workers 1",
    # the same with three seeds per fold, as the shipped model is trained (seed 0's folds are the
    # run above's: copy its fold*/seed0 folders in first and they are kept, same fingerprint)
    "ensemble_anchor_renditions_seeds": f"--config {ANCHOR_CONFIG} --renditions --seeds 0,1,2 --workers 1",
    # one model for both worlds (0.9), on the fast scanner-robust recipe (two renditions of every scan,
    # storage changes and stripped or defaced heads among them): the anchored T1 with the partial-volume
    # tissue maps back in the CNN, the ridge on those maps; and the shipped configuration for comparison
    "robust_tissue": f"--config {TISSUE_CONFIG} --renditions --seeds 0 --workers 1",
    "robust_t1": f"--config {ANCHOR_CONFIG} --renditions --seeds 0 --workers 1",
    # the shipped model of 0.10: the registry's `scanner_robust` (robust_tissue's settings) on the 0.10
    # recipe (N4 fitted on the brain's box), in fp32 (the three one-seed runs of this configuration, fp32 and
    # bf16, spread over 0.3 y: seed noise, not a measured cost of bf16)
    "robust_tissue_box": "--model scanner_robust --seeds 0 --workers 1 --precision 32-true",
    # the same on a candidate recipe: deepbet on the head's box, 1 mm averaged to 2 mm in whole voxels, the
    # tissue fractions fitted on every brain voxel (`--segmentation "partial-volume histogram"`: the
    # scanner-robust recipe of the commit that ran it); not kept: docs/scanner_robustness.md
    "robust_tissue_histogram": "--model scanner_robust --seeds 0 --workers 1 --precision 32-true",
    # the ridge on the partial-volume tissue maps (4 mm), to compare two fits of the same scanner-robust
    # recipe: run on a folder preprocessed with `--segmentation "partial-volume"` and on the same folder
    # with `--segmentation "partial-volume prior"` (the template's tissue maps as a spatial prior)
    "ridge_pv_subsample": "--model ridge --downsample 2",
    "ridge_pv_prior": "--model ridge --downsample 2",
    # the shipped configuration on the 0.10 recipe with the template's tissue maps as the tissue fit's spatial
    # prior (`--segmentation "partial-volume prior"`), one seed, in bf16 (the registry's precision for it)
    "robust_tissue_prior": "--model scanner_robust --seeds 0 --workers 1 --precision bf16-mixed",
    # the same with three seeds per fold (copy robust_tissue_prior's fold*/seed0 folders in first and they
    # are kept: same fingerprint). Both need a folder of the prior's fit, which `brainage train --model
    # scanner_robust` accepts with the recipe of commit 40845f8 (the prior was its segmentation then)
    "robust_tissue_prior_seeds": "--model scanner_robust --seeds 0,1,2 --workers 1 --precision bf16-mixed",
    # the shipped configuration on its own (0.10) recipe at its registered 3 seeds in bf16, augmented in
    # batches on the CPU instead of per volume by torchio in a worker, the volumes read once a fold
    # (`--augment-on batch`): the same transforms and ranges, 2.5x faster epochs
    "robust_tissue_batched_seeds": "--model scanner_robust --seeds 0,1,2 --workers 1 --precision bf16-mixed "
    "--augment-on batch --checkpoint best",
    # the same trained twice as long (the cosine schedule spread over 60 epochs): the validation MAE was
    # still falling at 30 in 0.7-0.9 (issue 30)
    "robust_tissue_batched_60": "--model scanner_robust --seeds 0,1,2 --workers 1 --precision bf16-mixed --epochs 60 "
    "--checkpoint best",
    # the same predicting with each fold's last checkpoint (the end of the cosine schedule), not the one of
    # lowest validation age MAE, as the registry's scanner_robust does since 0.12.2: copy
    # robust_tissue_batched_seeds' run in first (cp -r) and no fold retrains (the weights' fingerprint
    # leaves out which checkpoint predicts)
    "robust_tissue_batched_seeds_last": "--model scanner_robust --seeds 0,1,2 --workers 1 --precision bf16-mixed "
    "--augment-on batch --checkpoint last",
}


def run_config(name: str, pre: Path, splits: Path, out: Path) -> dict:
    command = ["train", str(pre), "--splits", str(splits), "--out", str(out / name), *shlex.split(CONFIGS[name])]
    start = time.perf_counter()
    code = brainage(command)
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"{name}: brainage {' '.join(command)} failed with exit code {code}")
    metrics = evaluate(out / name)
    record = {
        "benchmark": "ixi_hh_180_cv_cpu",
        "name": name,
        "command": "brainage " + " ".join(command),
        "wall_seconds_this_run": round(seconds, 1),
        "machine": machine_info(),
        "metrics": metrics,
        "members": member_metrics(out / name),
    }
    path = RESULTS / f"ixi_cv_cpu_{name}.json"
    if path.exists():  # keep the time of the run that trained it, not of a resumed no-op
        earlier = json.loads(path.read_text())
        if seconds < 0.5 * earlier.get("wall_seconds", 0):
            record["wall_seconds"] = earlier["wall_seconds"]
    record.setdefault("wall_seconds", round(seconds, 1))
    path.write_text(json.dumps(record, indent=2))
    return record


def member_metrics(run: Path) -> dict:
    """Out-of-fold metrics of each member of an ensemble run (columns ``predicted_age_<member>``), its
    predictions averaged over the seeds as the ensemble averages them (one row per test subject)."""
    preds = read_predictions(run / "all_predictions.csv")
    rows = preds[preds.role == "test"]
    members = sorted({c[len("predicted_age_") :] for c in rows if c.startswith("predicted_age_")} - {"corrected"})
    outputs = [c for m in members for c in (f"predicted_age_{m}", f"p_male_{m}") if c in rows]
    test = rows.groupby("subject_id").agg({"age": "first", "sex": "first", **dict.fromkeys(outputs, "mean")})
    return {
        m: {
            "age": age_metrics(test.age, test[f"predicted_age_{m}"]),
            "sex": sex_metrics(test.sex, test[f"p_male_{m}"]),
        }
        for m in members
        if f"p_male_{m}" in test
    }


def table(records: list[dict]) -> str:
    lines = [f"{'configuration':28s} {'age MAE':>8s} {'r':>6s} {'sex acc':>8s} {'AUC':>6s} {'CPU min':>8s}"]

    def line(name, age, sex, minutes):
        return (
            f"{name:28s} {age.get('mae', float('nan')):8.2f} {age.get('pearson_r', float('nan')):6.3f} "
            f"{sex.get('accuracy', float('nan')):8.3f} {sex.get('roc_auc', float('nan')):6.3f} {minutes:>8s}"
        )

    for r in records:
        lines.append(
            line(
                r["name"],
                r["metrics"].get("age_uncorrected", {}),
                r["metrics"].get("sex", {}),
                f"{r['wall_seconds'] / 60:.1f}",
            )
        )
        for member, m in r.get("members", {}).items():
            lines.append(line(f"  member {member}", m["age"], m["sex"], "-"))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pre", type=Path, required=True)
    ap.add_argument("--splits", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = ap.parse_args()
    records = [run_config(name, args.pre, args.splits, args.out) for name in args.configs]
    print(table(records))


if __name__ == "__main__":
    sys.exit(main())
