"""Rebuild the QC files that ship in ``src/brainage/bundled`` from the QC benchmark's clean scans.

1. ``orientation``: the mean clean head and brain and the left-right weights
   (``qc_orientation.npz``), from the **even-numbered** subjects of an IXI-HH preprocessing
   folder only, so that the benchmark's odd-numbered subjects test them honestly. Run before
   measuring. (Shipped: the 94 even-numbered IXI-HH-180 subjects of ``brainage preprocess``.)
2. ``reference``: the normative reference (``qc_reference_ixi_hh.json``) from **every** clean
   IXI-HH head measured by ``benchmarks/qc.py`` (its ``metrics.csv``). Scans that fail against a
   first reference of all of them are left out and listed with their reasons, and the
   statistics recomputed without them.

    python benchmarks/qc_ship.py orientation --preprocessed results/ixi/pre
    python benchmarks/qc.py --work /tmp/brainage-qc-bench --remeasure
    python benchmarks/qc_ship.py reference --work /tmp/brainage-qc-bench
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from brainage.qc.orientation import fit_orientation
from brainage.qc.reference import Reference, measured
from brainage.qc.rules import judge
from brainage.resources import QC_ORIENTATION, QC_REFERENCE

NAME = "IXI-HH clean heads"
DESCRIPTION = (
    "IXI dataset, Hammersmith Hospital (Philips 3 T), T1-weighted heads downsampled to 2 mm, preprocessed "
    "by brainage with default settings; scans failing a first pass left out (see exclusions). "
    "IXI data: CC BY-SA 3.0, brain-development.org/ixi-dataset"
)


def ship_orientation(preprocessed: Path) -> None:
    clean = sorted((preprocessed / "subjects").iterdir())
    even = [d for d in clean if int(d.name[3:6]) % 2 == 0 and (d / "to_mni_affine.mat").exists()]
    model = fit_orientation(even)
    model.save(QC_ORIENTATION)
    print(f"{QC_ORIENTATION}: {model.n_subjects} even-numbered subjects")


def ship_reference(work: Path) -> None:
    metrics = pd.read_csv(work / "metrics.csv", dtype={"subject_id": str})
    metrics = measured(metrics)
    metrics = metrics[~metrics.subject_id.str.contains("-")]  # the clean heads, not the broken copies
    first = Reference.build(metrics, NAME, DESCRIPTION)
    verdicts = judge(metrics, first)
    failed = verdicts[verdicts.verdict == "fail"]
    reference = Reference.build(metrics, NAME, DESCRIPTION, dict(zip(failed.subject_id, failed.reasons)))
    reference.save(QC_REFERENCE)
    print(f"{QC_REFERENCE}: {len(reference.subjects)} scans, {len(reference.exclusions)} left out")
    for sid, why in reference.exclusions.items():
        print(f"  {sid}: {why}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["orientation", "reference"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/brainage-qc-bench"), help="the QC benchmark's folder")
    ap.add_argument(
        "--preprocessed",
        type=Path,
        default=None,
        help="orientation: an IXI-HH preprocessing folder (default WORK/clean)",
    )
    args = ap.parse_args()
    if args.what == "orientation":
        ship_orientation(args.preprocessed or args.work / "clean")
    else:
        ship_reference(args.work)


if __name__ == "__main__":
    main()
