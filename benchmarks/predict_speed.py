"""How long `brainage predict` takes for one hospital-resolution (1 mm) scan, from raw NIfTI.

Hospital T1s are about 1 mm; every IXI-HH scan is 2 mm. The input is an IXI-HH head re-stored at
1 mm isotropic (``brainage.data.variants.Restored1mm``: the same brain, a 1 mm file), run through
`brainage predict` once alone and once in a batch of ``--batch`` such scans, with each bundle
given (default: the shipped model). A bundle whose recipe works at one canonical resolution
(``--working-voxel-mm 2``) preprocesses the 1 mm file at 2 mm; the shipped model's recipe works at
the stored resolution. The one-scan run is timed twice: as a ``predict_files()`` call in a process that
has imported brainage, and as the ``brainage predict`` command a user types (a fresh process, with
QC pictures and the report). Target (issue "hospital export"): one scan <= 20 s wall, batches
<= 10 s a scan, on the 2-core CPU.

    python benchmarks/predict_speed.py --ixi ../shared/data/ixi-hh --work /tmp/predict-speed \
        [--bundle other.brainage ...] [--batch 4]
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
import pandas as pd
from _machine import machine_info

from brainage.bundle.bundle import default_bundle_path, load_bundle
from brainage.data.variants import VARIANTS
from brainage.parallel import Executor
from brainage.predict.run import predict_files

RESULTS = Path(__file__).resolve().parent / "results"


def one_mm_scans(ixi: Path, work: Path, n: int) -> list[Path]:
    """``n`` IXI-HH heads re-stored at 1 mm (made once, kept in ``work``)."""
    out = []
    for source in sorted((ixi / "T1").glob("*-T1.nii.gz"))[:n]:
        target = work / "inputs" / source.name.replace("-T1.nii.gz", "-T1-1mm.nii.gz")
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            nib.save(VARIANTS["restored_1mm"](nib.load(str(source)), None, 0), str(target))  # needs no tissue map
        out.append(target)
    return out


def timed_predict(inputs: list[Path], bundle: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    folder = out.parent / f"{out.name}_inputs"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in inputs:
        (folder / path.name).symlink_to(path)
    start = time.perf_counter()
    table = predict_files(folder, out, load_bundle(bundle), Executor(workers=2), pictures=False)
    seconds = time.perf_counter() - start
    steps = pd.read_csv(out / "preprocessed" / "preprocess_report.csv").filter(like="seconds_").median().round(2)
    return {
        "n_scans": len(inputs),
        "n_predicted": int(table.predicted_age.notna().sum()),
        "wall_seconds": round(seconds, 1),
        "seconds_per_scan": round(seconds / len(inputs), 1),
        "median_step_seconds": steps.to_dict(),
    }


def timed_command(scan: Path, bundle: Path, out: Path) -> dict:
    """``brainage predict`` as a user types it: a fresh process (imports included), QC pictures
    and the HTML report."""
    shutil.rmtree(out, ignore_errors=True)
    folder = out.parent / f"{out.name}_inputs"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / scan.name).symlink_to(scan)
    command = [sys.executable, "-m", "brainage.cli", "predict", str(folder), "--out", str(out), "--model", str(bundle)]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    return {"n_scans": 1, "wall_seconds": round(seconds, 1), "seconds_per_scan": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ixi", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, action="append", help="bundles to time (default: the shipped model)")
    parser.add_argument("--batch", type=int, default=4, help="scans in the batch run (default: 4)")
    args = parser.parse_args()
    scans = one_mm_scans(args.ixi, args.work, args.batch)
    rows = []
    for bundle in args.bundle or [default_bundle_path()]:
        recipe = load_bundle(bundle).meta.preprocessing["config"]
        for kind, inputs in (("one scan", scans[:1]), (f"batch of {len(scans)}", scans)):
            result = timed_predict(inputs, bundle, args.work / f"{bundle.stem}_{len(inputs)}")
            rows.append(
                {"bundle": bundle.name, "working_voxel_mm": recipe.get("working_voxel_mm"), "run": kind, **result}
            )
        command = timed_command(scans[0], bundle, args.work / f"{bundle.stem}_command")
        rows.append({"bundle": bundle.name, "run": "one scan, `brainage predict` command", **command})
        for row in rows[-3:]:
            seconds = f"{row['wall_seconds']:7.1f} s  {row['seconds_per_scan']:6.1f} s/scan"
            print(f"{row['bundle']:30s} {row['run']:38s} {seconds}")
    out = RESULTS / "predict_speed.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "predict_speed_1mm",
                "machine": machine_info(),
                "input": "IXI-HH heads re-stored at 1 mm isotropic",
                "results": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
