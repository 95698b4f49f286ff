"""How often does `brainage predict` warn about clean scans of a new scanner?

Clean new sites are simulated by the invariance benchmark's renditions (``invariance.py``): every
variant of the same 20 held-out IXI-HH brains is a "site" whose scans are all clean but differ
from the training scanner (1 mm, thick slices, blur, gamma, bias, noise, contrast, stripped,
defaced). Their QC metrics are measured once (by ``invariance.py``, cached in ``--work``); here
they are judged as predict judges them, in batches of 1, 5, 10 and 20 scans of a site, and counted:
the share of scans whose QC verdict is not ``pass`` (a scanner that only differs from the training
one passes: the report says it once per site) and the share that fail. Target (issue "an honest
answer on a new site"): at most 5 % not pass, none fail, on the clean sites (every storage and
acquisition variant; the already-stripped and defaced inputs are reported apart).

    python benchmarks/predict_warnings.py --work /work/runs/invariance --recipe 2f44741d2c6ac9ad
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from _machine import machine_info

from brainage.bundle.bundle import default_bundle_path, load_bundle
from brainage.data.variants import VARIANTS
from brainage.predict.warnings import qc_warning
from brainage.qc.reference import Reference, measured
from brainage.qc.rules import judge

RESULTS = Path(__file__).resolve().parent / "results"
BATCH_SIZES = (1, 5, 10, 20)
FAMILIES = {name: v.family for name, v in VARIANTS.items()}


def judged_in_batches(metrics: pd.DataFrame, size: int, reference: Reference) -> pd.DataFrame:
    """Every scan judged within consecutive batches of ``size`` scans of its own site."""
    parts = []
    for _, site in metrics.groupby("site"):
        site = site.reset_index(drop=True)
        for start in range(0, len(site), size):
            parts.append(judge(site.iloc[start : start + size], reference))
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="invariance.py's --work folder")
    parser.add_argument(
        "--recipe", required=True, help="the preprocessing fingerprint whose QC metrics to judge (pre_<this>)"
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        default=None,
        help="judge as predict does with this model: against its training scans' QC statistics where it carries "
        "them (default: the shipped model)",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    metrics = measured(
        pd.read_csv(args.work / f"pre_{args.recipe}" / "qc" / "qc_metrics.csv", dtype={"subject_id": str})
    )
    renditions = pd.read_csv(args.work / "renditions_manifest.csv", dtype={"subject_id": str}).set_index("subject_id")
    # a rendition's file is named after its variant; the original is the distributed IXI file
    variant = {
        s: ("original" if s.endswith("-v00") else Path(p).name.removesuffix(".nii.gz"))
        for s, p in renditions.t1_path.items()
    }
    metrics = metrics.assign(site=metrics.subject_id.map(variant))
    carried = load_bundle(args.bundle).meta.qc_reference
    reference = Reference.from_dict(carried) if carried else Reference.load()
    rows = []
    for size in BATCH_SIZES:
        judged = judged_in_batches(metrics, size, reference)
        judged = judged.assign(warned=[bool(qc_warning(v, r)) for v, r in zip(judged.verdict, judged.reasons)])
        for site, part in judged.groupby("site"):
            rows.append(
                {
                    "batch_size": size,
                    "site": site,
                    "family": FAMILIES.get(site, "original"),
                    "n": len(part),
                    "warn_share": float(part.warned.mean()),
                    "not_pass_share": float((part.verdict != "pass").mean()),
                    "fail_share": float((part.verdict == "fail").mean()),
                    "scanner_only_share": float((part.scanner_differs != "").mean()),
                }
            )
    table = pd.DataFrame(rows)
    summary = (
        table[table.family != "input"]
        .groupby("batch_size")
        .agg(
            warn_share=("warn_share", "mean"),
            not_pass_share=("not_pass_share", "mean"),
            fail_share=("fail_share", "mean"),
            worst_site_warn_share=("warn_share", "max"),
            scanner_only_share=("scanner_only_share", "mean"),
        )
    )
    print(table.pivot(index="site", columns="batch_size", values="not_pass_share").round(2).to_string())
    print(summary.round(3).to_string())
    out = RESULTS / "predict_warnings.json"
    out.write_text(
        json.dumps(
            {
                "machine": machine_info(),
                "recipe": args.recipe,
                "bundle": str(args.bundle or default_bundle_path()),
                "reference": reference.name,
                "n_scans": int(len(metrics)),
                "sites": "each invariance variant (v00 = the original files) of the same 20 brains; the summary "
                "leaves out the already-stripped and defaced inputs (per_site has them)",
                "summary": summary.reset_index().to_dict("records"),
                "per_site": rows,
                "seconds": round(time.perf_counter() - start, 1),
            },
            indent=2,
            default=float,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
