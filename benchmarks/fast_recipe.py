"""What the fast schedules of the scanner-robust recipe cost in accuracy, on real IXI-HH brains.

For each brain of a preprocessed folder (its brain-extracted, bias-corrected brain and its mask),
the affine registration to MNI is run with antspyx's schedule and without its full-resolution
level (``AFFINE_ITERATIONS`` / ``AFFINE_ITERATIONS_FAST``): seconds, correlation with the template,
and how far the brain's voxels land apart (mm). And N4 with 50 and 25 iterations a level
(``N4_ITERATIONS`` / ``N4_ITERATIONS_FAST``) on the head as stored and with a known 1.5x field put
on it: how far apart the two corrected heads are (%), the field's own spread for scale.

    python benchmarks/fast_recipe.py --pre results/ixi/pre --brains 8

Prints a table and writes ``benchmarks/results/fast_recipe.json`` with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")  # as brainage's workers run ANTs

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
from _machine import machine_info  # noqa: E402

from brainage.layout import PreprocessedDir  # noqa: E402
from brainage.preprocess.ops import (  # noqa: E402
    bias_correct,
    read_affine_transform,  # noqa: E402
    register_affine,
)
from brainage.preprocess.recipes import (  # noqa: E402
    AFFINE_ITERATIONS,
    AFFINE_ITERATIONS_FAST,
    N4_ITERATIONS,
    N4_ITERATIONS_FAST,
)

RESULTS = Path(__file__).resolve().parent / "results"


def registration(folder, schedules: dict) -> dict:
    """Seconds, template correlation and MNI positions of the brain's voxels per schedule."""
    brain = nib.load(str(folder.brain_n4))
    mask = nib.load(str(folder.brain_mask))
    native = nib.affines.apply_affine(mask.affine, np.argwhere(mask.get_fdata() > 0)[::10]) * [-1, -1, 1]  # LPS
    out = {}
    for name, iterations in schedules.items():
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            found = register_affine(brain, Path(tmp) / "t.mat", iterations=iterations)
            seconds = time.perf_counter() - start
            to_mni = np.linalg.inv(read_affine_transform(Path(tmp) / "t.mat"))
        out[name] = {
            "seconds": seconds,
            "ncc": found["ncc_template"],
            "points": native @ to_mni[:3, :3].T + to_mni[:3, 3],
        }
    return out


def n4(folder, schedules: dict) -> dict:
    """Per schedule: seconds, and how far the head with a known 1.5x field comes out of N4 from the
    head as stored (mean |ratio - 1| inside the brain, %)."""
    img = nib.load(str(folder.t1_ras))
    mask = nib.load(str(folder.brain_mask)).get_fdata() > 0
    data = img.get_fdata(dtype=np.float32)
    ijk = np.indices(data.shape).astype(np.float32)
    field = (1.5 ** (sum(ijk[a] / data.shape[a] for a in range(3)) / 3 - 0.5)).astype(np.float32)
    inside = mask & (data > np.percentile(data[mask], 5))
    out = {}
    for name, iterations in schedules.items():
        start = time.perf_counter()
        clean, _ = bias_correct(img, mask, scale="brain median", iterations=iterations)
        seconds = time.perf_counter() - start
        biased, _ = bias_correct(
            nib.Nifti1Image(data * field, img.affine), mask, scale="brain median", iterations=iterations
        )
        a, b = clean.get_fdata()[inside], biased.get_fdata()[inside]
        ratio = (b / a) / np.median(b / a)
        out[name] = {"seconds": seconds, "residual_percent": float(100 * np.mean(np.abs(ratio - 1)))}
    out["field_spread_percent"] = float(100 * np.mean(np.abs(field[inside] / np.median(field[inside]) - 1)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pre", type=Path, required=True, help="a `brainage preprocess` folder of IXI-HH scans")
    ap.add_argument("--brains", type=int, default=8)
    ap.add_argument("--json", type=Path, default=RESULTS / "fast_recipe.json")
    args = ap.parse_args()
    root = PreprocessedDir(args.pre)
    subjects = sorted(p.name for p in (args.pre / "subjects").iterdir() if "~" not in p.name)
    chosen = subjects[:: max(1, len(subjects) // args.brains)][: args.brains]
    rows = []
    for sid in chosen:
        folder = root.subject(sid)
        reg = registration(folder, {"antspyx": AFFINE_ITERATIONS, "fast": AFFINE_ITERATIONS_FAST})
        moved = np.sqrt(((reg["fast"]["points"] - reg["antspyx"]["points"]) ** 2).sum(axis=1))
        bias = n4(folder, {"antspyx": N4_ITERATIONS, "fast": N4_ITERATIONS_FAST})
        row = {
            "subject_id": sid,
            "register_seconds": {k: round(reg[k]["seconds"], 2) for k in ("antspyx", "fast")},
            "ncc_template": {k: reg[k]["ncc"] for k in ("antspyx", "fast")},
            "moved_mm_mean": round(float(moved.mean()), 3),
            "moved_mm_max": round(float(moved.max()), 3),
            "n4_seconds": {k: round(bias[k]["seconds"], 2) for k in ("antspyx", "fast")},
            "n4_residual_percent": {k: round(bias[k]["residual_percent"], 3) for k in ("antspyx", "fast")},
            "field_spread_percent": round(bias["field_spread_percent"], 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    def mean(key, sub=None):
        return round(float(np.mean([r[key][sub] if sub else r[key] for r in rows])), 3)

    summary = {
        "register_seconds": {k: mean("register_seconds", k) for k in ("antspyx", "fast")},
        "ncc_template": {k: mean("ncc_template", k) for k in ("antspyx", "fast")},
        "moved_mm_mean": mean("moved_mm_mean"),
        "moved_mm_max": round(float(max(r["moved_mm_max"] for r in rows)), 3),
        "n4_seconds": {k: mean("n4_seconds", k) for k in ("antspyx", "fast")},
        "n4_residual_percent": {k: mean("n4_residual_percent", k) for k in ("antspyx", "fast")},
        "field_spread_percent": mean("field_spread_percent"),
    }
    lines = [
        ("registration seconds", summary["register_seconds"]["antspyx"], summary["register_seconds"]["fast"]),
        ("template correlation", summary["ncc_template"]["antspyx"], summary["ncc_template"]["fast"]),
        ("N4 seconds", summary["n4_seconds"]["antspyx"], summary["n4_seconds"]["fast"]),
        ("N4 residual of a 1.5x field (%)", *summary["n4_residual_percent"].values()),
    ]
    print(f"\n{len(rows)} brains{'':27s} antspyx   fast")
    for name, before, after in lines:
        print(f"{name:34s} {before:8.3f} {after:6.3f}")
    print(
        f"brain moved by the fast registration: {summary['moved_mm_mean']:.2f} mm on average, "
        f"{summary['moved_mm_max']:.2f} at most"
    )
    print(f"(the 1.5x field itself: {summary['field_spread_percent']:.1f} % from its median inside the brain)")
    record = {"benchmark": "fast_recipe", "machine": machine_info(), "summary": summary, "brains": rows}
    args.json.write_text(json.dumps(record, indent=2))
    print(f"saved {args.json}")


if __name__ == "__main__":
    main()
