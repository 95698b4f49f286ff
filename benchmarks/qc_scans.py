"""The scans of the QC benchmark: every IXI-HH head preprocessed as it is, plus copies broken in
known ways (``brainage.data.inject``), preprocessed as a new user's batch would be.

Three sets of broken copies, each from its own subjects so nothing scored was looked at while
setting limits:

* ``tune``: ``--tune-per-kind`` copies of each kind from even-numbered IXI IDs (limits were set
  looking at these and at the even-numbered clean scans only);
* ``score``: ``--per-kind`` copies of each kind from odd-numbered IDs (the reported figures);
* ``sweep``: odd-numbered IDs with ghosting and bias fields of graded strength (detection limits).

Strengths of the scored kinds are drawn from ranges a rater would call clearly broken but not
grotesque (``SCORED_PARAMETERS``); the sweep goes below them.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from brainage.data import inject
from brainage.data.manifest import make_manifest, write_manifest
from brainage.parallel import Executor
from brainage.preprocess.ops import reorient
from brainage.preprocess.pipeline import PreprocessConfig, preprocess_manifest

KINDS = list(inject.HEAD_FAILURES) + list(inject.STRIPPED_FAILURES) + ["stripped_clean"]
#: Each scored kind's parameters, drawn per scan: name -> (low, high) uniform, or a list to pick from.
SCORED_PARAMETERS = {
    "cut_fov": {"fraction": (0.15, 0.30)},
    "zero_filled_fov": {"fraction": (0.15, 0.30), "fill": [0.0, None]},
    "ghosting": {"strength": (0.15, 0.40)},
    "low_snr": {"noise_fraction": (0.08, 0.15)},
    "strong_bias": {"factor": (1.8, 2.6)},
}
GHOST_SWEEP = (0.04, 0.07, 0.10, 0.13, 0.16)
BIAS_SWEEP = (1.2, 1.35, 1.5, 1.65, 1.8)


def ixi_number(subject_id: pd.Series) -> pd.Series:
    return subject_id.str[3:6].astype(int)


def _draw(spec: dict, rng: np.random.Generator) -> dict:
    out = {}
    for name, choice in spec.items():
        if isinstance(choice, tuple):
            out[name] = round(float(rng.uniform(*choice)), 3)
        else:
            out[name] = choice[int(rng.integers(len(choice)))]
    return out


def inject_copy(sub, kind: str, params: dict, ixi: Path, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    img = reorient(sub.t1_path)[0]
    data = img.get_fdata(dtype=np.float32)
    label_path = ixi / "labels" / Path(sub.t1_path).name.replace("-T1.nii", "-DLMUSE.nii")
    # the parcellation is a label map, not a T1: reoriented as the scan is, without the T1's checks
    brain = np.asarray(nib.as_closest_canonical(nib.load(label_path)).dataobj) > 0
    if kind == "stripped_clean":
        return inject.stripped(data, img.affine, brain_mask=brain)
    if kind in inject.STRIPPED_FAILURES:
        return inject.STRIPPED_FAILURES[kind](data, img.affine, brain_mask=brain)
    return inject.HEAD_FAILURES[kind](data, img.affine, rng=int(rng.integers(1 << 31)), brain_mask=brain, **params)


def plan_injections(manifest: pd.DataFrame, per_kind: int, tune_per_kind: int, sweep_n: int, seed: int) -> list[dict]:
    """Which subject gets which failure, with what strength, in which set."""
    rng = np.random.default_rng(seed)
    clean = manifest[manifest.included].reset_index(drop=True)
    number = ixi_number(clean.subject_id)
    plan = []
    for set_name, pool, n in (
        ("tune", clean[number % 2 == 0], tune_per_kind),
        ("score", clean[number % 2 == 1], per_kind),
    ):
        for kind in KINDS:
            for _, sub in pool.iloc[rng.choice(len(pool), n, replace=False)].iterrows():
                plan.append(
                    {
                        "set": set_name,
                        "kind": kind,
                        "subject": sub,
                        "params": _draw(SCORED_PARAMETERS.get(kind, {}), rng),
                    }
                )
    odd = clean[number % 2 == 1]
    for kind, name, values in (("ghosting", "strength", GHOST_SWEEP), ("strong_bias", "factor", BIAS_SWEEP)):
        for value in values:
            for _, sub in odd.iloc[rng.choice(len(odd), sweep_n, replace=False)].iterrows():
                plan.append({"set": "sweep", "kind": kind, "subject": sub, "params": {name: value}})
    return plan


def write_injected(plan: list[dict], ixi: Path, out: Path, seed: int) -> pd.DataFrame:
    """Write every planned broken copy (skipping ones already written); return their manifest."""
    rows = []
    for i, item in enumerate(plan):
        sub, kind = item["subject"], item["kind"]
        sid = f"{sub.subject_id}-{item['set']}{i:03d}-{kind}"
        path = out / f"{sid}.nii.gz"
        if not path.exists():
            data, affine = inject_copy(sub, kind, item["params"], ixi, np.random.default_rng([seed, i]))
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}")
            nib.save(nib.Nifti1Image(data.astype(np.float32), affine), str(tmp))
            tmp.replace(path)
        rows.append(
            {
                "subject_id": sid,
                "age": sub.age,
                "sex": sub.sex,
                "site": sub.site,
                "t1_path": str(path),
                "source": kind,
                "set": item["set"],
                "params": json.dumps(item["params"]),
            }
        )
    return pd.DataFrame(rows)


def combine(preprocessed: list[Path], out: Path) -> Path:
    """One preprocessing folder holding several runs' subjects (symlinks), for one QC run."""
    (out / "subjects").mkdir(parents=True, exist_ok=True)
    reports, manifests = [], []
    for pre in preprocessed:
        for d in (pre / "subjects").iterdir():
            link = out / "subjects" / d.name
            if not link.exists():
                link.symlink_to(d.resolve())
        reports.append(pd.read_csv(pre / "preprocess_report.csv", dtype={"subject_id": str}))
        manifests.append(pd.read_csv(pre / "manifest.csv", dtype={"subject_id": str}))
    pd.concat(reports).to_csv(out / "preprocess_report.csv", index=False)
    pd.concat(manifests).to_csv(out / "manifest.csv", index=False)
    return out


