"""``brainage preprocess``: restartable per-subject steps with fingerprints, parallel over subjects.

Each subject gets a folder ``OUT/subjects/<id>/`` holding every step's outputs and
``steps.json``, which records for each step the fingerprint of its inputs and parameters, its
run time and what it found. A step is skipped when its recorded fingerprint matches and its
outputs exist, so re-running after Ctrl-C, a crash or a parameter change redoes only what is
needed (the nnU-Net way). A subject that fails is reported and skipped; the batch goes on.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from brainage.config import ADDED_LATER, fingerprint, save_config
from brainage.data.manifest import exclude, included, read_manifest, write_manifest
from brainage.errors import InputError, StageError
from brainage.files import DoneRecord, file_digest, write_csv, write_text
from brainage.layout import PreprocessedDir
from brainage.parallel import Executor, map_subjects
from brainage.preprocess.cache import write_cache_index
from brainage.preprocess.grids import DEFAULT_GRID, GRIDS
from brainage.preprocess.recipes import AFFINE_ITERATIONS, N4_ITERATIONS, RECIPES, RENDITION_KINDS
from brainage.preprocess.renditions import Rendition, plan_renditions, render, rendition_table
from brainage.preprocess.steps import SubjectContext, steps_for


@dataclass
class PreprocessConfig:
    """Parameters of every step; changing one re-runs that step and those after it.

    ``skull_stripped``: ``"auto"`` detects already-stripped inputs, ``"yes"``/``"no"`` force it.
    ``registration``: an antspyx transform type (``Affine`` accurate, ``AffineFast`` ~3x faster).
    ``deterministic``: ANTs single-threaded with a fixed seed, so re-runs give identical
    transforms; we parallelise over subjects instead, which costs nothing in throughput.
    ``working_voxel_mm``: the isotropic voxel size every step works at, whatever the scanner
    stored; ``None`` (default): as stored. 2 mm makes a 1 mm scan about four times cheaper, but
    did not make predictions resolution-invariant on the invariance benchmark (docs/scanner_robustness.md).
    ``tissue``: grey/white matter and CSF maps on every grid, and the
    head-size covariates (native brain volume, registration determinant) in the cache index.
    ``segmentation``: how (:class:`~brainage.preprocess.steps.Segment`): ``atropos`` (default) or
    ``partial-volume`` fractions (keep their volumes under blur, but move with noise and contrast:
    not the default, see docs/scanner_robustness.md), or ``partial-volume histogram``: the same fitted
    on every brain voxel rather than a subsample, so a brain mask's edge does not move the volumes,
    or ``partial-volume prior``: weighed by the MNI template's tissue maps (steadier on young brains,
    but blur then reads old brains young: docs/scanner_robustness.md).
    ``intensity_reference``: how the model cache is scaled (:class:`~brainage.preprocess.steps.Resample`):
    ``percentiles`` (default) or ``tissue`` (CSF and white-matter means anchored: resolution and
    noise leave it in place).
    ``renditions``: how many other acquisitions of each scan to render and preprocess as training
    data for invariance (:mod:`brainage.preprocess.renditions`); 0 (default) for none.
    ``background``: ``offset removed`` puts air stored at a constant back at zero before every
    step (:class:`~brainage.preprocess.steps.Reorient`); ``as stored`` (default) leaves it.
    ``n4_scale``: ``brain median`` runs N4 on one canonical intensity scale, so the same scan
    stored in other units gets the same correction (:func:`~brainage.preprocess.ops.bias_correct`);
    ``as stored`` (default) as before brainage 0.9.
    ``affine_iterations``: the most iterations at each level of the affine registration's pyramid
    (:class:`~brainage.preprocess.steps.Register`); ``(2100, 1200, 1200, 0)`` leaves out the
    full-resolution level, twice as fast for 0.4 mm. ``n4_iterations``: at each of N4's fitting levels.
    ``n4_domain``: ``brain box`` fits N4's field on the brain's bounding box, so a wider field of view
    gets the same correction (:func:`~brainage.preprocess.ops.bias_correct`); ``image`` (default) on
    the whole image, as before brainage 0.10.
    ``downsampling``: ``block average`` brings finer voxels to the working resolution by averaging
    whole runs of them, so a 2 mm brain re-stored at 1 mm comes back on its own grid
    (:func:`~brainage.preprocess.ops.to_working_resolution`); ``gaussian`` (default).
    ``bet_framing``: ``head box`` gives deepbet the head's bounding box rather than the whole field
    of view, so a wider field of view gives the same brain mask
    (:func:`~brainage.preprocess.ops.brain_mask_on_head_box`); ``field of view`` (default).
    ``rendition_kinds``: which acquisitions the training renditions are, dealt in turn (names of
    :data:`~brainage.data.variants.VARIANTS`; default :data:`~brainage.preprocess.recipes.RENDITION_KINDS`).
    Where the work runs (workers, a Dask cluster) is an :class:`~brainage.parallel.Executor`.
    """

    grids: tuple = (DEFAULT_GRID,)
    skull_stripped: str = "auto"
    bet_threshold: float = 0.5
    n4_shrink_factor: int = 4
    registration: str = "Affine"
    deterministic: bool = True
    seed: int = 42
    working_voxel_mm: float | None = None
    tissue: bool = True
    segmentation: str = "atropos"
    intensity_reference: str = field(default="percentiles", metadata=ADDED_LATER)
    renditions: int = field(default=0, metadata=ADDED_LATER)
    background: str = field(default="as stored", metadata=ADDED_LATER)
    n4_scale: str = field(default="as stored", metadata=ADDED_LATER)
    affine_iterations: tuple = field(default=AFFINE_ITERATIONS, metadata=ADDED_LATER)
    n4_iterations: tuple = field(default=N4_ITERATIONS, metadata=ADDED_LATER)
    rendition_kinds: tuple = field(default=RENDITION_KINDS, metadata=ADDED_LATER)
    n4_domain: str = field(default="image", metadata=ADDED_LATER)
    downsampling: str = field(default="gaussian", metadata=ADDED_LATER)
    bet_framing: str = field(default="field of view", metadata=ADDED_LATER)


def recipe_preset(name: str) -> PreprocessConfig:
    """The :class:`PreprocessConfig` of a named recipe (:data:`RECIPES`).

    Parameters
    ----------
    name
        ``default`` or ``scanner-robust`` (``brainage preprocess --recipe``).

    Returns
    -------
    PreprocessConfig
        Every setting of the recipe; those it does not name at their defaults.

    Example:
        >>> recipe_preset("scanner-robust").intensity_reference, recipe_preset("default").renditions
        ('tissue', 0)
    """
    if name not in RECIPES:
        raise InputError(None, f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    return PreprocessConfig(**RECIPES[name])


_ANTS_PINNED = False  # set by prepare_process: ANTs in this process runs on one thread


def prepare_process(config: PreprocessConfig) -> None:
    """Pin ANTs/ITK to one thread where the recipe asks for repeatable registrations.

    ITK reads its thread count once per process, before ANTs is first used; so this runs at the
    start of every task (local or Dask) and only acts the first time. A program that goes on to
    preprocess single scans in its own process (a test session, a notebook) may call it first.

    Parameters
    ----------
    config : PreprocessConfig
        The recipe; only its ``deterministic`` setting matters here.
    """
    global _ANTS_PINNED
    if config.deterministic and "ants" not in sys.modules:
        os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = "1"
        _ANTS_PINNED = True


def can_run_here(config: PreprocessConfig) -> bool:
    """Whether this process can preprocess a subject exactly as a fresh worker would: ANTs not
    started here yet, or started after :func:`prepare_process` pinned it.

    Parameters
    ----------
    config : PreprocessConfig
        The recipe; one without repeatable registrations can run anywhere.

    Returns
    -------
    bool
        True where no fresh process is needed.
    """
    return not config.deterministic or _ANTS_PINNED or "ants" not in sys.modules


@contextmanager
def _torch_threads(n: int):
    """Brain extraction on ``n`` torch threads, the caller's setting restored afterwards (a
    subject preprocessed in the caller's own process must not change what it does next).

    deepbet's mask is the same on one thread or two (checked on a 1 mm IXI head: identical
    voxels), so a core that no other subject uses may help; ANTs stays on one thread.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _file_identity(path: Path) -> dict:
    return {"sha256": file_digest(path)}


