"""``brainage preprocess``: restartable per-subject steps with fingerprints, parallel over subjects.

Each subject gets a folder ``OUT/subjects/<id>/`` holding every step's outputs and
``steps.json``, which records for each step the fingerprint of its inputs and parameters, its
run time and what it found. A step is skipped when its recorded fingerprint matches and its
outputs exist, so re-running after Ctrl-C, a crash or a parameter change redoes only what is
needed (the nnU-Net way). A subject that fails is reported and skipped; the batch goes on.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from brainage.config import fingerprint, save_config
from brainage.data.manifest import exclude, included, read_manifest, write_manifest
from brainage.errors import InputError
from brainage.preprocess import steps as ops
from brainage.preprocess.cache import cache_path, write_cache_index, write_volume
from brainage.preprocess.template import GRIDS
from brainage.progress import make_progress

STEP_ORDER = ("reorient", "brain_mask", "bias_correct", "register", "resample")


@dataclass
class PreprocessConfig:
    """Parameters of every step; changing one re-runs that step and those after it.

    ``skull_stripped``: ``"auto"`` detects already-stripped inputs, ``"yes"``/``"no"`` force it.
    ``registration``: an antspyx transform type (``Affine`` accurate, ``AffineFast`` ~3x faster).
    ``deterministic``: ANTs single-threaded with a fixed seed, so re-runs give identical
    transforms; we parallelise over subjects instead, which costs nothing in throughput.
    """

    grids: tuple = ("2mm",)
    skull_stripped: str = "auto"
    bet_threshold: float = 0.5
    n4_shrink_factor: int = 4
    registration: str = "Affine"
    deterministic: bool = True
    seed: int = 42
    workers: int = 2


class _Worker:
    """Per-process state: the brain-extraction model is loaded once per worker, not per subject."""

    extractor: ops.BrainExtractor | None = None

    @classmethod
    def init(cls, config: PreprocessConfig) -> None:
        if config.deterministic:
            os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)
        cls.extractor = None

    @classmethod
    def bet(cls, config: PreprocessConfig) -> ops.BrainExtractor:
        if cls.extractor is None:
            cls.extractor = ops.BrainExtractor(threshold=config.bet_threshold)
        return cls.extractor


def _save_nifti(img: nib.Nifti1Image, path: Path, dtype=np.float32) -> None:
    tmp = path.with_name(path.name.replace(".nii.gz", ".tmp.nii.gz"))
    out = nib.Nifti1Image(np.asarray(img.dataobj).astype(dtype), img.affine)
    out.header.set_xyzt_units("mm", "sec")
    nib.save(out, str(tmp))
    tmp.replace(path)


class SubjectWorkspace:
    """One subject's folder and its ``steps.json`` state."""

    def __init__(self, root: Path, subject_id: str):
        self.dir = root / "subjects" / subject_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.dir / "steps.json"
        self.state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}

    def path(self, name: str) -> Path:
        return self.dir / name

    def done(self, step: str, fp: str, outputs: list[str]) -> bool:
        entry = self.state.get(step)
        return bool(entry and entry.get("fingerprint") == fp and all(self.path(o).exists() for o in outputs))

    def record(self, step: str, fp: str, outputs: list[str], seconds: float, info: dict) -> None:
        self.state[step] = {"fingerprint": fp, "outputs": outputs, "seconds": round(seconds, 3), "info": info}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2))
        tmp.replace(self.state_path)


