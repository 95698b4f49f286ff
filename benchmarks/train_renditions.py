"""One rendition of every training scan, preprocessed: training data for invariance.

Each included subject of an ingest manifest is rendered once, in turn, as one of the acquisition
renditions of the invariance benchmark (:mod:`brainage.data.variants`: re-stored at 1 mm, 4 mm
slices along each axis, a 3 mm acquisition, gamma 0.7 / 1.4, 5 % Rician noise, a grey/white
contrast change; the last needs the subject's DLMUSE labels), and the renditions are preprocessed
with a given recipe into ``OUT/pre`` (subject ``<id>-r``, the source's age and sex).
``benchmarks/invariance_probe.py --train-renditions OUT/pre/cache/2mm`` trains on the originals
plus these, each rendition in its source subject's fold, never in a test fold.

Renditions are kept between runs; preprocessing resumes.

Example:
    python benchmarks/train_renditions.py --manifest /work/runs/ixi/manifest.csv \\
        --labels ../shared/data/ixi-hh/labels --config /work/runs/ixi/pre_anchor/preprocess_config.yaml \\
        --out /work/runs/train_renditions
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nibabel as nib
import pandas as pd
from invariance import label_path, tissue_labels

from brainage.config import load_config
from brainage.data.manifest import make_manifest, read_manifest, write_manifest
from brainage.data.variants import VARIANTS
from brainage.files import atomic_path
from brainage.parallel import Executor
from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest

#: The renditions dealt out over the training scans, in turn (acquisition family and 1 mm re-storage).
KINDS = (
    "restored_1mm",
    "thick_slices_left-right",
    "thick_slices_front-back",
    "thick_slices_top-bottom",
    "low_resolution",
    "gamma_0.7",
    "gamma_1.4",
    "noise_5pct",
    "tissue_contrast",
)


def render_training_scans(manifest: pd.DataFrame, labels: Path, scans: Path) -> list[dict]:
    """One rendition file per included subject (shuffled with a fixed seed, kinds in turn)."""
    names = pd.read_csv(labels.parent / "dlmuse_labels.csv").set_index("label")["name"]
    rows = []
    for k, r in enumerate(manifest[manifest.included].sample(frac=1, random_state=0).itertuples()):
        kind = KINDS[k % len(KINDS)]
        path = scans / f"{r.subject_id}_{kind}.nii.gz"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            img, tissue = nib.load(r.t1_path), tissue_labels(label_path(r.t1_path, labels), names)
            with atomic_path(path) as tmp:
                nib.save(VARIANTS[kind](img, tissue, rng=7000 + k), str(tmp))
        rows.append(
            {
                "subject_id": f"{r.subject_id}-r",
                "t1_path": str(path),
                "age": r.age,
                "sex": r.sex,
                "site": r.site,
                "variant": kind,
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True, type=Path, help="ingest manifest of the training scans")
    p.add_argument("--labels", required=True, type=Path, help="the IXI-HH DLMUSE label folder")
    p.add_argument("--config", required=True, type=Path, help="preprocess_config.yaml of the recipe to use")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    rows = render_training_scans(read_manifest(args.manifest), args.labels, args.out / "scans")
    args.out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out / "renditions.csv", index=False)
    write_manifest(
        make_manifest([{k: v for k, v in r.items() if k != "variant"} for r in rows]), args.out / "manifest.csv"
    )
    config = load_config(PreprocessConfig, args.config)
    preprocess_manifest(args.out / "manifest.csv", args.out / "pre", config, Executor(workers=args.workers))


if __name__ == "__main__":
    main()
