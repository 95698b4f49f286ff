"""QC benchmark: inject known failures into real IXI-HH scans and measure what QC flags.

Failure kinds (brainage.qc.inject): cut field of view, Nyquist ghosting, low SNR, wrong
orientation header, strong bias field, already-stripped images with neck/brainstem tissue left
on, and with skull left on; plus correctly stripped images as a clean control. Injected scans are
judged together with the clean cohort (as in real use, where failures are a minority of a site).

Honesty: QC limits were set on the synthetic cohort and on even-numbered IXI IDs; injected scans
and the reported clean false-flag rate use odd-numbered IDs only.

    python benchmarks/qc.py --ixi ../shared/data/ixi-hh --work /tmp/qcbench --per-kind 8
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from _machine import machine_info
from brainage.data.ingest_ixi import ingest_ixi
from brainage.data.manifest import make_manifest, write_manifest
from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest
from brainage.parallel import Executor
from brainage.preprocess.ops import reorient
from brainage.data import inject
from brainage.qc.run import run_qc

KINDS = list(inject.HEAD_FAILURES) + list(inject.STRIPPED_FAILURES) + ["stripped_clean"]


def make_injected(manifest: pd.DataFrame, ixi: Path, out: Path, per_kind: int, seed: int) -> pd.DataFrame:
    """Write ``per_kind`` injected scans of each kind from odd-numbered subjects; return their manifest."""
    rng = np.random.default_rng(seed)
    odd = manifest[manifest.included & (manifest.subject_id.str[3:].astype(int) % 2 == 1)].reset_index(drop=True)
    rows = []
    for kind in KINDS:
        picks = odd.iloc[rng.choice(len(odd), per_kind, replace=False)]
        for _, sub in picks.iterrows():
            img = reorient(sub.t1_path)[0]
            data = img.get_fdata(dtype=np.float32)
            if kind in inject.HEAD_FAILURES:
                data, affine = inject.HEAD_FAILURES[kind](data, img.affine, rng=int(rng.integers(1 << 31)))
            else:
                label_path = ixi / "labels" / Path(sub.t1_path).name.replace("-T1.nii", "-DLMUSE.nii")
                brain = reorient(label_path)[0].get_fdata() > 0
                fn = inject.stripped if kind == "stripped_clean" else inject.STRIPPED_FAILURES[kind]
                data, affine = fn(data, img.affine, brain_mask=brain)
            sid = f"{sub.subject_id}-{kind}"
            path = out / f"{sid}.nii.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(data.astype(np.float32), affine), str(path))
            rows.append({"subject_id": sid, "age": sub.age, "sex": sub.sex, "site": sub.site, "t1_path": str(path),
                         "source": kind})
    return make_manifest(rows)


def combine(clean_pre: Path, injected_pre: Path, out: Path) -> Path:
    """One folder holding both runs' subjects (symlinks) so QC judges them as one site."""
    (out / "subjects").mkdir(parents=True, exist_ok=True)
    reports, manifests = [], []
    for pre in (clean_pre, injected_pre):
        for d in (pre / "subjects").iterdir():
            link = out / "subjects" / d.name
            if not link.exists():
                link.symlink_to(d.resolve())
        reports.append(pd.read_csv(pre / "preprocess_report.csv", dtype={"subject_id": str}))
        manifests.append(pd.read_csv(pre / "manifest.csv", dtype={"subject_id": str}))
    pd.concat(reports).to_csv(out / "preprocess_report.csv", index=False)
    pd.concat(manifests).to_csv(out / "manifest.csv", index=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ixi", type=Path, default=Path("../shared/data/ixi-hh"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/brainage-qc-bench"))
    ap.add_argument("--clean-pre", type=Path, default=None, help="existing preprocess of all IXI-HH scans (reused)")
    ap.add_argument("--per-kind", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "qc_cpu.json")
    args = ap.parse_args()
    os.environ.setdefault("BRAINAGE_NO_PROGRESS", "1")
    start = time.time()
    manifest, _ = ingest_ixi(args.ixi, check=False)
    clean_pre = args.clean_pre or args.work / "clean"
    if args.clean_pre is None:
        everyone = manifest.assign(included=True, exclusion_reason="")  # QC every scan, labelled or not
        write_manifest(everyone, args.work / "clean_manifest.csv")
        preprocess_manifest(args.work / "clean_manifest.csv", clean_pre, PreprocessConfig(), Executor(workers=args.workers))
    injected = make_injected(manifest, args.ixi, args.work / "injected", args.per_kind, args.seed)
    write_manifest(injected, args.work / "injected_manifest.csv")
    preprocess_manifest(args.work / "injected_manifest.csv", args.work / "injected_pre", PreprocessConfig(), Executor(workers=args.workers))
    combined = combine(clean_pre, args.work / "injected_pre", args.work / "combined")
    verdicts = run_qc(combined, executor=Executor(workers=args.workers), pictures=False).set_index("subject_id")

    flagged = verdicts.final_verdict != "pass"
    ids = verdicts.index.to_series()
    kind = ids.str.split("-", n=1).str[1].fillna("clean")
    number = ids.str[3:6].astype(int)
    rows = []
    for k in ["clean"] + KINDS:
        sel = kind == k
        if k == "clean":
            for half, mask in (("odd IDs (reported)", number % 2 == 1), ("even IDs (tuning)", number % 2 == 0)):
                part = sel & mask
                rows.append({"kind": f"clean real scans, {half}", "n": int(part.sum()), "flagged": int(flagged[part].sum()),
                             "failed": int((verdicts.final_verdict[part] == "fail").sum()),
                             "flag_rate": float(flagged[part].mean())})
            continue
        rows.append({"kind": k, "n": int(sel.sum()), "flagged": int(flagged[sel].sum()),
                     "failed": int((verdicts.final_verdict[sel] == "fail").sum()), "flag_rate": float(flagged[sel].mean())})
    table = pd.DataFrame(rows)
    failures = table[~table.kind.str.startswith("clean") & (table.kind != "stripped_clean")]
    summary = {"sensitivity_all_injected": float(failures.flagged.sum() / failures.n.sum()),
               "false_flag_rate_clean_odd": float(table.iloc[0].flag_rate),
               "false_flag_rate_stripped_clean": float(table[table.kind == "stripped_clean"].flag_rate.iloc[0])}
    print(table.to_string(index=False))
    print(json.dumps(summary, indent=2))
    missed = verdicts[(kind != "clean") & (kind != "stripped_clean") & ~flagged]
    flagged_clean = verdicts[(kind.isin(["clean", "stripped_clean"])) & flagged]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "qc", "machine": machine_info(), "seconds": round(time.time() - start),
                                     "per_kind": args.per_kind, "seed": args.seed, "table": rows, "summary": summary,
                                     "missed_injected": missed.index.tolist(),
                                     "flagged_clean": {i: r for i, r in flagged_clean.final_reasons.items()}}, indent=2))
    print(f"saved {args.json}")


if __name__ == "__main__":
    main()
