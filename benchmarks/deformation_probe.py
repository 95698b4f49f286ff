"""Do nonlinear-registration features help the classical model? ANTs SyN Jacobians and modulated maps.

The field's classical anchors (brainageR, SPM/CAT12 pipelines) feed a linear model grey-matter
maps warped nonlinearly to a template and modulated by the warp's Jacobian, so that a voxel holds
"how much grey matter was here" rather than "how grey is this voxel after a 12-parameter fit".
This probe measures that lever on IXI-HH before it becomes a preprocessing step:

1. each subject's affine-registered brain (``t1_mni_2mm.nii.gz`` of a ``brainage preprocess``
   folder, masked) is registered to the nilearn MNI152 2 mm brain with ANTs ``SyNOnly``
   (deterministic, one thread; about 10 s a subject), giving the log-Jacobian of the warp and
   the subject's tissue maps warped to the template (cached per subject in ``--work``);
2. the project's classical model (:class:`brainage.training.classical.RidgeBrainAge`: ridge on
   4 mm voxels, then covariates) is cross-validated over the run's folds on each feature set,
   beside the same model on the affine tissue maps brainage uses today.

    python benchmarks/deformation_probe.py --pre /work/runs/ixi/pre_anchor \\
        --folds /work/runs/ixi/splits/folds.csv --work /work/runs/syn
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from _machine import machine_info

from brainage.evaluation.metrics import age_metrics, sex_metrics
from brainage.layout import PreprocessedDir
from brainage.models.network import model_config
from brainage.preprocess.cache import is_original, read_cache_index
from brainage.preprocess.template import template_brain, template_image
from brainage.progress import make_progress
from brainage.training.classical import RidgeBrainAge, image_matrix
from brainage.training.config import TrainConfig
from brainage.training.splits import read_folds

RESULTS = Path(__file__).parent / "results"


def warp_maps(subject_dir: Path, out: Path) -> Path:
    """SyN from the subject's affine-MNI brain to the template: log-Jacobian and warped tissue maps."""
    import ants

    if out.is_file():
        return out
    ants.config.set_ants_deterministic(True, 42)
    t1, mask = nib.load(subject_dir / "t1_mni_2mm.nii.gz"), nib.load(subject_dir / "mask_mni_2mm.nii.gz")
    brain = t1.get_fdata(dtype=np.float32) * (mask.get_fdata() > 0.5)
    fixed = ants.from_nibabel_nifti(template_brain(2))
    moving = ants.from_nibabel_nifti(nib.Nifti1Image(brain.astype(np.float32), t1.affine))
    with tempfile.TemporaryDirectory() as tmp:
        reg = ants.registration(
            fixed=fixed,
            moving=moving,
            type_of_transform="SyNOnly",
            initial_transform="identity",
            outprefix=f"{tmp}/syn_",
            reg_iterations=(40, 20, 0),
        )
        log_jacobian = ants.create_jacobian_determinant_image(fixed, reg["fwdtransforms"][0], do_log=True)
        tissue = nib.load(subject_dir / "tissue_mni_2mm.nii.gz")
        warped = [
            ants.apply_transforms(
                fixed,
                ants.from_nibabel_nifti(nib.Nifti1Image(tissue.dataobj[..., k].astype(np.float32), tissue.affine)),
                reg["fwdtransforms"],
            ).numpy()
            for k in range(tissue.shape[-1])
        ]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, logjac=log_jacobian.numpy().astype(np.float32), tissue=np.stack(warped, -1))
    return out


