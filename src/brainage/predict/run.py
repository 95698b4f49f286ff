"""``brainage predict``: brain age and sex for anyone's scans, with a trained model bundle.

Inputs of any kind (:mod:`brainage.data.inputs`) -> the bundle's own preprocessing recipe ->
QC -> the bundle's models. Every subject gets a row of ``predictions.csv``, also those that
failed (with the reason), and warnings only where a prediction deserves less trust
(:mod:`brainage.predict.warnings`).

Example:
    >>> predict_files("scan.nii.gz", "out")  # doctest: +SKIP

In memory (no folders): ``load_bundle().predict(nib.load("scan.nii.gz"))``
(:meth:`~brainage.bundle.bundle.Bundle.predict`).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from brainage.bundle.bundle import Bundle, load_bundle
from brainage.bundle.intervals import INTERVAL_COLUMNS
from brainage.bundle.meta import BundleMeta
from brainage.data.images import voxel_fingerprint
from brainage.data.inputs import image_geometry, manifest_for_inputs
from brainage.data.manifest import included, read_manifest
from brainage.errors import InputError
from brainage.evaluation.metrics import SUBJECT_COLUMNS, subject_columns
from brainage.files import write_csv, write_json
from brainage.layout import PredictDir
from brainage.parallel import Executor
from brainage.predict.warnings import geometry_warning, qc_warning
from brainage.preprocess.cache import read_cache_index
from brainage.preprocess.pipeline import preprocess_manifest
from brainage.progress import console
from brainage.qc.checks import NOT_T1_CHECK
from brainage.qc.reference import Reference
from brainage.qc.run import run_qc
from brainage.training.intervals import DEFAULT_COVERAGE

#: predictions.csv columns, in order (readable names: this file is opened by people).
COLUMNS = [
    "subject_id",
    "site",
    "age",
    "sex",
    *SUBJECT_COLUMNS,
    *INTERVAL_COLUMNS,
    "interval_widened",
    "qc_verdict",
    "qc_reasons",
    "scanner_differs",
    "in_training_set",
    "warnings",
    "voxel_mm",
    "orientation",
    "t1_path",
]


def _readable_geometry(path) -> dict:
    """The header geometry of an input, or blanks where it cannot be read as a 3D image (its row
    already says why it was not predicted): one unreadable file must not cost the others their rows."""
    unknown = {"voxel_mm": [np.nan] * 3, "orientation": ""}
    if not isinstance(path, str) or not Path(path).is_file():
        return unknown
    try:
        geometry = image_geometry(path)
    except Exception:  # nibabel raises several types on a file that is not an image
        return unknown
    return geometry if len(geometry["voxel_mm"]) == 3 else unknown


def training_matches(table: pd.DataFrame, meta: BundleMeta) -> list[str]:
    """Per row, whether the model was trained on this scan: by voxel content where the bundle
    carries its training scans' fingerprints (``same voxel data``), else by name (``same name``);
    ``""``: not that we know."""
    fingerprints = set(meta.trained_on_images.values())
    names = set(meta.trained_on)
    out = []
    for sid, path, usable in zip(table.subject_id, table.t1_path, table.included):
        same = False
        if fingerprints and usable and isinstance(path, str) and Path(path).is_file():
            try:
                same = voxel_fingerprint(path) in fingerprints
            except Exception:  # unreadable: its row already says why, and it is no training scan we know
                pass
        out.append("same voxel data" if same else "same name" if sid in names and not fingerprints else "")
    return out


def _warnings(row: pd.Series, meta: BundleMeta) -> str:
    cohort = meta.cohort
    out = [qc_warning(row.qc_verdict, row.qc_reasons)]
    lo, hi = cohort["age_min"], cohort["age_max"]
    if pd.notna(row.age) and not lo <= row.age <= hi:
        out.append(
            f"age {row.age:.0f} outside the training range {lo:.0f}-{hi:.0f}: the model has not seen such brains"
        )
    if pd.notna(row.predicted_age) and not lo <= row.predicted_age <= hi:
        out.append(f"predicted age {row.predicted_age:.0f} outside the training range {lo:.0f}-{hi:.0f}")
    if row.in_training_set:
        out.append(f"the model was trained on this scan ({row.in_training_set}): its prediction is optimistic")
    if pd.notna(row.predicted_age):
        out.append(geometry_warning(row.voxel, cohort.get("voxel_mm_median"), meta.invariance))
    return "; ".join(w for w in out if w)


def assemble(
    manifest: pd.DataFrame,
    index: pd.DataFrame,
    predictions: pd.DataFrame,
    verdicts: pd.DataFrame,
    bundle: Bundle,
    coverage: float = DEFAULT_COVERAGE,
) -> pd.DataFrame:
    """One row per subject of the manifest, predicted or not, with warnings and the ``coverage``
    interval of every age (widened where QC found the scanner unlike the training one, or warned)."""
    table = manifest[["subject_id", "site", "age", "sex", "t1_path", "included", "exclusion_reason"]].copy()
    preds = index[["subject_id"]].join(predictions)
    table = table.merge(preds, on="subject_id", how="left")
    verdict = (
        verdicts.set_index("subject_id") if len(verdicts) else pd.DataFrame(columns=["final_verdict", "final_reasons"])
    )
    for column, source in (
        ("qc_verdict", "final_verdict"),
        ("qc_reasons", "final_reasons"),
        ("scanner_differs", "scanner_differs"),
    ):
        table[column] = table.subject_id.map(verdict.get(source, pd.Series(dtype=str))).fillna("")
    if "override" in verdict:  # a reviewer's verdict is not the scanner's
        table.loc[table.subject_id.map(verdict["override"]).fillna("") != "", "scanner_differs"] = ""
    not_run = ~table.included
    table.loc[not_run, "qc_verdict"] = "fail"
    table.loc[not_run, "qc_reasons"] = table.loc[not_run, "exclusion_reason"]
    # An image that is not a T1 gets no age, as an unreadable one gets none: the reason stays in qc_reasons.
    checks = table.subject_id.map(verdict.get("checks", pd.Series(dtype=str))).fillna("").astype(str)
    not_t1 = (table.qc_verdict == "fail") & checks.str.split().map(lambda c: NOT_T1_CHECK in c)
    table.loc[not_t1, [c for c in predictions.columns if c in table]] = np.nan
    table[list(SUBJECT_COLUMNS)] = subject_columns(table).reindex(columns=list(SUBJECT_COLUMNS))
    intervals = bundle.intervals(
        table,
        table["age"],
        coverage,
        scanner_differs=table.scanner_differs != "",
        qc_warned=table.qc_verdict.isin(["warn", "fail"]),
    )
    table[list(intervals.columns)] = intervals
    geometry = [_readable_geometry(p) for p in table.t1_path]
    table["voxel"] = [g["voxel_mm"] for g in geometry]
    table["voxel_mm"] = ["x".join(f"{v:g}" for v in g["voxel_mm"]) for g in geometry]
    table["orientation"] = [g["orientation"] for g in geometry]
    table["in_training_set"] = training_matches(table, bundle.meta)
    table["warnings"] = table.apply(_warnings, axis=1, meta=bundle.meta)
    return table[COLUMNS]


def predict_files(
    source: str | Path,
    out_dir: str | Path,
    bundle: str | Path | Bundle | None = None,
    executor: Executor = Executor(),
    sex_coding: dict | None = None,
    pictures: bool = True,
    series: list[str] | None = None,
    coverage: float = DEFAULT_COVERAGE,
) -> pd.DataFrame:
    """Predict every scan of ``source`` into ``out_dir`` (``brainage predict``): preprocessing with
    the bundle's recipe, QC, ``predictions.csv`` and the HTML report.

    Parameters
    ----------
    source
        A NIfTI file, a folder of them, a CSV listing scans (with ``age``/``sex`` where known), a
        BIDS dataset or a DICOM folder (:mod:`brainage.data.inputs`).
    out_dir
        The output folder (created if missing; a rerun reuses finished steps).
    bundle
        A ``.brainage`` file or a loaded :class:`Bundle`; ``None``: the model that ships with brainage.
    executor
        Where subjects are preprocessed (local workers or a Dask cluster).
    sex_coding
        How the CSV's ``sex`` values map to ``M``/``F`` where they are coded otherwise.
    pictures
        Whether QC draws its pictures (the report shows them).
    series
        DICOM series to predict instead of each study's 3D T1 (numbers or description fragments).
    coverage
        Of the interval beside every age (``predicted_age_low`` ... ``corrected_age_high``).

    Returns
    -------
    pandas.DataFrame
        ``predictions.csv``: one row per input, predicted or not, with QC, intervals and warnings.
    """
    start = time.perf_counter()
    bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    out = PredictDir(out_dir)
    created = not out.root.exists()
    out.root.mkdir(parents=True, exist_ok=True)
    try:
        manifest = manifest_for_inputs(source, out.root, sex_coding, series)
    except InputError:
        if created:  # made by this call and holding nothing of the user's: leave no empty output behind
            shutil.rmtree(out.root, ignore_errors=True)
        raise
    if included(manifest).empty:  # every input refused before preprocessing: still one row each, with why
        table = assemble(
            manifest.fillna({"sex": ""}), pd.DataFrame(columns=["subject_id"]), pd.DataFrame(), pd.DataFrame(), bundle
        )
        write_csv(table, out.predictions)
        reasons = "; ".join(f"{r.subject_id}: {r.exclusion_reason}" for r in manifest.itertuples())
        raise InputError(source, f"no usable image ({reasons}); one row each in {out.predictions}")
    report = preprocess_manifest(out.ingest.manifest, out.preprocessed.root, bundle.preprocess_config, executor)
    after = read_manifest(out.preprocessed.manifest).fillna({"sex": ""})
    # QC needs no fresh process per subject, but it runs where preprocessing ran (a Dask cluster too);
    # its yardstick for scanner-dependent metrics is the model's own training scans where the bundle
    # carries them, so "differs from the training scanner" means what it says
    reference = bundle.meta.qc_reference
    if reference:
        Reference.from_dict(reference).save(out.training_qc_reference)
    verdicts = run_qc(
        out.preprocessed.root,
        executor=replace(executor, isolate=False),
        pictures=pictures,
        reference=out.training_qc_reference if reference else None,
    )
    index = read_cache_index(out.preprocessed.cache(bundle.grid).root)
    predictions = bundle.predict(index, coverage) if len(index) else pd.DataFrame(index=index.index)
    table = assemble(after, index, predictions, verdicts, bundle, coverage)
    write_csv(table, out.predictions)
    if table.predicted_age.isna().all():
        raise InputError(
            source, f"none of its {len(table)} scans could be predicted; the reason for each is in {out.predictions}"
        )
    seconds = time.perf_counter() - start
    write_json(
        out.info,
        {
            "source": str(Path(source).absolute()),
            "bundle": bundle.meta.name,
            "bundle_created": bundle.meta.created,
            "n_subjects": int(len(table)),
            "n_predicted": int(table.predicted_age.notna().sum()),
            "seconds": round(seconds, 1),
            "preprocessing_seconds_median": float(report.filter(like="seconds_").sum(axis=1).median()),
        },
    )
    from brainage.predict.report import write_report

    write_report(table, bundle.meta, out, coverage)
    console.print(
        f"{table.predicted_age.notna().sum()} of {len(table)} scans predicted in {seconds:.0f} s: "
        f"{out.predictions}; report {out.report}"
    )
    return table
