"""The table of every candidate for the shipped model, from the benchmark results on disk: the
IXI-HH-180 cross-validation, the invariance benchmark and the extrapolation benchmark, side by side
(docs/scanner_robustness.md keeps it). A candidate without one of them shows a dash there: not
measured, never a guess.

    python benchmarks/candidates.py            # prints the markdown table
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

#: candidate -> (what it is, its result files: cv, invariance, extrapolation; None where not measured)
CANDIDATES = {
    "ensemble_bf16_seeds": (
        "in-site `ensemble` (T1 + Atropos tissue maps, native resolution), 3 seeds; invariance of the model "
        "shipped before 0.7 (the same configuration)",
        "ixi_cv_cpu_ensemble_bf16_seeds.json",
        "invariance_shipped.json",
        "extrapolation_ensemble_today.json",
    ),
    "ensemble_anchor_renditions_seeds": (
        "shipped `scanner_robust` (anchored T1 only, 1 rendition a scan, 0.8 recipe), 3 seeds",
        "ixi_cv_cpu_ensemble_anchor_renditions_seeds.json",
        "invariance_ensemble_anchor_renditions.json",
        "extrapolation_scanner_robust.json",
    ),
    "ensemble_anchor_renditions": (
        "the same, 1 seed (re-run in 0.9)",
        "ixi_cv_cpu_ensemble_anchor_renditions.json",
        None,
        None,
    ),
    "ensemble_partial_volume_dr": (
        "partial-volume tissue maps + T1, domain randomisation, no renditions (0.4)",
        "ixi_cv_cpu_ensemble_partial_volume_dr.json",
        "invariance_partial_volume_dr.json",
        None,
    ),
    "robust_tissue": (
        "anchored T1 + partial-volume tissue maps, 2 renditions a scan, fast 0.9 recipe, 1 seed",
        "ixi_cv_cpu_robust_tissue.json",
        "invariance_robust_tissue.json",
        "extrapolation_robust_tissue.json",
    ),
    "robust_tissue_box": (
        "the same on the 0.10 recipe (N4 on the brain's box), fp32, 1 seed: shipped in 0.10 with its 3-seed final fit",
        "ixi_cv_cpu_robust_tissue_box.json",
        None,
        None,
    ),
    "robust_tissue_histogram": (
        "the same with deepbet on the head's box, whole-voxel downsampling and the tissue fractions fitted "
        "on every brain voxel, fp32, 1 seed: not kept",
        "ixi_cv_cpu_robust_tissue_histogram.json",
        None,
        None,
    ),
    "robust_tissue_prior": (
        "the 0.10 configuration with the tissue fit held to the template's prior, bf16, 1 seed (the 5 youngest "
        "held-out brains)",
        "ixi_cv_cpu_robust_tissue_prior.json",
        "invariance_robust_tissue_prior.json",
        "extrapolation_robust_tissue_prior.json",
    ),
    "robust_tissue_prior_seeds": (
        "the same at 3 seeds per fold (20 held-out brains): not shipped, blur reads old brains young",
        "ixi_cv_cpu_robust_tissue_prior_seeds.json",
        "invariance_robust_tissue_prior_seeds.json",
        None,
    ),
    "robust_tissue_batched_seeds": (
        "the 0.10 configuration at 3 seeds, augmented in batches on the CPU (0.12: the registry's `scanner_robust`)",
        "ixi_cv_cpu_robust_tissue_batched_seeds.json",
        "invariance_robust_tissue_batched_seeds.json",
        "extrapolation_robust_tissue_batched_seeds.json",
    ),
    "robust_tissue_batched_seeds_last": (
        "the same predicting with each fold's last epoch, not its best on validation (0.12.2: the registry's "
        "`scanner_robust`)",
        "ixi_cv_cpu_robust_tissue_batched_seeds_last.json",
        "invariance_robust_tissue_batched_seeds_last.json",
        "extrapolation_robust_tissue_batched_seeds_last.json",
    ),
    "robust_tissue_batched_60": (
        "the same trained 60 epochs instead of 30 (the first 35 minutes beside the test suite)",
        "ixi_cv_cpu_robust_tissue_batched_60.json",
        None,
        None,
    ),
    "ridge_pv_subsample": (
        "ridge on the partial-volume tissue fractions (4 mm), 0.10 recipe, no renditions",
        "ixi_cv_cpu_ridge_pv_subsample.json",
        "invariance_ridge_pv_subsample.json",
        None,
    ),
    "ridge_pv_prior": (
        "the same ridge with the template's prior in the tissue fit",
        "ixi_cv_cpu_ridge_pv_prior.json",
        "invariance_ridge_pv_prior.json",
        None,
    ),
    "ridge_anchor": (
        "ridge on the anchored T1 (4 mm), no renditions",
        "ixi_cv_cpu_ridge_anchor.json",
        "invariance_ridge_anchor.json",
        None,
    ),
}


def _read(name: str | None) -> dict | None:
    path = RESULTS / name if name else None
    return json.loads(path.read_text()) if path and path.is_file() else None


def row(name: str) -> dict:
    """The figures of one candidate that are on disk."""
    what, cv_file, invariance_file, extrapolation_file = CANDIDATES[name]
    out = {"candidate": name, "what": what}
    cv = _read(cv_file)
    if cv:
        age, sex = cv["metrics"]["age_uncorrected"], cv["metrics"]["sex"]
        out |= {"mae": age["mae"], "r": age["pearson_r"], "sex": sex["accuracy"]}
        out["minutes"] = (cv.get("wall_seconds") or 0) / 60 or None
        out["cnn_mae"] = cv.get("members", {}).get("cnn", {}).get("age", {}).get("mae")
    invariance = _read(invariance_file)
    if invariance:
        shifts = [abs(v["mean_shift_years"]) for k, v in invariance["variants"].items() if k != "original"]
        out |= {"within_brain_sd": invariance["within_brain_sd_years"], "largest_mean_shift": max(shifts)}
        out["invariance_brains"] = invariance.get("n_brains")
    extrapolation = _read(extrapolation_file)
    if extrapolation:
        out["over_65_gap"] = extrapolation["old_group"]["mean_gap_years"]
    return out


def table(rows: list[dict]) -> str:
    def cell(value, fmt):
        return "-" if value is None else format(value, fmt)

    lines = [
        "| candidate | age MAE | r | sex | CNN MAE | within-brain SD (brains) | largest mean shift | "
        "over-65s' gap, trained <= 65 | CV minutes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        brains = f" ({r['invariance_brains']})" if r.get("invariance_brains") else ""
        lines.append(
            f"| {r['what']} | {cell(r.get('mae'), '.2f')} | {cell(r.get('r'), '.3f')} | {cell(r.get('sex'), '.3f')} | "
            f"{cell(r.get('cnn_mae'), '.2f')} | {cell(r.get('within_brain_sd'), '.2f')}{brains} | "
            f"{cell(r.get('largest_mean_shift'), '.2f')} | {cell(r.get('over_65_gap'), '+.1f')} | "
            f"{cell(r.get('minutes'), '.0f')} |"
        )
    return "\n".join(lines)


def main() -> None:
    print(table([row(name) for name in CANDIDATES]))


if __name__ == "__main__":
    main()
