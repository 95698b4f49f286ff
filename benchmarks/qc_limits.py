"""Where should QC's absolute limits sit? How far each metric goes before the predicted age moves.

QC warns on absolute limits that a clean scan of another scanner can cross (a stronger bias
field, a little more air signal or noise). A limit means something when a scan past it either
looks broken to a rater (``qc.py``'s broken scans) or gets another age from the model. This
benchmark measures the second: IXI-HH heads are broken in graded strengths of every failure such
a limit watches (a bias field: the WM gradient and N4's bias range; an N/2 ghost: the ghost and
bright-air metrics; Rician noise: the noise level), plus the gamma changes that pushed clean
scans of simulated new sites over the ghost line (``predict_warnings.py``). Every copy goes
through the model's own recipe, QC's metrics and the model; its shift is its predicted age minus
that of the same head as stored.

Per failure and strength: the median of each watched metric, the mean and largest |shift|, and
the share QC flags judged alone. Per metric, over the copies of the failures it watches
(:data:`WATCHED`): the mean |shift| and the share moved by more than 1 y up to QC's warn line and
beyond it, and the same in eight bins of the metric's value. The heads are even-numbered IXI IDs,
the ones limits may be set on (``qc.py`` scores on the odd ones). They are in the shipped model's
training set: only the shifts count.

    python benchmarks/qc_limits.py --ixi ../shared/data/ixi-hh --work /work/runs/qc_limits --n 8
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from _cohort import evenly_spaced
from _machine import machine_info
from qc_scans import inject_copy, ixi_number

from brainage.bundle.bundle import load_bundle
from brainage.data.ingest_ixi import ingest_ixi
from brainage.data.manifest import included, make_manifest, write_manifest
from brainage.data.variants import VARIANTS
from brainage.files import atomic_path
from brainage.layout import PreprocessedDir
from brainage.parallel import Executor
from brainage.preprocess.cache import read_cache_index
from brainage.preprocess.pipeline import preprocess_manifest
from brainage.qc.checks import CHECKS
from brainage.qc.reference import Reference, measured
from brainage.qc.rules import judge
from brainage.qc.run import measure

RESULTS = Path(__file__).parent / "results"
#: failure -> (its parameter, the strengths swept): from below what QC notices to clearly broken.
SWEEPS = {
    "strong_bias": ("factor", (1.2, 1.35, 1.5, 1.65, 1.8, 2.0, 2.3)),
    "ghosting": ("strength", (0.02, 0.04, 0.07, 0.1, 0.13)),
    "low_snr": ("noise_fraction", (0.02, 0.04, 0.06, 0.08, 0.1)),
}
#: Clean acquisitions of another kind (``brainage.data.variants``) that crossed an absolute line.
CLEAN_VARIANTS = ("gamma_0.7", "gamma_1.4")
#: The metrics with absolute warn limits that a clean scan of another scanner can cross, each with
#: the copies that drive it (a metric is judged on the failure it watches: noise moves the age at a
#: ghost ratio of zero, which says nothing of ghosts).
WATCHED = {
    "wm_bias_range": ("strong_bias",),
    "inu_range": ("strong_bias",),
    "ghost_ratio": ("ghosting", *CLEAN_VARIANTS),
    "air_fraction_bright": ("ghosting", *CLEAN_VARIANTS),
    "noise_ratio": ("low_snr",),
}
MOVED_YEARS = 1.0


def pick(ixi: Path, n: int) -> pd.DataFrame:
    """``n`` even-numbered IXI-HH heads spread over the ages."""
    manifest = included(ingest_ixi(ixi))
    even = manifest[ixi_number(manifest.subject_id) % 2 == 0].sort_values("age").reset_index(drop=True)
    return evenly_spaced(even, n)


def render(brains: pd.DataFrame, ixi: Path, scans: Path) -> pd.DataFrame:
    """Every graded copy of every head as a file (kept between runs); one manifest row each."""
    rows = []
    for b in brains.itertuples():
        base = {"age": b.age, "sex": b.sex, "site": "IXI-HH", "brain": b.subject_id}
        rows.append({**base, "subject_id": f"{b.subject_id}-original", "t1_path": b.t1_path, "kind": "original"})
        copies = [(kind, name, value) for kind, (name, values) in SWEEPS.items() for value in values]
        copies += [(variant, "", np.nan) for variant in CLEAN_VARIANTS]
        for k, (kind, name, value) in enumerate(copies):
            label = f"{kind}_{value:g}" if name else kind
            path = scans / b.subject_id / f"{label}.nii.gz"
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                seed = np.random.default_rng([int(b.subject_id[3:6]), k])
                if name:
                    data, affine = inject_copy(b, kind, {name: value}, ixi, seed)
                    image = nib.Nifti1Image(data.astype(np.float32), affine)
                else:  # a clean variant reads no tissue labels
                    img = nib.load(b.t1_path)
                    image = VARIANTS[kind](img, np.zeros(img.shape[:3], np.int8), rng=seed)
                with atomic_path(path) as tmp:
                    nib.save(image, str(tmp))
            rows.append(
                {**base, "subject_id": f"{b.subject_id}-{label}", "t1_path": str(path), "kind": kind, "strength": value}
            )
    return pd.DataFrame(rows)


def alone(metrics: pd.DataFrame, reference: Reference) -> pd.DataFrame:
    """Each scan judged on its own, as ``brainage predict`` judges a single scan."""
    return pd.concat([judge(metrics.iloc[[i]], reference) for i in range(len(metrics))], ignore_index=True)


def warn_line(metric: str) -> float:
    """QC's warn line of an absolute metric (:data:`brainage.qc.checks.CHECKS`)."""
    return next(s.warn for c in CHECKS for s in c.signals if s.metric == metric and s.kind == "value")


