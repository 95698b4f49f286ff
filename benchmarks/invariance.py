"""Same brain, same age? Each CV fold's model on its own held-out IXI-HH brains, rendered many ways.

For every fold of a ``brainage train`` run, ``--per-fold`` of the fold's held-out subjects (spread
over its ages) are re-rendered as the same brain stored or acquired differently
(:mod:`brainage.data.variants`: header axis order, intensity scale, int16/float32, a 1 mm grid;
thick slices along each axis, a 3 mm acquisition, gamma, a bias field, Rician noise, a
grey/white contrast change; already skull-stripped, defaced). Every rendition goes through the
model's own preprocessing recipe and QC once (cached in ``--work``: it does not depend on the
model), then the fold's model, exported as a bundle, predicts it. Scoring another run is minutes.

Per variant: mean and largest |shift| of the predicted age from the original file, mean |change|
of P(male), MAE, sex accuracy, QC verdicts; overall: the within-brain SD of the predicted age
over all renditions (mean over brains). The table is printed and written, with the machine, to
``benchmarks/results/invariance_<name>.json``; per-scan predictions to ``--work``.

Example:
    python benchmarks/invariance.py --run /work/runs/ixi/models/ensemble --ingest /work/runs/ixi \
        --labels ../shared/data/ixi-hh/labels --work /work/runs/invariance --name ensemble
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
from brainage.bundle.export import export_bundle
from brainage.data.manifest import make_manifest, read_manifest, write_manifest
from brainage.data.variants import CSF, GM, NEW_SITES, VARIANTS, WM
from brainage.files import atomic_path
from brainage.parallel import Executor
from brainage.preprocess.cache import read_cache_index, write_volume_raw
from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest, recipe_preset
from brainage.qc.run import run_qc
from brainage.training.intervals import coverage_table

RESULTS = Path(__file__).parent / "results"
ORIGINAL = "original"
#: The work folder's manifest of renditions (``brainage preprocess`` reads it).
RENDITION_MANIFEST = "renditions_manifest.csv"
#: The work folder's table of renditions: subject_id (as in its manifest), brain, variant, fold, t1_path.
RENDITION_TABLE = "renditions.csv"
#: A member's predicted-age column starts so (``predicted_age_cnn``) ...
MEMBER = "predicted_age_"
#: ... and the interval's columns do too.
INTERVAL = ("predicted_age_low", "predicted_age_high")
#: Every rendition the benchmark can make: the variants, then the simulated new scanners (``--new-sites``).
RENDERINGS = VARIANTS | NEW_SITES
FAMILIES = {v.name: v.family for v in RENDERINGS.values()} | {ORIGINAL: "original"}


def pick_brains(manifest: pd.DataFrame, folds: pd.DataFrame, per_fold: int) -> pd.DataFrame:
    """``per_fold`` held-out subjects of every fold, evenly spread over the fold's ages."""
    table = manifest[manifest.included].merge(folds[["subject_id", "fold"]], on="subject_id")
    picks = []
    for _, group in table.sort_values(["fold", "age"]).groupby("fold"):
        picks.append(evenly_spaced(group, per_fold))
    return pd.concat(picks).reset_index(drop=True)


def tissue_labels(label_path: Path, names: pd.Series) -> np.ndarray:
    """CSF / grey / white matter labels (``brainage.data.variants``) from a DLMUSE parcellation."""
    labels = np.asarray(nib.load(str(label_path)).dataobj).astype(int)
    csf = [k for k, n in names.items() if "CSF" in n or "Ventricle" in n]
    wm = [k for k, n in names.items() if "_WM" in n]
    tissue = np.where(labels > 0, GM, 0).astype(np.uint8)
    tissue[np.isin(labels, csf)] = CSF
    tissue[np.isin(labels, wm)] = WM
    return tissue


def label_path(t1_path: str, labels_dir: Path) -> Path:
    return labels_dir / Path(t1_path).name.replace("-T1.nii.gz", "-DLMUSE.nii.gz")