def _file_identity(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def preprocess_subject(subject_id: str, t1_path: str, out_dir: str, config: PreprocessConfig) -> dict:
    """Run (or resume) every step for one subject; returns a row of the preprocessing report.

    Repeatable registrations need ANTs on one thread, which ITK reads once per process: call this
    in a fresh process (as :func:`preprocess_manifest` does) or set
    ``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=1`` before anything else uses ANTs.
    """
    root = Path(out_dir)
    ws = SubjectWorkspace(root, subject_id)
    row: dict = {"subject_id": subject_id, "status": "ok", "error": ""}
    src = Path(t1_path)
    try:
        if not src.exists():
            raise InputError(src, "file does not exist")
        fp = fingerprint(_file_identity(src))

        def run(step: str, params: dict, outputs: list[str], fn) -> dict:
            nonlocal fp
            fp = fingerprint(fp, step, params)
            if not ws.done(step, fp, outputs):
                start = time.perf_counter()
                info = fn()
                ws.record(step, fp, outputs, time.perf_counter() - start, info)
            entry = ws.state[step]
            row[f"seconds_{step}"] = entry["seconds"]
            row.update({k: v for k, v in entry["info"].items() if not isinstance(v, (list, dict))})
            return entry["info"]

        def do_reorient():
            img, info = ops.reorient(src)
            _save_nifti(img, ws.path("t1_ras.nii.gz"))
            return info

        run("reorient", {}, ["t1_ras.nii.gz"], do_reorient)

        def do_mask():
            img = nib.load(str(ws.path("t1_ras.nii.gz")))
            data = img.get_fdata(dtype=np.float32)
            voxel_ml = float(np.prod(img.header.get_zooms()[:3])) / 1000
            stripped = {"yes": True, "no": False}.get(config.skull_stripped) if config.skull_stripped != "auto" \
                else ops.looks_skull_stripped(data, voxel_ml)
            mask = ops.mask_from_stripped(data) if stripped else _Worker.bet(config)(data)
            volume = ops.check_brain_volume(mask, voxel_ml)
            _save_nifti(nib.Nifti1Image(mask.astype(np.uint8), img.affine), ws.path("brain_mask.nii.gz"), np.uint8)
            return {"input_skull_stripped": bool(stripped), "brain_volume_ml": round(volume, 1)}

        run("brain_mask", {"mode": config.skull_stripped, "threshold": config.bet_threshold}, ["brain_mask.nii.gz"], do_mask)

        def do_n4():
            img = nib.load(str(ws.path("t1_ras.nii.gz")))
            mask = nib.load(str(ws.path("brain_mask.nii.gz"))).get_fdata() > 0
            corrected, field = ops.bias_correct(img, mask, config.n4_shrink_factor)
            _save_nifti(corrected, ws.path("t1_n4.nii.gz"))
            _save_nifti(field, ws.path("bias_field.nii.gz"))
            f = np.asarray(field.dataobj)[mask]
            return {"bias_median": round(float(np.median(f)), 4),
                    "bias_range": round(float(np.percentile(f, 99) - np.percentile(f, 1)), 4)}

        run("bias_correct", {"shrink": config.n4_shrink_factor}, ["t1_n4.nii.gz", "bias_field.nii.gz"], do_n4)

        def do_register():
            img = nib.load(str(ws.path("t1_n4.nii.gz")))
            mask = nib.load(str(ws.path("brain_mask.nii.gz"))).get_fdata() > 0
            brain = nib.Nifti1Image(np.where(mask, img.get_fdata(dtype=np.float32), 0).astype(np.float32), img.affine)
            _save_nifti(brain, ws.path("brain_n4.nii.gz"))
            return ops.register_affine(brain, ws.path("to_mni_affine.mat"), config.registration,
                                       seed=config.seed if config.deterministic else None)

        run("register", {"kind": config.registration, "deterministic": config.deterministic, "seed": config.seed},
            ["to_mni_affine.mat", "brain_n4.nii.gz"], do_register)

        for grid_name in config.grids:
            grid = GRIDS[grid_name]
            outputs = [f"t1_mni_{grid_name}.nii.gz", f"mask_mni_{grid_name}.nii.gz"]

            def do_resample(grid=grid, grid_name=grid_name, outputs=outputs):
                brain = nib.load(str(ws.path("brain_n4.nii.gz")))
                mask = nib.load(str(ws.path("brain_mask.nii.gz")))
                warped = ops.to_grid(brain, ws.path("to_mni_affine.mat"), grid)
                warped_mask = ops.to_grid(nib.Nifti1Image(mask.get_fdata(dtype=np.float32), mask.affine),
                                          ws.path("to_mni_affine.mat"), grid)
                m = np.asarray(warped_mask.dataobj) > 0.5
                norm = ops.normalise_intensity(np.asarray(warped.dataobj), m)
                _save_nifti(nib.Nifti1Image(norm, grid.affine()), ws.path(outputs[0]))
                _save_nifti(nib.Nifti1Image(m.astype(np.uint8), grid.affine()), ws.path(outputs[1]), np.uint8)
                write_volume(cache_path(root, grid_name, subject_id), norm)
                return {f"brain_fraction_in_grid_{grid_name}": round(float(m.mean()), 4)}

            run(f"resample_{grid_name}", asdict(grid), outputs, do_resample)
            if not cache_path(root, grid_name, subject_id).exists():  # cache deleted by hand: rebuild it
                norm = nib.load(str(ws.path(outputs[0]))).get_fdata(dtype=np.float32)
                write_volume(cache_path(root, grid_name, subject_id), norm)
    except InputError as exc:
        row.update(status="failed", error=exc.problem if exc.source in (None, str(src)) else str(exc))
    except Exception as exc:  # one subject must never kill the batch; keep the trace for the report
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        (ws.dir / "error.txt").write_text(traceback.format_exc())
    return row


def preprocess_manifest(manifest_path: str | Path, out_dir: str | Path, config: PreprocessConfig = PreprocessConfig(),
                        start_method: str = "spawn") -> pd.DataFrame:
    """Preprocess every included subject of a manifest into ``out_dir``.

    Writes ``preprocess_report.csv`` (one row per subject: status, error, seconds per step,
    quality metrics), ``manifest.csv`` (the input manifest with failed subjects excluded and
    the reason), ``preprocess_config.yaml`` and ``cache/<grid>/index.csv``.

    Example:
        >>> preprocess_manifest("results/demo/manifest.csv", "results/demo/preprocessed")  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    unknown = [g for g in config.grids if g not in GRIDS]
    if unknown:
        raise InputError(None, f"unknown grid(s) {unknown}; choose from {sorted(GRIDS)}")
    manifest = read_manifest(manifest_path)
    save_config(config, out_dir / "preprocess_config.yaml")
    todo = included(manifest)
    rows = []
    with make_progress() as progress:
        task = progress.add_task("preprocessing", total=len(todo))
        # Always in worker processes, even for one worker: ANTs reads its thread count once per
        # process, so only a fresh process can be pinned to the single thread determinism needs.
        ctx = mp.get_context(start_method)
        with ProcessPoolExecutor(max(1, config.workers), mp_context=ctx, initializer=_Worker.init,
                                 initargs=(config,)) as pool:
            futures = [pool.submit(preprocess_subject, s.subject_id, s.t1_path, str(out_dir), config)
                       for _, s in todo.iterrows()]
            try:
                for fut in as_completed(futures):
                    rows.append(fut.result())
                    progress.advance(task)
            except KeyboardInterrupt:
                for fut in futures:
                    fut.cancel()
                raise
    report = pd.DataFrame(rows).sort_values("subject_id").reset_index(drop=True)
    report.to_csv(out_dir / "preprocess_report.csv", index=False)
    failed = report[report.status != "ok"].set_index("subject_id")["error"]
    out_manifest = exclude(manifest, manifest.subject_id.isin(failed.index),
                           "preprocessing failed: " + manifest.subject_id.map(failed).fillna(""))
    write_manifest(out_manifest, out_dir / "manifest.csv")
    for grid_name in config.grids:
        write_cache_index(out_dir, grid_name, out_manifest)
    return report


def print_report(report: pd.DataFrame, out_dir: str | Path) -> None:
    """Print counts, median seconds per step and every failure with its reason."""
    from brainage.progress import console

    ok = report[report.status == "ok"]
    console.print(f"preprocessed {len(ok)} of {len(report)} subjects into {out_dir}")
    timing = [c for c in report.columns if c.startswith("seconds_")]
    if len(ok) and timing:
        med = ok[timing].median()
        console.print("median seconds per step: " + ", ".join(f"{c[8:]} {v:.1f}" for c, v in med.items())
                      + f"; total {med.sum():.1f}")
    for _, row in report[report.status != "ok"].iterrows():
        console.print(f"  FAILED {row.subject_id}: {row.error}")
