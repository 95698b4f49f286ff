"""How often does `brainage predict` warn about clean scans of a new scanner?

Clean new sites are simulated two ways. Every variant of the invariance benchmark's held-out
IXI-HH brains (``invariance.py``: 1 mm, thick slices, blur, gamma, bias, noise, contrast, stripped,
defaced) is a "site" that differs from the training scanner in one way; their QC metrics are
measured once by ``invariance.py`` and cached in ``--work``. And ``--new-site-brains`` IXI-HH heads
are rendered as each of :data:`brainage.data.variants.NEW_SITES`, scanners that differ in contrast,
coil, SNR and stored background at once, preprocessed with the model's recipe and measured here
(cached in ``--work``/new_sites). Each site's scans are judged as predict judges them, in batches of
1, 5, 10 and 30 scans of a site, and counted: the share of scans whose QC verdict is not ``pass`` (a
scanner that only differs from the training one passes: the report says it once per site) and the
share that fail. Target (issue "an honest answer on a new site"): at most 5 % not pass, none fail,
on the clean sites (every storage and acquisition variant and every new site; the already-stripped
and defaced inputs are reported apart).

    python benchmarks/predict_warnings.py --work /work/runs/invariance --recipe 2f44741d2c6ac9ad \
        --ixi ../shared/data/ixi-hh
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from _cohort import evenly_spaced
from _machine import machine_info
from invariance import read_rendition_table, render_variants

from brainage.bundle.bundle import default_bundle_path, load_bundle, recipe
from brainage.data.ingest_ixi import ingest_ixi
from brainage.data.manifest import included, make_manifest, write_manifest
from brainage.data.variants import NEW_SITES, VARIANTS
from brainage.parallel import Executor
from brainage.predict.warnings import qc_warning
from brainage.preprocess.pipeline import preprocess_manifest
from brainage.qc.reference import Reference, measured
from brainage.qc.rules import judge
from brainage.qc.run import measure

RESULTS = Path(__file__).resolve().parent / "results"
BATCH_SIZES = (1, 5, 10, 30)
FAMILIES = {name: v.family for name, v in VARIANTS.items()} | {name: "new site" for name in NEW_SITES}


def new_site_metrics(ixi: Path, n: int, bundle, work: Path, workers: int) -> pd.DataFrame:
    """QC metrics of ``n`` IXI-HH heads (spread over the ages) rendered as every simulated new site,
    preprocessed with the model's own recipe (files and preprocessing kept in ``work``)."""
    manifest = included(ingest_ixi(ixi)).sort_values("age").reset_index(drop=True)
    heads = evenly_spaced(manifest, n)
    names = pd.read_csv(ixi / "dlmuse_labels.csv").set_index("label")["name"]
    rows = []
    for h in heads.itertuples():
        folder = work / "scans" / h.subject_id
        for site, path in render_variants(h.t1_path, h.subject_id, NEW_SITES, ixi / "labels", folder, names).items():
            rows.append(
                {"subject_id": f"{h.subject_id}-{site}", "t1_path": str(path), "age": h.age, "sex": h.sex, "site": site}
            )
    write_manifest(make_manifest(rows), work / "manifest.csv")
    pre = work / f"pre_{recipe(bundle.preprocess_config)['fingerprint']}"
    preprocess_manifest(work / "manifest.csv", pre, bundle.preprocess_config, Executor(workers=workers))
    return measured(measure(pre, Executor(workers=workers)))


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
    parser.add_argument("--ixi", type=Path, default=None, help="IXI-HH folder: also render the simulated new sites")
    parser.add_argument("--new-site-brains", type=int, default=30, help="heads rendered as each new site")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    metrics = measured(
        pd.read_csv(args.work / f"pre_{args.recipe}" / "qc" / "qc_metrics.csv", dtype={"subject_id": str})
    )
    variant = read_rendition_table(args.work).set_index("subject_id").variant
    metrics = metrics.assign(site=metrics.subject_id.map(variant))
    bundle = load_bundle(args.bundle)
    if args.ixi is not None:
        sites = new_site_metrics(args.ixi, args.new_site_brains, bundle, args.work / "new_sites", args.workers)
        metrics = pd.concat([metrics, sites], ignore_index=True)
    carried = bundle.meta.qc_reference
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

    def summarise(part: pd.DataFrame) -> pd.DataFrame:
        return part.groupby("batch_size").agg(
            warn_share=("warn_share", "mean"),
            not_pass_share=("not_pass_share", "mean"),
            fail_share=("fail_share", "mean"),
            worst_site_warn_share=("warn_share", "max"),
            scanner_only_share=("scanner_only_share", "mean"),
        )

    summary = summarise(table[table.family != "input"])
    new_sites = summarise(table[table.family == "new site"]) if (table.family == "new site").any() else None
    print(table.pivot(index="site", columns="batch_size", values="not_pass_share").round(2).to_string())
    print("every clean site (one change, or several at once):")
    print(summary.round(3).to_string())
    if new_sites is not None:
        print("the simulated new sites alone:")
        print(new_sites.round(3).to_string())
    out = RESULTS / "predict_warnings.json"
    out.write_text(
        json.dumps(
            {
                "machine": machine_info(),
                "recipe": args.recipe,
                "bundle": str(args.bundle or default_bundle_path()),
                "reference": reference.name,
                "n_scans": int(len(metrics)),
                "sites": "each invariance variant (v00 = the original files) of its held-out brains, and each "
                "simulated new site (several changes at once) of --new-site-brains heads; the summary leaves out the "
                "already-stripped and defaced inputs (per_site has them)",
                "new_sites": {name: v.describe for name, v in NEW_SITES.items()} if new_sites is not None else {},
                "summary": summary.reset_index().to_dict("records"),
                "summary_new_sites": new_sites.reset_index().to_dict("records") if new_sites is not None else [],
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