def render_variants(
    t1_path: str, subject_id: str, variants: dict, labels_dir: Path, folder: Path, names: pd.Series
) -> dict[str, Path]:
    """Each of ``variants`` of one IXI-HH head as ``folder/<name>.nii.gz``, rendered where the file is
    missing (the head and its DLMUSE tissue labels read once, only then); the ``k``-th variant's random
    draws come from seed ``1000 k`` plus the subject's number, so a file is the same whenever it is made."""
    paths = {name: folder / f"{name}.nii.gz" for name in variants}
    img = tissue = None
    for k, (name, path) in enumerate(paths.items()):
        if path.is_file():
            continue
        if img is None:
            img = nib.load(t1_path)
            tissue = tissue_labels(label_path(t1_path, labels_dir), names)
        path.parent.mkdir(parents=True, exist_ok=True)
        out = variants[name](img, tissue, rng=1000 * k + int(subject_id[3:6]))
        with atomic_path(path) as tmp:
            nib.save(out, str(tmp))
    return paths


def render(brains: pd.DataFrame, labels_dir: Path, scans: Path, new_sites: bool = False) -> pd.DataFrame:
    """Every variant of every brain as a file (kept between runs); one manifest row per rendition.
    ``new_sites``: the simulated new scanners (:data:`~brainage.data.variants.NEW_SITES`) too, after
    the variants, so every variant keeps its random seed (its index)."""
    variants = RENDERINGS if new_sites else VARIANTS
    names = pd.read_csv(labels_dir.parent / "dlmuse_labels.csv").set_index("label")["name"]
    rows = []
    for b in brains.itertuples():
        paths = render_variants(b.t1_path, b.subject_id, variants, labels_dir, scans / b.subject_id, names)
        for k, (name, path) in enumerate([(ORIGINAL, b.t1_path), *paths.items()]):
            rows.append(
                {
                    "subject_id": f"{b.subject_id}-v{k:02d}",
                    "t1_path": str(path),
                    "brain": b.subject_id,
                    "variant": name,
                    "fold": b.fold,
                    "age": b.age,
                    "sex": b.sex,
                    "site": "IXI-HH",
                }
            )
    return pd.DataFrame(rows)


def read_rendition_table(work: Path) -> pd.DataFrame:
    """The table of renditions an earlier run left in ``work`` (for the scripts that reuse the folder)."""
    path = work / RENDITION_TABLE
    if not path.is_file():
        raise SystemExit(f"{path}: no table of renditions; run benchmarks/invariance.py with --work {work} first")
    return pd.read_csv(path, dtype={"subject_id": str, "brain": str})


def preprocess_renditions(renditions: pd.DataFrame, config, work: Path, workers: int) -> tuple[Path, pd.DataFrame]:
    """The renditions preprocessed with one recipe, and QC'd (cached per recipe fingerprint)."""
    pre = work / f"pre_{recipe(config)['fingerprint']}"
    manifest = work / RENDITION_MANIFEST
    # which brain and variant each manifest row is, for the scripts that reuse this work folder
    renditions.to_csv(work / RENDITION_TABLE, index=False)
    write_manifest(
        make_manifest(renditions[["subject_id", "t1_path", "age", "sex", "site"]].to_dict("records")), manifest
    )
    preprocess_manifest(manifest, pre, config, Executor(workers=workers))
    verdict_file = pre / "qc" / "qc_verdicts.csv"
    newest = max(f.stat().st_mtime for f in (pre / "subjects").glob("*/steps.json"))
    if verdict_file.is_file() and verdict_file.stat().st_mtime > newest:  # QC of exactly these files
        return pre, pd.read_csv(verdict_file, dtype={"subject_id": str})
    return pre, run_qc(pre, executor=Executor(workers=workers, isolate=False), pictures=False)


def fold_bundles(run: Path, folds: list[int], work: Path) -> dict[int, Path]:
    out = {}
    for fold in folds:
        path = work / "bundles" / f"{run.name}_fold{fold}.brainage"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            export_bundle(run, path, fold=fold, name=f"{run.name}-fold{fold}")
        out[fold] = path
    return out