def pooled(volume: np.ndarray) -> np.ndarray:
    """Average-pooled by 2 (4 mm, as the classical member reads its inputs)."""
    x, y, z = (s // 2 for s in volume.shape[:3])
    v = volume[: 2 * x, : 2 * y, : 2 * z]
    return v.reshape(x, 2, y, 2, z, 2, *v.shape[3:]).mean(axis=(1, 3, 5)).ravel()


def feature_sets(maps: list[Path], affine_tissue: np.ndarray) -> dict[str, np.ndarray]:
    inside = template_image("mask", 2).get_fdata() > 0.5
    log_jacobian, modulated = [], []
    for path in maps:
        data = np.load(path)
        lj = np.where(inside, data["logjac"], 0)
        log_jacobian.append(pooled(lj))
        modulated.append(pooled(data["tissue"] * (np.exp(lj) * inside)[..., None]))
    lj, mod = np.stack(log_jacobian), np.stack(modulated)
    n_classes = mod.shape[1] // lj.shape[1]
    grey = mod.reshape(len(mod), -1, n_classes)[..., 1]
    # one ridge penalty spans both blocks of a combination: put them on one scale
    scaled = [block / block.std() for block in (affine_tissue, lj, mod)]
    return {
        "affine tissue maps (today)": affine_tissue,
        "SyN log-Jacobian": lj,
        "SyN modulated tissue maps": mod,
        "SyN modulated grey matter": grey,
        "affine tissue + log-Jacobian": np.hstack([scaled[0], scaled[1]]),
        "SyN modulated tissue + log-Jacobian": np.hstack([scaled[2], scaled[1]]),
    }


def cross_validate(table: pd.DataFrame, x: np.ndarray, config: TrainConfig) -> dict:
    parts = []
    for fold in sorted(table.fold.unique()):
        train, test = (table.fold != fold).to_numpy(), (table.fold == fold).to_numpy()
        model = RidgeBrainAge(config, seed=int(fold)).fit(table[train].reset_index(drop=True), x[train])
        parts.append(table[test].assign(**model.predict(table[test].reset_index(drop=True), x[test])))
    oof = pd.concat(parts)
    age, sex = age_metrics(oof.age, oof.predicted_age), sex_metrics(oof.sex, oof.p_male)
    return {
        "age_mae": round(age["mae"], 2),
        "age_r": round(age["pearson_r"], 3),
        "sex_accuracy": round(sex["accuracy"], 3),
        "sex_auc": round(sex["roc_auc"], 3),
        "n_features": int(x.shape[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pre", type=Path, required=True, help="a `brainage preprocess` folder (2mm grid)")
    parser.add_argument("--folds", type=Path, required=True, help="folds.csv of `brainage split`")
    parser.add_argument("--work", type=Path, required=True, help="where the per-subject SyN maps are cached")
    parser.add_argument("--name", default="ixi_hh")
    args = parser.parse_args()
    pre = PreprocessedDir(args.pre)
    index = read_cache_index(pre.cache("2mm").root)
    folds = read_folds(args.folds)[["subject_id", "fold"]]
    table = index[is_original(index)].merge(folds, on="subject_id").reset_index(drop=True)
    start = time.perf_counter()
    with make_progress() as progress:
        task = progress.add_task("SyN to the template", total=len(table))
        maps, computed = [], 0
        for sid in table.subject_id:
            target = args.work / "maps" / f"{sid}.npz"
            computed += not target.is_file()
            maps.append(warp_maps(pre.subject(sid).root, target))
            progress.advance(task)
    warp_seconds = (time.perf_counter() - start) / computed if computed else None
    config = TrainConfig(model=model_config("ridge"), downsample=2)
    results = {
        name: cross_validate(table, x.astype(np.float32), config)
        for name, x in feature_sets(maps, image_matrix(table, config)).items()
    }
    print(f"{'features':40s} {'MAE':>6s} {'r':>6s} {'sex':>6s} {'AUC':>6s}")
    for name, r in results.items():
        print(f"{name:40s} {r['age_mae']:6.2f} {r['age_r']:6.3f} {r['sex_accuracy']:6.3f} {r['sex_auc']:6.3f}")
    out = RESULTS / f"deformation_probe_{args.name}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "deformation_probe",
                "machine": machine_info(),
                "n_subjects": len(table),
                "folds": str(args.folds),
                # None where every warp came from the cache of an earlier run
                "warp_seconds_per_subject": round(warp_seconds, 1) if warp_seconds else None,
                "results": results,
            },
            indent=2,
        )
    )
    print(out)


if __name__ == "__main__":
    main()