def _all_done(preprocessed: Path, subject_ids: pd.Series) -> bool:
    """Whether a preprocessing report already lists every subject (re-running would only check
    fingerprints, one process per subject)."""
    report = preprocessed / "preprocess_report.csv"
    return report.exists() and set(subject_ids) <= set(pd.read_csv(report, dtype={"subject_id": str}).subject_id)


def prepare(
    ixi_manifest: pd.DataFrame,
    ixi: Path,
    work: Path,
    per_kind: int,
    tune_per_kind: int,
    sweep_n: int,
    seed: int,
    workers: int,
    clean_pre: Path | None = None,
) -> tuple[Path, pd.DataFrame]:
    """Preprocess every broken copy and (unless ``clean_pre``, an existing default-settings
    preprocessing of IXI-HH, is given) every clean scan; return the combined folder and the
    broken copies' table (resumable: finished subjects are not redone)."""
    injected = write_injected(
        plan_injections(ixi_manifest, per_kind, tune_per_kind, sweep_n, seed), ixi, work / "injected", seed
    )
    injected.to_csv(work / "injected.csv", index=False)
    write_manifest(
        make_manifest(injected.drop(columns=["set", "params"]).to_dict("records")), work / "injected_manifest.csv"
    )
    if not _all_done(work / "injected_pre", injected.subject_id):
        preprocess_manifest(
            work / "injected_manifest.csv", work / "injected_pre", PreprocessConfig(), Executor(workers=workers)
        )
    if clean_pre is None:
        clean_pre = work / "clean"
        everyone = ixi_manifest.assign(included=True, exclusion_reason="")  # QC every scan, labelled or not
        write_manifest(everyone, work / "clean_manifest.csv")
        preprocess_manifest(work / "clean_manifest.csv", clean_pre, PreprocessConfig(), Executor(workers=workers))
    return combine([clean_pre, work / "injected_pre"], work / "combined"), injected