def _member_ages(bundle, table: pd.DataFrame) -> pd.DataFrame:
    """Each member's predicted age (seeds averaged), ``predicted_age_<member>``: where a shift comes from."""
    kinds = bundle.seeds[0].members if len(bundle.seeds[0].members) > 1 else {}
    return pd.DataFrame(
        {
            f"predicted_age_{kind}": np.mean(
                [seed.members[kind].predict(table)["predicted_age"] for seed in bundle.seeds], axis=0
            )
            for kind in kinds
        },
        index=table.index,
    )


#: Test-time augmentation (``--tta``): every scan also read shifted by one voxel of the model grid
#: along each axis, both ways, and the seven predictions averaged. The models learnt with small
#: affine jitter, so shifted inputs are of a kind they saw; a left-right flip is not (they are
#: trained without one: hemispheric asymmetry changes with age).
TTA_SHIFTS = [(0, 0, 0)] + [tuple(step * (i == axis) for i in range(3)) for axis in range(3) for step in (-1, 1)]


def shifted(table: pd.DataFrame, shift: tuple[int, int, int], folder: Path) -> pd.DataFrame:
    """``table`` with its cached volumes (and tissue maps) rolled by ``shift`` voxels, written once."""
    if shift == (0, 0, 0):
        return table
    out = table.copy()
    folder = folder / "_".join(map(str, shift))
    for column in [c for c in ("path", "tissue_path") if c in table and (table[c] != "").all()]:
        targets = []
        for sid, source in zip(table.subject_id, table[column]):
            target = folder / f"{sid}_{column}.npy"
            if not target.is_file():
                write_volume_raw(target, np.roll(np.load(source), shift, axis=(-3, -2, -1)))
            targets.append(str(target))
        out[column] = targets
    return out


def _predict(bundle, table: pd.DataFrame, tta_folder: Path | None) -> pd.DataFrame:
    """Predicted age and P(male), and each member's age; averaged over :data:`TTA_SHIFTS` with TTA."""
    views = [shifted(table, s, tta_folder) for s in TTA_SHIFTS] if tta_folder else [table]
    wanted = ["predicted_age", "p_male", *INTERVAL]
    parts = [bundle.predict(v).reindex(columns=wanted).join(_member_ages(bundle, v)) for v in views]
    return sum(parts) / len(parts)


def score(
    renditions: pd.DataFrame, pre: Path, verdicts: pd.DataFrame, bundles: dict[int, Path], tta_folder: Path | None
) -> pd.DataFrame:
    """Each rendition predicted by its own fold's model: one row per rendition (members too)."""
    first = load_bundle(next(iter(bundles.values())))
    index = read_cache_index(pre / "cache" / first.grid)
    rows = []
    for fold, path in bundles.items():
        bundle = load_bundle(path)
        own = index[index.subject_id.isin(renditions.subject_id[renditions.fold == fold])]
        if len(own):
            rows.append(own[["subject_id"]].join(_predict(bundle, own, tta_folder)))
    preds = pd.concat(rows) if rows else pd.DataFrame(columns=["subject_id", "predicted_age", "p_male"])
    verdict = verdicts.set_index("subject_id")["final_verdict"] if len(verdicts) else pd.Series(dtype=str)
    table = renditions.merge(preds, on="subject_id", how="left")
    table["qc_verdict"] = table.subject_id.map(verdict).fillna("not preprocessed")
    return table


def trained_on_brains(bundles: dict[int, Path], table: pd.DataFrame) -> int:
    """How many original scans the model that scored them was trained on (matched by voxel content):
    none for a run's fold models on their own held-out brains; with ``--bundle``, its training scans."""
    from brainage.data.images import voxel_fingerprint

    originals = table[table.variant == ORIGINAL]
    count = 0
    for fold, path in bundles.items():
        seen = set(load_bundle(path).meta.trained_on_images.values())
        count += sum(voxel_fingerprint(p) in seen for p in originals.t1_path[originals.fold == fold])
    return count


def _shift(g: pd.DataFrame, original: pd.DataFrame, column: str) -> pd.Series:
    return (g[column] - original[column].reindex(g.index)).dropna()


