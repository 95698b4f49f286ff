"""Preprocessing benchmark on real IXI-HH scans: seconds per step, brain-extraction Dice against
the reference parcellation (label > 0), registration quality, cache size.

    python benchmarks/preprocess.py --ixi ../shared/data/ixi-hh --work /tmp/pre-bench [--limit 20] \
        [--recipe scanner-robust]

``--work`` is resumable: pointing it at an existing `brainage preprocess` folder of the same
scans reuses its per-step timings (recorded in each subject's steps.json when it ran).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from _machine import machine_info

from brainage.config import to_dict
from brainage.data.ingest_ixi import ingest_ixi
from brainage.data.manifest import write_manifest
from brainage.parallel import Executor
from brainage.preprocess.pipeline import preprocess_manifest, recipe_preset
from brainage.preprocess.recipes import RECIPES
from brainage.preprocess.steps import steps_for


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


def brain_extent_mm(mask: np.ndarray, affine: np.ndarray) -> tuple[float, float]:
    """Lowest and highest superior coordinate (mm) of a RAS mask."""
    zs = np.nonzero(mask.any(axis=(0, 1)))[0]
    return float(zs[0] * affine[2, 2] + affine[2, 3]), float(zs[-1] * affine[2, 2] + affine[2, 3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ixi", type=Path, default=Path("../shared/data/ixi-hh"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/brainage-pre-bench"))
    ap.add_argument("--limit", type=int, default=0, help="first N scans only (0 = all 185)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--recipe", default="default", choices=sorted(RECIPES), help="the recipe benchmarked (no renditions)"
    )
    ap.add_argument("--json", type=Path, default=None, help="default: results/preprocess_cpu[_<recipe>].json")
    args = ap.parse_args()
    suffix = "" if args.recipe == "default" else "_" + args.recipe.replace("-", "_")
    args.json = args.json or Path(__file__).parent / "results" / f"preprocess_cpu{suffix}.json"
    config = replace(recipe_preset(args.recipe), renditions=0)  # a scan's preprocessing, not training data
    step_seconds = [f"seconds_{step.name}" for step in steps_for(config)]
    os.environ.setdefault("BRAINAGE_NO_PROGRESS", "1")
    manifest = ingest_ixi(args.ixi, check=False)
    manifest = manifest.assign(included=True, exclusion_reason="")  # every scan, labelled or not
    if args.limit:
        manifest = manifest.head(args.limit)
    write_manifest(manifest, args.work / "bench_manifest.csv")
    start = time.time()
    report = preprocess_manifest(args.work / "bench_manifest.csv", args.work, config, Executor(workers=args.workers))
    wall = time.time() - start

    rows = []
    for _, r in report[report.status == "ok"].iterrows():
        sdir = args.work / "subjects" / r.subject_id
        mask_img = nib.load(str(sdir / "brain_mask.nii.gz"))
        mask = mask_img.get_fdata() > 0
        t1 = manifest.set_index("subject_id").at[r.subject_id, "t1_path"]
        ref = (
            nib.as_closest_canonical(
                nib.load(t1.replace("/T1/", "/labels/").replace("-T1.nii", "-DLMUSE.nii"))
            ).get_fdata()
            > 0
        )
        lo_m, hi_m = brain_extent_mm(mask, mask_img.affine)
        lo_r, hi_r = brain_extent_mm(ref, mask_img.affine)
        rows.append(
            {
                "subject_id": r.subject_id,
                "dice_vs_reference": dice(mask, ref),
                "extra_ml": float((mask & ~ref).sum() * 8 / 1000),
                "missed_ml": float((~mask & ref).sum() * 8 / 1000),
                "inferior_extent_diff_mm": lo_m - lo_r,
                "superior_extent_diff_mm": hi_m - hi_r,
                "dice_template": r.dice_template,
                "ncc_template": r.ncc_template,
                **{c: r.get(c) for c in step_seconds},
            }
        )
    table = pd.DataFrame(rows)
    table.to_csv(args.work / "benchmark_per_subject.csv", index=False)
    seconds = [c for c in table.columns if c.startswith("seconds_")]
    timing = (
        table[seconds].describe(percentiles=[0.5]).T[["mean", "50%", "min", "max"]].rename(columns={"50%": "median"})
    )
    timing.loc["seconds_total"] = (
        table[seconds].sum(axis=1).describe(percentiles=[0.5])[["mean", "50%", "min", "max"]].to_numpy()
    )
    quality = table[
        ["dice_vs_reference", "dice_template", "ncc_template", "inferior_extent_diff_mm", "extra_ml", "missed_ml"]
    ]
    qual = quality.describe(percentiles=[0.05, 0.5]).T[["mean", "min", "5%", "50%", "max"]]
    worst = table.nsmallest(5, "dice_vs_reference")[
        ["subject_id", "dice_vs_reference", "extra_ml", "missed_ml", "inferior_extent_diff_mm"]
    ]
    worst_reg = table.nsmallest(5, "ncc_template")[["subject_id", "ncc_template", "dice_template"]]
    cache = sorted((args.work / "cache" / "2mm").glob("*.npy"))
    cache_kb = float(np.mean([p.stat().st_size for p in cache]) / 1024) if cache else float("nan")
    print(
        f"{len(table)} of {len(report)} scans preprocessed ({(report.status != 'ok').sum()} failed); "
        f"wall {wall:.0f} s with {args.workers} workers (0 if resumed)"
    )
    print("\nseconds per subject and step (one worker's view; steps.json):\n" + timing.round(2).to_string())
    print("\nquality:\n" + qual.round(3).to_string())
    print("\nworst five brain masks:\n" + worst.round(3).to_string(index=False))
    print("\nworst five registrations:\n" + worst_reg.round(3).to_string(index=False))
    print(f"\ncache: {cache_kb:.0f} KiB per subject (uint8 80x96x80, 2 mm)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "preprocess",
                "recipe": args.recipe,
                "config": to_dict(config),
                "machine": machine_info(),
                "n_scans": int(len(report)),
                "n_ok": int(len(table)),
                "workers": args.workers,
                "wall_seconds_this_run": round(wall, 1),
                "seconds_per_step": timing.round(3).to_dict(orient="index"),
                "quality": qual.round(4).to_dict(orient="index"),
                "worst_dice": worst.round(4).to_dict(orient="records"),
                "worst_registration": worst_reg.round(4).to_dict(orient="records"),
                "cache_kib_per_subject": round(cache_kb, 1),
            },
            indent=2,
        )
    )
    print(f"saved {args.json}")


if __name__ == "__main__":
    main()
