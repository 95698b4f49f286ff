"""Which series of a DICOM export is the scan to predict: the 3D T1-weighted, non-contrast,
non-derived, highest-resolution series of each study.

A hospital export holds a localizer, T2, FLAIR, diffusion, a T1 and its reformats, often a
post-contrast T1, sometimes several studies of one patient. Each series is judged from the BIDS
sidecar dcm2niix writes beside it (SeriesDescription, ProtocolName, ImageType, MRAcquisitionType,
ScanningSequence, EchoTime, RepetitionTime, InversionTime, PatientID, StudyInstanceUID) and, for
what dcm2niix leaves out (ContrastBolusAgent, StudyDate), from the DICOM headers themselves
(pydicom). The first rule that applies decides; the decision and its reason go to ``series.csv``.

Why hand-written: dcm2niix converts but does not choose, and the BIDS tools that do (heudiconv,
dcm2bids) need a hand-written heuristic per site, which is what this module is.

Example:
    >>> classify({"SeriesDescription": "t2_tse_tra", "EchoTime": 0.09, "MRAcquisitionType": "2D"}, (256, 256, 30))
    'not T1-weighted: echo time 90 ms (T1-weighted scans: under 30 ms)'
    >>> classify({"SeriesDescription": "T1 MPRAGE", "EchoTime": 0.003, "MRAcquisitionType": "3D"}, (176, 256, 256))
    ''
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from brainage.files import safe_name

#: Fewer slices than this along the thinnest axis is a localizer or a single-slab survey, not a brain volume.
MIN_SLICES = 20
#: Echo times above this are T2- or proton-density-weighted (T1 gradient echo: 2-5 ms; T1 spin echo: 8-20 ms).
MAX_T1_ECHO_S = 0.030
#: Without an inversion pulse, repetition times above this are not T1-weighted.
MAX_T1_REPETITION_S = 3.5
#: Inversion times above this null fluid (FLAIR), not T1-weighted (MPRAGE: 0.8-1.1 s).
MAX_T1_INVERSION_S = 1.6


def _words(*words: str) -> re.Pattern:
    """Any of ``words`` not inside a longer word; underscores and digits separate words, as in
    ``t1_mpr_tra`` (``\b`` would not: an underscore is a word character)."""
    return re.compile("|".join(rf"(?<![a-z]){w}(?![a-z])" for w in words), re.I)


_LOCALIZER = _words("locali[sz]er", "scout", "survey", "3[- ]?plane", "3pl", "aahscout")
_DERIVED = _words("mpr", "reformat(ted)?", "mip", "projection", "subtraction", "sub")
_CONTRAST = _words("post", "gado", "gad", "gd", r"\+ ?c", "contrast", "ce", "km")
_NOT_T1 = _words(
    "t2",
    "flair",
    "dwi",
    "dti",
    "diff(usion)?",
    "swi",
    "pd",
    "tof",
    "asl",
    "bold",
    "fmri",
    "adc",
    "trace",
    "fa",
    "perf(usion)?",
    "stir",
    "mra",
    "susc",
    "field ?map",
    "b0",
    "ep2d",
)
_T1 = _words("t1", "mprage", "mp-rage", "spgr", "fspgr", "bravo", "tfe", "t1w")
_DERIVED_TYPES = {"DERIVED", "SECONDARY", "MPR", "REFORMATTED", "PROJECTION IMAGE", "MIP"}


def _text(sidecar: dict) -> str:
    return " ".join(str(sidecar.get(k, "")) for k in ("SeriesDescription", "ProtocolName"))


def classify(sidecar: dict, shape: tuple) -> str:
    """Why a series is not a scan to predict (``""``: it is a 3D-capable T1-weighted candidate).

    ``sidecar``: its dcm2niix BIDS sidecar (plus ``ContrastBolusAgent`` where the DICOM has one);
    ``shape``: the converted image's shape.
    """
    text, image_type = _text(sidecar), {str(t).upper() for t in sidecar.get("ImageType", [])}
    shape = tuple(shape[:3]) if len(shape) == 4 and shape[3] == 1 else tuple(shape)
    if len(shape) != 3:
        return f"not a 3D volume (shape {'x'.join(map(str, shape))}: diffusion, fMRI or a series of volumes)"
    if "LOCALIZER" in image_type or _LOCALIZER.search(text) or min(shape) < MIN_SLICES:
        return f"localizer or survey ({min(shape)} slices)" if min(shape) < MIN_SLICES else "localizer or survey"
    if image_type & _DERIVED_TYPES or _DERIVED.search(text):
        return (
            f"derived or reformatted ({', '.join(sorted(image_type & _DERIVED_TYPES)) or 'description'}), not acquired"
        )
    if str(sidecar.get("ContrastBolusAgent", "")).strip() or _CONTRAST.search(text):
        agent = str(sidecar.get("ContrastBolusAgent", "")).strip()
        return f"after contrast agent ({agent or 'description'}): enhancing vessels and dura change the image"
    echo, repetition, inversion = (sidecar.get(k) for k in ("EchoTime", "RepetitionTime", "InversionTime"))
    if echo is not None and float(echo) > MAX_T1_ECHO_S:
        limit = f"T1-weighted scans: under {MAX_T1_ECHO_S * 1000:.0f} ms"
        return f"not T1-weighted: echo time {float(echo) * 1000:.0f} ms ({limit})"
    if inversion is not None and float(inversion) > MAX_T1_INVERSION_S:
        return f"not T1-weighted: inversion time {float(inversion) * 1000:.0f} ms nulls fluid (FLAIR)"
    if repetition is not None and inversion is None and float(repetition) > MAX_T1_REPETITION_S:
        return f"not T1-weighted: repetition time {float(repetition) * 1000:.0f} ms without inversion"
    if _NOT_T1.search(text) and not _T1.search(text):
        return f"not T1-weighted (description {sidecar.get('SeriesDescription', '')!r})"
    return ""


@dataclass(frozen=True)
class Series:
    """One converted series: its NIfTI, sidecar and the image shape and voxel size."""

    path: Path
    sidecar: dict
    shape: tuple
    voxel_mm: tuple

    @property
    def study(self) -> str:
        return str(self.sidecar.get("StudyInstanceUID") or f"{self.patient}_{self.date}")

    @property
    def patient(self) -> str:
        return str(self.sidecar.get("PatientID") or self.sidecar.get("PatientName") or self.path.parent.name)

    @property
    def date(self) -> str:
        raw = str(self.sidecar.get("StudyDate") or self.sidecar.get("AcquisitionDateTime", ""))
        return re.sub(r"\D", "", raw)[:8]

    @property
    def is_3d(self) -> bool:
        kind = str(self.sidecar.get("MRAcquisitionType", "")).upper()
        return kind == "3D" or (not kind and max(self.voxel_mm) <= 1.5 * min(self.voxel_mm))

    def sort_key(self) -> tuple:
        """Better first: 3D, smaller voxels, more slices, earlier series."""
        volume = self.voxel_mm[0] * self.voxel_mm[1] * self.voxel_mm[2]
        return (not self.is_3d, round(volume, 3), -min(self.shape[:3]), int(self.sidecar.get("SeriesNumber", 0) or 0))


def read_series(nifti: Path, dicom_tags: dict | None = None) -> Series:
    """A converted series with its sidecar (``<name>.json``) and the DICOM-only tags merged in."""
    import nibabel as nib

    name = nifti.name[: -len(".nii.gz")] if nifti.name.endswith(".nii.gz") else nifti.stem
    sidecar_path = nifti.with_name(name + ".json")
    sidecar = json.loads(sidecar_path.read_text()) if sidecar_path.is_file() else {}
    sidecar = {**(dicom_tags or {}).get(sidecar.get("SeriesInstanceUID", ""), {}), **sidecar}
    header = nib.load(str(nifti)).header
    return Series(
        nifti,
        sidecar,
        tuple(int(n) for n in header.get_data_shape()),
        tuple(round(float(z), 3) for z in header.get_zooms()[:3]),
    )


def dicom_only_tags(folder: Path) -> dict[str, dict]:
    """Per SeriesInstanceUID, the tags dcm2niix's sidecar leaves out (contrast agent, study date)."""
    import pydicom

    tags: dict[str, dict] = {}
    for path in (p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(
                path, stop_before_pixels=True, specific_tags=["SeriesInstanceUID", "ContrastBolusAgent", "StudyDate"]
            )
        except Exception:  # not DICOM (a DICOMDIR, a README): dcm2niix skipped it too
            continue
        uid = str(ds.get("SeriesInstanceUID", ""))
        if uid and uid not in tags:
            tags[uid] = {
                "ContrastBolusAgent": str(ds.get("ContrastBolusAgent", "") or ""),
                "StudyDate": str(ds.get("StudyDate", "") or ""),
            }
    return tags


def _matches(series: Series, wanted: list[str]) -> bool:
    number = str(series.sidecar.get("SeriesNumber", ""))
    text = _text(series.sidecar).lower()
    return any(w == number or w.lower() in text or w == series.path.name for w in wanted)


def select_series(series: list[Series], wanted: list[str] | None = None) -> pd.DataFrame:
    """One row per series (``series.csv``): ``chosen`` and the ``reason``, plus the ``subject_id``
    of each chosen one (the patient, and the study date where a patient has several studies).

    ``wanted``: series numbers, description fragments or file names that override the rules
    (``brainage predict --series``); each study then gets its best matching series.
    """
    rows = []
    for s in series:
        reason = classify(s.sidecar, s.shape)
        if wanted is not None:
            reason = "" if _matches(s, wanted) else "not named by --series"
        rows.append({"series": s, "reason": reason})
    by_study: dict[str, list[dict]] = {}
    for row in rows:
        if not row["reason"]:
            by_study.setdefault(row["series"].study, []).append(row)
    for candidates in by_study.values():
        candidates.sort(key=lambda r: r["series"].sort_key())
        best = candidates[0]["series"]
        for row in candidates[1:]:
            row["reason"] = (
                f"another T1 of this study was chosen (series {best.sidecar.get('SeriesNumber', '?')}: "
                f"{'3D, ' if best.is_3d else ''}{'x'.join(f'{v:g}' for v in best.voxel_mm)} mm)"
            )
    chosen = [r for r in rows if not r["reason"]]
    studies_per_patient = pd.Series([r["series"].patient for r in chosen]).value_counts()
    used: set[str] = set()
    for row in chosen:
        s = row["series"]
        patient = safe_name(s.patient, "patient")
        base = patient if studies_per_patient[s.patient] == 1 else f"{patient}_{s.date or 'study'}"
        sid, k = base, 2
        while sid in used:
            sid, k = f"{base}_{k}", k + 1
        used.add(sid)
        row["subject_id"] = sid
    return pd.DataFrame(
        [
            {
                "subject_id": r.get("subject_id", ""),
                "chosen": not r["reason"],
                "reason": r["reason"] or "3D T1-weighted",
                "patient_id": r["series"].patient,
                "study_date": r["series"].date,
                "series_number": r["series"].sidecar.get("SeriesNumber", ""),
                "description": r["series"].sidecar.get("SeriesDescription", ""),
                "acquisition": r["series"].sidecar.get("MRAcquisitionType", ""),
                "voxel_mm": "x".join(f"{v:g}" for v in r["series"].voxel_mm),
                "shape": "x".join(map(str, r["series"].shape)),
                "nifti": str(r["series"].path),
            }
            for r in rows
        ],
        columns=[
            "subject_id",
            "chosen",
            "reason",
            "patient_id",
            "study_date",
            "series_number",
            "description",
            "acquisition",
            "voxel_mm",
            "shape",
            "nifti",
        ],
    )