def by_metric(table: pd.DataFrame, metric: str, kinds: tuple[str, ...], bins: int = 8) -> dict:
    """How far the age moved in bins of one metric over the copies that drive it, and on either side
    of QC's warn line: mean |shift| and the share moved by more than :data:`MOVED_YEARS`."""
    copies = table[table.kind.isin(kinds) & table[metric].notna()]
    clean = table[table.kind == "original"][metric]

    def moved(part: pd.DataFrame) -> dict:
        return {
            "n": int(len(part)),
            "mean_abs_shift": float(part.abs_shift.mean()) if len(part) else None,
            "moved_share": float((part.abs_shift > MOVED_YEARS).mean()) if len(part) else None,
        }

    line = warn_line(metric)
    edges = np.unique(np.quantile(copies[metric], np.linspace(0, 1, bins + 1)))
    binned = copies.groupby(pd.cut(copies[metric], edges, include_lowest=True), observed=True)
    return {
        "driven_by": list(kinds),
        "clean_originals": [float(clean.min()), float(clean.max())],
        "warn_line": line,
        "below_line": moved(copies[copies[metric] <= line]),
        "beyond_line": moved(copies[copies[metric] > line]),
        "bins": [{"from": float(b.left), "to": float(b.right), **moved(g)} for b, g in binned],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ixi", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--n", type=int, default=8, help="heads, spread over the ages")
    parser.add_argument("--bundle", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--name", default="shipped")
    args = parser.parse_args()
    start = time.perf_counter()
    bundle = load_bundle(args.bundle)
    scans = render(pick(args.ixi, args.n), args.ixi, args.work / "scans")
    manifest = args.work / "manifest.csv"
    write_manifest(make_manifest(scans[["subject_id", "t1_path", "age", "sex", "site"]].to_dict("records")), manifest)
    pre = PreprocessedDir(args.work / "pre")
    preprocess_manifest(manifest, pre.root, bundle.preprocess_config, Executor(workers=args.workers))
    metrics = measured(measure(pre.root, Executor(workers=args.workers)))
    reference = Reference.from_dict(bundle.meta.qc_reference) if bundle.meta.qc_reference else Reference.load()
    verdicts = alone(metrics, reference).set_index("subject_id")[["verdict", "check"]]
    index = read_cache_index(pre.cache(bundle.grid).root)
    ages = pd.Series(bundle.predict(index).predicted_age.to_numpy(), index=index.subject_id.to_numpy())
    table = scans.assign(predicted_age=scans.subject_id.map(ages))
    table = table.join(metrics.set_index("subject_id")[list(WATCHED)], on="subject_id").join(verdicts, on="subject_id")
    original = table[table.kind == "original"].set_index("brain").predicted_age
    table["shift"] = table.predicted_age - table.brain.map(original)
    table["abs_shift"] = table["shift"].abs()
    table.to_csv(args.work / f"qc_limits_{args.name}.csv", index=False)

    copies = table[table.kind != "original"].assign(flagged=lambda t: t.verdict != "pass")
    per_level = (
        copies.groupby(["kind", "strength"], dropna=False)
        .agg(
            n=("abs_shift", "size"),
            **{f"median_{m}": (m, "median") for m in WATCHED},
            mean_abs_shift=("abs_shift", "mean"),
            max_abs_shift=("abs_shift", "max"),
            flagged_alone=("flagged", "mean"),
        )
        .reset_index()
    )
    evidence = {metric: by_metric(table, metric, kinds) for metric, kinds in WATCHED.items()}
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(per_level.round(3).to_string(index=False))
    for metric, e in evidence.items():
        below, beyond = e["below_line"], e["beyond_line"]
        print(
            f"{metric} (clean {e['clean_originals'][0]:.3f}-{e['clean_originals'][1]:.3f}; "
            f"{', '.join(e['driven_by'])}): "
            f"up to the warn line {e['warn_line']:g} {below['n']} copies moved {below['mean_abs_shift'] or 0:.2f} y "
            f"on average ({below['moved_share'] or 0:.0%} > {MOVED_YEARS:g} y); beyond it {beyond['n']} moved "
            f"{beyond['mean_abs_shift'] or 0:.2f} y ({beyond['moved_share'] or 0:.0%})"
        )
        for b in e["bins"]:
            print(
                f"    {b['from']:.3f}-{b['to']:.3f}: n {b['n']}, mean |shift| {b['mean_abs_shift']:.2f} y, "
                f"{b['moved_share']:.0%} > {MOVED_YEARS:g} y"
            )
    result = {
        "benchmark": "qc_limits",
        "name": args.name,
        "machine": machine_info(),
        "bundle": bundle.meta.name,
        "heads": sorted(table.brain.unique()),
        "moved_years": MOVED_YEARS,
        "per_level": per_level.to_dict("records"),
        "evidence": evidence,
        "seconds": round(time.perf_counter() - start, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"qc_limits_{args.name}.json"
    out.write_text(json.dumps(result, indent=1, default=float))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