def preprocess_subject(
    subject_id: str, t1_path: str, out_dir: str, config: PreprocessConfig, torch_threads: int = 1
) -> dict:
    """Run (or resume) every step for one subject; returns a row of the preprocessing report.

    For repeatable registrations call it in a process where :func:`can_run_here` holds (a fresh
    one always qualifies), as :func:`preprocess_manifest` does.
    """
    return _preprocess(subject_id, lambda: t1_path, out_dir, config, torch_threads)


def preprocess_rendition(rendition: Rendition, out_dir: str, config: PreprocessConfig) -> dict:
    """Render (or reuse) one training rendition and preprocess it like a subject; a report row."""
    return _preprocess(rendition.subject_id, lambda: str(render(rendition, out_dir)), out_dir, config)


def _preprocess(subject_id: str, source, out_dir: str, config: PreprocessConfig, torch_threads: int = 1) -> dict:
    """Every step for one subject whose input file ``source()`` gives (rendered on demand, so a
    rendition that cannot be rendered is one failed row like any other)."""
    prepare_process(config)
    with _torch_threads(torch_threads):
        return _run_steps(subject_id, source, out_dir, config)


def _run_steps(subject_id: str, source, out_dir: str, config: PreprocessConfig) -> dict:
    root = PreprocessedDir(out_dir)
    folder = root.subject(subject_id)
    folder.root.mkdir(parents=True, exist_ok=True)
    row: dict = {"subject_id": subject_id, "t1_path": "", "status": "ok", "error": ""}
    try:
        row["t1_path"] = source()
        ctx = SubjectContext(source=Path(row["t1_path"]), folder=folder, root=root)
        done = DoneRecord(folder.steps)
        if not ctx.source.is_file():
            raise InputError(ctx.source, "file does not exist" if not ctx.source.exists() else "is not a file")
        fp = fingerprint(_file_identity(ctx.source))
        for step in steps_for(config):
            fp = fingerprint(fp, step.name, step.params())
            outputs = step.outputs(ctx)
            if not done.is_done(step.name, fp, outputs):
                start = time.perf_counter()
                info = step.run(ctx)
                done.record(step.name, fp, outputs, seconds=round(time.perf_counter() - start, 3), info=info)
            entry = done[step.name]
            row[f"seconds_{step.name}"] = entry["seconds"]
            row.update({k: v for k, v in entry["info"].items() if not isinstance(v, (list, dict))})
    except InputError as exc:
        row.update(status="failed", error=exc.problem if exc.source in (None, str(Path(row["t1_path"]))) else str(exc))
    except Exception as exc:  # one subject must never kill the batch; keep the trace for the report
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        write_text(folder.error, traceback.format_exc())
    return row


