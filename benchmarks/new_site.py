"""A "new site" for a bundle, and the speed of ``brainage predict``, on real IXI-HH scans.

The bundle is exported from one cross-validation fold of a ``brainage train`` run (``--fold``),
so that fold's subjects are scans it has never seen. They are re-stored as another site would
store them: resampled to 1.6 x 1.6 x 2.4 mm, the voxel axes in another order (another stored
orientation), intensities on another scale with a gamma of 0.85. ``brainage finetune`` then
predicts them, keeps half apart (stratified by age) and scores on that half: the bundle as
shipped, recalibrated (offset; offset and slope) and fine-tuned on the other half.

Speed: ``brainage predict`` on the same scans from NIfTI (batch throughput, and one scan alone)
and from a folder of DICOM series written from them (dcm2niix conversion included).

Example:
    python benchmarks/new_site.py --run /work/runs/ixi/models/ensemble_bf16_seeds --fold 4 \
        --manifest /work/runs/ixi/manifest.csv --folds /work/runs/ixi/splits/folds.csv --out /work/runs/new_site
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from _machine import machine_info
from nibabel.processing import resample_to_output

from brainage.bundle.export import export_bundle
from brainage.parallel import Executor
from brainage.predict.run import predict_files
from brainage.predict.site import finetune_site
from brainage.training.finetune import FinetuneConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the DICOM writer is a test helper
from tests.dicom import write_dicom_series  # noqa: E402

RESULTS = Path(__file__).parent / "results"
NEW_VOXEL_MM = (1.6, 1.6, 2.4)


def restore_as_new_site(source: str, target: Path) -> None:
    """Another scanner's file: other voxel size, other axis order, other intensity scale."""
    img = resample_to_output(nib.load(source), NEW_VOXEL_MM, order=3)
    data = np.clip(img.get_fdata(dtype=np.float32), 0, None)
    data = 1800 * (data / np.percentile(data, 99.5)) ** 0.85
    # Store axes as (y, x, z): the same head, another stored orientation.
    swap = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float)
    nib.save(nib.Nifti1Image(np.transpose(data, (1, 0, 2)).astype(np.int16), img.affine @ swap), str(target))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path)
    p.add_argument("--fold", type=int, default=4)
    p.add_argument("--manifest", required=True, type=Path)
    p.add_argument("--folds", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--dicom-subjects", type=int, default=4)
    args = p.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    bundle_path = out / f"fold{args.fold}.brainage"
    if not bundle_path.is_file():
        export_bundle(args.run, bundle_path, fold=args.fold, name=f"{args.run.name}-fold{args.fold}")
    folds = pd.read_csv(args.folds, dtype={"subject_id": str})
    manifest = pd.read_csv(args.manifest, dtype={"subject_id": str})
    site = manifest[manifest.subject_id.isin(folds.subject_id[folds.fold == args.fold]) & manifest.included]
    scans = out / "site_scans"
    scans.mkdir(exist_ok=True)
    rows = []
    for r in site.itertuples():
        target = scans / f"{r.subject_id}.nii.gz"
        if not target.is_file():
            restore_as_new_site(r.t1_path, target)
        rows.append({"subject_id": r.subject_id, "path": str(target), "age": r.age, "sex": r.sex, "site": "NEW"})
    table = pd.DataFrame(rows)
    table.to_csv(out / "site.csv", index=False)
    executor = Executor(workers=args.workers)
    for previous in ("site", "speed_nifti", "speed_single", "speed_dicom"):  # timings start from raw scans
        shutil.rmtree(out / previous, ignore_errors=True)

    start = time.perf_counter()
    metrics = finetune_site(bundle_path, out / "site.csv", out / "site", FinetuneConfig(method="offset"), executor)
    finetune_seconds = time.perf_counter() - start
    info = json.loads((out / "site" / "predict" / "predict_info.json").read_text())

    few = table.head(args.dicom_subjects)
    few.to_csv(out / "few.csv", index=False)
    timings = {}
    start = time.perf_counter()
    predict_files(out / "few.csv", out / "speed_nifti", bundle_path, executor, pictures=True)
    timings["nifti_batch"] = (time.perf_counter() - start) / len(few)
    start = time.perf_counter()  # one scan, as a user types it: the command's start-up included
    subprocess.run(
        [
            sys.executable,
            "-m",
            "brainage.cli",
            "predict",
            few.path.iloc[0],
            "--out",
            str(out / "speed_single"),
            "--model",
            str(bundle_path),
        ],
        check=True,
    )
    timings["nifti_single_command"] = time.perf_counter() - start
    dicom = out / "dicom"
    if not dicom.is_dir():
        for i, r in enumerate(few.itertuples()):
            write_dicom_series(r.path, dicom, series_number=i + 1, description=f"T1 {r.subject_id}")
    start = time.perf_counter()
    predict_files(dicom, out / "speed_dicom", bundle_path, executor, pictures=True)
    timings["dicom_batch"] = (time.perf_counter() - start) / len(few)

    print(f"\nnew site: {len(table)} IXI-HH scans of fold {args.fold}, re-stored at {NEW_VOXEL_MM} mm")
    print(metrics[["model", "n", "mae", "pearson_r", "mean_signed_error"]].round(3).to_string(index=False))
    print(
        f"\npredict seconds per scan: all {len(table)} from NIfTI {info['seconds'] / len(table):.1f} "
        f"({args.workers} workers); {len(few)} from NIfTI {timings['nifti_batch']:.1f}; one alone "
        f"{timings['nifti_single_command']:.1f}; {len(few)} from DICOM {timings['dicom_batch']:.1f}"
    )
    result = {
        "machine": machine_info(),
        "bundle": str(bundle_path),
        "fold": args.fold,
        "n_site": len(table),
        "new_voxel_mm": NEW_VOXEL_MM,
        "holdout_metrics": metrics.to_dict("records"),
        "predict_seconds_per_scan": {"site_batch_nifti": info["seconds"] / len(table), **timings},
        "workers": args.workers,
        "finetune_command_seconds": finetune_seconds,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "new_site_cpu.json").write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
