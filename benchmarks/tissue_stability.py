"""Same brain, same tissue volumes? Each tissue segmentation refitted on the invariance renditions.

The tissue fractions are what the ridge reads and half of what the shipped CNN reads, so a fit that
blur, noise or another contrast moves by tens of ml is an input the model has to learn to ignore.
This refits every segmentation named (:data:`~brainage.preprocess.recipes.SEGMENTATION_METHODS`)
on the brains of an ``invariance.py`` work folder, each stored and acquired other ways and already
preprocessed up to the segmentation (bias-corrected brain, brain mask, registration), and reports
per rendition the mean change of each tissue's volume from the same brain's original file, and the
root mean square over all renditions. The already skull-stripped and the defaced renditions are left
out: their brain masks differ by design, so their volumes measure brain extraction, not the fit.
Printed, and written with the machine to ``benchmarks/results/tissue_stability_<name>.json``.

    python benchmarks/tissue_stability.py --work /work/runs/invariance --recipe f82f1b0a04def21d \\
        --segmentations "partial-volume" "partial-volume prior" --name scanner_robust_0.10
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from _machine import machine_info
from invariance import ORIGINAL, read_rendition_table

from brainage.layout import PreprocessedDir
from brainage.preprocess.recipes import SEGMENTATION_METHODS
from brainage.preprocess.steps import TISSUES, segment

RESULTS = Path(__file__).parent / "results"
#: Renditions whose brain mask differs by design (see the module docstring).
OTHER_MASKS = ("skull_stripped", "defaced")


def renditions(work: Path) -> pd.DataFrame:
    """The work folder's renditions (``invariance.py`` writes their table): subject, brain and variant."""
    table = read_rendition_table(work)
    return table[~table.variant.isin(OTHER_MASKS)]


def volumes(pre: PreprocessedDir, subject_id: str, method: str) -> dict:
    """Each tissue's volume (ml) of one preprocessed scan, segmented by ``method``, and the seconds it took."""
    folder = pre.subject(subject_id)
    brain = nib.load(str(folder.brain_n4))
    mask = nib.load(str(folder.brain_mask)).get_fdata() > 0
    start = time.perf_counter()
    maps = segment(brain, mask, folder.to_mni_affine, method).get_fdata(dtype=np.float32)
    seconds = time.perf_counter() - start
    voxel_ml = float(np.prod(brain.header.get_zooms()[:3])) / 1000
    return {**dict(zip(TISSUES, maps.sum(axis=(0, 1, 2)) * voxel_ml)), "seconds": seconds}


def changes(table: pd.DataFrame) -> pd.DataFrame:
    """Each scan's change of every tissue's volume from its brain's original file, per method."""
    original = table[table.variant == ORIGINAL].set_index(["brain", "method"])[list(TISSUES)]
    moved = table.merge(original, left_on=["brain", "method"], right_index=True, suffixes=("", "_original"))
    for tissue in TISSUES:
        moved[f"change_{tissue}"] = moved[tissue] - moved[f"{tissue}_original"]
    return moved[moved.variant != ORIGINAL]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="an invariance.py --work folder")
    parser.add_argument("--recipe", required=True, help="its pre_<fingerprint> folder to refit (the fingerprint)")
    parser.add_argument(
        "--segmentations", nargs="+", default=["partial-volume", "partial-volume prior"], choices=SEGMENTATION_METHODS
    )
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    pre = PreprocessedDir(args.work / f"pre_{args.recipe}")
    table = renditions(args.work)
    rows = [
        {
            "subject_id": r.subject_id,
            "brain": r.brain,
            "variant": r.variant,
            "method": method,
            **volumes(pre, r.subject_id, method),
        }
        for r in table.itertuples()
        for method in args.segmentations
    ]
    moved = changes(pd.DataFrame(rows))
    columns = [f"change_{t}" for t in TISSUES]
    per_variant = moved.groupby(["variant", "method"])[columns].mean().unstack("method")
    rms = moved.groupby("method")[columns].agg(lambda x: float(np.sqrt(np.mean(np.square(x)))))
    means = pd.DataFrame(rows).query("variant == @ORIGINAL").groupby("method")[list(TISSUES)].mean()
    seconds = pd.DataFrame(rows).groupby("method").seconds.mean()
    pd.set_option("display.width", 200)
    print("mean change of each tissue's volume from the same brain's original file (ml):")
    print(per_variant.round(1).to_string())
    print("\nroot mean square over every rendition (ml):")
    print(rms.round(1).to_string())
    print("\nvolumes of the original files, mean (ml):")
    print(means.round(0).to_string())
    print("\nseconds a fit: " + ", ".join(f"{m} {s:.1f}" for m, s in seconds.items()))
    result = {
        "benchmark": "tissue_stability",
        "name": args.name,
        "preprocessing": str(pre.root),
        "brains": sorted(table.brain.unique()),
        "left_out": list(OTHER_MASKS),
        "machine": machine_info(),
        "rms_change_ml": {m: {t: rms.loc[m, f"change_{t}"] for t in TISSUES} for m in rms.index},
        "original_volumes_ml": {m: means.loc[m].to_dict() for m in means.index},
        "seconds_a_fit": seconds.to_dict(),
        "mean_change_ml": {
            variant: {
                m: {t: float(per_variant.loc[variant, (f"change_{t}", m)]) for t in TISSUES} for m in args.segmentations
            }
            for variant in per_variant.index
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"tissue_stability_{args.name}.json").write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