def _spare_threads(n_subjects: int, executor: Executor) -> int:
    """Torch threads per subject: this machine's cores shared by the subjects that run at once
    (one on a Dask cluster, whose workers' cores are theirs to share)."""
    if executor.kind != "local":
        return 1
    return max(1, (os.cpu_count() or 1) // max(1, min(n_subjects, executor.workers)))


def preprocess_manifest(
    manifest_path: str | Path,
    out_dir: str | Path,
    config: PreprocessConfig = PreprocessConfig(),
    executor: Executor = Executor(),
) -> pd.DataFrame:
    """Preprocess every included subject of a manifest into ``out_dir``.

    Writes ``preprocess_report.csv`` (one row per subject: status, error, seconds per step,
    quality metrics), ``manifest.csv`` (the input manifest with failed subjects excluded and
    the reason), ``preprocess_config.yaml`` and, per grid, ``cache/<grid>/`` with ``index.csv``
    and ``grid.json``. In worker processes, even for one worker: ANTs reads its thread count
    once per process, so only a fresh process can be pinned to the single thread determinism
    needs. A single scan runs in this process where that holds here too (:func:`can_run_here`):
    a fresh interpreter costs seconds of imports.

    Parameters
    ----------
    manifest_path
        ``manifest.csv`` from ``brainage ingest``.
    out_dir
        Output folder (created if missing); re-running resumes.
    config
        The recipe (:class:`PreprocessConfig`).
    executor
        Where subjects run: local worker processes or a Dask cluster.

    Returns
    -------
    pandas.DataFrame
        The preprocessing report: one row per subject with status, error, seconds per step and
        quality figures.

    Example:
        >>> preprocess_manifest("results/demo/manifest.csv", "results/demo/preprocessed")  # doctest: +SKIP
    """
    root = PreprocessedDir(out_dir)
    unknown = [g for g in config.grids if g not in GRIDS]
    if unknown:
        raise InputError(None, f"unknown grid(s) {unknown}; choose from {sorted(GRIDS)}")
    if config.renditions and not config.tissue:
        raise InputError(None, "training renditions need the tissue segmentation (tissue: true)")
    manifest = read_manifest(manifest_path)
    todo = included(manifest)
    if todo.empty:
        raise InputError(manifest_path, "manifest has no included subjects: nothing to preprocess")
    root.root.mkdir(parents=True, exist_ok=True)
    save_config(config, root.config)
    threads = _spare_threads(len(todo), executor)
    jobs = [(s.subject_id, str(s.t1_path), str(root.root), config, threads) for s in todo.itertuples()]
    if len(jobs) == 1 and executor.kind == "local" and can_run_here(config):
        executor = replace(executor, isolate=False)  # a fresh interpreter for one scan costs seconds
    rows = map_subjects(preprocess_subject, jobs, "preprocessing", executor)
    report = pd.DataFrame(rows).sort_values("subject_id").reset_index(drop=True)
    failed = report[report.status != "ok"].set_index("subject_id")["error"]
    out_manifest = exclude(
        manifest,
        manifest.subject_id.isin(failed.index),
        "preprocessing failed: " + manifest.subject_id.map(failed).fillna(""),
    )
    write_manifest(out_manifest, root.manifest)
    renditions = _preprocess_renditions(out_manifest, root, config, executor)
    write_csv(report, root.report)
    for grid_name in config.grids:
        write_cache_index(root.cache(grid_name), GRIDS[grid_name], out_manifest, report, renditions)
    return report


def _preprocess_renditions(
    manifest: pd.DataFrame, root: PreprocessedDir, config: PreprocessConfig, executor: Executor
) -> pd.DataFrame | None:
    """The configured training renditions of the subjects that preprocessed, with their report
    (``renditions_report.csv``) and table (``renditions.csv``); ``None`` when none are asked for."""
    if not config.renditions:
        return None
    plan = plan_renditions(manifest, config.renditions, config.rendition_kinds)
    jobs = [(r, str(root.root), config) for r in plan]
    rows = map_subjects(preprocess_rendition, jobs, "rendering and preprocessing training renditions", executor)
    report = pd.DataFrame(rows)
    write_csv(report, root.renditions_report)
    table = rendition_table(plan, manifest, report)
    write_csv(table, root.renditions_table)
    return table.merge(report.drop(columns=["t1_path", "status", "error"]), on="subject_id", how="left")


def print_report(report: pd.DataFrame, out_dir: str | Path) -> None:
    """Print counts, median seconds per step and every failure with its file and reason; raise
    :class:`StageError` (a non-zero exit) when no subject succeeded."""
    from brainage.progress import console

    root = PreprocessedDir(out_dir)
    ok = report[report.status == "ok"]
    timing = [c for c in report.columns if c.startswith("seconds_")]
    if len(ok) and timing:
        med = ok[timing].median()
        console.print(
            "median seconds per step: "
            + ", ".join(f"{c[8:]} {v:.1f}" for c, v in med.items())
            + f"; total {med.sum():.1f}"
        )
    for _, row in report[report.status != "ok"].iterrows():
        console.print(f"  FAILED {row.subject_id} ({row.t1_path}): {row.error}")
    summary = f"{len(ok)} ok, {len(report) - len(ok)} failed (see {root.report})"
    if ok.empty:
        raise StageError(f"preprocessing failed for every subject: {summary}")
    console.print(summary)
