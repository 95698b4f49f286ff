"""Write a volume as a DICOM MR series: test data for the DICOM path of ``brainage predict`` (a test
helper, not part of the package; `benchmarks/new_site.py` borrows it).

No scanner is at hand in tests or benchmarks, so a NIfTI volume (synthetic or real) is written as
the single-frame MR series a PACS export holds, one file per slice, with the geometry tags
(position, orientation, spacing) a converter needs. pydicom does the encoding; the geometry is
ours: DICOM's patient space is LPS where NIfTI's is RAS, and a row of pixels runs along the
first image axis.

Example:
    write_dicom_series("sub-01_T1w.nii.gz", "dicom/sub-01", series_number=2)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import nibabel as nib
import numpy as np

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])


def write_dicom_series(
    image: str | Path | nib.Nifti1Image,
    folder: str | Path,
    series_number: int = 1,
    description: str = "T1w MPRAGE",
    patient_id: str = "anonymous",
    study_uid: str | None = None,
    tags: dict | None = None,
) -> list[Path]:
    """Write ``image`` as one DICOM file per slice (3rd axis) into ``folder``; returns the files.

    ``tags``: more DICOM attributes by keyword (``EchoTime``, ``ImageType``, ``ContrastBolusAgent``
    ...), set on every slice: the sequence a series-selection test needs.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    img = nib.load(str(image)) if not isinstance(image, nib.Nifti1Image) else image
    data = np.asarray(img.dataobj, dtype=np.float32)
    lo, hi = float(data.min()), float(data.max())
    slope = (hi - lo) / 4095 if hi > lo else 1.0
    stored = np.round((data - lo) / slope).astype(np.uint16)
    affine = img.affine
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    row_dir, col_dir = (RAS_TO_LPS @ affine[:3, 0]) / zooms[0], (RAS_TO_LPS @ affine[:3, 1]) / zooms[1]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study_uid, series_uid, frame_uid = study_uid or generate_uid(), generate_uid(), generate_uid()
    today = dt.date.today().strftime("%Y%m%d")
    files = []
    for k in range(stored.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = MR_IMAGE_STORAGE, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MR_IMAGE_STORAGE, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.Modality, ds.Manufacturer, ds.PatientID, ds.PatientName = "MR", "brainage-test", patient_id, patient_id
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = today
        ds.SeriesNumber, ds.InstanceNumber, ds.AcquisitionNumber = series_number, k + 1, 1
        ds.SeriesDescription = ds.ProtocolName = description
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.ImagePositionPatient = [f"{v:.4f}" for v in RAS_TO_LPS @ (affine @ [0, 0, k, 1])[:3]]
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*row_dir, *col_dir)]
        # Rows run along the 2nd image axis, columns along the 1st: PixelSpacing is (row, column) spacing.
        ds.PixelSpacing = [f"{zooms[1]:.4f}", f"{zooms[0]:.4f}"]
        ds.SliceThickness = ds.SpacingBetweenSlices = f"{zooms[2]:.4f}"
        ds.Rows, ds.Columns = stored.shape[1], stored.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.6g}", f"{lo:.6g}"
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).tobytes()
        for keyword, value in (tags or {}).items():
            setattr(ds, keyword, value)
        path = folder / f"{series_number:03d}_{k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files
