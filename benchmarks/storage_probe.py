"""Why does storage alone move the predicted age? Each storage change, step by step.

A few IXI-HH brains are re-stored the ways :mod:`brainage.data.variants` knows (intensity scale
and offset, int16, a 1 mm grid, a bright or dark background, a wider field of view), preprocessed
with the bundle's own recipe (optionally changed with ``--set KEY=VALUE``: a candidate fix), and
predicted with the bundle. Per storage change, the mean and largest shift of the predicted age
from the original file, and how far each preprocessing step's record moved (brain-mask volume,
N4 field, registration, tissue volumes, grey/white contrast, the model's input volume), so the
step where a change enters is visible. The shipped model was trained on these brains: only the
shifts count, not the errors.

    python benchmarks/storage_probe.py --ixi ../shared/data/ixi-hh --work W --n 8 --name shipped
    python benchmarks/storage_probe.py --ixi ../shared/data/ixi-hh --work W --n 8 --name fix \\
        --set background=offset-removed
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from _cohort import evenly_spaced
from _machine import machine_info

from brainage.bundle.bundle import load_bundle, recipe
from brainage.data.ingest_ixi import ingest_ixi
from brainage.data.manifest import included, make_manifest, write_manifest
from brainage.data.variants import VARIANTS
from brainage.files import DoneRecord, atomic_path
from brainage.layout import PreprocessedDir
from brainage.parallel import Executor
from brainage.preprocess.cache import read_cache_index, read_volume
from brainage.preprocess.pipeline import preprocess_manifest

RESULTS = Path(__file__).parent / "results"
STORAGE = [name for name, v in VARIANTS.items() if v.family == "storage" and name not in ("float32", "header_axes")]
#: Step records compared between a rendition and its original (step -> keys).
RECORDS = {
    "brain_mask": ("brain_volume_ml",),
    "bias_correct": ("bias_median",),
    "register": ("ncc_template",),
    "resample_2mm": ("grey_white_contrast",),
    "segment": ("csf_ml", "gm_ml", "wm_ml", "affine_det"),
}


def pick(ixi: Path, work: Path, n: int) -> pd.DataFrame:
    manifest = included(ingest_ixi(ixi)).sort_values("age")
    return evenly_spaced(manifest, n)


def render(brains: pd.DataFrame, variants: list[str], scans: Path) -> pd.DataFrame:
    rows = []
    for b in brains.itertuples():
        rows.append({"subject_id": f"{b.subject_id}-original", "t1_path": b.t1_path, "age": b.age, "sex": b.sex})
        img = None
        for name in variants:
            path = scans / b.subject_id / f"{name}.nii.gz"
            if not path.is_file():
                img = img or nib.load(b.t1_path)
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(path) as tmp:  # storage variants read no tissue labels
                    nib.save(VARIANTS[name](img, np.zeros(img.shape[:3], np.int8), rng=0), str(tmp))
            rows.append({"subject_id": f"{b.subject_id}-{name}", "t1_path": str(path), "age": b.age, "sex": b.sex})
    return pd.DataFrame(rows).assign(site="IXI-HH")


def records(pre: PreprocessedDir, subject_id: str) -> dict:
    entries = DoneRecord(pre.subject(subject_id).steps).entries
    return {
        f"{step}.{k}": entries.get(step, {}).get("info", {}).get(k, np.nan)
        for step, keys in RECORDS.items()
        for k in keys
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ixi", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--n", type=int, default=8, help="brains, spread over the ages")
    parser.add_argument("--bundle", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--variants", default=",".join(STORAGE))
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE: a recipe setting to change")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    bundle = load_bundle(args.bundle)
    config = bundle.preprocess_config
    for item in args.set:
        key, value = item.split("=", 1)
        config = replace(
            config, **{key: type(getattr(config, key))(value) if getattr(config, key) is not None else value}
        )
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    scans = render(pick(args.ixi, args.work, args.n), variants, args.work / "scans")
    manifest = args.work / "manifest.csv"
    write_manifest(make_manifest(scans.to_dict("records")), manifest)
    pre = PreprocessedDir(args.work / f"pre_{recipe(config)['fingerprint']}")
    preprocess_manifest(manifest, pre.root, config, Executor(workers=args.workers))
    index = read_cache_index(pre.cache(bundle.grid).root)
    predicted = bundle.predict(index).assign(subject_id=index.subject_id.to_numpy())
    table = predicted[["subject_id", "predicted_age"]].copy()
    table["brain"], table["variant"] = zip(*(s.rsplit("-", 1) for s in table.subject_id))
    table = table.join(pd.DataFrame([records(pre, s) for s in table.subject_id], index=table.index))
    cache = pre.cache(bundle.grid)
    volumes = {s: read_volume(cache.volume(s), mmap=False).astype(np.float32) / 255 for s in table.subject_id}
    original = table[table.variant == "original"].set_index("brain")
    rows = []
    for name in variants:
        mine = table[table.variant == name].set_index("brain")
        shift = mine.predicted_age - original.predicted_age.reindex(mine.index)
        row = {
            "variant": name,
            "n": int(shift.notna().sum()),
            "mean_shift_years": float(shift.mean()),
            "max_abs_shift_years": float(shift.abs().max()),
        }
        for key in (k for k in table.columns if "." in k):
            row[f"mean_abs_change {key}"] = float((mine[key] - original[key].reindex(mine.index)).abs().mean())
        diffs = [float(np.mean(np.abs(volumes[f"{b}-{name}"] - volumes[f"{b}-original"]))) for b in mine.index]
        row["mean_abs_change model_input"] = float(np.mean(diffs)) if diffs else float("nan")
        rows.append(row)
    summary = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(summary.round(3).to_string(index=False))
    result = {
        "benchmark": "storage_probe",
        "name": args.name,
        "machine": machine_info(),
        "bundle": bundle.meta.name,
        "recipe_changes": args.set,
        "n_brains": args.n,
        "variants": rows,
        "seconds": round(time.perf_counter() - start, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"storage_probe_{args.name}.json"
    out.write_text(json.dumps(result, indent=1))
    table.to_csv(args.work / f"predictions_{args.name}.csv", index=False)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
