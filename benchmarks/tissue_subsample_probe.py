"""How far does the partial-volume fit's random subsample alone move the shipped model's age?

The partial-volume tissue model (``brainage.preprocess.tissue``, ``fit="subsample"``) is fitted on
a fixed-seed random 40,000 of the brain's voxels. Here the same scans, with the same brain masks,
N4 and registration, get their tissue fractions refitted on other subsamples (``--seeds``), and
the bundle predicts each: the within-brain SD over seeds is the noise the subsample puts on an
age. ``--pre`` is a preprocessing made with the bundle's own recipe (e.g. a ``storage_probe.py``
work folder's ``pre_<fingerprint>``); only its ``*-original`` subjects are used (all, if none).

    python benchmarks/tissue_subsample_probe.py --pre W/pre_f82f1b0a04def21d --work W2 --name shipped
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import time
from pathlib import Path

import pandas as pd
from _machine import machine_info

from brainage.bundle.bundle import load_bundle
from brainage.data.manifest import read_manifest, write_manifest
from brainage.layout import PreprocessedDir
from brainage.parallel import Executor
from brainage.preprocess import steps
from brainage.preprocess.cache import read_cache_index
from brainage.preprocess.pipeline import preprocess_manifest
from brainage.preprocess.tissue import partial_volume_fractions

RESULTS = Path(__file__).resolve().parent / "results"


def refit(source: PreprocessedDir, subjects: pd.DataFrame, out: Path, bundle, seed: int) -> pd.Series:
    """The subjects' predicted ages with tissue fractions fitted on subsample ``seed``; every step
    before the segmentation copied from ``source``, so only the subsample differs."""
    tissue_outputs = ("tissue_probs.nii.gz", "tissue_mni_2mm.nii.gz")
    if not out.exists():
        for sid in subjects.subject_id:
            shutil.copytree(source.root / "subjects" / sid, out / "subjects" / sid)
            for name in tissue_outputs:  # missing outputs make the pipeline redo the segmentation
                (out / "subjects" / sid / name).unlink(missing_ok=True)
    write_manifest(subjects, out / "manifest.csv")
    # in this process, so the seed reaches the step (the step itself always fits seed 0)
    steps.partial_volume_fractions = functools.partial(partial_volume_fractions, seed=seed)
    try:
        preprocess_manifest(out / "manifest.csv", out, bundle.preprocess_config, Executor(workers=1, isolate=False))
    finally:
        steps.partial_volume_fractions = partial_volume_fractions
    index = read_cache_index(PreprocessedDir(out).cache(bundle.grid).root)
    return pd.Series(bundle.predict(index).predicted_age.to_numpy(), index=index.subject_id.to_numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pre", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    bundle = load_bundle(args.bundle)
    source = PreprocessedDir(args.pre)
    manifest = read_manifest(source.manifest)
    originals = manifest[manifest.subject_id.str.endswith("-original")]
    subjects = originals if len(originals) else manifest
    seeds = [int(s) for s in args.seeds.split(",")]
    table = pd.DataFrame({seed: refit(source, subjects, args.work / f"seed_{seed}", bundle, seed) for seed in seeds})
    spread = table.max(axis=1) - table.min(axis=1)
    result = {
        "benchmark": "tissue_subsample_probe",
        "name": args.name,
        "machine": machine_info(),
        "bundle": bundle.meta.name,
        "n_scans": len(table),
        "seeds": seeds,
        "within_scan_sd_years_mean": float(table.std(axis=1).mean()),
        "within_scan_sd_years_max": float(table.std(axis=1).max()),
        "largest_range_years": float(spread.max()),
        "predicted_age": {str(k): v for k, v in table.round(3).to_dict(orient="index").items()},
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(table.round(2).to_string())
    print(
        f"within-scan SD over {len(seeds)} subsamples: mean {result['within_scan_sd_years_mean']:.2f} y, "
        f"largest {result['within_scan_sd_years_max']:.2f} y; largest range {result['largest_range_years']:.2f} y"
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"tissue_subsample_probe_{args.name}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