def coverage_by_band(table: pd.DataFrame) -> dict:
    """Coverage of the model file's own interval per family of renditions (every rendition, storage,
    acquisition, input; the simulated new sites apart too) over all and per age band of the brains; empty
    without intervals."""
    scored = table.dropna(subset=["predicted_age"])
    if not {"predicted_age_low", "predicted_age_high"} <= set(scored) or scored.predicted_age_low.isna().all():
        return {}
    renditions = scored[scored.variant != ORIGINAL]
    groups = {
        "every rendition": renditions,
        **dict(list(renditions.groupby(renditions.variant.map(FAMILIES)))),
        "simulated new sites": renditions[renditions.variant.isin(list(NEW_SITES))],
    }
    return {family: coverage_table(g.age, g.predicted_age_low, g.predicted_age_high) for family, g in groups.items()}


def summarise(table: pd.DataFrame) -> tuple[pd.DataFrame, float, dict]:
    """Per-variant figures, the within-brain SD of predicted age over all renditions, and the
    same SD and per-variant mean shifts of each ensemble member."""
    original = table[table.variant == ORIGINAL].set_index("brain")
    members = [c for c in table.columns if c.startswith(MEMBER) and c not in INTERVAL]
    rows = []
    for variant, group in table.groupby("variant", sort=False):
        g = group.set_index("brain")
        shift = _shift(g, original, "predicted_age")
        dp = (g.p_male - original.p_male.reindex(g.index)).abs().dropna()
        ok = g.predicted_age.notna()
        verdicts = g.qc_verdict.value_counts()
        rows.append(
            {
                "variant": variant,
                "family": FAMILIES[variant],
                "describe": RENDERINGS[variant].describe if variant in RENDERINGS else "the IXI-HH file as distributed",
                "n": int(ok.sum()),
                "mean_shift_years": float(shift.mean()) if len(shift) else np.nan,
                "max_abs_shift_years": float(shift.abs().max()) if len(shift) else np.nan,
                "mean_abs_change_p_male": float(dp.mean()) if len(dp) else np.nan,
                "mae": float((g.predicted_age - g.age)[ok].abs().mean()),
                # the model file's own interval (not widened for what QC found: bundle.predict alone)
                "coverage": float(((g.age >= g.predicted_age_low) & (g.age <= g.predicted_age_high))[ok].mean())
                if "predicted_age_low" in g and g.predicted_age_low[ok].notna().any()
                else np.nan,
                "sex_accuracy": float(((g.p_male[ok] > 0.5) == (g.sex[ok] == "M")).mean()),
                "qc_pass": int(verdicts.get("pass", 0)),
                "qc_warn": int(verdicts.get("warn", 0)),
                "qc_fail": int(verdicts.get("fail", 0)),
                "not_predicted": int((~ok).sum()),
                **{f"mean_shift_{m.removeprefix(MEMBER)}": float(_shift(g, original, m).mean()) for m in members},
            }
        )
    predicted = table.dropna(subset=["predicted_age"])
    per_member = {
        m.removeprefix(MEMBER): {"within_brain_sd_years": float(predicted.groupby("brain")[m].std(ddof=1).mean())}
        for m in members
    }
    return pd.DataFrame(rows), float(predicted.groupby("brain").predicted_age.std(ddof=1).mean()), per_member


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--run", type=Path, help="a `brainage train` run (CV folds): each fold's model on its own held-out brains"
    )
    p.add_argument(
        "--bundle",
        type=Path,
        help="instead of --run: one exported model (e.g. the shipped one) on every brain. Its shifts measure "
        "invariance; its MAE does not when the brains were in its training set (the JSON says so)",
    )
    p.add_argument("--ingest", required=True, type=Path, help="folder with manifest.csv and splits/folds.csv")
    p.add_argument("--labels", required=True, type=Path, help="the IXI-HH DLMUSE label folder")
    p.add_argument("--work", required=True, type=Path, help="renditions, their preprocessing and bundles (cached)")
    p.add_argument("--name", default=None, help="results/invariance_<name>.json (default: the run's folder name)")
    p.add_argument("--per-fold", type=int, default=4)
    p.add_argument(
        "--new-sites",
        action="store_true",
        help="also render every brain as the simulated new scanners of predict_warnings.py (several changes at "
        "once): their shifts and interval coverage on held-out brains",
    )
    p.add_argument("--tta", action="store_true", help="test-time augmentation: average over one-voxel shifts")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--recipe",
        default=None,
        help="preprocess the renditions with this named recipe (brainage preprocess --recipe) instead of the "
        "model's own: a recipe change scored with the models trained before it (default: the model's)",
    )
    p.add_argument(
        "--prepare-only",
        action="store_true",
        help="render and preprocess with this brainage's default recipe, score nothing (no --run needed)",
    )
    args = p.parse_args()
    if (args.run is None) == (args.bundle is None) and not args.prepare_only:
        p.error("give one of --run or --bundle (or --prepare-only)")
    args.work.mkdir(parents=True, exist_ok=True)
    timings = {}

    start = time.perf_counter()
    manifest = read_manifest(args.ingest / "manifest.csv")
    folds = pd.read_csv(args.ingest / "splits" / "folds.csv", dtype={"subject_id": str})
    brains = pick_brains(manifest, folds, args.per_fold)
    renditions = render(brains, args.labels, args.work / "scans", args.new_sites)
    timings["render"] = time.perf_counter() - start

    if args.prepare_only:
        bundles, first, config = {}, None, PreprocessConfig()
    else:
        if args.bundle is not None:  # one model scores every fold's brains
            bundles = {fold: args.bundle for fold in sorted(brains.fold.unique())}
        else:
            bundles = fold_bundles(args.run, sorted(brains.fold.unique()), args.work)
        first = load_bundle(next(iter(bundles.values())))  # every fold's model shares its recipe
        config = first.preprocess_config
    if args.recipe:
        config = replace(recipe_preset(args.recipe), renditions=0)
    start = time.perf_counter()
    pre, verdicts = preprocess_renditions(renditions, config, args.work, args.workers)
    timings["preprocess_and_qc"] = time.perf_counter() - start
    if args.prepare_only:
        print(f"{len(renditions)} renditions preprocessed and QC'd in {pre} ({timings['preprocess_and_qc']:.0f} s)")
        return
    source = args.run or args.bundle
    name = args.name or source.stem

    start = time.perf_counter()
    table = score(renditions, pre, verdicts, bundles, args.work / "tta" if args.tta else None)
    timings["score"] = time.perf_counter() - start
    table.to_csv(args.work / f"predictions_{name}.csv", index=False)
    summary, within_sd, per_member = summarise(table)

    shown = summary[
        [
            "variant",
            "family",
            "n",
            "mean_shift_years",
            "max_abs_shift_years",
            "mean_abs_change_p_male",
            "mae",
            "coverage",
            "sex_accuracy",
            "qc_pass",
            "qc_warn",
            "qc_fail",
            *[c for c in summary.columns if c.startswith("mean_shift_") and c != "mean_shift_years"],
        ]
    ]
    print(f"\ninvariance of {source} ({len(brains)} held-out brains, {len(renditions)} renditions)")
    print(shown.round(3).to_string(index=False))
    print(
        f"within-brain SD of predicted age over all renditions: {within_sd:.2f} y"
        + "".join(f"; {m} member {v['within_brain_sd_years']:.2f} y" for m, v in per_member.items())
    )
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    trained_on = trained_on_brains(bundles, table)
    if trained_on:
        print(
            f"{trained_on} of the {len(brains)} original scans are in the model's training set: MAE and sex accuracy "
            "are optimistic, shifts are not"
        )
    result = {
        "machine": machine_info(),
        "run": str(source),
        "originals_in_training_set": trained_on,
        "n_brains": int(len(brains)),
        "brains": brains.subject_id.tolist(),
        "per_fold": args.per_fold,
        "test_time_augmentation": [list(s) for s in TTA_SHIFTS] if args.tta else None,
        "preprocessing": recipe(config)["config"],
        "within_brain_sd_years": within_sd,
        "coverage": {r["variant"]: r["coverage"] for r in summary.to_dict("records")},
        "coverage_by_band": coverage_by_band(table),
        "variants": {r["variant"]: r for r in summary.to_dict("records")},
        "members": per_member,
        "cv_metrics": first.meta.cv_metrics,
        "seconds": timings,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"invariance_{name}.json").write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
