"""What ``brainage predict`` accepts, turned into one manifest: a NIfTI file, a folder of NIfTI,
a BIDS dataset, a CSV (``path[, subject_id, age, sex, site]``) or a folder of DICOM series.

DICOM is converted with **dcm2niix** (Rorden's converter, the one BIDS tools and MRIQC pipelines
use), installed from its PyPI wheel (``dcm2niix``), which carries the same compiled binary as
Debian's package: a plain ``pip install`` gives every user (and CI) the converter, with no system
package to add. Of the converted series, :mod:`brainage.data.series` picks the 3D T1 of each
study (every series and the decision go to ``series.csv``); subjects are named after the patient
ID (and the study date where a patient has several). A failed conversion names the folder and
dcm2niix's message.

Example:
    >>> manifest = manifest_for_inputs("scans/", "out/inputs")  # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from brainage.data.manifest import check_images, make_manifest, write_manifest
from brainage.errors import InputError
from brainage.files import safe_name, write_csv
from brainage.layout import CohortDir, PredictDir
from brainage.progress import console

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def subject_id_from(path: Path) -> str:
    """A file-name-safe subject id from an image file name.

    Example:
        >>> subject_id_from(Path("/data/sub-01_T1w.nii.gz")), subject_id_from(Path("Patient 7 (T1).nii"))
        ('sub-01_T1w', 'Patient_7_T1')
    """
    name = path.name
    for suffix in NIFTI_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return safe_name(name)


def is_dicom(path: Path) -> bool:
    """A DICOM Part 10 file (``DICM`` after the 128-byte preamble)."""
    try:
        with path.open("rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def _manifest_of_images(images: list[Path], source: str) -> pd.DataFrame:
    records, seen = [], set()
    for image in sorted(images):
        sid = subject_id_from(image)
        if sid in seen:  # the same file name in two folders
            sid = subject_id_from(Path(f"{image.parent.name}_{image.name}"))
        seen.add(sid)
        records.append(
            {
                "subject_id": sid,
                "t1_path": str(image.absolute()),
                "source": source,
                "age": float("nan"),
                "sex": "",
                "site": "unknown",
            }
        )
    return make_manifest(records)


def dcm2niix_executable() -> str:
    """The dcm2niix binary: the PyPI package's, else one on PATH."""
    beside_python = Path(sys.executable).parent / "dcm2niix"
    found = str(beside_python) if beside_python.is_file() else shutil.which("dcm2niix")
    if not found:
        raise InputError(
            None, "dcm2niix is not installed: `pip install dcm2niix` (a brainage dependency) converts DICOM"
        )
    return found


def convert_dicom(folder: Path, out: Path) -> list[Path]:
    """Convert every DICOM series under ``folder`` into ``out`` (gzipped NIfTI); returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    # -ba n: keep PatientID and StudyInstanceUID in the sidecars (the output stays on this machine);
    # the name keeps two patients' or studies' series with the same number apart
    command = [
        dcm2niix_executable(),
        "-z",
        "y",
        "-b",
        "y",
        "-ba",
        "n",
        "-f",
        "%i_%t_%s_%d",
        "-o",
        str(out),
        str(folder),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    converted = sorted(p for p in out.iterdir() if is_nifti(p))
    if result.returncode not in (0,) or not converted:
        message = [line for line in (result.stdout + result.stderr).splitlines() if "error" in line.lower()][:2]
        raise InputError(
            folder,
            f"dcm2niix could not convert the DICOM here (exit {result.returncode}"
            f"{': ' + ' | '.join(message) if message else ''})",
        )
    return converted


def image_geometry(path: str | Path) -> dict:
    """Voxel size (mm, as stored) and orientation code of an image header (nothing else is read).

    Example:
        >>> import nibabel as nib, numpy as np, tempfile
        >>> path = Path(tempfile.mkdtemp()) / "a.nii.gz"
        >>> nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.diag([-1.0, 1.0, 2.5, 1.0])), path)
        >>> image_geometry(path)
        {'voxel_mm': [1.0, 1.0, 2.5], 'orientation': 'LAS'}
    """
    import nibabel as nib

    img = nib.load(str(path))
    return {
        "voxel_mm": [round(float(z), 3) for z in img.header.get_zooms()[:3]],
        "orientation": "".join(nib.aff2axcodes(img.affine)),
    }


def _first_files(folder: Path, limit: int = 2000):
    for i, path in enumerate(p for p in folder.rglob("*") if p.is_file()):
        if i >= limit:
            return
        yield path


def _manifest_of_dicom(source: Path, out: PredictDir, wanted: list[str] | None) -> pd.DataFrame:
    from brainage.data.series import dicom_only_tags, read_series, select_series

    converted = convert_dicom(source, out.converted)
    tags = dicom_only_tags(source)
    table = select_series([read_series(p, tags) for p in converted], wanted)
    write_csv(table, out.series)
    chosen = table[table.chosen]
    console.print(
        f"dcm2niix: {len(table)} series from {source}; {len(chosen)} chosen (3D T1 per study), "
        f"{len(table) - len(chosen)} skipped with the reason in {out.series}"
    )
    if chosen.empty:
        raise InputError(
            source,
            f"none of its {len(table)} DICOM series is a 3D T1-weighted scan (reasons in {out.series}; "
            "`--series NUMBER` picks one by hand)",
        )
    return make_manifest(
        [
            {
                "subject_id": r.subject_id,
                "t1_path": str(Path(r.nifti).absolute()),
                "source": "dicom",
                "age": float("nan"),
                "sex": "",
                "site": "unknown",
            }
            for r in chosen.itertuples()
        ]
    )


def manifest_for_inputs(
    source: str | Path, out: str | Path, sex_coding: dict | None = None, series: list[str] | None = None
) -> pd.DataFrame:
    """A manifest (``out/inputs/manifest.csv``) of whatever ``source`` is; labels are optional.

    ``series``: for DICOM, series numbers or description fragments to predict instead of the
    automatic choice (:func:`~brainage.data.series.select_series`).
    """
    source, out = Path(source), PredictDir(out)
    if not source.exists():
        raise InputError(
            source, "does not exist (give a NIfTI file, a folder of NIfTI or DICOM, a BIDS folder or a CSV)"
        )
    if source.is_file() and is_nifti(source):
        manifest = _manifest_of_images([source], "nifti")
    elif source.is_file() and source.suffix.lower() in (".csv", ".tsv"):
        from brainage.data.ingest_csv import ingest_csv

        manifest = ingest_csv(source, check=False, sex_coding=sex_coding, labels_required=False)
    elif source.is_file():
        raise InputError(source, "is neither a NIfTI image (.nii, .nii.gz) nor a CSV; for DICOM give the folder")
    elif CohortDir(source).participants.is_file():
        from brainage.data.ingest_bids import ingest_bids

        manifest = ingest_bids(source, check=False, sex_coding=sex_coding, labels_required=False)
    else:
        images = [p for p in source.rglob("*") if p.is_file() and is_nifti(p)]
        if images:
            manifest = _manifest_of_images(images, "nifti")
        elif any(is_dicom(p) for p in _first_files(source)):
            manifest = _manifest_of_dicom(source, out, series)
        else:
            raise InputError(source, "holds no NIfTI (.nii, .nii.gz), DICOM or BIDS participants.tsv")
    manifest = check_images(manifest, description="checking images")
    write_manifest(manifest, out.ingest.manifest)
    return manifest
